//! The fake's HTTP surface: one module per Bitbucket area, a shared layer
//! that records requests and plays injected faults, and authentication.

mod branches;
mod commit_src;
mod commits;
mod deployments;
mod diff;
mod downloads;
mod hooks;
mod issues;
mod logs;
mod oauth;
mod permissions;
mod pipelines;
mod projects;
mod pullrequests;
mod repositories;
mod restrictions;
mod reviewers;
mod search;
mod settings;
pub(crate) mod source;
pub(crate) mod statuses;
mod tags;
mod user;
mod workspaces;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::world::{Fault, RecordedRequest, Repository, World};
use crate::{Shared, bbql, delivery, errors, lock, spec};

/// `/2.0/repositories/{workspace}/{repo_slug}`: every repository route hangs off it.
const R: &str = "/2.0/repositories/{workspace}/{repo_slug}";

pub fn router(world: Shared) -> Router {
    Router::new()
        .route("/2.0/user", get(user::current))
        .route("/2.0/user/workspaces", get(workspaces::mine))
        .route("/2.0/user/permissions/workspaces", get(removed))
        .route("/2.0/user/permissions/repositories", get(removed))
        .route("/2.0/workspaces", get(removed))
        .route("/2.0/workspaces/{workspace}", get(workspaces::get))
        .route(
            "/2.0/workspaces/{workspace}/members",
            get(workspaces::members),
        )
        .route("/2.0/workspaces/{workspace}/projects", get(projects::list))
        .route(
            "/2.0/workspaces/{workspace}/projects/{project_key}",
            get(projects::get),
        )
        .route("/2.0/repositories", get(removed))
        .route("/2.0/repositories/{workspace}", get(repositories::list))
        .route(
            "/2.0/repositories/{workspace}/{repo_slug}",
            get(repositories::get)
                .post(repositories::create)
                .put(repositories::update)
                .delete(repositories::delete),
        )
        .merge(repository_routes())
        .route("/2.0/workspaces/{workspace}/search/code", get(search::code))
        .route(
            "/2.0/workspaces/{workspace}/hooks",
            get(hooks::list_workspace).post(hooks::create_workspace),
        )
        .route(
            "/2.0/workspaces/{workspace}/hooks/{uid}",
            get(hooks::get_workspace)
                .put(hooks::update_workspace)
                .delete(hooks::delete_workspace),
        )
        // Pre-signed, outside the API: no credential needed, like Bitbucket's log storage.
        .route("/log-storage/{id}", get(logs::storage))
        .route("/site/oauth2/authorize", get(oauth::authorize))
        .route("/site/oauth2/access_token", post(oauth::token))
        .fallback(not_found)
        // Inside the recorder, so a refused call is still recorded.
        .layer(middleware::from_fn_with_state(
            world.clone(),
            spec::enforce_scopes,
        ))
        .layer(middleware::from_fn_with_state(
            world.clone(),
            record_and_fault,
        ))
        // Outside the recorder, so it sees injected faults and the requests
        // they answer.
        .layer(middleware::from_fn_with_state(
            world.clone(),
            spec::validate,
        ))
        // Outermost: the spec layer checks the whole answer, then `fields`
        // narrows it as Bitbucket's partial responses do.
        .layer(middleware::from_fn(crate::partial::respond))
        .with_state(world)
}

