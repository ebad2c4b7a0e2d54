//! A write Bitbucket carried out but whose answer does not say so (the
//! connection reset, the answer cut short, or a 502 / 555 after it acted)
//! is never sent again: the component finds what it created, or says the
//! outcome is unknown and not to retry.

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
    for kind in [
        FaultKind::ActThenReset,
        FaultKind::ActThenTruncate,
        FaultKind::ActThen502,
        FaultKind::ActThen555,
    ] {
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
        assert!(env.fake.fault_counts().of(&kind) >= 1);
    })
    .await;
}

#[tokio::test]
async fn create_branch_with_a_lost_answer_makes_one_branch() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let name = format!("lost/{}", kind.name());
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-branch",
                repo(json!({ "name": name, "target": "main" })),
            )
            .await;
        // The branch at the asked commit is found again: had it existed
        // before, Bitbucket would have refused the create.
        let branch = found_or_unknown("create-branch", outcome).expect("found by reading it back");
        assert_eq!(branch["name"], name.as_str(), "{branch}");
        let made = env
            .fake
            .control()
            .branches
            .iter()
            .filter(|b| b.repo == REPO && b.name == name)
            .count();
        assert_eq!(made, 1, "{kind:?}: one branch");
        assert_eq!(posts_to(&env, "/refs/branches"), 1, "{kind:?}: one POST");
        assert!(env.fake.fault_counts().of(&kind) >= 1);
    })
    .await;
}

#[tokio::test]
async fn create_tag_with_a_lost_answer_makes_one_tag() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let name = format!("lost-{}", kind.name());
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-tag",
                repo(json!({ "name": name, "target": "main" })),
            )
            .await;
        let tag = found_or_unknown("create-tag", outcome).expect("found by reading it back");
        assert_eq!(tag["name"], name.as_str(), "{tag}");
        let made = env
            .fake
            .control()
            .tags
            .iter()
            .filter(|t| t.repo == REPO && t.name == name)
            .count();
        assert_eq!(made, 1, "{kind:?}: one tag");
        assert_eq!(posts_to(&env, "/refs/tags"), 1, "{kind:?}: one POST");
    })
    .await;
}

#[tokio::test]
async fn create_repository_with_a_lost_answer_makes_one_repository() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let slug = format!("lost-{}", kind.name().to_lowercase());
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-repository",
                json!({ "workspace": "atom-labs", "repo_slug": slug, "is_private": true }),
            )
            .await;
        let made = found_or_unknown("create-repository", outcome).expect("found by its slug");
        assert_eq!(made["slug"], slug.as_str(), "{made}");
        let full_name = format!("atom-labs/{slug}");
        let count = env
            .fake
            .control()
            .repositories
            .iter()
            .filter(|r| r.full_name() == full_name)
            .count();
        assert_eq!(count, 1, "{kind:?}: one repository");
        assert_eq!(
            posts_to(&env, &format!("/repositories/{full_name}")),
            1,
            "{kind:?}: one POST"
        );
    })
    .await;
}

#[tokio::test]
async fn create_repository_variable_with_a_lost_answer_keeps_one_variable() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let key = format!("LOST_{}", kind.name().replace('-', "_").to_uppercase());
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-repository-variable",
                repo(json!({ "key": key, "value": "v", "secured": false })),
            )
            .await;
        let kept =
            found_or_unknown("create-repository-variable", outcome).expect("found by its key");
        assert_eq!(kept["key"], key.as_str(), "{kept}");
        let count = env.fake.control().pipeline_variables[REPO]
            .iter()
            .filter(|v| v.key == key)
            .count();
        assert_eq!(count, 1, "{kind:?}: one variable");
        assert_eq!(
            posts_to(&env, "/pipelines_config/variables"),
            1,
            "{kind:?}: one POST"
        );
    })
    .await;
}

