//! A pull request's life through the sandbox: open, review, comment, merge
//! or decline — and the write paths are never retried blindly.

use atom_test_support::repo;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_runtime::host_types::CredentialSecret;
use atom_test_support::{Env, env, exec_in, sandbox, tenant_for};
use fake_bitbucket::{Fault, GRACE_TOKEN};
use serde_json::{Value, json};

async fn open_pull_request(env: &Env, source: &str) -> Value {
    env.exec(
        "create-pull-request",
        repo(json!({ "title": format!("Merge {source}"), "source_branch": source, "description": "Why: tests", "close_source_branch": true })),
    )
    .await
    .expect("the pull request opens")
}

async fn as_grace(env: &Env, operation: &str, params: Value) -> Result<Value, Failure> {
    let grace = tenant_for(&env.fake, "tenant-grace");
    grace
        .set_credential(CredentialSecret::AccessToken(GRACE_TOKEN.to_owned()))
        .unwrap();
    exec_in(sandbox(), &grace, operation, params).await
}

#[tokio::test]
async fn create_lists_and_reviews_a_pull_request() {
    let env = env().await;
    let pr = open_pull_request(&env, "feature/login").await;
    let id = pr["id"].as_u64().unwrap();
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["source_branch"], "feature/login");
    assert_eq!(
        pr["destination_branch"], "main",
        "defaults to the main branch"
    );
    assert_eq!(pr["author"]["display_name"], "Ada Lovelace");
    let posted = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posted, 1);

    let open = env
        .exec("list-pull-requests", repo(json!({})))
        .await
        .unwrap();
    assert!(
        open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id)
    );

    let approval = as_grace(&env, "approve-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    assert_eq!(approval["approved"], true);
    assert_eq!(approval["user"]["display_name"], "Grace Hopper");
    let seen = env
        .exec("get-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    let grace = seen["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["display_name"] == "Grace Hopper")
        .unwrap();
    assert_eq!(grace["approved"], true);

    let withdrawn = as_grace(&env, "unapprove-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    assert!(
        withdrawn["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["approved"] == false)
    );

    let changes = as_grace(&env, "request-changes", repo(json!({ "id": id })))
        .await
        .unwrap();
    assert_eq!(changes["state"], "changes_requested");
    let cleared = as_grace(&env, "remove-change-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    assert!(
        cleared["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] != "changes_requested")
    );

    let updated = env
        .exec(
            "update-pull-request",
            repo(json!({ "id": id, "title": "Log in with Bitbucket", "draft": true })),
        )
        .await
        .unwrap();
    assert_eq!(updated["title"], "Log in with Bitbucket");
    assert_eq!(updated["draft"], true);
}

#[tokio::test]
async fn listings_take_one_or_several_states() {
    let env = env().await;
    let default = env
        .exec("list-pull-requests", repo(json!({})))
        .await
        .unwrap();
    assert!(
        default["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "open")
    );
    let closed = env
        .exec(
            "list-pull-requests",
            repo(json!({ "states": ["merged", "declined"] })),
        )
        .await
        .unwrap();
    let states: Vec<&str> = closed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"merged") && states.contains(&"declined"),
        "{states:?}"
    );
    let request = env.fake.control().requests.last().cloned().unwrap();
    let sent: Vec<&str> = request
        .query
        .iter()
        .filter(|(k, _)| k == "state")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(sent, ["MERGED", "DECLINED"]);
}

#[tokio::test]
async fn comments_plain_reply_and_inline() {
    let env = env().await;
    let id = open_pull_request(&env, "feature/search-v2").await["id"]
        .as_u64()
        .unwrap();
    let first = env
        .exec(
            "create-pull-request-comment",
            repo(json!({ "id": id, "content": "Looks good overall." })),
        )
        .await
        .unwrap();
    let reply = env
        .exec(
            "create-pull-request-comment",
            repo(json!({ "id": id, "content": "Agreed.", "parent_id": first["id"] })),
        )
        .await
        .unwrap();
    assert_eq!(reply["parent_id"], first["id"]);
    let inline = env
        .exec(
            "create-pull-request-comment",
            repo(json!({ "id": id, "content": "Off by one?", "inline": { "path": "src/lib.rs", "to_line": 42 } })),
        )
        .await
        .unwrap();
    assert_eq!(inline["inline"]["path"], "src/lib.rs");
    assert_eq!(inline["inline"]["to_line"], 42);

    let listed = env
        .exec("list-pull-request-comments", repo(json!({ "id": id })))
        .await
        .unwrap();
    let contents: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["Looks good overall.", "Agreed.", "Off by one?"]);

    let empty = env
        .exec(
            "create-pull-request-comment",
            repo(json!({ "id": id, "content": " " })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&empty, Failure::Integration(Error::Validation(v)) if v.field == "content"),
        "{empty}"
    );
    let anchorless = env
        .exec(
            "create-pull-request-comment",
            repo(json!({ "id": id, "content": "x", "inline": { "path": "a.rs" } })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&anchorless, Failure::Integration(Error::Validation(v)) if v.field.starts_with("inline")),
        "{anchorless}"
    );
}

