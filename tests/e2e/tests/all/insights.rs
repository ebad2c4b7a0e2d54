//! Delivery insights through the sandbox: every measure checked against
//! what the fake's history gives when worked out here from its raw records
//! (not from any answer), a small history made by hand with its figures
//! worked out by hand, and the budget: a large workspace answered in part,
//! saying what it left out.

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use fake_bitbucket::{FaultKind, FaultPlan, FaultRule, Phase, PrState, RunResult, World};
use serde_json::{Value, json};

/// The seed data's "now": 2026-11-23T00:00:00Z, in the fake's seconds.
const SEED_NOW: i64 = 1_057 * 86_400;
const UNTIL: &str = "2026-11-23T00:00:00Z";
const WEEK: i64 = 7 * 86_400;
/// The repositories whose history the fake generates, and the one whose
/// runs it has had since before.
const HISTORIES: [&str; 6] = [
    "atom-core",
    "agent-runtime",
    "policy-engine",
    "web-console",
    "infra-live",
    "bitbucket-plugin",
];

/// The figures of one repository, worked out from the fake's records by
/// the definitions in docs/insights.md.
#[derive(Default, Debug)]
struct Worked {
    source: &'static str,
    deployments: Vec<i64>,
    failed: Vec<i64>,
    lead_hours: Vec<f64>,
    not_deployed: u32,
    restore_hours: Vec<f64>,
    unrestored: u32,
    merged: u32,
    merge_hours: Vec<f64>,
    review_hours: Vec<f64>,
    runs: u32,
    successful_runs: u32,
    failed_runs: u32,
    stopped_runs: u32,
    durations: Vec<f64>,
    open: u32,
    waiting: u32,
    oldest_waiting: Option<f64>,
}

fn hours(seconds: i64) -> f64 {
    seconds as f64 / 3_600.0
}

/// Someone other than the author approved or asked for changes: when.
fn first_review(pr: &fake_bitbucket::PullRequest) -> Option<i64> {
    pr.participants
        .iter()
        .filter(|p| p.user != pr.author && (p.approved || p.state.is_some()))
        .filter_map(|p| p.participated_on.map(|t| t as i64))
        .min()
}

