//! Webhook intake end to end: the fake delivers a signed event to the
//! gateway, which verifies it with the tenant's secret and hands it to the
//! tenant's event stream and to ATOM's URL; replays, forgeries and strangers
//! are refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Gateway, harness, run};
use axum::routing::post;
use fake_bitbucket::FakeBitbucket;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// ATOM's side: a loopback receiver that keeps what it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/atom/webhooks",
        post(move |body: axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/atom/webhooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Reads a server-sent-events stream until `needle` shows up or `within` passes.
async fn read_until(response: &mut reqwest::Response, needle: &str, within: Duration) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_delivery_reaches_the_tenants_stream_and_atom_and_a_replay_does_not() {
    let fake = FakeBitbucket::start().await.unwrap();
    let (forward_url, forwarded) = receiver().await;
    let gateway = Gateway::start(&fake, &["--forward-events-to", &forward_url]).await;
    let secret = run(harness(&gateway.dir).args(["tenants", "webhook-secret", "acme"]));
    let secret = secret.trim();
    let listen = |key: &str| {
        reqwest::Client::new()
            .get(gateway.url("/bitbucket/events"))
            .bearer_auth(key)
            .send()
    };
    let mut acme_events = listen(&gateway.acme_key).await.unwrap();
    let mut globex_events = listen(&gateway.globex_key).await.unwrap();
    assert_eq!(acme_events.status(), StatusCode::OK);

    let hook = json!({
        "workspace": "atom-labs",
        "repo_slug": "bitbucket-plugin",
        "url": gateway.url("/bitbucket/webhooks/acme"),
        "events": ["pullrequest:created"],
        "secret": secret,
    });
    let (status, _, created) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/create-webhook",
            &hook.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, _, _) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/create-pull-request",
            r#"{"workspace":"atom-labs","repo_slug":"bitbucket-plugin","title":"Hooked","source_branch":"feature/search-v2"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let stream = read_until(&mut acme_events, "Hooked", Duration::from_secs(10)).await;
    assert!(stream.contains("event: pullrequest:created"), "{stream}");
    let delivery = fake.wait_for_deliveries(1, Duration::from_secs(5)).await[0].clone();
    assert_eq!(delivery.status, Some(200), "{delivery:?}");
    for _ in 0..50 {
        if !forwarded.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = forwarded.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (&sent[0]["tenant"], &sent[0]["event"]["event_key"]),
        (&json!("acme"), &json!("pullrequest:created"))
    );
    assert_eq!(sent[0]["event"]["signed"], true);

    // The same delivery again, a forged body, a tenant without intake.
    let resend = |path: &str, body: String| {
        let mut request = reqwest::Client::new().post(gateway.url(path)).body(body);
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let replayed = resend("/bitbucket/webhooks/acme", delivery.body.clone())
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::CONFLICT);
    let mut forged_headers = delivery.headers.clone();
    for (name, value) in &mut forged_headers {
        if name == "x-request-uuid" {
            *value = "{00000000-0000-4000-8000-000000000001}".into();
        }
    }
    let mut forged = reqwest::Client::new()
        .post(gateway.url("/bitbucket/webhooks/acme"))
        .body(delivery.body.replace("Hooked", "Forged"));
    for (name, value) in &forged_headers {
        forged = forged.header(name, value);
    }
    assert_eq!(
        forged.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let stranger = resend("/bitbucket/webhooks/globex", delivery.body.clone())
        .await
        .unwrap();
    assert_eq!(
        stranger.status(),
        StatusCode::NOT_FOUND,
        "globex has no webhook secret"
    );

    let others = read_until(
        &mut globex_events,
        "pullrequest",
        Duration::from_millis(500),
    )
    .await;
    assert!(
        !others.contains("pullrequest"),
        "globex never sees acme's events: {others}"
    );
    assert_eq!(
        forwarded.lock().unwrap().len(),
        1,
        "refused deliveries are not forwarded"
    );
}
