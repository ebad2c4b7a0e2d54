//! A write Bitbucket carried out but whose answer was lost (the connection
//! reset, or the answer cut short) is never sent again: the component finds
//! what it created, or says the outcome is unknown and not to retry.

use atom_runtime::Failure;
use atom_test_support::{Env, env, repo};
use fake_bitbucket::{FaultKind, FaultPlan, FaultRule};
use serde_json::{Value, json};

const REPO: &str = "atom-labs/bitbucket-plugin";

/// Every POST under the repository meets `kind`; reads are left alone.
fn lose_answers_to_writes(env: &Env, kind: FaultKind) {
    env.fake.set_faults(FaultPlan::new(7).rule(FaultRule::route(
        "POST",
        "/2.0/repositories/{*rest}",
        1.0,
        kind,
    )));
}

fn posts_to(env: &Env, suffix: &str) -> usize {
    env.fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.trim_end_matches('/').ends_with(suffix))
        .count()
}

/// Either the created resource (found again) or `outcome_unknown`, never
/// retryable.
fn found_or_unknown(operation: &str, outcome: Result<Value, Failure>) -> Option<Value> {
    match outcome {
        Ok(found) => Some(found),
        Err(failure) => {
            assert_eq!(failure.code(), "outcome_unknown", "{operation}: {failure}");
            assert!(!failure.retryable(), "{operation}: {failure}");
            None
        }
    }
}

async fn each_kind(check: impl AsyncFn(FaultKind)) {
    for kind in [FaultKind::ActThenReset, FaultKind::ActThenTruncate] {
        check(kind).await;
    }
}

#[tokio::test]
async fn create_issue_with_a_lost_answer_files_one_issue() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        lose_answers_to_writes(&env, kind.clone());
        let title = format!("lost answer {}", kind.name());
        let outcome = env
            .exec("create-issue", repo(json!({ "title": title })))
            .await;
        if let Some(issue) = found_or_unknown("create-issue", outcome) {
            assert_eq!(issue["title"], title.as_str(), "the issue it filed");
        }
        let filed = env
            .fake
            .control()
            .issues
            .iter()
            .filter(|i| i.repo == REPO && i.title == title)
            .count();
        assert_eq!(filed, 1, "{kind:?}: one issue filed");
        assert_eq!(posts_to(&env, "/issues"), 1, "{kind:?}: one POST");
        assert!(env.fake.fault_counts().of(&kind) >= 1);
    })
    .await;
}

#[tokio::test]
async fn create_pull_request_with_a_lost_answer_opens_one_pull_request() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let source = format!("lost/{}", kind.name());
        {
            let mut world = env.fake.control();
            let mut branch = world
                .branches
                .iter()
                .find(|b| b.repo == REPO && b.name == "main")
                .expect("main exists")
                .clone();
            branch.name = source.clone();
            world.branches.push(branch);
        }
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-pull-request",
                repo(json!({ "title": format!("Merge {source}"), "source_branch": source })),
            )
            .await;
        if let Some(pull) = found_or_unknown("create-pull-request", outcome) {
            assert_eq!(pull["source_branch"], source.as_str(), "{pull}");
        }
        let opened = env
            .fake
            .control()
            .pull_requests
            .iter()
            .filter(|p| p.repo == REPO && p.source_branch == source)
            .count();
        assert_eq!(opened, 1, "{kind:?}: one pull request opened");
        assert_eq!(posts_to(&env, "/pullrequests"), 1, "{kind:?}: one POST");
    })
    .await;
}

#[tokio::test]
async fn trigger_pipeline_with_a_lost_answer_starts_one_run() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let before = env
            .fake
            .control()
            .pipelines_of("atom-labs", "bitbucket-plugin")
            .len();
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec("trigger-pipeline", repo(json!({ "branch": "main" })))
            .await;
        found_or_unknown("trigger-pipeline", outcome);
        let after = env
            .fake
            .control()
            .pipelines_of("atom-labs", "bitbucket-plugin")
            .len();
        assert_eq!(after, before + 1, "{kind:?}: one run started");
        assert_eq!(posts_to(&env, "/pipelines"), 1, "{kind:?}: one POST");
    })
    .await;
}

/// The control: a write that never reached Bitbucket (nothing listens) is
/// an ordinary retryable failure, not an unknown outcome.
#[tokio::test]
async fn a_write_that_could_not_be_sent_stays_retryable() {
    let env = env().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let tenant = env
        .tenant
        .clone()
        .with_config("api-base-url", format!("http://127.0.0.1:{port}/2.0"));
    let failure = atom_test_support::exec_in(
        atom_test_support::sandbox(),
        &tenant,
        "create-issue",
        repo(json!({ "title": "never sent" })),
    )
    .await
    .unwrap_err();
    assert_eq!(failure.code(), "upstream_unavailable", "{failure}");
    assert!(failure.retryable(), "{failure}");
}
