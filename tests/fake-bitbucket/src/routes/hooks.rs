//! `R/hooks[/{uid}]` and `/2.0/workspaces/{workspace}/hooks[/{uid}]`.
//! Like Bitbucket, URLs on internal addresses are refused, loopback
//! included, unless the world allows loopback receivers (tests and the
//! demo). Public URLs are stored, but deliveries to them are never sent:
//! the fake never sends traffic off the machine.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::workspaces;
use super::{
    authenticate, created, json_body, no_content, open_repository, query_pairs, require_write,
};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::{encode_braces, summary};
use crate::world::{EVENT_KEYS, HookSubject, Webhook, World, braced};
use crate::{Shared, delivery, errors, lock};

/// Whose hooks a request is about, once the caller may manage them.
fn subject_of_repository(
    world: &World,
    headers: &HeaderMap,
    workspace: &str,
    slug: &str,
) -> Result<HookSubject, Response> {
    let (user, repository) = open_repository(world, headers, workspace, slug)?;
    // Bitbucket asks for repository admin; every workspace member is one here.
    require_write(world, &user, &repository)?;
    Ok(HookSubject::Repository(repository.full_name()))
}

fn subject_of_workspace(
    world: &World,
    headers: &HeaderMap,
    workspace: &str,
) -> Result<HookSubject, Response> {
    let user = authenticate(world, headers)?;
    let ws = world
        .workspace(workspace)
        .filter(|w| world.is_member(w, &user))
        .ok_or_else(|| errors::workspace_not_found(workspace))?;
    if !world.is_admin(ws, &user) {
        return Err(errors::forbidden(
            "You must be an administrator of this workspace to manage its webhooks.",
        ));
    }
    Ok(HookSubject::Workspace(ws.slug.clone()))
}

fn list_of(
    world: &World,
    subject: &HookSubject,
    query: Option<&str>,
) -> Result<Response, Response> {
    let query = query_pairs(query);
    let params = PageParams::from_query(&query)?;
    let items: Vec<Value> = world
        .hooks
        .iter()
        .filter(|h| h.subject == *subject)
        .map(|h| render(world, h))
        .collect();
    Ok(Json(pages::page(
        items,
        &params,
        &collection_url(world, subject),
        &query,
    ))
    .into_response())
}

fn create_in(world: &mut World, subject: HookSubject, body: &[u8]) -> Result<Response, Response> {
    let body = json_body(body)?;
    let url = check_url(world, &body["url"])?;
    let events = check_events(&body["events"])?;
    let secret = check_secret(&body["secret"])?.flatten();
    let now = world.now();
    let hook = Webhook {
        uuid: world.fresh_uuid(),
        subject,
        url,
        description: body["description"].as_str().unwrap_or_default().to_owned(),
        active: body["active"].as_bool().unwrap_or(true),
        secret,
        events,
        created_at: now,
    };
    let answer = render(world, &hook);
    let location = format!(
        "{}/{}",
        collection_url(world, &hook.subject),
        encode_braces(&hook.uuid)
    );
    world.hooks.push(hook);
    let mut response = created(answer);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn find(world: &World, subject: &HookSubject, uid: &str) -> Result<usize, Response> {
    let uuid = braced(uid);
    world
        .hooks
        .iter()
        .position(|h| h.subject == *subject && h.uuid == uuid)
        .ok_or_else(|| errors::error(404, "Webhook not found"))
}

fn update_in(world: &mut World, at: usize, body: &[u8]) -> Result<Response, Response> {
    let body = json_body(body)?;
    let url = match body.get("url") {
        Some(url) => Some(check_url(world, url)?),
        None => None,
    };
    let events = match body.get("events") {
        Some(events) => Some(check_events(events)?),
        None => None,
    };
    // Omitted keeps the secret; null or "" removes it.
    let secret = match body.get("secret") {
        Some(secret) => Some(check_secret(secret)?.flatten()),
        None => None,
    };
    let hook = &mut world.hooks[at];
    if let Some(url) = url {
        hook.url = url;
    }
    if let Some(events) = events {
        hook.events = events;
    }
    if let Some(secret) = secret {
        hook.secret = secret;
    }
    if let Some(description) = body["description"].as_str() {
        hook.description = description.to_owned();
    }
    if let Some(active) = body["active"].as_bool() {
        hook.active = active;
    }
    Ok(Json(render(world, &world.hooks[at])).into_response())
}

fn check_url(world: &World, value: &Value) -> Result<String, Response> {
    let url = value
        .as_str()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| errors::field_error("url", "This field is required."))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(errors::field_error(
            "url",
            "Enter a valid http or https URL.",
        ));
    }
    let allowed_loopback = world.allow_loopback_webhooks && delivery::is_loopback(url);
    if delivery::is_internal(url) && !allowed_loopback {
        return Err(errors::field_error(
            "url",
            "The URL must resolve to a public address; internal addresses are not allowed.",
        ));
    }
    Ok(url.to_owned())
}

