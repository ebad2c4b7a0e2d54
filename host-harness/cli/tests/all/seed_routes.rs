//! The routes of ATOM's original Bitbucket integration, served by the
//! gateway from real operations against the fake: same paths, the seed's
//! one-key envelopes, typed failures.

use std::collections::HashSet;

use crate::common::{Gateway, answer, harness, run, upstream_requests};
use fake_bitbucket::FakeBitbucket;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const REPO: &str = "/bitbucket/repositories/atom-labs/bitbucket-plugin";

async fn get(gateway: &Gateway, path: &str) -> (StatusCode, HeaderMap, Value) {
    let response = reqwest::Client::new()
        .get(gateway.url(path))
        .bearer_auth(&gateway.acme_key)
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn send(
    gateway: &Gateway,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .request(method, gateway.url(path))
        .bearer_auth(&gateway.acme_key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let (status, _, body) = answer(response).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_answer_the_seeds_envelopes_with_real_data() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;

    let (status, _, health) = get(&gateway, "/bitbucket/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&health["status"], &health["user"]),
        (&json!("healthy"), &json!("Ada Lovelace")),
        "{health}"
    );
    let (_, _, user) = get(&gateway, "/bitbucket/user").await;
    assert_eq!(user["user"]["display_name"], "Ada Lovelace");
    let (_, _, workspaces) = get(&gateway, "/bitbucket/workspaces").await;
    let slugs: Vec<_> = workspaces["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["slug"])
        .collect();
    assert!(slugs.contains(&&json!("atom-labs")), "{workspaces}");

    let (_, _, page) = get(&gateway, "/bitbucket/repositories?workspace=acme&size=100").await;
    assert_eq!(page["repositories"].as_array().unwrap().len(), 100);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let next = reqwest::Url::parse_with_params(
        &gateway.url("/bitbucket/repositories"),
        [
            ("workspace", "acme"),
            ("size", "100"),
            ("cursor", cursor.as_str()),
        ],
    )
    .unwrap();
    let relative = format!("{}?{}", next.path(), next.query().unwrap_or_default());
    let (_, _, second) = get(&gateway, &relative).await;
    assert_ne!(
        second["repositories"][0]["slug"],
        page["repositories"][0]["slug"]
    );
    let (_, _, every) = get(
        &gateway,
        "/bitbucket/repositories?workspace=acme&size=100&all=true",
    )
    .await;
    let every: HashSet<_> = every["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].clone())
        .collect();
    assert_eq!(every.len(), 263, "all pages, once each");

    let (_, _, repository) = get(&gateway, REPO).await;
    assert_eq!(repository["repository"]["slug"], "bitbucket-plugin");
    let (_, _, branches) = get(&gateway, &format!("{REPO}/branches")).await;
    assert!(
        branches["branches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "feature/login")
    );
    let (_, _, commits) = get(&gateway, &format!("{REPO}/commits?branch=develop&size=5")).await;
    assert_eq!(commits["commits"].as_array().unwrap().len(), 5, "{commits}");
    let (_, _, open) = get(&gateway, &format!("{REPO}/pull-requests?state=OPEN")).await;
    let open = open["pull_requests"].as_array().unwrap();
    assert!(!open.is_empty() && open.iter().all(|pr| pr["state"] == "open"));
    let (_, _, pr) = get(&gateway, &format!("{REPO}/pull-requests/4")).await;
    assert_eq!(pr["pull_request"]["title"], "Add OAuth 2.0 login flow");
    let (_, _, comments) = get(&gateway, &format!("{REPO}/pull-requests/4/comments")).await;
    assert_eq!(comments["comments"].as_array().unwrap().len(), 3);
    let (_, _, pipelines) = get(&gateway, &format!("{REPO}/pipelines")).await;
    assert!(!pipelines["pipelines"].as_array().unwrap().is_empty());
    let (_, _, issues) = get(&gateway, &format!("{REPO}/issues?state=new")).await;
    assert!(
        issues["issues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "new"),
        "{issues}"
    );
    let (_, _, hits) = get(
        &gateway,
        "/bitbucket/search/code?workspace=atom-labs&query=verify_signature",
    )
    .await;
    assert_eq!(hits["results"].as_array().unwrap().len(), 4, "{hits}");
    let (status, _, summary) =
        get(&gateway, "/bitbucket/analytics/summary?workspace=atom-labs").await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert!(summary["summary"].is_object());
}

/// Delivery insights answer with the charts drawn from them; a chart is the
/// same call as the JSON route, so the read cache answers it and a page of
/// charts costs no second fan-out, unless `Cache-Control: no-cache` asks.
#[tokio::test(flavor = "multi_thread")]
async fn delivery_insights_list_their_charts_and_the_charts_reuse_the_cached_answer() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let query = "workspace=atom-labs&weeks=12";
    let (status, _, body) = get(&gateway, &format!("/bitbucket/insights/delivery?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["insights"]["rollup"]["dora"].is_object(), "{body}");
    let charts = body["charts"].as_array().unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, atom_gateway::charts::chart_names());

    let before = upstream_requests(&fake);
    let client = reqwest::Client::new();
    for chart in charts {
        let url = chart["url"].as_str().unwrap();
        assert!(url.ends_with(&format!(".svg?{query}")), "{url}");
        let response = client
            .get(gateway.url(url))
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/svg+xml; charset=utf-8");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-security-policy"], "default-src 'none'");
        let svg = response.text().await.unwrap();
        assert!(
            svg.starts_with("<svg ") && svg.contains(r#"role="img""#),
            "{url}"
        );
        let alt = chart["alt"].as_str().unwrap();
        assert!(alt.chars().any(|c| c.is_ascii_digit()), "{alt}");
    }
    assert_eq!(
        upstream_requests(&fake),
        before,
        "the charts were drawn from the cached answer"
    );

    let (status, _, unknown) = get(
        &gateway,
        &format!("/bitbucket/insights/delivery/charts/pie.svg?{query}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(
        upstream_requests(&fake),
        before,
        "an unknown chart asks nothing"
    );

    let fresh = client
        .get(gateway.url(charts[0]["url"].as_str().unwrap()))
        .bearer_auth(&gateway.acme_key)
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert!(
        upstream_requests(&fake) > before,
        "no-cache asks Bitbucket again"
    );
}

/// An analysis costs a fan-out: it is kept for minutes where a read is kept
/// for seconds.
#[tokio::test(flavor = "multi_thread")]
async fn an_analysis_is_kept_longer_than_a_read() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "1"]).await;
    let insights = "/bitbucket/insights/delivery?workspace=atom-labs&weeks=4";
    let read = "/bitbucket/repositories?workspace=atom-labs";
    for path in [insights, read] {
        let (status, _, body) = get(&gateway, path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let before = upstream_requests(&fake);
    let (status, _, _) = get(&gateway, insights).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upstream_requests(&fake), before, "the analysis was kept");
    let (status, _, _) = get(&gateway, read).await;
    assert_eq!(status, StatusCode::OK);
    assert!(upstream_requests(&fake) > before, "the read was not");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_keep_the_seeds_detail_and_the_typed_error() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let (status, _, missing) = get(&gateway, &format!("{REPO}/pull-requests/999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(missing["detail"].is_string());
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _, unknown) = get(
        &gateway,
        "/bitbucket/repositories?workspace=acme&pagelen_x=5",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        unknown["detail"].as_str().unwrap().contains("pagelen_x"),
        "{unknown}"
    );
    let (status, _, invalid) = get(&gateway, "/bitbucket/repositories").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid["error"]["field"], "workspace", "{invalid}");
    let anonymous = reqwest::get(gateway.url("/bitbucket/workspaces"))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_create_what_the_lists_then_show() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let post = reqwest::Method::POST;

    let (status, created) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests"),
        json!({"title": "Search v2", "source_branch": "feature/search-v2", "destination_branch": "main"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["pull_request"]["id"].as_u64().unwrap();
    let (_, _, open) = get(&gateway, &format!("{REPO}/pull-requests?state=OPEN")).await;
    assert!(
        open["pull_requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|pr| pr["id"] == id)
    );

    let (status, triggered) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pipelines/trigger"),
        json!({"branch": "main", "variables": {"DEPLOY_ENV": "staging"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{triggered}");
    let uuid = triggered["pipeline"]["uuid"].as_str().unwrap().to_owned();
    let (status, _, pipeline) = get(&gateway, &format!("{REPO}/pipelines/{uuid}")).await;
    assert_eq!(status, StatusCode::OK, "{pipeline}");
    assert_eq!(pipeline["pipeline"]["uuid"], uuid.as_str());

    let (status, issue) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/issues"),
        json!({"title": "Seed route issue", "content": "from the gateway", "kind": "bug", "priority": "major"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issue}");
    assert_eq!(issue["issue"]["priority"], "major");
    let (_, _, issues) = get(&gateway, &format!("{REPO}/issues?all=true")).await;
    assert!(
        issues["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == "Seed route issue")
    );

    let (status, declined) = send(
        &gateway,
        post,
        &format!("{REPO}/pull-requests/{id}/decline"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &declined["pull_request"]["state"]),
        (StatusCode::OK, &json!("declined"))
    );
}

/// A login started by `key` through `/bitbucket/oauth/start`: the start
/// cookie the browser got, and the callback's query after consenting at the fake.
async fn start_login(gateway: &Gateway, key: &str) -> (String, String) {
    let started = reqwest::Client::new()
        .get(gateway.url("/bitbucket/oauth/start"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let set_cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/bitbucket/oauth",
        "Max-Age=",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (status, _, started) = answer(started).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    (cookie, location.query().unwrap().to_owned())
}

/// The browser's callback with `cookie` (if any): where it sends the browser.
async fn callback(gateway: &Gateway, query: &str, cookie: Option<&str>) -> String {
    let mut request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(gateway.url(&format!("/bitbucket/oauth/callback?{query}")));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()["location"].to_str().unwrap().to_owned()
}

const CONNECTED: &str = "/?oauth=connected#settings";

#[tokio::test(flavor = "multi_thread")]
async fn the_browsers_oauth_callback_completes_only_in_the_browser_that_started_it() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let token_requests = || {
        fake.control()
            .requests_to("/site/oauth2/access_token")
            .len()
    };
    let (cookie, query) = start_login(&gateway, &gateway.acme_key).await;

    // Whoever else holds the authorization URL links nothing to acme.
    assert_eq!(
        callback(&gateway, &query, None).await,
        "/?oauth_error=permission_denied#settings"
    );
    let other_state = format!("{}=not-handed-out", cookie.split('=').next().unwrap());
    assert_eq!(
        callback(&gateway, &query, Some(&other_state)).await,
        "/?oauth_error=permission_denied#settings"
    );
    assert_eq!(
        callback(&gateway, "code=x&state=not-handed-out", Some(&other_state)).await,
        "/?oauth_error=validation#settings"
    );
    assert_eq!(token_requests(), 0);

    // The browser that started it is sent back to the page's Settings.
    assert_eq!(callback(&gateway, &query, Some(&cookie)).await, CONNECTED);
    assert_eq!(token_requests(), 1);
    assert_eq!(
        callback(&gateway, &query, Some(&cookie)).await,
        "/?oauth_error=validation#settings",
        "a state completes once"
    );
    assert_eq!(token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_dies_with_the_key_that_started_it() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let (cookie, query) = start_login(&gateway, &gateway.acme_key).await;
    let (globex_cookie, globex_query) = start_login(&gateway, &gateway.globex_key).await;
    run(harness(&gateway.dir).args(["tenants", "rotate-key", "acme"]));

    // The browser that started acme's login still holds its cookie, but the
    // key behind it is gone: nothing is linked to acme.
    assert_eq!(
        callback(&gateway, &query, Some(&cookie)).await,
        "/?oauth_error=permission_denied#settings"
    );
    assert!(
        fake.control()
            .requests_to("/site/oauth2/access_token")
            .is_empty(),
        "no code was exchanged for a login whose key was rotated"
    );
    // Another tenant's login, started with a key that still works, completes.
    assert_eq!(
        callback(&gateway, &globex_query, Some(&globex_cookie)).await,
        CONNECTED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_tenant_opening_many_logins_evicts_only_its_own_oldest() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let globex = start_login(&gateway, &gateway.globex_key).await;
    let first = start_login(&gateway, &gateway.acme_key).await;
    let mut last = first.clone();
    for _ in 0..16 {
        last = start_login(&gateway, &gateway.acme_key).await;
    }
    assert_eq!(
        callback(&gateway, &first.1, Some(&first.0)).await,
        "/?oauth_error=validation#settings",
        "acme's oldest of 17 was let go"
    );
    assert_eq!(callback(&gateway, &last.1, Some(&last.0)).await, CONNECTED);
    assert_eq!(
        callback(&gateway, &globex.1, Some(&globex.0)).await,
        CONNECTED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_the_gateway_and_its_schemas_hold() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let text = reqwest::get(gateway.url("/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"));
    let document: Value = serde_json::from_str(&text).unwrap();

    let (_, _, operations) = get(&gateway, "/v1/operations").await;
    let paths = &document["paths"];
    for op in operations.as_array().unwrap() {
        let name = op["name"].as_str().unwrap();
        assert!(
            paths[format!("/v1/operations/{name}")]["post"].is_object(),
            "{name} missing"
        );
    }
    for seed_path in [
        "/bitbucket/repositories/{workspace}/{repo_slug}/pull-requests",
        "/bitbucket/repositories/{workspace}/{repo_slug}/pipelines/trigger",
        "/bitbucket/search/code",
        "/bitbucket/insights/delivery",
        "/bitbucket/insights/delivery/charts/{file}",
    ] {
        assert!(paths[seed_path].is_object(), "{seed_path} missing");
    }

    // The published request schema accepts what the gateway accepts and
    // refuses what it refuses.
    let mut schema = paths["/v1/operations/list-repositories"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]
        .clone();
    schema["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("a usable JSON Schema");
    for (params, accepted) in [
        (json!({"workspace": "acme", "page": {"size": 100}}), true),
        (json!({"page": {"size": 10}}), false),
        (
            json!({"workspace": "acme", "role": "owner", "surprise": 1}),
            false,
        ),
    ] {
        assert_eq!(validator.is_valid(&params), accepted, "{params}");
        let (status, _, _) = gateway
            .call(
                &gateway.acme_key,
                "/v1/operations/list-repositories",
                &params.to_string(),
            )
            .await;
        assert_eq!(
            status.is_success(),
            accepted,
            "the gateway agrees on {params}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_other_operation_has_its_route() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let (post, delete) = (reqwest::Method::POST, reqwest::Method::DELETE);

    // Reviews on Grace's pull request 5, as Ada.
    let (status, approved) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests/5/approve"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &approved["participant"]["approved"]),
        (StatusCode::OK, &json!(true)),
        "{approved}"
    );
    let (status, _) = send(
        &gateway,
        delete.clone(),
        &format!("{REPO}/pull-requests/5/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, changes) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests/5/request-changes"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &changes["participant"]["state"]),
        (StatusCode::OK, &json!("changes_requested")),
        "{changes}"
    );
    let (status, _) = send(
        &gateway,
        delete.clone(),
        &format!("{REPO}/pull-requests/5/request-changes"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, comment) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests/5/comments"),
        json!({"content": "Looks right"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");

    // A pull request merged through its route.
    let (_, created) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests"),
        json!({"title": "Ship search", "source_branch": "feature/search-v2"}),
    )
    .await;
    let id = created["pull_request"]["id"].as_u64().unwrap();
    let (status, merged) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pull-requests/{id}/merge"),
        json!({"strategy": "squash"}),
    )
    .await;
    assert_eq!(
        (status, &merged["pull_request"]["state"]),
        (StatusCode::OK, &json!("merged")),
        "{merged}"
    );

    // A finished pipeline's steps and log; a new one stopped.
    let (_, _, pipelines) = get(&gateway, &format!("{REPO}/pipelines?all=true")).await;
    let finished = pipelines["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == "successful")
        .unwrap_or_else(|| panic!("a successful pipeline in the seed: {pipelines}"))
        .clone();
    let uuid = finished["uuid"].as_str().unwrap();
    let (status, _, steps) = get(&gateway, &format!("{REPO}/pipelines/{uuid}/steps")).await;
    assert_eq!(status, StatusCode::OK, "{steps}");
    let step = steps["steps"][0]["uuid"].as_str().unwrap().to_owned();
    let (status, _, log) = get(
        &gateway,
        &format!("{REPO}/pipelines/{uuid}/steps/{step}/log"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(log["log"].is_object());
    let (_, triggered) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pipelines/trigger"),
        json!({"branch": "main"}),
    )
    .await;
    let running = triggered["pipeline"]["uuid"].as_str().unwrap().to_owned();
    let (status, stopped) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/pipelines/{running}/stop"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");

    // Webhooks: created, listed, deleted.
    let (status, hook) = send(
        &gateway,
        post.clone(),
        &format!("{REPO}/webhooks"),
        json!({"url": "http://127.0.0.1:9/hook", "events": ["repo:push"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let hook_uuid = hook["webhook"]["uuid"].as_str().unwrap().to_owned();
    let (_, _, hooks) = get(&gateway, &format!("{REPO}/webhooks")).await;
    assert!(
        hooks["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["uuid"] == hook_uuid.as_str())
    );
    let (status, _) = send(
        &gateway,
        delete,
        &format!("{REPO}/webhooks/{hook_uuid}"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // OAuth through the seed's POST callback, then a refresh.
    let (_, _, started) = get(&gateway, "/bitbucket/oauth/start").await;
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started["authorization_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    let (status, connected) = send(
        &gateway,
        post.clone(),
        "/bitbucket/oauth/callback",
        json!({"code": query["code"], "state": query["state"]}),
    )
    .await;
    assert_eq!(
        (status, &connected["status"]["kind"]),
        (StatusCode::OK, &json!("oauth2")),
        "{connected}"
    );
    let (status, refreshed) = send(&gateway, post, "/bitbucket/oauth/refresh", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(refreshed["status"]["expires_at"].is_u64());
    assert!(!refreshed.to_string().contains("refresh_token"));
}

/// A run's steps change by themselves: read while the run is pending, then
/// again once it has completed, the steps are the completed ones, not an
/// answer the read cache kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_completed_runs_steps_are_not_the_pending_ones_the_cache_saw() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--cache-ttl-secs", "60"]).await;
    let (status, triggered) = send(
        &gateway,
        reqwest::Method::POST,
        &format!("{REPO}/pipelines/trigger"),
        json!({"branch": "main"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{triggered}");
    let run = format!(
        "{REPO}/pipelines/{}",
        triggered["pipeline"]["uuid"].as_str().unwrap()
    );
    let step_statuses = |steps: &Value| -> Vec<String> {
        steps["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut settled = false;
    for _ in 0..20 {
        let (_, _, steps) = get(&gateway, &format!("{run}/steps")).await;
        assert!(!step_statuses(&steps).is_empty(), "{steps}");
        let (_, _, pipeline) = get(&gateway, &run).await;
        if pipeline["pipeline"]["status"] == "successful" {
            settled = true;
            break;
        }
    }
    assert!(settled, "the run completes");
    let (_, _, steps) = get(&gateway, &format!("{run}/steps")).await;
    let statuses = step_statuses(&steps);
    assert!(
        statuses.iter().all(|s| s == "successful"),
        "steps of a completed run: {statuses:?}"
    );
}

/// The open pull request with the longest diffstat: the fake's reviewable one.
async fn reviewable(gateway: &Gateway) -> (u64, Vec<Value>) {
    let (_, _, open) = get(gateway, &format!("{REPO}/pull-requests")).await;
    let mut best = (0, Vec::new());
    for pr in open["pull_requests"].as_array().unwrap() {
        let id = pr["id"].as_u64().unwrap();
        let (_, _, stat) = get(
            gateway,
            &format!("{REPO}/pull-requests/{id}/diffstat?all=true"),
        )
        .await;
        let files = stat["files"].as_array().unwrap().clone();
        if files.len() > best.1.len() {
            best = (id, files);
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_routes_answer_a_bundle_a_file_diff_a_thread_and_the_source() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let (id, stat) = reviewable(&gateway).await;
    assert!(stat.len() >= 5, "{stat:?}");

    let (status, _, review) = get(
        &gateway,
        &format!("{REPO}/pull-requests/{id}/review?max_bytes=8192"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    let bundle = &review["review"];
    assert_eq!(bundle["pull_request"]["id"], id);
    assert!(bundle["diff_bytes"].as_u64().unwrap() <= 8192);
    assert!(!bundle["cuts"].as_array().unwrap().is_empty(), "{bundle}");

    // One file's diff on demand, as the page loads it.
    let modified = stat
        .iter()
        .find(|f| f["change"] == "modified")
        .and_then(|f| f["new_path"].as_str())
        .unwrap();
    let url = reqwest::Url::parse_with_params(
        &gateway.url(&format!("{REPO}/pull-requests/{id}/diff")),
        [("path", modified), ("max_bytes", "65536")],
    )
    .unwrap();
    let (status, _, diff) = answer(
        reqwest::Client::new()
            .get(url)
            .bearer_auth(&gateway.acme_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let files = diff["diff"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0]["patch"].as_str().unwrap().contains("\n@@ "));

    // A thread resolved and reopened; a task resolved.
    let (status, created) = send(
        &gateway,
        reqwest::Method::POST,
        &format!("{REPO}/pull-requests/{id}/comments"),
        json!({ "content": "Please split this file.", "inline": { "path": modified, "to_line": 1 } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let comment = created["comment"]["id"].as_u64().unwrap();
    let (status, resolved) = send(
        &gateway,
        reqwest::Method::POST,
        &format!("{REPO}/pull-requests/{id}/comments/{comment}/resolve"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert!(resolved["comment"]["resolution"].is_object());
    let (_, reopened) = send(
        &gateway,
        reqwest::Method::DELETE,
        &format!("{REPO}/pull-requests/{id}/comments/{comment}/resolve"),
        json!({}),
    )
    .await;
    assert!(reopened["comment"]["resolution"].is_null(), "{reopened}");
    let (status, task) = send(
        &gateway,
        reqwest::Method::POST,
        &format!("{REPO}/pull-requests/{id}/tasks"),
        json!({ "content": "Split the file" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_id = task["task"]["id"].as_u64().unwrap();
    let (_, done) = send(
        &gateway,
        reqwest::Method::PUT,
        &format!("{REPO}/pull-requests/{id}/tasks/{task_id}"),
        json!({ "state": "resolved" }),
    )
    .await;
    assert_eq!(done["task"]["state"], "resolved", "{done}");

    // The source at a branch: a directory, then a file in it.
    let (status, _, root) = get(&gateway, &format!("{REPO}/src?revision=main&all=true")).await;
    assert_eq!(status, StatusCode::OK, "{root}");
    let entries = root["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "directory"), "{root}");
    let file = entries
        .iter()
        .find(|e| e["kind"] == "file")
        .and_then(|e| e["path"].as_str())
        .unwrap();
    let (status, _, shown) = get(&gateway, &format!("{REPO}/file?revision=main&path={file}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["file"]["path"], file);
    assert!(shown["file"]["content"].is_string());
}
