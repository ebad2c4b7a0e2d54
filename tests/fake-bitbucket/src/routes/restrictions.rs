//! `R/branch-restrictions` and `R/branch-restrictions/{id}`, read only.
//! Both answer repository admins alone, as the spec's `repository:admin`
//! scope says.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::param;
use super::settings::{self, Access};
use crate::world::{BranchRestriction, Repository, World};
use crate::{Shared, errors, lock, render};

/// The spec's `kind` and `pattern` query parameters match exactly, as live.
pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    settings::page(
        &world,
        &headers,
        &at,
        query,
        Access::Admins,
        "/branch-restrictions",
        |world, repository, settings, query| {
            let wanted = |key, actual: &str| param(query, key).is_none_or(|v| v == actual);
            settings
                .branch_restrictions
                .iter()
                .filter(|r| wanted("kind", &r.kind) && wanted("pattern", &r.pattern))
                .map(|r| render(world, repository, r))
                .collect()
        },
    )
}

/// An id that is not a number is as missing as an unknown one.
pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let repository = settings::open(&world, &headers, &(workspace, slug), Access::Admins)?;
    let restriction = world
        .settings_of(&repository)
        .and_then(|s| {
            s.branch_restrictions
                .iter()
                .find(|r| id.parse() == Ok(r.id))
        })
        .ok_or_else(|| errors::error(404, "No branch restriction with that id"))?;
    Ok(Json(render(&world, &repository, restriction)).into_response())
}

/// The `branchrestriction` definition. `value` is left out for kinds
/// without one: the spec types it integer, not nullable.
fn render(world: &World, repository: &Repository, r: &BranchRestriction) -> Value {
    let groups: Vec<Value> = r
        .groups
        .iter()
        .map(|slug| json!({ "type": "group", "slug": slug }))
        .collect();
    let mut restriction = json!({
        "type": "branchrestriction",
        "id": r.id,
        "kind": r.kind,
        "branch_match_kind": "glob",
        "pattern": r.pattern,
        "users": r.users.iter().map(|u| render::account(world, u)).collect::<Vec<_>>(),
        "groups": groups,
        "links": settings::self_links(world, repository, &format!("/branch-restrictions/{}", r.id)),
    });
    if let Some(value) = r.value {
        restriction["value"] = json!(value);
    }
    restriction
}
