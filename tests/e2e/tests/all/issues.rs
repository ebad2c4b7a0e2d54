//! Issues through the sandbox: filtered listings that reach Bitbucket as
//! BBQL, one issue, filing and changing one (state through Bitbucket's issue
//! changes), and the tracker being absent or retired — never an empty list.

use atom_test_support::repo;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use serde_json::{Value, json};

const REPO: &str = "atom-labs/bitbucket-plugin";
const ISSUES_PATH: &str = "/2.0/repositories/atom-labs/bitbucket-plugin/issues";

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a page has items")
}

fn ids(page: &Value) -> Vec<u64> {
    items(page)
        .iter()
        .map(|i| i["id"].as_u64().expect("an issue has an id"))
        .collect()
}

/// The ids of the fake's issues on bitbucket-plugin that pass `keep`.
fn seeded_ids(env: &Env, keep: impl Fn(&fake_bitbucket::Issue) -> bool) -> Vec<u64> {
    let mut ids: Vec<u64> = env
        .fake
        .control()
        .issues
        .iter()
        .filter(|i| i.repo == REPO && keep(i))
        .map(|i| i.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// The `q` of the last listing request the fake received.
fn last_listing_q(env: &Env) -> Option<String> {
    env.fake
        .control()
        .requests
        .iter()
        .rev()
        .find(|r| r.method == "GET" && r.path == ISSUES_PATH)
        .and_then(|r| r.param("q").map(str::to_owned))
}

#[tokio::test]
async fn listings_filter_by_state_kind_and_priority_through_bbql() {
    let env = env().await;

    let all = env.exec("list-issues", repo(json!({}))).await.unwrap();
    let mut all_ids = ids(&all);
    all_ids.sort_unstable();
    assert_eq!(all_ids, (1..=8).collect::<Vec<_>>());
    assert_eq!(last_listing_q(&env), None, "no filter, no q");

    let new_bugs = env
        .exec(
            "list-issues",
            repo(json!({ "state": "new", "kind": "bug" })),
        )
        .await
        .unwrap();
    assert_eq!(ids(&new_bugs), [5]);
    assert_eq!(
        seeded_ids(&env, |i| i.state == "new" && i.kind == "bug"),
        [5]
    );
    let issue = &items(&new_bugs)[0];
    assert_eq!(issue["state"], "new");
    assert_eq!(issue["kind"], "bug");
    assert_eq!(
        issue["title"],
        "Merge fails with 555 on large pull requests"
    );
    let q = last_listing_q(&env).expect("the filter reached Bitbucket as q");
    assert!(q.contains(r#"state = "new""#), "{q}");
    assert!(q.contains(r#"kind = "bug""#), "{q}");
    assert!(q.contains("AND"), "{q}");

    let major = env
        .exec("list-issues", repo(json!({ "priority": "major" })))
        .await
        .unwrap();
    let mut major_ids = ids(&major);
    major_ids.sort_unstable();
    assert_eq!(major_ids, seeded_ids(&env, |i| i.priority == "major"));
    assert!(!major_ids.is_empty());
    assert!(items(&major).iter().all(|i| i["priority"] == "major"));
    let q = last_listing_q(&env).unwrap();
    assert_eq!(q, r#"priority = "major""#);

    let on_hold = env
        .exec("list-issues", repo(json!({ "state": "on_hold" })))
        .await
        .unwrap();
    assert_eq!(ids(&on_hold), seeded_ids(&env, |i| i.state == "on hold"));
    assert_eq!(ids(&on_hold), [6]);
    assert_eq!(items(&on_hold)[0]["state"], "on_hold");
    assert_eq!(last_listing_q(&env).unwrap(), r#"state = "on hold""#);

    // Pages keep the filter: every new issue once, two at a time.
    let (mut paged, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = env
            .exec(
                "list-issues",
                repo(json!({ "state": "new", "page": { "size": 2, "cursor": cursor } })),
            )
            .await
            .unwrap();
        pages += 1;
        assert!(items(&page).iter().all(|i| i["state"] == "new"));
        paged.extend(ids(&page));
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(pages < 10, "paging never ends");
    }
    let want = seeded_ids(&env, |i| i.state == "new");
    assert_eq!(want, [2, 4, 5, 8]);
    assert_eq!(pages, 2);
    paged.sort_unstable();
    assert_eq!(paged, want);

    let nothing = env
        .exec(
            "list-issues",
            repo(json!({ "state": "closed", "kind": "enhancement" })),
        )
        .await
        .unwrap();
    assert!(items(&nothing).is_empty());
    assert!(nothing["next_cursor"].is_null());
}

#[tokio::test]
async fn one_issue_with_its_people_and_a_missing_one() {
    let env = env().await;
    let issue = env
        .exec("get-issue", repo(json!({ "id": 3 })))
        .await
        .unwrap();
    assert_eq!(issue["id"], 3);
    assert_eq!(issue["title"], "Step log download ignores the Range header");
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["kind"], "bug");
    assert_eq!(issue["priority"], "critical");
    assert_eq!(
        issue["content"],
        "Asking for `bytes=0-1023` returns the whole log."
    );
    assert_eq!(issue["reporter"]["display_name"], "Grace Hopper");
    assert_eq!(issue["assignee"]["display_name"], "Ada Lovelace");
    assert!(
        issue["web_url"]
            .as_str()
            .unwrap()
            .ends_with("/atom-labs/bitbucket-plugin/issues/3")
    );

    let missing = env
        .exec("get-issue", repo(json!({ "id": 999 })))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Failure::Integration(Error::NotFound(_))),
        "{missing}"
    );
}

#[tokio::test]
async fn a_filed_issue_gets_the_next_id_and_is_listed() {
    let env = env().await;
    let created = env
        .exec(
            "create-issue",
            repo(json!({
                "title": "Webhook deliveries are not retried",
                "content": "A receiver that answers 500 never gets the event again.",
                "kind": "enhancement",
                "priority": "critical",
            })),
        )
        .await
        .unwrap();
    assert_eq!(created["id"], 9);
    assert_eq!(created["state"], "new");
    assert_eq!(created["kind"], "enhancement");
    assert_eq!(created["priority"], "critical");
    assert_eq!(created["title"], "Webhook deliveries are not retried");
    assert_eq!(
        created["content"],
        "A receiver that answers 500 never gets the event again."
    );
    assert_eq!(created["reporter"]["display_name"], "Ada Lovelace");
    {
        let world = env.fake.control();
        let stored = world.issue("atom-labs", "bitbucket-plugin", 9).unwrap();
        assert_eq!(stored.kind, "enhancement");
        assert_eq!(stored.priority, "critical");
        let posts = world
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path == ISSUES_PATH)
            .count();
        assert_eq!(posts, 1, "filed once");
    }

    let listed = env
        .exec(
            "list-issues",
            repo(json!({ "kind": "enhancement", "state": "new" })),
        )
        .await
        .unwrap();
    let found = items(&listed)
        .iter()
        .find(|i| i["id"] == 9)
        .expect("the new issue is listed");
    assert_eq!(found["title"], "Webhook deliveries are not retried");
    assert_eq!(
        ids(&listed),
        seeded_ids(&env, |i| i.kind == "enhancement" && i.state == "new")
    );

    let untitled = env
        .exec("create-issue", repo(json!({ "title": "  " })))
        .await
        .unwrap_err();
    assert!(
        matches!(&untitled, Failure::Integration(Error::Validation(v)) if v.field == "title"),
        "{untitled}"
    );
    let posts = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "an untitled issue is refused before Bitbucket");
}

#[tokio::test]
async fn fields_change_and_the_state_moves_with_a_message() {
    let env = env().await;
    let updated = env
        .exec(
            "update-issue",
            repo(json!({
                "id": 5,
                "title": "Merge times out on large pull requests",
                "priority": "blocker",
                "state": "resolved",
                "state_message": "Fixed by merging with async=true.",
            })),
        )
        .await
        .unwrap();
    assert_eq!(updated["id"], 5);
    assert_eq!(updated["title"], "Merge times out on large pull requests");
    assert_eq!(updated["priority"], "blocker");
    assert_eq!(updated["state"], "resolved");
    assert_eq!(updated["kind"], "bug", "untouched fields stay");

    {
        let world = env.fake.control();
        let changes_path = format!("{ISSUES_PATH}/5/changes");
        assert!(
            world
                .requests
                .iter()
                .any(|r| r.method == "POST" && r.path == changes_path),
            "the state changed through Bitbucket's issue changes"
        );
        let issue = world.issue("atom-labs", "bitbucket-plugin", 5).unwrap();
        assert_eq!(issue.state, "resolved");
        assert_eq!(issue.priority, "blocker");
        let change = issue
            .changes
            .iter()
            .find(|c| c.changes.iter().any(|(f, _, _)| f == "state"))
            .expect("a state change was recorded");
        assert_eq!(change.message, "Fixed by merging with async=true.");
        assert!(
            change
                .changes
                .contains(&("state".into(), "new".into(), "resolved".into()))
        );
    }

    let seen = env
        .exec("get-issue", repo(json!({ "id": 5 })))
        .await
        .unwrap();
    assert_eq!(seen["state"], "resolved");
    assert_eq!(seen["priority"], "blocker");
    let new_bugs = env
        .exec(
            "list-issues",
            repo(json!({ "state": "new", "kind": "bug" })),
        )
        .await
        .unwrap();
    assert!(
        !ids(&new_bugs).contains(&5),
        "a resolved issue is no longer new"
    );

    // A state change alone.
    let reopened = env
        .exec("update-issue", repo(json!({ "id": 5, "state": "open" })))
        .await
        .unwrap();
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["title"], "Merge times out on large pull requests");
}

#[tokio::test]
async fn updates_are_validated_before_bitbucket() {
    let env = env().await;
    let nothing = env
        .exec("update-issue", repo(json!({ "id": 2 })))
        .await
        .unwrap_err();
    assert!(
        matches!(&nothing, Failure::Integration(Error::Validation(_))),
        "{nothing}"
    );
    let blank = env
        .exec("update-issue", repo(json!({ "id": 2, "title": "" })))
        .await
        .unwrap_err();
    assert!(
        matches!(&blank, Failure::Integration(Error::Validation(v)) if v.field == "title"),
        "{blank}"
    );
    let writes = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0, "nothing was sent");
    let issue = env
        .fake
        .control()
        .issue("atom-labs", "bitbucket-plugin", 2)
        .cloned()
        .unwrap();
    assert_eq!(issue.title, "Support workspace webhooks");

    let missing = env
        .exec(
            "update-issue",
            repo(json!({ "id": 404, "state": "closed" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Failure::Integration(Error::NotFound(_))),
        "{missing}"
    );
}

#[tokio::test]
async fn a_repository_without_a_tracker_is_not_found_in_bitbucket_words() {
    let env = env().await;
    let params = json!({ "workspace": "atom-labs", "repo_slug": "atom-harness" });
    let listed = env.exec("list-issues", params.clone()).await.unwrap_err();
    match &listed {
        Failure::Integration(Error::NotFound(info)) => {
            assert!(
                info.message.contains("Repository has no issue tracker."),
                "{}",
                info.message
            );
            assert_eq!(info.status, Some(404));
        }
        other => panic!("expected not-found, got {other}"),
    }

    let mut one = params.clone();
    one["id"] = json!(1);
    let got = env.exec("get-issue", one).await.unwrap_err();
    assert!(
        matches!(&got, Failure::Integration(Error::NotFound(info)) if info.message.contains("no issue tracker")),
        "{got}"
    );
    let mut filed = params;
    filed["title"] = json!("x");
    let filed = env.exec("create-issue", filed).await.unwrap_err();
    assert!(
        matches!(&filed, Failure::Integration(Error::NotFound(info)) if info.message.contains("no issue tracker")),
        "{filed}"
    );
}

#[tokio::test]
async fn a_retired_tracker_is_retired_upstream_with_the_announcement() {
    let env = env().await;
    env.fake.control().issues_retired = true;
    let listed = env.exec("list-issues", repo(json!({}))).await.unwrap_err();
    match &listed {
        Failure::Integration(Error::RetiredUpstream(retired)) => {
            let url = retired
                .announcement_url
                .as_deref()
                .expect("Bitbucket's announcement is kept");
            assert!(url.starts_with("https://"), "{url}");
            assert!(url.contains("sunset"), "{url}");
            assert!(!retired.retryable);
            assert!(!retired.message.is_empty());
        }
        other => panic!("expected retired-upstream, got {other}"),
    }
    for (operation, params) in [
        ("get-issue", repo(json!({ "id": 1 }))),
        ("create-issue", repo(json!({ "title": "x" }))),
        ("update-issue", repo(json!({ "id": 1, "state": "closed" }))),
    ] {
        let failure = env.exec(operation, params).await.unwrap_err();
        assert!(
            matches!(&failure, Failure::Integration(Error::RetiredUpstream(r)) if r.announcement_url.is_some()),
            "{operation}: {failure}"
        );
    }
}

#[tokio::test]
async fn an_issues_comments_are_listed_and_one_is_added() {
    let env = env().await;
    let seeded: Vec<(u64, String)> = {
        let world = env.fake.control();
        let issue = world
            .issues
            .iter()
            .find(|i| i.repo == "atom-labs/bitbucket-plugin" && !i.comments.is_empty())
            .expect("an issue with comments is seeded");
        issue
            .comments
            .iter()
            .map(|c| (issue.id, c.raw.clone()))
            .collect()
    };
    let id = seeded[0].0;
    let listed = env
        .exec("list-issue-comments", repo(json!({ "id": id })))
        .await
        .unwrap();
    let texts: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = seeded.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(texts, expected, "oldest first");
    assert!(listed["items"][0]["author"]["display_name"].is_string());

    let added = env
        .exec(
            "create-issue-comment",
            repo(json!({ "id": id, "content": "Fixed on main; please check." })),
        )
        .await
        .unwrap();
    assert_eq!(added["content"], "Fixed on main; please check.");
    assert_eq!(added["author"]["display_name"], "Ada Lovelace");
    let again = env
        .exec("list-issue-comments", repo(json!({ "id": id })))
        .await
        .unwrap();
    let ids: Vec<&Value> = again["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids.last(), Some(&&added["id"]), "the new one comes last");

    let empty = env
        .exec(
            "create-issue-comment",
            repo(json!({ "id": id, "content": "  " })),
        )
        .await
        .unwrap_err();
    assert_eq!(empty.to_json()["field"], "content", "{empty}");
    let missing = env
        .exec("list-issue-comments", repo(json!({ "id": 999_999 })))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}

#[tokio::test]
async fn an_issue_comment_is_edited_and_deleted() {
    let env = env().await;
    let (id, comment_id) = {
        let world = env.fake.control();
        let issue = world
            .issues
            .iter()
            .find(|i| i.repo == REPO && !i.comments.is_empty())
            .expect("an issue with comments is seeded");
        (issue.id, issue.comments[0].id)
    };
    let raw_of = |env: &Env| {
        let world = env.fake.control();
        world
            .issues
            .iter()
            .filter(|i| i.repo == REPO && i.id == id)
            .flat_map(|i| i.comments.iter())
            .find(|c| c.id == comment_id)
            .map(|c| c.raw.clone())
    };
    let target = repo(json!({ "id": id, "comment_id": comment_id }));
    let edited = env
        .exec(
            "update-issue-comment",
            repo(json!({ "id": id, "comment_id": comment_id, "content": "Edited: the log now resumes." })),
        )
        .await
        .unwrap();
    assert_eq!(edited["id"], comment_id);
    assert_eq!(edited["content"], "Edited: the log now resumes.");
    assert_eq!(
        raw_of(&env).as_deref(),
        Some("Edited: the log now resumes.")
    );
    let blank = env
        .exec(
            "update-issue-comment",
            repo(json!({ "id": id, "comment_id": comment_id, "content": "" })),
        )
        .await
        .unwrap_err();
    assert_eq!(blank.to_json()["field"], "content", "{blank}");
    assert_eq!(
        raw_of(&env).as_deref(),
        Some("Edited: the log now resumes.")
    );

    let deleted = env
        .exec("delete-issue-comment", target.clone())
        .await
        .unwrap();
    assert_eq!(deleted["comment_id"], comment_id);
    assert_eq!(raw_of(&env), None);
    let again = env.exec("delete-issue-comment", target).await.unwrap_err();
    assert_eq!(again.code(), "not_found", "{again}");
}
