//! The routes of ATOM's original Bitbucket integration (the "seed"), same
//! paths and one-key envelopes (`{"repositories": [...]}`), answered by the
//! component's operations. Each route is one row of [`ROUTES`]: which
//! operation, which query parameters it takes and under what name, and the
//! key its answer goes in. Parameters are typed by the operation's own
//! schema, as the CLI types them, so this table knows names, not types.
//!
//! Listings take `cursor`, `size`, `q` and `sort`, answer `next_cursor`, and
//! with `all=true` follow the cursors to the last page (at most
//! [`MAX_PAGES`]). Failures answer `{"detail": message, "error": {...}}`:
//! the seed's FastAPI `detail` and the gateway's typed error.
//!
//! The rows after the seed's own (reading the code, reviewing) follow the
//! same conventions; the page uses them.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use serde_json::{Map, Value, json};

use crate::auth::principal::Principal;
use crate::calls::Reading;
use crate::error::GatewayError;
use crate::openapi;
use crate::state::Gateway;
use atom_runtime::params;

use super::insights;

/// Pages `all=true` follows at most: 5,000 items at 100 a page.
const MAX_PAGES: usize = 50;

/// The contract's most pages per call (`page-request.pages`).
const PAGES_PER_CALL: usize = 20;

/// The repository every per-repository route is under.
const REPO: &str = "/bitbucket/repositories/{workspace}/{repo_slug}";

#[derive(Clone, Copy)]
pub(super) enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

pub struct SeedRoute {
    pub(super) verb: Verb,
    /// Below `/bitbucket`, or below [`REPO`] when it starts with `R`.
    path: &'static str,
    pub(super) operation: &'static str,
    /// The answer's key, and for a listing the key its items go in.
    pub(super) key: &'static str,
    pub(super) listing: bool,
    /// Query parameters besides paging: (query name, parameter path).
    pub(super) query: &'static [(&'static str, &'static str)],
    /// 201 for what creates something.
    pub(super) creates: bool,
    /// The answer also lists its charts (see [`insights`]).
    pub(super) charts: bool,
}

const fn route(
    verb: Verb,
    path: &'static str,
    operation: &'static str,
    key: &'static str,
) -> SeedRoute {
    SeedRoute {
        verb,
        path,
        operation,
        key,
        listing: false,
        query: &[],
        creates: false,
        charts: false,
    }
}

const fn listing(path: &'static str, operation: &'static str, key: &'static str) -> SeedRoute {
    SeedRoute {
        listing: true,
        ..route(Verb::Get, path, operation, key)
    }
}

impl SeedRoute {
    const fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }

    const fn creating(mut self) -> Self {
        self.creates = true;
        self
    }

    const fn charted(mut self) -> Self {
        self.charts = true;
        self
    }
}

use Verb::{Delete, Get, Post, Put};

