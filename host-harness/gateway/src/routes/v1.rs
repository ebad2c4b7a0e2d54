//! The contract over HTTP as it is: discovery, any operation by name for
//! the caller's tenant, and the browser session a tenant's key opens.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::auth::principal::{self, Principal, Proof};
use crate::calls::{Reading, log_field};
use crate::error::GatewayError;
use crate::routes::request_id;
use crate::state::Gateway;
use atom_runtime::wire;

pub async fn capabilities(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Value>, GatewayError> {
    let discovery = gateway.discovery().await?;
    Ok(Json(wire::capabilities(&discovery.info)))
}

pub async fn operations(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Value>, GatewayError> {
    let discovery = gateway.discovery().await?;
    Ok(Json(wire::operations(&discovery.operations)))
}

pub async fn execute(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    Path(operation): Path<String>,
    body: Bytes,
) -> Result<Response, GatewayError> {
    call(&gateway, &principal, &headers, &operation, &body).await
}

pub async fn execute_for_tenant(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    Path((tenant, operation)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GatewayError> {
    if tenant != principal.tenant {
        return Err(GatewayError::Forbidden(
            "this API key does not act for that tenant".into(),
        ));
    }
    call(&gateway, &principal, &headers, &operation, &body).await
}

/// The body is the params as they are: the component parses and checks them.
async fn call(
    gateway: &Gateway,
    principal: &Principal,
    headers: &HeaderMap,
    operation: &str,
    body: &[u8],
) -> Result<Response, GatewayError> {
    let params = match std::str::from_utf8(body) {
        Ok("") => "{}",
        Ok(params) => params,
        Err(_) => return Err(GatewayError::validation("the body is not UTF-8 JSON")),
    };
    let span = tracing::info_span!(
        "call",
        request_id = %request_id(headers),
        tenant = %principal.tenant,
        operation = %log_field(operation),
    );
    let answer = gateway
        .run_reading(principal, operation, params, Reading::of(headers))
        .instrument(span)
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// Trades an API key for a browser session: an HttpOnly cookie and the CSRF
/// token the page sends back on every change.
pub async fn open_session(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    // The session lasts as long as the key it was opened with.
    let key_id = principal::bearer(&headers).and_then(atom_store::key_id);
    let (Proof::ApiKey, Some(key_id)) = (&principal.proof, key_id) else {
        return Err(GatewayError::Forbidden(
            "a session is opened with an API key".into(),
        ));
    };
    let opened = gateway
        .sessions
        .open(&principal.tenant, key_id, gateway.secure_cookies)
        .await?;
    let mut reply = (
        StatusCode::CREATED,
        Json(json!({ "tenant": principal.tenant, "csrf_token": opened.csrf })),
    )
        .into_response();
    reply
        .headers_mut()
        .insert(header::SET_COOKIE, opened.cookie);
    Ok(reply)
}

pub async fn read_session(principal: Principal) -> Json<Value> {
    let csrf = match &principal.proof {
        Proof::Session { csrf } => Some(csrf.as_str()),
        Proof::ApiKey | Proof::OauthState | Proof::WebhookSignature | Proof::Wait => None,
    };
    Json(json!({ "tenant": principal.tenant, "csrf_token": csrf }))
}

pub async fn close_session(
    State(gateway): State<Gateway>,
    _: Principal,
    headers: HeaderMap,
) -> Response {
    if let Err(error) = gateway.sessions.close(&headers).await {
        return error.into_response();
    }
    let mut reply = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = principal::expired_cookie(gateway.secure_cookies) {
        reply.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    reply
}
