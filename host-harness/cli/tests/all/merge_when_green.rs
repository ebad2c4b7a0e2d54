//! Merge when green end to end: a gateway process against the fake, which
//! delivers signed webhooks back to it. A pull request from
//! `feature/search-v2` into `main` of atom-labs/bitbucket-plugin needs one
//! approval there (the seeded branch restriction) and a green build; Ada
//! (acme's token) opens it, Grace approves it and CI reports on it straight
//! at the fake, as they would at Bitbucket.

use std::time::Duration;

use crate::common::{Gateway, harness, run};
use fake_bitbucket::{FakeBitbucket, GRACE_TOKEN};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REPO: &str = "atom-labs/bitbucket-plugin";
const REPO_ROUTE: &str = "/bitbucket/repositories/atom-labs/bitbucket-plugin";

/// Opens a pull request as acme (Ada); answers its id and source head.
async fn open_pull_request(gateway: &Gateway, source: &str, title: &str) -> (u64, String) {
    let (status, _, created) = gateway
        .call(
            &gateway.acme_key,
            "/v1/operations/create-pull-request",
            &json!({
                "workspace": "atom-labs", "repo_slug": "bitbucket-plugin",
                "title": title, "source_branch": source, "destination_branch": "main",
            })
            .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    (
        created["id"].as_u64().unwrap(),
        created["source_commit"].as_str().unwrap().to_owned(),
    )
}

/// Registers acme's intake for the events merge when green listens to.
async fn hook_up(gateway: &Gateway) {
    let secret = run(harness(&gateway.dir).args(["tenants", "webhook-secret", "acme"]));
    let hook = json!({
        "workspace": "atom-labs", "repo_slug": "bitbucket-plugin",
        "url": gateway.url("/bitbucket/webhooks/acme"),
        "events": ["repo:commit_status_created", "repo:commit_status_updated",
                   "pullrequest:approved", "pullrequest:changes_request_created"],
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
}

/// CI reporting a build state on `commit`, as CI does: at Bitbucket itself.
async fn report_build(fake: &FakeBitbucket, commit: &str, state: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/repositories/{REPO}/commit/{commit}/statuses/build",
            fake.api_base_url()
        ))
        .bearer_auth(GRACE_TOKEN)
        .header("content-type", "application/json")
        .body(
            json!({"key": "ci-build", "state": state, "url": "https://ci.example/build/1"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

async fn approve_as_grace(fake: &FakeBitbucket, id: u64) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/repositories/{REPO}/pullrequests/{id}/approve",
            fake.api_base_url()
        ))
        .bearer_auth(GRACE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

async fn ask(gateway: &Gateway, key: &str, id: u64) -> (StatusCode, Value) {
    let (status, _, answer) = gateway
        .call(
            key,
            &format!("{REPO_ROUTE}/pull-requests/{id}/merge-when-green"),
            "{}",
        )
        .await;
    (status, answer)
}

async fn wait_of(gateway: &Gateway, key: &str, wait_id: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(gateway.url(&format!("/bitbucket/merge-waits/{wait_id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

/// The wait once it is no longer `waiting` (or as it stands after `within`).
async fn settled(gateway: &Gateway, wait_id: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (_, answer) = wait_of(gateway, &gateway.acme_key, wait_id).await;
        if answer["wait"]["state"] != "waiting" || tokio::time::Instant::now() >= deadline {
            return answer["wait"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_at_fake(fake: &FakeBitbucket, id: u64) -> String {
    let world = fake.control();
    let pr = world
        .pull_request("atom-labs", "bitbucket-plugin", id)
        .unwrap();
    format!("{:?}", pr.state)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_status_webhook_merges_a_pull_request_that_waited_for_green() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    hook_up(&gateway).await;
    let (id, head) = open_pull_request(&gateway, "feature/search-v2", "Merge me when green").await;

    let (status, asked) = ask(&gateway, &gateway.acme_key, id).await;
    assert_eq!(status, StatusCode::CREATED, "{asked}");
    let wait = &asked["wait"];
    assert_eq!(wait["state"], "waiting");
    assert_eq!(
        wait["blockers"],
        json!(["no_build_yet", "approvals_missing"])
    );
    assert_eq!(wait["last"]["checks"]["approvals_required"], 1);
    let wait_id = wait["id"].as_str().unwrap().to_owned();
    // Asking again is the same wait.
    let (status, again) = ask(&gateway, &gateway.acme_key, id).await;
    assert_eq!(
        (status, &again["wait"]["id"]),
        (StatusCode::OK, &json!(wait_id))
    );

    report_build(&fake, &head, "INPROGRESS").await;
    approve_as_grace(&fake, id).await;
    let deliveries = fake.wait_for_deliveries(2, Duration::from_secs(10)).await;
    assert!(
        deliveries.iter().all(|d| d.status == Some(200)),
        "{deliveries:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, waiting) = wait_of(&gateway, &gateway.acme_key, &wait_id).await;
    assert_eq!(waiting["wait"]["state"], "waiting", "{waiting}");
    assert_eq!(waiting["wait"]["blockers"], json!(["builds_running"]));
    assert_eq!(state_at_fake(&fake, id), "Open");

    report_build(&fake, &head, "SUCCESSFUL").await;
    let done = settled(&gateway, &wait_id, Duration::from_secs(15)).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["last"]["verdict"], "merged");
    assert_eq!(state_at_fake(&fake, id), "Merged");
    let status_hook = fake
        .control()
        .deliveries()
        .into_iter()
        .find(|d| d.event_key == "repo:commit_status_updated")
        .expect("the status change was delivered");
    assert_eq!(status_hook.status, Some(200));

    // Another tenant neither sees nor cancels it.
    let (status, _) = wait_of(&gateway, &gateway.globex_key, &wait_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_build_ends_the_wait_without_merging() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    hook_up(&gateway).await;
    let (id, head) = open_pull_request(&gateway, "feature/search-v2", "Never green").await;
    approve_as_grace(&fake, id).await;
    let (status, asked) = ask(&gateway, &gateway.acme_key, id).await;
    assert_eq!(status, StatusCode::CREATED, "{asked}");
    assert_eq!(asked["wait"]["blockers"], json!(["no_build_yet"]));
    let wait_id = asked["wait"]["id"].as_str().unwrap().to_owned();

    report_build(&fake, &head, "FAILED").await;
    let ended = settled(&gateway, &wait_id, Duration::from_secs(15)).await;
    assert_eq!(ended["state"], "ended", "{ended}");
    assert_eq!(ended["blockers"], json!(["build_failed"]));
    assert_eq!(state_at_fake(&fake, id), "Open");

    // A later green build does not bring an ended wait back.
    report_build(&fake, &head, "SUCCESSFUL").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state_at_fake(&fake, id), "Open");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_outlives_a_gateway_restart_and_merges_after_it() {
    let fake = FakeBitbucket::start().await.unwrap();
    let mut gateway = Gateway::start(&fake, &[]).await;
    let (id, head) = open_pull_request(&gateway, "feature/search-v2", "Across a restart").await;
    let (_, asked) = ask(&gateway, &gateway.acme_key, id).await;
    let wait_id = asked["wait"]["id"].as_str().unwrap().to_owned();
    assert_eq!(asked["wait"]["state"], "waiting");

    // Everything turns green while no gateway runs: no delivery can arrive.
    let _ = gateway.child.kill();
    let _ = gateway.child.wait();
    report_build(&fake, &head, "SUCCESSFUL").await;
    approve_as_grace(&fake, id).await;
    assert_eq!(state_at_fake(&fake, id), "Open");

    gateway.restart(&fake, &[]).await;
    let done = settled(&gateway, &wait_id, Duration::from_secs(15)).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(state_at_fake(&fake, id), "Merged");
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_are_listed_and_cancelled_and_the_slow_poll_merges_what_no_webhook_announced() {
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--merge-poll-secs", "1"]).await;
    let (kept, kept_head) = open_pull_request(&gateway, "feature/search-v2", "Polled").await;
    let (cancelled, cancelled_head) = open_pull_request(&gateway, "develop", "Cancelled").await;
    let (_, first) = ask(&gateway, &gateway.acme_key, kept).await;
    let (_, second) = ask(&gateway, &gateway.acme_key, cancelled).await;
    let (kept_wait, cancelled_wait) = (
        first["wait"]["id"].as_str().unwrap().to_owned(),
        second["wait"]["id"].as_str().unwrap().to_owned(),
    );

    let listed = reqwest::Client::new()
        .get(gateway.url("/bitbucket/merge-waits"))
        .bearer_auth(&gateway.acme_key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let ids: Vec<&str> = listed["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [cancelled_wait.as_str(), kept_wait.as_str()]);
    let cli = run(harness(&gateway.dir).args([
        "--tenant",
        "acme",
        "merge-waits",
        "list",
        "--output",
        "json",
    ]));
    assert!(
        cli.contains(&kept_wait) && cli.contains("atom-labs/bitbucket-plugin#"),
        "{cli}"
    );
    assert!(
        !run(harness(&gateway.dir).args([
            "--tenant",
            "globex",
            "merge-waits",
            "list",
            "--output",
            "json"
        ]))
        .contains(&kept_wait)
    );

    // globex cannot cancel acme's wait; the CLI and the route can.
    let refused = reqwest::Client::new()
        .delete(gateway.url(&format!("/bitbucket/merge-waits/{cancelled_wait}")))
        .bearer_auth(&gateway.globex_key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let said = run(harness(&gateway.dir).args([
        "--tenant",
        "acme",
        "merge-waits",
        "cancel",
        &cancelled_wait,
    ]));
    assert!(said.contains("cancelled"), "{said}");

    // Green with no webhook registered: only the poll can notice.
    for (id, head) in [(kept, &kept_head), (cancelled, &cancelled_head)] {
        report_build(&fake, head, "SUCCESSFUL").await;
        approve_as_grace(&fake, id).await;
    }
    let done = settled(&gateway, &kept_wait, Duration::from_secs(15)).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(state_at_fake(&fake, kept), "Merged");
    let (_, still) = wait_of(&gateway, &gateway.acme_key, &cancelled_wait).await;
    assert_eq!(still["wait"]["state"], "cancelled");
    assert_eq!(state_at_fake(&fake, cancelled), "Open");
}
