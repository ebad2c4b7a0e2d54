//! ATOM's `IntegrationService` contract over HTTP, so ATOM's Python backend
//! registers this integration like any other:
//!
//! - `GET  /atom/v1/capabilities` → `get_capabilities()`
//! - `GET  /atom/v1/health` → `health_check()`: `{healthy, message, last_check}`
//! - `GET  /atom/v1/operations` → `get_operations()`: `[{name, description,
//!   parameters, complexity}]`, parameters a JSON Schema object, complexity 1-4,
//!   plus each operation's title and facts (read_only, destructive,
//!   idempotent, scopes)
//! - `POST /atom/v1/execute` `{operation, parameters, context}` →
//!   `execute_operation()`: `{success, result, error, details}`
//!
//! Failures carry ATOM's error codes, mapped from the contract's in
//! [`atom_code`] and nowhere else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tracing::Instrument as _;

use crate::auth::principal::Principal;
use crate::calls::{Reading, log_field};
use crate::error::GatewayError;
use crate::routes::{request_id, rfc3339_now};
use crate::state::Gateway;
use atom_runtime::contract::Error as IntegrationError;
use atom_runtime::{Failure, Limit, wire};

/// ATOM's code for a failure, the component's or the gateway's own.
pub fn atom_code(error: &GatewayError) -> &'static str {
    match error {
        // No upstream status: the request never got an answer.
        GatewayError::Component(Failure::Integration(IntegrationError::UpstreamUnavailable(
            info,
        ))) if info.status.is_none() => return "NETWORK_ERROR",
        GatewayError::Component(Failure::LimitExceeded {
            limit: Limit::Memory,
            ..
        }) => return "QUOTA_EXCEEDED",
        _ => {}
    }
    match error.code() {
        "auth_expired" => "AUTH_EXPIRED",
        "auth_invalid" => "AUTH_INVALID",
        "permission_denied" => "PERMISSION_DENIED",
        "not_found" => "RESOURCE_NOT_FOUND",
        // ATOM has no conflict: the call was valid for a state that changed.
        "validation" | "conflict" => "VALIDATION_ERROR",
        "operation_not_found" => "OPERATION_NOT_FOUND",
        "rate_limited" => "RATE_LIMIT",
        "upstream_unavailable" | "retired_upstream" | "overloaded" | "service_down" => {
            "SERVICE_DOWN"
        }
        "timeout" => "TIMEOUT",
        // ATOM has no "maybe": an error it does not retry (retryable: false),
        // with the message saying to check upstream first.
        "outcome_unknown" => "INTERNAL_ERROR",
        _ => "INTERNAL_ERROR",
    }
}

/// ATOM's `context`; other keys it may add are ignored.
#[derive(Default, Deserialize)]
#[serde(default)]
struct CallContext {
    tenant_id: Option<String>,
    agent_id: Option<String>,
    workspace_id: Option<String>,
    connector_id: Option<String>,
}

/// The parameters stay the caller's text: the component parses them, and
/// the gateway only checks they are an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    operation: String,
    #[serde(default)]
    parameters: Option<Box<RawValue>>,
    #[serde(default)]
    context: Option<CallContext>,
}

/// `{success: true, …}`, written with the component's answer as it is.
#[derive(Serialize)]
struct Answered<'a> {
    success: bool,
    result: &'a RawValue,
    error: (),
    details: AnsweredDetails<'a>,
}

#[derive(Serialize)]
struct AnsweredDetails<'a> {
    operation: &'a str,
    request_id: &'a str,
}

/// The id ATOM sees for an operation: its own integrations name operations
/// in snake_case, and it looks them up by the name it was given. `execute`
/// takes either spelling.
fn atom_id(operation: &str) -> String {
    operation.replace('-', "_")
}

/// A caller the authentication layer turned away, in ATOM's shapes: ATOM
/// reads nothing else, and a bare `{"error": …}` looked to its adapter like
/// an unreachable gateway.
pub fn turned_away(path: &str, headers: &HeaderMap, error: &GatewayError) -> Response {
    if path == "/atom/v1/health" {
        let message = match error {
            GatewayError::Unauthenticated(why) => {
                format!("the gateway refused the API key: {why}")
            }
            other => other.message(),
        };
        let body = json!({ "healthy": false, "message": message, "last_check": rfc3339_now() });
        return Json(body).into_response();
    }
    refused(&request_id(headers), "", error)
}

