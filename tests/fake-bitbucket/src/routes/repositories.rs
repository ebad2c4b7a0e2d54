//! `GET /2.0/repositories/{workspace}`, `GET /2.0/repositories/{workspace}/{repo_slug}`

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{authenticate, param, query_pairs};
use crate::pages::{self, PageParams};
use crate::render;
use crate::{Shared, bbql, errors, lock};

/// Fields `q` and `sort` accept on repositories.
const FIELDS: [&str; 12] = [
    "name",
    "slug",
    "full_name",
    "description",
    "language",
    "is_private",
    "size",
    "created_on",
    "updated_on",
    "project.key",
    "project.name",
    "has_issues",
];

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Some(ws) = world.workspace(&workspace) else {
        return errors::workspace_not_found(&workspace);
    };
    let query = query_pairs(query.as_deref());
    let params = match PageParams::from_query(&query) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let membership = ws.members.iter().find(|m| m.user_uuid == user);
    let role_ok = match param(&query, "role") {
        None => true,
        Some("member" | "contributor") => membership.is_some(),
        Some("admin" | "owner") => membership.is_some_and(|m| m.administrator),
        Some(other) => return errors::error(400, &format!("Invalid role: {other}")),
    };
    let readable: Vec<_> = if role_ok {
        world
            .repositories
            .iter()
            .filter(|r| r.workspace == ws.slug && world.can_read(r, &user))
            .collect()
    } else {
        Vec::new()
    };
    let url = format!("{}/2.0/repositories/{}", world.base_url, ws.slug);
    if param(&query, "q").is_none() && param(&query, "sort").is_none() {
        let page = pages::page_of(readable, &params, &url, &query, |r| {
            render::repository(&world, r)
        });
        return Json(page).into_response();
    }
    // Filters and sorts read the rendered fields.
    let mut items: Vec<Value> = readable
        .into_iter()
        .map(|r| render::repository(&world, r))
        .collect();
    if let Some(q) = param(&query, "q") {
        match bbql::parse(q, &FIELDS) {
            Ok(filter) => items.retain(|item| filter.matches(item)),
            Err(message) => return errors::error(400, &message),
        }
    }
    if let Some(sort) = param(&query, "sort")
        && let Err(message) = bbql::sort(&mut items, sort, &FIELDS)
    {
        return errors::error(400, &message);
    }
    Json(pages::page(items, &params, &url, &query)).into_response()
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let found = world
        .workspace(&workspace)
        .and_then(|ws| world.repository(ws, &slug))
        .filter(|r| world.can_read(r, &user));
    match found {
        Some(repository) => Json(render::repository(&world, repository)).into_response(),
        None => errors::repository_not_found(),
    }
}
