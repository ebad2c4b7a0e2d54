//! The workspace overview through the sandbox: figures that match what the
//! fake holds, the upstream requests it cost, the default sample, and the
//! bounds on `pipeline_runs`.

use std::time::{SystemTime, UNIX_EPOCH};

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use fake_bitbucket::{Fault, Phase, PrState, RunResult};
use serde_json::{Value, json};

/// The fake keeps time as seconds since 2024-01-01T00:00:00Z.
const FAKE_EPOCH: u64 = 1_704_067_200;
const WEEK: u64 = 7 * 24 * 3600;

/// What the fake holds for one repository of atom-labs.
struct Expected {
    open_prs: u32,
    merged_last_week: u32,
    successful: u32,
    failed: u32,
    error: u32,
    stopped: u32,
    mean_duration: f64,
    open_issues: Option<u32>,
}

fn expected(env: &Env, slug: &str, runs: usize) -> Expected {
    let world = env.fake.control();
    let full_name = format!("atom-labs/{slug}");
    let week_ago = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .saturating_sub(WEEK)
        .saturating_sub(FAKE_EPOCH);
    let prs = world.pull_requests.iter().filter(|p| p.repo == full_name);
    let open_prs = prs.clone().filter(|p| p.state == PrState::Open).count() as u32;
    let merged_last_week = prs
        .filter(|p| p.state == PrState::Merged && p.updated_on >= week_ago)
        .count() as u32;
    let mut pipelines = world.pipelines_of("atom-labs", slug);
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.created_on));
    pipelines.truncate(runs);
    let count = |result: RunResult| {
        pipelines
            .iter()
            .filter(|p| p.phase == Phase::Completed(result))
            .count() as u32
    };
    let durations: Vec<u64> = pipelines
        .iter()
        .filter_map(|p| p.duration_in_seconds())
        .collect();
    let repository = world
        .repository_named(&full_name)
        .expect("the repository exists");
    let open_issues = repository.has_issues.then(|| {
        world
            .issues
            .iter()
            .filter(|i| i.repo == full_name && (i.state == "new" || i.state == "open"))
            .count() as u32
    });
    Expected {
        open_prs,
        merged_last_week,
        successful: count(RunResult::Successful),
        failed: count(RunResult::Failed),
        error: count(RunResult::Error),
        stopped: count(RunResult::Stopped) + count(RunResult::Expired),
        mean_duration: durations.iter().sum::<u64>() as f64 / durations.len() as f64,
        open_issues,
    }
}

fn atom_labs_repositories(env: &Env) -> u64 {
    env.fake
        .control()
        .repositories
        .iter()
        .filter(|r| r.workspace == "atom-labs")
        .count() as u64
}

async fn summary(env: &Env, params: Value) -> (Result<Value, Failure>, usize) {
    let before = env.fake.control().requests.len();
    let answer = env.exec("analytics-summary", params).await;
    let after = env.fake.control().requests.len();
    (answer, after - before)
}

#[tokio::test]
async fn one_repository_summarised_from_its_last_thirty_runs() {
    let env = env().await;
    let (answer, requests) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": 30 }),
    )
    .await;
    let summary = answer.unwrap();
    let want = expected(&env, "bitbucket-plugin", 30);

    assert_eq!(summary["workspace"], "atom-labs");
    assert_eq!(summary["repositories"], atom_labs_repositories(&env));
    assert_eq!(summary["repositories_sampled"], 1);

    let pipelines = &summary["pipelines"];
    assert_eq!(pipelines["runs"], 30);
    assert_eq!(
        (want.successful, want.failed, want.error, want.stopped),
        (18, 6, 2, 4),
        "the seed as documented"
    );
    assert_eq!(pipelines["successful"], want.successful);
    assert_eq!(pipelines["failed"], want.failed);
    assert_eq!(pipelines["error"], want.error);
    assert_eq!(pipelines["stopped"], want.stopped);
    assert_eq!(pipelines["in_progress"], 0);
    let rate = pipelines["success_rate"].as_f64().expect("runs completed");
    assert!((rate - 0.6).abs() < 1e-9, "{rate}");
    let mean = pipelines["mean_duration_seconds"]
        .as_f64()
        .expect("completed runs have durations");
    assert!(
        (mean - want.mean_duration).abs() < 1e-6,
        "{mean} vs {}",
        want.mean_duration
    );

    assert_eq!(want.open_prs, 3);
    assert_eq!(summary["open_pull_requests"], want.open_prs);
    assert_eq!(summary["merged_last_week"], want.merged_last_week);
    assert_eq!(
        summary["open_issues"].as_u64(),
        want.open_issues.map(u64::from),
        "new and open issues of the tracker"
    );
    assert!(summary["open_issues"].is_u64());

    assert_eq!(
        summary["upstream_requests"].as_u64().unwrap() as usize,
        requests,
        "the cost it reports is the cost Bitbucket saw"
    );
    let pipeline_requests: Vec<_> = env
        .fake
        .control()
        .requests_to("/2.0/repositories/atom-labs/bitbucket-plugin/pipelines");
    assert_eq!(pipeline_requests.len(), 1);
    assert_eq!(pipeline_requests[0].param("pagelen"), Some("30"));
}

