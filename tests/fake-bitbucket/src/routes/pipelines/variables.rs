//! `R/pipelines_config/variables[/{variable_uuid}]`: a repository's
//! pipeline variables. A secured variable's value goes in and never comes
//! out again: every answer leaves `value` out, as live does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::pages::{self, PageParams};
use crate::routes::{
    created, json_body, no_content, open_repository, query_pairs, require_write, required_text,
};
use crate::world::{Repository, Variable, World, braced};
use crate::{Shared, errors, lock};

type VariableAt = (String, String, String);

pub async fn list_variables(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let full_name = repository.full_name();
    let items: Vec<Value> = world
        .pipeline_variables
        .get(&full_name)
        .into_iter()
        .flatten()
        .map(render)
        .collect();
    let url = format!(
        "{}/2.0/repositories/{full_name}/pipelines_config/variables",
        world.base_url
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn get_variable(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<VariableAt>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let index = locate(&world, &repository, &uuid)?;
    Ok(Json(render(
        &world.pipeline_variables[&repository.full_name()][index],
    ))
    .into_response())
}

/// 409 when the repository already has the key (the spec's own status).
pub async fn create_variable(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    let key = valid_key(&body)?;
    let full_name = repository.full_name();
    if taken(&world, &full_name, &key, None) {
        return Err(errors::error(
            409,
            &format!("A variable with the key {key} already exists."),
        ));
    }
    let variable = Variable {
        uuid: world.fresh_uuid(),
        key,
        value: text(&body, "value")?.unwrap_or_default(),
        secured: flag(&body)?.unwrap_or(false),
    };
    let answer = render(&variable);
    world
        .pipeline_variables
        .entry(full_name)
        .or_default()
        .push(variable);
    Ok(created(answer))
}

/// Fields left out keep their values. A secured variable stays secured: its
/// value was never shown, and unsecuring it would show it.
pub async fn update_variable(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<VariableAt>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let index = locate(&world, &repository, &uuid)?;
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let key = match body.get("key") {
        None => None,
        Some(_) => Some(valid_key(&body)?),
    };
    // The spec declares no 409 on updates: a clash is a 400 here.
    if let Some(key) = &key
        && taken(&world, &full_name, key, Some(index))
    {
        return Err(errors::field_error(
            "key",
            &format!("A variable with the key {key} already exists."),
        ));
    }
    let value = text(&body, "value")?;
    let secured = flag(&body)?;
    let variable = &mut world
        .pipeline_variables
        .get_mut(&full_name)
        .expect("located above")[index];
    if let Some(key) = key {
        variable.key = key;
    }
    if let Some(value) = value {
        variable.value = value;
    }
    variable.secured |= secured.unwrap_or(false);
    Ok(Json(render(variable)).into_response())
}

pub async fn delete_variable(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, uuid)): Path<VariableAt>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let index = locate(&world, &repository, &uuid)?;
    if let Some(list) = world.pipeline_variables.get_mut(&repository.full_name()) {
        list.remove(index);
    }
    Ok(no_content())
}

/// The variable's index among the repository's, by uuid with or without
/// braces; 404 otherwise.
fn locate(world: &World, repository: &Repository, uuid: &str) -> Result<usize, Response> {
    let uuid = braced(uuid);
    world
        .pipeline_variables
        .get(&repository.full_name())
        .and_then(|list| list.iter().position(|v| v.uuid == uuid))
        .ok_or_else(|| errors::error(404, "Variable not found"))
}

/// Whether another variable of the repository (not the one at `except`)
/// has the key.
fn taken(world: &World, full_name: &str, key: &str, except: Option<usize>) -> bool {
    world.pipeline_variables.get(full_name).is_some_and(|list| {
        list.iter()
            .enumerate()
            .any(|(i, v)| v.key == key && Some(i) != except)
    })
}

/// `key`, as Pipelines accepts it for an environment variable's name:
/// letters, digits and underscores, not starting with a digit.
fn valid_key(body: &Value) -> Result<String, Response> {
    let key = required_text(body, "key")?;
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(key)
    } else {
        Err(errors::field_error(
            "key",
            "Only letters, digits and underscores, not starting with a digit.",
        ))
    }
}

fn text(body: &Value, field: &str) -> Result<Option<String>, Response> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(v) => Ok(Some(v.clone())),
        _ => Err(errors::field_error(field, "Expected a string.")),
    }
}

fn flag(body: &Value) -> Result<Option<bool>, Response> {
    match &body["secured"] {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(errors::field_error("secured", "Expected true or false.")),
    }
}

/// The `pipeline_variable` definition, `value` left out when secured.
fn render(v: &Variable) -> Value {
    let mut answer = json!({
        "type": "pipeline_variable",
        "uuid": v.uuid,
        "key": v.key,
        "secured": v.secured,
    });
    if !v.secured {
        answer["value"] = json!(v.value);
    }
    answer
}
