//! `R/environments[/{environment_uuid}]` and `R/deployments[/{deployment_uuid}]`:
//! a repository's deployment environments, and the deployments its
//! `deploy-<env>` pipeline runs made, whose state is their run's.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{open_repository, query_pairs};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::account;
use crate::world::{Deployment, DeploymentState, Environment, World, braced};
use crate::{Shared, errors, lock};

/// The `deployment_environment` definition, with what live answers besides
/// the spec's `uuid` and `name` (the definition is open).
pub fn render_environment(e: &Environment) -> Value {
    json!({
        "type": "deployment_environment",
        "uuid": e.uuid,
        "name": e.name,
        "slug": e.slug,
        "rank": e.rank,
        "hidden": e.hidden,
        "environment_type": {
            "type": "deployment_environment_type",
            "name": e.kind,
            "rank": e.rank,
        },
        "lock": { "type": "deployment_environment_lock_open", "name": "OPEN" },
        "restrictions": { "type": "deployment_restrictions_configuration", "admin_only": false },
    })
}

/// The `deployment` definition. Its environment carries only the uuid, as
/// live does; the release is the run that deployed (its uuid, build number
/// as name, commit and link), with the run as `pipeline`.
pub fn render_deployment(world: &World, d: &Deployment) -> Value {
    let base = &world.base_url;
    let Some(run) = world.pipeline(&d.pipeline) else {
        return json!({ "type": "deployment", "uuid": d.uuid });
    };
    let run_url = format!("{base}/{}/pipelines/results/{}", run.repo, run.build_number);
    let commit = &run.target.commit;
    let started = stamp(run.created_on);
    let mut state = match DeploymentState::of(run) {
        DeploymentState::InProgress => json!({
            "type": "deployment_state_in_progress",
            "name": "IN_PROGRESS",
            "url": run_url,
            "start_date": started,
        }),
        DeploymentState::Completed(status) => {
            let name = status.as_str();
            let mut completed = json!({
                "type": "deployment_state_completed",
                "name": "COMPLETED",
                "url": run_url,
                "status": {
                    "type": format!("deployment_state_completed_status_{}", name.to_lowercase()),
                    "name": name,
                },
                "start_date": started,
            });
            if let Some(at) = run.completed_on {
                completed["completion_date"] = json!(stamp(at));
            }
            completed
        }
    };
    if let Some(creator) = run.creator.as_deref() {
        let deployer = account(world, creator);
        if !deployer.is_null() {
            state["deployer"] = deployer;
        }
    }
    json!({
        "type": "deployment",
        "uuid": d.uuid,
        "state": state,
        "environment": { "type": "deployment_environment", "uuid": d.environment },
        "release": {
            "type": "deployment_release",
            "uuid": run.uuid,
            "name": run.build_number.to_string(),
            "url": run_url,
            "commit": {
                "type": "commit",
                "hash": commit,
                "links": {
                    "self": { "href": format!("{base}/2.0/repositories/{}/commit/{commit}", run.repo) },
                    "html": { "href": format!("{base}/{}/commits/{commit}", run.repo) }
                }
            },
            "created_on": started,
            "pipeline": { "type": "pipeline", "uuid": run.uuid },
        },
    })
}

fn not_found(what: &str, uuid: &str) -> Response {
    errors::error_body(
        404,
        json!({ "type": "error", "error": {
            "message": "Not found",
            "detail": format!("{what} {} not found.", braced(uuid))
        } }),
    )
}

/// One listing of a repository's `suffix` (`environments`, `deployments`):
/// the repository opened as the caller may, its items paged.
fn repository_listing(
    world: &World,
    headers: &HeaderMap,
    (workspace, slug): (String, String),
    query: Option<String>,
    suffix: &str,
    items: impl FnOnce(&World, &str) -> Vec<Value>,
) -> Result<Response, Response> {
    let (_, repository) = open_repository(world, headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    let items = items(world, &full_name);
    let url = format!("{}/2.0/repositories/{full_name}/{suffix}", world.base_url);
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn list_environments(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(repo): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    repository_listing(
        &world,
        &headers,
        repo,
        query,
        "environments",
        |world, full_name| {
            world
                .environments_of(full_name)
                .into_iter()
                .map(render_environment)
                .collect()
        },
    )
}

pub async fn get_environment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let environment = world
        .environment(&repository.full_name(), &uuid)
        .ok_or_else(|| not_found("Environment", &uuid))?;
    Ok(Json(render_environment(environment)).into_response())
}

pub async fn list_deployments(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(repo): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    repository_listing(
        &world,
        &headers,
        repo,
        query,
        "deployments",
        |world, full_name| {
            world
                .deployments_of(full_name)
                .into_iter()
                .map(|d| render_deployment(world, d))
                .collect()
        },
    )
}

pub async fn get_deployment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let deployment = world
        .deployment(&repository.full_name(), &uuid)
        .ok_or_else(|| not_found("Deployment", &uuid))?;
    Ok(Json(render_deployment(&world, deployment)).into_response())
}
