//! Managing a workspace through the sandbox: repositories made, changed and
//! deleted, and who belongs to the workspace.

use atom_test_support::{Env, env};
use serde_json::{Value, json};

fn requests(env: &Env, method: &str) -> usize {
    env.fake
        .control()
        .requests
        .iter()
        .filter(|r| r.method == method)
        .count()
}

fn exists(env: &Env, full_name: &str) -> bool {
    env.fake
        .control()
        .repositories
        .iter()
        .any(|r| r.full_name() == full_name)
}

#[tokio::test]
async fn a_repository_is_made_changed_and_deleted_only_when_its_name_is_repeated() {
    let env = env().await;
    let project = env
        .fake
        .control()
        .projects
        .iter()
        .find(|p| p.workspace == "acme")
        .map(|p| p.key.clone())
        .expect("acme has a project");
    let made = env
        .exec(
            "create-repository",
            json!({
                "workspace": "acme", "repo_slug": "made-by-atom", "is_private": true,
                "description": "First words", "project_key": project, "language": "rust",
            }),
        )
        .await
        .unwrap();
    assert_eq!(made["full_name"], "acme/made-by-atom");
    assert_eq!(made["is_private"], true);
    assert_eq!(made["project_key"], project.as_str());
    assert_eq!(made["description"], "First words");
    let read = env
        .exec(
            "get-repository",
            json!({ "workspace": "acme", "repo_slug": "made-by-atom" }),
        )
        .await
        .unwrap();
    assert_eq!(read["uuid"], made["uuid"]);

    let twice = env
        .exec(
            "create-repository",
            json!({ "workspace": "acme", "repo_slug": "made-by-atom", "is_private": true }),
        )
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "validation", "{twice}");
    let posts = requests(&env, "POST");
    let bad = env
        .exec(
            "create-repository",
            json!({ "workspace": "acme", "repo_slug": "Made By Atom", "is_private": true }),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.to_json()["field"], "repo_slug", "{bad}");
    assert_eq!(requests(&env, "POST"), posts, "refused before sending");

    let changed = env
        .exec(
            "update-repository",
            json!({ "workspace": "acme", "repo_slug": "made-by-atom", "description": "Second words" }),
        )
        .await
        .unwrap();
    assert_eq!(changed["description"], "Second words");
    assert_eq!(changed["language"], "rust", "fields not given stay");

    let deletes = requests(&env, "DELETE");
    for wrong in ["made-by-atom", "acme/made-by-at0m", "ACME/made-by-atom", ""] {
        let refused = env
            .exec(
                "delete-repository",
                json!({ "workspace": "acme", "repo_slug": "made-by-atom", "confirm_full_name": wrong }),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.to_json()["field"], "confirm_full_name", "{refused}");
    }
    assert_eq!(requests(&env, "DELETE"), deletes, "nothing was sent");
    assert!(exists(&env, "acme/made-by-atom"));
    let deleted = env
        .exec(
            "delete-repository",
            json!({ "workspace": "acme", "repo_slug": "made-by-atom", "confirm_full_name": "acme/made-by-atom" }),
        )
        .await
        .unwrap();
    assert_eq!(
        deleted,
        json!({ "workspace": "acme", "repo_slug": "made-by-atom" })
    );
    assert!(!exists(&env, "acme/made-by-atom"));
    let gone = env
        .exec(
            "get-repository",
            json!({ "workspace": "acme", "repo_slug": "made-by-atom" }),
        )
        .await
        .unwrap_err();
    assert_eq!(gone.code(), "not_found", "{gone}");
}

/// Every item of a listing, asked for one a page to the end.
pub(crate) async fn one_at_a_time(env: &Env, operation: &str, params: Value) -> Vec<Value> {
    let mut items: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = params.clone();
        params["page"] = match &cursor {
            Some(cursor) => json!({ "size": 1, "cursor": cursor }),
            None => json!({ "size": 1 }),
        };
        let answer = env.exec(operation, params).await.unwrap();
        items.extend(answer["items"].as_array().unwrap().iter().cloned());
        cursor = answer["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return items;
        }
        assert!(items.len() < 500, "{operation}: the cursor never ends");
    }
}

