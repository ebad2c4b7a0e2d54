//! `R/permissions-config/users` and `R/permissions-config/groups`: the
//! explicit grants on a repository, for its admins only. Access through
//! workspace membership is not listed, as live leaves it out too.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::settings::{self, Access};
use crate::world::{Grant, Repository, World};
use crate::{Shared, render};

pub async fn users(
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
        Access::Admins,
        "/permissions-config/users",
        |world, repository, settings, _| {
            settings
                .user_permissions
                .iter()
                .map(|g| {
                    let tail =
                        format!("/permissions-config/users/{}", render::encode_braces(&g.to));
                    let mut grant =
                        render(world, repository, g, "repository_user_permission", &tail);
                    grant["user"] = render::account(world, &g.to);
                    grant
                })
                .collect()
        },
    )
}

pub async fn groups(
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
        Access::Admins,
        "/permissions-config/groups",
        |world, repository, settings, _| {
            settings
                .group_permissions
                .iter()
                .map(|g| {
                    let tail = format!("/permissions-config/groups/{}", g.to.slug);
                    let mut grant =
                        render(world, repository, g, "repository_group_permission", &tail);
                    grant["group"] = json!({
                        "type": "group",
                        "name": g.to.name,
                        "slug": g.to.slug,
                        "full_slug": format!("{}:{}", repository.workspace, g.to.slug),
                    });
                    grant
                })
                .collect()
        },
    )
}

/// What a user's and a group's grant share: the subject is added by the caller.
fn render<T>(
    world: &World,
    repository: &Repository,
    grant: &Grant<T>,
    kind: &str,
    tail: &str,
) -> Value {
    json!({
        "type": kind,
        "permission": grant.permission,
        "repository": render::summary(world, repository),
        "links": settings::self_links(world, repository, tail),
    })
}
