//! The JSON the host writes itself: discovery (operations, capabilities)
//! and failures. Operation results are the component's own JSON and pass
//! through untouched; both follow the contract's wire format: snake_case
//! field names and enum values, absent options as `null`.

use serde_json::{Value, json};

use crate::contract::{AuthKind, Complexity, IntegrationInfo, Operation};

/// `read`, `analyze`, `execute`, `critical`.
pub fn complexity_name(complexity: Complexity) -> &'static str {
    match complexity {
        Complexity::Read => "read",
        Complexity::Analyze => "analyze",
        Complexity::Execute => "execute",
        Complexity::Critical => "critical",
    }
}

/// ATOM's scale: 1 reads, 2 aggregates, 3 changes, 4 is hard to undo.
pub fn complexity_level(complexity: Complexity) -> u8 {
    match complexity {
        Complexity::Read => 1,
        Complexity::Analyze => 2,
        Complexity::Execute => 3,
        Complexity::Critical => 4,
    }
}

pub fn auth_kind_name(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::Oauth2 => "oauth2",
        AuthKind::AccessToken => "access_token",
        AuthKind::ApiToken => "api_token",
    }
}

/// `{name, title, description, complexity, complexity_level, read_only,
/// destructive, idempotent, scopes, parameters_schema, result_schema}` with
/// the schemas as JSON objects.
pub fn operation(operation: &Operation) -> Value {
    let facts = &operation.facts;
    json!({
        "name": operation.name,
        "title": operation.title,
        "description": operation.description,
        "complexity": complexity_name(operation.complexity),
        "complexity_level": complexity_level(operation.complexity),
        "read_only": facts.read_only,
        "destructive": facts.destructive,
        "idempotent": facts.idempotent,
        "scopes": facts.scopes,
        "parameters_schema": schema(&operation.parameters_schema),
        "result_schema": schema(&operation.result_schema),
    })
}

pub fn operations(operations: &[Operation]) -> Value {
    Value::Array(operations.iter().map(operation).collect())
}

pub fn capabilities(info: &IntegrationInfo) -> Value {
    json!({
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "auth_kinds": info.auth_kinds.iter().map(|k| auth_kind_name(*k)).collect::<Vec<_>>(),
        "allowed_hosts": info.allowed_hosts,
        "rate_limits": info.rate_limits.iter().map(|hint| json!({
            "scope": hint.scope,
            "requests_per_hour": hint.requests_per_hour,
        })).collect::<Vec<_>>(),
        "supports_webhooks": info.supports_webhooks,
        "webhook_events": info.webhook_events,
    })
}

/// A schema the component published; one that is not JSON is passed on as
/// the text it is rather than dropped.
fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}
