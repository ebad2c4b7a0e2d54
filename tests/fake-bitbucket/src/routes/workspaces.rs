//! `GET /2.0/user/workspaces`, `GET /2.0/workspaces/{workspace}`,
//! `GET /2.0/workspaces/{workspace}/members`

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{authenticate, param, query_pairs};
use crate::pages::{self, PageParams};
use crate::render::{account, encode_braces};
use crate::world::{Workspace, World};
use crate::{Shared, bbql, errors, lock};

pub async fn mine(
    State(world): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let query = query_pairs(query.as_deref());
    let params = match PageParams::from_query(&query) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let administrator = match param(&query, "administrator") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return errors::error(400, "Invalid value for administrator"),
    };
    let mut items: Vec<Value> = world
        .workspaces
        .iter()
        .filter_map(|w| {
            let membership = w.members.iter().find(|m| m.user_uuid == user)?;
            if administrator.is_some_and(|a| a != membership.administrator) {
                return None;
            }
            Some(json!({
                "type": "workspace_access",
                "administrator": membership.administrator,
                "workspace": render_base(&world, w),
            }))
        })
        .collect();
    // Only `slug` can be filtered and sorted on here.
    if let Some(q) = param(&query, "q") {
        match bbql::parse(q, &["workspace.slug", "slug"]) {
            Ok(filter) => {
                items.retain(|item| filter.matches(item) || filter.matches(&item["workspace"]))
            }
            Err(message) => return errors::error(400, &message),
        }
    }
    let sort = param(&query, "sort").unwrap_or("slug");
    let mut sorted: Vec<Value> = items.iter().map(|i| i["workspace"].clone()).collect();
    if let Err(message) = bbql::sort(&mut sorted, sort, &["slug"]) {
        return errors::error(400, &message);
    }
    let order: Vec<String> = sorted
        .iter()
        .map(|w| w["slug"].as_str().unwrap_or_default().to_owned())
        .collect();
    items.sort_by_key(|i| {
        order
            .iter()
            .position(|s| i["workspace"]["slug"] == *s.as_str())
    });
    let url = format!("{}/2.0/user/workspaces", world.base_url);
    Json(pages::page(items, &params, &url, &query)).into_response()
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    match world.workspace(&id) {
        Some(w) if world.is_member(w, &user) => Json(render(&world, w)).into_response(),
        _ => errors::workspace_not_found(&id),
    }
}

/// Members in the order they joined, hidden from outsiders as the
/// workspace itself is. The spec declares no `q` or `sort` (the e-mail
/// filter its description offers is for administrators and integrations),
/// so only paging applies.
pub async fn members(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let user = authenticate(&world, &headers)?;
    let ws = world
        .workspace(&id)
        .filter(|w| world.is_member(w, &user))
        .ok_or_else(|| errors::workspace_not_found(&id))?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let url = format!("{}/2.0/workspaces/{}/members", world.base_url, ws.slug);
    let workspace = render(&world, ws);
    let page = pages::page_of(ws.members.iter().collect(), &params, &url, &query, |m| {
        json!({
            "type": "workspace_membership",
            "user": account(&world, &m.user_uuid),
            "workspace": workspace,
            "links": {
                "self": { "href": format!("{url}/{}", encode_braces(&m.user_uuid)) }
            }
        })
    });
    Ok(Json(page).into_response())
}

/// `workspace_base`, as `/user/workspaces` embeds it.
fn render_base(world: &World, w: &Workspace) -> Value {
    let base = &world.base_url;
    json!({
        "type": "workspace_base",
        "uuid": w.uuid,
        "slug": w.slug,
        "name": w.name,
        "links": {
            "self": { "href": format!("{base}/2.0/workspaces/{}", w.slug) },
            "avatar": { "href": format!("{base}/workspaces/{}/avatar/", w.slug) }
        }
    })
}

/// The `workspace` definition.
pub fn render(world: &World, w: &Workspace) -> Value {
    let base = &world.base_url;
    json!({
        "type": "workspace",
        "uuid": w.uuid,
        "slug": w.slug,
        "name": w.name,
        "is_private": w.is_private,
        "is_personal": w.members.len() == 1,
        "created_on": w.created_on,
        "links": {
            "self": { "href": format!("{base}/2.0/workspaces/{}", w.slug) },
            "html": { "href": format!("{base}/{}/", w.slug) },
            "avatar": { "href": format!("{base}/workspaces/{}/avatar/", w.slug) },
            "repositories": { "href": format!("{base}/2.0/repositories/{}", w.slug) }
        }
    })
}
