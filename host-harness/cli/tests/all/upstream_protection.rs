//! What keeps a tenant from spending Bitbucket's budget or waiting on it
//! needlessly, and what the operator sees: the read cache, the upstream
//! budget, the probes and the metrics.

use crate::common::{Gateway, harness, run, upstream_requests};
use fake_bitbucket::{FakeBitbucket, GRACE_TOKEN};
use reqwest::StatusCode;
use serde_json::json;

const REPO: &str = r#"{"workspace":"atom-labs","repo_slug":"bitbucket-plugin"}"#;

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_reused_per_tenant_and_forgotten_after_a_write() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    run(harness(&gateway.dir)
        .args([
            "--tenant",
            "globex",
            "auth",
            "add-token",
            "--kind",
            "access-token",
        ])
        .env("BITBUCKET_ACCESS_TOKEN", GRACE_TOKEN));
    let read = |key: String| {
        let gateway = &gateway;
        async move {
            let (status, _, body) = gateway
                .call(&key, "/v1/operations/get-repository", REPO)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };

    let before = upstream_requests(&fake);
    let first = read(gateway.acme_key.clone()).await;
    let after_first = upstream_requests(&fake);
    assert!(after_first > before);
    let second = read(gateway.acme_key.clone()).await;
    assert_eq!(
        upstream_requests(&fake),
        after_first,
        "the same read within the TTL is reused"
    );
    assert_eq!(first, second);

    // Another tenant never reads acme's answer.
    read(gateway.globex_key.clone()).await;
    assert!(
        upstream_requests(&fake) > after_first,
        "globex's read went upstream"
    );

    // A write by acme makes its reads fresh again.
    let (status, _, _) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/create-issue",
            r#"{"workspace":"atom-labs","repo_slug":"bitbucket-plugin","title":"cache"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after_write = upstream_requests(&fake);
    read(gateway.acme_key.clone()).await;
    assert!(
        upstream_requests(&fake) > after_write,
        "read again after the write"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_answers_rate_limited_without_reaching_upstream() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(
        &fake,
        &["--upstream-budget-per-hour", "3", "--cache-ttl-secs", "0"],
    )
    .await;
    let mut answered = 0;
    let refusal = loop {
        let (status, headers, body) = gateway
            .call(&gateway.acme_key, "/v1/operations/get-current-user", "{}")
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break (headers, body);
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        answered += 1;
        assert!(answered <= 3, "more calls than the budget allows");
    };
    let (headers, body) = refusal;
    assert_eq!(body["error"]["code"], "rate_limited");
    let wait = body["error"]["retry_after_seconds"].as_u64().unwrap();
    assert!((1..=1200).contains(&wait), "{wait}");
    assert_eq!(headers["retry-after"].to_str().unwrap(), wait.to_string());

    let before = upstream_requests(&fake);
    let (status, _, atom) = gateway
        .call(
            &gateway.acme_key,
            "/atom/v1/execute",
            &json!({"operation": "list-workspaces", "parameters": {}}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(atom["details"]["error_code"], "RATE_LIMIT");
    assert!(atom["details"]["wait_time"].as_u64().unwrap() >= 1);
    assert_eq!(
        upstream_requests(&fake),
        before,
        "a refused call spends nothing upstream"
    );

    // Another tenant has its own budget: globex is refused for its missing
    // credential, not for acme's spending.
    let (status, _, _) = gateway
        .call(&gateway.globex_key, "/v1/operations/get-current-user", "{}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_answer_without_a_key_and_metrics_want_the_operators_token() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start_with(&fake, &[], &[("ATOM_METRICS_TOKEN", "scrape-me")]).await;
    let client = reqwest::Client::new();
    for probe in ["/healthz", "/readyz"] {
        let response = client.get(gateway.url(probe)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{probe}");
    }
    let (status, _, _) = gateway
        .call(&gateway.acme_key, "/v1/operations/list-workspaces", "{}")
        .await;
    assert_eq!(status, StatusCode::OK);
    gateway
        .call(&gateway.acme_key, "/v1/operations/made-up-operation", "{}")
        .await;
    client
        .get(gateway.url("/v1/operations"))
        .send()
        .await
        .unwrap();

    let scrape = |token: &'static str| {
        client
            .get(gateway.url("/metrics"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        scrape("guess").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let text = scrape("scrape-me").await.unwrap().text().await.unwrap();
    for expected in [
        r#"atom_calls_total{operation="list-workspaces",outcome="ok"} 1"#,
        r#"atom_calls_total{operation="unknown",outcome="validation"} 1"#,
        r#"atom_refusals_total{reason="unauthenticated"} 1"#,
        "atom_call_duration_seconds_bucket{",
        "atom_upstream_requests_total ",
        "atom_cache_misses_total 1",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(
        !text.contains("made-up-operation"),
        "callers cannot make labels"
    );
    assert!(!text.contains("acme"), "no tenant in the metrics");
}