#[tokio::test]
async fn a_merge_today_counts_as_merged_last_week() {
    let env = env().await;
    let params = json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"] });
    let (before, _) = summary(&env, params.clone()).await;
    let before = before.unwrap();
    let merged = env
        .exec(
            "merge-pull-request",
            json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin", "id": 4, "strategy": "merge_commit" }),
        )
        .await
        .unwrap();
    assert_eq!(merged["state"], "merged");

    let (after, requests) = summary(&env, params).await;
    let after = after.unwrap();
    let want = expected(&env, "bitbucket-plugin", 20);
    assert_eq!(after["merged_last_week"], want.merged_last_week);
    assert_eq!(
        after["merged_last_week"].as_u64().unwrap(),
        before["merged_last_week"].as_u64().unwrap() + 1
    );
    assert_eq!(after["open_pull_requests"], want.open_prs);
    assert_eq!(
        after["open_pull_requests"].as_u64().unwrap(),
        before["open_pull_requests"].as_u64().unwrap() - 1
    );
    assert_eq!(
        after["pipelines"]["runs"], 20,
        "the default is the last 20 runs"
    );
    assert_eq!(
        after["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );
}

#[tokio::test]
async fn requests_retried_after_a_transient_failure_are_counted_in_the_cost() {
    let env = env().await;
    // The first request (the repository listing) answers 503 once; the
    // component retries it and the summary succeeds.
    env.fake.control().inject(Fault::unavailable());
    let (answer, requests) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": 30 }),
    )
    .await;
    let summary = answer.unwrap();
    assert_eq!(summary["pipelines"]["runs"], 30);
    assert_eq!(summary["open_pull_requests"], 3);
    assert_eq!(requests, 7, "six requests and one retry reached Bitbucket");
    assert_eq!(
        summary["upstream_requests"].as_u64().unwrap() as usize,
        requests,
        "the cost it reports is every request Bitbucket saw, retries included"
    );
}

#[tokio::test]
async fn fewer_runs_count_only_the_latest() {
    let env = env().await;
    let (answer, requests) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": 5 }),
    )
    .await;
    let summary = answer.unwrap();
    let want = expected(&env, "bitbucket-plugin", 5);
    let pipelines = &summary["pipelines"];
    assert_eq!(pipelines["runs"], 5);
    assert_eq!(pipelines["successful"], want.successful);
    assert_eq!(pipelines["failed"], want.failed);
    assert_eq!(pipelines["error"], want.error);
    assert_eq!(pipelines["stopped"], want.stopped);
    let rate = pipelines["success_rate"].as_f64().unwrap();
    assert!(
        (rate - f64::from(want.successful) / 5.0).abs() < 1e-9,
        "{rate}"
    );
    assert_eq!(
        summary["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );
}

#[tokio::test]
async fn the_default_sample_is_the_ten_most_recently_updated() {
    let env = env().await;
    let (answer, requests) = summary(&env, json!({ "workspace": "atom-labs" })).await;
    let summary = answer.unwrap();
    let total = atom_labs_repositories(&env);
    assert_eq!(summary["repositories"], total);
    let sampled = summary["repositories_sampled"].as_u64().unwrap();
    assert!(sampled <= 10, "{sampled}");
    assert_eq!(sampled, total.min(10));
    assert_eq!(
        summary["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );

    // The sample is the most recently updated repositories.
    let mut by_update: Vec<(String, String)> = env
        .fake
        .control()
        .repositories
        .iter()
        .filter(|r| r.workspace == "atom-labs")
        .map(|r| (r.updated_on.clone(), r.slug.clone()))
        .collect();
    by_update.sort_by(|a, b| b.cmp(a));
    let mut want: Vec<String> = by_update
        .into_iter()
        .take(sampled as usize)
        .map(|(_, slug)| slug)
        .collect();
    want.sort();
    let mut counted: Vec<String> = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.path.ends_with("/pipelines"))
        .map(|r| r.path.split('/').nth(4).unwrap().to_owned())
        .collect();
    counted.sort();
    assert_eq!(counted, want);

    // Runs default to the last 20 per repository; the other figures add up
    // over the sample.
    let per_repository: Vec<Expected> = want.iter().map(|s| expected(&env, s, 20)).collect();
    let runs: u64 = want
        .iter()
        .map(|s| {
            env.fake
                .control()
                .pipelines_of("atom-labs", s)
                .len()
                .min(20) as u64
        })
        .sum();
    assert_eq!(summary["pipelines"]["runs"], runs);
    assert_eq!(
        summary["pipelines"]["successful"],
        per_repository.iter().map(|e| e.successful).sum::<u32>()
    );
    assert_eq!(
        summary["open_pull_requests"],
        per_repository.iter().map(|e| e.open_prs).sum::<u32>()
    );
    let trackers: Vec<u32> = per_repository
        .iter()
        .filter_map(|e| e.open_issues)
        .collect();
    let open_issues = (!trackers.is_empty()).then(|| u64::from(trackers.iter().sum::<u32>()));
    assert_eq!(summary["open_issues"].as_u64(), open_issues);
}

#[tokio::test]
async fn a_retired_tracker_leaves_open_issues_out() {
    let env = env().await;
    env.fake.control().issues_retired = true;
    let (answer, requests) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": 30 }),
    )
    .await;
    let summary = answer.unwrap();
    assert!(
        summary["open_issues"].is_null(),
        "no tracker counted, not zero open issues: {summary}"
    );
    assert_eq!(summary["open_pull_requests"], 3);
    assert_eq!(summary["pipelines"]["successful"], 18);
    assert_eq!(
        summary["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );

    // A repository without a tracker is not asked about issues at all.
    let (answer, _) = summary_of(&env, "atom-harness").await;
    let harness = answer.unwrap();
    assert!(harness["open_issues"].is_null());
    assert!(
        env.fake
            .control()
            .requests_to("/2.0/repositories/atom-labs/atom-harness/issues")
            .is_empty()
    );
}

async fn summary_of(env: &Env, slug: &str) -> (Result<Value, Failure>, usize) {
    summary(
        env,
        json!({ "workspace": "atom-labs", "repo_slugs": [slug] }),
    )
    .await
}

#[tokio::test]
async fn pipeline_runs_must_be_from_one_to_a_hundred() {
    let env = env().await;
    for runs in [0, 101] {
        let (answer, requests) = summary(
            &env,
            json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": runs }),
        )
        .await;
        let failure = answer.unwrap_err();
        assert!(
            matches!(&failure, Failure::Integration(Error::Validation(v)) if v.field == "pipeline_runs"),
            "{runs}: {failure}"
        );
        assert_eq!(requests, 0, "refused before Bitbucket");
    }
    let (answer, _) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["bitbucket-plugin"], "pipeline_runs": 100 }),
    )
    .await;
    assert_eq!(answer.unwrap()["pipelines"]["runs"], 30, "all there are");
}

#[tokio::test]
async fn an_unknown_repository_or_workspace_is_not_found() {
    let env = env().await;
    let (answer, _) = summary(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["no-such-repo"] }),
    )
    .await;
    let failure = answer.unwrap_err();
    assert!(
        matches!(&failure, Failure::Integration(Error::NotFound(_))),
        "{failure}"
    );
    let (answer, _) = summary(&env, json!({ "workspace": "no-such-workspace" })).await;
    let failure = answer.unwrap_err();
    assert!(
        matches!(&failure, Failure::Integration(Error::NotFound(_))),
        "{failure}"
    );
}
