//! `R/refs/branches` and `R/refs/branches/{name}` (names may hold `/`), and
//! what tags share with branches: listing, natural sort, creating from a
//! commit, git's rules for names.

use std::cmp::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    created, json_body, no_content, open_repository, param, query_pairs, require_write, tags,
};
use crate::pages::{self, PageParams};
use crate::render::{Names, RefKind, git_ref};
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
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    list_refs(&world, RefKind::Branch, &headers, &at, query.as_deref())
}

/// A page of one repository's branches or tags: in `git … --list` order
/// (plain lexical) unless `sort` says otherwise, filtered by `q`.
pub(super) fn list_refs(
    world: &World,
    kind: RefKind,
    headers: &HeaderMap,
    (workspace, slug): &(String, String),
    query: Option<&str>,
) -> Result<Response, Response> {
    let (_, repository) = open_repository(world, headers, workspace, slug)?;
    let repo = repository.full_name();
    let query = query_pairs(query);
    let params = PageParams::from_query(&query)?;
    let (mut items, fields): (Vec<Value>, &[&str]) = match kind {
        RefKind::Branch => {
            let mine = world.branches.iter().filter(|b| b.repo == repo);
            (mine.map(|b| render(world, b)).collect(), &FIELDS)
        }
        RefKind::Tag => {
            let mine = world.tags.iter().filter(|t| t.repo == repo);
            (
                mine.map(|t| tags::render(world, t)).collect(),
                &tags::FIELDS,
            )
        }
    };
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if let Some(q) = param(&query, "q") {
        let filter = bbql::parse(q, fields).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = param(&query, "sort") {
        sort_refs(&mut items, sort, fields)?;
    }
    let url = format!(
        "{}/2.0/repositories/{repo}/refs/{}",
        world.base_url,
        kind.names().collection
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

/// Sorting on `name` is natural (numbers as numbers), as Bitbucket documents.
fn sort_refs(items: &mut [Value], sort: &str, fields: &[&str]) -> Result<(), Response> {
    let (descending, field) = match sort.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, sort),
    };
    if field != "name" {
        return bbql::sort(items, sort, fields).map_err(|m| errors::error(400, &m));
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
    Path(at): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    get_ref(&world, RefKind::Branch, &headers, &at)
}

/// One branch or tag, by its name with or without its `refs/…/` prefix.
pub(super) fn get_ref(
    world: &World,
    kind: RefKind,
    headers: &HeaderMap,
    (workspace, slug, name): &(String, String, String),
) -> Result<Response, Response> {
    let (_, repository) = open_repository(world, headers, workspace, slug)?;
    let repo = repository.full_name();
    let name = name.strip_prefix(kind.names().prefix).unwrap_or(name);
    let found = match kind {
        RefKind::Branch => world.branch_in(&repo, name).map(|b| render(world, b)),
        RefKind::Tag => world.tag_in(&repo, name).map(|t| tags::render(world, t)),
    };
    let found = found.ok_or_else(|| not_found(kind))?;
    Ok(Json(found).into_response())
}

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let new = new_ref(&world, RefKind::Branch, &headers, &at, &body)?;
    let branch = Branch {
        repo: new.repo.clone(),
        name: new.name.clone(),
        target: new.target.clone(),
        merge_strategies: NEW_BRANCH_STRATEGIES.map(str::to_owned).to_vec(),
        default_merge_strategy: "merge_commit".into(),
    };
    world.branches.push(branch.clone());
    new.announce(&mut world);
    Ok(created(render(&world, &branch)))
}

pub async fn delete(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    delete_ref(&mut world, RefKind::Branch, &headers, &at)
}

/// Deletes a branch (never the main one) or a tag, and tells of it in a
/// repo:push.
pub(super) fn delete_ref(
    world: &mut World,
    kind: RefKind,
    headers: &HeaderMap,
    (workspace, slug, name): &(String, String, String),
) -> Result<Response, Response> {
    let (user, repository) = open_repository(world, headers, workspace, slug)?;
    require_write(world, &user, &repository)?;
    let repo = repository.full_name();
    if kind == RefKind::Branch && *name == repository.main_branch {
        return Err(errors::error(400, "You can't delete the main branch."));
    }
    let change = world
        .remove_ref(kind, &repo, name)
        .ok_or_else(|| not_found(kind))?;
    events::push(world, &repo, &user, vec![change]);
    Ok(no_content())
}

impl World {
    /// Removes a branch, answering the repo:push change that tells of it.
    pub(crate) fn remove_branch(&mut self, repo: &str, name: &str) -> Option<Value> {
        self.remove_ref(RefKind::Branch, repo, name)
    }

    fn remove_ref(&mut self, kind: RefKind, repo: &str, name: &str) -> Option<Value> {
        let named = |r: &str, n: &str| r == repo && n == name;
        let gone = match kind {
            RefKind::Branch => {
                let at = self.branches.iter().position(|b| named(&b.repo, &b.name))?;
                self.branches.remove(at).target
            }
            RefKind::Tag => {
                let at = self.tags.iter().position(|t| named(&t.repo, &t.name))?;
                self.tags.remove(at).target
            }
        };
        Some(events::push_change(
            self,
            kind,
            repo,
            name,
            Some(&gone),
            None,
            &[],
        ))
    }
}

/// Bitbucket's 404 for a branch or tag it does not have.
fn not_found(kind: RefKind) -> Response {
    errors::error(404, &format!("{} not found", kind.names().title))
}

/// A create of a branch or tag, checked: who asks (with write access),
/// where, the body, a `name` git accepts that no ref of the kind has yet,
/// and the full hash of the commit `target.hash` names.
pub(super) struct NewRef {
    pub kind: RefKind,
    pub user: String,
    pub repo: String,
    pub body: Value,
    pub name: String,
    pub target: String,
}

impl NewRef {
    /// Tells of the ref in a repo:push, once the world has it.
    pub(super) fn announce(&self, world: &mut World) {
        let change = events::push_change(
            world,
            self.kind,
            &self.repo,
            &self.name,
            None,
            Some(&self.target),
            &[],
        );
        events::push(world, &self.repo, &self.user, vec![change]);
    }
}

/// Bitbucket's 400s where a create's body falls short, naming the field.
pub(super) fn new_ref(
    world: &World,
    kind: RefKind,
    headers: &HeaderMap,
    (workspace, slug): &(String, String),
    body: &[u8],
) -> Result<NewRef, Response> {
    let Names { word, title, .. } = kind.names();
    let (user, repository) = open_repository(world, headers, workspace, slug)?;
    require_write(world, &user, &repository)?;
    let body = json_body(body)?;
    let repo = repository.full_name();
    let name = body["name"]
        .as_str()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| errors::field_error("name", "This field is required."))?
        .to_owned();
    if !valid_name(&name) {
        return Err(errors::field_error(
            "name",
            &format!("\"{name}\" is not a valid {word} name."),
        ));
    }
    let taken = match kind {
        RefKind::Branch => world.branch_in(&repo, &name).is_some(),
        RefKind::Tag => world.tag_in(&repo, &name).is_some(),
    };
    if taken {
        return Err(errors::error(
            400,
            &format!("{title} \"{name}\" already exists."),
        ));
    }
    let hash = body["target"]["hash"]
        .as_str()
        .ok_or_else(|| errors::field_error("target", "This field is required."))?;
    let target = match world.resolve_hash(&repo, hash) {
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
    Ok(NewRef {
        kind,
        user,
        repo,
        body,
        name,
        target,
    })
}

/// Git's ref-name rules, the parts a client can trip over.
pub(super) fn valid_name(name: &str) -> bool {
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
    let mut branch = git_ref(world, RefKind::Branch, &b.repo, &b.name, &b.target);
    branch["merge_strategies"] = json!(b.merge_strategies);
    branch["default_merge_strategy"] = json!(b.default_merge_strategy);
    branch
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
