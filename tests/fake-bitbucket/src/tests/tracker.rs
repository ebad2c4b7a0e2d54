//! Issues and code search.

use axum::http::StatusCode;
use serde_json::json;

use super::{Api, PLUGIN, strings, values};

#[tokio::test]
async fn issues_filter_create_change_and_retire() {
    let api = Api::start().await;
    let q = "q=state%3D%22new%22%20AND%20kind%3D%22bug%22";
    let bugs = api.get(&format!("{PLUGIN}/issues?{q}")).await.json();
    assert_eq!(
        strings(&bugs, "title"),
        ["Merge fails with 555 on large pull requests"]
    );
    let made = api
        .post(&format!("{PLUGIN}/issues"), json!({ "title": "New one", "content": { "raw": "Body" }, "kind": "task", "priority": "minor" }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let issue = made.json();
    assert_eq!(issue["id"], 9);
    assert_eq!(issue["state"], "new");
    assert_eq!(issue["reporter"]["nickname"], "ada");
    let grace = api
        .fake
        .control()
        .user_named("grace")
        .unwrap()
        .account_id
        .clone();
    let assigned = api
        .put(
            &format!("{PLUGIN}/issues/9"),
            json!({ "assignee": { "account_id": grace } }),
        )
        .await
        .json();
    assert_eq!(assigned["assignee"]["nickname"], "grace");
    let cleared = api
        .put(&format!("{PLUGIN}/issues/9"), json!({ "assignee": null }))
        .await
        .json();
    assert!(cleared["assignee"].is_null());
    let change = api
        .post(
            &format!("{PLUGIN}/issues/9/changes"),
            json!({ "changes": { "state": { "new": "resolved" } }, "message": { "raw": "Done" } }),
        )
        .await;
    assert_eq!(change.status, StatusCode::CREATED);
    assert_eq!(change.json()["type"], "issue_change");
    assert_eq!(
        change.json()["changes"]["state"],
        json!({ "old": "new", "new": "resolved" })
    );
    assert_eq!(
        api.get(&format!("{PLUGIN}/issues/9")).await.json()["state"],
        "resolved"
    );
    assert_eq!(
        api.post(&format!("{PLUGIN}/issues"), json!({ "kind": "bug" }))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let no_tracker = api
        .get("/2.0/repositories/atom-labs/atom-harness/issues")
        .await;
    assert_eq!(no_tracker.status, StatusCode::NOT_FOUND);
    assert_eq!(
        no_tracker.json()["error"]["message"],
        "Repository has no issue tracker."
    );
    api.fake.control().issues_retired = true;
    let gone = api.get(&format!("{PLUGIN}/issues/1")).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(
        gone.json()["error"]["data"]["announcement_url"]
            .as_str()
            .unwrap()
            .contains("community.atlassian.com")
    );
}

#[tokio::test]
async fn code_search_finds_marks_and_pages() {
    let api = Api::start().await;
    let url = "/2.0/workspaces/atom-labs/search/code";
    let hits = api
        .get(&format!("{url}?search_query=verify_signature"))
        .await
        .json();
    assert_eq!(hits["size"], 4);
    assert_eq!(hits["query_substituted"], false);
    let first = &values(&hits)[0];
    assert_eq!(first["type"], "code_search_result");
    assert_eq!(first["file"]["type"], "commit_file");
    assert!(first["file"]["commit"]["repository"]["full_name"].is_string());
    let narrowed = api
        .get(&format!("{url}?search_query=verify_signature%20repo%3Abitbucket-plugin%20path%3Asrc%2Fwebhooks.rs"))
        .await
        .json();
    assert_eq!(narrowed["size"], 1);
    let result = &values(&narrowed)[0];
    assert_eq!(result["content_match_count"], 1);
    let line = &result["content_matches"][0]["lines"][1];
    assert_eq!(line["line"], 5);
    assert!(
        line["segments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["match"] == true && s["text"] == "verify_signature")
    );

    let todo = api
        .get(&format!("{url}?search_query=TODO&pagelen=5"))
        .await
        .json();
    let total = todo["size"].as_u64().unwrap();
    assert!(total > 10);
    let page2 = api.get(todo["next"].as_str().unwrap()).await.json();
    assert_ne!(values(&todo)[4], values(&page2)[0]);
    api.fake.control().search_duplicates_across_pages = true;
    let page2 = api.get(todo["next"].as_str().unwrap()).await.json();
    assert_eq!(values(&todo)[4], values(&page2)[0], "BCLOUD-23644");
    assert_eq!(page2["size"], total);

    assert_eq!(api.get(url).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        api.fake.take_violations()[0].at,
        "query parameter search_query"
    );
    api.fake.control().search_disabled = true;
    let off = api.get(&format!("{url}?search_query=x")).await;
    assert_eq!(off.status, StatusCode::NOT_FOUND);
    assert_eq!(
        off.json()["error"]["message"],
        "Search is not enabled for the requested workspace, navigate to https://bitbucket.org/search to turn it on"
    );
}

#[tokio::test]
async fn issue_comments_list_filter_create_edit_and_delete() {
    let api = Api::start().await;
    let url = format!("{PLUGIN}/issues/3/comments");
    let seeded = api.get(&url).await.json();
    assert_eq!(seeded["size"], 2);
    assert_eq!(strings(&seeded, "user.nickname"), ["ada", "grace"]);
    let first = &values(&seeded)[0];
    assert_eq!(first["type"], "issue_comment");
    assert_eq!(first["id"], 500_001);
    assert_eq!(first["content"]["markup"], "markdown");
    assert!(
        first["content"]["html"]
            .as_str()
            .unwrap()
            .starts_with("<p>")
    );
    assert_eq!(first["issue"]["id"], 3);
    assert_eq!(
        first["issue"]["repository"]["full_name"],
        "atom-labs/bitbucket-plugin"
    );
    assert!(
        first["links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/issues/3/comments/500001")
    );

    let grace = api.fake.control().user_named("grace").unwrap().uuid.clone();
    let q = format!(
        "q=user.uuid%3D%22{}%22",
        grace.replace('{', "%7B").replace('}', "%7D")
    );
    let by_grace = api.get(&format!("{url}?{q}")).await.json();
    assert_eq!(strings(&by_grace, "user.nickname"), ["grace"]);
    let q = "q=content.raw~%22Reproduced%22";
    assert_eq!(
        strings(
            &api.get(&format!("{url}?{q}")).await.json(),
            "user.nickname"
        ),
        ["ada"]
    );

    let made = api
        .post(&url, json!({ "content": { "raw": "Fixed in 0.9.1" } }))
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let comment = made.json();
    assert_eq!(comment["content"]["raw"], "Fixed in 0.9.1");
    assert_eq!(comment["user"]["nickname"], "ada");
    let one = format!("{url}/{}", comment["id"]);
    assert_eq!(api.get(&one).await.json(), comment);
    assert_eq!(api.get(&url).await.json()["size"], 3);
    let edited = api
        .put(&one, json!({ "content": { "raw": "Fixed in 0.9.2" } }))
        .await;
    assert_eq!(edited.status, StatusCode::OK);
    assert_eq!(edited.json()["content"]["raw"], "Fixed in 0.9.2");
    assert_eq!(api.delete(&one).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&one).await.status, StatusCode::NOT_FOUND);

    for empty in [json!({ "content": { "raw": "  " } }), json!({})] {
        let refused = api.post(&url, empty).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.json()["error"]["fields"]["content"][0],
            "This field is required."
        );
    }
    let missing = api
        .post(
            &format!("{PLUGIN}/issues/99/comments"),
            json!({ "content": { "raw": "Anyone?" } }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.get(&format!("{PLUGIN}/issues/99/comments"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.fake.violations(), []);
}
