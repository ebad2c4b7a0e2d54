//! Deployment environments and deployments: the seeded ones, paging, 404s,
//! and a triggered deploy run whose deployment follows it.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, PLUGIN, SERVICE, strings, values};
use crate::world::RunResult;

fn encoded(uuid: &Value) -> String {
    uuid.as_str()
        .unwrap()
        .replace('{', "%7B")
        .replace('}', "%7D")
}

#[tokio::test]
async fn environments_come_in_rank_order_and_answer_by_uuid() {
    let api = Api::start().await;
    let page = api.get(&format!("{PLUGIN}/environments")).await.json();
    assert_eq!(strings(&page, "name"), ["Test", "Staging", "Production"]);
    assert_eq!(strings(&page, "slug"), ["test", "staging", "production"]);
    assert_eq!(
        strings(&page, "environment_type.name"),
        ["Test", "Staging", "Production"]
    );
    let ranks: Vec<Value> = values(&page).iter().map(|e| e["rank"].clone()).collect();
    assert_eq!(ranks, [json!(0), json!(1), json!(2)]);
    let staging = &values(&page)[1];
    assert_eq!(staging["uuid"], crate::world::uuid(70_002));
    let one = api
        .get(&format!(
            "{PLUGIN}/environments/{}",
            encoded(&staging["uuid"])
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), *staging);
    // api-service-00 has its own three, with their own uuids.
    let other = api.get(&format!("{SERVICE}/environments")).await.json();
    assert_eq!(strings(&other, "uuid")[0], crate::world::uuid(70_011));
    let missing = api.get(&format!("{PLUGIN}/environments/%7Bnope%7D")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["type"], "error");
}

#[tokio::test]
async fn seeded_deployments_page_newest_first_and_name_their_runs() {
    let api = Api::start().await;
    let first = api
        .get(&format!("{PLUGIN}/deployments?pagelen=3"))
        .await
        .json();
    assert_eq!(first["size"], 4);
    assert_eq!(values(&first).len(), 3);
    let next = first["next"].as_str().expect("a second page").to_owned();
    let second = api.get(&next).await.json();
    assert!(second.get("next").is_none(), "{second}");
    let all: Vec<Value> = values(&first).into_iter().chain(values(&second)).collect();
    let builds: Vec<&str> = all
        .iter()
        .map(|d| d["release"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(builds, ["24", "18", "12", "6"]);
    let statuses: Vec<&str> = all
        .iter()
        .map(|d| d["state"]["status"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["SUCCESSFUL", "SUCCESSFUL", "FAILED", "SUCCESSFUL"]
    );
    let newest = &all[0];
    {
        let world = api.fake.control();
        let production = world
            .environment_named("atom-labs/bitbucket-plugin", "Production")
            .unwrap()
            .uuid
            .clone();
        assert_eq!(newest["environment"]["uuid"], production);
        let run = world.pipeline(newest["release"]["pipeline"]["uuid"].as_str().unwrap());
        let run = run.expect("the release is a seeded run");
        assert_eq!(run.build_number, 24);
        assert_eq!(newest["release"]["commit"]["hash"], run.target.commit);
        assert_eq!(newest["state"]["name"], "COMPLETED");
        assert!(newest["state"]["completion_date"].is_string());
    }

    let one = api
        .get(&format!(
            "{PLUGIN}/deployments/{}",
            encoded(&newest["uuid"])
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json(), *newest);
    let missing = api
        .get(&format!(
            "{PLUGIN}/deployments/%7B00000000-0000-4000-8000-000000000000%7D"
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"]["message"], "Not found");
}

#[tokio::test]
async fn a_triggered_deploy_run_makes_a_deployment_that_follows_it() {
    let api = Api::start().await;
    api.fake.control().pipeline_result = RunResult::Failed;
    let made = api
        .post(
            &format!("{PLUGIN}/pipelines"),
            json!({ "target": {
                "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                "selector": { "type": "custom", "pattern": "deploy-staging" }
            } }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let run = made.json();
    let newest = || async {
        let page = api.get(&format!("{PLUGIN}/deployments")).await.json();
        assert_eq!(page["size"], 5);
        values(&page)[0].clone()
    };
    let deployment = newest().await;
    assert_eq!(deployment["release"]["pipeline"]["uuid"], run["uuid"]);
    assert_eq!(deployment["release"]["name"], "31");
    assert_eq!(deployment["state"]["name"], "IN_PROGRESS");
    assert_eq!(
        deployment["environment"]["uuid"],
        crate::world::uuid(70_002),
        "Staging"
    );
    // The run moves on as it is polled: pending, running, failed.
    let url = format!("{PLUGIN}/pipelines/{}", encoded(&run["uuid"]));
    for _ in 0..2 {
        api.get(&url).await;
        assert_eq!(newest().await["state"]["name"], "IN_PROGRESS");
    }
    assert_eq!(api.get(&url).await.json()["state"]["name"], "COMPLETED");
    let ended = newest().await;
    assert_eq!(ended["uuid"], deployment["uuid"]);
    assert_eq!(ended["state"]["name"], "COMPLETED");
    assert_eq!(ended["state"]["status"]["name"], "FAILED");

    // Other runs deploy nowhere.
    let before = api.fake.control().deployments.len();
    let plain = api
        .post(
            &format!("{PLUGIN}/pipelines"),
            json!({ "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main" } }),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(api.fake.control().deployments.len(), before);
    assert_eq!(
        api.fake
            .control()
            .deployments_of("atom-labs/bitbucket-plugin")
            .len(),
        5
    );
}
