//! Repositories made, changed and deleted through the API, and the
//! members of a workspace.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, PLUGIN, strings};
use crate::GRACE_TOKEN;

const NEW: &str = "/2.0/repositories/atom-labs/new-service";

#[tokio::test]
async fn a_created_repository_is_empty_and_in_its_project() {
    let api = Api::start().await;
    let body = json!({
        "scm": "git",
        "is_private": true,
        "description": "A new service",
        "project": { "key": "ATOM" },
        "language": "rust",
        "has_issues": true,
        "has_wiki": true,
        "fork_policy": "no_forks",
        "mainbranch": { "name": "trunk" }
    });
    let made = api.post(NEW, body.clone()).await;
    assert_eq!(made.status, StatusCode::OK);
    let repository = made.json();
    assert_eq!(repository["full_name"], "atom-labs/new-service");
    assert_eq!(repository["name"], "new-service");
    assert_eq!(repository["project"]["key"], "ATOM");
    assert_eq!(repository["mainbranch"]["name"], "trunk");
    assert_eq!(repository["fork_policy"], "no_forks");
    assert_eq!(repository["has_wiki"], true);
    assert_eq!(api.get(NEW).await.json(), repository);

    let branches = api.get(&format!("{NEW}/refs/branches")).await.json();
    assert_eq!(branches["size"], 0);
    let commits = api.get(&format!("{NEW}/commits")).await;
    assert_eq!(commits.status, StatusCode::OK);
    assert_eq!(commits.json()["values"], json!([]));
    let root = api.get(&format!("{NEW}/src")).await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);

    let again = api.post(NEW, body).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json()["error"]["message"],
        "Repository with this Slug and Owner already exists."
    );
    // Ada is no member of umbrella.
    let outsider = api
        .post(
            "/2.0/repositories/umbrella/intruder",
            json!({ "scm": "git" }),
        )
        .await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN);
    // PAY is a private project: it holds no public repository.
    let public = api
        .post(
            "/2.0/repositories/acme/open-ledger",
            json!({ "is_private": false, "project": { "key": "PAY" } }),
        )
        .await;
    assert_eq!(public.status, StatusCode::BAD_REQUEST);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn an_update_changes_the_given_fields_only() {
    let api = Api::start().await;
    let path = "/2.0/repositories/acme/fresh";
    let made = api.post(path, json!({ "scm": "git" })).await.json();
    // Without a project: the workspace's oldest.
    assert_eq!(made["project"]["key"], "PLAT");
    assert_eq!(made["is_private"], true);

    let changed = api
        .put(
            path,
            json!({ "description": "Now public", "is_private": false }),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    let changed = changed.json();
    assert_eq!(changed["description"], "Now public");
    assert_eq!(changed["is_private"], false);
    assert_eq!(changed["language"], made["language"]);
    assert!(changed["updated_on"].as_str() > made["updated_on"].as_str());
    assert_eq!(api.get(path).await.json(), changed);

    let missing = api
        .put("/2.0/repositories/acme/nope", json!({ "description": "x" }))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn a_deleted_repository_takes_its_branches_and_pull_requests_along() {
    let api = Api::start().await;
    let full_name = "atom-labs/bitbucket-plugin";
    {
        let world = api.fake.control();
        assert!(world.branches.iter().any(|b| b.repo == full_name));
        assert!(world.pull_requests.iter().any(|p| p.repo == full_name));
    }
    let gone = api
        .delete(&format!("{PLUGIN}?redirect_to=https%3A%2F%2Fexample.com"))
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    for path in [
        PLUGIN.to_owned(),
        format!("{PLUGIN}/refs/branches"),
        format!("{PLUGIN}/pullrequests"),
    ] {
        assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    {
        let world = api.fake.control();
        assert!(!world.branches.iter().any(|b| b.repo == full_name));
        assert!(!world.commits.iter().any(|c| c.repo == full_name));
        assert!(!world.pull_requests.iter().any(|p| p.repo == full_name));
        assert!(!world.pipelines.iter().any(|p| p.repo == full_name));
    }
    assert_eq!(api.delete(PLUGIN).await.status, StatusCode::NOT_FOUND);
    // Grace may read umbrella's public repository, not delete it.
    let refused = api
        .call(
            Method::DELETE,
            "/2.0/repositories/umbrella/public-site",
            Some(GRACE_TOKEN),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(api.fake.violations().is_empty());
}

#[tokio::test]
async fn members_are_listed_a_page_at_a_time() {
    let api = Api::start().await;
    let page = api.get("/2.0/workspaces/acme/members").await.json();
    assert_eq!(strings(&page, "user.nickname"), ["ada", "grace"]);
    assert_eq!(
        strings(&page, "user.display_name"),
        ["Ada Lovelace", "Grace Hopper"]
    );
    assert_eq!(strings(&page, "type"), ["workspace_membership"; 2]);
    assert_eq!(strings(&page, "workspace.slug"), ["acme", "acme"]);

    let first = api
        .get("/2.0/workspaces/acme/members?pagelen=1")
        .await
        .json();
    assert_eq!(strings(&first, "user.nickname"), ["ada"]);
    assert_eq!(first["size"], 2);
    let next = first["next"].as_str().expect("a next page");
    let second = api.get(next).await.json();
    assert_eq!(strings(&second, "user.nickname"), ["grace"]);
    assert!(second.get("next").is_none());

    // Ada is no member of umbrella: it is as absent as an unknown workspace.
    for outside in ["umbrella", "nope"] {
        let answer = api.get(&format!("/2.0/workspaces/{outside}/members")).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{outside}");
    }
    assert!(api.fake.violations().is_empty());
}

/// Bitbucket's partial responses: `fields` narrows a listing to the paths
/// asked for, and its `next` keeps asking for them.
#[tokio::test]
async fn fields_narrow_a_listing_to_the_paths_asked_for() {
    let api = Api::start().await;
    let whole = api
        .get("/2.0/repositories/atom-labs?pagelen=2")
        .await
        .json();
    let narrow = api
        .get("/2.0/repositories/atom-labs?pagelen=2&fields=values.slug,values.links.html,next,size")
        .await
        .json();
    assert_eq!(narrow["size"], whole["size"]);
    assert!(narrow.get("pagelen").is_none(), "{narrow}");
    let next = narrow["next"].as_str().unwrap();
    assert!(next.contains("fields="), "{next}");
    for (narrowed, full) in narrow["values"]
        .as_array()
        .unwrap()
        .iter()
        .zip(whole["values"].as_array().unwrap())
    {
        // serde_json keeps insertion order where a crate of the build asks
        // for it (preserve_order), so the keys are compared as a set.
        let mut keys: Vec<&String> = narrowed.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["links", "slug"], "{narrowed}");
        assert_eq!(narrowed["slug"], full["slug"]);
        assert_eq!(narrowed["links"]["html"], full["links"]["html"]);
        assert!(narrowed["links"].get("avatar").is_none());
    }
    let without = api
        .get("/2.0/repositories/atom-labs?pagelen=2&fields=-values.links,-values.owner")
        .await
        .json();
    assert!(without["values"][0].get("links").is_none());
    assert_eq!(
        without["values"][0]["full_name"],
        whole["values"][0]["full_name"]
    );
    assert!(api.fake.violations().is_empty());
}
