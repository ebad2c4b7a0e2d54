//! `R/src`, `R/src/{commit}/{path}` and `R/filehistory/{commit}/{path}`:
//! files and directories as of a commit, from the commits' trees.
//!
//! `{commit}` is a branch name or a (short) hash; branch names may hold
//! slashes, so the longest leading part of the path that names a revision
//! is the commit and the rest is the path. `q` and `sort` take a simple
//! subset of BBQL over the answered fields: `path`, `type`, `size`,
//! `mimetype` on listings, and `path`, `commit.hash`, `commit.date` on
//! file histories.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{open_repository, param, query_pairs};
use crate::clock::git_date;
use crate::pages::{self, PageParams};
use crate::world::tree::{self, Blob, Tree, blob_id, is_binary};
use crate::world::{Commit, World};
use crate::{Shared, bbql, errors, lock, spec};

const LISTING_FIELDS: [&str; 4] = ["path", "type", "size", "mimetype"];
const HISTORY_FIELDS: [&str; 3] = ["path", "commit.hash", "commit.date"];

/// `GET R/src`: live redirects to the root listing at the main branch's head.
pub async fn root(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    let head = world
        .branch_in(&full_name, &repository.main_branch)
        .map(|b| b.target.clone())
        .ok_or_else(|| errors::error(404, "This repository has no main branch."))?;
    Ok(redirect(&format!(
        "{}/2.0/repositories/{full_name}/src/{head}/",
        world.base_url
    )))
}

pub(crate) fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Splits `rest` (`{commit}/{path}`) at the longest leading part that names
/// a revision: the commit's full hash and the path (no slashes around it),
/// and whether the request ended in `/`.
fn split_revision(world: &World, repo: &str, rest: &str) -> Result<(String, String), Response> {
    let segments: Vec<&str> = rest.split('/').collect();
    for cut in (1..=segments.len()).rev() {
        let revision = segments[..cut].join("/");
        if revision.is_empty() {
            continue;
        }
        if let Some(hash) = world.resolve(repo, &revision) {
            return Ok((hash, segments[cut..].join("/")));
        }
    }
    Err(errors::error(
        404,
        &format!("Commit not found: {}", segments.first().unwrap_or(&"")),
    ))
}

fn commit_ref(world: &World, c: &Commit) -> Value {
    let base = &world.base_url;
    let repo = &c.repo;
    json!({
        "type": "commit",
        "hash": c.hash,
        "date": git_date(c.date),
        "message": c.message,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{repo}/commit/{}", c.hash) },
            "html": { "href": format!("{base}/{repo}/commits/{}", c.hash) }
        }
    })
}

/// The content type Bitbucket derives from a file name (binary files are
/// `application/octet-stream` whatever their name says).
pub(crate) fn mimetype(path: &str, bytes: &[u8]) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "png" => "image/png",
        _ if is_binary(bytes) => "application/octet-stream",
        "md" | "markdown" => "text/markdown",
        "json" | "ndjson" => "application/json",
        "yml" | "yaml" => "text/yaml",
        "toml" => "text/x-toml",
        "rs" => "text/x-rust",
        "py" => "text/x-python",
        "html" => "text/html",
        _ => "text/plain",
    }
}

/// A `commit_file` entry.
pub(crate) fn file_entry(world: &World, c: &Commit, path: &str, blob: &Blob) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}", c.repo);
    json!({
        "type": "commit_file",
        "path": path,
        "escaped_path": path,
        "size": blob.len(),
        "mimetype": mimetype(path, blob),
        "commit": commit_ref(world, c),
        "links": {
            "self": { "href": format!("{api}/src/{}/{path}", c.hash) },
            "meta": { "href": format!("{api}/src/{}/{path}?format=meta", c.hash) },
            "history": { "href": format!("{api}/filehistory/{}/{path}", c.hash) }
        }
    })
}

fn dir_entry(world: &World, c: &Commit, path: &str) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}", c.repo);
    let slash = if path.is_empty() { "" } else { "/" };
    json!({
        "type": "commit_directory",
        "path": path,
        "escaped_path": path,
        "commit": commit_ref(world, c),
        "links": {
            "self": { "href": format!("{api}/src/{}/{path}{slash}", c.hash) },
            "meta": { "href": format!("{api}/src/{}/{path}{slash}?format=meta", c.hash) }
        }
    })
}

