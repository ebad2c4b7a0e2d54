//! `GET /2.0/repositories/{workspace}`, `GET /2.0/repositories/{workspace}/{repo_slug}`

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{authenticate, lock, param, query_pairs};
use crate::pages::{self, PageParams};
use crate::world::{Repository, World};
use crate::{Shared, bbql, errors};

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
    let mut items: Vec<Value> = if role_ok {
        world
            .repositories
            .iter()
            .filter(|r| r.workspace == ws.slug && world.can_read(r, &user))
            .map(|r| render(&world, r))
            .collect()
    } else {
        Vec::new()
    };
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
    let url = format!("{}/2.0/repositories/{}", world.base_url, ws.slug);
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
        Some(repository) => Json(render(&world, repository)).into_response(),
        None => errors::repository_not_found(),
    }
}

/// The `repository` definition, with the fields the real API adds (`slug`,
/// `workspace`).
pub fn render(world: &World, r: &Repository) -> Value {
    let base = &world.base_url;
    let full_name = format!("{}/{}", r.workspace, r.slug);
    let ws = world.workspace(&r.workspace);
    let host = base.split("://").nth(1).unwrap_or(base);
    json!({
        "type": "repository",
        "uuid": r.uuid,
        "slug": r.slug,
        "name": r.name,
        "full_name": full_name,
        "description": r.description,
        "scm": "git",
        "is_private": r.is_private,
        "fork_policy": "no_public_forks",
        "language": r.language,
        "size": r.size,
        "has_issues": r.has_issues,
        "has_wiki": false,
        "created_on": r.created_on,
        "updated_on": r.updated_on,
        "mainbranch": { "type": "branch", "name": r.main_branch },
        "project": {
            "type": "project",
            "key": r.project_key,
            "name": r.project_name,
            "links": { "self": { "href": format!("{base}/2.0/workspaces/{}/projects/{}", r.workspace, r.project_key) } }
        },
        "workspace": {
            "type": "workspace",
            "slug": r.workspace,
            "name": ws.map(|w| w.name.clone()),
            "uuid": ws.map(|w| w.uuid.clone()),
        },
        "owner": {
            "type": "team",
            "display_name": ws.map(|w| w.name.clone()),
            "uuid": ws.map(|w| w.uuid.clone()),
            "username": r.workspace,
        },
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{full_name}") },
            "html": { "href": format!("{base}/{full_name}") },
            "clone": [
                { "name": "https", "href": format!("https://{host}/{full_name}.git") },
                { "name": "ssh", "href": format!("git@{host}:{full_name}.git") }
            ]
        }
    })
}

/// A `repository` as Bitbucket embeds it in other objects.
pub fn summary(world: &World, r: &Repository) -> Value {
    let base = &world.base_url;
    let full_name = r.full_name();
    json!({
        "type": "repository",
        "full_name": full_name,
        "name": r.name,
        "uuid": r.uuid,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{full_name}") },
            "html": { "href": format!("{base}/{full_name}") },
            "avatar": { "href": format!("{base}/{full_name}/avatar/32/") }
        }
    })
}

/// The summary by full name; `null` if the repository is gone.
pub fn summary_named(world: &World, full_name: &str) -> Value {
    world
        .repository_named(full_name)
        .map(|r| summary(world, r))
        .unwrap_or(Value::Null)
}
