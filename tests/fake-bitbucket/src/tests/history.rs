//! The sixteen weeks of delivery history (`fixtures/history.rs`): the same
//! on every call, dated before `SEED_NOW`, each repository true to its
//! profile, and rendered within the spec. The helpers here show how a test
//! computes the insights' expected figures from the world.

use serde_json::Value;

use super::{Api, values};
use crate::clock::{DAY, HOUR, SEED_NOW};
use crate::fixtures::{HISTORY, HISTORY_START, HISTORY_WEEKS, world};
use crate::world::{
    DeploymentState, DeploymentStatus, Phase, Pipeline, PrState, PullRequest, RunResult, World,
};

/// A repository's completed production deployments, oldest first:
/// (when its run started, whether it succeeded). Stopped ones are left out.
fn production(world: &World, repo: &str) -> Vec<(u64, bool)> {
    let Some(environment) = world.environment_named(repo, "Production") else {
        return Vec::new();
    };
    let mut deployments: Vec<(u64, bool)> = world
        .deployments
        .iter()
        .filter(|d| d.repo == repo && d.environment == environment.uuid)
        .filter_map(|d| {
            let run = world.pipeline(&d.pipeline)?;
            match DeploymentState::of(run) {
                DeploymentState::Completed(DeploymentStatus::Successful) => {
                    Some((run.created_on, true))
                }
                DeploymentState::Completed(DeploymentStatus::Failed) => {
                    Some((run.created_on, false))
                }
                _ => None,
            }
        })
        .collect();
    deployments.sort_unstable();
    deployments
}

/// (failed, successful) production deployments.
fn failures(deployments: &[(u64, bool)]) -> (usize, usize) {
    let failed = deployments.iter().filter(|d| !d.1).count();
    (failed, deployments.len() - failed)
}

/// Time to restore of each run of failures (from its first failure to the
/// next success), and how many runs of failures nothing restored.
fn restores(deployments: &[(u64, bool)]) -> (Vec<u64>, usize) {
    let (mut times, mut unrestored, mut failing_since) = (Vec::new(), 0, None);
    for &(at, ok) in deployments {
        match (ok, failing_since) {
            (false, None) => failing_since = Some(at),
            (true, Some(since)) => {
                times.push(at - since);
                failing_since = None;
            }
            _ => {}
        }
    }
    if failing_since.is_some() {
        unrestored += 1;
    }
    (times, unrestored)
}

fn prs<'w>(world: &'w World, repo: &str) -> Vec<&'w PullRequest> {
    world
        .pull_requests
        .iter()
        .filter(|p| p.repo == repo)
        .collect()
}

/// Lead time for changes of each merged pull request that a successful
/// production deployment carried: its creation to the first successful
/// deployment started after its merge (`updated_on`).
fn lead_times(world: &World, repo: &str) -> Vec<u64> {
    let deployed = production(world, repo);
    prs(world, repo)
        .into_iter()
        .filter(|p| p.state == PrState::Merged)
        .filter_map(|p| {
            deployed
                .iter()
                .find(|(at, ok)| *ok && *at > p.updated_on)
                .map(|(at, _)| at - p.created_on)
        })
        .collect()
}

fn median(mut samples: Vec<u64>) -> u64 {
    assert!(!samples.is_empty());
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn runs<'w>(world: &'w World, repo: &str) -> Vec<&'w Pipeline> {
    world.pipelines.iter().filter(|p| p.repo == repo).collect()
}

/// successful / (successful + failed or errored) of push runs.
fn push_success_rate(world: &World, repo: &str) -> f64 {
    let pushes: Vec<RunResult> = runs(world, repo)
        .iter()
        .filter(|p| p.target.selector.as_ref().is_some_and(|s| s.0 != "custom"))
        .filter_map(|p| match p.phase {
            Phase::Completed(r) => Some(r),
            _ => None,
        })
        .collect();
    let ok = pushes
        .iter()
        .filter(|r| **r == RunResult::Successful)
        .count();
    let failed = pushes
        .iter()
        .filter(|r| matches!(r, RunResult::Failed | RunResult::Error))
        .count();
    ok as f64 / (ok + failed) as f64
}

#[test]
fn two_worlds_hold_the_same_history() {
    let (a, b) = (world(), world());
    for repo in HISTORY {
        let show = |w: &World| {
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}",
                runs(w, repo),
                prs(w, repo),
                w.deployments_of(repo),
                w.environments_of(repo)
            )
        };
        assert_eq!(show(&a), show(&b), "{repo}");
    }
}