#[tokio::test]
async fn merge_with_a_strategy_and_decline() {
    let env = env().await;
    let id = open_pull_request(&env, "feature/login").await["id"]
        .as_u64()
        .unwrap();
    let merged = env
        .exec(
            "merge-pull-request",
            repo(json!({ "id": id, "strategy": "squash", "message": "Log in (#1)" })),
        )
        .await
        .unwrap();
    assert_eq!(merged["state"], "merged");
    assert!(merged["merge_commit"].as_str().unwrap().len() >= 12);
    let body = env
        .fake
        .control()
        .requests
        .iter()
        .rev()
        .find(|r| r.path.ends_with("/merge"))
        .cloned()
        .unwrap();
    assert_eq!(body.method, "POST");

    let again = env
        .exec("merge-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            Failure::Integration(Error::Validation(_) | Error::Conflict(_))
        ),
        "{again}"
    );

    let other = open_pull_request(&env, "feature/search-v2").await["id"]
        .as_u64()
        .unwrap();
    let declined = env
        .exec("decline-pull-request", repo(json!({ "id": other })))
        .await
        .unwrap();
    assert_eq!(declined["state"], "declined");
}

#[tokio::test]
async fn a_merge_answered_555_is_an_unknown_outcome_sent_once() {
    let env = env().await;
    let id = open_pull_request(&env, "feature/login").await["id"]
        .as_u64()
        .unwrap();
    env.fake.control().inject(Fault::Status {
        status: 555,
        content_type: "application/json",
        body: json!({"type":"error","error":{"message":"Timed out"}}).to_string(),
        retry_after: None,
    });
    let failure = env
        .exec(
            "merge-pull-request",
            repo(json!({ "id": id, "strategy": "merge_commit" })),
        )
        .await
        .unwrap_err();
    // A 555 does not prove the merge did not happen (API-NOTES §8b): the
    // caller reads the pull request before deciding, never retries blindly.
    assert!(
        matches!(failure, Failure::Integration(Error::OutcomeUnknown(_))),
        "{failure}"
    );
    assert!(!failure.retryable(), "{failure}");
    let merges = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/merge"))
        .count();
    assert_eq!(
        merges, 1,
        "a merge is never retried behind the caller's back"
    );
    let still = env
        .exec("get-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    assert_eq!(still["state"], "open");
}

#[tokio::test]
async fn a_create_that_fails_is_reported_and_not_retried() {
    let env = env().await;
    env.fake.control().inject(Fault::unavailable());
    let failure = env
        .exec(
            "create-pull-request",
            repo(json!({ "title": "x", "source_branch": "feature/login" })),
        )
        .await
        .unwrap_err();
    // A 503 to a create may have come after Bitbucket acted: the lookup
    // finds nothing of the caller's, so the outcome is unknown, not retryable.
    assert!(
        matches!(failure, Failure::Integration(Error::OutcomeUnknown(_))),
        "{failure}"
    );
    assert!(!failure.retryable(), "{failure}");
    let posts = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);

    let missing = env
        .exec(
            "create-pull-request",
            repo(json!({ "title": "x", "source_branch": "no/such-branch" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            Failure::Integration(Error::Validation(_) | Error::NotFound(_))
        ),
        "{missing}"
    );
    let untitled = env
        .exec(
            "create-pull-request",
            repo(json!({ "title": "", "source_branch": "feature/login" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&untitled, Failure::Integration(Error::Validation(v)) if v.field == "title"),
        "{untitled}"
    );
}

/// CI, as Grace's token, reporting on `commit`.
async fn report_build(env: &Env, commit: &str, state: &str) {
    as_grace(
        env,
        "report-build-status",
        repo(
            json!({ "commit": commit, "key": "ci", "state": state, "url": "https://ci.example/1" }),
        ),
    )
    .await
    .unwrap();
}

/// One look of merge when green: what it waits for, what ends it, and the
/// merge once the builds are green and the branch's one required approval
/// (the seeded restriction on main) comes from someone other than the author.
#[tokio::test]
async fn merge_if_green_waits_for_builds_and_approvals_and_ends_on_an_objection() {
    let env = env().await;
    let pr = open_pull_request(&env, "feature/search-v2").await;
    let id = pr["id"].as_u64().unwrap();
    let head = pr["source_commit"].as_str().unwrap().to_owned();
    let look = || env.exec("merge-pull-request-if-green", repo(json!({ "id": id })));

    let first = look().await.unwrap();
    assert_eq!(first["verdict"], "waiting");
    assert_eq!(
        first["blockers"],
        json!(["no_build_yet", "approvals_missing"])
    );
    assert_eq!(first["checks"]["approvals_required"], 1);
    // The author's own approval does not count.
    env.exec("approve-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    report_build(&env, &head, "in_progress").await;
    let running = look().await.unwrap();
    assert_eq!(
        running["blockers"],
        json!(["builds_running", "approvals_missing"])
    );
    assert_eq!(running["checks"]["approvals"], 0);

    as_grace(&env, "approve-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    report_build(&env, &head, "successful").await;
    let merges_before = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/merge"))
        .count();
    assert_eq!(merges_before, 0, "no look merged while something blocked");
    let merged = look().await.unwrap();
    assert_eq!(merged["verdict"], "merged");
    assert_eq!(merged["blockers"], json!([]));
    assert_eq!(merged["pull_request"]["state"], "merged");
    let again = look().await.unwrap();
    assert_eq!(
        (&again["verdict"], &again["blockers"]),
        (&json!("ended"), &json!(["merged_already"]))
    );

    // A change request ends a wait even when everything else is green.
    let other = open_pull_request(&env, "develop").await;
    let other_id = other["id"].as_u64().unwrap();
    as_grace(&env, "request-changes", repo(json!({ "id": other_id })))
        .await
        .unwrap();
    let objected = env
        .exec(
            "merge-pull-request-if-green",
            repo(json!({ "id": other_id })),
        )
        .await
        .unwrap();
    assert_eq!(objected["verdict"], "ended");
    assert!(
        objected["blockers"]
            .as_array()
            .unwrap()
            .contains(&json!("changes_requested"))
    );
    assert_eq!(objected["pull_request"]["state"], "open");
}