#[tokio::test]
async fn a_workspaces_members_are_paged_to_the_end() {
    let env = env().await;
    let me = env.exec("get-current-user", json!({})).await.unwrap();
    let members = one_at_a_time(
        &env,
        "list-workspace-members",
        json!({ "workspace": "acme" }),
    )
    .await;
    let names: Vec<&str> = members
        .iter()
        .map(|m| m["display_name"].as_str().unwrap())
        .collect();
    assert!(names.len() >= 2, "{names:?}");
    assert!(
        members.iter().any(|m| m["uuid"] == me["uuid"]),
        "the current user belongs to acme: {names:?}"
    );
    let missing = env
        .exec(
            "list-workspace-members",
            json!({ "workspace": "no-such-workspace" }),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}

/// The fake's variable `key` of the rich repository: its value and whether
/// it is secured.
fn variable(env: &Env, key: &str) -> Option<(String, bool)> {
    let world = env.fake.control();
    world
        .pipeline_variables
        .get("atom-labs/bitbucket-plugin")?
        .iter()
        .find(|v| v.key == key)
        .map(|v| (v.value.clone(), v.secured))
}

#[tokio::test]
async fn pipeline_variables_are_kept_and_a_secured_value_is_never_answered() {
    use atom_test_support::repo;
    const SECRET: &str = "s3cr3t-deploy-token-7f3a";
    const ROTATED: &str = "s3cr3t-rotated-token-91c4";
    let env = env().await;
    let mut said: Vec<String> = Vec::new();

    let listed = env
        .exec("list-repository-variables", repo(json!({})))
        .await
        .unwrap();
    said.push(listed.to_string());
    for item in listed["items"].as_array().unwrap() {
        let (value, secured) = variable(&env, item["key"].as_str().unwrap()).unwrap();
        assert_eq!(item["secured"], secured, "{item}");
        if secured {
            assert!(
                item["value"].is_null(),
                "a secured value is never answered: {item}"
            );
            assert!(!listed.to_string().contains(&value));
        } else {
            assert_eq!(item["value"], value.as_str());
        }
    }

    let created = env
        .exec(
            "create-repository-variable",
            repo(json!({ "key": "DEPLOY_TOKEN", "value": SECRET, "secured": true })),
        )
        .await
        .unwrap();
    said.push(created.to_string());
    assert_eq!(created["key"], "DEPLOY_TOKEN");
    assert_eq!(created["secured"], true);
    assert!(created["value"].is_null(), "{created}");
    // Bitbucket holds it: the test could see it leak.
    assert_eq!(
        variable(&env, "DEPLOY_TOKEN"),
        Some((SECRET.to_owned(), true))
    );

    let twice = env
        .exec(
            "create-repository-variable",
            repo(json!({ "key": "DEPLOY_TOKEN", "value": SECRET, "secured": true })),
        )
        .await
        .unwrap_err();
    said.push(twice.to_json().to_string());
    assert_eq!(twice.code(), "conflict", "{twice}");
    let posts = requests(&env, "POST");
    let bad_key = env
        .exec(
            "create-repository-variable",
            repo(json!({ "key": "1-BAD KEY", "value": SECRET, "secured": true })),
        )
        .await
        .unwrap_err();
    said.push(bad_key.to_json().to_string());
    assert_eq!(bad_key.to_json()["field"], "key", "{bad_key}");
    assert_eq!(requests(&env, "POST"), posts, "refused before sending");

    let uuid = created["uuid"].as_str().unwrap();
    let rotated = env
        .exec(
            "update-repository-variable",
            repo(json!({ "variable_uuid": uuid, "value": ROTATED })),
        )
        .await
        .unwrap();
    said.push(rotated.to_string());
    assert!(rotated["value"].is_null(), "{rotated}");
    assert_eq!(
        variable(&env, "DEPLOY_TOKEN"),
        Some((ROTATED.to_owned(), true))
    );

    let plain = env
        .exec(
            "create-repository-variable",
            repo(json!({ "key": "DEPLOY_ENV", "value": "staging", "secured": false })),
        )
        .await
        .unwrap();
    assert_eq!(plain["value"], "staging");

    let deleted = env
        .exec(
            "delete-repository-variable",
            repo(json!({ "variable_uuid": uuid })),
        )
        .await
        .unwrap();
    said.push(deleted.to_string());
    assert_eq!(variable(&env, "DEPLOY_TOKEN"), None);
    let gone = env
        .exec(
            "delete-repository-variable",
            repo(json!({ "variable_uuid": uuid })),
        )
        .await
        .unwrap_err();
    said.push(gone.to_json().to_string());
    assert_eq!(gone.code(), "not_found", "{gone}");

    for text in &said {
        assert!(!text.contains(SECRET) && !text.contains(ROTATED), "{text}");
    }
}
