//! `GET /site/oauth2/authorize` and `POST /site/oauth2/access_token`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use super::{param, query_pairs};
use crate::world::World;
use crate::world::oauth::{Grant, unix_now};
use crate::{Shared, lock};

/// The consent screen, already agreed to by `authorize_as`: redirects to the
/// consumer's callback with a single-use code and the caller's `state`.
pub async fn authorize(State(world): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let mut world = lock(&world);
    let query = query_pairs(query.as_deref());
    let Some(consumer) = param(&query, "client_id")
        .and_then(|id| world.oauth.consumers.iter().find(|c| c.key == id))
        .cloned()
    else {
        return (StatusCode::BAD_REQUEST, "Invalid client_id").into_response();
    };
    if param(&query, "response_type") != Some("code") {
        return (StatusCode::BAD_REQUEST, "Unsupported response_type").into_response();
    }
    let redirect_uri = param(&query, "redirect_uri")
        .unwrap_or(&consumer.callback_url)
        .to_owned();
    if !redirect_uri.starts_with(&consumer.callback_url) {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri does not match the consumer's callback URL",
        )
            .into_response();
    }
    let code = world.oauth.fresh("code");
    let grant = Grant {
        user: world.oauth.authorize_as.clone(),
        consumer: consumer.key,
        redirect_uri: redirect_uri.clone(),
    };
    world.oauth.codes.insert(code.clone(), grant);
    let mut target = form_urlencoded::Serializer::new(String::new());
    target.append_pair("code", &code);
    if let Some(state) = param(&query, "state") {
        target.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", target.finish());
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The token endpoint: confidential clients authenticate with Basic.
pub async fn token(State(world): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut world = lock(&world);
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let grant_type = param(&form, "grant_type").unwrap_or_default().to_owned();
    world.oauth.token_requests.push(grant_type.clone());
    let Some(consumer) = client(&world, &headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid OAuth client credentials",
        );
    };
    let grant = match grant_type.as_str() {
        "authorization_code" => {
            let code = param(&form, "code").unwrap_or_default();
            match world.oauth.codes.remove(code) {
                Some(grant) if grant.consumer == consumer => {
                    let redirect = param(&form, "redirect_uri");
                    if redirect.is_some_and(|r| r != grant.redirect_uri) {
                        return oauth_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_grant",
                            "redirect_uri mismatch",
                        );
                    }
                    grant
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The authorization code is invalid or expired.",
                    );
                }
            }
        }
        "refresh_token" => {
            let token = param(&form, "refresh_token").unwrap_or_default().to_owned();
            match world.oauth.refresh_tokens.remove(&token) {
                Some(grant) if grant.consumer == consumer => {
                    // Rotation: the token just used is dead from now on.
                    world.oauth.spent_refresh_tokens.push(token);
                    grant
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid refresh_token",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            );
        }
    };
    issue(&mut world, grant)
}

fn client(world: &World, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let (key, secret) = pair.split_once(':')?;
    // Clients form-encode id and secret before Basic (RFC 6749 §2.3.1).
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let (key, secret) = (decode(key)?, decode(secret)?);
    world
        .oauth
        .consumers
        .iter()
        .find(|c| c.key == key && c.secret == secret)
        .map(|c| c.key.clone())
}

fn issue(world: &mut World, grant: Grant) -> Response {
    let access = world.oauth.fresh("access");
    let refresh = world.oauth.fresh("refresh");
    let lifetime = world.oauth.access_lifetime;
    let scopes = world
        .oauth
        .consumers
        .iter()
        .find(|c| c.key == grant.consumer)
        .map(|c| c.scopes.clone())
        .unwrap_or_default();
    world
        .bearer_tokens
        .insert(access.clone(), grant.user.clone());
    world
        .oauth
        .access_expiry
        .insert(access.clone(), unix_now() + lifetime);
    world.oauth.access_scopes.insert(
        access.clone(),
        scopes.split_whitespace().map(str::to_owned).collect(),
    );
    world.oauth.refresh_tokens.insert(refresh.clone(), grant);
    axum::Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": lifetime,
        "refresh_token": refresh,
        "scope": scopes,
        "state": "authorization_code",
    }))
    .into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
