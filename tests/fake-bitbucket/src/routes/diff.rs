//! `R/diff/{spec}`, `R/diffstat/{spec}` and `R/patch/{spec}`, computed from
//! the commits' trees.
//!
//! `spec` is one commit (compared with its first parent) or `a..b`, where,
//! as the spec says and unlike `git diff`, `a` is the new side (the changes
//! to preview) and `b` the state to compare it with. With `topic` (the
//! default) `a` is compared with the merge base of `a` and `b` (a
//! three-dot diff); `topic=false` compares it with `b` itself; the
//! deprecated `merge=true` diffs `b` against `b` merged with `a`, which
//! without conflicts is the topic diff again.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{open_repository, param, params, query_pairs};
use crate::clock::git_date;
use crate::diff::{self, FileDiff, Options};
use crate::pages::{self, PageParams};
use crate::world::tree::Tree;
use crate::world::{Commit, World};
use crate::{Shared, errors, lock};

/// The two trees a spec compares, and the commits of the range (new side's
/// commits not in the old side's history, oldest first) for patches.
struct Range {
    old: Arc<Tree>,
    new: Arc<Tree>,
    new_hash: String,
    old_hash: Option<String>,
    commits: Vec<String>,
}

fn flag(query: &[(String, String)], name: &str, default: bool) -> Result<bool, Response> {
    match param(query, name) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(errors::error(
            400,
            &format!("Invalid value for {name}: {other}"),
        )),
    }
}

fn range(
    world: &World,
    repo: &str,
    spec: &str,
    query: &[(String, String)],
) -> Result<Range, Response> {
    let resolve = |revision: &str| {
        world
            .resolve(repo, revision)
            .ok_or_else(|| errors::error(404, &format!("Revision not found: {revision}")))
    };
    if param(query, "merge").is_some() && param(query, "topic").is_some() {
        return Err(errors::error(
            400,
            "The 'merge' and 'topic' parameters cannot be both used at the same time.",
        ));
    }
    let topic = flag(query, "topic", true)? || flag(query, "merge", false)?;
    match spec.split_once("..") {
        Some((a, b)) => {
            let new = resolve(a)?;
            let destination = resolve(b)?;
            let old = if topic {
                world
                    .merge_base(repo, &new, &destination)
                    .unwrap_or(destination.clone())
            } else {
                destination.clone()
            };
            let behind = world.reachable(repo, std::slice::from_ref(&destination));
            let ahead = world.reachable(repo, std::slice::from_ref(&new));
            let mut commits: Vec<&Commit> = world
                .commits
                .iter()
                .filter(|c| c.repo == repo && ahead.contains(&c.hash) && !behind.contains(&c.hash))
                .collect();
            commits.sort_by_key(|c| c.date);
            Ok(Range {
                old: world.tree_at(repo, &old),
                new: world.tree_at(repo, &new),
                new_hash: new,
                old_hash: Some(old),
                commits: commits.iter().map(|c| c.hash.clone()).collect(),
            })
        }
        None => {
            let hash = resolve(spec)?;
            let parent = world
                .commit_in(repo, &hash)
                .and_then(|c| c.parents.first().cloned());
            Ok(Range {
                old: parent
                    .as_deref()
                    .map(|p| world.tree_at(repo, p))
                    .unwrap_or_default(),
                new: world.tree_at(repo, &hash),
                new_hash: hash.clone(),
                old_hash: parent,
                commits: vec![hash],
            })
        }
    }
}

fn options(query: &[(String, String)]) -> Result<Options, Response> {
    let context = match param(query, "context") {
        None => 3,
        Some(raw) => raw
            .parse::<usize>()
            .map_err(|_| errors::error(400, "Invalid context"))?,
    };
    Ok(Options {
        context,
        paths: params(query, "path")
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ignore_whitespace: flag(query, "ignore_whitespace", false)?,
        binary: flag(query, "binary", true)?,
        renames: flag(query, "renames", true)?,
    })
}

