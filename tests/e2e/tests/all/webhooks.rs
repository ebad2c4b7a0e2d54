//! Webhooks through the sandbox: repository and workspace subscriptions with
//! a write-only secret, and real deliveries — made by the fake to a loopback
//! receiver when a pull request is opened or merged — verified and parsed
//! into typed events, tampering refused.

use atom_test_support::repo;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use fake_bitbucket::{Delivery, HookSubject, webhook_signature};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "wh-s3cret-4f9a1c7e";

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a page has items")
}

fn uuids(page: &Value) -> Vec<String> {
    items(page)
        .iter()
        .map(|h| h["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// One POST as the receiver got it: lower-case header names, raw body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

/// A loopback HTTP receiver answering 200 to every request; what it got is
/// in the shared list.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}/bitbucket/events", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buffer[..at]).to_string();
                        let length = head
                            .lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (at + 4, length);
                    }
                };
                while buffer.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buffer[..head_end - 4]).to_string();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let end = (head_end + length).min(buffer.len());
                let body = String::from_utf8_lossy(&buffer[head_end..end]).to_string();
                sink.lock().unwrap().push(Received { headers, body });
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, got)
}

/// The delivery of `event_key`, waiting for the fake to make it.
async fn delivery_of(env: &Env, event_key: &str) -> Delivery {
    for _ in 0..50 {
        let deliveries = env
            .fake
            .wait_for_deliveries(1, Duration::from_secs(10))
            .await;
        if let Some(found) = deliveries.iter().find(|d| d.event_key == event_key) {
            return found.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {event_key} delivery was made");
}

/// What the receiver got with `X-Event-Key: event_key`.
fn received(got: &Arc<Mutex<Vec<Received>>>, event_key: &str) -> Received {
    got.lock()
        .unwrap()
        .iter()
        .find(|r| {
            r.headers
                .iter()
                .any(|(k, v)| k == "x-event-key" && v == event_key)
        })
        .cloned()
        .unwrap_or_else(|| panic!("the receiver got no {event_key}"))
}

fn without(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect()
}

async fn verify(
    env: &Env,
    headers: &[(String, String)],
    body: &str,
    secret: Option<&str>,
) -> Result<Value, Failure> {
    env.exec(
        "verify-webhook-delivery",
        json!({ "headers": headers, "body": body, "secret": secret }),
    )
    .await
}

async fn open_pull_request(env: &Env, source: &str) -> Value {
    env.exec(
        "create-pull-request",
        repo(json!({ "title": format!("Merge {source}"), "source_branch": source, "close_source_branch": true })),
    )
    .await
    .expect("the pull request opens")
}

#[tokio::test]
async fn a_repository_webhook_with_a_secret_is_created_listed_and_deleted() {
    let env = env().await;
    let created = env
        .exec(
            "create-webhook",
            repo(json!({
                "url": "http://127.0.0.1:9/hooks/bitbucket",
                "events": ["pullrequest:created", "repo:push"],
                "description": "ATOM review bot",
                "secret": SECRET,
            })),
        )
        .await
        .unwrap();
    let uuid = created["uuid"].as_str().unwrap().to_owned();
    assert!(uuid.starts_with('{') && uuid.ends_with('}'), "{uuid}");
    assert_eq!(created["url"], "http://127.0.0.1:9/hooks/bitbucket");
    assert_eq!(
        created["events"],
        json!(["pullrequest:created", "repo:push"])
    );
    assert_eq!(created["description"], "ATOM review bot");
    assert_eq!(created["active"], true);
    assert_eq!(created["secret_set"], true);
    assert!(created["created_at"].is_string());
    assert!(
        !created.to_string().contains(SECRET),
        "the secret is write-only: {created}"
    );
    {
        let world = env.fake.control();
        let hook = world.hook(&uuid).expect("Bitbucket has the hook");
        assert_eq!(
            hook.secret.as_deref(),
            Some(SECRET),
            "the secret reached Bitbucket"
        );
        assert_eq!(
            hook.subject,
            HookSubject::Repository("atom-labs/bitbucket-plugin".into())
        );
        for request in &world.requests {
            assert!(!request.path.contains(SECRET), "{}", request.path);
            assert!(
                request
                    .query
                    .iter()
                    .all(|(k, v)| !k.contains(SECRET) && !v.contains(SECRET)),
                "{request:?}"
            );
        }
        let posts: Vec<_> = world
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert_eq!(posts.len(), 1);
        assert_eq!(
            posts[0].path,
            "/2.0/repositories/atom-labs/bitbucket-plugin/hooks"
        );
    }

    let listed = env.exec("list-webhooks", repo(json!({}))).await.unwrap();
    let hook = items(&listed)
        .iter()
        .find(|h| h["uuid"] == uuid.as_str())
        .expect("the hook is listed");
    assert_eq!(hook["secret_set"], true);
    assert_eq!(hook["events"], json!(["pullrequest:created", "repo:push"]));
    assert!(!listed.to_string().contains(SECRET));

    let deleted = env
        .exec("delete-webhook", repo(json!({ "uuid": uuid })))
        .await
        .unwrap();
    assert_eq!(deleted["uuid"], uuid.as_str());
    assert!(env.fake.control().hook(&uuid).is_none());
    let listed = env.exec("list-webhooks", repo(json!({}))).await.unwrap();
    assert!(!uuids(&listed).contains(&uuid), "gone from the list");

    let again = env
        .exec("delete-webhook", repo(json!({ "uuid": uuid })))
        .await
        .unwrap_err();
    assert!(
        matches!(&again, Failure::Integration(Error::NotFound(_))),
        "{again}"
    );

    let unsigned = env
        .exec(
            "create-webhook",
            repo(json!({ "url": "http://localhost:9/x", "events": ["issue:created"] })),
        )
        .await
        .unwrap();
    assert_eq!(unsigned["secret_set"], false);
}

#[tokio::test]
async fn workspace_webhooks_are_created_and_listed_apart() {
    let env = env().await;
    let workspace = json!({ "workspace": "atom-labs" });
    let mut params = workspace.clone();
    params["url"] = json!("http://127.0.0.1:9/workspace-events");
    params["events"] = json!(["repo:push", "issue:created"]);
    params["secret"] = json!(SECRET);
    let created = env.exec("create-webhook", params).await.unwrap();
    let uuid = created["uuid"].as_str().unwrap().to_owned();
    assert_eq!(created["secret_set"], true);
    assert_eq!(created["events"], json!(["repo:push", "issue:created"]));
    assert!(!created.to_string().contains(SECRET));
    assert_eq!(
        env.fake.control().hook(&uuid).unwrap().subject,
        HookSubject::Workspace("atom-labs".into())
    );
    assert!(
        env.fake
            .control()
            .requests
            .iter()
            .any(|r| r.method == "POST" && r.path == "/2.0/workspaces/atom-labs/hooks")
    );

    let listed = env.exec("list-webhooks", workspace.clone()).await.unwrap();
    assert_eq!(uuids(&listed), std::slice::from_ref(&uuid));
    let repository_hooks = env.exec("list-webhooks", repo(json!({}))).await.unwrap();
    assert!(
        !uuids(&repository_hooks).contains(&uuid),
        "a workspace hook is not a repository hook"
    );

    let mut target = workspace.clone();
    target["uuid"] = json!(uuid);
    env.exec("delete-webhook", target.clone()).await.unwrap();
    let listed = env.exec("list-webhooks", workspace).await.unwrap();
    assert!(items(&listed).is_empty());
    let again = env.exec("delete-webhook", target).await.unwrap_err();
    assert!(
        matches!(&again, Failure::Integration(Error::NotFound(_))),
        "{again}"
    );
}

#[tokio::test]
async fn bad_events_and_urls_are_refused_before_bitbucket() {
    let env = env().await;
    let unknown = env
        .exec(
            "create-webhook",
            repo(json!({
                "url": "http://127.0.0.1:9/x",
                "events": ["repo:push", "pullrequest:exploded"],
            })),
        )
        .await
        .unwrap_err();
    match &unknown {
        Failure::Integration(Error::Validation(v)) => {
            assert_eq!(v.field, "events[1]");
            assert!(v.message.contains("pullrequest:exploded"), "{}", v.message);
        }
        other => panic!("expected validation, got {other}"),
    }
    for url in ["ftp://127.0.0.1/x", "127.0.0.1:9/x", ""] {
        let failure = env
            .exec(
                "create-webhook",
                repo(json!({ "url": url, "events": ["repo:push"] })),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&failure, Failure::Integration(Error::Validation(v)) if v.field == "url"),
            "{url}: {failure}"
        );
    }
    let long = env
        .exec(
            "create-webhook",
            repo(json!({ "url": "http://127.0.0.1:9/x", "events": ["repo:push"], "secret": "s".repeat(129) })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&long, Failure::Integration(Error::Validation(v)) if v.field == "secret"),
        "{long}"
    );
    let none = env
        .exec(
            "create-webhook",
            repo(json!({ "url": "http://127.0.0.1:9/x", "events": [] })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&none, Failure::Integration(Error::Validation(v)) if v.field == "events"),
        "{none}"
    );
    assert!(
        env.fake.control().requests.is_empty(),
        "nothing reached Bitbucket"
    );
    assert!(env.fake.control().hooks.is_empty());
}

#[tokio::test]
async fn a_signed_delivery_is_verified_and_parsed_and_tampering_is_refused() {
    let env = env().await;
    let (url, got) = receiver().await;
    let hook = env
        .exec(
            "create-webhook",
            repo(json!({ "url": url, "events": ["pullrequest:created"], "secret": SECRET })),
        )
        .await
        .unwrap();
    let hook_uuid = hook["uuid"].as_str().unwrap().to_owned();
    let pr = open_pull_request(&env, "feature/login").await;
    let pr_id = pr["id"].as_u64().unwrap();

    let delivery = delivery_of(&env, "pullrequest:created").await;
    assert_eq!(delivery.status, Some(200), "{:?}", delivery.error);
    assert_eq!(delivery.hook_uuid, hook_uuid);
    let at_receiver = received(&got, "pullrequest:created");
    assert_eq!(at_receiver.body, delivery.body, "the exact bytes arrived");
    let signature = at_receiver
        .headers
        .iter()
        .find(|(k, _)| k == "x-hub-signature")
        .map(|(_, v)| v.clone())
        .expect("a secret signs the delivery");
    assert_eq!(
        signature,
        webhook_signature(SECRET, at_receiver.body.as_bytes())
    );

    let headers = at_receiver.headers.clone();
    let body = at_receiver.body.clone();
    let requests_before = env.fake.control().requests.len();
    let event = verify(&env, &headers, &body, Some(SECRET)).await.unwrap();
    assert_eq!(
        env.fake.control().requests.len(),
        requests_before,
        "verifying asks Bitbucket nothing"
    );
    assert_eq!(event["event_key"], "pullrequest:created");
    assert_eq!(event["category"], "pull_request");
    assert_eq!(event["signed"], true);
    assert_eq!(event["hook_uuid"], hook_uuid.as_str());
    assert_eq!(
        event["request_uuid"].as_str(),
        delivery.header("x-request-uuid")
    );
    assert_eq!(event["attempt"], 1);
    assert_eq!(event["repository"], "atom-labs/bitbucket-plugin");
    assert_eq!(event["actor"]["display_name"], "Ada Lovelace");
    assert_eq!(event["pull_request"]["id"], pr_id);
    assert_eq!(event["pull_request"]["state"], "open");
    assert_eq!(event["pull_request"]["source_branch"], "feature/login");
    assert_eq!(event["pull_request"]["title"], pr["title"]);
    assert!(event["push_changes"].as_array().unwrap().is_empty());
    let payload: Value = serde_json::from_str(event["payload_json"].as_str().unwrap()).unwrap();
    assert_eq!(payload, delivery.json());

    // Header names are case-insensitive.
    let shouted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.clone()))
        .collect();
    let again = verify(&env, &shouted, &body, Some(SECRET)).await.unwrap();
    assert_eq!(again["signed"], true);
    assert_eq!(again["event_key"], "pullrequest:created");

    // One byte changed.
    let mut tampered = body.clone().into_bytes();
    let at = tampered.iter().position(|b| b.is_ascii_digit()).unwrap();
    tampered[at] = if tampered[at] == b'9' {
        b'8'
    } else {
        tampered[at] + 1
    };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_ne!(tampered, body);
    let refused = verify(&env, &headers, &tampered, Some(SECRET))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Failure::Integration(Error::AuthInvalid(_))),
        "{refused}"
    );
    assert!(!refused.message().contains(SECRET));

    let unsigned = verify(
        &env,
        &without(&headers, "x-hub-signature"),
        &body,
        Some(SECRET),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&unsigned, Failure::Integration(Error::AuthInvalid(_))),
        "{unsigned}"
    );

    let wrong = verify(&env, &headers, &body, Some("not-the-secret"))
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, Failure::Integration(Error::AuthInvalid(_))),
        "{wrong}"
    );
    assert!(!wrong.message().contains("not-the-secret"));

    let unchecked = verify(&env, &headers, &body, None).await.unwrap();
    assert_eq!(unchecked["signed"], false);
    assert_eq!(unchecked["event_key"], "pullrequest:created");
    assert_eq!(unchecked["pull_request"]["id"], pr_id);

    let keyless = verify(&env, &without(&headers, "x-event-key"), &body, Some(SECRET))
        .await
        .unwrap_err();
    match &keyless {
        Failure::Integration(Error::Validation(v)) => {
            assert!(
                v.message.contains("X-Event-Key") || v.field.contains("x-event-key"),
                "{v:?}"
            );
        }
        other => panic!("expected validation, got {other}"),
    }
}

