//! `R/issues[/{id}[/changes]]`: Bitbucket's deprecated tracker, 404 where
//! a repository has none and 410 everywhere once it is retired.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

mod changes;
mod comments;

use changes::{apply, changes_json};
pub use changes::{create_change, list_changes};
pub use comments::{create_comment, delete_comment, get_comment, list_comments, update_comment};

use super::{
    authenticate, created, filter_and_sort, json_body, open_repository, query_pairs, require_write,
    required_text,
};
use crate::pages::{self, PageParams};
use crate::render::{self, summary_named};
use crate::world::{Issue, KINDS, PRIORITIES, Repository, STATES, World};
use crate::{Shared, errors, events, lock};

/// Fields `q` and `sort` accept on issues.
const FIELDS: [&str; 16] = [
    "id",
    "title",
    "state",
    "kind",
    "priority",
    "votes",
    "created_on",
    "updated_on",
    "content.raw",
    "reporter.uuid",
    "reporter.account_id",
    "assignee.uuid",
    "assignee.account_id",
    "component.name",
    "milestone.name",
    "version.name",
];

pub const SUNSET_URL: &str = "https://community.atlassian.com/forums/Bitbucket-articles/Announcing-sunset-of-Bitbucket-Issues-and-Wikis/ba-p/3193882";

/// The caller and a repository whose tracker can be used.
pub(super) fn open_tracker(
    world: &World,
    headers: &HeaderMap,
    workspace: &str,
    slug: &str,
) -> Result<(String, Repository), Response> {
    authenticate(world, headers)?;
    if world.issues_retired {
        return Err(errors::error_body(
            410,
            json!({ "type": "error", "error": {
                "message": "The issue tracker has been removed: Bitbucket Issues were sunset on 2026-08-20.",
                "detail": "Issues and their API endpoints are no longer available. Export your issues or move to Jira.",
                "data": { "announcement_url": SUNSET_URL }
            } }),
        ));
    }
    let (user, repository) = open_repository(world, headers, workspace, slug)?;
    if !repository.has_issues {
        return Err(errors::error(404, "Repository has no issue tracker."));
    }
    Ok((user, repository))
}

pub(super) fn find(world: &World, repository: &Repository, id: &str) -> Result<usize, Response> {
    let full_name = repository.full_name();
    id.parse::<u64>()
        .ok()
        .and_then(|id| {
            world
                .issues
                .iter()
                .position(|i| i.repo == full_name && i.id == id)
        })
        .ok_or_else(|| errors::error(404, "Issue not found"))
}

/// The short `issue` that changes and comments embed.
pub(super) fn summary(world: &World, issue: &Issue) -> Value {
    json!({
        "type": "issue",
        "id": issue.id,
        "title": issue.title,
        "repository": summary_named(world, &issue.repo),
        "links": { "self": { "href": format!(
            "{}/2.0/repositories/{}/issues/{}",
            world.base_url, issue.repo, issue.id
        ) } }
    })
}

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    let mut items: Vec<Value> = world
        .issues
        .iter()
        .filter(|i| i.repo == full_name)
        .map(|i| render::issue(&world, i))
        .collect();
    filter_and_sort(&mut items, &query, &FIELDS)?;
    let url = format!("{}/2.0/repositories/{full_name}/issues", world.base_url);
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &id)?;
    Ok(Json(render::issue(&world, &world.issues[at])).into_response())
}

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let title = required_text(&body, "title")?;
    let kind = choice(&body, "kind", &KINDS)?.unwrap_or_else(|| "bug".into());
    let priority = choice(&body, "priority", &PRIORITIES)?.unwrap_or_else(|| "major".into());
    let state = choice(&body, "state", &STATES)?.unwrap_or_else(|| "new".into());
    let assignee = assignee(&world, &body["assignee"])?.flatten();
    let id = world
        .issues
        .iter()
        .filter(|i| i.repo == full_name)
        .map(|i| i.id)
        .max()
        .unwrap_or(0)
        + 1;
    let now = world.now();
    let issue = Issue {
        repo: full_name.clone(),
        id,
        title,
        content: body["content"]["raw"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reporter: user.clone(),
        assignee,
        state,
        kind,
        priority,
        component: named(&body["component"]).flatten(),
        milestone: named(&body["milestone"]).flatten(),
        version: named(&body["version"]).flatten(),
        votes: 0,
        watches: 1,
        created_on: now,
        updated_on: now,
        edited_on: None,
        changes: Vec::new(),
        comments: Vec::new(),
    };
    let answer = render::issue(&world, &issue);
    world.issues.push(issue);
    events::issue(
        &mut world,
        "issue:created",
        &full_name,
        id,
        &user,
        Vec::new(),
    );
    Ok(created(answer))
}

