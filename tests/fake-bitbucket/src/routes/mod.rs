//! The fake's HTTP surface: one module per Bitbucket area, a shared layer
//! that records requests and plays injected faults, and authentication.

mod repositories;
mod user;
mod workspaces;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;

use crate::world::{Fault, RecordedRequest, World};
use crate::{Shared, errors};

pub fn router(world: Shared) -> Router {
    Router::new()
        .route("/2.0/user", get(user::current))
        .route("/2.0/user/workspaces", get(workspaces::mine))
        .route("/2.0/user/permissions/workspaces", get(removed))
        .route("/2.0/user/permissions/repositories", get(removed))
        .route("/2.0/workspaces", get(removed))
        .route("/2.0/workspaces/{workspace}", get(workspaces::get))
        .route("/2.0/repositories", get(removed))
        .route("/2.0/repositories/{workspace}", get(repositories::list))
        .route(
            "/2.0/repositories/{workspace}/{repo_slug}",
            get(repositories::get),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            world.clone(),
            record_and_fault,
        ))
        .with_state(world)
}

async fn removed() -> Response {
    errors::removed_change_2770()
}

async fn not_found() -> Response {
    errors::error(404, "Resource not found")
}

/// Logs every request (never the credential) and answers with the next
/// injected fault, if any, before the route sees it.
async fn record_and_fault(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let fault = {
        let mut world = lock(&world);
        world.requests.push(RecordedRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            query: query_pairs(request.uri().query()),
            auth_scheme: request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned),
        });
        world.faults.pop_front()
    };
    match fault {
        Some(Fault::Status {
            status,
            content_type,
            body,
            retry_after,
        }) => errors::raw(status, content_type, body, retry_after),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        None => next.run(request).await,
    }
}

pub(crate) fn lock(world: &Shared) -> std::sync::MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The user a request authenticates as: `Bearer <token>` or, for Atlassian
/// API tokens, `Basic base64(email:token)`. Query-string tokens are refused,
/// as Bitbucket has done since 2026.
pub(crate) fn authenticate(world: &World, headers: &HeaderMap) -> Result<String, Response> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(errors::unauthorized)?;
    let (scheme, value) = header.split_once(' ').ok_or_else(errors::unauthorized)?;
    let user = if scheme.eq_ignore_ascii_case("bearer") {
        world.bearer_tokens.get(value.trim()).cloned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                let (email, token) = pair.split_once(':')?;
                world
                    .api_tokens
                    .get(&(email.to_owned(), token.to_owned()))
                    .cloned()
            })
    } else {
        None
    };
    user.ok_or_else(errors::unauthorized)
}