#[test]
fn every_timestamp_is_within_the_sixteen_weeks() {
    let world = world();
    assert_eq!(HISTORY_START + HISTORY_WEEKS * 7 * DAY, SEED_NOW);
    for repo in HISTORY {
        let runs = runs(&world, repo);
        assert!(runs.len() > 100, "{repo}: {}", runs.len());
        for (run, n) in runs.iter().zip(1..) {
            assert_eq!(run.build_number, n, "{repo}: numbered in creation order");
            assert!(run.created_on >= HISTORY_START);
            assert!(run.completed_on.unwrap() < SEED_NOW, "{repo} #{n}");
            assert!(matches!(run.phase, Phase::Completed(_)));
        }
        assert!(
            runs.windows(2).all(|w| w[0].created_on < w[1].created_on),
            "{repo}: no two runs start in the same second"
        );
        for pr in prs(&world, repo) {
            assert!(pr.created_on >= HISTORY_START);
            assert!(pr.updated_on < SEED_NOW, "{repo} #{}", pr.id);
            for p in &pr.participants {
                assert_ne!(p.user, pr.author, "{repo} #{}: no self-review", pr.id);
                if let Some(on) = p.participated_on {
                    assert!(
                        pr.created_on < on && on <= pr.updated_on,
                        "{repo} #{}",
                        pr.id
                    );
                }
            }
            if pr.state == PrState::Merged {
                assert!(pr.merge_commit.is_some() && pr.closed_by.is_some());
            }
        }
    }
}

#[test]
fn the_counts_are_as_documented() {
    let world = world();
    let counts: Vec<(usize, usize, usize, usize, usize, usize, usize)> = HISTORY
        .iter()
        .map(|repo| {
            let (failed, successful) = failures(&production(&world, repo));
            let prs = prs(&world, repo);
            let state = |s: PrState| prs.iter().filter(|p| p.state == s).count();
            (
                runs(&world, repo).len(),
                world.deployments_of(repo).len(),
                successful,
                failed,
                state(PrState::Merged),
                state(PrState::Declined),
                state(PrState::Open),
            )
        })
        .collect();
    // (runs, deployments, successful and failed production deployments,
    // merged, declined and open pull requests)
    assert_eq!(
        counts,
        [
            (737, 273, 135, 3, 148, 9, 2),
            (290, 87, 42, 3, 63, 1, 2),
            (153, 26, 12, 2, 38, 2, 3),
            (142, 24, 8, 7, 24, 6, 3),
            (159, 0, 0, 0, 39, 6, 2),
        ]
    );
}

#[test]
fn atom_core_is_elite() {
    let world = world();
    let repo = "atom-labs/atom-core";
    let deployments = production(&world, repo);
    let (failed, successful) = failures(&deployments);
    assert!(successful as u64 >= 7 * HISTORY_WEEKS, "{successful}");
    assert!(
        failed >= 1 && failed * 100 <= 5 * (failed + successful),
        "{failed}"
    );
    let (times, unrestored) = restores(&deployments);
    assert_eq!(unrestored, 0);
    assert!(times.iter().all(|t| *t <= HOUR), "{times:?}");
    assert!(median(lead_times(&world, repo)) < DAY);
}

#[test]
fn agent_runtime_is_high() {
    let world = world();
    let repo = "atom-labs/agent-runtime";
    let deployments = production(&world, repo);
    let (failed, successful) = failures(&deployments);
    let per_week = successful as f64 / HISTORY_WEEKS as f64;
    assert!((2.0..=4.5).contains(&per_week), "{per_week}");
    let rate = failed as f64 / (failed + successful) as f64;
    assert!((0.03..=0.15).contains(&rate), "{rate}");
    let (times, unrestored) = restores(&deployments);
    assert_eq!(unrestored, 0);
    assert!(times.iter().all(|t| *t <= 12 * HOUR), "{times:?}");
    let lead = median(lead_times(&world, repo));
    assert!((DAY..=5 * DAY).contains(&lead), "{lead}");
}

