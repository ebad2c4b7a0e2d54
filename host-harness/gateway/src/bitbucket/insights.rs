//! Delivery insights' charts. The JSON route is a row of the seed table
//! (`/bitbucket/insights/delivery`, marked `charted`), whose answer also
//! lists the charts; each chart is `GET
//! /bitbucket/insights/delivery/charts/{name}.svg` with the same query,
//! drawn from the same call, so the read cache answers it and a page of
//! charts costs one upstream fan-out, not one per chart.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::charts;
use super::seed::{self, failed, typed_params};
use crate::auth::principal::Principal;
use crate::calls::Reading;
use crate::error::GatewayError;
use crate::openapi;
use crate::state::Gateway;

/// The JSON route's query parameters, as the operation names them.
pub(super) const QUERY: &[(&str, &str)] = &[
    ("workspace", "workspace"),
    ("repo_slugs", "repo_slugs"),
    ("weeks", "weeks"),
    ("until", "until"),
    ("max_repositories", "max_repositories"),
    ("max_requests", "max_requests"),
];

/// `{file}` rather than `{name}.svg`: the router matches whole segments.
pub(super) const CHART_PATH: &str = "/bitbucket/insights/delivery/charts/{file}";

/// An image may draw and nothing else: no script, no fetch, no style sheet.
const IMAGE_POLICY: &str = "default-src 'none'";

/// The answer's `charts`: each chart's name, caption, text alternative, its
/// SVG (the page draws it from here: a separate fetch per chart would run
/// the whole fan-out again where the cache is off) and a URL for linking
/// it, which carries the request's own query so it names the same call.
pub(super) fn listed(insights: &Value, query: Option<&str>) -> Value {
    let query = query
        .filter(|q| !q.is_empty())
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    charts::delivery_charts(insights)
        .into_iter()
        .map(|chart| {
            json!({
                "name": chart.name,
                "title": chart.title,
                "alt": chart.alt,
                "svg": chart.svg,
                "url": format!("/bitbucket/insights/delivery/charts/{}.svg{query}", chart.name),
            })
        })
        .collect()
}

/// `GET /bitbucket/insights/delivery/charts/{name}.svg`: the chart as
/// `image/svg+xml`, 404 for a name [`charts::chart_names`] does not know.
pub(super) async fn chart(
    State(gateway): State<Gateway>,
    principal: Principal,
    Path(file): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(name) = file
        .strip_suffix(".svg")
        .filter(|name| charts::chart_names().contains(name))
    else {
        return failed(&GatewayError::NotFound(format!(
            "no chart '{file}'; there are {}",
            charts::chart_names().join(", ")
        )));
    };
    let Some(route) = seed::ROUTES.iter().find(|route| route.charts) else {
        return failed(&GatewayError::NotFound("no charted route".into()));
    };
    let (params, _) = match typed_params(&gateway, route, &HashMap::new(), &query, &[]).await {
        Ok(built) => built,
        Err(response) => return response,
    };
    let answer = match gateway
        .run_reading(
            &principal,
            route.operation,
            &params.to_string(),
            Reading::of(&headers),
        )
        .await
    {
        Ok(answer) => serde_json::from_str::<Value>(&answer).unwrap_or(Value::Null),
        Err(error) => return failed(&error),
    };
    let Some(chart) = charts::delivery_chart(&answer, name) else {
        return failed(&GatewayError::NotFound(format!("no chart '{name}'")));
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, IMAGE_POLICY),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        chart.svg,
    )
        .into_response()
}

/// The schema of the answer's `charts`.
pub(super) fn charts_schema() -> Value {
    json!({ "type": "array", "items": {
        "type": "object",
        "required": ["name", "title", "alt", "svg", "url"],
        "properties": {
            "name": { "type": "string", "enum": charts::chart_names() },
            "title": { "type": "string" },
            "alt": { "type": "string" },
            "svg": { "type": "string" },
            "url": { "type": "string" },
        },
    }})
}

/// The chart route in the OpenAPI document, beside the JSON route whose
/// query parameters it takes.
pub(super) fn describe_chart(query: &[Value], paths: &mut Map<String, Value>) {
    let mut parameters = vec![json!({
        "name": "file", "in": "path", "required": true,
        "description": "the chart's name and `.svg`",
        "schema": { "type": "string", "enum": charts::chart_names().iter().map(|n| format!("{n}.svg")).collect::<Vec<_>>() },
    })];
    parameters.extend(query.iter().cloned());
    let mut responses = openapi::answers("200", json!({ "type": "string" }));
    responses["200"]["content"] = json!({ "image/svg+xml": { "schema": { "type": "string" } } });
    paths.insert(
        CHART_PATH.into(),
        json!({ "get": {
            "operationId": "seed-get-delivery-insights-chart",
            "summary": "A chart of `delivery-insights` as SVG, with its text alternative in <desc>",
            "parameters": parameters,
            "responses": responses,
        }}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_chart_with_the_requests_query() {
        let insights = json!({"workspace": "atom-labs", "rollup": {"weeks": [
            {"starts_on": "2026-08-31T00:00:00Z", "deployments": 3, "failed_deployments": 1}
        ]}});
        let list = listed(&insights, Some("workspace=atom-labs&weeks=4"));
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, charts::chart_names());
        assert_eq!(
            list[0]["url"],
            "/bitbucket/insights/delivery/charts/deployments.svg?workspace=atom-labs&weeks=4"
        );
        assert!(
            list[0]["alt"]
                .as_str()
                .unwrap()
                .contains("3 (3 in all, 1 failed)")
        );
        assert_eq!(
            listed(&insights, None)[1]["url"],
            "/bitbucket/insights/delivery/charts/pipeline-duration.svg"
        );
    }
}
