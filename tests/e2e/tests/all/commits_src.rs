//! commit-files through the sandbox: one commit from file contents
//! (`POST R/src`, multipart), seen again through get-file, list-commits and
//! get-diff; deletions, refused paths, a stale parent, and a lost answer that
//! leaves exactly one commit.
//!
//! DRAFT: written without compiling (it links Wasmtime); the lead engineer
//! compiles and fixes it.

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{env, repo};
use fake_bitbucket::{FaultKind, FaultPlan, FaultRule};
use serde_json::{Value, json};

const REPO: &str = "atom-labs/bitbucket-plugin";

fn hashes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["hash"].as_str().unwrap().to_owned())
        .collect()
}

fn posts_to_src(env: &atom_test_support::Env) -> usize {
    env.fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.trim_end_matches('/').ends_with("/src"))
        .count()
}

async fn main_head(env: &atom_test_support::Env) -> String {
    let branch = env
        .exec("get-branch", repo(json!({ "name": "main" })))
        .await
        .unwrap();
    branch["target_hash"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_commit_writes_a_file_that_reads_back_through_source_history_and_diff() {
    let env = env().await;
    let parent = main_head(&env).await;
    let content = "# Usage\r\n\r\nLine with a --boundary-looking thing\r\n--\r\nünïcødé ✓\n";
    let made = env
        .exec(
            "commit-files",
            repo(json!({
                "branch": "main",
                "message": "Document usage",
                "author": "Ada Lovelace <ada@example.com>",
                "files": [{ "path": "docs/usage.md", "content": content }],
            })),
        )
        .await
        .unwrap();
    assert_eq!(made["branch"], "main");
    let hash = made["commit"]["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 40);
    assert_eq!(made["commit"]["message"], "Document usage");
    assert_eq!(
        made["commit"]["parents"],
        json!([parent]),
        "on top of the head it read"
    );
    assert!(made["commit"]["date"].is_string());

    let file = env
        .exec(
            "get-file",
            repo(json!({ "revision": "main", "path": "docs/usage.md" })),
        )
        .await
        .unwrap();
    assert_eq!(file["content"], content);
    assert_eq!(file["commit"], hash.as_str());

    let history = env
        .exec("list-commits", repo(json!({ "include": ["main"] })))
        .await
        .unwrap();
    assert_eq!(hashes(&history)[0], hash, "the branch starts with it");

    let diff = env
        .exec("get-diff", repo(json!({ "spec": hash })))
        .await
        .unwrap();
    let files = diff["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{diff}");
    assert_eq!(files[0]["change"], "added");
    assert_eq!(files[0]["new_path"], "docs/usage.md");
    assert!(
        files[0]["patch"].as_str().unwrap().contains("+# Usage"),
        "{diff}"
    );
    assert_eq!(posts_to_src(&env), 1);
}

#[tokio::test]
async fn a_deletion_removes_the_file_and_a_new_branch_leaves_main_alone() {
    let env = env().await;
    let main = main_head(&env).await;
    let made = env
        .exec(
            "commit-files",
            repo(json!({
                "branch": "docs/drop-readme",
                "message": "Drop the README",
                "deletions": ["README.md"],
            })),
        )
        .await
        .unwrap();
    let hash = made["commit"]["hash"].as_str().unwrap().to_owned();
    assert_eq!(
        made["commit"]["parents"],
        json!([main]),
        "a new branch starts at main"
    );
    assert_eq!(main_head(&env).await, main, "main untouched");

    let gone = env
        .exec(
            "get-file",
            repo(json!({ "revision": hash, "path": "README.md" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(gone, Failure::Integration(Error::NotFound(_))),
        "{gone}"
    );
    let stat = env
        .exec("get-diffstat", repo(json!({ "spec": hash })))
        .await
        .unwrap();
    assert_eq!(stat["items"][0]["change"], "removed", "{stat}");
    assert_eq!(stat["items"][0]["old_path"], "README.md");
}

#[tokio::test]
async fn bad_paths_and_empty_commits_are_refused_naming_the_field_before_sending() {
    let env = env().await;
    for (params, field) in [
        (
            json!({ "files": [{ "path": "../escape.md", "content": "x" }] }),
            "files[0].path",
        ),
        (json!({ "deletions": ["ok.md", "a//b"] }), "deletions[1]"),
        (json!({ "files": [], "deletions": [] }), "files"),
        (
            json!({ "parent": "main", "files": [{ "path": "a.md", "content": "x" }] }),
            "parent",
        ),
    ] {
        let mut params = params;
        params["branch"] = json!("main");
        params["message"] = json!("m");
        let refused = env.exec("commit-files", repo(params)).await.unwrap_err();
        assert_eq!(refused.code(), "validation", "{refused}");
        assert_eq!(refused.to_json()["field"], field, "{refused}");
    }
    assert_eq!(posts_to_src(&env), 0, "refused before sending");
}

#[tokio::test]
async fn a_stale_parent_is_a_conflict_and_nothing_is_written() {
    let env = env().await;
    let history = env
        .exec("list-commits", repo(json!({ "include": ["main"] })))
        .await
        .unwrap();
    let older = hashes(&history)[1].clone();
    let before = env.fake.control().commits.len();
    let refused = env
        .exec(
            "commit-files",
            repo(json!({
                "branch": "main",
                "message": "Late",
                "parent": older,
                "files": [{ "path": "late.md", "content": "x" }],
            })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Failure::Integration(Error::Conflict(_))),
        "{refused}"
    );
    assert_eq!(env.fake.control().commits.len(), before);
}

#[tokio::test]
async fn a_lost_answer_gives_the_commit_made_once() {
    for kind in [
        FaultKind::ActThenReset,
        FaultKind::ActThenTruncate,
        FaultKind::ActThen502,
        FaultKind::ActThen555,
    ] {
        let env = env().await;
        env.fake.set_faults(FaultPlan::new(7).rule(FaultRule::route(
            "POST",
            "/2.0/repositories/{*rest}",
            1.0,
            kind.clone(),
        )));
        let message = format!("lost answer {}", kind.name());
        let made = env
            .exec(
                "commit-files",
                repo(json!({
                    "branch": "main",
                    "message": message,
                    "files": [{ "path": "lost.md", "content": "made once" }],
                })),
            )
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: reconciled, not {e}"));
        assert_eq!(made["commit"]["message"], message.as_str(), "{kind:?}");
        let world = env.fake.control();
        let commits: Vec<_> = world
            .commits
            .iter()
            .filter(|c| c.repo == REPO && c.message == message)
            .collect();
        assert_eq!(commits.len(), 1, "{kind:?}: one commit");
        assert_eq!(made["commit"]["hash"], commits[0].hash.as_str());
        assert_eq!(
            world.file_at_branch(REPO, "main", "lost.md"),
            Some(b"made once".to_vec())
        );
        drop(world);
        assert_eq!(posts_to_src(&env), 1, "{kind:?}: one POST");
        assert!(env.fake.fault_counts().of(&kind) >= 1);
    }
}
