//! Bitbucket's error answers: `{"type":"error","error":{…}}` with the status
//! codes and messages the real API uses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub fn error(status: u16, message: &str) -> Response {
    error_body(
        status,
        json!({ "type": "error", "error": { "message": message } }),
    )
}

pub fn error_body(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

pub fn raw(status: u16, content_type: &str, body: String, retry_after: Option<u32>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub fn unauthorized() -> Response {
    error(
        401,
        "Token is invalid, expired, or not supported for this endpoint.",
    )
}

pub fn repository_not_found() -> Response {
    error(
        404,
        "You may not have access to this repository or it no longer exists in this workspace. If you think this repository exists and you have access, make sure you are authenticated.",
    )
}

pub fn workspace_not_found(id: &str) -> Response {
    error(404, &format!("No workspace with identifier '{id}'."))
}

/// The answer of the cross-workspace endpoints removed by CHANGE-2770.
pub fn removed_change_2770() -> Response {
    error_body(
        410,
        json!({
            "type": "error",
            "error": {
                "message": "CHANGE-2770 - Functionality has been deprecated",
                "detail": "Please read the changelog entry for more details.",
                "data": { "announcement_url": "https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770" }
            }
        }),
    )
}

/// A 400 naming the offending field, as Bitbucket's validation errors do.
pub fn field_error(field: &str, message: &str) -> Response {
    error_body(
        400,
        json!({
            "type": "error",
            "error": {
                "message": format!("{field}: {message}"),
                "fields": { field: [message] }
            }
        }),
    )
}

pub fn forbidden(message: &str) -> Response {
    error(403, message)
}

/// Bitbucket's answer when a merge or decline outlives its time budget.
pub fn timed_out() -> Response {
    error(555, "Timed out")
}
