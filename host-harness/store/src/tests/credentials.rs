//! What a sealed credential store does, whichever backend holds it.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use super::backend::Backend;
use super::{
    SECRET_STRINGS, access_token, api_token, assert_same, key_entry, oauth, unreadable_message,
};
use super::{first_mark, moves_from};
use crate::{DEFAULT_CONNECTION, Keyring, Unreadable};
use atom_runtime::StoreError;
use atom_runtime::host_types::CredentialSecret;

for_each_backend!(
    every_kind_of_secret_round_trips,
    a_stale_version_conflicts_with_the_current_one,
    two_handles_racing_on_one_version_let_exactly_one_win,
    a_row_copied_to_another_tenant_does_not_open,
    a_row_moved_to_another_connection_does_not_open,
    connections_sharing_a_store_are_separate,
    a_keyring_without_the_rows_key_version_says_so,
    rotation_reseals_under_the_new_key_and_keeps_versions,
    a_row_the_new_keyring_cannot_open_is_reported_and_the_rest_resealed,
    a_refresh_lease_excludes_other_holders_until_released_or_expired,
    a_credential_written_elsewhere_moves_the_change_mark,
);

/// What lets the gateway remember opened credentials: another handle's
/// write or removal moves the mark, and this handle's own at once.
fn a_credential_written_elsewhere_moves_the_change_mark(backend: &Backend) {
    let watching = backend.credentials(keyring());
    let elsewhere = backend.credentials(keyring());
    let mark = || watching.change_mark();
    let before = first_mark(mark);
    let version = elsewhere.replace("acme", 0, access_token()).unwrap();
    assert!(moves_from(before, mark), "a new credential elsewhere");
    let before = first_mark(mark);
    elsewhere.replace("acme", version, api_token()).unwrap();
    assert!(moves_from(before, mark), "a replaced one");
    let before = first_mark(mark);
    elsewhere.remove("acme").unwrap();
    assert!(moves_from(before, mark), "a removed one");
    let before = first_mark(mark);
    watching.replace("globex", 0, access_token()).unwrap();
    assert_ne!(watching.change_mark(), Some(before), "its own, at once");
}

fn keyring() -> Keyring {
    Keyring::from_env_value(&key_entry(1, 1)).expect("valid keyring")
}

fn every_kind_of_secret_round_trips(backend: &Backend) {
    let store = backend.credentials(keyring());
    let secrets = [
        ("acme", oauth()),
        ("globex", access_token()),
        ("initech", api_token()),
    ];
    for (tenant, secret) in &secrets {
        assert_eq!(store.replace(tenant, 0, secret.clone()).expect("stored"), 1);
    }
    for (tenant, secret) in &secrets {
        let credential = store.get(tenant).expect("readable").expect("present");
        assert_eq!(credential.version, 1);
        assert_same(&credential.secret, secret);
    }
    assert!(store.get("umbrella").expect("readable").is_none());

    // A fresh handle (a restarted process) reads the same.
    let reopened = backend.credentials(keyring());
    let credential = reopened.get("acme").expect("readable").expect("present");
    assert_same(&credential.secret, &oauth());

    store.remove("acme").expect("removed");
    assert!(store.get("acme").expect("readable").is_none());
    store.remove("acme").expect("removing nothing is fine");
}

fn a_stale_version_conflicts_with_the_current_one(backend: &Backend) {
    let store = backend.credentials(keyring());
    assert_eq!(store.replace("acme", 0, oauth()).expect("first"), 1);
    assert_eq!(store.replace("acme", 1, access_token()).expect("second"), 2);

    for stale in [0, 1, 3, u64::MAX] {
        match store.replace("acme", stale, api_token()) {
            Err(StoreError::Conflict(2)) => {}
            other => panic!("expected Conflict(2) for {stale}, got {other:?}"),
        }
    }
    match store.replace("nobody", 4, api_token()) {
        Err(StoreError::Conflict(0)) => {}
        other => panic!("expected Conflict(0), got {other:?}"),
    }
    let credential = store.get("acme").expect("readable").expect("present");
    assert_eq!(credential.version, 2);
    assert_same(&credential.secret, &access_token());
    assert!(store.get("nobody").expect("readable").is_none());
}