#[tokio::test]
async fn create_issue_comment_with_a_lost_answer_posts_one_comment() {
    each_kind(async |kind: FaultKind| {
        let env = env().await;
        let text = format!("lost answer {}", kind.name());
        lose_answers_to_writes(&env, kind.clone());
        let outcome = env
            .exec(
                "create-issue-comment",
                repo(json!({ "id": 3, "content": text })),
            )
            .await;
        if let Some(comment) = found_or_unknown("create-issue-comment", outcome) {
            assert_eq!(comment["content"], text.as_str(), "{comment}");
        }
        let count = env
            .fake
            .control()
            .issues
            .iter()
            .filter(|i| i.repo == REPO && i.id == 3)
            .flat_map(|i| i.comments.iter())
            .filter(|c| c.raw == text)
            .count();
        assert_eq!(count, 1, "{kind:?}: one comment");
        assert_eq!(
            posts_to(&env, "/issues/3/comments"),
            1,
            "{kind:?}: one POST"
        );
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
            .exec(
                "trigger-pipeline",
                repo(json!({ "branch": "main", "variables": [{ "key": "ENV", "value": "ci" }] })),
            )
            .await;
        let found = found_or_unknown("trigger-pipeline", outcome);
        let world = env.fake.control();
        let runs = world.pipelines_of("atom-labs", "bitbucket-plugin");
        assert_eq!(runs.len(), before + 1, "{kind:?}: one run started");
        let started = runs.iter().max_by_key(|p| p.build_number).unwrap();
        if let Some(run) = found {
            assert_eq!(
                run["uuid"],
                started.uuid.as_str(),
                "{kind:?}: the run it started"
            );
        }
        // Only the caller's variables: nothing is injected into the user's run.
        let keys: Vec<&str> = started.variables.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(keys, ["ENV"], "{kind:?}");
        drop(world);
        assert_eq!(posts_to(&env, "/pipelines"), 1, "{kind:?}: one POST");
        assert!(env.fake.fault_counts().of(&kind) >= 1);
    })
    .await;
}

/// Live-shaped reconciliation finds the run among others: a run someone else
/// started, and one of the caller's on another branch, at the same moment.
#[tokio::test]
async fn a_trigger_answered_555_finds_its_run_among_others() {
    let env = env().await;
    for (token, branch) in [
        (fake_bitbucket::GRACE_TOKEN, "main"),
        (fake_bitbucket::ADA_TOKEN, "develop"),
    ] {
        let url = format!("{}/repositories/{REPO}/pipelines", env.fake.api_base_url());
        let status = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(json!({ "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": branch } }).to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201, "{branch}");
    }
    lose_answers_to_writes(&env, FaultKind::ActThen555);
    let run = env
        .exec("trigger-pipeline", repo(json!({ "branch": "main" })))
        .await
        .expect("the one run of ada's on main since the call started");
    let world = env.fake.control();
    let newest = world
        .pipelines_of("atom-labs", "bitbucket-plugin")
        .into_iter()
        .max_by_key(|p| p.build_number)
        .unwrap();
    assert_eq!(run["uuid"], newest.uuid.as_str());
    assert_eq!(run["creator"]["display_name"], "Ada Lovelace");
    assert_eq!(run["target"]["ref_name"], "main");
}

/// Twice the same trigger at once by the same person: the lost one cannot
/// tell which is its own, so the outcome stays unknown.
#[tokio::test]
async fn a_lost_trigger_with_two_candidates_stays_unknown() {
    let env = env().await;
    let url = format!("{}/repositories/{REPO}/pipelines", env.fake.api_base_url());
    lose_answers_to_writes(&env, FaultKind::ActThen502);
    // Ada's own run on main, started (and its answer lost too) just before.
    let status = reqwest::Client::new()
        .post(url)
        .bearer_auth(fake_bitbucket::ADA_TOKEN)
        .header("content-type", "application/json")
        .body(json!({ "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main" } }).to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 502);
    let failure = env
        .exec("trigger-pipeline", repo(json!({ "branch": "main" })))
        .await
        .unwrap_err();
    assert_eq!(failure.code(), "outcome_unknown", "{failure}");
    assert!(!failure.retryable());
}

/// A 429 proves the write was not done: nothing created, one POST, and a
/// retryable `rate_limited` for the caller, without a Retry-After to quote.
#[tokio::test]
async fn a_create_answered_429_is_rate_limited_retryable_and_sent_once() {
    let env = env().await;
    lose_answers_to_writes(&env, FaultKind::RateLimited);
    let failure = env
        .exec("create-issue", repo(json!({ "title": "limited" })))
        .await
        .unwrap_err();
    let Failure::Integration(atom_runtime::contract::Error::RateLimited(limited)) = &failure else {
        panic!("expected rate_limited, got {failure}");
    };
    assert!(limited.retryable);
    assert_eq!(limited.retry_after_seconds, None);
    // Every POST meets the 429 before the fake records it: one 429, one POST.
    assert_eq!(env.fake.fault_counts().of(&FaultKind::RateLimited), 1);
    assert!(
        !env.fake
            .control()
            .issues
            .iter()
            .any(|i| i.title == "limited")
    );
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
