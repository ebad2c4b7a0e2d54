//! A workspace's projects through the sandbox, against the fake's.

use atom_test_support::env;
use serde_json::json;

#[tokio::test]
async fn a_workspaces_projects_are_listed_and_got_by_key() {
    let env = env().await;
    let expected: Vec<(String, String, bool)> = {
        let world = env.fake.control();
        let mut projects: Vec<_> = world
            .projects
            .iter()
            .filter(|p| p.workspace == "acme")
            .map(|p| (p.key.clone(), p.uuid.clone(), p.is_private))
            .collect();
        projects.sort();
        projects
    };
    assert!(expected.len() >= 2, "acme has projects: {expected:?}");

    let mut listed: Vec<(String, String, bool)> =
        crate::manage::one_at_a_time(&env, "list-projects", json!({ "workspace": "acme" }))
            .await
            .iter()
            .map(|project| {
                (
                    project["key"].as_str().unwrap().to_owned(),
                    project["uuid"].as_str().unwrap().to_owned(),
                    project["is_private"].as_bool().unwrap(),
                )
            })
            .collect();
    listed.sort();
    assert_eq!(listed, expected, "every project once, paged one at a time");

    let (key, uuid, is_private) = &expected[0];
    let project = env
        .exec("get-project", json!({ "workspace": "acme", "key": key }))
        .await
        .unwrap();
    assert_eq!(project["key"], key.as_str());
    assert_eq!(project["uuid"], uuid.as_str());
    assert_eq!(project["is_private"], *is_private);
    assert!(project["name"].as_str().is_some_and(|n| !n.is_empty()));

    let missing = env
        .exec("get-project", json!({ "workspace": "acme", "key": "NOPE" }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
    // The spec names no filter for projects: one is refused before sending.
    let filtered = env
        .exec(
            "list-projects",
            json!({ "workspace": "acme", "page": { "q": "key = \"PLAT\"" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(filtered.to_json()["field"], "page.q", "{filtered}");
}