fn two_handles_racing_on_one_version_let_exactly_one_win(backend: &Backend) {
    let handles = [
        backend.credentials(keyring()),
        backend.credentials(keyring()),
    ];
    for version in 0..20 {
        let barrier = Arc::new(Barrier::new(handles.len()));
        let racers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(racer, handle)| {
                let handle = Arc::clone(handle);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let secret = CredentialSecret::AccessToken(format!("r{version}-{racer}"));
                    barrier.wait();
                    handle.replace("acme", version, secret)
                })
            })
            .collect();
        let outcomes: Vec<_> = racers
            .into_iter()
            .map(|racer| racer.join().expect("racer finished"))
            .collect();
        let winners = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(winners, 1, "version {version}: {outcomes:?}");
        for outcome in &outcomes {
            match outcome {
                Ok(new) => assert_eq!(*new, version + 1),
                Err(StoreError::Conflict(now)) => assert_eq!(*now, version + 1),
                Err(other) => panic!("version {version}: {other}"),
            }
        }
    }
    let credential = handles[1].get("acme").expect("readable").expect("present");
    assert_eq!(credential.version, 20);
}

fn a_row_copied_to_another_tenant_does_not_open(backend: &Backend) {
    let store = backend.credentials(keyring());
    store.replace("alice", 0, api_token()).expect("stored");

    backend.execute(
        "INSERT INTO credentials
         SELECT 'mallory', connection, version, key_version, nonce, ciphertext, updated_at
         FROM credentials WHERE tenant = 'alice'",
    );
    let message = unreadable_message(store.get("mallory").expect_err("copied row opened"));
    assert!(message.contains("tenant 'mallory'"), "{message}");
    assert!(message.contains("key version 1"), "{message}");
    assert!(
        message.contains("sealed for another tenant or connection, or the key is wrong"),
        "{message}"
    );
    for secret in SECRET_STRINGS {
        assert!(!message.contains(secret), "{message}");
    }
    assert!(
        store
            .get("alice")
            .expect("the original still opens")
            .is_some()
    );

    backend.execute("UPDATE credentials SET tenant = 'eve' WHERE tenant = 'alice'");
    let message = unreadable_message(store.get("eve").expect_err("moved row opened"));
    assert!(message.contains("tenant 'eve'"), "{message}");
}

fn a_row_moved_to_another_connection_does_not_open(backend: &Backend) {
    backend
        .credentials(keyring())
        .replace("alice", 0, oauth())
        .expect("stored");
    backend.execute("UPDATE credentials SET connection = 'github'");
    let github = backend
        .credentials_on(keyring(), "github")
        .expect("store opens");
    let message = unreadable_message(github.get("alice").expect_err("moved row opened"));
    assert!(message.contains("connection 'github'"), "{message}");
    assert!(
        message.contains("sealed for another tenant or connection"),
        "{message}"
    );
}

fn connections_sharing_a_store_are_separate(backend: &Backend) {
    let bitbucket = backend.credentials(keyring());
    let github = backend
        .credentials_on(keyring(), "github")
        .expect("store opens");
    assert_eq!(bitbucket.connection(), DEFAULT_CONNECTION);
    assert_eq!(github.connection(), "github");
    bitbucket.replace("acme", 0, oauth()).expect("stored");
    assert!(github.get("acme").expect("readable").is_none());
    assert_eq!(
        github.replace("acme", 0, access_token()).expect("stored"),
        1
    );
    assert_eq!(
        bitbucket.list().expect("listed"),
        vec![("acme".to_owned(), 1, 1)]
    );
    assert_eq!(
        github.list().expect("listed"),
        vec![("acme".to_owned(), 1, 1)]
    );
    assert!(backend.credentials_on(keyring(), "").is_err());
}

fn a_keyring_without_the_rows_key_version_says_so(backend: &Backend) {
    let sealing = Keyring::from_env_value(&key_entry(3, 3)).expect("valid keyring");
    backend
        .credentials(sealing)
        .replace("acme", 0, oauth())
        .expect("stored");

    let other = backend.credentials(keyring());
    let message = unreadable_message(other.get("acme").expect_err("opened without its key"));
    assert!(
        message.contains("sealed with key version 3, which the keyring does not hold"),
        "{message}"
    );

    let wrong = Keyring::from_env_value(&key_entry(3, 4)).expect("valid keyring");
    let wrong = backend.credentials(wrong);
    let message = unreadable_message(wrong.get("acme").expect_err("opened with a wrong key"));
    assert!(
        message.contains("does not decrypt with key version 3"),
        "{message}"
    );
}

