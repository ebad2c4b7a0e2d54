//! `R/pipelines[/{uuid}[/steps[/{step}]|/stopPipeline]]`: Bitbucket's own
//! filters (not BBQL), triggering, stopping, and runs that move on each
//! time they are looked at; `variables` serves `R/pipelines_config/variables`.

mod render;
mod trigger;
mod variables;

pub use render::{render, render_step};
use trigger::bad_request;
pub use trigger::trigger;
pub use variables::{
    create_variable, delete_variable, get_variable, list_variables, update_variable,
};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{no_content, open_repository, param, params, query_pairs, require_write};
use crate::pages::{self, PageParams};
use crate::render::encode_braces;
use crate::world::{Phase, Pipeline, Repository, RunResult, World, braced};
use crate::{Shared, errors, lock};

/// `status` values the list accepts, and the runs each selects.
const STATUSES: [&str; 10] = [
    "PARSING", "PENDING", "PAUSED", "HALTED", "BUILDING", "ERROR", "PASSED", "FAILED", "STOPPED",
    "UNKNOWN",
];
const SORTS: [&str; 3] = ["created_on", "creator.uuid", "run_creation_date"];

fn status_matches(status: &str, phase: Phase) -> bool {
    matches!(
        (status, phase),
        ("PENDING", Phase::Pending)
            | ("BUILDING", Phase::Running)
            | ("PASSED", Phase::Completed(RunResult::Successful))
            | ("FAILED", Phase::Completed(RunResult::Failed))
            | ("ERROR", Phase::Completed(RunResult::Error))
            | ("STOPPED", Phase::Completed(RunResult::Stopped))
    )
}

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    let statuses: Vec<String> = params(&query, "status")
        .iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    if let Some(bad) = statuses.iter().find(|s| !STATUSES.contains(&s.as_str())) {
        return Err(errors::error(400, &format!("Invalid status: {bad}")));
    }
    let eq = |key: &str, actual: Option<&str>| {
        param(&query, key)
            .is_none_or(|wanted| actual.is_some_and(|a| a.eq_ignore_ascii_case(wanted)))
    };
    let mut runs: Vec<&Pipeline> = world
        .pipelines
        .iter()
        .filter(|p| p.repo == full_name)
        .filter(|p| statuses.is_empty() || statuses.iter().any(|s| status_matches(s, p.phase)))
        .filter(|p| {
            let branch = (p.target.ref_type.as_deref() == Some("branch"))
                .then_some(p.target.ref_name.as_deref())
                .flatten();
            let selector_type = p.target.selector.as_ref().map(|s| selector_kind(&s.0));
            eq("target.branch", branch)
                && eq("target.ref_name", p.target.ref_name.as_deref())
                && eq("target.ref_type", p.target.ref_type.as_deref())
                && eq("target.commit.hash", Some(&p.target.commit))
                && eq("target.selector.type", selector_type)
                && eq(
                    "target.selector.pattern",
                    p.target.selector.as_ref().map(|s| s.1.as_str()),
                )
                && eq("creator.uuid", p.creator.as_deref())
                && eq("trigger_type", Some(p.trigger.filter_name()))
        })
        .collect();
    // Oldest first unless sorted, as Bitbucket does (clients add sort=-created_on).
    let sort = param(&query, "sort").unwrap_or("created_on");
    let (descending, field) = match sort.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, sort),
    };
    if !SORTS.contains(&field) {
        return Err(errors::error(400, &format!("Invalid sort field: {field}")));
    }
    runs.sort_by(|a, b| {
        let order = match field {
            "creator.uuid" => a.creator.cmp(&b.creator),
            _ => (a.created_on, a.build_number).cmp(&(b.created_on, b.build_number)),
        };
        if descending { order.reverse() } else { order }
    });
    let items: Vec<Value> = runs.iter().map(|p| render(&world, p)).collect();
    let url = format!("{}/2.0/repositories/{full_name}/pipelines", world.base_url);
    let mut body = pages::page(items, &page_params, &url, &query);
    if world.omit_pipeline_next
        && let Some(object) = body.as_object_mut()
    {
        object.remove("next");
    }
    Ok(Json(body).into_response())
}

/// `BRANCH`, `CUSTOM`… as the list filter names selector types.
fn selector_kind(kind: &str) -> &str {
    match kind {
        "branches" => "BRANCH",
        "tags" => "TAG",
        "custom" => "CUSTOM",
        "pull-requests" => "PULLREQUESTS",
        "default" => "DEFAULT",
        other => other,
    }
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &uuid)?;
    let polls = world.pipeline_running_polls;
    world.pipelines[at].observe(polls);
    Ok(Json(render(&world, &world.pipelines[at])).into_response())
}

pub async fn stop(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &uuid)?;
    let now = world.now();
    if !world.pipelines[at].stop(now) {
        return Err(bad_request("The pipeline has already completed."));
    }
    Ok(no_content())
}

pub async fn steps(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &uuid)?;
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let polls = world.pipeline_running_polls;
    world.pipelines[at].observe(polls);
    let run = &world.pipelines[at];
    let items: Vec<Value> = (0..run.steps.len())
        .map(|i| render_step(&world, run, i))
        .collect();
    let url = format!(
        "{}/2.0/repositories/{}/pipelines/{}/steps",
        world.base_url,
        run.repo,
        encode_braces(&run.uuid)
    );
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

pub async fn step(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid, step)): Path<(String, String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &uuid)?;
    let index = find_step(&world.pipelines[at], &step)?;
    let polls = world.pipeline_running_polls;
    world.pipelines[at].observe(polls);
    Ok(Json(render_step(&world, &world.pipelines[at], index)).into_response())
}

/// The index of the run `uuid` names in `repository`, or 404.
pub(crate) fn find(world: &World, repository: &Repository, uuid: &str) -> Result<usize, Response> {
    let full_name = repository.full_name();
    let uuid = braced(uuid);
    world
        .pipelines
        .iter()
        .position(|p| p.repo == full_name && p.uuid == uuid)
        .ok_or_else(|| {
            errors::error_body(
                404,
                json!({ "type": "error", "error": {
                    "message": "Not found",
                    "detail": format!("Pipeline {uuid} not found.")
                } }),
            )
        })
}

pub(crate) fn find_step(run: &Pipeline, uuid: &str) -> Result<usize, Response> {
    let uuid = braced(uuid);
    run.steps
        .iter()
        .position(|s| s.uuid == uuid)
        .ok_or_else(|| {
            errors::error_body(
                404,
                json!({ "type": "error", "error": {
                "message": "Not found",
                "detail": format!("Step {uuid} not found.")
            } }),
            )
        })
}