#[test]
fn policy_engine_is_medium() {
    let world = world();
    let repo = "atom-labs/policy-engine";
    let deployments = production(&world, repo);
    let (failed, successful) = failures(&deployments);
    let per_week = successful as f64 / HISTORY_WEEKS as f64;
    assert!((0.5..=1.5).contains(&per_week), "{per_week}");
    let rate = failed as f64 / (failed + successful) as f64;
    assert!((0.08..=0.3).contains(&rate), "{rate}");
    let (times, unrestored) = restores(&deployments);
    assert_eq!(unrestored, 0);
    assert!(!times.is_empty());
    assert!(
        times.iter().all(|t| (DAY..=3 * DAY).contains(t)),
        "{times:?}"
    );
    let lead = median(lead_times(&world, repo));
    assert!((7 * DAY..=21 * DAY).contains(&lead), "{lead}");
    assert!(
        prs(&world, repo)
            .iter()
            .any(|p| p.state == PrState::Open && p.participants.iter().all(|p| p.state.is_none()))
    );
}

#[test]
fn web_console_is_low() {
    let world = world();
    let repo = "atom-labs/web-console";
    let deployments = production(&world, repo);
    let (failed, successful) = failures(&deployments);
    let rate = failed as f64 / (failed + successful) as f64;
    assert!(rate >= 0.3, "{rate}");
    let (times, unrestored) = restores(&deployments);
    assert_eq!(unrestored, 1);
    assert!(times.iter().all(|t| *t >= DAY), "{times:?}");
    let last = deployments.last().unwrap();
    assert!(!last.1 && last.0 >= SEED_NOW - 14 * DAY, "{last:?}");
    assert!(push_success_rate(&world, repo) < 0.8);
    assert!(prs(&world, repo).iter().any(|p| p.state == PrState::Open
        && p.created_on < SEED_NOW - 3 * DAY
        && p.participants.iter().all(|p| p.state.is_none())));
    let reviews: Vec<u64> = prs(&world, repo)
        .iter()
        .filter(|p| p.state == PrState::Merged)
        .map(|p| p.participants[0].participated_on.unwrap() - p.created_on)
        .collect();
    assert!(median(reviews) >= 2 * DAY);
}

#[test]
fn infra_live_counts_runs_on_main() {
    let world = world();
    let repo = "atom-labs/infra-live";
    assert!(world.environments_of(repo).is_empty());
    assert!(world.deployments_of(repo).is_empty());
    let main: Vec<RunResult> = runs(&world, repo)
        .iter()
        .filter(|p| p.target.ref_name.as_deref() == Some("main"))
        .filter_map(|p| match p.phase {
            Phase::Completed(r) => Some(r),
            _ => None,
        })
        .collect();
    assert!(main.len() >= 40, "{}", main.len());
    assert!(main.contains(&RunResult::Successful) && main.contains(&RunResult::Failed));
    assert!(
        runs(&world, repo)
            .iter()
            .any(|p| p.target.ref_name.as_deref() != Some("main"))
    );
    let merged = prs(&world, repo)
        .iter()
        .filter(|p| p.state == PrState::Merged)
        .count();
    assert!(merged >= 20, "{merged}");
}

/// Every page of a listing, as served.
async fn all_pages(api: &Api, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(url) = next {
        let page = api.get(&url).await.json();
        items.extend(values(&page));
        next = page["next"].as_str().map(str::to_owned);
    }
    items
}

#[tokio::test]
async fn the_history_renders_within_the_spec() {
    let api = Api::start().await;
    for repo in HISTORY {
        let base = format!("/2.0/repositories/{repo}");
        let runs = all_pages(&api, &format!("{base}/pipelines?pagelen=100")).await;
        assert_eq!(runs.len(), self::runs(&api.fake.control(), repo).len());
        let deployments = all_pages(&api, &format!("{base}/deployments?pagelen=100")).await;
        assert_eq!(
            deployments.len(),
            api.fake.control().deployments_of(repo).len()
        );
        all_pages(&api, &format!("{base}/environments")).await;
        let prs = all_pages(
            &api,
            &format!("{base}/pullrequests?state=OPEN&state=MERGED&state=DECLINED&pagelen=50"),
        )
        .await;
        assert_eq!(prs.len(), self::prs(&api.fake.control(), repo).len());
        let run = runs.last().unwrap()["uuid"].as_str().unwrap().to_owned();
        let run = run.replace('{', "%7B").replace('}', "%7D");
        api.get(&format!("{base}/pipelines/{run}")).await;
        api.get(&format!("{base}/pipelines/{run}/steps")).await;
        api.get(&format!("{base}/pullrequests/1")).await;
    }
    let violations = api.fake.take_violations();
    assert!(violations.is_empty(), "{violations:?}");
}
