//! `GET /openapi.json`: the gateway described in OpenAPI 3.1, built from
//! the operations the component publishes and the seed's route table, so
//! it says what the gateway does and cannot drift from it.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12, so each operation's schema
//! goes in as it is, except that its `$defs` move to `components/schemas`:
//! inside an OpenAPI document `#/$defs/...` would point at the document.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::error::GatewayError;
use super::seed::{PAGING, ROUTES};
use super::{Discovery, Gateway};
use atom_runtime::wire;

pub async fn document(State(gateway): State<Gateway>) -> Result<Json<Value>, GatewayError> {
    Ok(Json(describe(&*gateway.discovery().await?)))
}

pub fn describe(discovery: &Discovery) -> Value {
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    let mut paths = Map::new();
    let mut by_name = std::collections::HashMap::new();
    for op in &discovery.operations {
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
    for route in ROUTES {
        let Some((params, result)) = by_name.get(route.operation) else {
            continue;
        };
        let path = route.full_path();
        let mut parameters: Vec<Value> = path_names(&path)
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let paging: &[(&str, &str)] = if route.listing { PAGING } else { &[] };
        for (name, _) in route.query.iter().chain(paging) {
            parameters.push(json!({ "name": name, "in": "query", "schema": { "type": "string" } }));
        }
        if route.listing {
            parameters
                .push(json!({ "name": "all", "in": "query", "schema": { "type": "boolean" } }));
        }
        let answer = if route.listing {
            json!({ "type": "object", "properties": {
                route.key: { "type": "array", "items": result["properties"]["items"]["items"].clone() },
                "next_cursor": { "type": ["string", "null"] },
            }})
        } else {
            json!({ "type": "object", "properties": { route.key: result } })
        };
        let status = if route.creates { "201" } else { "200" };
        let mut operation = json!({
            "operationId": format!("seed-{}-{}", route.verb.name(), route.operation),
            "summary": format!("The seed's route for `{}`", route.operation),
            "parameters": parameters,
            "responses": answers(status, answer),
        });
        if matches!(route.verb, super::seed::Verb::Post) {
            operation["requestBody"] =
                json!({ "content": { "application/json": { "schema": params } } });
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.verb.name()] = operation;
    }
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
                "session": { "type": "apiKey", "in": "cookie", "name": super::principal::SESSION_COOKIE },
            },
        },
    })
}

fn answers(status: &str, schema: Value) -> Value {
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
    let mut renamed: std::collections::HashMap<String, String> = defs
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

fn rewrite_refs(value: &mut Value, renamed: &std::collections::HashMap<String, String>) {
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
fn path_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}
