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

/// The head of `name` in the fake's world.
fn head_of(env: &atom_test_support::Env, name: &str) -> String {
    let world = env.fake.control();
    world
        .branches
        .iter()
        .find(|b| b.repo == "atom-labs/bitbucket-plugin" && b.name == name)
        .map(|b| b.target.clone())
        .unwrap_or_else(|| panic!("{name} exists"))
}

#[tokio::test]
async fn a_branch_starts_at_a_branch_or_a_hash_and_is_deleted_but_main_is_not() {
    let env = env().await;
    let main = head_of(&env, "main");
    let from_main = env
        .exec(
            "create-branch",
            repo(json!({ "name": "feature/from-main", "target": "main" })),
        )
        .await
        .unwrap();
    assert_eq!(from_main["name"], "feature/from-main");
    assert_eq!(from_main["target_hash"], main.as_str());
    assert_eq!(head_of(&env, "feature/from-main"), main);

    let develop = head_of(&env, "develop");
    let from_hash = env
        .exec(
            "create-branch",
            repo(json!({ "name": "hotfix/short-hash", "target": &develop[..7] })),
        )
        .await
        .unwrap();
    assert_eq!(from_hash["target_hash"], develop.as_str());

    // Refused before anything is sent: no such ref.
    let posts = |env: &atom_test_support::Env| {
        env.fake
            .control()
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .count()
    };
    let before = posts(&env);
    let nowhere = env
        .exec(
            "create-branch",
            repo(json!({ "name": "feature/nowhere", "target": "no-such-ref" })),
        )
        .await
        .unwrap_err();
    assert_eq!(nowhere.code(), "validation", "{nowhere}");
    assert_eq!(nowhere.to_json()["field"], "target", "{nowhere}");
    assert_eq!(posts(&env), before, "nothing was created");
    let twice = env
        .exec(
            "create-branch",
            repo(json!({ "name": "feature/from-main", "target": "main" })),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "validation", "{twice}");
    assert!(twice.to_string().contains("already exists"), "{twice}");

    let deleted = env
        .exec(
            "delete-branch",
            repo(json!({ "name": "feature/from-main" })),
        )
        .await
        .unwrap();
    assert_eq!(deleted["name"], "feature/from-main");
    let gone = env
        .exec("get-branch", repo(json!({ "name": "feature/from-main" })))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), "not_found", "{gone}");
    let again = env
        .exec(
            "delete-branch",
            repo(json!({ "name": "feature/from-main" })),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), "not_found", "{again}");
    let main_kept = env
        .exec("delete-branch", repo(json!({ "name": "main" })))
        .await
        .unwrap_err();
    assert_eq!(main_kept.code(), "validation", "{main_kept}");
    assert_eq!(head_of(&env, "main"), main, "main is still there");
}

/// The fake's tag `name` of the rich repository: its commit and, when
/// annotated, its message.
fn tag_of(env: &atom_test_support::Env, name: &str) -> Option<(String, Option<String>)> {
    let world = env.fake.control();
    world
        .tags
        .iter()
        .find(|t| t.repo == "atom-labs/bitbucket-plugin" && t.name == name)
        .map(|t| {
            let message = t.annotation.as_ref().map(|a| a.message.clone());
            (t.target.clone(), message)
        })
}

