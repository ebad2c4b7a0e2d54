//! Every answer the gateway makes itself: `{"error": {"code", "message",
//! "retryable", …}}` with the HTTP status of its code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub type Reply = Response;

/// A refusal by the gateway itself (not the component).
pub fn refuse(status: StatusCode, code: &str, message: &str) -> Reply {
    error(
        status,
        json!({ "code": code, "message": message, "retryable": false }),
    )
}

pub fn unauthenticated(message: &str) -> Reply {
    let mut reply = refuse(StatusCode::UNAUTHORIZED, "auth_invalid", message);
    reply
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    reply
}

/// The HTTP status of a failure code, the component's or the gateway's.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "validation" => StatusCode::BAD_REQUEST,
        "auth_expired" | "auth_invalid" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" | "operation_not_found" => StatusCode::NOT_FOUND,
        "conflict" => StatusCode::CONFLICT,
        "retired_upstream" => StatusCode::GONE,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "upstream_unavailable" => StatusCode::BAD_GATEWAY,
        "overloaded" => StatusCode::SERVICE_UNAVAILABLE,
        "timeout" => StatusCode::GATEWAY_TIMEOUT,
        // Not 502/504: HTTP clients and proxies retry those by themselves,
        // and a second try of a write whose answer was lost may duplicate it.
        "outcome_unknown" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure's wire-format JSON, with the HTTP status of its code and
/// `Retry-After` when it says when to come back.
pub fn failure(details: Value) -> Reply {
    let body = json!({ "error": details });
    answer_failure(&details, body)
}

/// `body`, answered as `details` says: its code's status, its `Retry-After`.
pub fn answer_failure(details: &Value, body: Value) -> Reply {
    let status = status_of(details["code"].as_str().unwrap_or_default());
    let mut reply = (status, Json(body)).into_response();
    if let Some(seconds) = details.get("retry_after_seconds").and_then(Value::as_u64) {
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    reply
}

fn error(status: StatusCode, details: Value) -> Reply {
    (status, Json(json!({ "error": details }))).into_response()
}