pub static ROUTES: &[SeedRoute] = &[
    route(Get, "/user", "get-current-user", "user"),
    listing("/workspaces", "list-workspaces", "workspaces")
        .query(&[("administrator", "administrator")]),
    listing("/repositories", "list-repositories", "repositories")
        .query(&[("workspace", "workspace"), ("role", "role")]),
    route(Get, "/analytics/summary", "analytics-summary", "summary").query(&[
        ("workspace", "workspace"),
        ("repo_slugs", "repo_slugs"),
        ("pipeline_runs", "pipeline_runs"),
    ]),
    route(Get, "/insights/delivery", "delivery-insights", "insights")
        .query(insights::QUERY)
        .charted(),
    listing("/search/code", "search-code", "results")
        .query(&[("workspace", "workspace"), ("query", "query")]),
    route(Get, "R", "get-repository", "repository"),
    listing("R/branches", "list-branches", "branches"),
    route(Post, "R/branches", "create-branch", "branch").creating(),
    route(Delete, "R/branches/{name}", "delete-branch", "branch"),
    listing("R/tags", "list-tags", "tags"),
    route(Post, "R/tags", "create-tag", "tag").creating(),
    route(Delete, "R/tags/{name}", "delete-tag", "tag"),
    listing("R/commits", "list-commits", "commits").query(&[
        ("branch", "include"),
        ("exclude", "exclude"),
        ("path", "path"),
    ]),
    listing("R/pull-requests", "list-pull-requests", "pull_requests").query(&[("state", "states")]),
    route(
        Post,
        "R/pull-requests",
        "create-pull-request",
        "pull_request",
    )
    .creating(),
    route(
        Get,
        "R/pull-requests/{id}",
        "get-pull-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}",
        "update-pull-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}/approve",
        "approve-pull-request",
        "participant",
    ),
    route(
        Delete,
        "R/pull-requests/{id}/approve",
        "unapprove-pull-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}/request-changes",
        "request-changes",
        "participant",
    ),
    route(
        Delete,
        "R/pull-requests/{id}/request-changes",
        "remove-change-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}/decline",
        "decline-pull-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}/merge",
        "merge-pull-request",
        "pull_request",
    ),
    route(
        Post,
        "R/pull-requests/{id}/merge-if-green",
        "merge-pull-request-if-green",
        "readiness",
    ),
    listing(
        "R/pull-requests/{id}/comments",
        "list-pull-request-comments",
        "comments",
    ),
    route(
        Post,
        "R/pull-requests/{id}/comments",
        "create-pull-request-comment",
        "comment",
    )
    .creating(),
    listing("R/pipelines", "list-pipelines", "pipelines").query(&[
        ("status", "status"),
        ("target_branch", "target_branch"),
        ("trigger_type", "trigger_type"),
    ]),
    route(Post, "R/pipelines/trigger", "trigger-pipeline", "pipeline"),
    listing("R/environments", "list-environments", "environments"),
    listing("R/deployments", "list-deployments", "deployments")
        .query(&[("environment", "environment")]),
    route(
        Get,
        "R/pipelines/{pipeline_uuid}",
        "get-pipeline",
        "pipeline",
    ),
    route(
        Post,
        "R/pipelines/{pipeline_uuid}/stop",
        "stop-pipeline",
        "pipeline",
    ),
    listing(
        "R/pipelines/{pipeline_uuid}/steps",
        "list-pipeline-steps",
        "steps",
    ),
    route(
        Get,
        "R/pipelines/{pipeline_uuid}/steps/{step_uuid}/log",
        "get-step-log",
        "log",
    )
    .query(&[("range_start", "range_start"), ("range_end", "range_end")]),
    listing("R/issues", "list-issues", "issues").query(&[
        ("state", "state"),
        ("kind", "kind"),
        ("priority", "priority"),
    ]),
    route(Post, "R/issues", "create-issue", "issue").creating(),
    route(Get, "R/issues/{id}", "get-issue", "issue"),
    route(Post, "R/issues/{id}", "update-issue", "issue"),
    listing("R/webhooks", "list-webhooks", "webhooks"),
    route(Post, "R/webhooks", "create-webhook", "webhook").creating(),
    route(Delete, "R/webhooks/{uuid}", "delete-webhook", "webhook"),
    listing(
        "/workspaces/{workspace}/webhooks",
        "list-webhooks",
        "webhooks",
    ),
    route(Post, "/oauth/refresh", "auth-refresh", "status"),
    // Reading the code and reviewing it.
    listing("R/src", "list-directory", "entries")
        .query(&[("revision", "revision"), ("path", "path")]),
    route(Get, "R/file", "get-file", "file").query(&[
        ("revision", "revision"),
        ("path", "path"),
        ("max_bytes", "max_bytes"),
    ]),
    listing("R/file-history", "list-file-history", "revisions")
        .query(&[("revision", "revision"), ("path", "path")]),
    route(Get, "R/diff", "get-diff", "diff").query(DIFF_QUERY_WITH_SPEC),
    listing("R/diffstat", "get-diffstat", "files").query(&[("spec", "spec")]),
    route(Get, "R/patch", "get-patch", "patch")
        .query(&[("spec", "spec"), ("max_bytes", "max_bytes")]),
    listing(
        "R/commits/{commit}/statuses",
        "list-commit-statuses",
        "statuses",
    ),
    route(
        Post,
        "R/commits/{commit}/statuses",
        "report-build-status",
        "status",
    ),
    listing(
        "R/pull-requests/awaiting-review",
        "list-pull-requests-awaiting-review",
        "pull_requests",
    )
    .query(&[("include_reviewed", "include_reviewed")]),
    route(
        Get,
        "R/pull-requests/{id}/review",
        "get-review-bundle",
        "review",
    )
    .query(&[
        ("max_bytes", "max_bytes"),
        ("max_file_bytes", "max_file_bytes"),
        ("context", "context"),
    ]),
    route(
        Get,
        "R/pull-requests/{id}/diff",
        "get-pull-request-diff",
        "diff",
    )
    .query(DIFF_QUERY),
    listing(
        "R/pull-requests/{id}/diffstat",
        "get-pull-request-diffstat",
        "files",
    ),
    route(
        Get,
        "R/pull-requests/{id}/patch",
        "get-pull-request-patch",
        "patch",
    )
    .query(&[("max_bytes", "max_bytes")]),
    listing(
        "R/pull-requests/{id}/commits",
        "list-pull-request-commits",
        "commits",
    ),
    listing(
        "R/pull-requests/{id}/activity",
        "list-pull-request-activity",
        "activity",
    ),
    listing(
        "R/pull-requests/{id}/statuses",
        "list-pull-request-statuses",
        "statuses",
    ),
    route(
        Post,
        "R/pull-requests/{id}/comments/publish",
        "publish-pending-comments",
        "published",
    ),
    route(
        Put,
        "R/pull-requests/{id}/comments/{comment_id}",
        "update-pull-request-comment",
        "comment",
    ),
    route(
        Delete,
        "R/pull-requests/{id}/comments/{comment_id}",
        "delete-pull-request-comment",
        "comment",
    ),
    route(
        Post,
        "R/pull-requests/{id}/comments/{comment_id}/resolve",
        "resolve-pull-request-comment",
        "comment",
    ),
    route(
        Delete,
        "R/pull-requests/{id}/comments/{comment_id}/resolve",
        "reopen-pull-request-comment",
        "comment",
    ),
    listing(
        "R/pull-requests/{id}/tasks",
        "list-pull-request-tasks",
        "tasks",
    )
    .query(&[("state", "state")]),
    route(
        Post,
        "R/pull-requests/{id}/tasks",
        "create-pull-request-task",
        "task",
    )
    .creating(),
    route(
        Put,
        "R/pull-requests/{id}/tasks/{task_id}",
        "update-pull-request-task",
        "task",
    ),
    route(
        Delete,
        "R/pull-requests/{id}/tasks/{task_id}",
        "delete-pull-request-task",
        "task",
    ),
];