pub async fn capabilities(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Value>, GatewayError> {
    let discovery = gateway.discovery().await?;
    let info = &discovery.info;
    let mut body = wire::capabilities(info);
    body["operations"] = discovery
        .operations
        .iter()
        .map(|op| {
            let id = atom_id(&op.name);
            json!({ "id": id, "name": id, "description": op.description })
        })
        .collect();
    // The gateway holds the credentials: ATOM passes none.
    body["required_params"] = json!([]);
    body["optional_params"] = json!([]);
    body["rate_limits"] = json!({
        "requests_per_hour": info.rate_limits.iter().map(|r| r.requests_per_hour).min(),
    });
    Ok(Json(body))
}

pub async fn operations(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Vec<Value>>, GatewayError> {
    let discovery = gateway.discovery().await?;
    let operations: Vec<Value> = discovery
        .operations
        .iter()
        .map(|op| {
            let listed = wire::operation(op);
            json!({
                "name": atom_id(&op.name),
                "description": op.description,
                "parameters": listed["parameters_schema"],
                "complexity": wire::complexity_level(op.complexity),
                // Beyond ATOM's four keys, which its adapter ignores: what
                // an agent needs to tell a safe call from a dangerous one.
                "title": listed["title"],
                "read_only": listed["read_only"],
                "destructive": listed["destructive"],
                "idempotent": listed["idempotent"],
                "scopes": listed["scopes"],
            })
        })
        .collect();
    Ok(Json(operations))
}

pub async fn health(State(gateway): State<Gateway>, principal: Principal) -> Response {
    let last_check = rfc3339_now();
    let (healthy, message) = match gateway.run(&principal, "health", "{}").await {
        Ok(answer) => {
            let report: Value = serde_json::from_str(&answer).unwrap_or_default();
            (
                report["status"] == "ok",
                report["message"].as_str().unwrap_or_default().to_owned(),
            )
        }
        Err(error) => (false, error.message()),
    };
    Json(json!({ "healthy": healthy, "message": message, "last_check": last_check }))
        .into_response()
}

pub async fn execute(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id(&headers);
    let request: ExecuteRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let error = GatewayError::Validation {
                field: Some("body".into()),
                message: format!("not an execute request: {error}"),
            };
            return refused(&request_id, "", &error);
        }
    };
    let context = request.context.unwrap_or_default();
    if let Some(claimed) = &context.tenant_id
        && *claimed != principal.tenant
    {
        let error = GatewayError::Forbidden("context.tenant_id is not the API key's tenant".into());
        return refused(&request_id, &request.operation, &error);
    }
    let params = match &request.parameters {
        Some(params) if params.get().starts_with('{') => params.get(),
        Some(_) => {
            let error = GatewayError::Validation {
                field: Some("parameters".into()),
                message: "parameters must be a JSON object".into(),
            };
            return refused(&request_id, &request.operation, &error);
        }
        None => "{}",
    };
    let operation = request.operation.replace('_', "-");
    let span = tracing::info_span!(
        "call",
        request_id = %request_id,
        tenant = %principal.tenant,
        operation = %log_field(&operation),
        agent_id = %log_field(context.agent_id.as_deref().unwrap_or("")),
        workspace_id = %log_field(context.workspace_id.as_deref().unwrap_or("")),
        connector_id = %log_field(context.connector_id.as_deref().unwrap_or("")),
    );
    let outcome = async {
        let known = match gateway.discovery().await {
            Ok(discovery) => discovery.operations.iter().any(|op| op.name == operation),
            Err(_) => true,
        };
        if !known {
            return Err(GatewayError::OperationNotFound {
                operation: request.operation,
            });
        }
        gateway
            .run_reading(&principal, &operation, params, Reading::of(&headers))
            .await
    }
    .instrument(span)
    .await;
    let operation = atom_id(&operation);
    match outcome {
        Ok(answer) => answered(&request_id, &operation, answer),
        // Refused before any call: its cause has never said `retryable`.
        Err(error @ GatewayError::OperationNotFound { .. }) => {
            refused(&request_id, &operation, &error)
        }
        Err(error) => failed(&request_id, &operation, &error, error.details()),
    }
}

