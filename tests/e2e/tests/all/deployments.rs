//! Deployment environments and deployments, read through the sandbox as the
//! fake holds them: environments in rank order, deployments newest first
//! and paged, the environment filter applied by the component, a release
//! that names its pipeline run, and a typed not-found.

use atom_test_support::{Env, env, repo};
use serde_json::{Value, json};

const REPO: &str = "atom-labs/bitbucket-plugin";

fn items(page: &Value) -> &[Value] {
    page["items"].as_array().unwrap()
}

/// The fake's deployments of the repository, newest first, as
/// (deployment uuid, environment name, pipeline uuid, build number, commit).
fn held(env: &Env) -> Vec<(String, String, String, u64, String)> {
    let world = env.fake.control();
    world
        .deployments_of(REPO)
        .into_iter()
        .map(|d| {
            let environment = world.environment(REPO, &d.environment).unwrap();
            let run = world.pipeline(&d.pipeline).unwrap();
            (
                d.uuid.clone(),
                environment.name.clone(),
                run.uuid.clone(),
                run.build_number,
                run.target.commit.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn environments_are_listed_in_rank_order_and_got_by_uuid() {
    let env = env().await;
    let listed = env
        .exec("list-environments", repo(json!({})))
        .await
        .unwrap();
    let names: Vec<&str> = items(&listed)
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Test", "Staging", "Production"]);
    let ranks: Vec<u64> = items(&listed)
        .iter()
        .map(|e| e["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [0, 1, 2]);
    let staging = &items(&listed)[1];
    assert_eq!(staging["environment_type"], "Staging");
    let got = env
        .exec(
            "get-environment",
            repo(json!({ "environment_uuid": staging["uuid"] })),
        )
        .await
        .unwrap();
    assert_eq!(got, *staging);
}

#[tokio::test]
async fn deployments_page_newest_first_to_the_end_and_filter_by_environment() {
    let env = env().await;
    let held = held(&env);
    assert!(held.len() >= 4, "the seed has deployments: {held:?}");

    let (mut seen, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = env
            .exec(
                "list-deployments",
                repo(json!({ "page": { "size": 1, "cursor": cursor } })),
            )
            .await
            .unwrap();
        seen.extend(items(&page).iter().cloned());
        pages += 1;
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(pages < 50, "the cursor never ran out");
    }
    let uuids: Vec<&str> = seen.iter().map(|d| d["uuid"].as_str().unwrap()).collect();
    let expected: Vec<&str> = held.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(uuids, expected, "newest first, each once");
    for (deployment, (_, environment, ..)) in seen.iter().zip(&held) {
        assert_eq!(deployment["environment_name"], environment.as_str());
    }

    let staging = env
        .exec(
            "list-deployments",
            repo(json!({ "environment": "Staging", "page": { "size": 100 } })),
        )
        .await
        .unwrap();
    let got: Vec<&str> = items(&staging)
        .iter()
        .map(|d| d["uuid"].as_str().unwrap())
        .collect();
    let wanted: Vec<&str> = held
        .iter()
        .filter(|d| d.1 == "Staging")
        .map(|d| d.0.as_str())
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(got, wanted);
}

#[tokio::test]
async fn a_deployment_names_the_pipeline_run_and_commit_it_released() {
    let env = env().await;
    let held = held(&env);
    let (uuid, environment, pipeline, build_number, commit) = held[0].clone();
    let got = env
        .exec("get-deployment", repo(json!({ "deployment_uuid": uuid })))
        .await
        .unwrap();
    assert_eq!(got["uuid"], uuid.as_str());
    assert_eq!(got["environment_name"], environment.as_str());
    assert_eq!(got["state_name"], "COMPLETED");
    assert_eq!(got["release"]["pipeline_uuid"], pipeline.as_str());
    assert_eq!(got["release"]["build_number"], build_number);
    assert_eq!(got["release"]["commit_hash"], commit.as_str());

    let missing = env
        .exec(
            "get-deployment",
            repo(json!({ "deployment_uuid": "{00000000-0000-4000-8000-000000000000}" })),
        )
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found", "{missing}");
}
