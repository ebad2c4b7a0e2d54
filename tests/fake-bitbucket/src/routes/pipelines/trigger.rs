//! `POST R/pipelines`: a run on a branch or a commit, with a selector and
//! variables, that starts PENDING.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::render;
use crate::routes::{created, json_body, open_repository, require_write};
use crate::world::{Phase, Pipeline, PipelineTarget, Resolved, Trigger, Variable, World};
use crate::{Shared, errors, lock};

pub async fn trigger(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let target = target(&world, &full_name, &body["target"])?;
    let variables = variables(&mut world, &body["variables"])?;
    let build_number = world
        .pipelines
        .iter()
        .filter(|p| p.repo == full_name)
        .map(|p| p.build_number)
        .max()
        .unwrap_or(0)
        + 1;
    let uuid = world.fresh_uuid();
    let steps = world.standard_steps(&repository);
    let now = world.now();
    let pipeline = Pipeline {
        repo: full_name,
        uuid,
        build_number,
        creator: Some(user),
        target,
        trigger: Trigger::Manual,
        phase: Phase::Pending,
        outcome: world.pipeline_result,
        variables,
        created_on: now,
        duration: 94 + build_number % 7 * 13,
        completed_on: None,
        stopped_in_step: None,
        steps,
        views: 0,
    };
    let answer = render(&world, &pipeline);
    world.pipelines.push(pipeline);
    // A `deploy-<env>` custom run deploys to that environment.
    let index = world.pipelines.len() - 1;
    world.record_deployment(index, None);
    Ok(created(answer))
}

fn target(world: &World, repo: &str, target: &Value) -> Result<PipelineTarget, Response> {
    let commit_hash = |required: bool| -> Result<Option<String>, Response> {
        match target["commit"]["hash"].as_str() {
            None if required => Err(errors::field_error("target", "commit.hash is required.")),
            None => Ok(None),
            Some(hash) => match world.resolve_hash(repo, hash) {
                Resolved::Found(full) => Ok(Some(full)),
                _ => Err(bad_request(&format!("Commit {hash} does not exist."))),
            },
        }
    };
    let selector = match &target["selector"] {
        Value::Null => None,
        selector => {
            let kind = selector["type"].as_str().unwrap_or_default().to_owned();
            let pattern = selector["pattern"].as_str().unwrap_or_default().to_owned();
            match kind.as_str() {
                "custom" => {
                    let defined = world
                        .custom_pipelines
                        .get(repo)
                        .is_some_and(|names| names.contains(&pattern));
                    if !defined {
                        return Err(bad_request(&format!(
                            "Could not find a custom pipeline named '{pattern}' in bitbucket-pipelines.yml."
                        )));
                    }
                }
                "branches" | "tags" | "default" | "pull-requests" => {}
                other => {
                    return Err(errors::field_error(
                        "target",
                        &format!("Unknown selector type: {other}"),
                    ));
                }
            }
            Some((kind, pattern))
        }
    };
    match target["type"].as_str() {
        Some("pipeline_ref_target") => {
            let ref_type = target["ref_type"].as_str().unwrap_or("branch").to_owned();
            let ref_name = target["ref_name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| errors::field_error("target", "ref_name is required."))?;
            if ref_type != "branch" && ref_type != "named_branch" {
                return Err(bad_request(&format!(
                    "No {ref_type} named '{ref_name}' exists."
                )));
            }
            let head = world
                .branch_in(repo, ref_name)
                .map(|b| b.target.clone())
                .ok_or_else(|| bad_request(&format!("Branch '{ref_name}' does not exist.")))?;
            let selector = selector.or_else(|| {
                Some(
                    if world
                        .repository_named(repo)
                        .is_some_and(|r| r.main_branch == ref_name)
                    {
                        ("branches".to_owned(), ref_name.to_owned())
                    } else {
                        ("default".to_owned(), String::new())
                    },
                )
            });
            Ok(PipelineTarget {
                ref_type: Some("branch".into()),
                ref_name: Some(ref_name.to_owned()),
                commit: commit_hash(false)?.unwrap_or(head),
                selector,
            })
        }
        Some("pipeline_commit_target") => Ok(PipelineTarget {
            ref_type: None,
            ref_name: None,
            commit: commit_hash(true)?.unwrap_or_default(),
            selector,
        }),
        Some(other) => Err(errors::field_error(
            "target",
            &format!("Unsupported target type: {other}"),
        )),
        None => Err(errors::field_error("target", "This field is required.")),
    }
}

fn variables(world: &mut World, list: &Value) -> Result<Vec<Variable>, Response> {
    let Some(list) = list.as_array() else {
        return match list {
            Value::Null => Ok(Vec::new()),
            _ => Err(errors::field_error("variables", "Expected a list.")),
        };
    };
    list.iter()
        .map(|v| {
            let key = v["key"]
                .as_str()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| errors::field_error("variables", "Every variable needs a key."))?;
            Ok(Variable {
                uuid: world.fresh_uuid(),
                key: key.to_owned(),
                value: v["value"].as_str().unwrap_or_default().to_owned(),
                secured: v["secured"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// Pipelines' 400s carry a `detail` besides the message.
pub(super) fn bad_request(detail: &str) -> Response {
    errors::error_body(
        400,
        json!({ "type": "error", "error": { "message": "Bad request", "detail": detail } }),
    )
}