/// `{success, result, error, details}` of an answered call; an answer that
/// is not JSON (a component's bug) is passed on as a string.
fn answered(request_id: &str, operation: &str, answer: String) -> Response {
    let quoted: Box<RawValue>;
    let result: &RawValue = match serde_json::from_str(&answer) {
        Ok(json) => json,
        Err(_) => match RawValue::from_string(Value::String(answer.clone()).to_string()) {
            Ok(string) => {
                quoted = string;
                &quoted
            }
            Err(error) => return not_written(request_id, operation, &error),
        },
    };
    let body = serde_json::to_vec(&Answered {
        success: true,
        result,
        error: (),
        details: AnsweredDetails {
            operation,
            request_id,
        },
    });
    match body {
        Ok(body) => with_request_id(
            ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            request_id,
        ),
        Err(error) => not_written(request_id, operation, &error),
    }
}

fn not_written(request_id: &str, operation: &str, error: &serde_json::Error) -> Response {
    let error = GatewayError::Unavailable(format!("the answer could not be written: {error}"));
    failed(request_id, operation, &error, error.details())
}

/// A failure for a request the gateway refused before making any call;
/// ATOM's clients have always seen its cause without `retryable`.
fn refused(request_id: &str, operation: &str, error: &GatewayError) -> Response {
    let mut cause = error.details();
    if let Some(cause) = cause.as_object_mut() {
        cause.remove("retryable");
    }
    failed(request_id, operation, error, cause)
}

/// `{success: false, …}` with ATOM's error code; the HTTP status is the
/// failure's.
fn failed(request_id: &str, operation: &str, error: &GatewayError, cause: Value) -> Response {
    let status = error.status();
    let mut details = json!({
        "error_code": atom_code(error),
        "retryable": error.retryable(),
        "status_code": status.as_u16(),
        "operation": operation,
        "request_id": request_id,
        "cause": cause,
    });
    if let Some(wait) = error.retry_after_seconds() {
        details["wait_time"] = json!(wait);
    }
    let message = details["cause"]["message"].clone();
    let body = json!({ "success": false, "result": null, "error": message, "details": details });
    with_request_id(error.respond(body), request_id)
}

fn with_request_id(mut reply: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        reply.headers_mut().insert("x-request-id", value);
    }
    reply
}

#[cfg(test)]
mod tests {
    use atom_runtime::contract::{ErrorInfo, RateLimitError};

    use super::*;

    fn component(error: IntegrationError) -> GatewayError {
        GatewayError::Component(Failure::Integration(error))
    }

    fn info(status: Option<u16>) -> ErrorInfo {
        ErrorInfo {
            message: "m".into(),
            retryable: false,
            status,
        }
    }

    #[test]
    fn every_failure_code_has_an_atom_code() {
        let cases = [
            (
                component(IntegrationError::AuthExpired(info(None))),
                "AUTH_EXPIRED",
            ),
            (
                component(IntegrationError::NotFound(info(Some(404)))),
                "RESOURCE_NOT_FOUND",
            ),
            (
                component(IntegrationError::UpstreamUnavailable(info(None))),
                "NETWORK_ERROR",
            ),
            (
                component(IntegrationError::UpstreamUnavailable(info(Some(503)))),
                "SERVICE_DOWN",
            ),
            (
                GatewayError::Component(Failure::LimitExceeded {
                    limit: Limit::Memory,
                    message: "m".into(),
                }),
                "QUOTA_EXCEEDED",
            ),
            (
                component(IntegrationError::Internal(info(None))),
                "INTERNAL_ERROR",
            ),
            (
                GatewayError::Component(Failure::Trap("m".into())),
                "INTERNAL_ERROR",
            ),
            (
                component(IntegrationError::RateLimited(RateLimitError {
                    message: "m".into(),
                    retry_after_seconds: None,
                    retryable: true,
                })),
                "RATE_LIMIT",
            ),
            (
                GatewayError::RateLimited {
                    message: "m".into(),
                    retry_after_seconds: 1,
                },
                "RATE_LIMIT",
            ),
            (
                GatewayError::Overloaded {
                    message: "m".into(),
                    retry_after_seconds: 1,
                },
                "SERVICE_DOWN",
            ),
            (
                component(IntegrationError::OutcomeUnknown(info(None))),
                "INTERNAL_ERROR",
            ),
            (
                GatewayError::OperationNotFound {
                    operation: "x".into(),
                },
                "OPERATION_NOT_FOUND",
            ),
            (GatewayError::Conflict("m".into()), "VALIDATION_ERROR"),
            (GatewayError::Unavailable("m".into()), "INTERNAL_ERROR"),
        ];
        for (error, expected) in cases {
            assert_eq!(atom_code(&error), expected, "{error}");
        }
    }
}
