//! `R/commits`, `R/commits/{revision}`, `R/commit/{commit}`.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{open_repository, params, query_pairs};
use crate::pages::{self, PageParams};
use crate::render;
use crate::world::{Commit, Resolved};
use crate::{Shared, errors, lock};

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    answer(&world, &headers, &workspace, &slug, None, query.as_deref())
}

pub async fn list_revision(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, revision)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    answer(
        &world,
        &headers,
        &workspace,
        &slug,
        Some(&revision),
        query.as_deref(),
    )
}

fn answer(
    world: &Shared,
    headers: &HeaderMap,
    workspace: &str,
    slug: &str,
    revision: Option<&str>,
    query: Option<&str>,
) -> Result<Response, Response> {
    let world = lock(world);
    let (_, repository) = open_repository(&world, headers, workspace, slug)?;
    let query = query_pairs(query);
    let page_params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    let resolve = |revision: &str| {
        world
            .resolve(&full_name, revision)
            .ok_or_else(|| errors::error(404, &format!("Revision not found: {revision}")))
    };
    let mut include = params(&query, "include");
    include.extend(revision);
    let heads: Vec<String> = if include.is_empty() {
        // Like `git log --all`.
        world
            .branches
            .iter()
            .filter(|b| b.repo == full_name)
            .map(|b| b.target.clone())
            .collect()
    } else {
        include
            .iter()
            .map(|r| resolve(r))
            .collect::<Result<_, _>>()?
    };
    let excluded_heads: Vec<String> = params(&query, "exclude")
        .iter()
        .map(|r| resolve(r))
        .collect::<Result<_, _>>()?;
    let excluded = world.reachable(&full_name, &excluded_heads);
    let wanted: HashSet<String> = world
        .reachable(&full_name, &heads)
        .into_iter()
        .filter(|h| !excluded.contains(h))
        .collect();
    let paths = params(&query, "path");
    let mut commits: Vec<&Commit> = world
        .commits
        .iter()
        .filter(|c| c.repo == full_name && wanted.contains(&c.hash))
        .filter(|c| paths.is_empty() || paths.iter().any(|p| touches(c, p)))
        .collect();
    commits.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| b.hash.cmp(&a.hash)));
    let items: Vec<Value> = commits.iter().map(|c| render::commit(&world, c)).collect();
    let url = match revision {
        Some(revision) => format!(
            "{}/2.0/repositories/{full_name}/commits/{revision}",
            world.base_url
        ),
        None => format!("{}/2.0/repositories/{full_name}/commits", world.base_url),
    };
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

/// A file, or a directory holding one of the files the commit changed.
fn touches(commit: &Commit, path: &str) -> bool {
    let path = path.trim_matches('/');
    commit
        .paths
        .iter()
        .any(|p| p == path || p.starts_with(&format!("{path}/")))
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, hash)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    match world.resolve_hash(&full_name, &hash) {
        Resolved::Found(full) => {
            let commit = world
                .commit_in(&full_name, &full)
                .ok_or_else(commit_not_found)?;
            Ok(Json(render::commit(&world, commit)).into_response())
        }
        Resolved::Ambiguous => Err(errors::error(
            400,
            &format!("The commit hash \"{hash}\" is ambiguous."),
        )),
        Resolved::Missing => Err(commit_not_found()),
    }
}

fn commit_not_found() -> Response {
    errors::error(404, "Commit not found")
}