/// `GET R/src/{commit}/{path}`: bytes, a listing, or (`format=meta`) JSON.
pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    let query = query_pairs(query.as_deref());
    let (hash, path) = split_revision(&world, &full_name, &rest)?;
    let commit = world
        .commit_in(&full_name, &hash)
        .ok_or_else(|| errors::error(404, "Commit not found"))?;
    let files: &Tree = &commit.tree;
    let meta = match param(&query, "format") {
        None => false,
        Some("meta") => true,
        Some("rendered") => {
            return Err(errors::error(
                400,
                "format=rendered is not supported by this fake.",
            ));
        }
        Some(other) => return Err(errors::error(400, &format!("Invalid format: {other}"))),
    };
    let dir = path.trim_end_matches('/');
    if let Some(blob) = files.get(dir).filter(|_| !path.ends_with('/')) {
        if meta {
            return Ok(Json(file_entry(&world, commit, dir, blob)).into_response());
        }
        let mut response = (StatusCode::OK, blob.to_vec()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(mimetype(dir, blob)),
        );
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", blob_id(blob))) {
            headers.insert(header::ETAG, etag);
        }
        response.extensions_mut().insert(spec::RawContent);
        return Ok(response);
    }
    if !tree::is_dir(files, dir) {
        return Err(errors::error(
            404,
            &format!("No such file or directory: {dir}"),
        ));
    }
    if meta {
        return Ok(Json(dir_entry(&world, commit, dir)).into_response());
    }
    let depth = match param(&query, "max_depth") {
        None => 1,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|d| *d >= 1)
            .ok_or_else(|| errors::error(400, "Invalid max_depth"))?,
    };
    let mut items: Vec<Value> = tree::list(files, dir, depth)
        .into_iter()
        .map(|(p, blob)| match blob {
            Some(blob) => file_entry(&world, commit, &p, &blob),
            None => dir_entry(&world, commit, &p),
        })
        .collect();
    if let Some(q) = param(&query, "q") {
        let filter = bbql::parse(q, &LISTING_FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = param(&query, "sort") {
        bbql::sort(&mut items, sort, &LISTING_FIELDS).map_err(|m| errors::error(400, &m))?;
    }
    let page_params = PageParams::from_query(&query)?;
    let slash = if dir.is_empty() { "" } else { "/" };
    let url = format!(
        "{}/2.0/repositories/{full_name}/src/{hash}/{dir}{slash}",
        world.base_url
    );
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

/// `GET R/filehistory/{commit}/{path}`: the commits that changed the file,
/// newest first, following simple renames (same contents under a new
/// path) unless `renames=false`.
pub async fn history(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, rest)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    let query = query_pairs(query.as_deref());
    let (hash, path) = split_revision(&world, &full_name, &rest)?;
    let path = path.trim_matches('/').to_owned();
    let follow = param(&query, "renames") != Some("false");
    let head = world
        .commit_in(&full_name, &hash)
        .ok_or_else(|| errors::error(404, "Commit not found"))?;
    if !head.tree.contains_key(&path) && !tree::is_dir(&head.tree, &path) {
        return Err(errors::error(
            404,
            &format!("No such file or directory: {path}"),
        ));
    }
    let reachable = world.reachable(&full_name, std::slice::from_ref(&hash));
    let mut commits: Vec<&Commit> = world
        .commits
        .iter()
        .filter(|c| c.repo == full_name && reachable.contains(&c.hash))
        .collect();
    commits.sort_by_key(|c| std::cmp::Reverse(c.date));
    let mut items = Vec::new();
    let mut current = path.clone();
    for c in commits {
        let Some(blob) = c.tree.get(&current) else {
            continue;
        };
        let parents: Vec<std::sync::Arc<Tree>> = c
            .parents
            .iter()
            .map(|p| world.tree_at(&full_name, p))
            .collect();
        // Unchanged from some parent: not this commit's change (as git log
        // simplifies merges).
        if parents.iter().any(|t| t.get(&current) == Some(blob)) {
            continue;
        }
        items.push(file_entry(&world, c, &current, blob));
        if follow && let Some(first) = parents.first() {
            if !first.contains_key(&current) {
                let gone = first
                    .iter()
                    .find(|(p, b)| *b == blob && !c.tree.contains_key(*p));
                match gone {
                    Some((old, _)) => current = old.clone(),
                    None => break,
                }
            }
        } else if parents.iter().all(|t| !t.contains_key(&current)) {
            break;
        }
    }
    if let Some(q) = param(&query, "q") {
        let filter = bbql::parse(q, &HISTORY_FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = param(&query, "sort") {
        bbql::sort(&mut items, sort, &HISTORY_FIELDS).map_err(|m| errors::error(400, &m))?;
    }
    let page_params = PageParams::from_query(&query)?;
    let url = format!(
        "{}/2.0/repositories/{full_name}/filehistory/{hash}/{path}",
        world.base_url
    );
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}
