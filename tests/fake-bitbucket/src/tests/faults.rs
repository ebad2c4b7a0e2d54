//! The seeded fault mode, seen from the wire: each kind does what it says,
//! the same seed injects the same faults, and the ambiguous kinds act.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{Read, Write};

use super::{Api, SERVICE, values};
use crate::{ADA_TOKEN, FaultKind, FaultPlan, FaultRule};

const ACME: &str = "/2.0/repositories/acme";

fn always(kind: FaultKind) -> FaultPlan {
    FaultPlan::new(1).rule(FaultRule::all(1.0, kind))
}

/// What a client reads off the socket for one request: every byte until the
/// server closes, or the error that ended the read.
async fn raw(
    api: &Api,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (Vec<u8>, Option<std::io::ErrorKind>) {
    let addr = api.fake.addr();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: fake\r\nauthorization: Bearer {ADA_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // A blocking socket on its own thread: the fake shares this runtime.
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let error = stream.read_to_end(&mut received).err().map(|e| e.kind());
        (received, error)
    })
    .await
    .unwrap()
}

fn split_answer(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    (
        String::from_utf8_lossy(&bytes[..end]).to_lowercase(),
        bytes[end + 4..].to_vec(),
    )
}

#[tokio::test]
async fn status_kinds_answer_as_bitbucket_and_its_edge_do() {
    let api = Api::start().await;

    api.fake.set_faults(always(FaultKind::ServerError));
    let answer = api.get(ACME).await;
    assert!(
        [500, 502, 503].contains(&answer.status.as_u16()),
        "{}",
        answer.status
    );
    assert_eq!(answer.json()["type"], "error");

    api.fake.set_faults(always(FaultKind::EdgeTimeout));
    assert_eq!(api.get(ACME).await.status.as_u16(), 555);

    api.fake.set_faults(always(FaultKind::RateLimited));
    let answer = api.get(ACME).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(answer.header("retry-after"), None);

    api.fake.set_faults(always(FaultKind::NotJson));
    let answer = api.get(ACME).await;
    assert!([200, 502].contains(&answer.status.as_u16()));
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(serde_json::from_slice::<Value>(&answer.body).is_err());
    assert_eq!(api.fake.fault_counts().of(&FaultKind::NotJson), 1);

    api.fake.set_faults(FaultPlan::default());
    let normal = api.get(ACME).await;
    api.fake.set_faults(always(FaultKind::Oversized(64 * 1024)));
    let big = api.get(ACME).await;
    assert!(big.body.len() > 64 * 1024 && normal.body.len() < 64 * 1024);
    assert_eq!(big.json(), normal.json(), "padded, still the same JSON");
}

#[tokio::test]
async fn all_five_hundreds_come_up_across_calls() {
    let api = Api::start().await;
    api.fake.set_faults(always(FaultKind::ServerError));
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        seen.insert(api.get(ACME).await.status.as_u16());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [500, 502, 503]);
    assert_eq!(api.fake.fault_counts().of(&FaultKind::ServerError), 40);
}

#[tokio::test]
async fn a_reset_sends_nothing_and_the_route_never_runs() {
    let api = Api::start().await;
    api.fake.set_faults(always(FaultKind::Reset));
    let (received, error) = raw(&api, "GET", ACME, None).await;
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );
    assert_eq!(error, Some(std::io::ErrorKind::ConnectionReset));
    assert!(api.fake.control().requests.is_empty());
    assert_eq!(api.fake.fault_counts().of(&FaultKind::Reset), 1);
}

#[tokio::test]
async fn a_truncated_body_is_shorter_than_its_content_length() {
    let api = Api::start().await;
    api.fake.set_faults(always(FaultKind::Truncated));
    let (received, _) = raw(&api, "GET", ACME, None).await;
    let (head, body) = split_answer(&received);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let promised: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < promised,
        "{} of {promised}",
        body.len()
    );
}

