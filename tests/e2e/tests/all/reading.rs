//! Reading the code through the sandbox: files and directories at a ref,
//! file history, diffs and diffstats within a byte budget, build statuses,
//! review threads and tasks, and the review bundle. The fake computes every
//! diff from its own file trees, so each expectation is checked against
//! another view of the same repository, not against a canned answer.

use std::collections::BTreeSet;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_runtime::host_types::CredentialSecret;
use atom_test_support::{Env, env, exec_in, repo, sandbox, tenant_for};
use fake_bitbucket::GRACE_TOKEN;
use serde_json::{Value, json};

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a page has items")
}

async fn as_grace(env: &Env, operation: &str, params: Value) -> Result<Value, Failure> {
    let grace = tenant_for(&env.fake, "tenant-grace");
    grace
        .set_credential(CredentialSecret::AccessToken(GRACE_TOKEN.to_owned()))
        .unwrap();
    exec_in(sandbox(), &grace, operation, params).await
}

/// Every page of a listing, through its cursors.
async fn all(env: &Env, operation: &str, params: Value) -> Vec<Value> {
    let mut params = params;
    let mut found = Vec::new();
    loop {
        let page = env.exec(operation, params.clone()).await.unwrap();
        found.extend(items(&page).iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => params["page"] = json!({ "cursor": cursor }),
            None => return found,
        }
    }
}

fn validation_field(failure: &Failure) -> Option<&str> {
    match failure {
        Failure::Integration(Error::Validation(v)) => Some(&v.field),
        _ => None,
    }
}

/// The open pull request whose diff has the most changed files: the fake's
/// reviewable one (modified, added, removed, renamed, binary, huge).
async fn reviewable(env: &Env) -> (u64, Vec<Value>) {
    let open = env
        .exec("list-pull-requests", repo(json!({})))
        .await
        .unwrap();
    let mut best = (0, Vec::new());
    for pr in items(&open) {
        let id = pr["id"].as_u64().unwrap();
        let files = all(env, "get-pull-request-diffstat", repo(json!({ "id": id }))).await;
        if files.len() > best.1.len() {
            best = (id, files);
        }
    }
    best
}

/// The reviewable repository's pull request `id`, with `extra` params.
fn on_pull_request(id: u64, extra: Value) -> Value {
    let mut params = repo(json!({ "id": id }));
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    params
}

fn path_of(file: &Value) -> &str {
    file["new_path"]
        .as_str()
        .or(file["old_path"].as_str())
        .unwrap()
}