fn work_out(world: &World, slug: &str, start: i64, end: i64) -> Worked {
    let full_name = format!("atom-labs/{slug}");
    let in_window = |t: i64| (start..end).contains(&t);
    let mut worked = Worked::default();

    // (environment, started, completed, failed) of completed deployments.
    let production: Vec<&str> = world
        .environments
        .iter()
        .filter(|e| e.repo == full_name && e.kind == "Production")
        .map(|e| e.uuid.as_str())
        .collect();
    let mut deployments: Vec<(String, i64, i64, bool)> = Vec::new();
    let runs: Vec<&fake_bitbucket::Pipeline> = world
        .pipelines
        .iter()
        .filter(|p| p.repo == full_name)
        .collect();
    if !production.is_empty() {
        worked.source = "production_environment";
        for d in world
            .deployments
            .iter()
            .filter(|d| d.repo == full_name && production.contains(&d.environment.as_str()))
        {
            let run = world.pipeline(&d.pipeline).expect("a deployment's run");
            let failed = match run.phase {
                Phase::Completed(RunResult::Successful) => false,
                Phase::Completed(RunResult::Failed | RunResult::Error | RunResult::Expired) => true,
                _ => continue,
            };
            let completed = run.completed_on.expect("completed") as i64;
            deployments.push((
                d.environment.clone(),
                run.created_on as i64,
                completed,
                failed,
            ));
        }
    } else if runs
        .iter()
        .any(|r| r.target.ref_name.as_deref() == Some("main"))
    {
        worked.source = "main_branch_pipelines";
        for run in runs
            .iter()
            .filter(|r| r.target.ref_name.as_deref() == Some("main"))
        {
            let failed = match run.phase {
                Phase::Completed(RunResult::Successful) => false,
                Phase::Completed(RunResult::Failed | RunResult::Error) => true,
                _ => continue,
            };
            let completed = run.completed_on.expect("completed") as i64;
            deployments.push(("main".into(), run.created_on as i64, completed, failed));
        }
    } else {
        worked.source = "none";
    }
    deployments.retain(|d| d.2 < end);
    deployments.sort_by_key(|d| (d.2, d.1));
    for d in &deployments {
        if in_window(d.2) {
            if d.3 {
                worked.failed.push(d.2);
            } else {
                worked.deployments.push(d.2);
            }
        }
    }
    // Restores: per environment, from the first failure of a run of them.
    let mut failing: Vec<(String, i64)> = Vec::new();
    for d in &deployments {
        let at = failing.iter().position(|(e, _)| *e == d.0);
        match (d.3, at) {
            (true, None) => failing.push((d.0.clone(), d.2)),
            (false, Some(i)) => {
                let (_, since) = failing.remove(i);
                if in_window(since) {
                    worked.restore_hours.push(hours(d.2 - since));
                }
            }
            _ => {}
        }
    }
    worked.unrestored = failing.iter().filter(|(_, s)| in_window(*s)).count() as u32;

    for pr in world.pull_requests.iter().filter(|p| p.repo == full_name) {
        let (created, updated) = (pr.created_on as i64, pr.updated_on as i64);
        match pr.state {
            PrState::Merged if in_window(updated) => {
                worked.merged += 1;
                worked.merge_hours.push(hours(updated - created));
                if let Some(review) = first_review(pr).filter(|r| *r >= created) {
                    worked.review_hours.push(hours(review - created));
                }
                if pr.destination_branch == "main" && worked.source != "none" {
                    let carried = deployments
                        .iter()
                        .filter(|d| !d.3 && d.1 >= updated)
                        .min_by_key(|d| d.2);
                    match carried {
                        Some(d) => worked.lead_hours.push(hours(d.2 - created)),
                        None => worked.not_deployed += 1,
                    }
                }
            }
            PrState::Open => {
                worked.open += 1;
                if first_review(pr).is_none() && created < end {
                    worked.waiting += 1;
                    let age = hours(end - created);
                    worked.oldest_waiting = Some(worked.oldest_waiting.map_or(age, |o| o.max(age)));
                }
            }
            _ => {}
        }
    }
    for run in runs.iter().filter(|r| in_window(r.created_on as i64)) {
        worked.runs += 1;
        match run.phase {
            Phase::Completed(RunResult::Successful) => worked.successful_runs += 1,
            Phase::Completed(RunResult::Failed | RunResult::Error) => worked.failed_runs += 1,
            Phase::Completed(RunResult::Stopped | RunResult::Expired) => worked.stopped_runs += 1,
            _ => {}
        }
        if matches!(
            run.phase,
            Phase::Completed(RunResult::Successful | RunResult::Failed | RunResult::Error)
        ) {
            worked
                .durations
                .extend(run.duration_in_seconds().map(|s| s as f64));
        }
    }
    worked
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

fn p90(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let rank = (90 * values.len()).div_ceil(100);
    (rank > 0).then(|| values[rank - 1])
}

fn close(answer: &Value, want: Option<f64>, what: &str) {
    match want {
        None => assert!(answer.is_null(), "{what}: {answer} where none was expected"),
        Some(want) => {
            let got = answer
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: {answer}"));
            assert!((got - want).abs() < 1e-6, "{what}: {got} vs {want}");
        }
    }
}

fn check(figures: &Value, worked: &Worked, weeks: u32, what: &str) {
    let dora = &figures["dora"];
    assert_eq!(
        dora["deployments"],
        worked.deployments.len(),
        "{what} deployments"
    );
    close(
        &dora["deployments_per_week"],
        Some(worked.deployments.len() as f64 / f64::from(weeks)),
        &format!("{what} per week"),
    );
    assert_eq!(
        dora["failed_deployments"],
        worked.failed.len(),
        "{what} failed"
    );
    let completed = worked.deployments.len() + worked.failed.len();
    close(
        &dora["change_failure_rate"],
        (completed > 0).then(|| worked.failed.len() as f64 / completed as f64),
        &format!("{what} change failure rate"),
    );
    assert_eq!(
        dora["lead_time"]["count"],
        worked.lead_hours.len(),
        "{what} lead times"
    );
    close(
        &dora["lead_time"]["median_hours"],
        median(worked.lead_hours.clone()),
        &format!("{what} lead time"),
    );
    close(
        &dora["lead_time"]["p90_hours"],
        p90(worked.lead_hours.clone()),
        &format!("{what} lead time p90"),
    );
    assert_eq!(
        dora["changes_not_deployed"], worked.not_deployed,
        "{what} not deployed"
    );
    assert_eq!(
        dora["time_to_restore"]["count"],
        worked.restore_hours.len(),
        "{what} restores"
    );
    close(
        &dora["time_to_restore"]["median_hours"],
        median(worked.restore_hours.clone()),
        &format!("{what} time to restore"),
    );
    assert_eq!(
        dora["unrestored_failures"], worked.unrestored,
        "{what} unrestored"
    );

    let review = &figures["review"];
    assert_eq!(review["merged"], worked.merged, "{what} merged");
    close(
        &review["time_to_merge"]["median_hours"],
        median(worked.merge_hours.clone()),
        &format!("{what} time to merge"),
    );
    close(
        &review["time_to_first_review"]["median_hours"],
        median(worked.review_hours.clone()),
        &format!("{what} time to first review"),
    );
    assert_eq!(review["open"], worked.open, "{what} open");
    assert_eq!(
        review["waiting_for_review"], worked.waiting,
        "{what} waiting"
    );
    close(
        &review["oldest_waiting_hours"],
        worked.oldest_waiting,
        &format!("{what} oldest waiting"),
    );

    let pipelines = &figures["pipelines"];
    assert_eq!(pipelines["runs"], worked.runs, "{what} runs");
    assert_eq!(
        pipelines["successful"], worked.successful_runs,
        "{what} successful runs"
    );
    assert_eq!(
        pipelines["failed"], worked.failed_runs,
        "{what} failed runs"
    );
    assert_eq!(
        pipelines["stopped"], worked.stopped_runs,
        "{what} stopped runs"
    );
    let decided = worked.successful_runs + worked.failed_runs;
    close(
        &pipelines["success_rate"],
        (decided > 0).then(|| f64::from(worked.successful_runs) / f64::from(decided)),
        &format!("{what} success rate"),
    );
    close(
        &pipelines["duration_p50_seconds"],
        median(worked.durations.clone()),
        &format!("{what} p50"),
    );
    close(
        &pipelines["duration_p90_seconds"],
        p90(worked.durations.clone()),
        &format!("{what} p90"),
    );
}

fn pooled(all: Vec<Worked>) -> Worked {
    let mut pool = Worked::default();
    for w in all {
        pool.deployments.extend(w.deployments);
        pool.failed.extend(w.failed);
        pool.lead_hours.extend(w.lead_hours);
        pool.not_deployed += w.not_deployed;
        pool.restore_hours.extend(w.restore_hours);
        pool.unrestored += w.unrestored;
        pool.merged += w.merged;
        pool.merge_hours.extend(w.merge_hours);
        pool.review_hours.extend(w.review_hours);
        pool.runs += w.runs;
        pool.successful_runs += w.successful_runs;
        pool.failed_runs += w.failed_runs;
        pool.stopped_runs += w.stopped_runs;
        pool.durations.extend(w.durations);
        pool.open += w.open;
        pool.waiting += w.waiting;
        pool.oldest_waiting = match (pool.oldest_waiting, w.oldest_waiting) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    pool
}

async fn insights(env: &Env, params: Value) -> (Result<Value, Failure>, usize) {
    let before = env.fake.control().requests.len();
    let answer = env.exec("delivery-insights", params).await;
    let after = env.fake.control().requests.len();
    (answer, after - before)
}

fn band<'a>(report: &'a Value, slug: &str, measure: &str) -> &'a str {
    let repository = report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo_slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} counted"));
    repository["figures"]["dora"][measure]
        .as_str()
        .unwrap_or("none")
}