fn repository_routes() -> Router<Shared> {
    let at = |tail: &str| format!("{R}{tail}");
    Router::new()
        .route(
            &at("/refs/branches"),
            get(branches::list).post(branches::create),
        )
        .route(
            &at("/refs/branches/{*name}"),
            get(branches::get).delete(branches::delete),
        )
        .route(&at("/refs/tags"), get(tags::list).post(tags::create))
        .route(
            &at("/refs/tags/{*name}"),
            get(tags::get).delete(tags::delete),
        )
        .route(&at("/commits"), get(commits::list))
        .route(&at("/commits/{*revision}"), get(commits::list_revision))
        .route(&at("/commit/{commit}"), get(commits::get))
        .route(&at("/commit/{commit}/statuses"), get(statuses::list))
        .route(
            &at("/commit/{commit}/statuses/build"),
            post(statuses::create),
        )
        .route(
            &at("/commit/{commit}/statuses/build/{key}"),
            get(statuses::get).put(statuses::update),
        )
        .route(&at("/src"), get(source::root).post(commit_src::create))
        .route(&at("/src/{*rest}"), get(source::get))
        .route(&at("/filehistory/{*rest}"), get(source::history))
        .route(&at("/diff/{*spec}"), get(diff::diff))
        .route(&at("/diffstat/{*spec}"), get(diff::diffstat))
        .route(&at("/patch/{*spec}"), get(diff::patch))
        .route(
            &at("/pullrequests"),
            get(pullrequests::list).post(pullrequests::create),
        )
        .route(
            &at("/pullrequests/{id}"),
            get(pullrequests::get).put(pullrequests::update),
        )
        .route(
            &at("/pullrequests/{id}/approve"),
            post(pullrequests::approve).delete(pullrequests::unapprove),
        )
        .route(
            &at("/pullrequests/{id}/request-changes"),
            post(pullrequests::request_changes).delete(pullrequests::unrequest_changes),
        )
        .route(
            &at("/pullrequests/{id}/decline"),
            post(pullrequests::decline),
        )
        .route(&at("/pullrequests/{id}/merge"), post(pullrequests::merge))
        .route(
            &at("/pullrequests/{id}/merge/task-status/{task_id}"),
            get(pullrequests::task_status),
        )
        .route(
            &at("/pullrequests/{id}/comments"),
            get(pullrequests::list_comments).post(pullrequests::create_comment),
        )
        .route(
            &at("/pullrequests/{id}/comments/{comment_id}"),
            get(pullrequests::get_comment)
                .put(pullrequests::update_comment)
                .delete(pullrequests::delete_comment),
        )
        .route(
            &at("/pullrequests/{id}/comments/{comment_id}/resolve"),
            post(pullrequests::resolve_comment).delete(pullrequests::reopen_comment),
        )
        .route(&at("/pullrequests/{id}/diff"), get(pullrequests::diff))
        .route(
            &at("/pullrequests/{id}/diffstat"),
            get(pullrequests::diffstat),
        )
        .route(&at("/pullrequests/{id}/patch"), get(pullrequests::patch))
        .route(
            &at("/pullrequests/{id}/commits"),
            get(pullrequests::commits),
        )
        .route(
            &at("/pullrequests/{id}/activity"),
            get(pullrequests::activity),
        )
        .route(
            &at("/pullrequests/{id}/statuses"),
            get(pullrequests::statuses),
        )
        .route(
            &at("/pullrequests/{id}/tasks"),
            get(pullrequests::list_tasks).post(pullrequests::create_task),
        )
        .route(
            &at("/pullrequests/{id}/tasks/{task_id}"),
            get(pullrequests::get_task)
                .put(pullrequests::update_task)
                .delete(pullrequests::delete_task),
        )
        .route(
            &at("/pipelines"),
            get(pipelines::list).post(pipelines::trigger),
        )
        .route(
            &at("/pipelines/"),
            get(pipelines::list).post(pipelines::trigger),
        )
        .route(&at("/pipelines/{uuid}"), get(pipelines::get))
        .route(&at("/pipelines/{uuid}/stopPipeline"), post(pipelines::stop))
        .route(&at("/pipelines/{uuid}/steps"), get(pipelines::steps))
        .route(&at("/pipelines/{uuid}/steps/"), get(pipelines::steps))
        .route(&at("/pipelines/{uuid}/steps/{step}"), get(pipelines::step))
        .route(
            &at("/pipelines/{uuid}/steps/{step}/log"),
            get(logs::step_log),
        )
        .route(
            &at("/pipelines_config/variables"),
            get(pipelines::list_variables).post(pipelines::create_variable),
        )
        .route(
            &at("/pipelines_config/variables/{variable_uuid}"),
            get(pipelines::get_variable)
                .put(pipelines::update_variable)
                .delete(pipelines::delete_variable),
        )
        .route(&at("/environments"), get(deployments::list_environments))
        .route(
            &at("/environments/{environment_uuid}"),
            get(deployments::get_environment),
        )
        .route(&at("/deployments"), get(deployments::list_deployments))
        .route(
            &at("/deployments/{deployment_uuid}"),
            get(deployments::get_deployment),
        )
        .route(&at("/issues"), get(issues::list).post(issues::create))
        .route(&at("/issues/{id}"), get(issues::get).put(issues::update))
        .route(
            &at("/issues/{id}/changes"),
            get(issues::list_changes).post(issues::create_change),
        )
        .route(
            &at("/issues/{id}/comments"),
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(
            &at("/issues/{id}/comments/{comment_id}"),
            get(issues::get_comment)
                .put(issues::update_comment)
                .delete(issues::delete_comment),
        )
        .route(&at("/branch-restrictions"), get(restrictions::list))
        .route(&at("/branch-restrictions/{id}"), get(restrictions::get))
        .route(&at("/default-reviewers"), get(reviewers::list))
        .route(
            &at("/effective-default-reviewers"),
            get(reviewers::effective),
        )
        .route(&at("/downloads"), get(downloads::list))
        .route(&at("/permissions-config/users"), get(permissions::users))
        .route(&at("/permissions-config/groups"), get(permissions::groups))
        .route(&at("/hooks"), get(hooks::list).post(hooks::create))
        .route(
            &at("/hooks/{uid}"),
            get(hooks::get).put(hooks::update).delete(hooks::delete),
        )
}

async fn removed() -> Response {
    errors::removed_change_2770()
}

async fn not_found() -> Response {
    errors::error(404, "Resource not found")
}

/// Logs every request (never the credential) and answers with the next
/// injected fault, if any, before the route sees it; once answered, sends
/// the webhook events the request raised.
async fn record_and_fault(State(world): State<Shared>, request: Request, next: Next) -> Response {
    let (fault, rate_limit) = {
        let mut world = lock(&world);
        let rate_limit = access_token(&world, request.headers())
            .then(|| (world.rate_limit_per_hour, world.near_rate_limit));
        world.requests.push(RecordedRequest {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            query: query_pairs(request.uri().query()),
            auth_scheme: request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned),
        });
        (world.faults.pop_front(), rate_limit)
    };
    let mut response = match fault {
        Some(Fault::Status {
            status,
            content_type,
            body,
            retry_after,
        }) => {
            let mut response = errors::raw(status, content_type, body, retry_after);
            response.extensions_mut().insert(spec::Injected);
            response
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        None => next.run(request).await,
    };
    if let Some((limit, near)) = rate_limit {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("api"));
        headers.insert(
            "x-ratelimit-nearlimit",
            HeaderValue::from_static(if near { "true" } else { "false" }),
        );
    }
    delivery::flush(&world);
    response
}