#[tokio::test]
async fn tags_list_filter_sort_get_and_tell_annotated_from_lightweight() {
    let env = env().await;
    let all = env.exec("list-tags", repo(json!({}))).await.unwrap();
    let all_names = names(&all, "name");
    let seeded: Vec<String> = {
        let world = env.fake.control();
        world
            .tags
            .iter()
            .filter(|t| t.repo == "atom-labs/bitbucket-plugin")
            .map(|t| t.name.clone())
            .collect()
    };
    assert!(seeded.len() >= 2, "the fake seeds tags: {seeded:?}");
    for name in &seeded {
        assert!(all_names.contains(name), "{name} in {all_names:?}");
    }
    // Natural order on names (v0.10 after v0.9), filtered by BBQL.
    let descending = env
        .exec("list-tags", repo(json!({ "page": { "sort": "-name" } })))
        .await
        .unwrap();
    let mut expected = seeded.clone();
    expected.sort_by_key(|name| std::cmp::Reverse(natural_version(name)));
    assert_eq!(names(&descending, "name"), expected);
    let filtered = env
        .exec(
            "list-tags",
            repo(json!({ "page": { "q": "name ~ \"v0.2\"" } })),
        )
        .await
        .unwrap();
    assert_eq!(names(&filtered, "name"), ["v0.2.0"]);

    let (hash, message) = tag_of(&env, "v0.2.0").expect("v0.2.0 is seeded");
    let annotated = env
        .exec("get-tag", repo(json!({ "name": "v0.2.0" })))
        .await
        .unwrap();
    assert_eq!(annotated["target_hash"], hash.as_str());
    assert_eq!(annotated["message"].as_str(), message.as_deref());
    assert!(annotated["tagger"].as_str().is_some(), "{annotated}");
    let (hash, message) = tag_of(&env, "v0.1.0").expect("v0.1.0 is seeded");
    assert_eq!(message, None, "v0.1.0 is lightweight");
    let lightweight = env
        .exec("get-tag", repo(json!({ "name": "refs/tags/v0.1.0" })))
        .await
        .unwrap();
    assert_eq!(lightweight["target_hash"], hash.as_str());
    assert!(lightweight["message"].is_null(), "{lightweight}");
    assert!(lightweight["tagger"].is_null(), "{lightweight}");
    let missing = env
        .exec("get-tag", repo(json!({ "name": "v9.9.9" })))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}

/// `v0.10.0` → [0, 10, 0], for comparing tag names as versions.
fn natural_version(name: &str) -> Vec<u64> {
    name.trim_start_matches('v')
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn a_tag_is_made_at_a_branch_head_or_a_hash_and_deleted() {
    let env = env().await;
    let main = head_of(&env, "main");
    let release = env
        .exec(
            "create-tag",
            repo(json!({ "name": "v1.0.0", "target": "main", "message": "First release" })),
        )
        .await
        .unwrap();
    assert_eq!(release["name"], "v1.0.0");
    assert_eq!(release["target_hash"], main.as_str());
    assert_eq!(release["message"], "First release");
    assert_eq!(
        tag_of(&env, "v1.0.0"),
        Some((main.clone(), Some("First release".to_owned())))
    );
    // A tag's name is a target too.
    let (seeded, _) = tag_of(&env, "v0.2.0").unwrap();
    let again = env
        .exec(
            "create-tag",
            repo(json!({ "name": "v0.2.0-again", "target": "v0.2.0" })),
        )
        .await
        .unwrap();
    assert_eq!(again["target_hash"], seeded.as_str());
    let develop = head_of(&env, "develop");
    let short = env
        .exec(
            "create-tag",
            repo(json!({ "name": "nightly", "target": &develop[..8] })),
        )
        .await
        .unwrap();
    assert_eq!(short["target_hash"], develop.as_str());

    let twice = env
        .exec(
            "create-tag",
            repo(json!({ "name": "v1.0.0", "target": "main" })),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "validation", "{twice}");
    assert!(twice.to_string().contains("already exists"), "{twice}");
    let nowhere = env
        .exec(
            "create-tag",
            repo(json!({ "name": "v2", "target": "no-such-ref" })),
        )
        .await
        .unwrap_err();
    assert_eq!(nowhere.to_json()["field"], "target", "{nowhere}");

    let deleted = env
        .exec("delete-tag", repo(json!({ "name": "v1.0.0" })))
        .await
        .unwrap();
    assert_eq!(deleted["name"], "v1.0.0");
    assert_eq!(tag_of(&env, "v1.0.0"), None);
    let gone = env
        .exec("delete-tag", repo(json!({ "name": "v1.0.0" })))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), "not_found", "{gone}");
}