#[tokio::test]
async fn files_directories_and_history_at_a_branch() {
    let env = env().await;
    let root = all(
        &env,
        "list-directory",
        repo(json!({ "revision": "main", "page": { "size": 2 } })),
    )
    .await;
    let kinds: Vec<(&str, &str)> = root
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("README.md", "file")), "{kinds:?}");
    assert!(kinds.contains(&("src", "directory")), "{kinds:?}");
    assert!(root.len() > 2, "pages of two are followed to the end");

    let src = all(
        &env,
        "list-directory",
        repo(json!({ "revision": "main", "path": "src" })),
    )
    .await;
    assert!(
        src.iter()
            .all(|e| e["path"].as_str().unwrap().starts_with("src/")),
        "{src:?}"
    );
    let a_file = src
        .iter()
        .find(|e| e["kind"] == "file")
        .expect("src holds files");
    let path = a_file["path"].as_str().unwrap();

    let whole = env
        .exec(
            "get-file",
            repo(json!({ "revision": "main", "path": path })),
        )
        .await
        .unwrap();
    let content = whole["content"].as_str().unwrap();
    assert_eq!(whole["binary"], false);
    assert_eq!(whole["truncated_bytes"], 0);
    assert_eq!(whole["size"].as_u64().unwrap(), content.len() as u64);
    assert_eq!(
        whole["size"], a_file["size"],
        "the listing and the file agree"
    );
    assert!(whole["commit"].as_str().unwrap().len() == 40);

    let cut = env
        .exec(
            "get-file",
            repo(json!({ "revision": "main", "path": path, "max_bytes": 10 })),
        )
        .await
        .unwrap();
    let shown = cut["content"].as_str().unwrap();
    assert!(shown.len() <= 10 && content.starts_with(shown), "{shown:?}");
    assert_eq!(
        cut["truncated_bytes"].as_u64().unwrap(),
        (content.len() - shown.len()) as u64,
        "the cut is said"
    );

    let directory = env
        .exec(
            "get-file",
            repo(json!({ "revision": "main", "path": "src" })),
        )
        .await
        .unwrap_err();
    assert_eq!(validation_field(&directory), Some("path"), "{directory}");
    let missing = env
        .exec(
            "get-file",
            repo(json!({ "revision": "main", "path": "no/such/file.rs" })),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");

    // The file's history is the commits that touched it.
    let history = all(
        &env,
        "list-file-history",
        repo(json!({ "revision": "main", "path": path })),
    )
    .await;
    let touching = all(
        &env,
        "list-commits",
        repo(json!({ "include": ["main"], "path": path })),
    )
    .await;
    let hashes = |list: &[Value], key: &dyn Fn(&Value) -> &Value| -> Vec<String> {
        list.iter()
            .map(|v| key(v).as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!history.is_empty());
    assert_eq!(
        hashes(&history, &|v| &v["commit"]["hash"]),
        hashes(&touching, &|v| &v["hash"]),
        "newest first, one per commit that changed it"
    );
}

#[tokio::test]
async fn a_pull_request_diff_is_cut_to_its_budget_and_says_so() {
    let env = env().await;
    let (id, stat) = reviewable(&env).await;
    let changes: BTreeSet<&str> = stat.iter().map(|f| f["change"].as_str().unwrap()).collect();
    assert_eq!(
        changes,
        BTreeSet::from(["added", "modified", "removed", "renamed"]),
        "{stat:?}"
    );
    let renamed = stat.iter().find(|f| f["change"] == "renamed").unwrap();
    assert_ne!(renamed["old_path"], renamed["new_path"]);
    let removed = stat.iter().find(|f| f["change"] == "removed").unwrap();
    assert!(removed["new_path"].is_null());

    let budget = 16 * 1024;
    let diff = env
        .exec(
            "get-pull-request-diff",
            repo(json!({ "id": id, "options": { "max_bytes": budget } })),
        )
        .await
        .unwrap();
    let files = diff["files"].as_array().unwrap();
    let shown: u64 = files
        .iter()
        .map(|f| f["patch"].as_str().map_or(0, |p| p.len() as u64))
        .sum();
    assert!(shown <= budget, "{shown} bytes shown of a {budget} budget");
    assert!(
        diff["size"].as_u64().unwrap() > 10 * budget,
        "far over the budget"
    );
    // Every byte not shown is counted as cut, or belongs to a binary file,
    // which is named and never dumped.
    let binary: u64 = files
        .iter()
        .filter(|f| f["binary"] == true)
        .map(|f| f["size"].as_u64().unwrap())
        .sum();
    assert_eq!(
        diff["truncated_bytes"].as_u64().unwrap() + binary,
        diff["size"].as_u64().unwrap() - shown,
        "every byte left out is counted"
    );
    // Every file is named, cut or not, and every cut is listed by path.
    let listed: BTreeSet<&str> = files.iter().map(path_of).collect();
    let in_stat: BTreeSet<&str> = stat.iter().map(path_of).collect();
    assert_eq!(listed, in_stat);
    let cut: BTreeSet<&str> = files
        .iter()
        .filter(|f| f["truncated_bytes"].as_u64().unwrap() > 0)
        .map(path_of)
        .collect();
    let said: BTreeSet<&str> = diff["truncated_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(!cut.is_empty());
    assert_eq!(cut, said);

    let binary = files
        .iter()
        .find(|f| f["binary"] == true)
        .expect("a binary file");
    assert!(binary["patch"].is_null(), "named, never dumped");

    // One file alone, whole: its diff agrees with the diffstat's counts.
    let modified = stat
        .iter()
        .filter(|f| f["change"] == "modified")
        .min_by_key(|f| f["lines_added"].as_u64().unwrap())
        .unwrap();
    let one = env
        .exec(
            "get-pull-request-diff",
            repo(json!({ "id": id, "options": { "paths": [path_of(modified)] } })),
        )
        .await
        .unwrap();
    let only = &one["files"].as_array().unwrap()[..];
    assert_eq!(only.len(), 1);
    let patch = only[0]["patch"].as_str().unwrap();
    let count = |sign: char, header: &str| {
        patch
            .lines()
            .filter(|l| l.starts_with(sign) && !l.starts_with(header))
            .count() as u64
    };
    assert_eq!(count('+', "+++"), modified["lines_added"].as_u64().unwrap());
    assert_eq!(
        count('-', "---"),
        modified["lines_removed"].as_u64().unwrap()
    );
    assert!(patch.matches("\n@@ ").count() >= 1);

    let patch = env
        .exec(
            "get-pull-request-patch",
            repo(json!({ "id": id, "max_bytes": 4096 })),
        )
        .await
        .unwrap();
    assert!(patch["text"].as_str().unwrap().len() <= 4096);
    assert!(patch["truncated_bytes"].as_u64().unwrap() > 0);
    assert!(patch["text"].as_str().unwrap().starts_with("From "));
}

#[tokio::test]
async fn two_refs_compare_by_diff_and_diffstat() {
    let env = env().await;
    let pr = env
        .exec(
            "get-pull-request",
            repo(json!({ "id": reviewable(&env).await.0 })),
        )
        .await
        .unwrap();
    let spec = format!(
        "{}..{}",
        pr["source_commit"].as_str().unwrap(),
        pr["destination_branch"].as_str().unwrap()
    );
    let stat = all(&env, "get-diffstat", repo(json!({ "spec": spec }))).await;
    let diff = env
        .exec(
            "get-diff",
            repo(json!({ "spec": spec, "options": { "max_bytes": 4096, "context": 0 } })),
        )
        .await
        .unwrap();
    let in_diff: BTreeSet<&str> = diff["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(path_of)
        .collect();
    let in_stat: BTreeSet<&str> = stat.iter().map(path_of).collect();
    assert_eq!(in_diff, in_stat);

    // The patch: one mail per commit the source has, cut to its budget.
    let patch = env
        .exec(
            "get-patch",
            repo(json!({ "spec": spec, "max_bytes": 2048 })),
        )
        .await
        .unwrap();
    let text = patch["text"].as_str().unwrap();
    assert!(text.starts_with("From ") && text.len() <= 2048, "{text}");
    assert_eq!(
        patch["truncated_bytes"].as_u64().unwrap(),
        patch["size"].as_u64().unwrap() - text.len() as u64
    );

    let bad = env
        .exec("get-diff", repo(json!({ "spec": "" })))
        .await
        .unwrap_err();
    assert_eq!(validation_field(&bad), Some("spec"), "{bad}");
}

#[tokio::test]
async fn build_statuses_are_read_and_reported_by_key() {
    let env = env().await;
    let (id, _) = reviewable(&env).await;
    let on_pr = all(
        &env,
        "list-pull-request-statuses",
        repo(json!({ "id": id })),
    )
    .await;
    let states: BTreeSet<&str> = on_pr.iter().map(|s| s["state"].as_str().unwrap()).collect();
    assert!(
        states.contains("failed") && states.contains("successful"),
        "{on_pr:?}"
    );

    let head = env
        .exec("get-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap()["source_commit"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = |state: &str| {
        repo(json!({
            "commit": head, "key": "atom-e2e", "state": state,
            "url": "https://ci.example.com/build/1", "name": "ATOM e2e",
        }))
    };
    let started = env
        .exec("report-build-status", report("in_progress"))
        .await
        .unwrap();
    assert_eq!(started["state"], "in_progress");
    let done = env
        .exec("report-build-status", report("successful"))
        .await
        .unwrap();
    assert_eq!(done["key"], "atom-e2e");
    let listed = all(
        &env,
        "list-commit-statuses",
        repo(json!({ "commit": head })),
    )
    .await;
    let ours: Vec<&Value> = listed.iter().filter(|s| s["key"] == "atom-e2e").collect();
    assert_eq!(ours.len(), 1, "the same key updates the same status");
    assert_eq!(ours[0]["state"], "successful");
    assert_eq!(listed.len(), on_pr.len() + 1);

    let unknown = env
        .exec("report-build-status", report("green"))
        .await
        .unwrap_err();
    assert_eq!(validation_field(&unknown), Some("state"), "{unknown}");
}

#[tokio::test]
async fn comments_are_edited_resolved_reopened_deleted_and_drafts_published() {
    let env = env().await;
    let (id, _) = reviewable(&env).await;
    let pr = |extra: Value| on_pull_request(id, extra);
    let comment = env
        .exec(
            "create-pull-request-comment",
            pr(json!({ "content": "Why a loop here?", "inline": { "path": "src/transport.rs", "to_line": 3 } })),
        )
        .await
        .unwrap();
    let comment_id = comment["id"].as_u64().unwrap();
    let edited = env
        .exec(
            "update-pull-request-comment",
            pr(json!({ "comment_id": comment_id, "content": "Why a loop here? It retries writes." })),
        )
        .await
        .unwrap();
    assert_eq!(edited["content"], "Why a loop here? It retries writes.");
    assert_eq!(edited["inline"]["path"], "src/transport.rs");

    let not_hers = as_grace(
        &env,
        "update-pull-request-comment",
        pr(json!({ "comment_id": comment_id, "content": "mine now" })),
    )
    .await
    .unwrap_err();
    assert_eq!(not_hers.code(), "permission_denied", "{not_hers}");

    let resolved = env
        .exec(
            "resolve-pull-request-comment",
            pr(json!({ "comment_id": comment_id })),
        )
        .await
        .unwrap();
    assert_eq!(
        resolved["resolution"]["user"]["display_name"],
        "Ada Lovelace"
    );
    let reopened = env
        .exec(
            "reopen-pull-request-comment",
            pr(json!({ "comment_id": comment_id })),
        )
        .await
        .unwrap();
    assert!(reopened["resolution"].is_null());

    let deleted = env
        .exec(
            "delete-pull-request-comment",
            pr(json!({ "comment_id": comment_id })),
        )
        .await
        .unwrap();
    assert_eq!(deleted["comment_id"], comment_id);
    let after = all(&env, "list-pull-request-comments", pr(json!({}))).await;
    let gone = after.iter().find(|c| c["id"] == comment_id);
    assert!(gone.is_none_or(|c| c["deleted"] == true), "{gone:?}");

    // Drafts: only their author sees them until they are published together.
    for text in ["First thought.", "Second thought."] {
        env.exec(
            "create-pull-request-comment",
            pr(json!({ "content": text, "pending": true })),
        )
        .await
        .unwrap();
    }
    let seen_by_grace = as_grace(&env, "list-pull-request-comments", pr(json!({})))
        .await
        .unwrap();
    assert!(
        items(&seen_by_grace)
            .iter()
            .all(|c| c["content"] != "First thought."),
        "a draft is its author's alone"
    );
    let published = env
        .exec("publish-pending-comments", pr(json!({})))
        .await
        .unwrap();
    let published = published["published"].as_array().unwrap();
    assert_eq!(published.len(), 2);
    assert!(published.iter().all(|c| c["pending"] == false));
    let seen_by_grace = as_grace(
        &env,
        "list-pull-request-comments",
        pr(json!({ "page": { "size": 100 } })),
    )
    .await
    .unwrap();
    assert!(
        items(&seen_by_grace)
            .iter()
            .any(|c| c["content"] == "Second thought.")
    );
}

#[tokio::test]
async fn tasks_are_created_resolved_and_deleted_and_the_count_follows() {
    let env = env().await;
    let (id, _) = reviewable(&env).await;
    let pr = |extra: Value| on_pull_request(id, extra);
    let count = || async {
        env.exec("get-pull-request", pr(json!({}))).await.unwrap()["task_count"]
            .as_u64()
            .unwrap()
    };
    let before = count().await;
    let task = env
        .exec(
            "create-pull-request-task",
            pr(json!({ "content": "Add a test for the retry path" })),
        )
        .await
        .unwrap();
    assert_eq!(task["state"], "unresolved");
    assert_eq!(count().await, before + 1);
    let open = all(
        &env,
        "list-pull-request-tasks",
        pr(json!({ "state": "unresolved" })),
    )
    .await;
    assert!(open.iter().any(|t| t["id"] == task["id"]));
    assert!(open.iter().all(|t| t["state"] == "unresolved"));

    let resolved = env
        .exec(
            "update-pull-request-task",
            pr(json!({ "task_id": task["id"], "state": "resolved" })),
        )
        .await
        .unwrap();
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(resolved["resolved_by"]["display_name"], "Ada Lovelace");
    assert_eq!(count().await, before);

    env.exec(
        "delete-pull-request-task",
        pr(json!({ "task_id": task["id"] })),
    )
    .await
    .unwrap();
    let left = all(&env, "list-pull-request-tasks", pr(json!({}))).await;
    assert!(left.iter().all(|t| t["id"] != task["id"]));
    let again = env
        .exec(
            "delete-pull-request-task",
            pr(json!({ "task_id": task["id"] })),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), "not_found", "{again}");
}

#[tokio::test]
async fn commits_activity_and_the_reviews_waiting_for_me() {
    let env = env().await;
    let grace = as_grace(&env, "get-current-user", json!({})).await.unwrap();
    let pr = env
        .exec(
            "create-pull-request",
            repo(json!({
                "title": "Review me", "source_branch": "feature/login",
                "reviewers": [grace["uuid"]], "draft": true,
            })),
        )
        .await
        .unwrap();
    let id = pr["id"].as_u64().unwrap();
    assert_eq!(pr["draft"], true);
    let ready = env
        .exec(
            "update-pull-request",
            repo(json!({ "id": id, "draft": false })),
        )
        .await
        .unwrap();
    assert_eq!(ready["draft"], false, "a draft is published");

    // The pull request's commits are the source's commits the destination lacks.
    let commits = all(&env, "list-pull-request-commits", repo(json!({ "id": id }))).await;
    let ahead = all(
        &env,
        "list-commits",
        repo(json!({ "include": ["feature/login"], "exclude": ["main"] })),
    )
    .await;
    let hashes = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|c| c["hash"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!commits.is_empty());
    assert_eq!(hashes(&commits), hashes(&ahead));

    let waiting = as_grace(&env, "list-pull-requests-awaiting-review", repo(json!({})))
        .await
        .unwrap();
    assert!(items(&waiting).iter().any(|p| p["id"] == id));
    let mine = env
        .exec("list-pull-requests-awaiting-review", repo(json!({})))
        .await
        .unwrap();
    assert!(
        items(&mine).iter().all(|p| p["id"] != id),
        "Ada is not its reviewer"
    );

    as_grace(&env, "approve-pull-request", repo(json!({ "id": id })))
        .await
        .unwrap();
    let waiting = as_grace(&env, "list-pull-requests-awaiting-review", repo(json!({})))
        .await
        .unwrap();
    assert!(items(&waiting).iter().all(|p| p["id"] != id), "reviewed");
    let reviewed = as_grace(
        &env,
        "list-pull-requests-awaiting-review",
        repo(json!({ "include_reviewed": true })),
    )
    .await
    .unwrap();
    assert!(items(&reviewed).iter().any(|p| p["id"] == id));

    let activity = all(
        &env,
        "list-pull-request-activity",
        repo(json!({ "id": id })),
    )
    .await;
    assert!(
        activity
            .iter()
            .any(|a| a["kind"] == "approval" && a["user"]["display_name"] == "Grace Hopper"),
        "{activity:?}"
    );
}

#[tokio::test]
async fn the_review_bundle_of_a_large_pull_request_stays_within_budget_and_names_every_cut() {
    let env = env().await;
    let (id, stat) = reviewable(&env).await;
    let budget = 32 * 1024;
    let bundle = env
        .exec(
            "get-review-bundle",
            repo(json!({ "id": id, "max_bytes": budget })),
        )
        .await
        .unwrap();
    assert_eq!(bundle["pull_request"]["id"], id);
    assert_eq!(bundle["max_bytes"], budget);
    let files = bundle["files"].as_array().unwrap();
    let shown: u64 = files
        .iter()
        .map(|f| f["patch"].as_str().map_or(0, |p| p.len() as u64))
        .sum();
    assert!(shown <= budget, "{shown} > {budget}");
    assert_eq!(bundle["diff_bytes"].as_u64().unwrap(), shown);
    assert_eq!(
        bundle["diffstat"].as_array().unwrap().len(),
        stat.len(),
        "the whole diffstat"
    );

    let cut_files: BTreeSet<&str> = files
        .iter()
        .filter(|f| f["truncated_bytes"].as_u64().unwrap() > 0)
        .map(path_of)
        .collect();
    let said: BTreeSet<&str> = bundle["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["part"] == "diff")
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(!cut_files.is_empty());
    assert_eq!(cut_files, said, "every cut file is named");
    // One huge file cannot starve the rest: a small file still shows.
    assert!(
        files
            .iter()
            .filter(|f| f["binary"] == false)
            .filter(|f| f["truncated_bytes"] == 0)
            .any(|f| f["patch"].is_string()),
        "{files:?}"
    );

    let states: BTreeSet<&str> = bundle["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert!(states.contains("failed"), "{states:?}");
    let tasks = bundle["open_tasks"].as_array().unwrap();
    assert!(tasks.iter().all(|t| t["state"] == "unresolved"));
    let every_task = all(&env, "list-pull-request-tasks", repo(json!({ "id": id }))).await;
    assert_eq!(
        tasks.len(),
        every_task
            .iter()
            .filter(|t| t["state"] == "unresolved")
            .count()
    );
    let threads = bundle["unresolved_threads"].as_array().unwrap();
    assert!(!threads.is_empty());
    assert!(
        threads
            .iter()
            .all(|t| t["comment"]["resolution"].is_null() && t["comment"]["parent_id"].is_null())
    );
    let comments = all(
        &env,
        "list-pull-request-comments",
        repo(json!({ "id": id })),
    )
    .await;
    let resolved_roots = comments
        .iter()
        .filter(|c| c["parent_id"].is_null() && !c["resolution"].is_null())
        .count();
    assert!(resolved_roots > 0, "the fake seeds a resolved thread");
    assert!(
        threads
            .iter()
            .any(|t| t["comment"]["inline"]["path"].is_string()),
        "inline threads keep their anchor"
    );
}
