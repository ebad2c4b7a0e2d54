//! What the repository-settings listings share: who may read them, the
//! settings of a repository that has none, and their links.

use axum::Json;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{open_repository, query_pairs};
use crate::pages::{self, PageParams};
use crate::world::{Repository, RepositorySettings, World};
use crate::{Shared, errors, lock};

/// Who may read a listing beyond reading the repository.
#[derive(Clone, Copy)]
pub(super) enum Access {
    Readers,
    /// The spec asks OAuth callers for `repository:admin`; others need to
    /// administer the repository (`World::can_admin`).
    Admins,
}

/// The repository named by the path, once the caller may see the setting.
pub(super) fn open(
    world: &World,
    headers: &HeaderMap,
    (workspace, slug): &(String, String),
    access: Access,
) -> Result<Repository, Response> {
    let (user, repository) = open_repository(world, headers, workspace, slug)?;
    if matches!(access, Access::Admins) && !world.can_admin(&repository, &user) {
        return Err(errors::forbidden(
            "You do not have admin access to this repository.",
        ));
    }
    Ok(repository)
}

/// One page of the setting listed at `R{tail}`: `items` renders the
/// repository's settings (empty ones where it has none) under the query.
pub(super) fn page(
    world: &Shared,
    headers: &HeaderMap,
    at: &(String, String),
    query: Option<String>,
    access: Access,
    tail: &str,
    items: impl FnOnce(&World, &Repository, &RepositorySettings, &[(String, String)]) -> Vec<Value>,
) -> Result<Response, Response> {
    let world = lock(world);
    let repository = open(&world, headers, at, access)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let empty = RepositorySettings::default();
    let settings = world.settings_of(&repository).unwrap_or(&empty);
    let items = items(&world, &repository, settings, &query);
    let url = url(&world, &repository, tail);
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

/// The absolute URL of `R{tail}`.
pub(super) fn url(world: &World, repository: &Repository, tail: &str) -> String {
    format!(
        "{}/2.0/repositories/{}{tail}",
        world.base_url,
        repository.full_name()
    )
}

/// `links` with only `self`, at `R{tail}`.
pub(super) fn self_links(world: &World, repository: &Repository, tail: &str) -> Value {
    json!({ "self": { "href": url(world, repository, tail) } })
}
