//! `GET /2.0/repositories/{workspace}` and `GET`, `POST`, `PUT`, `DELETE`
//! `/2.0/repositories/{workspace}/{repo_slug}`

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    authenticate, json_body, no_content, open_repository, param, query_pairs, require_write,
};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::world::{Repository, Workspace, World};
use crate::{Shared, bbql, errors, events, lock, render};

/// Fields `q` and `sort` accept on repositories.
const FIELDS: [&str; 12] = [
    "name",
    "slug",
    "full_name",
    "description",
    "language",
    "is_private",
    "size",
    "created_on",
    "updated_on",
    "project.key",
    "project.name",
    "has_issues",
];

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Some(ws) = world.workspace(&workspace) else {
        return errors::workspace_not_found(&workspace);
    };
    let query = query_pairs(query.as_deref());
    let params = match PageParams::from_query(&query) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let membership = ws.members.iter().find(|m| m.user_uuid == user);
    let role_ok = match param(&query, "role") {
        None => true,
        Some("member" | "contributor") => membership.is_some(),
        Some("admin" | "owner") => membership.is_some_and(|m| m.administrator),
        Some(other) => return errors::error(400, &format!("Invalid role: {other}")),
    };
    // `World::can_read` for a repository of `ws`, its membership looked up
    // once rather than for each of the workspace's repositories.
    let member = membership.is_some();
    let readable: Vec<_> = if role_ok {
        world
            .repositories
            .iter()
            .filter(|r| r.workspace == ws.slug && (!r.is_private || member))
            .collect()
    } else {
        Vec::new()
    };
    let url = format!("{}/2.0/repositories/{}", world.base_url, ws.slug);
    if param(&query, "q").is_none() && param(&query, "sort").is_none() {
        let page = pages::page_of(readable, &params, &url, &query, |r| {
            render::repository(&world, r)
        });
        return Json(page).into_response();
    }
    // Filters and sorts read the rendered fields.
    let mut items: Vec<Value> = readable
        .into_iter()
        .map(|r| render::repository(&world, r))
        .collect();
    if let Some(q) = param(&query, "q") {
        match bbql::parse(q, &FIELDS) {
            Ok(filter) => items.retain(|item| filter.matches(item)),
            Err(message) => return errors::error(400, &message),
        }
    }
    if let Some(sort) = param(&query, "sort")
        && let Err(message) = bbql::sort(&mut items, sort, &FIELDS)
    {
        return errors::error(400, &message);
    }
    Json(pages::page(items, &params, &url, &query)).into_response()
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
) -> Response {
    let world = lock(&world);
    let user = match authenticate(&world, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let found = world
        .workspace(&workspace)
        .and_then(|ws| world.repository(ws, &slug))
        .filter(|r| world.can_read(r, &user));
    match found {
        Some(repository) => Json(render::repository(&world, repository)).into_response(),
        None => errors::repository_not_found(),
    }
}

/// `fork_policy`'s enum in the spec.
const FORK_POLICIES: [&str; 3] = ["allow_forks", "no_public_forks", "no_forks"];

/// `POST R`: answers 200, not 201, as the spec declares. The repository is
/// empty (no commits, no branches); `mainbranch` names the branch its
/// first push will make.
pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let user = authenticate(&world, &headers)?;
    let ws = world
        .workspace(&workspace)
        .ok_or_else(|| errors::workspace_not_found(&workspace))?;
    if !world.is_member(ws, &user) {
        return Err(errors::forbidden(
            "You do not have permission to create repositories in this workspace.",
        ));
    }
    if world.repository(ws, &slug).is_some() {
        let message = "Repository with this Slug and Owner already exists.";
        return Err(errors::error_body(
            400,
            json!({
                "type": "error",
                "error": { "message": message, "fields": { "__all__": [message] } }
            }),
        ));
    }
    let body = json_body(&body)?;
    if body.get("scm").is_some_and(|scm| scm != "git") {
        return Err(errors::field_error(
            "scm",
            "Only git repositories can be created.",
        ));
    }
    let (project_key, project_name) = oldest_project(&world, ws)?;
    let workspace = ws.slug.clone();
    let now = stamp(world.now());
    let mut repository = Repository {
        uuid: world.fresh_uuid(),
        workspace,
        name: slug.clone(),
        slug,
        description: String::new(),
        is_private: true,
        language: String::new(),
        size: 0,
        has_issues: false,
        has_wiki: false,
        fork_policy: "allow_forks".into(),
        created_on: now.clone(),
        updated_on: now,
        project_key,
        project_name,
        main_branch: "main".into(),
    };
    apply(&world, &mut repository, &body)?;
    let answer = render::repository(&world, &repository);
    let full_name = repository.full_name();
    world.repositories.push(repository);
    events::repository(&mut world, "repo:created", &full_name, &user);
    Ok(Json(answer).into_response())
}