pub async fn update(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    let body = json_body(&body)?;
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    if let Some(title) = body.get("title") {
        let title = title
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| errors::field_error("title", "This field may not be blank."))?;
        wanted.push(("title".into(), Some(title.to_owned())));
    }
    if let Some(content) = body.get("content") {
        wanted.push((
            "content".into(),
            Some(content["raw"].as_str().unwrap_or_default().to_owned()),
        ));
    }
    for (field, allowed) in [
        ("kind", &KINDS[..]),
        ("priority", &PRIORITIES[..]),
        ("state", &STATES[..]),
    ] {
        if body.get(field).is_some() {
            let value = choice(&body, field, allowed)?
                .ok_or_else(|| errors::field_error(field, "This field may not be null."))?;
            wanted.push((field.into(), Some(value)));
        }
    }
    if let Some(value) = body.get("assignee") {
        wanted.push(("assignee".into(), assignee(&world, value)?.flatten()));
    }
    for field in ["component", "milestone", "version"] {
        if let Some(value) = body.get(field) {
            wanted.push((field.into(), named(value).flatten()));
        }
    }
    apply(&mut world, at, &user, wanted, String::new(), false);
    let (full_name, issue_id) = (repository.full_name(), world.issues[at].id);
    let change = world.issues[at]
        .changes
        .last()
        .filter(|c| c.created_on == world.issues[at].updated_on)
        .cloned();
    let extra = change
        .map(|c| vec![("changes", changes_json(&c))])
        .unwrap_or_default();
    events::issue(
        &mut world,
        "issue:updated",
        &full_name,
        issue_id,
        &user,
        extra,
    );
    Ok(Json(render::issue(&world, &world.issues[at])).into_response())
}

fn choice(body: &Value, field: &str, allowed: &[&str]) -> Result<Option<String>, Response> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(v) if allowed.contains(&v.as_str()) => Ok(Some(v.clone())),
        _ => Err(errors::field_error(
            field,
            &format!("Must be one of: {}.", allowed.join(", ")),
        )),
    }
}

/// `{account_id}` or `{uuid}` → Some(Some(uuid)); `null` → Some(None).
pub(super) fn assignee(world: &World, value: &Value) -> Result<Option<Option<String>>, Response> {
    if value.is_null() {
        return Ok(Some(None));
    }
    world
        .users
        .iter()
        .find(|u| {
            value["account_id"].as_str() == Some(u.account_id.as_str())
                || value["uuid"].as_str() == Some(u.uuid.as_str())
        })
        .map(|u| Some(Some(u.uuid.clone())))
        .ok_or_else(|| errors::field_error("assignee", "No such account."))
}

/// `{"name": "x"}` → Some(Some("x")); `null` → Some(None); absent → None.
fn named(value: &Value) -> Option<Option<String>> {
    match value {
        Value::Null => None,
        Value::Object(_) => Some(value["name"].as_str().map(str::to_owned)),
        Value::String(name) => Some(Some(name.clone())),
        _ => None,
    }
}
