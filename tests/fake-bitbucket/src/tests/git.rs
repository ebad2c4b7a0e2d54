use axum::http::StatusCode;
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, strings, values};

#[tokio::test]
async fn branches_list_filter_sort_and_resolve_slashes() {
    let api = Api::start().await;
    let page = api.get(&format!("{PLUGIN}/refs/branches")).await.json();
    assert_eq!(
        strings(&page, "name"),
        [
            "develop",
            "feature/login",
            "feature/search-v2",
            "main",
            "release/2026.11"
        ]
    );
    let main = &values(&page)[3];
    assert_eq!(main["type"], "branch");
    assert_eq!(main["target"]["type"], "commit");
    assert_eq!(main["target"]["hash"].as_str().unwrap().len(), 40);
    assert_eq!(main["target"]["author"]["user"]["nickname"], "ada");
    assert_eq!(
        main["merge_strategies"],
        json!(["merge_commit", "squash", "fast_forward"])
    );
    assert_eq!(main["default_merge_strategy"], "merge_commit");

    let q = "q=name%20~%20%22feature%2F%22&sort=-name";
    let page = api.get(&format!("{PLUGIN}/refs/branches?{q}")).await.json();
    assert_eq!(
        strings(&page, "name"),
        ["feature/search-v2", "feature/login"]
    );

    for path in ["feature%2Flogin", "feature/login"] {
        let answer = api.get(&format!("{PLUGIN}/refs/branches/{path}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.json()["name"], "feature/login");
    }
    let missing = api.get(&format!("{PLUGIN}/refs/branches/nope/x")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["message"], "Branch not found");

    let unknown_repo = api.get("/2.0/repositories/acme/nope/refs/branches").await;
    assert_eq!(unknown_repo.status, StatusCode::NOT_FOUND);
    let anonymous = api
        .call(
            axum::http::Method::GET,
            &format!("{PLUGIN}/refs/branches"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn branches_are_created_once_from_a_known_commit() {
    let api = Api::start().await;
    let head = api
        .fake
        .control()
        .branch("acme", "api-service-00", "main")
        .unwrap()
        .target
        .clone();
    let made = api
        .post(
            &format!("{SERVICE}/refs/branches"),
            json!({ "name": "feature/x", "target": { "hash": head } }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.json()["target"]["hash"], head.as_str());
    let again = api
        .post(
            &format!("{SERVICE}/refs/branches"),
            json!({ "name": "feature/x", "target": { "hash": head } }),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let unknown = api
        .post(
            &format!("{SERVICE}/refs/branches"),
            json!({ "name": "feature/y", "target": { "hash": "0123456789abcdef0123456789abcdef01234567" } }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let short = api
        .post(
            &format!("{SERVICE}/refs/branches"),
            json!({ "name": "feature/z", "target": { "hash": &head[..10] } }),
        )
        .await;
    assert_eq!(short.status, StatusCode::CREATED);
    assert_eq!(
        api.delete(&format!("{SERVICE}/refs/branches/feature%2Fz"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.delete(&format!("{SERVICE}/refs/branches/main"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn commits_newest_first_with_include_exclude_and_path() {
    let api = Api::start().await;
    let all = api
        .get(&format!("{PLUGIN}/commits?pagelen=100"))
        .await
        .json();
    let dates = strings(&all, "date");
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");
    // main (43 with the merged side commits), develop 3, login 4 and the 5
    // reviewable ones of pull request #4, search 3, release 2.
    assert_eq!(all["size"], 60);

    let main = api
        .get(&format!("{PLUGIN}/commits/main?pagelen=100"))
        .await
        .json();
    assert_eq!(main["size"], 43);
    let release_only = api
        .get(&format!(
            "{PLUGIN}/commits?include=release%2F2026.11&exclude=main"
        ))
        .await
        .json();
    assert_eq!(
        strings(&release_only, "message"),
        ["Update CHANGELOG for 2026.11", "Bump version to 2026.11.0"]
    );
    let readme = api
        .get(&format!("{PLUGIN}/commits/main?path=README.md"))
        .await
        .json();
    assert_eq!(readme["size"], 3);
    let src = api
        .get(&format!("{PLUGIN}/commits?include=main&path=src/auth.rs"))
        .await
        .json();
    assert_eq!(src["size"], 2);

    let hash = values(&release_only)[0]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = api.get(&format!("{PLUGIN}/commit/{}", &hash[..7])).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["hash"], hash.as_str());
    assert_eq!(
        one.json()["repository"]["full_name"],
        "atom-labs/bitbucket-plugin"
    );
    assert_eq!(
        api.get(&format!("{PLUGIN}/commit/deadbeefdeadbeef"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get(&format!("{PLUGIN}/commits/no-such-branch"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