/// `PUT R`, as an update only: the spec's other use, creating a missing
/// repository (201), answers 404 here. A new `name` renames without moving
/// the repository to a new slug.
pub async fn update(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, mut repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    apply(&world, &mut repository, &body)?;
    repository.updated_on = stamp(world.now());
    let answer = render::repository(&world, &repository);
    if let Some(stored) = world
        .repositories
        .iter_mut()
        .find(|r| r.uuid == repository.uuid)
    {
        *stored = repository;
    }
    Ok(Json(answer).into_response())
}

/// `DELETE R`: `redirect_to` is accepted and changes nothing the API shows.
/// Bitbucket asks for repository admin; every workspace member is one here
/// (as for repository webhooks).
pub async fn delete(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let full_name = repository.full_name();
    events::repository(&mut world, "repo:deleted", &full_name, &user);
    world.remove_repository(&full_name);
    Ok(no_content())
}

/// The spec: a repository created without a project goes to the
/// workspace's oldest one.
fn oldest_project(world: &World, ws: &Workspace) -> Result<(String, String), Response> {
    world
        .projects
        .iter()
        .filter(|p| p.workspace == ws.slug)
        .min_by(|a, b| a.created_on.cmp(&b.created_on))
        .map(|p| (p.key.clone(), p.name.clone()))
        .ok_or_else(|| errors::field_error("project", "This workspace has no project."))
}

/// The fields of a `repository` body a create or update may set; the rest
/// (`owner`, `full_name`, `scm`…) the URL or the fake decides.
fn apply(world: &World, r: &mut Repository, body: &Value) -> Result<(), Response> {
    let text = |field: &str| body.get(field).and_then(Value::as_str);
    let flag = |field: &str| body.get(field).and_then(Value::as_bool);
    if let Some(name) = text("name").map(str::trim).filter(|n| !n.is_empty()) {
        r.name = name.to_owned();
    }
    if let Some(description) = text("description") {
        r.description = description.to_owned();
    }
    if let Some(language) = text("language") {
        r.language = language.to_owned();
    }
    r.is_private = flag("is_private").unwrap_or(r.is_private);
    r.has_issues = flag("has_issues").unwrap_or(r.has_issues);
    r.has_wiki = flag("has_wiki").unwrap_or(r.has_wiki);
    if let Some(policy) = text("fork_policy") {
        if !FORK_POLICIES.contains(&policy) {
            return Err(errors::field_error("fork_policy", "Select a valid choice."));
        }
        r.fork_policy = policy.to_owned();
    }
    // The spec's examples pass a project's uuid in `key` too.
    if let Some(key) = body["project"]["key"].as_str() {
        let project = world
            .projects
            .iter()
            .find(|p| p.workspace == r.workspace && (p.key == key || p.uuid == key))
            .ok_or_else(|| errors::field_error("project", "Project not found."))?;
        r.project_key = project.key.clone();
        r.project_name = project.name.clone();
    }
    if let Some(branch) = body["mainbranch"]["name"].as_str() {
        // An empty repository may name the branch its first push will make.
        let full_name = r.full_name();
        let has_branches = world.branches.iter().any(|b| b.repo == full_name);
        if has_branches && world.branch_in(&full_name, branch).is_none() {
            return Err(errors::field_error("mainbranch", "No such branch."));
        }
        r.main_branch = branch.to_owned();
    }
    if !r.is_private && world.project_of(r).is_some_and(|p| p.is_private) {
        return Err(errors::field_error(
            "is_private",
            "A private project cannot hold a public repository.",
        ));
    }
    Ok(())
}
