//! What the waits do, whichever backend holds them.

use super::backend::Backend;
use crate::{Added, NewWait, WaitState};
use atom_runtime::unix_now;

for_each_backend!(
    asking_twice_is_one_wait_until_it_finishes,
    only_its_tenant_cancels_a_wait_and_a_finished_one_stays_finished,
    one_process_looks_at_a_wait_at_a_time_until_its_claim_ends,
    a_check_is_counted_and_kept_across_handles,
    waits_are_listed_newest_first_and_waiting_oldest_first,
);

fn merge(tenant: &str, subject: &str) -> NewWait {
    NewWait {
        tenant: tenant.into(),
        kind: "merge-when-green".into(),
        subject: subject.into(),
        request: r#"{"id":1}"#.into(),
        key_id: Some("k1".into()),
        deadline: unix_now() + 60,
    }
}

fn asking_twice_is_one_wait_until_it_finishes(backend: &Backend) {
    let book = backend.waits();
    let Added::New(first) = book.add(&merge("acme", "a/b#1")).unwrap() else {
        panic!("a first wait is new");
    };
    let Added::Existing(again) = book.add(&merge("acme", "a/b#1")).unwrap() else {
        panic!("the same subject again is the same wait");
    };
    assert_eq!(again.id, first.id);
    assert!(matches!(
        book.add(&merge("globex", "a/b#1")).unwrap(),
        Added::New(_)
    ));
    assert!(book.finish(&first.id, WaitState::Done, "{}").unwrap());
    assert!(!book.finish(&first.id, WaitState::Ended, "{}").unwrap());
    assert!(matches!(
        book.add(&merge("acme", "a/b#1")).unwrap(),
        Added::New(_)
    ));
    assert_eq!(book.waiting().unwrap().len(), 2);
}

fn only_its_tenant_cancels_a_wait_and_a_finished_one_stays_finished(backend: &Backend) {
    let book = backend.waits();
    let Added::New(wait) = book.add(&merge("acme", "a/b#2")).unwrap() else {
        panic!("new");
    };
    assert_eq!(book.cancel("globex", &wait.id).unwrap(), None);
    assert_eq!(
        book.get(&wait.id).unwrap().unwrap().state,
        WaitState::Waiting
    );
    let cancelled = book.cancel("acme", &wait.id).unwrap().unwrap();
    assert_eq!(cancelled.state, WaitState::Cancelled);
    assert!(!book.finish(&wait.id, WaitState::Done, "{}").unwrap());
    assert!(book.waiting().unwrap().is_empty());
    assert_eq!(book.list("acme").unwrap().len(), 1);
    assert!(book.list("globex").unwrap().is_empty());
}

fn one_process_looks_at_a_wait_at_a_time_until_its_claim_ends(backend: &Backend) {
    let book = backend.waits();
    let other = backend.waits();
    let Added::New(wait) = book.add(&merge("acme", "a/b#4")).unwrap() else {
        panic!("new");
    };
    assert!(book.claim(&wait.id, 60).unwrap());
    assert!(!other.claim(&wait.id, 60).unwrap(), "claimed elsewhere");
    book.checked(&wait.id, "{}").unwrap();
    assert!(other.claim(&wait.id, 0).unwrap(), "a check ends the claim");
    // A zero-second claim has expired at once: as a dead process's does.
    assert!(book.claim(&wait.id, 60).unwrap());
    assert!(book.finish(&wait.id, WaitState::Done, "{}").unwrap());
    assert!(
        !other.claim(&wait.id, 60).unwrap(),
        "a finished wait is not looked at"
    );
}

fn a_check_is_counted_and_kept_across_handles(backend: &Backend) {
    let book = backend.waits();
    let Added::New(wait) = book.add(&merge("acme", "a/b#3")).unwrap() else {
        panic!("new");
    };
    book.checked(&wait.id, r#"{"verdict":"waiting"}"#).unwrap();
    let other = backend.waits();
    let seen = other.get(&wait.id).unwrap().unwrap();
    assert_eq!(seen.checks, 1);
    assert_eq!(seen.outcome.as_deref(), Some(r#"{"verdict":"waiting"}"#));
    assert!(seen.checked_at.is_some());
}

fn waits_are_listed_newest_first_and_waiting_oldest_first(backend: &Backend) {
    let book = backend.waits();
    let ids: Vec<String> = (1..=3)
        .map(
            |n| match book.add(&merge("acme", &format!("a/b#{n}"))).unwrap() {
                Added::New(wait) => wait.id,
                Added::Existing(_) => panic!("new"),
            },
        )
        .collect();
    let waiting: Vec<_> = book.waiting().unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(
        waiting, ids,
        "oldest first, in the order added within a second"
    );
    let listed: Vec<_> = book
        .list("acme")
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let wait = book.get(&ids[0]).unwrap().unwrap();
    assert_eq!(
        (
            wait.tenant.as_str(),
            wait.subject.as_str(),
            wait.key_id.as_deref()
        ),
        ("acme", "a/b#1", Some("k1"))
    );
    assert_eq!(
        (wait.state, wait.checks, wait.outcome),
        (WaitState::Waiting, 0, None)
    );
    assert!(book.get("no-such-wait").unwrap().is_none());
}
