//! `R/commit/{commit}/statuses[/build[/{key}]]`: build statuses that CI
//! systems report on commits, keyed per commit.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{created, json_body, open_repository, param, query_pairs, require_write};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::account;
use crate::world::{CommitStatus, World};
use crate::{Shared, bbql, errors, lock};

const STATES: [&str; 4] = ["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"];

/// Fields `q` and `sort` accept on statuses.
const FIELDS: [&str; 7] = [
    "key",
    "state",
    "name",
    "refname",
    "description",
    "created_on",
    "updated_on",
];

/// The `commitstatus` definition (`type` is `build`, the one kind there is).
pub(crate) fn render_status(world: &World, s: &CommitStatus) -> Value {
    let api = format!("{}/2.0/repositories/{}", world.base_url, s.repo);
    let mut status = json!({
        "type": "build",
        "key": s.key,
        "state": s.state,
        "name": s.name,
        "description": s.description,
        "url": s.url,
        "created_on": stamp(s.created_on),
        "updated_on": stamp(s.updated_on),
        "links": {
            "self": { "href": format!("{api}/commit/{}/statuses/build/{}", s.commit, s.key) },
            "commit": { "href": format!("{api}/commit/{}", s.commit) }
        }
    });
    if let Some(refname) = &s.refname {
        status["refname"] = json!(refname);
    }
    status
}

/// One commit's statuses as a page: `refname` keeps those made without a
/// refname or with that one; `q`/`sort` over [`FIELDS`], by `created_on`
/// unless told.
pub(crate) fn listing(
    world: &World,
    repo: &str,
    hash: &str,
    query: &[(String, String)],
    url: &str,
) -> Result<Response, Response> {
    let page_params = PageParams::from_query(query)?;
    let refname = param(query, "refname");
    let mut items: Vec<Value> = world
        .statuses
        .iter()
        .filter(|s| s.repo == repo && s.commit == hash)
        .filter(|s| refname.is_none() || s.refname.is_none() || s.refname.as_deref() == refname)
        .map(|s| render_status(world, s))
        .collect();
    if let Some(q) = param(query, "q") {
        let filter = bbql::parse(q, &FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    bbql::sort(
        &mut items,
        param(query, "sort").unwrap_or("created_on"),
        &FIELDS,
    )
    .map_err(|m| errors::error(400, &m))?;
    Ok(Json(pages::page(items, &page_params, url, query)).into_response())
}

/// The commit a `{commit}` names (hash or branch), or Bitbucket's 404.
fn commit_hash(world: &World, repo: &str, commit: &str) -> Result<String, Response> {
    world
        .resolve(repo, commit)
        .ok_or_else(|| errors::error(404, &format!("Commit not found: {commit}")))
}

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, commit)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let repo = repository.full_name();
    let hash = commit_hash(&world, &repo, &commit)?;
    let query = query_pairs(query.as_deref());
    let url = format!(
        "{}/2.0/repositories/{repo}/commit/{hash}/statuses",
        world.base_url
    );
    listing(&world, &repo, &hash, &query, &url)
}

/// The optional text fields of a status body; 400 naming a field of the
/// wrong type.
fn text_field(body: &Value, field: &str) -> Result<Option<String>, Response> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(errors::field_error(field, "Expected a string.")),
    }
}

fn state_field(body: &Value, required: bool) -> Result<Option<String>, Response> {
    match &body["state"] {
        Value::Null if required => Err(errors::field_error("state", "This field is required.")),
        Value::Null => Ok(None),
        Value::String(state) if STATES.contains(&state.as_str()) => Ok(Some(state.clone())),
        other => Err(errors::field_error(
            "state",
            &format!(
                "{} is not a valid choice; expected one of {}.",
                other,
                STATES.join(", ")
            ),
        )),
    }
}