#[tokio::test]
async fn every_measure_matches_the_fakes_history_worked_out_from_its_records() {
    let env = env().await;
    let weeks = 16;
    let (answer, requests) = insights(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": HISTORIES, "weeks": weeks, "until": UNTIL, "max_requests": 1000 }),
    )
    .await;
    let report = answer.unwrap();
    let (start, end) = (SEED_NOW - i64::from(weeks) * WEEK, SEED_NOW);
    assert_eq!(report["window_start"], "2026-08-03T00:00:00Z");
    assert_eq!(report["window_end"], UNTIL);
    assert_eq!(report["partial"], false, "{}", report["left_out"]);
    assert_eq!(
        report["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );

    let world = env.fake.control();
    let mut all = Vec::new();
    for slug in HISTORIES {
        let worked = work_out(&world, slug, start, end);
        let repository = report["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo_slug"] == slug)
            .unwrap_or_else(|| panic!("{slug} counted"));
        assert_eq!(repository["deployment_source"], worked.source, "{slug}");
        check(&repository["figures"], &worked, weeks, slug);
        // The weekly series adds up to the window, week by week.
        let series = repository["figures"]["weeks"].as_array().unwrap();
        assert_eq!(series.len(), weeks as usize);
        for (i, week) in series.iter().enumerate() {
            let from = start + i as i64 * WEEK;
            let of_week = |times: &[i64]| {
                times
                    .iter()
                    .filter(|t| (from..from + WEEK).contains(*t))
                    .count()
            };
            assert_eq!(
                week["deployments"],
                of_week(&worked.deployments),
                "{slug} week {i}"
            );
            assert_eq!(
                week["failed_deployments"],
                of_week(&worked.failed),
                "{slug} week {i}"
            );
        }
        all.push(worked);
    }
    check(&report["rollup"], &pooled(all), weeks, "rollup");

    // The profiles the fake's history was written to show.
    assert_eq!(
        band(&report, "atom-core", "deployment_frequency_band"),
        "elite"
    );
    assert_eq!(band(&report, "web-console", "change_failure_band"), "low");
    let signals: Vec<(String, String)> = report["attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["repo_slug"].as_str().unwrap().to_owned(),
                a["signal"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        signals.contains(&("web-console".into(), "unrestored_failure".into())),
        "{signals:?}"
    );
    assert!(
        signals.contains(&("web-console".into(), "waiting_for_review".into())),
        "{signals:?}"
    );
    assert!(
        !signals.iter().any(|(slug, _)| slug == "atom-core"),
        "{signals:?}"
    );
}

/// A history small enough to work out on paper, in a repository that had
/// none: Production, three deployments and two merged pull requests.
#[tokio::test]
async fn a_history_made_by_hand_gives_the_figures_worked_out_by_hand() {
    let env = env().await;
    let h = 3_600u64;
    // Monday 2026-11-16T00:00:00Z, the last week of the window.
    let monday = (SEED_NOW - WEEK) as u64;
    {
        let mut world = env.fake.control();
        world.seed_environments_of("atom-labs/docs-site", 99_001);
        // (created, duration, result): success at 10:00, failure at 20:00
        // (created 19:50), success at 23:00 (created 22:50): restored in 3 h.
        for (n, (created, result)) in [
            (monday + 9 * h + 3_000, RunResult::Successful),
            (monday + 19 * h + 3_000, RunResult::Failed),
            (monday + 22 * h + 3_000, RunResult::Successful),
        ]
        .into_iter()
        .enumerate()
        {
            world.seed_deployment_run("atom-labs/docs-site", n as u64 + 1, created, 600, result);
        }
        let ada = world.user_named("ada").unwrap().uuid.clone();
        let grace = world.user_named("grace").unwrap().uuid.clone();
        // Opened 20 h before Monday, reviewed by Grace 2 h later, merged at
        // 05:00: the 10:00 deployment (started 09:50) carries it, 30 h after
        // it opened. The second merges at 21:00; the failure does not carry
        // it, the 23:00 success (started 22:50) does: 23 - 12 = 11 h.
        world.seed_merged_pull_request(
            "atom-labs/docs-site",
            &ada,
            &grace,
            monday - 20 * h,
            monday - 18 * h,
            monday + 5 * h,
        );
        world.seed_merged_pull_request(
            "atom-labs/docs-site",
            &grace,
            &ada,
            monday + 12 * h,
            monday + 13 * h,
            monday + 21 * h,
        );
    }
    let (answer, _) = insights(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["docs-site"], "weeks": 4, "until": UNTIL }),
    )
    .await;
    let report = answer.unwrap();
    let figures = &report["repositories"][0]["figures"];
    let dora = &figures["dora"];
    assert_eq!(
        report["repositories"][0]["deployment_source"],
        "production_environment"
    );
    assert_eq!(dora["deployments"], 2);
    assert_eq!(dora["deployments_per_week"], 0.5);
    assert_eq!(dora["deployment_frequency_band"], "medium");
    assert_eq!(dora["failed_deployments"], 1);
    close(
        &dora["change_failure_rate"],
        Some(1.0 / 3.0),
        "change failure rate",
    );
    assert_eq!(dora["change_failure_band"], "low");
    assert_eq!(dora["lead_time"]["count"], 2);
    assert_eq!(dora["lead_time"]["median_hours"], 20.5, "(30 + 11) / 2");
    assert_eq!(dora["lead_time"]["p90_hours"], 30.0);
    assert_eq!(dora["lead_time_band"], "elite");
    assert_eq!(dora["time_to_restore"]["median_hours"], 3.0);
    assert_eq!(dora["time_to_restore_band"], "high");
    assert_eq!(dora["unrestored_failures"], 0);
    assert_eq!(figures["review"]["merged"], 2);
    assert_eq!(
        figures["review"]["time_to_merge"]["median_hours"], 17.0,
        "(25 + 9) / 2"
    );
    assert_eq!(
        figures["review"]["time_to_first_review"]["median_hours"], 1.5,
        "(2 + 1) / 2"
    );
    let last_week = &figures["weeks"][3];
    assert_eq!(last_week["starts_on"], "2026-11-16T00:00:00Z");
    assert_eq!(last_week["deployments"], 2);
    assert_eq!(last_week["failed_deployments"], 1);
    assert_eq!(last_week["time_to_restore_median_hours"], 3.0);
    assert_eq!(figures["weeks"][0]["deployments"], 0);
    assert!(
        figures["weeks"][0]["lead_time_median_hours"].is_null(),
        "a week without a sample is a gap"
    );
}

