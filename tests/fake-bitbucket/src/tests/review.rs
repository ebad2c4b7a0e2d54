//! Reviewing pull request #4: the diff behind its redirect, its commits,
//! build statuses, comment edits and resolution, tasks and the activity log.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, strings, values};
use crate::GRACE_TOKEN;

#[tokio::test]
async fn pull_request_diffs_redirect_to_the_repository_endpoints() {
    let api = Api::start().await;
    let pr = api.get(&format!("{PLUGIN}/pullrequests/4")).await.json();
    let source = api
        .get(&format!("{PLUGIN}/refs/branches/feature/login"))
        .await
        .json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(source.starts_with(pr["source"]["commit"]["hash"].as_str().unwrap()));

    let diff = api.get(&format!("{PLUGIN}/pullrequests/4/diff")).await;
    assert_eq!(diff.status, StatusCode::FOUND);
    let location = diff.header("location").unwrap().to_owned();
    assert!(
        location.contains(&format!("/diff/{source}..")),
        "{location}"
    );
    let followed = api.get(&location).await;
    assert_eq!(followed.status, StatusCode::OK);
    let text = String::from_utf8(followed.body).unwrap();
    assert!(text.contains("rename to src/util/path.rs\n"));
    assert!(text.contains("deleted file mode 100644\n"));

    let stat = api.get(&format!("{PLUGIN}/pullrequests/4/diffstat")).await;
    assert_eq!(stat.status, StatusCode::FOUND);
    let stat = api.get(stat.header("location").unwrap()).await.json();
    assert_eq!(stat["size"], 10);

    let patch = api.get(&format!("{SERVICE}/pullrequests/4/patch")).await;
    assert_eq!(patch.status, StatusCode::FOUND);
    let patch = String::from_utf8(api.get(patch.header("location").unwrap()).await.body).unwrap();
    assert!(patch.contains("Subject: [PATCH 1/9] Add OAuth 2.0 authorization code flow\n"));
    assert!(patch.contains("Subject: [PATCH 9/9] Record token endpoint responses"));

    let commits = api
        .get(&format!("{PLUGIN}/pullrequests/4/commits"))
        .await
        .json();
    assert_eq!(commits["size"], 9);
    assert_eq!(
        strings(&commits, "message")[0],
        "Record token endpoint responses for the replay tests"
    );
}

