use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, strings, values};
use crate::{ADA_TOKEN, RunResult};

#[tokio::test]
async fn listing_uses_bitbucket_filters_and_can_lose_next() {
    let api = Api::start().await;
    let page = api
        .get(&format!("{PLUGIN}/pipelines?pagelen=10"))
        .await
        .json();
    assert_eq!(page["size"], 30);
    assert!(page["next"].is_string());
    assert_eq!(
        page["values"][0]["build_number"], 1,
        "oldest first by default"
    );
    let newest = api
        .get(&format!("{PLUGIN}/pipelines?sort=-created_on"))
        .await
        .json();
    let numbers: Vec<u64> = values(&newest)
        .iter()
        .map(|p| p["build_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers[..3], [30, 29, 28]);
    let failed = api
        .get(&format!("{PLUGIN}/pipelines?status=FAILED&pagelen=50"))
        .await
        .json();
    assert_eq!(failed["size"], 6);
    let passed = api
        .get(&format!("{PLUGIN}/pipelines?status=PASSED"))
        .await
        .json();
    assert_eq!(passed["size"], 18);
    let scheduled = api
        .get(&format!("{PLUGIN}/pipelines?trigger_type=SCHEDULED"))
        .await
        .json();
    assert_eq!(scheduled["size"], 3);
    assert_eq!(
        scheduled["values"][0]["trigger"]["type"],
        "pipeline_trigger_schedule"
    );
    assert_eq!(
        scheduled["values"][0]["links"]["type"],
        "pipelines_pipeline_links"
    );
    assert_eq!(
        scheduled["values"][0]["links"]["steps"]["type"],
        "pipelines_links_section_href"
    );
    let develop = api
        .get(&format!("{PLUGIN}/pipelines?target.branch=develop"))
        .await
        .json();
    assert!(
        strings(&develop, "target.ref_name")
            .iter()
            .all(|b| b == "develop")
    );
    assert_eq!(
        api.get(&format!("{PLUGIN}/pipelines?sort=-build_number"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(api.fake.take_violations()[0].at, "query parameter sort");
    api.fake.control().omit_pipeline_next = true;
    let page = api
        .get(&format!("{PLUGIN}/pipelines?pagelen=10"))
        .await
        .json();
    assert!(page.get("next").is_none());
    assert_eq!(page["size"], 30);
    assert_eq!(page["pagelen"], 10);
    assert_eq!(values(&page).len(), 10);
}

#[tokio::test]
async fn a_triggered_run_moves_on_with_each_look() {
    let api = Api::start().await;
    api.fake.control().pipeline_result = RunResult::Failed;
    let made = api
        .post(
            &format!("{SERVICE}/pipelines"),
            json!({
                "target": {
                    "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                    "selector": { "type": "custom", "pattern": "deploy-staging" }
                },
                "variables": [
                    { "key": "PLAIN", "value": "1" },
                    { "key": "TOKEN", "value": "s3cret", "secured": true }
                ]
            }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let run = made.json();
    assert_eq!(run["build_number"], 7);
    assert_eq!(run["trigger"]["name"], "MANUAL");
    assert_eq!(run["state"]["name"], "PENDING");
    assert_eq!(run["creator"]["nickname"], "ada");
    // As live: whether it has variables, never the variables.
    assert_eq!(run["has_variables"], true);
    assert!(run.get("variables").is_none(), "{run}");
    assert!(!made.body.windows(6).any(|w| w == b"s3cret"));
    {
        let world = api.fake.control();
        let kept = &world.pipelines.last().unwrap().variables;
        assert_eq!((kept[0].value.as_str(), kept[1].secured), ("1", true));
    }
    let uuid = run["uuid"]
        .as_str()
        .unwrap()
        .replace('{', "%7B")
        .replace('}', "%7D");
    let url = format!("{SERVICE}/pipelines/{uuid}");

    let first = api.get(&url).await.json();
    assert_eq!(first["state"]["type"], "pipeline_state_pending");
    assert_eq!(first["has_variables"], true);
    assert!(first.get("variables").is_none(), "{first}");
    let listed = api
        .get(&format!("{SERVICE}/pipelines?sort=-created_on"))
        .await
        .json();
    assert_eq!(listed["values"][0]["has_variables"], true);
    assert!(listed["values"][0].get("variables").is_none(), "{listed}");
    let second = api.get(&url).await.json();
    assert_eq!(second["state"]["name"], "IN_PROGRESS");
    assert_eq!(second["state"]["stage"]["name"], "RUNNING");
    assert!(second.get("completed_on").is_none());
    let steps = api.get(&format!("{url}/steps")).await.json();
    assert_eq!(strings(&steps, "name"), ["Build", "Test"]);
    assert_eq!(steps["values"][1]["state"]["result"]["name"], "FAILED");
    let third = api.get(&url).await.json();
    assert_eq!(
        third["state"]["result"]["type"],
        "pipeline_state_completed_failed"
    );
    assert!(third["duration_in_seconds"].as_u64().unwrap() > 0);
    assert!(third["build_seconds_used"].is_u64());
    assert_eq!(
        api.post(&format!("{url}/stopPipeline"), json!({}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let unknown = api
        .post(&format!("{SERVICE}/pipelines"), json!({ "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "nope" } }))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let custom = api
        .post(&format!("{SERVICE}/pipelines"), json!({ "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main", "selector": { "type": "custom", "pattern": "deploy" } } }))
        .await;
    assert_eq!(custom.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stopping_and_reading_logs_through_storage() {
    let api = Api::start().await;
    let head = api
        .fake
        .control()
        .branch("acme", "api-service-00", "develop")
        .unwrap()
        .target
        .clone();
    let made = api
        .post(&format!("{SERVICE}/pipelines"), json!({ "target": { "type": "pipeline_commit_target", "commit": { "type": "commit", "hash": head } } }))
        .await
        .json();
    assert_eq!(made["target"]["type"], "pipeline_commit_target");
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    let url = format!(
        "{SERVICE}/pipelines/{}",
        uuid.replace('{', "%7B").replace('}', "%7D")
    );
    api.get(&url).await;
    api.get(&url).await;
    assert_eq!(
        api.post(&format!("{url}/stopPipeline"), json!({}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let stopped = api.get(&url).await.json();
    assert_eq!(stopped["state"]["result"]["name"], "STOPPED");
    assert_eq!(
        api.fake.control().pipeline(&uuid).unwrap().outcome,
        RunResult::Stopped
    );

    // A seeded, completed run: its log lives in storage.
    let (run, step) = {
        let control = api.fake.control();
        let run = control.pipelines_of("atom-labs", "bitbucket-plugin")[0].clone();
        (run.uuid.clone(), run.steps[0].uuid.clone())
    };
    let enc = |u: &str| u.replace('{', "%7B").replace('}', "%7D");
    let log_url = format!("{PLUGIN}/pipelines/{}/steps/{}/log", enc(&run), enc(&step));
    let redirect = api.get(&log_url).await;
    assert_eq!(redirect.status, StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.header("location").unwrap().to_owned();
    assert!(location.contains("/log-storage/") && location.contains("signature="));
    assert!(!location.contains("/2.0/"));
    let whole = api.call(Method::GET, &location, None, None, &[]).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert!(whole.body.len() > 2_000, "a few KB of log");
    let text = String::from_utf8(whole.body.clone()).unwrap();
    assert!(text.contains("+ cargo build --locked"));
    let part = api
        .call(
            Method::GET,
            &location,
            None,
            None,
            &[("range", "bytes=10-19")],
        )
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, whole.body[10..20]);
    assert_eq!(
        part.header("content-range").unwrap(),
        format!("bytes 10-19/{}", whole.body.len())
    );
    let past = format!("bytes={}-", whole.body.len());
    let beyond = api
        .call(Method::GET, &location, None, None, &[("range", &past)])
        .await;
    assert_eq!(beyond.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let forged = location.replace("signature=", "signature=0");
    assert_eq!(
        api.call(Method::GET, &forged, None, None, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // The API itself still wants the credential.
    assert_eq!(
        api.call(Method::GET, &log_url, None, None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let _ = ADA_TOKEN;
}