#[tokio::test]
async fn a_large_workspace_is_answered_in_part_within_the_budget_and_says_so() {
    let env = env().await;
    let (answer, requests) = insights(
        &env,
        json!({ "workspace": "acme", "max_repositories": 50, "max_requests": 60, "until": UNTIL }),
    )
    .await;
    let report = answer.unwrap();
    assert!(requests <= 60, "{requests} requests against a budget of 60");
    assert_eq!(
        report["upstream_requests"].as_u64().unwrap() as usize,
        requests
    );
    assert_eq!(report["partial"], true);
    let in_workspace = env
        .fake
        .control()
        .repositories
        .iter()
        .filter(|r| r.workspace == "acme")
        .count();
    assert_eq!(report["repositories_in_workspace"], in_workspace);
    assert_eq!(report["not_sampled"], in_workspace - 50);
    let counted = report["repositories"].as_array().unwrap().len();
    let left_out = report["left_out"].as_array().unwrap();
    assert_eq!(
        counted + left_out.len(),
        50,
        "every sampled repository is counted or named"
    );
    assert!(
        counted >= 10,
        "the budget is spent on whole repositories: {counted}"
    );
    assert!(
        left_out.iter().all(|l| l["reason"] == "budget"),
        "{left_out:?}"
    );
    assert!(
        left_out[0]["detail"]
            .as_str()
            .unwrap()
            .contains("max_requests")
    );
}

