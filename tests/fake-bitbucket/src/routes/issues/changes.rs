//! `R/issues/{id}/changes`: state and field changes, each recorded with
//! old and new values.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{assignee, find, open_tracker, summary};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::{account, rendered};
use crate::routes::{created, json_body, query_pairs, require_write};
use crate::world::{Issue, IssueChange, KINDS, PRIORITIES, STATES, World};
use crate::{Shared, errors, events, lock};

pub async fn list_changes(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    let issue = &world.issues[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let items: Vec<Value> = issue
        .changes
        .iter()
        .map(|c| render_change(&world, issue, c))
        .collect();
    let url = format!(
        "{}/2.0/repositories/{}/issues/{}/changes",
        world.base_url, issue.repo, issue.id
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn create_change(
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
    let Some(requested) = body["changes"].as_object().filter(|c| !c.is_empty()) else {
        return Err(errors::field_error("changes", "This field is required."));
    };
    let mut wanted: Vec<(String, Option<String>)> = Vec::new();
    for (field, change) in requested {
        let new = &change["new"];
        let value = match field.as_str() {
            "state" | "kind" | "priority" => {
                let allowed: &[&str] = match field.as_str() {
                    "state" => &STATES,
                    "kind" => &KINDS,
                    _ => &PRIORITIES,
                };
                let value = new
                    .as_str()
                    .filter(|v| allowed.contains(v))
                    .ok_or_else(|| {
                        errors::field_error(
                            field,
                            &format!("Must be one of: {}.", allowed.join(", ")),
                        )
                    })?;
                Some(value.to_owned())
            }
            "title" => Some(
                new.as_str()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| errors::field_error("title", "This field may not be blank."))?
                    .to_owned(),
            ),
            "assignee_account_id" | "assignee" => {
                let account = match new {
                    Value::String(id) if id.is_empty() => Value::Null,
                    Value::String(id) => json!({ "account_id": id }),
                    other => other.clone(),
                };
                wanted.push(("assignee".into(), assignee(&world, &account)?.flatten()));
                continue;
            }
            "component" | "milestone" | "version" => new.as_str().map(str::to_owned),
            "content" => Some(new.as_str().unwrap_or_default().to_owned()),
            other => {
                return Err(errors::field_error(
                    "changes",
                    &format!("{other} cannot be changed here."),
                ));
            }
        };
        wanted.push((field.clone(), value));
    }
    let message = body["message"]["raw"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    apply(&mut world, at, &user, wanted, message, true);
    let issue = &world.issues[at];
    let change = issue
        .changes
        .last()
        .cloned()
        .expect("a change was recorded");
    let answer = render_change(&world, issue, &change);
    let (full_name, issue_id) = (issue.repo.clone(), issue.id);
    let mut extra = vec![("changes", changes_json(&change))];
    if !change.message.is_empty() {
        extra.push((
            "comment",
            json!({
                "type": "issue_comment",
                "id": change.id,
                "content": rendered(&change.message),
                "user": account(&world, &user),
                "created_on": stamp(change.created_on),
            }),
        ));
    }
    events::issue(
        &mut world,
        "issue:updated",
        &full_name,
        issue_id,
        &user,
        extra,
    );
    Ok(created(answer))
}

/// Sets the fields, recording one issue change with the old and new values
/// (a PUT that changes nothing records none).
pub(super) fn apply(
    world: &mut World,
    at: usize,
    user: &str,
    wanted: Vec<(String, Option<String>)>,
    message: String,
    always_record: bool,
) {
    let now = world.now();
    let issue = &mut world.issues[at];
    let mut changed = Vec::new();
    for (field, new) in wanted {
        let slot = match field.as_str() {
            "title" => &mut issue.title,
            "content" => &mut issue.content,
            "state" => &mut issue.state,
            "kind" => &mut issue.kind,
            "priority" => &mut issue.priority,
            _ => {
                let slot = match field.as_str() {
                    "assignee" => &mut issue.assignee,
                    "component" => &mut issue.component,
                    "milestone" => &mut issue.milestone,
                    _ => &mut issue.version,
                };
                let old = slot.clone().unwrap_or_default();
                *slot = new.clone();
                let new = new.unwrap_or_default();
                if old != new {
                    changed.push((field, old, new));
                }
                continue;
            }
        };
        let new = new.unwrap_or_default();
        if *slot != new {
            changed.push((field.clone(), std::mem::replace(slot, new.clone()), new));
        }
    }
    issue.updated_on = now;
    if changed.iter().any(|(f, ..)| f == "title" || f == "content") {
        issue.edited_on = Some(now);
    }
    if changed.is_empty() && message.is_empty() && !always_record {
        return;
    }
    let id = issue.changes.len() as u64 + 1;
    issue.changes.push(IssueChange {
        id,
        user: user.to_owned(),
        created_on: now,
        changes: changed,
        message,
    });
}

pub(super) fn changes_json(change: &IssueChange) -> Value {
    let mut changes = Map::new();
    for (field, old, new) in &change.changes {
        changes.insert(field.clone(), json!({ "old": old, "new": new }));
    }
    Value::Object(changes)
}

/// The `issue_change` definition.
fn render_change(world: &World, issue: &Issue, change: &IssueChange) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}/issues/{}", issue.repo, issue.id);
    json!({
        "type": "issue_change",
        "id": change.id,
        "name": change.changes.iter().map(|(f, ..)| f.as_str()).collect::<Vec<_>>().join(", "),
        "created_on": stamp(change.created_on),
        "user": account(world, &change.user),
        "issue": summary(world, issue),
        "changes": changes_json(change),
        "message": rendered(&change.message),
        "links": {
            "self": { "href": format!("{api}/changes/{}", change.id) },
            "issue": { "href": api }
        }
    })
}
