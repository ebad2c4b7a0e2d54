use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, values};
use crate::webhook_signature;

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on 127.0.0.1 that keeps what it is sent.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(r): State<Received>, headers: HeaderMap, body: Bytes| async move {
                    r.lock().unwrap().push((headers, body));
                    StatusCode::OK
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn hooks_are_validated_and_never_show_the_secret() {
    let api = Api::start().await;
    let url = format!("{PLUGIN}/hooks");
    let bad_event = api
        .post(
            &url,
            json!({ "url": "http://127.0.0.1:9/x", "events": ["repo:pushed"] }),
        )
        .await;
    assert_eq!(bad_event.status, StatusCode::BAD_REQUEST);
    assert!(bad_event.json()["error"]["fields"]["events"].is_array());
    let outside = api
        .post(
            &url,
            json!({ "url": "http://10.0.0.1/x", "events": ["repo:push"] }),
        )
        .await;
    assert_eq!(outside.status, StatusCode::BAD_REQUEST);
    let long = api
        .post(&url, json!({ "url": "http://127.0.0.1:9/x", "events": ["repo:push"], "secret": "s".repeat(129) }))
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    let made = api
        .post(&url, json!({ "description": "CI", "url": "http://127.0.0.1:9/x", "active": true, "secret": "hush", "events": ["repo:push"] }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let hook = made.json();
    assert_eq!(hook["type"], "webhook_subscription");
    assert_eq!(hook["subject_type"], "repository");
    assert_eq!(hook["secret_set"], true);
    assert!(hook.get("secret").is_none());
    assert!(!made.body.windows(4).any(|w| w == b"hush"));
    let uid = hook["uuid"]
        .as_str()
        .unwrap()
        .replace('{', "%7B")
        .replace('}', "%7D");
    assert_eq!(
        api.get(&format!("{url}/{uid}")).await.json()["uuid"],
        hook["uuid"]
    );
    assert_eq!(values(&api.get(&url).await.json()).len(), 1);
    assert_eq!(
        api.delete(&format!("{url}/{uid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get(&format!("{url}/{uid}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Workspace hooks: admins only (Ada administers atom-labs, not acme).
    let body = json!({ "url": "http://127.0.0.1:9/x", "events": ["repo:push"] });
    assert_eq!(
        api.post("/2.0/workspaces/atom-labs/hooks", body.clone())
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        api.post("/2.0/workspaces/acme/hooks", body).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/2.0/workspaces/acme/hooks").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn events_are_delivered_signed_to_loopback_receivers() {
    let api = Api::start().await;
    let (target, received) = receiver().await;
    let signed = api
        .post(
            &format!("{SERVICE}/hooks"),
            json!({ "url": target, "secret": "It's a Secret to Everybody", "events": ["pullrequest:created", "pullrequest:approved", "repo:push"] }),
        )
        .await
        .json();
    api.post(
        "/2.0/workspaces/atom-labs/hooks",
        json!({ "url": target, "events": ["issue:created"] }),
    )
    .await;

    let pr = api
        .post(
            &format!("{SERVICE}/pullrequests"),
            json!({ "title": "Hooked", "source": { "branch": { "name": "feature/login" } } }),
        )
        .await
        .json();
    let id = pr["id"].as_u64().unwrap();
    api.post_as_grace(&format!("{SERVICE}/pullrequests/{id}/approve"), json!({}))
        .await;
    api.post(
        &format!("{PLUGIN}/issues"),
        json!({ "title": "Hooked issue" }),
    )
    .await;

    let deliveries = api
        .fake
        .wait_for_deliveries(3, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 3);
    let created = deliveries
        .iter()
        .find(|d| d.event_key == "pullrequest:created")
        .unwrap();
    assert_eq!(created.status, Some(200));
    assert_eq!(created.header("user-agent"), Some("Bitbucket-Webhooks/2.0"));
    assert_eq!(created.header("x-hook-uuid"), signed["uuid"].as_str());
    assert_eq!(created.header("x-attempt-number"), Some("1"));
    assert_eq!(
        created.header("x-hub-signature").unwrap(),
        webhook_signature("It's a Secret to Everybody", created.body.as_bytes())
    );
    let payload = created.json();
    assert_eq!(payload["pullrequest"]["title"], "Hooked");
    assert_eq!(payload["actor"]["nickname"], "ada");
    assert_eq!(payload["repository"]["full_name"], "acme/api-service-00");
    let approved = deliveries
        .iter()
        .find(|d| d.event_key == "pullrequest:approved")
        .unwrap();
    assert_eq!(approved.json()["approval"]["user"]["nickname"], "grace");
    let issue = deliveries
        .iter()
        .find(|d| d.event_key == "issue:created")
        .unwrap();
    assert!(
        issue.header("x-hub-signature").is_none(),
        "no secret, no signature"
    );

    // What the receiver got is byte for byte what was recorded and signed.
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let (headers, body) = got
        .iter()
        .find(|(h, _)| h["x-event-key"] == "pullrequest:created")
        .unwrap();
    assert_eq!(
        headers["x-hub-signature"].to_str().unwrap(),
        webhook_signature("It's a Secret to Everybody", body)
    );

    // A merge pushes: repo:push with the destination moved and the source closed.
    let merged = api
        .post(
            &format!("{SERVICE}/pullrequests/{id}/merge"),
            json!({ "close_source_branch": true }),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK);
    let deliveries = api
        .fake
        .wait_for_deliveries(4, Duration::from_secs(5))
        .await;
    let push = deliveries
        .iter()
        .find(|d| d.event_key == "repo:push")
        .unwrap()
        .json();
    let changes = push["push"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["new"]["name"], "main");
    assert_eq!(changes[0]["created"], false);
    assert_eq!(changes[1]["closed"], true);
    assert_eq!(changes[1]["old"]["name"], "feature/login");
}

#[tokio::test]
async fn review_writes_raise_their_events() {
    let api = Api::start().await;
    let (target, _received) = receiver().await;
    api.post(
        &format!("{PLUGIN}/hooks"),
        json!({ "url": target, "events": [
            "repo:commit_status_created", "repo:commit_status_updated",
            "pullrequest:comment_updated", "pullrequest:comment_deleted",
            "pullrequest:comment_resolved", "pullrequest:comment_reopened"
        ] }),
    )
    .await;
    let head = api
        .get(&format!("{PLUGIN}/refs/branches/feature/login"))
        .await
        .json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let statuses = format!("{PLUGIN}/commit/{head}/statuses/build");
    api.post(&statuses, json!({ "key": "k", "state": "INPROGRESS" }))
        .await;
    api.post(&statuses, json!({ "key": "k", "state": "SUCCESSFUL" }))
        .await;
    let comments = format!("{PLUGIN}/pullrequests/4/comments");
    api.delete(&format!("{comments}/500001/resolve")).await;
    api.post(&format!("{comments}/500001/resolve"), json!({}))
        .await;
    api.put(
        &format!("{comments}/500002"),
        json!({ "content": { "raw": "Edited" } }),
    )
    .await;
    api.delete(&format!("{comments}/500002")).await;

    let deliveries = api
        .fake
        .wait_for_deliveries(6, Duration::from_secs(5))
        .await;
    let keys: Vec<&str> = deliveries.iter().map(|d| d.event_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "repo:commit_status_created",
            "repo:commit_status_updated",
            "pullrequest:comment_reopened",
            "pullrequest:comment_resolved",
            "pullrequest:comment_updated",
            "pullrequest:comment_deleted"
        ]
    );
    let status = deliveries[1].json();
    assert_eq!(status["commit_status"]["state"], "SUCCESSFUL");
    assert_eq!(
        status["repository"]["full_name"],
        "atom-labs/bitbucket-plugin"
    );
    let edited = deliveries[4].json();
    assert_eq!(edited["comment"]["content"]["raw"], "Edited");
    assert_eq!(edited["pullrequest"]["id"], 4);
}

#[tokio::test]
async fn tagging_pushes_a_tag_change() {
    let api = Api::start().await;
    let (target, _received) = receiver().await;
    api.post(
        &format!("{SERVICE}/hooks"),
        json!({ "url": target, "events": ["repo:push"] }),
    )
    .await;
    let tags = format!("{SERVICE}/refs/tags");
    let hash = api.get(&format!("{tags}/v0.9.0")).await.json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = api
        .post(
            &tags,
            json!({ "name": "v1.0.0", "target": { "hash": hash } }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(
        api.delete(&format!("{tags}/v0.1.0")).await.status,
        StatusCode::NO_CONTENT
    );

    let deliveries = api
        .fake
        .wait_for_deliveries(2, Duration::from_secs(5))
        .await;
    let changes: Vec<serde_json::Value> = deliveries
        .iter()
        .map(|d| {
            assert_eq!(d.event_key, "repo:push");
            d.json()["push"]["changes"][0].clone()
        })
        .collect();
    let [created, deleted] = &changes[..] else {
        panic!("two pushes: {changes:?}");
    };
    assert_eq!(created["new"]["type"], "tag");
    assert_eq!(created["new"]["name"], "v1.0.0");
    assert_eq!(created["new"]["target"]["hash"], hash.as_str());
    assert!(
        created["new"]["links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/refs/tags/v1.0.0")
    );
    assert_eq!(created["old"], serde_json::Value::Null);
    assert_eq!(created["created"], true);
    assert_eq!(created["commits"], json!([]));
    assert_eq!(deleted["old"]["type"], "tag");
    assert_eq!(deleted["old"]["name"], "v0.1.0");
    assert_eq!(deleted["new"], serde_json::Value::Null);
    assert_eq!(deleted["closed"], true);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn workspace_hooks_hear_repositories_made_and_deleted() {
    let api = Api::start().await;
    let (target, _received) = receiver().await;
    api.post(
        "/2.0/workspaces/atom-labs/hooks",
        json!({ "url": target, "events": ["repo:created", "repo:deleted"] }),
    )
    .await;
    let path = "/2.0/repositories/atom-labs/hooked";
    api.post(path, json!({ "scm": "git" })).await;
    api.delete(path).await;
    let deliveries = api
        .fake
        .wait_for_deliveries(2, Duration::from_secs(5))
        .await;
    let keys: Vec<&str> = deliveries.iter().map(|d| d.event_key.as_str()).collect();
    assert_eq!(keys, ["repo:created", "repo:deleted"]);
    for delivery in &deliveries {
        let payload = delivery.json();
        assert_eq!(payload["repository"]["full_name"], "atom-labs/hooked");
        assert_eq!(payload["actor"]["nickname"], "ada");
    }
}
