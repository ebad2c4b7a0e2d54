//! `R/downloads`: the repository's uploaded artifacts, newest upload last
//! as seeded. The spec gives the page no schema; the fields are live's.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::settings::{self, Access};
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
        "/downloads",
        |world, repository, settings, _| {
            settings
                .downloads
                .iter()
                .map(|d| {
                    // The link is where the file itself is fetched from.
                    let tail = format!("/downloads/{}", urlencoding(&d.name));
                    json!({
                        "type": "download",
                        "name": d.name,
                        "size": d.size,
                        "downloads": d.downloads,
                        "created_on": d.created_on,
                        "user": render::account(world, &d.user),
                        "links": settings::self_links(world, repository, &tail),
                    })
                })
                .collect()
        },
    )
}

/// A file name as one path segment.
fn urlencoding(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