#[tokio::test]
async fn a_merge_delivers_a_push_and_a_fulfilled_pull_request() {
    let env = env().await;
    let (url, got) = receiver().await;
    env.exec(
        "create-webhook",
        repo(json!({
            "url": url,
            "events": ["repo:push", "pullrequest:fulfilled"],
            "secret": SECRET,
        })),
    )
    .await
    .unwrap();
    let pr = open_pull_request(&env, "feature/search-v2").await;
    let pr_id = pr["id"].as_u64().unwrap();
    let (old_main, source_head) = {
        let world = env.fake.control();
        (
            world
                .branch("atom-labs", "bitbucket-plugin", "main")
                .unwrap()
                .target
                .clone(),
            world
                .branch("atom-labs", "bitbucket-plugin", "feature/search-v2")
                .unwrap()
                .target
                .clone(),
        )
    };
    let merged = env
        .exec(
            "merge-pull-request",
            repo(json!({ "id": pr_id, "strategy": "merge_commit", "close_source_branch": true })),
        )
        .await
        .unwrap();
    assert_eq!(merged["state"], "merged");
    let merge_commit = merged["merge_commit"].as_str().unwrap().to_owned();
    let new_main = env
        .fake
        .control()
        .branch("atom-labs", "bitbucket-plugin", "main")
        .unwrap()
        .target
        .clone();
    assert!(new_main.starts_with(&merge_commit) || merge_commit.starts_with(&new_main));

    let push = delivery_of(&env, "repo:push").await;
    assert_eq!(push.status, Some(200), "{:?}", push.error);
    let at_receiver = received(&got, "repo:push");
    let event = verify(&env, &at_receiver.headers, &at_receiver.body, Some(SECRET))
        .await
        .unwrap();
    assert_eq!(event["event_key"], "repo:push");
    assert_eq!(event["category"], "repository");
    assert_eq!(event["signed"], true);
    assert_eq!(event["repository"], "atom-labs/bitbucket-plugin");
    assert_eq!(event["actor"]["display_name"], "Ada Lovelace");
    assert!(event["pull_request"].is_null());
    let changes = event["push_changes"].as_array().unwrap();
    let main = changes
        .iter()
        .find(|c| c["ref_name"] == "main")
        .unwrap_or_else(|| panic!("main moved: {changes:#?}"));
    assert_eq!(main["ref_type"], "branch");
    assert_eq!(main["old_hash"], old_main.as_str());
    assert_eq!(main["new_hash"], new_main.as_str());
    assert_eq!(main["created"], false);
    assert_eq!(main["closed"], false);
    assert_eq!(main["forced"], false);
    assert!(main["commit_count"].as_u64().unwrap() >= 1);
    let source = changes
        .iter()
        .find(|c| c["ref_name"] == "feature/search-v2")
        .unwrap_or_else(|| panic!("the source branch was closed: {changes:#?}"));
    assert_eq!(source["closed"], true);
    assert_eq!(source["old_hash"], source_head.as_str());
    assert!(source["new_hash"].is_null());

    delivery_of(&env, "pullrequest:fulfilled").await;
    let at_receiver = received(&got, "pullrequest:fulfilled");
    let fulfilled = verify(&env, &at_receiver.headers, &at_receiver.body, Some(SECRET))
        .await
        .unwrap();
    assert_eq!(fulfilled["category"], "pull_request");
    assert_eq!(fulfilled["pull_request"]["id"], pr_id);
    assert_eq!(fulfilled["pull_request"]["state"], "merged");
    assert_eq!(
        fulfilled["pull_request"]["merge_commit"].as_str(),
        Some(merge_commit.as_str())
    );
}
