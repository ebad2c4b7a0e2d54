//! ATOM's `IntegrationService` contract over HTTP, so ATOM's Python backend
//! registers this integration like any other:
//!
//! - `GET  /atom/v1/capabilities` → `get_capabilities()`
//! - `GET  /atom/v1/health` → `health_check()`: `{healthy, message, last_check}`
//! - `GET  /atom/v1/operations` → `get_operations()`: `[{name, description,
//!   parameters, complexity}]`, parameters a JSON Schema object, complexity 1-4
//! - `POST /atom/v1/execute` `{operation, parameters, context}` →
//!   `execute_operation()`: `{success, result, error, details}`
//!
//! Failures carry ATOM's error codes, mapped from the contract's in
//! [`atom_code`] and nowhere else.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tracing::Instrument as _;

use super::Gateway;
use super::principal::Principal;
use super::reply::{self, Reply};
use atom_runtime::wire;

/// ATOM's code for a failure's wire-format JSON (`{"code", "status",
/// "limit", …}`), the component's or the gateway's own.
pub fn atom_code(details: &Value) -> &'static str {
    match details["code"].as_str().unwrap_or_default() {
        "auth_expired" => "AUTH_EXPIRED",
        "auth_invalid" => "AUTH_INVALID",
        "permission_denied" => "PERMISSION_DENIED",
        "not_found" => "RESOURCE_NOT_FOUND",
        // ATOM has no conflict: the call was valid for a state that changed.
        "validation" | "conflict" => "VALIDATION_ERROR",
        "operation_not_found" => "OPERATION_NOT_FOUND",
        "rate_limited" => "RATE_LIMIT",
        // No upstream status: the request never got an answer.
        "upstream_unavailable" if details["status"].is_null() => "NETWORK_ERROR",
        "upstream_unavailable" | "retired_upstream" | "overloaded" => "SERVICE_DOWN",
        "timeout" => "TIMEOUT",
        "internal" if details["limit"] == "memory" => "QUOTA_EXCEEDED",
        // ATOM has no "maybe": an error it does not retry (retryable: false),
        // with the message saying to check Bitbucket first.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    operation: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    context: Option<CallContext>,
}

pub async fn capabilities(State(gateway): State<Gateway>, _: Principal) -> Reply {
    let discovery = match gateway.discovery().await {
        Ok(discovery) => discovery,
        Err(reply) => return reply,
    };
    let info = &discovery.info;
    let mut body = wire::capabilities(info);
    body["operations"] = discovery
        .operations
        .iter()
        .map(|op| json!({ "id": op.name, "name": op.name, "description": op.description }))
        .collect();
    // The gateway holds the credentials: ATOM passes none.
    body["required_params"] = json!([]);
    body["optional_params"] = json!([]);
    body["rate_limits"] = json!({
        "requests_per_hour": info.rate_limits.iter().map(|r| r.requests_per_hour).min(),
    });
    Json(body).into_response()
}

pub async fn operations(State(gateway): State<Gateway>, _: Principal) -> Reply {
    let discovery = match gateway.discovery().await {
        Ok(discovery) => discovery,
        Err(reply) => return reply,
    };
    let operations: Vec<Value> = discovery
        .operations
        .iter()
        .map(|op| {
            let listed = wire::operation(op);
            json!({
                "name": op.name,
                "description": op.description,
                "parameters": listed["parameters_schema"],
                "complexity": wire::complexity_level(op.complexity),
            })
        })
        .collect();
    Json(operations).into_response()
}

pub async fn health(State(gateway): State<Gateway>, principal: Principal) -> Reply {
    let last_check = super::rfc3339_now();
    let (healthy, message) = match gateway.run(&principal, "health", "{}").await {
        Ok(answer) => {
            let report: Value = serde_json::from_str(&answer).unwrap_or_default();
            (
                report["status"] == "ok",
                report["message"].as_str().unwrap_or_default().to_owned(),
            )
        }
        Err(refusal) => (
            false,
            refusal["message"].as_str().unwrap_or_default().to_owned(),
        ),
    };
    Json(json!({ "healthy": healthy, "message": message, "last_check": last_check }))
        .into_response()
}

