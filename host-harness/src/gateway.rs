//! The HTTP gateway: the contract over HTTP for hosts that do not embed
//! Wasmtime. One sandbox, many tenants; every answer is the component's JSON
//! or a `{"error": {...}}` whose HTTP status follows the error code.
//!
//! - `GET  /v1/capabilities`, `GET /v1/operations`
//! - `POST /v1/tenants/{tenant}/operations/{operation}` with the params as the body
//!
//! It binds where it is told; put it behind the platform's authentication.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::sandbox::Sandbox;
use crate::tenant::Tenant;
use crate::wire;

/// Builds the tenant a request names, or refuses an unknown one.
pub type TenantResolver = Arc<dyn Fn(&str) -> Option<Tenant> + Send + Sync>;

#[derive(Clone)]
struct Gateway {
    sandbox: Sandbox,
    tenants: TenantResolver,
    /// Discovery runs under this tenant (it needs no credential).
    discovery: Tenant,
}

pub fn router(sandbox: Sandbox, tenants: TenantResolver, discovery: Tenant) -> Router {
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/operations", get(operations))
        .route("/v1/tenants/{tenant}/operations/{operation}", post(execute))
        .with_state(Gateway {
            sandbox,
            tenants,
            discovery,
        })
}

async fn capabilities(State(gateway): State<Gateway>) -> Response {
    match gateway.sandbox.capabilities(&gateway.discovery).await {
        Ok(info) => Json(wire::capabilities(&info)).into_response(),
        Err(failure) => failure_response(&failure),
    }
}

async fn operations(State(gateway): State<Gateway>) -> Response {
    match gateway.sandbox.operations(&gateway.discovery).await {
        Ok(operations) => Json(wire::operations(&operations)).into_response(),
        Err(failure) => failure_response(&failure),
    }
}

async fn execute(
    State(gateway): State<Gateway>,
    Path((tenant, operation)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(tenant) = (gateway.tenants)(&tenant) else {
        return error(
            StatusCode::NOT_FOUND,
            json!({ "code": "not_found", "message": format!("unknown tenant '{tenant}'"), "retryable": false }),
        );
    };
    let params = if body.is_empty() {
        "{}".to_owned()
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    match gateway.sandbox.execute(&tenant, &operation, &params).await {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer).into_response(),
        Err(failure) => failure_response(&failure),
    }
}

fn failure_response(failure: &Failure) -> Response {
    let status = match failure.code() {
        "validation" => StatusCode::BAD_REQUEST,
        "auth_expired" | "auth_invalid" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "conflict" => StatusCode::CONFLICT,
        "retired_upstream" => StatusCode::GONE,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "upstream_unavailable" => StatusCode::BAD_GATEWAY,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let details = failure.to_json();
    let mut response = error(status, details.clone());
    if let Some(seconds) = details.get("retry_after_seconds").and_then(Value::as_u64) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn error(status: StatusCode, details: Value) -> Response {
    (status, Json(json!({ "error": details }))).into_response()
}
