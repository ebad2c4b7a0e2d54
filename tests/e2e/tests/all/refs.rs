//! Branches and commits through the sandbox.

use atom_test_support::repo;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::env;
use serde_json::{Value, json};

fn names(page: &Value, key: &str) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn branches_list_filter_sort_and_get_by_a_name_with_a_slash() {
    let env = env().await;
    let all = env.exec("list-branches", repo(json!({}))).await.unwrap();
    let all_names = names(&all, "name");
    for expected in [
        "main",
        "develop",
        "feature/login",
        "feature/search-v2",
        "release/2026.11",
    ] {
        assert!(
            all_names.iter().any(|n| n == expected),
            "{expected} in {all_names:?}"
        );
    }
    let features = env
        .exec(
            "list-branches",
            repo(json!({ "page": { "q": "name ~ \"feature/\"", "sort": "-name" } })),
        )
        .await
        .unwrap();
    assert_eq!(
        names(&features, "name"),
        ["feature/search-v2", "feature/login"]
    );
    let request = env.fake.control().requests.last().cloned().unwrap();
    assert_eq!(request.param("q"), Some("name ~ \"feature/\""));

    let branch = env
        .exec("get-branch", repo(json!({ "name": "feature/login" })))
        .await
        .unwrap();
    assert_eq!(branch["name"], "feature/login");
    assert_eq!(branch["target_hash"].as_str().unwrap().len(), 40);
    assert!(
        branch["merge_strategies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "squash")
    );
    let path = env.fake.control().requests.last().unwrap().path.clone();
    assert!(path.ends_with("/refs/branches/feature%2Flogin"), "{path}");

    let missing = env
        .exec("get-branch", repo(json!({ "name": "feature/nope" })))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, Failure::Integration(Error::NotFound(_))),
        "{missing}"
    );
}

#[tokio::test]
async fn commits_follow_include_exclude_and_path_and_page_by_cursor() {
    let env = env().await;
    let first = env
        .exec(
            "list-commits",
            repo(json!({ "include": ["main"], "page": { "size": 5 } })),
        )
        .await
        .unwrap();
    let hashes = names(&first, "hash");
    assert_eq!(hashes.len(), 5);
    let request = env.fake.control().requests.last().cloned().unwrap();
    assert_eq!(request.param("include"), Some("main"));

    let second = env
        .exec(
            "list-commits",
            repo(json!({ "page": { "cursor": first["next_cursor"] } })),
        )
        .await
        .unwrap();
    let more = names(&second, "hash");
    assert!(
        !more.is_empty() && more.iter().all(|h| !hashes.contains(h)),
        "page two is new commits"
    );

    // What is on the feature branch and not yet on main.
    let ahead = env
        .exec(
            "list-commits",
            repo(json!({ "include": ["feature/login"], "exclude": ["main"] })),
        )
        .await
        .unwrap();
    let ahead_hashes = names(&ahead, "hash");
    assert!(!ahead_hashes.is_empty());
    assert!(ahead_hashes.iter().all(|h| !hashes.contains(h)));

    let commit = env
        .exec("get-commit", repo(json!({ "commit": &hashes[0][..12] })))
        .await
        .unwrap();
    assert_eq!(commit["hash"], hashes[0].as_str());
    assert!(!commit["message"].as_str().unwrap().is_empty());
    assert!(commit["author_raw"].as_str().unwrap().contains('<'));

    let unknown = env
        .exec(
            "get-commit",
            repo(json!({ "commit": "0000000000000000000000000000000000000000" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, Failure::Integration(Error::NotFound(_))),
        "{unknown}"
    );
    let bad = env
        .exec("list-commits", repo(json!({ "include": [""] })))
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, Failure::Integration(Error::Validation(v)) if v.field == "include[0]"),
        "{bad}"
    );
}