#[tokio::test]
async fn build_statuses_are_created_updated_by_key_and_listed() {
    let api = Api::start().await;
    let head = api
        .get(&format!("{PLUGIN}/refs/branches/feature/login"))
        .await
        .json()["target"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!("{PLUGIN}/commit/{head}/statuses");
    let seeded = api.get(&url).await.json();
    assert_eq!(strings(&seeded, "state"), ["SUCCESSFUL", "FAILED"]);
    assert_eq!(strings(&seeded, "key"), ["atom-ci-build", "atom-ci-e2e"]);

    let made = api
        .post(
            &format!("{url}/build"),
            json!({ "key": "lint", "state": "INPROGRESS", "name": "Lint", "url": "https://ci.example.com/lint/1" }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["state"], "INPROGRESS");
    // The same key again overwrites that status (live, and the spec's description).
    let again = api
        .post(
            &format!("{url}/build"),
            json!({ "key": "lint", "state": "SUCCESSFUL" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json()["name"], "Lint");
    let put = api
        .put(
            &format!("{url}/build/atom-ci-e2e"),
            json!({ "key": "atom-ci-e2e", "state": "STOPPED" }),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let one = api.get(&format!("{url}/build/atom-ci-e2e")).await.json();
    assert_eq!(one["state"], "STOPPED");
    let all = api.get(&format!("{url}?sort=key")).await.json();
    assert_eq!(
        strings(&all, "key"),
        ["atom-ci-build", "atom-ci-e2e", "lint"]
    );
    assert_eq!(
        strings(&all, "state"),
        ["SUCCESSFUL", "STOPPED", "SUCCESSFUL"]
    );
    let on_pr = api
        .get(&format!("{PLUGIN}/pullrequests/4/statuses"))
        .await
        .json();
    assert_eq!(on_pr["size"], 3);

    let bad = api
        .post(
            &format!("{url}/build"),
            json!({ "key": "x", "state": "GREEN" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json()["error"]["fields"]["state"].is_array());
    let missing = api
        .post(&format!("{url}/build"), json!({ "state": "FAILED" }))
        .await;
    assert!(missing.json()["error"]["fields"]["key"].is_array());
    // Both bodies break the spec on purpose; the layer noticed.
    let violations = api.fake.take_violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations.iter().all(|v| v.side == "request"));
    let unknown = api.get(&format!("{url}/build/nope")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_authors_edit_or_delete_comments_and_drafts_publish_by_put() {
    let api = Api::start().await;
    let comment = format!("{PLUGIN}/pullrequests/4/comments/500002");
    let as_grace = |method: Method, body| api.call(method, &comment, Some(GRACE_TOKEN), body, &[]);
    let refused = as_grace(
        Method::PUT,
        Some(json!({ "content": { "raw": "mine now" } })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        as_grace(Method::DELETE, None).await.status,
        StatusCode::FORBIDDEN
    );

    let edited = api
        .put(
            &comment,
            json!({ "content": { "raw": "Moved it, see auth::refresh." } }),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(
        edited.json()["content"]["raw"],
        "Moved it, see auth::refresh."
    );
    assert_eq!(api.delete(&comment).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&comment).await.json()["deleted"], true);

    let draft = api
        .post(
            &format!("{PLUGIN}/pullrequests/4/comments"),
            json!({ "content": { "raw": "Draft thought" }, "pending": true }),
        )
        .await
        .json();
    let draft_url = format!("{PLUGIN}/pullrequests/4/comments/{}", draft["id"]);
    let hidden = api
        .call(Method::GET, &draft_url, Some(GRACE_TOKEN), None, &[])
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let published = api.put(&draft_url, json!({ "pending": false })).await;
    assert_eq!(published.json()["pending"], false);
    let seen = api
        .call(Method::GET, &draft_url, Some(GRACE_TOKEN), None, &[])
        .await;
    assert_eq!(seen.status, StatusCode::OK);
}

#[tokio::test]
async fn threads_resolve_once_and_reopen() {
    let api = Api::start().await;
    let base = format!("{PLUGIN}/pullrequests/4/comments");
    // 500001 was seeded resolved by Ada.
    let seeded = api.get(&format!("{base}/500001")).await.json();
    assert_eq!(seeded["resolution"]["user"]["nickname"], "ada");
    let twice = api
        .post(&format!("{base}/500001/resolve"), json!(null))
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let reopened = api.delete(&format!("{base}/500001/resolve")).await;
    assert_eq!(reopened.status, StatusCode::NO_CONTENT);
    assert!(
        api.get(&format!("{base}/500001"))
            .await
            .json()
            .get("resolution")
            .is_none()
    );
    let again = api.delete(&format!("{base}/500001/resolve")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let resolved = api
        .call(
            Method::POST,
            &format!("{base}/500001/resolve"),
            Some(GRACE_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(resolved.status, StatusCode::OK);
    let resolution = resolved.json();
    assert_eq!(resolution["type"], "comment_resolution");
    assert_eq!(resolution["user"]["nickname"], "grace");
    let reply = api
        .post(&format!("{base}/500002/resolve"), json!(null))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tasks_follow_the_task_count() {
    let api = Api::start().await;
    let pr = format!("{PLUGIN}/pullrequests/4");
    assert_eq!(api.get(&pr).await.json()["task_count"], 1);
    let seeded = api.get(&format!("{pr}/tasks")).await.json();
    assert_eq!(strings(&seeded, "state"), ["UNRESOLVED", "RESOLVED"]);
    assert_eq!(values(&seeded)[0]["comment"]["id"], 500001);
    assert_eq!(values(&seeded)[1]["resolved_by"]["nickname"], "ada");

    let made = api
        .post(
            &format!("{pr}/tasks"),
            json!({ "content": { "raw": "Rename the flag" } }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let task = made.json();
    assert_eq!(
        made.header("location"),
        task["links"]["self"]["href"].as_str()
    );
    assert_eq!(task["state"], "UNRESOLVED");
    assert_eq!(api.get(&pr).await.json()["task_count"], 2);

    let url = format!("{pr}/tasks/{}", task["id"]);
    let done = api.put(&url, json!({ "state": "RESOLVED" })).await.json();
    assert_eq!(done["state"], "RESOLVED");
    assert_eq!(done["resolved_by"]["nickname"], "ada");
    assert_eq!(api.get(&pr).await.json()["task_count"], 1);
    assert_eq!(api.delete(&url).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("{pr}/tasks")).await.json()["size"], 2);
    let blank = api
        .post(&format!("{pr}/tasks"), json!({ "content": { "raw": " " } }))
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn activity_shows_an_approval_first_and_bbql_finds_reviewers() {
    let api = Api::start().await;
    let pr = format!("{PLUGIN}/pullrequests/4");
    let approved = api
        .call(
            Method::POST,
            &format!("{pr}/approve"),
            Some(GRACE_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK);
    let activity = api.get(&format!("{pr}/activity?pagelen=50")).await.json();
    let entries = values(&activity);
    assert_eq!(entries[0]["approval"]["user"]["nickname"], "grace");
    assert_eq!(entries[0]["pull_request"]["id"], 4);
    assert!(entries.iter().any(|e| e["comment"]["id"] == 500001));
    let opened = entries.last().unwrap();
    assert_eq!(opened["update"]["state"], "OPEN");
    assert_eq!(opened["update"]["author"]["nickname"], "ada");

    let renamed = api.put(&pr, json!({ "title": "OAuth 2.0 login" })).await;
    assert_eq!(renamed.status, StatusCode::OK);
    let activity = api.get(&format!("{pr}/activity")).await.json();
    assert_eq!(values(&activity)[0]["update"]["title"], "OAuth 2.0 login");

    let grace = crate::world::uuid(2);
    let q = format!("reviewers.uuid = \"{grace}\" AND state = \"OPEN\"");
    let encoded: String = form_urlencoded::byte_serialize(q.as_bytes()).collect();
    let mine = api
        .get(&format!("{PLUGIN}/pullrequests?q={encoded}"))
        .await
        .json();
    let ids: Vec<u64> = values(&mine)
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [6, 4]);
}