#[tokio::test]
async fn a_stall_holds_the_answer_then_gives_it() {
    let api = Api::start().await;
    api.fake
        .set_faults(always(FaultKind::Stall(Duration::from_secs(60))));
    let waited = tokio::time::timeout(Duration::from_millis(300), api.get(ACME)).await;
    assert!(waited.is_err(), "answered within the hold");

    api.fake
        .set_faults(always(FaultKind::Stall(Duration::from_millis(1))));
    assert_eq!(api.get(ACME).await.status, StatusCode::OK);
    assert_eq!(
        api.fake
            .fault_counts()
            .of(&FaultKind::Stall(Duration::ZERO)),
        1
    );
}

#[tokio::test]
async fn a_repeated_page_carries_the_previous_pages_items() {
    let api = Api::start().await;
    let first = api.get(&format!("{ACME}?pagelen=2&page=1")).await.json();
    let second = api.get(&format!("{ACME}?pagelen=2&page=2")).await.json();
    assert_ne!(values(&first), values(&second));

    api.fake.set_faults(FaultPlan::new(3).rule(FaultRule::route(
        "GET",
        "/2.0/repositories/{workspace}",
        1.0,
        FaultKind::RepeatedPage,
    )));
    let first_again = api.get(&format!("{ACME}?pagelen=2&page=1")).await.json();
    assert_eq!(first_again, first, "page 1 has no previous page");
    let repeated = api.get(&format!("{ACME}?pagelen=2&page=2")).await.json();
    assert_eq!(values(&repeated), values(&first));
    assert_eq!(repeated["page"], 2);
    assert_eq!(repeated["next"], second["next"]);
    assert_eq!(api.fake.fault_counts().of(&FaultKind::RepeatedPage), 1);
}

/// The statuses of a fixed series of calls under `plan`.
async fn statuses_under(plan: FaultPlan) -> (Vec<u16>, u64) {
    let api = Api::start().await;
    api.fake.set_faults(plan);
    let mut statuses = Vec::new();
    for i in 0..30 {
        let path = if i % 2 == 0 {
            ACME.to_owned()
        } else {
            format!("{SERVICE}/refs/branches")
        };
        statuses.push(api.get(&path).await.status.as_u16());
    }
    (statuses, api.fake.fault_counts().total())
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let plan = |seed| FaultPlan::new(seed).rule(FaultRule::all(0.5, FaultKind::EdgeTimeout));
    let (once, injected) = statuses_under(plan(42)).await;
    let (again, _) = statuses_under(plan(42)).await;
    let (other, _) = statuses_under(plan(43)).await;
    assert_eq!(once, again);
    assert_ne!(once, other);
    assert!(once.contains(&555) && once.contains(&200));
    assert_eq!(injected, once.iter().filter(|s| **s == 555).count() as u64);
}

