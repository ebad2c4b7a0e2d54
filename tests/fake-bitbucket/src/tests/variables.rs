//! Repository pipeline variables: the seeded pair, writes, and a secured
//! value that never comes back.

use axum::http::StatusCode;
use serde_json::json;

use super::{Answer, Api, PLUGIN, strings, values};

const SEEDED_SECRET: &str = "fake-marketplace-secret-5d2a";
const NEW_SECRET: &str = "fresh-secret-9f41";

/// The answer never holds either secured value, in any form.
fn no_secret(answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.body);
    for secret in [SEEDED_SECRET, NEW_SECRET] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn variables_list_create_update_delete_and_hide_secured_values() {
    let api = Api::start().await;
    let url = format!("{PLUGIN}/pipelines_config/variables");
    let listed = api.get(&url).await;
    no_secret(&listed);
    let page = listed.json();
    assert_eq!(
        strings(&page, "key"),
        ["DEPLOY_REGION", "MARKETPLACE_TOKEN"]
    );
    let [plain, secured] = &values(&page)[..] else {
        panic!("two variables: {page}");
    };
    assert_eq!(plain["type"], "pipeline_variable");
    assert_eq!(plain["value"], "eu-west-1");
    assert_eq!(plain["secured"], false);
    assert_eq!(secured["secured"], true);
    assert!(secured.get("value").is_none());
    let one = api
        .get(&format!("{url}/{}", secured["uuid"].as_str().unwrap()))
        .await;
    no_secret(&one);
    assert_eq!(one.json(), *secured);

    let made = api
        .post(&url, json!({ "key": "CACHE_DIR", "value": "/tmp/cache" }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["value"], "/tmp/cache");
    let hidden = api
        .post(
            &url,
            json!({ "key": "SIGNING_KEY", "value": NEW_SECRET, "secured": true }),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::CREATED);
    no_secret(&hidden);
    let hidden = hidden.json();
    assert_eq!(hidden["secured"], true);
    assert!(hidden.get("value").is_none());
    // The uuid answers without its braces too.
    let path = format!(
        "{url}/{}",
        hidden["uuid"].as_str().unwrap().trim_matches(['{', '}'])
    );
    let fetched = api.get(&path).await;
    no_secret(&fetched);
    assert_eq!(fetched.json(), hidden);

    let duplicate = api
        .post(&url, json!({ "key": "CACHE_DIR", "value": "again" }))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    for bad in ["1ST", "WITH-DASH", "", "has space"] {
        let refused = api.post(&url, json!({ "key": bad, "value": "x" })).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Unsecuring is ignored: the value would show.
    let updated = api
        .put(&path, json!({ "value": "rotated-value", "secured": false }))
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    no_secret(&updated);
    assert!(!String::from_utf8_lossy(&updated.body).contains("rotated-value"));
    assert_eq!(updated.json()["secured"], true);
    let plain_path = format!("{url}/{}", made.json()["uuid"].as_str().unwrap());
    let renamed = api
        .put(
            &plain_path,
            json!({ "key": "CACHE_PATH", "value": "/var/cache" }),
        )
        .await
        .json();
    assert_eq!(renamed["key"], "CACHE_PATH");
    assert_eq!(renamed["value"], "/var/cache");
    let clash = api
        .put(&plain_path, json!({ "key": "DEPLOY_REGION" }))
        .await;
    assert_eq!(clash.status, StatusCode::BAD_REQUEST);

    let all = api.get(&url).await;
    no_secret(&all);
    assert!(!String::from_utf8_lossy(&all.body).contains("rotated-value"));
    assert_eq!(all.json()["size"], 4);

    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.put(&path, json!({ "value": "x" })).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn variables_of_an_unknown_repository_are_404() {
    let api = Api::start().await;
    let url = "/2.0/repositories/umbrella/nonexistent/pipelines_config/variables";
    assert_eq!(api.get(url).await.status, StatusCode::NOT_FOUND);
    assert!(api.fake.violations().is_empty());
}