fn rotation_reseals_under_the_new_key_and_keeps_versions(backend: &Backend) {
    let old = keyring();
    let store = backend.credentials(old.clone());
    store.replace("acme", 0, oauth()).expect("stored");
    store.replace("globex", 0, access_token()).expect("stored");
    store.replace("globex", 1, api_token()).expect("replaced");
    let nonces_before = backend.nonces();

    let new = old.with_new_current_key().expect("random key");
    assert_eq!(store.rotate(new.clone()).expect("rotated").resealed, 2);
    assert_eq!(
        store.list().expect("listed"),
        vec![("acme".to_owned(), 1, 2), ("globex".to_owned(), 2, 2)]
    );
    assert_ne!(
        backend.nonces(),
        nonces_before,
        "re-sealed with fresh nonces"
    );
    assert_eq!(store.rotate(new.clone()).expect("nothing left").resealed, 0);

    let reader = backend.credentials(new.only_current());
    let acme = reader.get("acme").expect("readable").expect("present");
    assert_eq!(acme.version, 1);
    assert_same(&acme.secret, &oauth());
    let globex = reader.get("globex").expect("readable").expect("present");
    assert_eq!(globex.version, 2);
    assert_same(&globex.secret, &api_token());

    // The rotating handle now seals with the new key too.
    store.replace("initech", 0, access_token()).expect("stored");
    assert_eq!(
        store.list().expect("listed")[2],
        ("initech".to_owned(), 1, 2)
    );

    let stale = backend.credentials(old);
    let message = unreadable_message(stale.get("acme").expect_err("old key opened it"));
    assert!(message.contains("key version 2"), "{message}");
}

fn a_row_the_new_keyring_cannot_open_is_reported_and_the_rest_resealed(backend: &Backend) {
    let store = backend.credentials(keyring());
    store.replace("acme", 0, oauth()).expect("stored");
    let foreign = Keyring::from_env_value(&key_entry(7, 7)).expect("valid keyring");
    backend
        .credentials(foreign)
        .replace("globex", 0, access_token())
        .expect("stored");

    let new = keyring().with_new_current_key().expect("random key");
    let current = new.current_version();
    let rotation = store.rotate(new.clone()).expect("rotated what it could");
    assert_eq!(rotation.resealed, 1);
    assert_eq!(
        rotation.unreadable,
        vec![Unreadable {
            tenant: "globex".to_owned(),
            connection: DEFAULT_CONNECTION.to_owned(),
            key_version: 7,
        }]
    );
    assert_eq!(
        store.list().expect("listed"),
        vec![("acme".to_owned(), 1, current), ("globex".to_owned(), 1, 7)],
        "acme moved to the new key, globex stayed as it was"
    );
    let reader = backend.credentials(new.only_current());
    assert!(reader.get("acme").expect("readable").is_some());
}

fn a_refresh_lease_excludes_other_holders_until_released_or_expired(backend: &Backend) {
    let first = backend.credentials(keyring());
    let second = backend.credentials(keyring());
    let minute = Duration::from_secs(60);
    assert!(first.try_lease("acme", "one", minute).expect("answers"));
    assert!(!second.try_lease("acme", "two", minute).expect("answers"));
    assert!(
        second.try_lease("globex", "two", minute).expect("answers"),
        "leases are per tenant"
    );
    assert!(
        first.try_lease("acme", "one", minute).expect("answers"),
        "a holder renews its own"
    );
    second.release_lease("acme", "two").expect("answers");
    assert!(
        !second.try_lease("acme", "two", minute).expect("answers"),
        "only the holder gives a lease back"
    );
    first.release_lease("acme", "one").expect("answers");
    // A lease that expires at once, as a dead holder's has.
    assert!(
        second
            .try_lease("acme", "two", Duration::ZERO)
            .expect("answers")
    );
    assert!(first.try_lease("acme", "one", minute).expect("answers"));
}