#[tokio::test]
async fn a_repository_bitbucket_refuses_is_left_out_and_named_not_the_answer() {
    let env = env().await;
    env.fake.set_faults(FaultPlan::new(7).rule(FaultRule::route(
        "GET",
        "/2.0/repositories/atom-labs/web-console/pipelines",
        1.0,
        FaultKind::RateLimited,
    )));
    let (answer, _) = insights(
        &env,
        json!({ "workspace": "atom-labs", "repo_slugs": ["atom-core", "web-console", "no-such-repo"], "until": UNTIL }),
    )
    .await;
    let report = answer.unwrap();
    assert_eq!(report["partial"], true);
    let counted: Vec<&str> = report["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo_slug"].as_str().unwrap())
        .collect();
    assert_eq!(counted, ["atom-core"]);
    let left_out: Vec<(&str, &str)> = report["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["repo_slug"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        left_out,
        [
            ("no-such-repo", "not_found"),
            ("web-console", "rate_limited")
        ]
    );
}

#[tokio::test]
async fn out_of_range_params_are_refused_naming_the_field_before_any_request() {
    let env = env().await;
    for (params, field) in [
        (json!({ "workspace": "atom-labs", "weeks": 0 }), "weeks"),
        (json!({ "workspace": "atom-labs", "weeks": 27 }), "weeks"),
        (
            json!({ "workspace": "atom-labs", "until": "last tuesday" }),
            "until",
        ),
        (
            json!({ "workspace": "atom-labs", "max_requests": 5 }),
            "max_requests",
        ),
        (
            json!({ "workspace": "atom-labs", "max_repositories": 51 }),
            "max_repositories",
        ),
    ] {
        let (answer, requests) = insights(&env, params).await;
        match answer {
            Err(Failure::Integration(Error::Validation(v))) => assert_eq!(v.field, field),
            other => panic!("{field}: {other:?}"),
        }
        assert_eq!(requests, 0, "{field}");
    }
}
