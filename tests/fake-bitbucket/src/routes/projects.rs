//! `GET /2.0/workspaces/{workspace}/projects`,
//! `GET /2.0/workspaces/{workspace}/projects/{project_key}`

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{authenticate, query_pairs};
use crate::pages::{self, PageParams};
use crate::world::{Project, Workspace, World};
use crate::{Shared, errors, lock, render};

/// Oldest first, as the workspace made them. The spec gives this listing no
/// `q` or `sort`, so only paging applies.
pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (user, ws) = open_workspace(&world, &headers, &workspace)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let visible: Vec<&Project> = world
        .projects
        .iter()
        .filter(|p| p.workspace == ws.slug && world.can_see_project(p, &user))
        .collect();
    let url = format!("{}/2.0/workspaces/{}/projects", world.base_url, ws.slug);
    let page = pages::page_of(visible, &params, &url, &query, |p| {
        render::project(&world, p)
    });
    Ok(Json(page).into_response())
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, key)): Path<(String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (user, ws) = open_workspace(&world, &headers, &workspace)?;
    // A private project is as absent to outsiders as a private repository.
    let project = world
        .project(ws, &key)
        .filter(|p| world.can_see_project(p, &user))
        .ok_or_else(|| errors::error(404, "Project not found"))?;
    Ok(Json(render::project(&world, project)).into_response())
}

/// The caller and the workspace a request names. Unlike the workspace
/// itself, its projects answer outsiders too, as its repositories do: the
/// public ones (the spec's `project.is_private`: private projects are
/// "only visible to team members").
fn open_workspace<'w>(
    world: &'w World,
    headers: &HeaderMap,
    workspace: &str,
) -> Result<(String, &'w Workspace), Response> {
    let user = authenticate(world, headers)?;
    let ws = world
        .workspace(workspace)
        .ok_or_else(|| errors::workspace_not_found(workspace))?;
    Ok((user, ws))
}
