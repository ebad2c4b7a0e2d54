//! `GET /openapi.json`: the gateway described in OpenAPI 3.1, built from
//! the operations the component publishes and the route families' own
//! tables, so it says what the gateway does and cannot drift from it.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12, so each operation's schema
//! goes in as it is, except that its `$defs` move to `components/schemas`:
//! inside an OpenAPI document `#/$defs/...` would point at the document.

use axum::Json;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::auth::principal::SESSION_COOKIE;
use crate::error::GatewayError;
use crate::state::{Discovery, Gateway};
use atom_runtime::wire;

/// Each operation's (params, result) schemas, as the document holds them.
pub type Schemas<'a> = HashMap<&'a str, (Value, Value)>;

/// Adds a route family's paths, answered by the operations of `Schemas`.
pub type MorePaths = fn(&Schemas, &mut Map<String, Value>);

pub async fn document(
    gateway: &Gateway,
    more_paths: MorePaths,
) -> Result<Json<Value>, GatewayError> {
    Ok(Json(describe(&*gateway.discovery().await?, more_paths)))
}

pub fn describe(discovery: &Discovery, more_paths: MorePaths) -> Value {
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    let mut paths = Map::new();
    let mut by_name = Schemas::new();
    for op in discovery.operations.iter() {
        let params = hoist(schema_of(&op.parameters_schema), &op.name, &mut schemas);
        let result = hoist(schema_of(&op.result_schema), &op.name, &mut schemas);
        by_name.insert(op.name.as_str(), (params.clone(), result.clone()));
        paths.insert(
            format!("/v1/operations/{}", op.name),
            json!({ "post": {
                "operationId": op.name,
                "summary": op.description,
                "x-complexity": wire::complexity_name(op.complexity),
                "requestBody": { "required": true, "content": { "application/json": { "schema": params } } },
                "responses": answers("200", result),
            }}),
        );
    }
    more_paths(&by_name, &mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{} gateway (atom-harness)", discovery.info.name),
            "version": discovery.info.version,
            "description": discovery.info.description,
        },
        "security": [{ "apiKey": [] }, { "session": [] }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "A tenant's API key (`atom-harness tenants add`)" },
                "session": { "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE },
            },
        },
    })
}

/// An operation's answers: `schema` under `status`, else the typed error.
pub fn answers(status: &str, schema: Value) -> Value {
    json!({
        status: { "description": "The answer", "content": { "application/json": { "schema": schema } } },
        "default": {
            "description": "A typed failure, with the HTTP status of its code",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        },
    })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "retryable"],
            "properties": {
                "code": { "type": "string" },
                "message": { "type": "string" },
                "retryable": { "type": "boolean" },
                "retry_after_seconds": { "type": "integer" },
                "field": { "type": "string" },
            },
        }},
    })
}

fn schema_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

/// Moves `$defs` into `components/schemas` (renamed after the operation if
/// another operation's definition of that name differs) and points the
/// schema's references there.
fn hoist(mut schema: Value, operation: &str, components: &mut Map<String, Value>) -> Value {
    let defs = schema
        .as_object_mut()
        .and_then(|s| s.remove("$defs"))
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default();
    let mut renamed: HashMap<String, String> = defs
        .keys()
        .map(|name| {
            (
                format!("#/$defs/{name}"),
                format!("#/components/schemas/{name}"),
            )
        })
        .collect();
    // A name another operation defined differently gets this operation's prefix.
    let clashes: Vec<String> = defs
        .iter()
        .filter(|(name, definition)| {
            let mut definition = (*definition).clone();
            rewrite_refs(&mut definition, &renamed);
            components
                .get(*name)
                .is_some_and(|existing| *existing != definition)
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in clashes {
        renamed.insert(
            format!("#/$defs/{name}"),
            format!("#/components/schemas/{operation}.{name}"),
        );
    }
    for (name, mut definition) in defs {
        rewrite_refs(&mut definition, &renamed);
        let target = renamed[&format!("#/$defs/{name}")]
            .trim_start_matches("#/components/schemas/")
            .to_owned();
        components.insert(target, definition);
    }
    rewrite_refs(&mut schema, &renamed);
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    schema
}

fn rewrite_refs(value: &mut Value, renamed: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(target)) = object.get_mut("$ref")
                && let Some(new) = renamed.get(target.as_str())
            {
                *target = new.clone();
            }
            object.values_mut().for_each(|v| rewrite_refs(v, renamed));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renamed)),
        _ => {}
    }
}

/// `{workspace}`, `{repo_slug}`… of a route's path.
pub fn path_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}
