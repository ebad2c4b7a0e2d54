//! `R/refs/branches` and `R/refs/branches/{name}` (names may hold `/`).

use std::cmp::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{created, json_body, no_content, open_repository, param, query_pairs, require_write};
use crate::pages::{self, PageParams};
use crate::world::{Branch, Resolved, World};
use crate::{Shared, bbql, errors, events, lock};

/// Fields `q` and `sort` accept on branches.
const FIELDS: [&str; 6] = [
    "name",
    "target.hash",
    "target.date",
    "target.message",
    "target.author.raw",
    "default_merge_strategy",
];

/// What a branch made through the API may merge with.
const NEW_BRANCH_STRATEGIES: [&str; 3] = ["merge_commit", "squash", "fast_forward"];

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    // `git branch --list` order: plain lexical.
    let mut branches: Vec<&Branch> = world
        .branches
        .iter()
        .filter(|b| b.repo == full_name)
        .collect();
    branches.sort_by(|a, b| a.name.cmp(&b.name));
    let mut items: Vec<Value> = branches.iter().map(|b| render(&world, b)).collect();
    if let Some(q) = param(&query, "q") {
        let filter = bbql::parse(q, &FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = param(&query, "sort") {
        sort_branches(&mut items, sort)?;
    }
    let url = format!(
        "{}/2.0/repositories/{full_name}/refs/branches",
        world.base_url
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

/// Sorting on `name` is natural (numbers as numbers), as Bitbucket documents.
fn sort_branches(items: &mut [Value], sort: &str) -> Result<(), Response> {
    let (descending, field) = match sort.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, sort),
    };
    if field != "name" {
        return bbql::sort(items, sort, &FIELDS).map_err(|m| errors::error(400, &m));
    }
    items.sort_by(|a, b| {
        let order = natural(
            a["name"].as_str().unwrap_or_default(),
            b["name"].as_str().unwrap_or_default(),
        );
        if descending { order.reverse() } else { order }
    });
    Ok(())
}

/// `v9` before `v10`: runs of digits compare by value.
fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, ra) = split_digits(a);
                let (db, rb) = split_digits(b);
                let (ta, tb) = (trim_zeros(da), trim_zeros(db));
                let order = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|c| *c != b'0').unwrap_or(s.len());
    &s[start..]
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, name)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let name = name.strip_prefix("refs/heads/").unwrap_or(&name);
    let branch = world
        .branch_in(&repository.full_name(), name)
        .ok_or_else(branch_not_found)?;
    Ok(Json(render(&world, branch)).into_response())
}

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let name = body["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| errors::field_error("name", "This field is required."))?;
    if !valid_name(name) {
        return Err(errors::field_error(
            "name",
            &format!("\"{name}\" is not a valid branch name."),
        ));
    }
    if world.branch_in(&full_name, name).is_some() {
        return Err(errors::error(
            400,
            &format!("Branch \"{name}\" already exists."),
        ));
    }
    let hash = body["target"]["hash"]
        .as_str()
        .ok_or_else(|| errors::field_error("target", "This field is required."))?;
    let target = match world.resolve_hash(&full_name, hash) {
        Resolved::Found(full) => full,
        Resolved::Ambiguous => {
            return Err(errors::field_error(
                "target",
                &format!("The commit hash \"{hash}\" is ambiguous."),
            ));
        }
        Resolved::Missing => {
            return Err(errors::field_error(
                "target",
                &format!("The commit \"{hash}\" does not exist."),
            ));
        }
    };
    let branch = Branch {
        repo: full_name.clone(),
        name: name.to_owned(),
        target: target.clone(),
        merge_strategies: NEW_BRANCH_STRATEGIES.map(str::to_owned).to_vec(),
        default_merge_strategy: "merge_commit".into(),
    };
    world.branches.push(branch.clone());
    let change = events::push_change(&world, &full_name, name, None, Some(&target), &[]);
    events::push(&mut world, &full_name, &user, vec![change]);
    Ok(created(render(&world, &branch)))
}

pub async fn delete(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, name)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let full_name = repository.full_name();
    let branch = world
        .branch_in(&full_name, &name)
        .cloned()
        .ok_or_else(branch_not_found)?;
    if branch.name == repository.main_branch {
        return Err(errors::error(400, "You can't delete the main branch."));
    }
    if let Some(change) = world.remove_branch(&full_name, &branch.name) {
        events::push(&mut world, &full_name, &user, vec![change]);
    }
    Ok(no_content())
}

impl World {
    /// Removes a branch, answering the repo:push change that tells of it.
    pub(crate) fn remove_branch(&mut self, repo: &str, name: &str) -> Option<Value> {
        let at = self
            .branches
            .iter()
            .position(|b| b.repo == repo && b.name == name)?;
        let branch = self.branches.remove(at);
        Some(events::push_change(
            self,
            repo,
            name,
            Some(&branch.target),
            None,
            &[],
        ))
    }
}

pub fn branch_not_found() -> Response {
    errors::error(404, "Branch not found")
}

/// Git's ref-name rules, the parts a client can trip over.
fn valid_name(name: &str) -> bool {
    !name.starts_with('/')
        && !name.ends_with('/')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.starts_with('-')
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
}

/// The `branch` definition.
pub fn render(world: &World, b: &Branch) -> Value {
    let base = &world.base_url;
    let repo = &b.repo;
    let target = world
        .commit_in(repo, &b.target)
        .map(|c| crate::render::commit(world, c))
        .unwrap_or(Value::Null);
    json!({
        "type": "branch",
        "name": b.name,
        "target": target,
        "merge_strategies": b.merge_strategies,
        "default_merge_strategy": b.default_merge_strategy,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{repo}/refs/branches/{}", b.name) },
            "commits": { "href": format!("{base}/2.0/repositories/{repo}/commits/{}", b.name) },
            "html": { "href": format!("{base}/{repo}/branch/{}", b.name) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_reads_numbers_as_numbers() {
        let mut names = vec!["v10", "v9", "release/2026.11", "release/2026.9", "V2"];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            ["release/2026.9", "release/2026.11", "V2", "v9", "v10"]
        );
    }

    #[test]
    fn branch_names_follow_git() {
        assert!(valid_name("feature/login"));
        assert!(valid_name("release/2026.11"));
        assert!(!valid_name("feature//x"));
        assert!(!valid_name("has space"));
        assert!(!valid_name("a..b"));
        assert!(!valid_name("x.lock"));
    }
}
