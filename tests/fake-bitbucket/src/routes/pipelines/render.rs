//! The `pipeline` and `pipeline_step` definitions.

use serde_json::{Value, json};

use crate::clock::stamp;
use crate::render::{account, encode_braces, summary_named};
use crate::world::{Phase, Pipeline, RunResult, StepPhase, World};

fn state(phase: Phase) -> Value {
    match phase {
        Phase::Pending => json!({ "type": "pipeline_state_pending", "name": "PENDING" }),
        Phase::Running => json!({
            "type": "pipeline_state_in_progress",
            "name": "IN_PROGRESS",
            "stage": { "type": "pipeline_state_in_progress_running", "name": "RUNNING" }
        }),
        Phase::Completed(result) => {
            let name = result.as_str();
            let mut result_json = json!({
                "type": format!("pipeline_state_completed_{}", name.to_lowercase()),
                "name": name,
            });
            if result == RunResult::Error {
                result_json["error"] = json!({
                    "type": "pipeline_error",
                    "key": "agent.build.container-memory-limit-exceeded",
                    "message": "Container 'Build' exceeded memory limit."
                });
            }
            json!({ "type": "pipeline_state_completed", "name": "COMPLETED", "result": result_json })
        }
    }
}

/// The `pipeline` definition.
pub fn render(world: &World, p: &Pipeline) -> Value {
    let base = &world.base_url;
    let api = format!(
        "{base}/2.0/repositories/{}/pipelines/{}",
        p.repo,
        encode_braces(&p.uuid)
    );
    let commit = json!({
        "type": "commit",
        "hash": p.target.commit,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{}/commit/{}", p.repo, p.target.commit) },
            "html": { "href": format!("{base}/{}/commits/{}", p.repo, p.target.commit) }
        }
    });
    let mut target = match (&p.target.ref_type, &p.target.ref_name) {
        (Some(ref_type), Some(ref_name)) => json!({
            "type": "pipeline_ref_target",
            "ref_type": ref_type,
            "ref_name": ref_name,
            "commit": commit,
        }),
        _ => json!({ "type": "pipeline_commit_target", "commit": commit }),
    };
    if let Some((kind, pattern)) = &p.target.selector {
        target["selector"] = json!({ "type": kind });
        if !pattern.is_empty() {
            target["selector"]["pattern"] = json!(pattern);
        }
    }
    let trigger = json!({
        "type": format!("pipeline_trigger_{}", p.trigger.as_str().to_lowercase()),
        "name": p.trigger.as_str(),
    });
    let mut run = json!({
        "type": "pipeline",
        "uuid": p.uuid,
        "build_number": p.build_number,
        "run_number": 1,
        "repository": summary_named(world, &p.repo),
        "target": target,
        "trigger": trigger,
        "state": state(p.phase),
        // Live list and get answers carry `has_variables`, never the
        // variables themselves (API-NOTES §8b). Neither API-NOTES nor the
        // spec says the trigger's 201 differs, so it has no list either.
        "has_variables": !p.variables.is_empty(),
        "created_on": stamp(p.created_on),
        "expired": false,
        "configuration_sources": [{
            "source": "bitbucket-pipelines.yml",
            "uri": format!("{base}/2.0/repositories/{}/src/{}/bitbucket-pipelines.yml", p.repo, p.target.commit)
        }],
        // `pipelines_pipeline_links` and its hrefs extend `object`: they carry `type`.
        "links": {
            "type": "pipelines_pipeline_links",
            "self": { "type": "pipelines_links_section_href", "href": api },
            "steps": { "type": "pipelines_links_section_href", "href": format!("{api}/steps") },
            "html": { "href": format!("{base}/{}/pipelines/results/{}", p.repo, p.build_number) }
        }
    });
    // A run nobody started (a push) has no creator: absent, as the spec has it.
    if let Some(creator) = p.creator.as_deref() {
        run["creator"] = account(world, creator);
    }
    if let (Some(completed_on), Some(duration)) = (p.completed_on, p.duration_in_seconds()) {
        run["completed_on"] = json!(stamp(completed_on));
        run["build_seconds_used"] = json!(duration);
        run["duration_in_seconds"] = json!(duration);
    }
    run
}

/// The `pipeline_step` definition.
pub fn render_step(world: &World, p: &Pipeline, index: usize) -> Value {
    let step = &p.steps[index];
    let state = match p.step_phase(index) {
        StepPhase::Pending => json!({ "type": "pipeline_step_state_pending", "name": "PENDING" }),
        StepPhase::Running => {
            json!({ "type": "pipeline_step_state_in_progress", "name": "IN_PROGRESS" })
        }
        StepPhase::Completed(result) => json!({
            "type": "pipeline_step_state_completed",
            "name": "COMPLETED",
            "result": {
                "type": format!("pipeline_step_state_completed_{}", result.as_str().to_lowercase()),
                "name": result.as_str(),
            }
        }),
    };
    let base = &world.base_url;
    let api = format!(
        "{base}/2.0/repositories/{}/pipelines/{}/steps/{}",
        p.repo,
        encode_braces(&p.uuid),
        encode_braces(&step.uuid)
    );
    let mut answer = json!({
        "type": "pipeline_step",
        "uuid": step.uuid,
        "name": step.name,
        "run_number": 1,
        "pipeline": { "type": "pipeline_ref", "uuid": p.uuid },
        "state": state,
        "image": { "name": step.image },
        "max_time": 120,
        "trigger": { "type": "pipeline_step_trigger_automatic" },
        "setup_commands": [
            { "name": "Clone", "command": "git clone --depth 50 $BITBUCKET_GIT_HTTP_ORIGIN $BITBUCKET_CLONE_DIR" }
        ],
        "script_commands": step.script.iter().map(|c| json!({ "name": c, "command": c })).collect::<Vec<_>>(),
        "links": {
            "self": { "href": api },
            "log": { "href": format!("{api}/log") }
        }
    });
    let (started, completed) = p.step_times(index);
    if let Some(started) = started {
        answer["started_on"] = json!(stamp(started));
    }
    if let (Some(started), Some(completed)) = (started, completed) {
        answer["completed_on"] = json!(stamp(completed));
        answer["duration_in_seconds"] = json!(completed - started);
        answer["build_seconds_used"] = json!(completed - started);
    }
    answer
}