pub async fn execute(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let request_id = request_id(&headers);
    let request: ExecuteRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let details = json!({ "code": "validation", "field": "body", "message": format!("not an execute request: {error}") });
            return envelope(&request_id, "", Err(details));
        }
    };
    let context = request.context.unwrap_or_default();
    if let Some(claimed) = &context.tenant_id
        && *claimed != principal.tenant
    {
        let details = json!({ "code": "permission_denied", "message": "context.tenant_id is not the API key's tenant" });
        return envelope(&request_id, &request.operation, Err(details));
    }
    let operation = request.operation.replace('_', "-");
    let span = tracing::info_span!(
        "call",
        request_id = %request_id,
        tenant = %principal.tenant,
        operation = %operation,
        agent_id = context.agent_id.as_deref().unwrap_or(""),
        workspace_id = context.workspace_id.as_deref().unwrap_or(""),
        connector_id = context.connector_id.as_deref().unwrap_or(""),
    );
    let outcome = async {
        let known = match gateway.discovery().await {
            Ok(discovery) => discovery.operations.iter().any(|op| op.name == operation),
            Err(_) => true,
        };
        if !known {
            return Err(json!({
                "code": "operation_not_found",
                "message": format!("unknown operation '{}'", request.operation),
            }));
        }
        let params = Value::Object(request.parameters.unwrap_or_default()).to_string();
        gateway.run(&principal, &operation, &params).await
    }
    .instrument(span)
    .await;
    envelope(&request_id, &operation, outcome)
}

/// `{success, result, error, details}`; the HTTP status is the failure's.
fn envelope(request_id: &str, operation: &str, outcome: Result<String, Value>) -> Reply {
    let (status, body) = match outcome {
        Ok(answer) => (
            StatusCode::OK,
            json!({
                "success": true,
                "result": serde_json::from_str::<Value>(&answer).unwrap_or(Value::String(answer)),
                "error": null,
                "details": { "operation": operation, "request_id": request_id },
            }),
        ),
        Err(failure) => {
            let status = reply::status_of(failure["code"].as_str().unwrap_or_default());
            let mut details = json!({
                "error_code": atom_code(&failure),
                "retryable": failure["retryable"].as_bool().unwrap_or(false),
                "status_code": status.as_u16(),
                "operation": operation,
                "request_id": request_id,
                "cause": failure,
            });
            if let Some(wait) = failure["retry_after_seconds"].as_u64() {
                details["wait_time"] = json!(wait);
            }
            let error = details["cause"]["message"].clone();
            (
                status,
                json!({ "success": false, "result": null, "error": error, "details": details }),
            )
        }
    };
    let mut reply = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        reply.headers_mut().insert("x-request-id", value);
    }
    reply
}

/// The caller's `X-Request-Id` when it is a plain token, else a fresh one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            let _ = getrandom::fill(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_code_has_an_atom_code() {
        let cases = [
            (json!({"code": "auth_expired"}), "AUTH_EXPIRED"),
            (
                json!({"code": "not_found", "status": 404}),
                "RESOURCE_NOT_FOUND",
            ),
            (
                json!({"code": "upstream_unavailable", "status": null}),
                "NETWORK_ERROR",
            ),
            (
                json!({"code": "upstream_unavailable", "status": 503}),
                "SERVICE_DOWN",
            ),
            (
                json!({"code": "internal", "limit": "memory"}),
                "QUOTA_EXCEEDED",
            ),
            (json!({"code": "internal"}), "INTERNAL_ERROR"),
            (json!({"code": "rate_limited"}), "RATE_LIMIT"),
            (json!({"code": "outcome_unknown"}), "INTERNAL_ERROR"),
            (
                json!({"code": "operation_not_found"}),
                "OPERATION_NOT_FOUND",
            ),
        ];
        for (details, expected) in cases {
            assert_eq!(atom_code(&details), expected, "{details}");
        }
    }
}