fn text(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

type Spec = (String, String, String);

pub async fn diff(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, spec)): Path<Spec>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let range = range(&world, &repository.full_name(), &spec, &query)?;
    let options = options(&query)?;
    let files = diff::compare(&range.old, &range.new, &options);
    Ok(text(diff::render(&files, &options)))
}

pub async fn diffstat(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, spec)): Path<Spec>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    let query = query_pairs(query.as_deref());
    let range = range(&world, &full_name, &spec, &query)?;
    let options = options(&query)?;
    let files = diff::compare(&range.old, &range.new, &options);
    // Diffstats page by 500, at most 5,000 (the spec's paginated_diffstats).
    let mut page_params = PageParams::from_query(&[])?;
    page_params.pagelen = match param(&query, "pagelen") {
        None => 500,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| errors::error(400, "Invalid pagelen"))?
            .min(5_000),
    };
    page_params.page = PageParams::from_query(
        &query
            .iter()
            .filter(|(k, _)| k == "page")
            .cloned()
            .collect::<Vec<_>>(),
    )?
    .page;
    let url = format!(
        "{}/2.0/repositories/{full_name}/diffstat/{spec}",
        world.base_url
    );
    let body = pages::page_of(files, &page_params, &url, &query, |f| {
        stat(&world, &full_name, &range, &f)
    });
    Ok(Json(body).into_response())
}

/// One `diffstat`; `old`/`new` are `commit_file`s, null for an added or
/// removed file, as live sends them.
fn stat(world: &World, repo: &str, range: &Range, f: &FileDiff) -> Value {
    let side = |path: &Option<String>, hash: Option<&str>| match (path, hash) {
        (Some(path), Some(hash)) => json!({
            "type": "commit_file",
            "path": path,
            "escaped_path": path,
            "links": {
                "self": { "href": format!("{}/2.0/repositories/{repo}/src/{hash}/{path}", world.base_url) }
            }
        }),
        _ => Value::Null,
    };
    json!({
        "type": "diffstat",
        "status": f.status.as_str(),
        "lines_added": f.lines_added,
        "lines_removed": f.lines_removed,
        "old": side(&f.old_path, range.old_hash.as_deref()),
        "new": side(&f.new_path, Some(&range.new_hash)),
    })
}

/// `git format-patch` of the range's commits (merges left out, as git does).
pub async fn patch(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, spec)): Path<Spec>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let full_name = repository.full_name();
    let query = query_pairs(query.as_deref());
    let range = range(&world, &full_name, &spec, &query)?;
    let options = Options::default();
    let commits: Vec<&Commit> = range
        .commits
        .iter()
        .filter_map(|h| world.commit_in(&full_name, h))
        .filter(|c| c.parents.len() <= 1)
        .collect();
    let total = commits.len();
    let mut out = String::new();
    for (i, c) in commits.iter().enumerate() {
        let parent = c
            .parents
            .first()
            .map(|p| world.tree_at(&full_name, p))
            .unwrap_or_default();
        let files = diff::compare(&parent, &c.tree, &options);
        let (subject, body) = c.message.split_once('\n').unwrap_or((&c.message, ""));
        let numbered = if total > 1 {
            format!("[PATCH {}/{total}]", i + 1)
        } else {
            "[PATCH]".into()
        };
        out.push_str(&format!(
            "From {} Mon Sep 17 00:00:00 2001\nFrom: {}\nDate: {}\nSubject: {numbered} {subject}\n\n",
            c.hash,
            c.author_raw,
            git_date(c.date)
        ));
        let body = body.trim();
        if !body.is_empty() {
            out.push_str(body);
            out.push('\n');
        }
        out.push_str("---\n");
        for f in &files {
            out.push_str(&format!(
                " {} | {}\n",
                f.path(),
                if f.binary {
                    "Bin".to_owned()
                } else {
                    (f.lines_added + f.lines_removed).to_string()
                }
            ));
        }
        out.push('\n');
        out.push_str(&diff::render(&files, &options));
        out.push_str("-- \n2.47.0\n\n");
    }
    Ok(text(out))
}