/// `POST …/statuses/build`: 201 and the status. A key the commit already
/// has overwrites that status (the spec's description, and live), which is
/// `repo:commit_status_updated` rather than `_created`.
pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, commit)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let repo = repository.full_name();
    let hash = commit_hash(&world, &repo, &commit)?;
    let body = json_body(&body)?;
    let key = text_field(&body, "key")?
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| errors::field_error("key", "This field is required."))?;
    let state = state_field(&body, true)?.expect("required");
    let name = text_field(&body, "name")?;
    let description = text_field(&body, "description")?;
    let url = text_field(&body, "url")?;
    let refname = text_field(&body, "refname")?;
    let now = world.now();
    let existing = world
        .statuses
        .iter()
        .position(|s| s.repo == repo && s.commit == hash && s.key == key);
    let at = match existing {
        Some(at) => {
            let s = &mut world.statuses[at];
            s.state = state;
            s.name = name.unwrap_or(s.name.clone());
            s.description = description.unwrap_or(s.description.clone());
            s.url = url.unwrap_or(s.url.clone());
            s.refname = refname.or(s.refname.clone());
            s.updated_on = now;
            at
        }
        None => {
            world.statuses.push(CommitStatus {
                repo: repo.clone(),
                commit: hash,
                key: key.clone(),
                state,
                name: name.unwrap_or_else(|| key.clone()),
                description: description.unwrap_or_default(),
                url: url.unwrap_or_default(),
                refname,
                created_on: now,
                updated_on: now,
            });
            world.statuses.len() - 1
        }
    };
    let answer = render_status(&world, &world.statuses[at]);
    let event = if existing.is_some() {
        "repo:commit_status_updated"
    } else {
        "repo:commit_status_created"
    };
    emit(&mut world, event, &repo, &user, answer.clone());
    Ok(created(answer))
}

type Key = (String, String, String, String);

fn find(world: &World, repo: &str, hash: &str, key: &str) -> Result<usize, Response> {
    world
        .statuses
        .iter()
        .position(|s| s.repo == repo && s.commit == hash && s.key == key)
        .ok_or_else(|| errors::error(404, &format!("No build status with key {key}")))
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, commit, key)): Path<Key>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let repo = repository.full_name();
    let hash = commit_hash(&world, &repo, &commit)?;
    let at = find(&world, &repo, &hash, &key)?;
    Ok(Json(render_status(&world, &world.statuses[at])).into_response())
}

/// `PUT …/statuses/build/{key}`: changes state, name, description, url or
/// refname; the key itself cannot change.
pub async fn update(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, commit, key)): Path<Key>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let repo = repository.full_name();
    let hash = commit_hash(&world, &repo, &commit)?;
    let at = find(&world, &repo, &hash, &key)?;
    let body = json_body(&body)?;
    if let Some(other) = text_field(&body, "key")?
        && other != key
    {
        return Err(errors::field_error("key", "The key cannot be changed."));
    }
    let state = state_field(&body, false)?;
    let name = text_field(&body, "name")?;
    let description = text_field(&body, "description")?;
    let url = text_field(&body, "url")?;
    let refname = text_field(&body, "refname")?;
    let now = world.now();
    let s = &mut world.statuses[at];
    if let Some(state) = state {
        s.state = state;
    }
    if let Some(name) = name {
        s.name = name;
    }
    if let Some(description) = description {
        s.description = description;
    }
    if let Some(url) = url {
        s.url = url;
    }
    if refname.is_some() {
        s.refname = refname;
    }
    s.updated_on = now;
    let answer = render_status(&world, &world.statuses[at]);
    emit(
        &mut world,
        "repo:commit_status_updated",
        &repo,
        &user,
        answer.clone(),
    );
    Ok(Json(answer).into_response())
}

/// `repo:commit_status_*`: actor, repository and `commit_status`.
fn emit(world: &mut World, key: &'static str, repo: &str, actor: &str, status: Value) {
    if !crate::events::wanted(world, repo, key) {
        return;
    }
    let repository = world
        .repository_named(repo)
        .map(|r| crate::render::repository(world, r))
        .unwrap_or(Value::Null);
    let mut payload = json!({ "actor": account(world, actor), "repository": repository });
    let mut status = status;
    status["repository"] = crate::render::summary_named(world, repo);
    payload["commit_status"] = status;
    world.emit(repo, key, payload);
}
