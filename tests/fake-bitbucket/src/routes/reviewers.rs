//! `R/default-reviewers` (the repository's own, as accounts) and
//! `R/effective-default-reviewers` (those plus its project's, each saying
//! where it comes from). Anyone who reads the repository reads them.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::settings::{self, Access};
use crate::world::World;
use crate::{Shared, render};

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    settings::page(
        &world,
        &headers,
        &at,
        query,
        Access::Readers,
        "/default-reviewers",
        |world, _, settings, _| {
            settings
                .default_reviewers
                .iter()
                .map(|u| render::account(world, u))
                .collect()
        },
    )
}

/// The repository's reviewers first, then its project's.
pub async fn effective(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(at): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    settings::page(
        &world,
        &headers,
        &at,
        query,
        Access::Readers,
        "/effective-default-reviewers",
        |world, repository, settings, _| {
            let project = format!("{}/{}", repository.workspace, repository.project_key);
            let from_project = world.project_default_reviewers.get(&project);
            let typed = |kind, uuids: &[String]| -> Vec<Value> {
                uuids.iter().map(|u| render(world, kind, u)).collect()
            };
            let mut items = typed("repository", &settings.default_reviewers);
            items.extend(typed(
                "project",
                from_project.map_or(&[][..], Vec::as_slice),
            ));
            items
        },
    )
}

/// The `default_reviewer_and_type` definition.
fn render(world: &World, reviewer_type: &str, uuid: &str) -> Value {
    json!({
        "type": "default_reviewer_and_type",
        "reviewer_type": reviewer_type,
        "user": render::account(world, uuid),
    })
}
