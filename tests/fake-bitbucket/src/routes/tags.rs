//! `R/refs/tags` and `R/refs/tags/{name}` (names may hold `/`). Listing,
//! lookup, deletion and the checks of a create are the branches' own (see
//! `branches`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::branches::{delete_ref, get_ref, list_refs, new_ref};
use super::created;
use crate::clock::git_date;
use crate::render::{self, RefKind, git_ref};
use crate::world::{Annotation, Tag, World};
use crate::{Shared, lock};

/// Fields `q` and `sort` accept on tags.
pub(super) const FIELDS: [&str; 8] = [
    "name",
    "target.hash",
    "target.date",
    "target.message",
    "target.author.raw",
    "message",
    "date",
    "tagger.raw",
];

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    list_refs(&world, RefKind::Tag, &headers, &at, query.as_deref())
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    get_ref(&world, RefKind::Tag, &headers, &at)
}

/// Every tag made through the API is annotated: the spec's description of
/// the operation gives the message Bitbucket writes when none is sent.
pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let new = new_ref(&world, RefKind::Tag, &headers, &at, &body)?;
    let message = match new.body["message"].as_str() {
        Some(message) if !message.trim().is_empty() => message.to_owned(),
        _ => format!("Added tag {} for changeset {}", new.name, &new.target[..12]),
    };
    let tagger_raw = world
        .user(&new.user)
        .map(|u| format!("{} <{}>", u.display_name, u.email))
        .unwrap_or_default();
    let tag = Tag {
        repo: new.repo.clone(),
        name: new.name.clone(),
        target: new.target.clone(),
        annotation: Some(Annotation {
            message,
            tagger: Some(new.user.clone()),
            tagger_raw,
            date: world.now(),
        }),
    };
    world.tags.push(tag.clone());
    new.announce(&mut world);
    Ok(created(render(&world, &tag)))
}

pub async fn delete(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    delete_ref(&mut world, RefKind::Tag, &headers, &at)
}

/// The `tag` definition. A lightweight tag has `message`, `date` and
/// `tagger` null, as live answers carry them.
pub(super) fn render(world: &World, t: &Tag) -> Value {
    let mut tag = git_ref(world, RefKind::Tag, &t.repo, &t.name, &t.target);
    let annotation = t.annotation.as_ref();
    tag["message"] = json!(annotation.map(|a| &a.message));
    tag["date"] = json!(annotation.map(|a| git_date(a.date)));
    tag["tagger"] = annotation.map_or(Value::Null, |a| {
        render::author(world, &a.tagger_raw, a.tagger.as_deref())
    });
    tag
}