/// A diff's query parameters: which paths, how much, how much context.
const DIFF_QUERY: &[(&str, &str)] = &[
    ("path", "options.paths"),
    ("max_bytes", "options.max_bytes"),
    ("max_file_bytes", "options.max_file_bytes"),
    ("context", "options.context"),
    ("ignore_whitespace", "options.ignore_whitespace"),
];

/// [`DIFF_QUERY`] and the two revisions compared (`new..old`).
const DIFF_QUERY_WITH_SPEC: &[(&str, &str)] = &[
    ("spec", "spec"),
    ("path", "options.paths"),
    ("max_bytes", "options.max_bytes"),
    ("max_file_bytes", "options.max_file_bytes"),
    ("context", "options.context"),
    ("ignore_whitespace", "options.ignore_whitespace"),
];

/// Paging query parameters every listing takes.
pub(super) const PAGING: &[(&str, &str)] = &[
    ("cursor", "page.cursor"),
    ("size", "page.size"),
    ("pagelen", "page.size"),
    ("q", "page.q"),
    ("sort", "page.sort"),
];

impl Verb {
    pub(super) fn name(self) -> &'static str {
        match self {
            Get => "get",
            Post => "post",
            Put => "put",
            Delete => "delete",
        }
    }
}

impl SeedRoute {
    pub fn full_path(&self) -> String {
        match self.path.strip_prefix('R') {
            Some(rest) => format!("{REPO}{rest}"),
            None => format!("/bitbucket{}", self.path),
        }
    }

    pub fn handler(&'static self) -> MethodRouter<Gateway> {
        let handle = move |state, principal, path, query, headers, body| {
            call(self, state, principal, path, query, headers, body)
        };
        match self.verb {
            Get => get(handle),
            Post => post(handle),
            Put => put(handle),
            Delete => delete(handle),
        }
    }
}

