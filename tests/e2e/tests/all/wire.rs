//! The JSON wire format, checked from outside: every enum value in every
//! published schema is lowercase snake_case, and real answers from every
//! operation match their published result schema (so they are too).

use atom_runtime::{Failure, wire};
use atom_test_support::{env, repo, sandbox};
use serde_json::{Value, json};

fn snake_case(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Every string an `enum` or `const` allows, anywhere in `schema`.
fn enum_values(schema: &Value, found: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("enum", Value::Array(values)) => {
                        found.extend(values.iter().filter_map(Value::as_str).map(str::to_owned))
                    }
                    ("const", Value::String(value)) => found.push(value.clone()),
                    _ => enum_values(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| enum_values(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_enum_in_every_published_schema_is_snake_case() {
    let env = env().await;
    let operations = sandbox().operations(&env.tenant).await.unwrap();
    let published = wire::operations(&operations);
    let mut values = Vec::new();
    for op in published.as_array().unwrap() {
        assert!(snake_case(op["complexity"].as_str().unwrap()), "{op}");
        assert!((1..=4).contains(&op["complexity_level"].as_u64().unwrap()));
        enum_values(&op["parameters_schema"], &mut values);
        enum_values(&op["result_schema"], &mut values);
    }
    for expected in [
        "open",
        "merge_commit",
        "on_hold",
        "access_token",
        "pull_request",
    ] {
        assert!(values.iter().any(|v| v == expected), "{expected} is listed");
    }
    let offenders: Vec<&String> = values.iter().filter(|v| !snake_case(v)).collect();
    assert!(offenders.is_empty(), "not snake_case: {offenders:?}");

    let info = wire::capabilities(&sandbox().capabilities(&env.tenant).await.unwrap());
    assert_eq!(
        info["auth_kinds"],
        json!(["oauth2", "access_token", "api_token"])
    );
}

#[tokio::test]
async fn answers_match_their_published_schemas() {
    let env = env().await;
    let operations = sandbox().operations(&env.tenant).await.unwrap();
    let schema_of = |name: &str| -> Value {
        let op = operations
            .iter()
            .find(|op| op.name == name)
            .unwrap_or_else(|| panic!("{name} is listed"));
        serde_json::from_str(&op.result_schema).unwrap()
    };

    let pipelines = env.exec("list-pipelines", repo(json!({}))).await.unwrap();
    let pipeline = pipelines["items"][0]["uuid"].as_str().unwrap().to_owned();
    let steps = env
        .exec(
            "list-pipeline-steps",
            repo(json!({ "pipeline_uuid": &pipeline })),
        )
        .await
        .unwrap();
    let step = steps["items"][0]["uuid"].as_str().unwrap().to_owned();
    let calls: Vec<(&str, Value)> = vec![
        ("health", json!({})),
        ("get-current-user", json!({})),
        ("list-workspaces", json!({})),
        (
            "list-repositories",
            json!({ "workspace": "atom-labs", "role": "member" }),
        ),
        ("get-repository", repo(json!({}))),
        ("list-branches", repo(json!({}))),
        ("get-branch", repo(json!({ "name": "main" }))),
        ("list-commits", repo(json!({}))),
        (
            "list-pull-requests",
            repo(json!({ "states": ["open", "merged", "declined", "superseded"] })),
        ),
        ("get-pull-request", repo(json!({ "id": 4 }))),
        ("list-pull-request-comments", repo(json!({ "id": 4 }))),
        ("list-pipelines", repo(json!({}))),
        ("get-pipeline", repo(json!({ "pipeline_uuid": &pipeline }))),
        (
            "list-pipeline-steps",
            repo(json!({ "pipeline_uuid": &pipeline })),
        ),
        (
            "get-step-log",
            repo(
                json!({ "pipeline_uuid": &pipeline, "step_uuid": &step, "range_start": 0, "range_end": 99 }),
            ),
        ),
        (
            "list-issues",
            repo(json!({ "state": "new", "kind": "bug" })),
        ),
        ("get-issue", repo(json!({ "id": 5 }))),
        (
            "create-issue",
            repo(json!({ "title": "Wire check", "kind": "task", "priority": "minor" })),
        ),
        ("approve-pull-request", repo(json!({ "id": 4 }))),
        (
            "search-code",
            json!({ "workspace": "atom-labs", "query": "verify_signature" }),
        ),
        ("list-webhooks", repo(json!({}))),
        ("analytics-summary", json!({ "workspace": "atom-labs" })),
    ];
    for (operation, params) in calls {
        let answer = env
            .exec(operation, params)
            .await
            .unwrap_or_else(|failure| panic!("{operation}: {failure}"));
        let schema = schema_of(operation);
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{operation}: the published schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&answer)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{operation}: {errors:?}\n{answer}");
    }
}

#[tokio::test]
async fn failures_carry_snake_case_codes() {
    let env = env().await;
    let failure = env
        .exec("get-repository", repo(json!({ "repo_slug": "nope" })))
        .await
        .unwrap_err();
    assert_eq!(failure.to_json()["code"], "not_found");
    let refused = env
        .exec("list-issues", repo(json!({ "state": "OnHold" })))
        .await
        .unwrap_err();
    let Failure::Integration(_) = &refused else {
        panic!("a typed validation error");
    };
    let json = refused.to_json();
    assert_eq!(json["code"], "validation");
    assert_eq!(json["field"], "state");
    assert!(
        json["message"].as_str().unwrap().contains("on_hold"),
        "the error lists the accepted values: {json}"
    );
}