#[tokio::test]
async fn rules_pick_their_route_and_method() {
    let api = Api::start().await;
    api.fake.set_faults(FaultPlan::new(9).rule(FaultRule::route(
        "POST",
        "/2.0/repositories/{workspace}/{repo_slug}/refs/branches",
        1.0,
        FaultKind::EdgeTimeout,
    )));
    assert_eq!(
        api.get(&format!("{SERVICE}/refs/branches")).await.status,
        StatusCode::OK
    );
    let post = api
        .call(
            Method::POST,
            &format!("{SERVICE}/refs/branches"),
            Some(ADA_TOKEN),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(post.status.as_u16(), 555);
}

fn new_branch(api: &Api, name: &str) -> Value {
    let head = api
        .fake
        .control()
        .branch("acme", "api-service-00", "main")
        .unwrap()
        .target
        .clone();
    json!({ "name": name, "target": { "hash": head } })
}

fn branch_exists(api: &Api, name: &str) -> bool {
    api.fake
        .control()
        .branch("acme", "api-service-00", name)
        .is_some()
}

#[tokio::test]
async fn act_then_reset_creates_the_branch_and_loses_the_answer() {
    let api = Api::start().await;
    let body = new_branch(&api, "feature/ambiguous");
    api.fake.set_faults(always(FaultKind::ActThenReset));
    let path = format!("{SERVICE}/refs/branches");
    let (received, error) = raw(&api, "POST", &path, Some(body)).await;
    assert!(received.is_empty());
    assert_eq!(error, Some(std::io::ErrorKind::ConnectionReset));
    assert!(branch_exists(&api, "feature/ambiguous"));
    assert_eq!(api.fake.fault_counts().of(&FaultKind::ActThenReset), 1);
}

#[tokio::test]
async fn act_then_truncate_creates_the_branch_and_cuts_the_answer() {
    let api = Api::start().await;
    let body = new_branch(&api, "feature/cut");
    api.fake.set_faults(always(FaultKind::ActThenTruncate));
    let path = format!("{SERVICE}/refs/branches");
    let (received, _) = raw(&api, "POST", &path, Some(body)).await;
    let (head, cut) = split_answer(&received);
    assert!(head.starts_with("http/1.1 201"), "{head}");
    assert!(serde_json::from_slice::<Value>(&cut).is_err());
    assert!(branch_exists(&api, "feature/cut"));
}

#[tokio::test]
async fn faults_that_lose_a_write_do_not_run_it() {
    let api = Api::start().await;
    let path = format!("{SERVICE}/refs/branches");
    for (i, kind) in [
        FaultKind::Reset,
        FaultKind::Truncated,
        FaultKind::NotJson,
        FaultKind::ServerError,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("feature/lost-{i}");
        let body = new_branch(&api, &name);
        api.fake.set_faults(always(kind.clone()));
        raw(&api, "POST", &path, Some(body)).await;
        assert!(!branch_exists(&api, &name), "{kind:?} created the branch");
    }
}

#[tokio::test]
async fn act_then_502_and_555_create_the_branch_and_answer_an_error() {
    let api = Api::start().await;
    let path = format!("{SERVICE}/refs/branches");
    for (kind, status) in [(FaultKind::ActThen502, 502), (FaultKind::ActThen555, 555)] {
        let name = format!("feature/{}", kind.name());
        let body = new_branch(&api, &name);
        api.fake.set_faults(always(kind.clone()));
        let answer = api.post(&path, body).await;
        assert_eq!(answer.status.as_u16(), status, "{kind:?}");
        assert_eq!(answer.json()["type"], "error", "{kind:?}");
        assert!(branch_exists(&api, &name), "{kind:?} acted");
        assert_eq!(api.fake.fault_counts().of(&kind), 1);
    }
}

/// `X-RateLimit-*` go to access tokens only (API-NOTES §5); OAuth tokens
/// and API tokens (Basic) never see them.
#[tokio::test]
async fn rate_limit_headers_go_to_access_tokens_only() {
    use base64::Engine as _;
    let api = Api::start().await;
    let access = api.get(ACME).await;
    assert_eq!(access.header("x-ratelimit-limit"), Some("1000"));
    assert_eq!(access.header("x-ratelimit-resource"), Some("api"));
    assert_eq!(access.header("x-ratelimit-nearlimit"), Some("false"));
    api.fake.control().near_rate_limit = true;
    assert_eq!(
        api.get(ACME).await.header("x-ratelimit-nearlimit"),
        Some("true")
    );

    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            crate::ADA_EMAIL,
            crate::ADA_API_TOKEN
        ))
    );
    let oauth = "fake-oauth-access-test";
    {
        let mut world = api.fake.control();
        let ada = world.bearer_tokens[ADA_TOKEN].clone();
        world.bearer_tokens.insert(oauth.into(), ada);
        world.oauth.access_expiry.insert(oauth.into(), u64::MAX);
    }
    let by_api_token = api
        .call(Method::GET, ACME, None, None, &[("authorization", &basic)])
        .await;
    let by_oauth = api.call(Method::GET, ACME, Some(oauth), None, &[]).await;
    for answer in [by_api_token, by_oauth] {
        assert_eq!(answer.status, StatusCode::OK);
        for name in [
            "x-ratelimit-limit",
            "x-ratelimit-resource",
            "x-ratelimit-nearlimit",
        ] {
            assert_eq!(answer.header(name), None, "{name}");
        }
    }
}