async fn call(
    route: &'static SeedRoute,
    State(gateway): State<Gateway>,
    principal: Principal,
    Path(path): Path<HashMap<String, String>>,
    // The query parsed, and as sent for the chart URLs that repeat it.
    (Query(query), RawQuery(raw)): (Query<Vec<(String, String)>>, RawQuery),
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reading = Reading::of(&headers);
    let (mut params, all) = match typed_params(&gateway, route, &path, &query, &body).await {
        Ok(built) => built,
        Err(response) => return response,
    };
    let mut items = Vec::new();
    let mut pages_left = MAX_PAGES;
    while pages_left > 0 {
        if all {
            // A few calls of many pages each; the component fetches them
            // concurrently when the listing's total is known.
            let pages = pages_left.min(PAGES_PER_CALL);
            params["page"]["pages"] = json!(pages);
            pages_left -= pages;
        } else {
            pages_left = 0;
        }
        let answer = match gateway
            .run_reading(&principal, route.operation, &params.to_string(), reading)
            .await
        {
            Ok(answer) => serde_json::from_str::<Value>(&answer).unwrap_or(Value::Null),
            Err(error) => return failed(&error),
        };
        if !route.listing {
            let status = if route.creates {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let charts = route
                .charts
                .then(|| insights::listed(&answer, raw.as_deref()));
            let mut envelope = json!({ route.key: answer });
            if let Some(charts) = charts {
                envelope["charts"] = charts;
            }
            return (status, Json(envelope)).into_response();
        }
        items.extend(answer["items"].as_array().cloned().unwrap_or_default());
        let next = answer["next_cursor"].clone();
        if !all || next.is_null() {
            return Json(json!({ route.key: items, "next_cursor": next })).into_response();
        }
        params["page"]["cursor"] = next;
    }
    Json(json!({ route.key: items, "next_cursor": params["page"]["cursor"], "truncated": true }))
        .into_response()
}

/// The operation's params for a request on `route`, typed by the
/// operation's schema, and whether it asked for every page; a failure is
/// already the answer to give.
pub(super) async fn typed_params(
    gateway: &Gateway,
    route: &SeedRoute,
    path: &HashMap<String, String>,
    query: &[(String, String)],
    body: &[u8],
) -> Result<(Value, bool), Response> {
    let schema = match gateway.discovery().await {
        Ok(discovery) => discovery
            .params_schemas
            .get(route.operation)
            .cloned()
            .unwrap_or_default(),
        Err(error) => return Err(error.into_response()),
    };
    build_params(route, &schema, path, query, body)
        .map_err(|message| failed(&GatewayError::validation(message)))
}

/// The operation's params: the body's fields, then the route's query
/// parameters, then the path's (which no body can override).
fn build_params(
    route: &SeedRoute,
    schema: &Value,
    path: &HashMap<String, String>,
    query: &[(String, String)],
    body: &[u8],
) -> Result<(Value, bool), String> {
    let mut params = match body {
        [] => Map::new(),
        body => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => seed_body(fields),
            _ => return Err("the body must be a JSON object".into()),
        },
    };
    let mut pairs = Vec::new();
    let mut all = false;
    for (name, value) in query {
        if route.listing && name == "all" {
            all = value == "true" || value == "1";
            continue;
        }
        let paging = if route.listing { PAGING } else { &[] };
        let Some((_, target)) = route.query.iter().chain(paging).find(|(q, _)| *q == name) else {
            return Err(format!("unknown query parameter '{name}'"));
        };
        // The seed spelled states in capitals (`state=OPEN`); the wire format does not.
        let value = if *target == "states" {
            value.to_lowercase()
        } else {
            value.clone()
        };
        pairs.push(format!("{target}={value}"));
    }
    for (name, value) in path {
        pairs.push(format!("{name}={value}"));
    }
    let typed = params::from_pairs(schema, &pairs)?;
    if let Value::Object(typed) = typed {
        for (name, value) in typed {
            match (params.get_mut(&name), value) {
                (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                (_, value) => {
                    params.insert(name, value);
                }
            }
        }
    }
    Ok((Value::Object(params), all))
}

/// The seed's body spellings: pipeline variables as an object of strings.
fn seed_body(mut fields: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(variables)) = fields.get("variables").cloned() {
        let list: Vec<Value> = variables
            .into_iter()
            .map(|(key, value)| json!({ "key": key, "value": value }))
            .collect();
        fields.insert("variables".into(), Value::Array(list));
    }
    fields
}

/// The seed's FastAPI `detail` beside the gateway's typed error.
pub(super) fn failed(error: &GatewayError) -> Response {
    let details = error.details();
    error.respond(json!({ "detail": details["message"], "error": details }))
}

/// The seed's routes in the OpenAPI document: each as the operation it
/// calls, its path and query parameters, and its one-key envelope.
pub fn describe(by_name: &openapi::Schemas, paths: &mut Map<String, Value>) {
    for route in ROUTES {
        let Some((params, result)) = by_name.get(route.operation) else {
            continue;
        };
        let path = route.full_path();
        let mut parameters: Vec<Value> = openapi::path_names(&path)
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
        } else if route.charts {
            json!({ "type": "object", "properties": {
                route.key: result,
                "charts": insights::charts_schema(),
            }})
        } else {
            json!({ "type": "object", "properties": { route.key: result } })
        };
        if route.charts {
            insights::describe_chart(&parameters, paths);
        }
        let status = if route.creates { "201" } else { "200" };
        let mut operation = json!({
            "operationId": format!("seed-{}-{}", route.verb.name(), route.operation),
            "summary": format!("The seed's route for `{}`", route.operation),
            "parameters": parameters,
            "responses": openapi::answers(status, answer),
        });
        if matches!(route.verb, Verb::Post | Verb::Put) {
            operation["requestBody"] =
                json!({ "content": { "application/json": { "schema": params } } });
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.verb.name()] = operation;
    }
}
