//! Completed pipeline runs: 30 on atom-labs/bitbucket-plugin, 6 on
//! acme/api-service-00, over the last two weeks, plus the custom pipelines
//! each repository's bitbucket-pipelines.yml defines.

use crate::clock::{HOUR, SEED_NOW};
use crate::world::{Phase, Pipeline, PipelineTarget, RunResult, Trigger, World};

/// The custom pipelines of both rich repositories.
pub const CUSTOM: [&str; 3] = ["deploy-staging", "deploy-production", "nightly"];

/// Outcome of run n (1-based) on bitbucket-plugin: S successful, F failed,
/// E error, X stopped. 18 S, 6 F, 2 E, 4 X.
const PLUGIN_RESULTS: &str = "SSFSSSXSSFSESSSFSSXSSSFSXEFSFX";
/// On api-service-00: 4 S, 1 F, 1 X.
const SERVICE_RESULTS: &str = "SSFSXS";

const PUSH_BRANCHES: [&str; 7] = [
    "main",
    "develop",
    "feature/login",
    "main",
    "feature/search-v2",
    "main",
    "release/2026.11",
];

pub fn seed(world: &mut World) {
    for repo in super::git::RICH {
        world
            .custom_pipelines
            .insert(repo.to_owned(), CUSTOM.map(str::to_owned).to_vec());
    }
    runs(world, "atom-labs/bitbucket-plugin", PLUGIN_RESULTS, 11);
    runs(world, "acme/api-service-00", SERVICE_RESULTS, 20);
}

/// What triggered run n, on which branch, with which custom pipeline.
fn plan(n: u64) -> (Trigger, &'static str, Option<&'static str>) {
    if n.is_multiple_of(10) {
        (Trigger::Schedule, "main", Some("nightly"))
    } else if n.is_multiple_of(6) {
        let custom = if n.is_multiple_of(12) {
            "deploy-production"
        } else {
            "deploy-staging"
        };
        (Trigger::Manual, "main", Some(custom))
    } else if n == 27 || n == 3 {
        (Trigger::Manual, "release/2026.11", None)
    } else {
        (Trigger::Push, PUSH_BRANCHES[(n % 7) as usize], None)
    }
}

fn runs(world: &mut World, repo: &str, results: &str, hours_apart: u64) {
    let Some(repository) = world.repository_named(repo).cloned() else {
        return;
    };
    let ada = crate::world::uuid(1);
    let grace = crate::world::uuid(2);
    let count = results.len() as u64;
    // Runs on main built main's history in order, ending at its head.
    let main_history: Vec<String> = {
        let mut history = Vec::new();
        let mut at = world.branch_in(repo, "main").map(|b| b.target.clone());
        while let Some(hash) = at {
            at = world
                .commit_in(repo, &hash)
                .and_then(|c| c.parents.first().cloned());
            history.push(hash);
        }
        history
    };
    for (i, code) in results.chars().enumerate() {
        let n = i as u64 + 1;
        let (trigger, branch, custom) = plan(n);
        let outcome = match code {
            'F' => RunResult::Failed,
            'E' => RunResult::Error,
            'X' => RunResult::Stopped,
            _ => RunResult::Successful,
        };
        let commit = if branch == "main" {
            main_history
                .get((count - n) as usize)
                .cloned()
                .unwrap_or_default()
        } else {
            world
                .branch_in(repo, branch)
                .map(|b| b.target.clone())
                .unwrap_or_default()
        };
        let creator = match trigger {
            Trigger::Schedule => None,
            Trigger::Manual => Some(ada.clone()),
            Trigger::Push => Some(if n % 2 == 1 {
                ada.clone()
            } else {
                grace.clone()
            }),
        };
        let selector = match custom {
            Some(pattern) => ("custom".to_owned(), pattern.to_owned()),
            None if branch == "main" => ("branches".to_owned(), "main".to_owned()),
            None => ("default".to_owned(), String::new()),
        };
        let created_on = SEED_NOW - (count + 1 - n) * hours_apart * HOUR + (n * 137) % 1_800;
        let duration = 70 + (n * 37) % 400;
        let uuid = crate::world::uuid(50_000 + world.pipelines.len() as u64);
        let steps = world.standard_steps(&repository);
        world.pipelines.push(Pipeline {
            repo: repo.to_owned(),
            uuid,
            build_number: n,
            creator,
            target: PipelineTarget {
                ref_type: Some("branch".into()),
                ref_name: Some(branch.to_owned()),
                commit,
                selector: Some(selector),
            },
            trigger,
            phase: Phase::Completed(outcome),
            outcome,
            variables: Vec::new(),
            created_on,
            duration,
            completed_on: Some(created_on + duration),
            stopped_in_step: (outcome == RunResult::Stopped).then_some(1),
            steps,
            views: 0,
        });
    }
}