fn check_events(value: &Value) -> Result<Vec<String>, Response> {
    let list = value
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| errors::field_error("events", "This field is required."))?;
    let mut events = Vec::new();
    for event in list {
        let key = event.as_str().unwrap_or_default();
        if !EVENT_KEYS.contains(&key) {
            return Err(errors::field_error(
                "events",
                &format!("\"{key}\" is not a valid event key."),
            ));
        }
        if !events.iter().any(|e| e == key) {
            events.push(key.to_owned());
        }
    }
    Ok(events)
}

/// Some(Some(secret)), Some(None) for null or "", or a 400.
fn check_secret(value: &Value) -> Result<Option<Option<String>>, Response> {
    match value {
        Value::Null => Ok(Some(None)),
        Value::String(s) if s.is_empty() => Ok(Some(None)),
        Value::String(s) if s.chars().count() <= 128 => Ok(Some(Some(s.clone()))),
        Value::String(_) => Err(errors::field_error(
            "secret",
            "Ensure this field has no more than 128 characters.",
        )),
        _ => Err(errors::field_error("secret", "Expected a string.")),
    }
}

fn collection_url(world: &World, subject: &HookSubject) -> String {
    match subject {
        HookSubject::Repository(full_name) => {
            format!("{}/2.0/repositories/{full_name}/hooks", world.base_url)
        }
        HookSubject::Workspace(slug) => format!("{}/2.0/workspaces/{slug}/hooks", world.base_url),
    }
}

/// The `webhook_subscription` definition; never the secret.
pub fn render(world: &World, h: &Webhook) -> Value {
    let (subject_type, subject) = match &h.subject {
        HookSubject::Repository(full_name) => (
            "repository",
            world
                .repository_named(full_name)
                .map(|r| summary(world, r))
                .unwrap_or(Value::Null),
        ),
        HookSubject::Workspace(slug) => (
            "workspace",
            world
                .workspace(slug)
                .map(|w| workspaces::render(world, w))
                .unwrap_or(Value::Null),
        ),
    };
    json!({
        "type": "webhook_subscription",
        "uuid": h.uuid,
        "url": h.url,
        "description": h.description,
        "subject_type": subject_type,
        "subject": subject,
        "active": h.active,
        "created_at": stamp(h.created_at),
        "events": h.events,
        "secret_set": h.secret.is_some(),
        "links": {
            "self": { "href": format!("{}/{}", collection_url(world, &h.subject), encode_braces(&h.uuid)) }
        }
    })
}

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let subject = subject_of_repository(&world, &headers, &workspace, &slug)?;
    list_of(&world, &subject, query.as_deref())
}

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_repository(&world, &headers, &workspace, &slug)?;
    create_in(&mut world, subject, &body)
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let subject = subject_of_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &subject, &uid)?;
    Ok(Json(render(&world, &world.hooks[at])).into_response())
}

pub async fn update(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uid)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &subject, &uid)?;
    update_in(&mut world, at, &body)
}

pub async fn delete(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uid)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &subject, &uid)?;
    world.hooks.remove(at);
    Ok(no_content())
}

pub async fn list_workspace(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let subject = subject_of_workspace(&world, &headers, &workspace)?;
    list_of(&world, &subject, query.as_deref())
}

pub async fn create_workspace(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_workspace(&world, &headers, &workspace)?;
    create_in(&mut world, subject, &body)
}

pub async fn get_workspace(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, uid)): Path<(String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let subject = subject_of_workspace(&world, &headers, &workspace)?;
    let at = find(&world, &subject, &uid)?;
    Ok(Json(render(&world, &world.hooks[at])).into_response())
}

pub async fn update_workspace(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, uid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_workspace(&world, &headers, &workspace)?;
    let at = find(&world, &subject, &uid)?;
    update_in(&mut world, at, &body)
}

pub async fn delete_workspace(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, uid)): Path<(String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let subject = subject_of_workspace(&world, &headers, &workspace)?;
    let at = find(&world, &subject, &uid)?;
    world.hooks.remove(at);
    Ok(no_content())
}