/// Whether the request authenticates with an access token (repository,
/// project or workspace: `Bearer`, not issued by the OAuth server). Only
/// those get `X-RateLimit-*` headers; OAuth tokens and API tokens (`Basic`)
/// never do (API-NOTES §5).
fn access_token(world: &World, headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            let token = token.trim();
            scheme.eq_ignore_ascii_case("bearer")
                && world.bearer_tokens.contains_key(token)
                && !world.oauth.access_expiry.contains_key(token)
        })
}

pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The user a request authenticates as: `Bearer <token>` or, for Atlassian
/// API tokens, `Basic base64(email:token)`. Query-string tokens are refused,
/// as Bitbucket has done since 2026.
pub(crate) fn authenticate(world: &World, headers: &HeaderMap) -> Result<String, Response> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(errors::unauthorized)?;
    let (scheme, value) = header.split_once(' ').ok_or_else(errors::unauthorized)?;
    let user = if scheme.eq_ignore_ascii_case("bearer") {
        if world.oauth.is_expired(value.trim()) {
            return Err(errors::error(
                401,
                "Access token expired. Use your refresh token to obtain a new access token.",
            ));
        }
        world.bearer_tokens.get(value.trim()).cloned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                let (email, token) = pair.split_once(':')?;
                world
                    .api_tokens
                    .get(&(email.to_owned(), token.to_owned()))
                    .cloned()
            })
    } else {
        None
    };
    user.ok_or_else(errors::unauthorized)
}

/// Every value of a repeatable query parameter, in order.
pub(crate) fn params<'a>(query: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The caller and the repository a request names: 401 without a valid
/// credential, Bitbucket's 404 when the repository is unknown or unreadable.
pub(crate) fn open_repository(
    world: &World,
    headers: &HeaderMap,
    workspace: &str,
    slug: &str,
) -> Result<(String, Repository), Response> {
    let user = authenticate(world, headers)?;
    let repository = world
        .workspace(workspace)
        .and_then(|ws| world.repository(ws, slug))
        .filter(|r| world.can_read(r, &user))
        .cloned()
        .ok_or_else(errors::repository_not_found)?;
    Ok((user, repository))
}

/// Writes need workspace membership (reading a public repository does not).
pub(crate) fn require_write(
    world: &World,
    user: &str,
    repository: &Repository,
) -> Result<(), Response> {
    if world.can_write(repository, user) {
        Ok(())
    } else {
        Err(errors::forbidden(
            "You do not have write access to this repository.",
        ))
    }
}

/// A JSON request body; an empty body reads as `{}`.
pub(crate) fn json_body(body: &[u8]) -> Result<Value, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(errors::error(400, "Malformed JSON in the request body.")),
    }
}

/// A text field Bitbucket requires, trimmed; 400 naming it when absent or blank.
pub(crate) fn required_text(body: &Value, field: &str) -> Result<String, Response> {
    body[field]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| errors::field_error(field, "This field is required."))
}

/// `content.raw` of a comment or task, required and not blank.
pub(crate) fn required_content(body: &Value) -> Result<String, Response> {
    body["content"]["raw"]
        .as_str()
        .filter(|r| !r.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| errors::field_error("content", "This field is required."))
}

/// Applies the request's `q` and `sort` to rendered items, refusing fields
/// not in `fields` with Bitbucket's 400.
pub(crate) fn filter_and_sort(
    items: &mut Vec<Value>,
    query: &[(String, String)],
    fields: &[&str],
) -> Result<(), Response> {
    if let Some(q) = param(query, "q") {
        let filter = bbql::parse(q, fields).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = param(query, "sort") {
        bbql::sort(items, sort, fields).map_err(|m| errors::error(400, &m))?;
    }
    Ok(())
}

pub(crate) fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
