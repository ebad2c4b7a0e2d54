//! Webhook intake end to end: the fake delivers a signed event to the
//! gateway, which verifies it with the tenant's secret and hands it to the
//! tenant's event stream and to ATOM's URL; replays, forgeries and strangers
//! are refused.

use std::sync::Arc;
use std::time::Duration;

use crate::common::{Gateway, answer, harness, read_until, receiver, run, upstream_requests};
use fake_bitbucket::FakeBitbucket;
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// Sends `body` to a tenant's intake with the given headers.
async fn post_delivery(
    gateway: &Gateway,
    tenant: &str,
    headers: &[(String, String)],
    body: &str,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(gateway.url(&format!("/bitbucket/webhooks/{tenant}")))
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let (status, _, body) = answer(request.send().await.unwrap()).await;
    (status, body)
}

/// `headers` with `name` set to `value`.
fn with_header(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.clone(), if n == name { value } else { v }.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_deliveries_spend_nothing_of_the_tenants_budget() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(
        &fake,
        &["--upstream-budget-per-hour", "3", "--cache-ttl-secs", "0"],
    )
    .await;
    run(harness(&gateway.dir).args(["tenants", "webhook-secret", "acme"]));
    let before = upstream_requests(&fake);
    // Ten times the budget, one after another so none waits for a call slot.
    for n in 0..30 {
        let forged = [
            ("x-event-key".to_owned(), "repo:push".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-request-uuid".to_owned(), format!("{{forged-{n}}}")),
            (
                "x-hub-signature".to_owned(),
                format!("sha256={}", "0".repeat(64)),
            ),
        ];
        let body = json!({ "push": { "changes": [] }, "n": n }).to_string();
        let (status, answer) = post_delivery(&gateway, "acme", &forged, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "forgery {n}: {answer}");
    }
    assert_eq!(upstream_requests(&fake), before, "verifying sends nothing");

    // Acme's own calls get its whole budget, and only they spend it.
    let mut answered = 0;
    loop {
        let (status, _, body) = gateway
            .call(&gateway.acme_key, "/v1/operations/get-current-user", "{}")
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        answered += 1;
        assert!(answered <= 3, "more calls than the budget allows");
    }
    assert!(answered >= 1, "the forgeries spent acme's budget");
    assert!(
        upstream_requests(&fake) - before >= 3,
        "acme's budget went to acme's own requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_body_is_accepted_once_whatever_its_unsigned_headers_say() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(
        &fake,
        // All 64 racers below come from one address; the per-client
        // connection cap is not what this test is about.
        &["--max-connections-per-client", "128"],
    )
    .await;
    let secret = run(harness(&gateway.dir).args(["tenants", "webhook-secret", "acme"]));
    // The hook points at globex, which has no intake: the fake keeps acme's
    // signed delivery, which the gateway has never accepted.
    let hook = json!({
        "workspace": "atom-labs",
        "repo_slug": "bitbucket-plugin",
        "url": gateway.url("/bitbucket/webhooks/globex"),
        "events": ["pullrequest:created"],
        "secret": secret.trim(),
    });
    let (status, _, created) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/create-webhook",
            &hook.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    for title in ["Once", "Relabelled"] {
        let pull_request = json!({
            "workspace": "atom-labs",
            "repo_slug": "bitbucket-plugin",
            "title": title,
            "source_branch": "feature/search-v2",
        });
        let (status, _, body) = gateway
            .call(
                &gateway.acme_key,
                "/v1/operations/create-pull-request",
                &pull_request.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(5)).await;
    let [delivery, other] = ["Once", "Relabelled"].map(|title| {
        let found = deliveries.iter().find(|d| d.body.contains(title));
        found.expect("a delivery per pull request").clone()
    });
    assert_eq!(delivery.status, Some(404), "{delivery:?}");

    // The event key is not signed: it must name what the body is about.
    let relabelled = with_header(&other.headers, "x-event-key", "issue:created");
    let (status, answer) = post_delivery(&gateway, "acme", &relabelled, &other.body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // Identical deliveries released together: exactly one is accepted.
    let gateway = Arc::new(gateway);
    let racers: Vec<_> = (0..64)
        .map(|_| {
            let (gateway, headers, body) = (
                gateway.clone(),
                delivery.headers.clone(),
                delivery.body.clone(),
            );
            tokio::spawn(async move { post_delivery(&gateway, "acme", &headers, &body).await.0 })
        })
        .collect();
    let mut accepted = 0;
    for racer in racers {
        match racer.await.unwrap() {
            StatusCode::OK => accepted += 1,
            // Racers beyond the call slots are turned away: not accepted either.
            StatusCode::CONFLICT | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted, 1);

    // A fresh request UUID does not make the same signed body new.
    let fresh = with_header(&delivery.headers, "x-request-uuid", "{fresh}");
    let (status, answer) = post_delivery(&gateway, "acme", &fresh, &delivery.body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}
