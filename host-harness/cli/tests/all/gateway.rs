//! `atom-harness serve` from outside, over real HTTP: who may call it, what
//! a browser on another site cannot make it do, and how it holds up when
//! one tenant misbehaves or a crowd arrives.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Gateway, answer, harness, run, upstream_requests};
use atom_runtime::Tenant;
use atom_runtime::host_types::{CredentialSecret, OauthTokens};
use atom_store::{Keyring, SqliteCredentialStore};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn the_key_decides_the_tenant_and_no_key_reaches_nothing() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let client = reqwest::Client::new();

    let anonymous = client
        .get(gateway.url("/v1/operations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let forged = format!("{}x", &gateway.acme_key[..gateway.acme_key.len() - 1]);
    let (status, _, body) = gateway
        .call(&forged, "/v1/operations/get-current-user", "{}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "auth_invalid");

    let (status, _, me) = gateway
        .call(&gateway.acme_key, "/v1/operations/get-current-user", "{}")
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Ada Lovelace");
    let (status, _, _) = gateway
        .call(
            &gateway.acme_key,
            "/v1/tenants/acme/operations/get-current-user",
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The component's failures keep their HTTP status, and never the token.
    let (status, _, missing) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/get-repository",
            r#"{"workspace":"atom-labs","repo_slug":"nope"}"#,
        )
        .await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (StatusCode::NOT_FOUND, &Value::from("not_found"))
    );
    let (status, _, invalid) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/list-repositories",
            r#"{"page":{"size":500}}"#,
        )
        .await;
    assert_eq!(
        (status, &invalid["error"]["field"]),
        (StatusCode::BAD_REQUEST, &Value::from("workspace"))
    );
    let not_utf8 = reqwest::Client::new()
        .post(gateway.url("/v1/operations/list-workspaces"))
        .bearer_auth(&gateway.acme_key)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(
        not_utf8.status(),
        StatusCode::BAD_REQUEST,
        "refused, not mangled"
    );
    for answer in [&me, &missing, &invalid] {
        assert!(!answer.to_string().contains(ADA_TOKEN));
    }

    // Another tenant's key never acts as acme, and nothing goes upstream.
    let before = upstream_requests(&fake);
    let (status, _, body) = gateway
        .call(
            &gateway.globex_key,
            "/v1/tenants/acme/operations/list-workspaces",
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied");
    let (status, _, _) = gateway
        .call(&gateway.globex_key, "/v1/operations/list-workspaces", "{}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "globex has no credential");
    assert_eq!(upstream_requests(&fake), before);

    // Anonymous OAuth: refused before the component sees it.
    for operation in ["auth-start", "auth-complete"] {
        let response = client
            .post(gateway.url(&format!("/v1/operations/{operation}")))
            .header("content-type", "application/json")
            .body(r#"{"code":"c","state":"s"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{operation}");
    }

    // A revoked tenant's key stops working at once.
    run(harness(&gateway.dir).args(["tenants", "revoke", "globex"]));
    let (status, _, _) = gateway
        .call(&gateway.globex_key, "/v1/operations/health", "{}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let listed = run(harness(&gateway.dir).args(["tenants", "list", "--output", "json"]));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[1]["name"], "globex");
    assert!(listed[1]["revoked_at"].is_u64() && listed[1]["active_keys"] == 0);
    assert!(!listed.to_string().contains(&gateway.acme_key[10..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oauth_state_completes_only_for_the_tenant_that_started_it() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let (status, _, started) = gateway
        .call(&gateway.acme_key, "/v1/operations/auth-start", "{}")
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    // The browser consents at the fake; its redirect carries the code and state.
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    let callback =
        serde_json::json!({ "code": query["code"], "state": query["state"] }).to_string();

    let token_requests = || {
        fake.control()
            .requests_to("/site/oauth2/access_token")
            .len()
    };
    let (status, _, body) = gateway
        .call(
            &gateway.globex_key,
            "/v1/operations/auth-complete",
            &callback,
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(
        token_requests(),
        0,
        "globex's call never reached the token endpoint"
    );

    let (status, _, body) = gateway
        .call(&gateway.acme_key, "/v1/operations/auth-complete", &callback)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(token_requests(), 1);
    let (status, _, _) = gateway
        .call(&gateway.acme_key, "/v1/operations/auth-complete", &callback)
        .await;
    assert!(status.is_client_error(), "a state is used once");
    assert_eq!(token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_site_cannot_make_a_browser_act() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let client = reqwest::Client::new();
    let before = upstream_requests(&fake);
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut request = client
            .post(gateway.url("/v1/operations/create-issue"))
            .bearer_auth(&gateway.acme_key)
            .body(r#"{"workspace":"atom-labs","repo_slug":"bitbucket-plugin","title":"csrf"}"#);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let json = ("content-type", "application/json");
    for (headers, status) in [
        (vec![("content-type", "text/plain")], 415),
        (vec![json, ("origin", "https://evil.example")], 403),
        (vec![json, ("origin", "null")], 403),
        (vec![json, ("sec-fetch-site", "cross-site")], 403),
        (vec![json, ("host", "rebound.evil.example")], 421),
    ] {
        let response = post(&headers).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{headers:?}");
    }
    assert_eq!(upstream_requests(&fake), before, "nothing went upstream");

    // A session: the key opens it, the cookie carries it, the CSRF token guards changes.
    let opened = client
        .post(gateway.url("/v1/session"))
        .bearer_auth(&gateway.acme_key)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    let set_cookie = opened.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = answer(opened).await.2["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_session = |csrf: Option<&str>| {
        let mut request = client
            .post(gateway.url("/v1/operations/get-current-user"))
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body("{}");
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(
        in_session(None).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        in_session(Some("guess")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        in_session(Some(&csrf)).await.unwrap().status(),
        StatusCode::OK
    );
    let read = client
        .get(gateway.url("/v1/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(read).await.2["tenant"], "acme");
    let reopened = client
        .post(gateway.url("/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        reopened.status(),
        StatusCode::FORBIDDEN,
        "only a key opens a session"
    );
    let closed = client
        .delete(gateway.url("/v1/session"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        in_session(Some(&csrf)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_nobody_registered_leave_no_trace_in_memory() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let client = reqwest::Client::new();
    let knock = |i: usize| {
        let (client, gateway) = (&client, &gateway);
        async move {
            // Half with a key of the right shape, half with acme's key naming another tenant.
            let (key, path) = if i.is_multiple_of(2) {
                (
                    format!("atom_{i:016x}_{}", "A".repeat(43)),
                    "/v1/operations/health".to_owned(),
                )
            } else {
                (
                    gateway.acme_key.clone(),
                    format!("/v1/tenants/stranger-{i}/operations/health"),
                )
            };
            let status = client
                .post(gateway.url(&path))
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap()
                .status();
            assert!(matches!(status.as_u16(), 401 | 403), "{status}");
        }
    };
    for i in 0..1_000 {
        knock(i).await;
    }
    let before = gateway.rss_kib();
    for i in 1_000..11_000 {
        knock(i).await;
    }
    let grown = gateway.rss_kib().saturating_sub(before);
    // The gateway used to keep a tenant per name: ~1 KiB each, 10 MiB here.
    assert!(grown < 3 * 1024, "grew by {grown} KiB for 10,000 strangers");
}

mod spinner {
    use super::*;

    /// The gateway serving the spinner component (it spins in `spin`, echoes in
    /// `echo`), with a 4 s deadline and small caps.
    async fn spinner_gateway(fake: &FakeBitbucket, caps: &[&str]) -> Gateway {
        let component = atom_test_components::spinner().to_str().unwrap().to_owned();
        // No read cache: every echo must run in the sandbox to measure it.
        let mut flags = vec![
            "--component",
            &component,
            "--timeout-secs",
            "4",
            "--cache-ttl-secs",
            "0",
        ];
        flags.extend_from_slice(caps);
        Gateway::start(fake, &flags).await
    }

    /// A `spin` call as `key`, answered when the deadline stops it.
    fn spin_in_background(
        gateway: &Gateway,
        key: &str,
    ) -> tokio::task::JoinHandle<(StatusCode, reqwest::header::HeaderMap, Value)> {
        let request = reqwest::Client::new()
            .post(gateway.url("/v1/operations/spin"))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body("{}");
        tokio::spawn(async move { answer(request.send().await.unwrap()).await })
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn spinning_guests_do_not_stall_another_tenants_calls() {
        let fake = FakeBitbucket::start().await.unwrap();
        let gateway = spinner_gateway(&fake, &[]).await;
        let started = Instant::now();
        let spins: Vec<_> = (0..2)
            .map(|_| spin_in_background(&gateway, &gateway.acme_key))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // What this test states, without timing a call: cheap calls are
        // answered while both guests still spin (before, each waited for
        // the spinners' whole deadline).
        let mut served_while_spinning = 0;
        while started.elapsed() < Duration::from_secs(3) {
            let (status, _, body) = gateway
                .call(&gateway.globex_key, "/v1/operations/echo", r#"{"n":1}"#)
                .await;
            assert_eq!((status, body["n"].as_u64()), (StatusCode::OK, Some(1)));
            if spins.iter().all(|spin| !spin.is_finished()) {
                served_while_spinning += 1;
            }
        }
        assert!(
            served_while_spinning > 0,
            "no echo was answered while the guests spun"
        );
        // Only the deadline stops a spinning guest, and it says so.
        for spin in spins {
            let (status, _, body) = spin.await.unwrap();
            assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
            assert_eq!(body["error"]["code"], "timeout");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_flood_is_turned_away_with_retry_after_and_served_afterwards() {
        let fake = FakeBitbucket::start().await.unwrap();
        // 3 calls in all (192 MiB / 64 MiB), 2 per tenant, 200 ms of queueing.
        let caps = [
            "--memory-budget-mib",
            "192",
            "--max-calls-per-tenant",
            "2",
            "--queue-wait-ms",
            "200",
        ];
        let gateway = spinner_gateway(&fake, &caps).await;
        let running = [
            spin_in_background(&gateway, &gateway.acme_key),
            spin_in_background(&gateway, &gateway.acme_key),
            spin_in_background(&gateway, &gateway.globex_key),
        ];
        // On a loaded machine the spins take a moment to hold their slots;
        // an echo answered before that is fine, one refused is the point.
        let refused = |key: String| {
            let gateway = &gateway;
            async move {
                let deadline = Instant::now() + Duration::from_secs(3);
                loop {
                    let answer = gateway.call(&key, "/v1/operations/echo", "{}").await;
                    if answer.0 != StatusCode::OK || Instant::now() > deadline {
                        return answer;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };

        let (status, headers, body) = refused(gateway.acme_key.clone()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(headers["retry-after"], HeaderValue::from_static("1"));
        assert_eq!(body["error"]["retryable"], true);
        let (status, headers, body) = refused(gateway.globex_key.clone()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(headers.contains_key("retry-after"));
        assert_eq!(body["error"]["code"], "overloaded");

        for call in running {
            assert_eq!(call.await.unwrap().0, StatusCode::GATEWAY_TIMEOUT);
        }
        let (status, _, _) = gateway
            .call(&gateway.acme_key, "/v1/operations/echo", "{}")
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "served again once the slots are free"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_dribbling_connections_are_closed_on_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--header-timeout-secs", "1"]).await;
    let addr = gateway.base.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: tokio::net::TcpStream| async move {
        let started = Instant::now();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the connection was still open after 5 s");
        (
            started.elapsed(),
            String::from_utf8_lossy(&rest).into_owned(),
        )
    };

    let silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (took, _) = closed_within(silent).await;
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");

    let mut dribbling = tokio::net::TcpStream::connect(&addr).await.unwrap();
    dribbling
        .write_all(b"GET /v1/operations HTTP/1.1\r\nHo")
        .await
        .unwrap();
    closed_within(dribbling).await;

    // After a whole request and its answer, a kept-alive connection left idle.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(format!("GET /v1/session HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let (_, answered) = closed_within(kept).await;
    assert!(
        answered.starts_with("HTTP/1.1 200") && answered.contains(r#""tenant":null"#),
        "{answered}"
    );
}

#[test]
fn serve_stays_on_loopback_unless_told_and_limits_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str]| {
        let output = harness(&dir).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let beyond = refused(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(beyond.contains("--allow-remote"), "{beyond}");
    let keyless = refused(&["serve", "--listen", "0.0.0.0:0", "--allow-remote"]);
    assert!(keyless.contains("tenants add"), "{keyless}");
    let huge = refused(&["--memory-mib", "18446744073709551615", "operations"]);
    assert!(huge.contains("--memory-mib"), "{huge}");
    let zero = refused(&["serve", "--max-connections", "0"]);
    assert!(zero.contains("--max-connections"), "{zero}");
    let sessionless = refused(&["serve", "--max-sessions-per-tenant", "0"]);
    assert!(
        sessionless.contains("--max-sessions-per-tenant"),
        "{sessionless}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_served_when_a_certificate_is_given() {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

    let fake = FakeBitbucket::start().await.unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = tempfile::tempdir().unwrap();
    let (cert, key) = (pem.path().join("cert.pem"), pem.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let gateway = Gateway::start(
        &fake,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    let addr = gateway
        .base
        .strip_prefix("https://")
        .expect("an https URL")
        .to_owned();

    let mut roots = RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the handshake verifies the given certificate");
    let body = "{}";
    let request = format!(
        "POST /v1/session HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        gateway.acme_key,
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(cookie.contains("Secure"), "{cookie}");

    // Plain HTTP on the TLS port gets no answer.
    let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /v1/session HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut rest)).await;
    assert!(
        !rest.starts_with(b"HTTP/1.1 2"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn atoms_contract_is_served_and_its_context_reaches_every_log_line() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let response = reqwest::Client::new()
        .post(gateway.url("/atom/v1/execute"))
        .bearer_auth(&gateway.acme_key)
        .header("content-type", "application/json")
        .header("x-request-id", "req-4242")
        .body(
            serde_json::json!({
                "operation": "list_workspaces",
                "parameters": {},
                "context": {"tenant_id": "acme", "agent_id": "agent-7", "connector_id": "conn-9"}
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-4242");
    let (status, _, body) = answer(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["details"]["request_id"], "req-4242");

    // Every line the call logged, the host's and the component's, carries its context.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = gateway.logs.lock().unwrap().clone();
    let of_call: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["span"]["request_id"] == "req-4242")
        .collect();
    assert!(
        of_call.iter().any(|l| l["target"] == "atom_guest")
            && of_call
                .iter()
                .any(|l| l["fields"]["message"] == "call answered"),
        "{logs:#?}"
    );
    for line in &of_call {
        assert_eq!(line["span"]["agent_id"], "agent-7", "{line}");
        assert_eq!(line["span"]["connector_id"], "conn-9", "{line}");
    }
    assert!(!logs.iter().any(|l| l.contains(ADA_TOKEN)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_adapter_serves_atom() {
    let fake = FakeBitbucket::start().await.unwrap();
    // The adapter's operator client onboards tenants with this token.
    let operator_token = "operator-token-of-the-adapter-tests-0123456789abcdef";
    let gateway = Gateway::start_with(&fake, &[], &[("ATOM_OPERATOR_TOKEN", operator_token)]).await;
    let webhook_secret = run(harness(&gateway.dir).args(["tenants", "webhook-secret", "acme"]));
    let narrow = narrow_consent_store(&fake);
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/python");
    // `scripts/test` points this at the project's virtual environment.
    let python = std::env::var_os("ATOM_PYTHON").unwrap_or_else(|| "python3".into());
    let mut pytest = Command::new(python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(&clients)
        .env("ATOM_TEST_GATEWAY_URL", &gateway.base)
        .env("ATOM_TEST_ACME_KEY", &gateway.acme_key)
        .env("ATOM_TEST_GLOBEX_KEY", &gateway.globex_key)
        .env("ATOM_TEST_OPERATOR_TOKEN", operator_token)
        // The MCP tests start `atom-harness mcp` over stdio themselves, and
        // reach the gateway's `/mcp` with the keys above.
        .env("ATOM_TEST_HARNESS", env!("CARGO_BIN_EXE_atom-harness"))
        .env("ATOM_TEST_FAKE_ADDR", fake.addr().to_string())
        .env("ATOM_TEST_FAKE_API_BASE_URL", fake.api_base_url())
        .env("ATOM_TEST_ACCESS_TOKEN", ADA_TOKEN)
        // A subscribed MCP session hears of acme's signed deliveries.
        .env("ATOM_TEST_ACME_WEBHOOK_SECRET", webhook_secret.trim())
        .env(
            "ATOM_TEST_NARROW_STORE",
            narrow.path().join("store.sqlite3"),
        )
        .env("ATOM_TEST_NARROW_KEY_FILE", narrow.path().join("store.key"))
        .env("ATOM_TEST_NARROW_SCOPES", NARROW_SCOPES.join(" "))
        .env_remove("ATOM_COMPONENT");
    let output = tokio::task::spawn_blocking(move || pytest.output())
        .await
        .unwrap()
        .expect("python runs: `scripts/test` sets up its virtual environment");
    assert!(
        output.status.success(),
        "pytest failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What tenant `narrow`'s OAuth consent granted: reading, nothing more.
const NARROW_SCOPES: [&str; 3] = ["account", "repository", "pullrequest"];

/// A credential store holding tenant `narrow`: an OAuth access token the
/// fake knows as Ada's, granted only [`NARROW_SCOPES`] (the fake refuses
/// anything else with 403, as Bitbucket does).
fn narrow_consent_store(fake: &FakeBitbucket) -> tempfile::TempDir {
    const TOKEN: &str = "fake-token-narrow-consent";
    let scopes: Vec<String> = NARROW_SCOPES.map(String::from).to_vec();
    {
        let mut world = fake.control();
        let ada = world.bearer_tokens[ADA_TOKEN].clone();
        world.bearer_tokens.insert(TOKEN.into(), ada);
        world
            .oauth
            .access_scopes
            .insert(TOKEN.into(), scopes.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    run(harness(&dir).args(["keys", "init"]));
    let keyring = Keyring::load_file(&dir.path().join("store.key")).unwrap();
    let store = SqliteCredentialStore::open(&dir.path().join("store.sqlite3"), keyring).unwrap();
    let a_day_from_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 24 * 3600;
    Tenant::new("narrow", std::sync::Arc::new(store))
        .set_credential(CredentialSecret::Oauth(OauthTokens {
            access_token: TOKEN.into(),
            refresh_token: None,
            expires_at: Some(a_day_from_now),
            scopes,
        }))
        .unwrap();
    dir
}

/// A browser session opened with `key`: its cookie and CSRF token.
async fn open_session(gateway: &Gateway, key: &str) -> (String, String) {
    open_session_with(&reqwest::Client::new(), gateway, key).await
}

async fn open_session_with(
    client: &reqwest::Client,
    gateway: &Gateway,
    key: &str,
) -> (String, String) {
    let opened = client
        .post(gateway.url("/v1/session"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    let set_cookie = opened.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = answer(opened).await.2["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (cookie, csrf)
}

/// What a session gets for a read, a write and the event stream.
async fn session_uses(gateway: &Gateway, (cookie, csrf): &(String, String)) -> [StatusCode; 3] {
    let client = reqwest::Client::new();
    let call = |operation: &str, params: &str| {
        client
            .post(gateway.url(&format!("/v1/operations/{operation}")))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .header("content-type", "application/json")
            .body(params.to_owned())
            .send()
    };
    let read = call("get-current-user", "{}").await.unwrap().status();
    let write = call(
        "create-issue",
        r#"{"workspace":"atom-labs","repo_slug":"bitbucket-plugin","title":"in session"}"#,
    )
    .await
    .unwrap()
    .status();
    // The stream's status arrives with its headers; its body never ends.
    let events = client
        .get(gateway.url("/bitbucket/events"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status();
    [read, write, events]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_when_its_key_is_rotated_or_revoked() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let working = [StatusCode::OK; 3];
    let refused = [StatusCode::UNAUTHORIZED; 3];

    let before_rotation = open_session(&gateway, &gateway.acme_key).await;
    assert_eq!(session_uses(&gateway, &before_rotation).await, working);
    let new_key = run(harness(&gateway.dir).args(["tenants", "rotate-key", "acme"]));
    assert_eq!(
        session_uses(&gateway, &before_rotation).await,
        refused,
        "a session opened with the old key"
    );

    let after_rotation = open_session(&gateway, new_key.trim()).await;
    assert_eq!(session_uses(&gateway, &after_rotation).await, working);
    run(harness(&gateway.dir).args(["tenants", "revoke", "acme"]));
    assert_eq!(
        session_uses(&gateway, &after_rotation).await,
        refused,
        "a revoked tenant's session"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_opening_many_sessions_closes_only_its_own() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let globex = open_session(&gateway, &gateway.globex_key).await;
    let first_of_acme = open_session(&gateway, &gateway.acme_key).await;
    // More than the whole session table once held, all of them acme's.
    let client = reqwest::Client::new();
    for _ in 0..10_000 {
        open_session_with(&client, &gateway, &gateway.acme_key).await;
    }
    let tenant_of = |(cookie, _): &(String, String)| {
        let request = reqwest::Client::new()
            .get(gateway.url("/v1/session"))
            .header("cookie", cookie.clone())
            .send();
        async move { answer(request.await.unwrap()).await.2["tenant"].clone() }
    };
    assert_eq!(tenant_of(&globex).await, "globex", "globex's session stays");
    assert_eq!(
        tenant_of(&first_of_acme).await,
        Value::Null,
        "acme's oldest went first"
    );
}

/// The gateway's log lines, parsed, once one of them satisfies `seen`
/// (bounded: five seconds at most).
async fn logged(gateway: &Gateway, seen: impl Fn(&Value) -> bool) -> Vec<Value> {
    for _ in 0..50 {
        let lines: Vec<Value> = gateway
            .logs
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.iter().any(&seen) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no such log line: {:#?}", gateway.logs.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn atom_callers_with_a_refused_key_get_atoms_shapes() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let forged = format!("{}x", &gateway.acme_key[..gateway.acme_key.len() - 1]);
    let client = reqwest::Client::new();

    let (status, _, body) = gateway
        .call(
            &forged,
            "/atom/v1/execute",
            r#"{"operation":"list_workspaces","parameters":{}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert!(body["result"].is_null(), "{body}");
    assert_eq!(body["details"]["error_code"], "AUTH_INVALID", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("API key"),
        "{body}"
    );

    let health = client
        .get(gateway.url("/atom/v1/health"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    let (status, _, body) = answer(health).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["healthy"], false, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("the gateway refused the API key"),
        "{body}"
    );
    assert!(!message.contains(&forged), "{body}");
    assert!(body["last_check"].is_string(), "{body}");

    for path in ["/atom/v1/capabilities", "/atom/v1/operations"] {
        let refused = client.get(gateway.url(path)).send().await.unwrap();
        let (status, _, body) = answer(refused).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(
            body["details"]["error_code"], "AUTH_INVALID",
            "{path}: {body}"
        );
    }
    // The generic routes keep their own shape.
    let (_, _, body) = gateway
        .call(&forged, "/v1/operations/list-workspaces", "{}")
        .await;
    assert_eq!(body["error"]["code"], "auth_invalid", "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn atom_sees_snake_case_operation_ids_and_execute_takes_either_spelling() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let request = client.get(gateway.url(path)).bearer_auth(&gateway.acme_key);
        async move { answer(request.send().await.unwrap()).await.2 }
    };
    let operations = get("/atom/v1/operations").await;
    let names: Vec<&str> = operations
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"list_repositories"), "{names:?}");
    assert!(names.iter().all(|n| !n.contains('-')), "{names:?}");
    let capabilities = get("/atom/v1/capabilities").await;
    for op in capabilities["operations"].as_array().unwrap() {
        assert_eq!(op["id"], op["name"]);
        assert!(names.contains(&op["id"].as_str().unwrap()), "{op}");
    }
    for spelling in ["list_workspaces", "list-workspaces"] {
        let (status, _, body) = gateway
            .call(
                &gateway.acme_key,
                "/atom/v1/execute",
                &serde_json::json!({ "operation": spelling }).to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{spelling}: {body}");
        assert_eq!(body["details"]["operation"], "list_workspaces", "{body}");
        assert_eq!(body["success"], true, "{body}");
        assert!(body["error"].is_null(), "{body}");
        assert!(body["result"]["items"].is_array(), "{body}");
    }
    // Parameters reach the component as sent, and must be an object.
    let (status, _, body) = gateway
        .call(
            &gateway.acme_key,
            "/atom/v1/execute",
            r#"{"operation":"get_repository","parameters":{"workspace":"atom-labs","repo_slug":"atom-core"}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["full_name"], "atom-labs/atom-core", "{body}");
    for wrong in ["[]", "\"atom-core\"", "3"] {
        let (status, _, body) = gateway
            .call(
                &gateway.acme_key,
                "/atom/v1/execute",
                &format!(r#"{{"operation":"get_repository","parameters":{wrong}}}"#),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong}: {body}");
        assert_eq!(body["details"]["error_code"], "VALIDATION_ERROR", "{body}");
        assert_eq!(body["details"]["cause"]["field"], "parameters", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_tells_the_client_only_its_request_id_and_the_log_the_rest() {
    let fake = FakeBitbucket::start().await.unwrap();
    let component = atom_test_components::spinner().to_str().unwrap().to_owned();
    let gateway = Gateway::start(&fake, &["--component", &component]).await;
    let client = reqwest::Client::new();
    let internal = |text: &str| {
        let text = text.to_lowercase();
        ["wasm", "backtrace", "panicked", "spinner", "trapped"]
            .iter()
            .any(|word| text.contains(word))
    };

    for (path, body, request_id) in [
        ("/v1/operations/trap", "{}", "trap-v1"),
        ("/atom/v1/execute", r#"{"operation":"trap"}"#, "trap-atom"),
    ] {
        let response = client
            .post(gateway.url(path))
            .bearer_auth(&gateway.acme_key)
            .header("content-type", "application/json")
            .header("x-request-id", request_id)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(response).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        let shown = body.to_string();
        assert!(!internal(&shown), "{path} showed internals: {shown}");
        assert!(shown.contains("request"), "{shown}");

        let lines = logged(&gateway, |l| {
            l["span"]["request_id"] == request_id && l["fields"]["internals"].is_string()
        })
        .await;
        let internals = lines
            .iter()
            .find(|l| l["span"]["request_id"] == request_id && l["fields"]["internals"].is_string())
            .unwrap()["fields"]["internals"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(internal(&internals), "the log keeps the trap: {internals}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_context_value_leaves_short_log_lines() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let huge = "w".repeat(200 * 1024);
    let (status, _, body) = gateway
        .call(
            &gateway.acme_key,
            "/atom/v1/execute",
            &serde_json::json!({
                "operation": "list_workspaces",
                "context": {"workspace_id": huge, "agent_id": "agent-7"},
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines = logged(&gateway, |l| l["fields"]["message"] == "call answered").await;
    let answered = lines
        .iter()
        .find(|l| l["fields"]["message"] == "call answered")
        .unwrap();
    let workspace = answered["span"]["workspace_id"].as_str().unwrap();
    assert!(
        workspace.starts_with("www") && workspace.len() < 256,
        "{workspace}"
    );
    let longest = gateway
        .logs
        .lock()
        .unwrap()
        .iter()
        .map(String::len)
        .max()
        .unwrap();
    assert!(longest < 4096, "a log line of {longest} bytes");
}

/// A secured pipeline variable's value goes to Bitbucket and nowhere else:
/// not in any answer of the gateway, not in its error, not in a log line
/// (the host's or the component's).
#[tokio::test(flavor = "multi_thread")]
async fn a_secured_variables_value_is_in_no_answer_error_or_log() {
    const SECRET: &str = "s3cr3t-gateway-token-0c1d";
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let call = |operation: &str, params: Value| {
        let path = format!("/v1/operations/{operation}");
        let key = gateway.acme_key.clone();
        let gateway = &gateway;
        async move { gateway.call(&key, &path, &params.to_string()).await }
    };
    let repo = |extra: Value| {
        let mut params =
            serde_json::json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin" });
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        params
    };
    let variable =
        repo(serde_json::json!({ "key": "GATEWAY_TOKEN", "value": SECRET, "secured": true }));
    let (status, _, created) = call("create-repository-variable", variable.clone()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, _, twice) = call("create-repository-variable", variable).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    let (status, _, listed) = call("list-repository-variables", repo(serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let held = fake.control().pipeline_variables["atom-labs/bitbucket-plugin"]
        .iter()
        .any(|v| v.key == "GATEWAY_TOKEN" && v.value == SECRET);
    assert!(held, "Bitbucket holds the value");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = gateway.logs.lock().unwrap().clone();
    assert!(
        logs.iter()
            .any(|l| l.contains("create-repository-variable")),
        "the calls were logged: {logs:#?}"
    );
    for said in [&created, &twice, &listed] {
        assert!(!said.to_string().contains(SECRET), "{said}");
    }
    assert!(
        !logs.iter().any(|l| l.contains(SECRET)),
        "a log line carries the value"
    );
}

/// A read is answered from the cache on every route family until the caller
/// sends `Cache-Control: no-cache`, which asks Bitbucket again (and keeps
/// the new answer).
#[tokio::test(flavor = "multi_thread")]
async fn every_route_family_honours_no_cache() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "60"]).await;
    let user_reads = || {
        fake.control()
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/2.0/user")
            .count()
    };
    let call = |path: &'static str, body: &'static str, fresh: bool| {
        let mut request = reqwest::Client::new()
            .post(gateway.url(path))
            .bearer_auth(&gateway.acme_key)
            .header("content-type", "application/json")
            .body(body);
        if fresh {
            request = request.header("cache-control", "no-cache");
        }
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            assert!(response.text().await.unwrap().contains("Ada Lovelace"));
        }
    };
    let routes = [
        (
            "/atom/v1/execute",
            r#"{"operation":"get-current-user","parameters":{}}"#,
        ),
        ("/v1/operations/get-current-user", "{}"),
    ];
    call(routes[0].0, routes[0].1, false).await;
    let first = user_reads();
    assert_eq!(first, 1, "the first read goes upstream");
    for (path, body) in routes {
        call(path, body, false).await;
    }
    assert_eq!(user_reads(), first, "cached on both route families");
    for (at, (path, body)) in routes.into_iter().enumerate() {
        call(path, body, true).await;
        assert_eq!(
            user_reads(),
            first + at + 1,
            "{path} with no-cache asks again"
        );
    }
}

/// The gateway remembers the keys it verified and the credentials it read,
/// yet what another process changes in the store counts from the very next
/// request: a new token, a rotated key.
#[tokio::test(flavor = "multi_thread")]
async fn what_another_process_changes_in_the_store_counts_at_the_next_request() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "0"]).await;
    let user = |key: String| {
        let gateway = &gateway;
        async move {
            let (status, _, body) = gateway
                .call(&key, "/v1/operations/get-current-user", "{}")
                .await;
            (status, body)
        }
    };
    let acme = gateway.acme_key.clone();
    for _ in 0..3 {
        let (status, body) = user(acme.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let store_token = |token: &str| {
        run(harness(&gateway.dir)
            .args(["--tenant", "acme", "auth", "add-token"])
            .args(["--kind", "access-token"])
            .env("BITBUCKET_ACCESS_TOKEN", token));
    };
    store_token("a-token-bitbucket-never-issued");
    let (status, body) = user(acme.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "auth_invalid", "{body}");
    store_token(ADA_TOKEN);
    let (status, body) = user(acme.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let rotated = run(harness(&gateway.dir).args(["tenants", "rotate-key", "acme"]));
    let (status, body) = user(acme).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old key: {body}");
    let (status, body) = user(rotated.trim().to_owned()).await;
    assert_eq!(status, StatusCode::OK, "the new key: {body}");
}
