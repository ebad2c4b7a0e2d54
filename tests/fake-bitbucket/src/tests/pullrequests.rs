use axum::http::StatusCode;
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, strings, values};
use crate::PrState;

#[tokio::test]
async fn listing_defaults_to_open_and_takes_repeated_states() {
    let api = Api::start().await;
    let open = api.get(&format!("{PLUGIN}/pullrequests")).await.json();
    assert_eq!(strings(&open, "state"), ["OPEN", "OPEN", "OPEN"]);
    let ids: Vec<u64> = values(&open)
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [6, 5, 4]);
    let closed = api
        .get(&format!(
            "{PLUGIN}/pullrequests?state=MERGED&state=DECLINED&sort=id"
        ))
        .await
        .json();
    assert_eq!(strings(&closed, "state"), ["MERGED", "MERGED", "DECLINED"]);
    let merged = &values(&closed)[0];
    assert_eq!(merged["merge_commit"]["hash"].as_str().unwrap().len(), 12);
    assert_eq!(merged["participants"][0]["state"], "approved");
    assert_eq!(merged["closed_by"]["nickname"], "grace");
    let q = "q=source.branch.name%20%3D%20%22feature%2Flogin%22";
    let by_branch = api.get(&format!("{PLUGIN}/pullrequests?{q}")).await.json();
    assert_eq!(by_branch["size"], 1);
    assert_eq!(by_branch["values"][0]["comment_count"], 3);
    assert_eq!(
        api.get(&format!("{PLUGIN}/pullrequests?state=WEIRD"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.fake.take_violations()[0].at, "query parameter state");
}

#[tokio::test]
async fn creating_validates_and_ids_grow() {
    let api = Api::start().await;
    let grace = api.fake.control().user_named("grace").unwrap().uuid.clone();
    let ada = api.fake.control().user_named("ada").unwrap().uuid.clone();
    let url = format!("{SERVICE}/pullrequests");
    let missing = api.post(&url, json!({ "title": "x" })).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.json()["error"]["fields"]["source"].is_array());
    let nobody = api
        .post(&url, json!({ "title": "x", "source": { "branch": { "name": "develop" } }, "reviewers": [{ "uuid": "{nobody}" }] }))
        .await;
    assert_eq!(nobody.status, StatusCode::BAD_REQUEST);
    assert!(nobody.json()["error"]["fields"]["reviewers"].is_array());
    let me = api
        .post(&url, json!({ "title": "x", "source": { "branch": { "name": "develop" } }, "reviewers": [{ "uuid": ada }] }))
        .await;
    assert!(
        me.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is the author")
    );
    let made = api
        .post(
            &url,
            json!({
                "title": "Ship develop",
                "source": { "branch": { "name": "develop" } },
                "description": "All of it",
                "close_source_branch": true,
                "reviewers": [{ "uuid": grace }]
            }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let pr = made.json();
    assert_eq!(pr["id"], 7);
    assert_eq!(pr["destination"]["branch"]["name"], "main");
    assert_eq!(pr["reviewers"][0]["uuid"], grace.as_str());
    assert_eq!(pr["participants"][0]["role"], "REVIEWER");
    assert_eq!(pr["summary"]["raw"], "All of it");
    let listed = api.get(&url).await.json();
    assert_eq!(listed["values"][0]["id"], 7);

    let updated = api
        .put(
            &format!("{url}/7"),
            json!({ "title": "Ship develop now", "reviewers": [] }),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.json()["title"], "Ship develop now");
    assert_eq!(updated.json()["reviewers"], json!([]));
}

#[tokio::test]
async fn reviews_decline_and_timeouts() {
    let api = Api::start().await;
    let approved = api
        .post(&format!("{PLUGIN}/pullrequests/6/approve"), json!({}))
        .await;
    assert_eq!(approved.status, StatusCode::OK);
    let participant = approved.json();
    assert_eq!(participant["type"], "participant");
    assert_eq!(participant["approved"], true);
    assert_eq!(participant["state"], "approved");
    assert_eq!(participant["user"]["nickname"], "ada");
    assert_eq!(
        api.delete(&format!("{PLUGIN}/pullrequests/6/approve"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let changes = api
        .post_as_grace(
            &format!("{PLUGIN}/pullrequests/6/request-changes"),
            json!({}),
        )
        .await;
    assert_eq!(changes.json()["state"], "changes_requested");
    assert_eq!(changes.json()["role"], "REVIEWER");

    api.fake.control().timeout_next_decline = true;
    let timed_out = api
        .post(&format!("{PLUGIN}/pullrequests/6/decline"), json!({}))
        .await;
    assert_eq!(timed_out.status.as_u16(), 555);
    assert_eq!(timed_out.json()["error"]["message"], "Timed out");
    let declined = api
        .post(&format!("{PLUGIN}/pullrequests/6/decline"), json!({}))
        .await;
    assert_eq!(declined.json()["state"], "DECLINED");
    let again = api
        .post(&format!("{PLUGIN}/pullrequests/6/decline"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn merging_checks_the_strategy_and_lands() {
    let api = Api::start().await;
    let url = format!("{PLUGIN}/pullrequests/6/merge");
    let refused = api
        .post(
            &url,
            json!({ "type": "pullrequest_merge_parameters", "merge_strategy": "rebase_merge" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.json()["error"]["fields"]["merge_strategy"].is_array());
    let unknown = api.post(&url, json!({ "merge_strategy": "octopus" })).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.fake.take_violations()[0].at, "body/merge_strategy");
    // develop moved on after feature/login forked: no fast-forward (develop allows all six).
    let diverged = api
        .post(
            &format!("{PLUGIN}/pullrequests/4/merge"),
            json!({ "merge_strategy": "fast_forward" }),
        )
        .await;
    assert_eq!(diverged.status, StatusCode::BAD_REQUEST);
    assert!(diverged.json()["error"]["fields"]["merge_strategy"].is_array());
    let before = api
        .fake
        .control()
        .branch("atom-labs", "bitbucket-plugin", "main")
        .unwrap()
        .target
        .clone();
    let merged = api
        .post(&url, json!({ "type": "pullrequest_merge_parameters", "merge_strategy": "merge_commit", "close_source_branch": true }))
        .await;
    assert_eq!(merged.status, StatusCode::OK);
    let pr = merged.json();
    assert_eq!(pr["state"], "MERGED");
    {
        let control = api.fake.control();
        let after = control
            .branch("atom-labs", "bitbucket-plugin", "main")
            .unwrap()
            .target
            .clone();
        assert_ne!(before, after);
        assert!(after.starts_with(pr["merge_commit"]["hash"].as_str().unwrap()));
        let commit = control
            .commit("atom-labs", "bitbucket-plugin", &after)
            .unwrap();
        assert_eq!(commit.parents.len(), 2);
        assert!(
            commit
                .message
                .starts_with("Merged in release/2026.11 (pull request #6)")
        );
        assert!(
            control
                .branch("atom-labs", "bitbucket-plugin", "release/2026.11")
                .is_none()
        );
    }
    let again = api.post(&url, json!({})).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn async_merges_poll_pending_then_succeed() {
    let api = Api::start().await;
    api.fake.control().force_async_merges = true;
    let accepted = api
        .post(
            &format!("{PLUGIN}/pullrequests/5/merge"),
            json!({ "merge_strategy": "squash" }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let location = accepted.header("location").unwrap().to_owned();
    assert!(location.contains("/pullrequests/5/merge/task-status/"));
    assert_eq!(accepted.json()["task_status"], "PENDING");
    for _ in 0..2 {
        let poll = api.get(&location).await.json();
        assert_eq!(poll["task_status"], "PENDING");
        assert_eq!(
            api.fake
                .control()
                .pull_request("atom-labs", "bitbucket-plugin", 5)
                .unwrap()
                .state,
            PrState::Open
        );
    }
    let done = api.get(&location).await.json();
    assert_eq!(done["task_status"], "SUCCESS");
    assert_eq!(done["merge_result"]["state"], "MERGED");
    let squashed = api
        .fake
        .control()
        .branch("atom-labs", "bitbucket-plugin", "main")
        .unwrap()
        .target
        .clone();
    let parents = api
        .fake
        .control()
        .commit("atom-labs", "bitbucket-plugin", &squashed)
        .unwrap()
        .parents
        .len();
    assert_eq!(parents, 1, "squash makes a single-parent commit");

    api.fake.control().timeout_next_merge = true;
    let timed_out = api
        .post(&format!("{PLUGIN}/pullrequests/4/merge"), json!({}))
        .await;
    assert_eq!(timed_out.status.as_u16(), 555);
}

#[tokio::test]
async fn comments_thread_and_count() {
    let api = Api::start().await;
    let url = format!("{PLUGIN}/pullrequests/4/comments");
    let listed = api.get(&url).await.json();
    assert_eq!(listed["size"], 3);
    assert_eq!(listed["values"][1]["parent"]["id"], 500_001);
    assert_eq!(listed["values"][0]["inline"]["path"], "src/auth/oauth.rs");
    let made = api
        .post(&url, json!({ "content": { "raw": "Fixed in **abc**" }, "parent": { "id": 500_001 }, "inline": { "path": "src/auth.rs", "to": 3 } }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let comment = made.json();
    assert_eq!(comment["type"], "pullrequest_comment");
    assert_eq!(comment["content"]["markup"], "markdown");
    assert_eq!(comment["parent"]["id"], 500_001);
    assert_eq!(
        comment["parent"]["type"], "pullrequest_comment",
        "as the real payload"
    );
    assert_eq!(comment["deleted"], false);
    let pr = api.get(&format!("{PLUGIN}/pullrequests/4")).await.json();
    assert_eq!(pr["comment_count"], 4);
    let bad = api.post(&url, json!({ "content": {} })).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let orphan = api
        .post(
            &url,
            json!({ "content": { "raw": "x" }, "parent": { "id": 1 } }),
        )
        .await;
    assert_eq!(orphan.status, StatusCode::BAD_REQUEST);
}
