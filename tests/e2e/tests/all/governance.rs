//! What governs a repository, read through the sandbox as the fake holds
//! it: branch restrictions, default reviewers, downloads and explicit
//! permissions.

use atom_test_support::{Env, env, repo};
use serde_json::{Value, json};

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().unwrap().clone()
}

fn settings(env: &Env) -> fake_bitbucket::RepositorySettings {
    env.fake.control().settings["atom-labs/bitbucket-plugin"].clone()
}

#[tokio::test]
async fn branch_restrictions_are_listed_filtered_and_got() {
    let env = env().await;
    let held = settings(&env).branch_restrictions;
    assert!(held.len() >= 2, "restrictions are seeded: {held:?}");
    let listed = env
        .exec("list-branch-restrictions", repo(json!({})))
        .await
        .unwrap();
    let mut ids: Vec<u64> = items(&listed)
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    let mut expected: Vec<u64> = held.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let kind = held[0].kind.clone();
    let of_kind = env
        .exec("list-branch-restrictions", repo(json!({ "kind": kind })))
        .await
        .unwrap();
    let wanted = held.iter().filter(|r| r.kind == kind).count();
    assert_eq!(items(&of_kind).len(), wanted);
    assert!(items(&of_kind).iter().all(|r| r["kind"] == kind.as_str()));

    for rule in &held {
        let got = env
            .exec("get-branch-restriction", repo(json!({ "id": rule.id })))
            .await
            .unwrap();
        assert_eq!(got["kind"], rule.kind.as_str());
        assert_eq!(got["pattern"], rule.pattern.as_str());
        assert_eq!(got["value"].as_u64(), rule.value);
        let exempt: Vec<&str> = got["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(
            exempt,
            rule.users.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }
    let missing = env
        .exec(
            "get-branch-restriction",
            repo(json!({ "id": 987_654_321u64 })),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}

#[tokio::test]
async fn default_reviewers_say_where_each_was_set() {
    let env = env().await;
    let own: Vec<String> = settings(&env).default_reviewers;
    assert!(!own.is_empty(), "the repository has default reviewers");
    let listed = env
        .exec("list-default-reviewers", repo(json!({})))
        .await
        .unwrap();
    let uuids: Vec<String> = items(&listed)
        .iter()
        .map(|r| r["reviewer"]["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uuids, own);
    assert!(
        items(&listed)
            .iter()
            .all(|r| r["reviewer_type"] == "repository")
    );

    let effective = env
        .exec("list-default-reviewers", repo(json!({ "effective": true })))
        .await
        .unwrap();
    let of_type = |kind: &str| -> Vec<String> {
        items(&effective)
            .iter()
            .filter(|r| r["reviewer_type"] == kind)
            .map(|r| r["reviewer"]["uuid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of_type("repository"), own);
    assert!(
        !of_type("project").is_empty(),
        "the project's come too: {effective}"
    );
}

#[tokio::test]
async fn downloads_and_explicit_permissions_are_read() {
    let env = env().await;
    let held = settings(&env);
    let downloads = env.exec("list-downloads", repo(json!({}))).await.unwrap();
    let listed: Vec<(String, u64)> = items(&downloads)
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["size_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected: Vec<(String, u64)> = held
        .downloads
        .iter()
        .map(|d| (d.name.clone(), d.size))
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    expected.sort();
    assert_eq!(listed_sorted, expected);
    assert!(!listed.is_empty(), "downloads are seeded");

    let users = env
        .exec("list-repository-user-permissions", repo(json!({})))
        .await
        .unwrap();
    let mut granted: Vec<(String, String)> = items(&users)
        .iter()
        .map(|p| {
            (
                p["user"]["uuid"].as_str().unwrap().to_owned(),
                p["permission"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = held
        .user_permissions
        .iter()
        .map(|g| (g.to.clone(), g.permission.clone()))
        .collect();
    granted.sort();
    expected.sort();
    assert_eq!(granted, expected);

    let groups = env
        .exec("list-repository-group-permissions", repo(json!({})))
        .await
        .unwrap();
    let mut granted: Vec<(String, String)> = items(&groups)
        .iter()
        .map(|p| {
            (
                p["group_slug"].as_str().unwrap().to_owned(),
                p["permission"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = held
        .group_permissions
        .iter()
        .map(|g| (g.to.slug.clone(), g.permission.clone()))
        .collect();
    granted.sort();
    expected.sort();
    assert_eq!(granted, expected);
    assert!(!granted.is_empty(), "a group permission is seeded");
}
