//! Pipelines through the sandbox: filters, numbered pages when Bitbucket
//! forgets `next`, triggers with variables, status as it moves, steps, logs
//! behind Bitbucket's redirect, and stop.

use atom_test_support::repo;

use std::collections::HashSet;

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_test_support::{Env, env};
use fake_bitbucket::Fault;
use serde_json::{Value, json};

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

async fn poll_until_done(env: &Env, uuid: &str) -> Value {
    for _ in 0..10 {
        let run = env
            .exec("get-pipeline", repo(json!({ "pipeline_uuid": uuid })))
            .await
            .unwrap();
        if !matches!(
            run["status"].as_str(),
            Some("pending" | "running" | "paused")
        ) {
            return run;
        }
    }
    panic!("the run never finished");
}

#[tokio::test]
async fn runs_are_listed_newest_first_with_their_status_and_filters() {
    let env = env().await;
    let page = env
        .exec("list-pipelines", repo(json!({ "page": { "size": 10 } })))
        .await
        .unwrap();
    let builds: Vec<u64> = items(&page)
        .iter()
        .map(|p| p["build_number"].as_u64().unwrap())
        .collect();
    assert_eq!(builds, (21..=30).rev().collect::<Vec<_>>());
    let request = env.fake.control().requests.last().cloned().unwrap();
    assert_eq!(request.param("sort"), Some("-created_on"));

    let failed = env
        .exec(
            "list-pipelines",
            repo(json!({ "status": "failed", "page": { "size": 50 } })),
        )
        .await
        .unwrap();
    let failed_builds: HashSet<u64> = items(&failed)
        .iter()
        .map(|p| p["build_number"].as_u64().unwrap())
        .collect();
    assert_eq!(failed_builds, HashSet::from([3, 10, 16, 23, 27, 29]));
    assert!(
        items(&failed)
            .iter()
            .all(|p| p["status"] == "failed" && p["result_name"] == "FAILED")
    );
    assert_eq!(
        env.fake.control().requests.last().unwrap().param("status"),
        Some("FAILED")
    );

    // The filter takes the spec's names (SCHEDULED), the run says SCHEDULE.
    let nightly = env
        .exec(
            "list-pipelines",
            repo(json!({ "trigger_type": "scheduled", "target_branch": "main" })),
        )
        .await
        .unwrap();
    assert!(
        !items(&nightly).is_empty(),
        "the seed has nightly runs on main"
    );
    for run in items(&nightly) {
        assert_eq!(run["trigger"], "SCHEDULE");
        assert_eq!(run["target"]["ref_name"], "main");
    }
    assert_eq!(
        env.fake
            .control()
            .requests
            .last()
            .unwrap()
            .param("trigger_type"),
        Some("SCHEDULED")
    );
    let before = env.fake.control().requests.len();
    let unknown = env
        .exec(
            "list-pipelines",
            repo(json!({ "trigger_type": "schedule" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, Failure::Integration(Error::Validation(v)) if v.field == "trigger_type" && v.message.contains("SCHEDULED")),
        "{unknown:?}"
    );
    assert_eq!(
        env.fake.control().requests.len(),
        before,
        "refused before any request"
    );

    let bbql = env
        .exec(
            "list-pipelines",
            repo(json!({ "page": { "q": "state = 1" } })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&bbql, Failure::Integration(Error::Validation(v)) if v.field == "page.q"),
        "{bbql}"
    );
    let sort = env
        .exec(
            "list-pipelines",
            repo(json!({ "page": { "sort": "-build_number" } })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&sort, Failure::Integration(Error::Validation(v)) if v.field == "page.sort"),
        "{sort}"
    );
}

#[tokio::test]
async fn pages_are_numbered_when_bitbucket_omits_next() {
    let env = env().await;
    env.fake.control().omit_pipeline_next = true;
    let (mut seen, mut cursor, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = env
            .exec(
                "list-pipelines",
                repo(json!({ "page": { "size": 7, "cursor": cursor } })),
            )
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            items(&page)
                .iter()
                .map(|p| p["build_number"].as_u64().unwrap()),
        );
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 5);
    let distinct: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!((seen.len(), distinct.len()), (30, 30), "every run once");
}

#[tokio::test]
async fn a_triggered_run_moves_to_completion_with_steps_and_a_log() {
    let env = env().await;
    let run = env
        .exec(
            "trigger-pipeline",
            repo(json!({ "branch": "main", "variables": [
                { "key": "DEPLOY_ENV", "value": "staging" },
                { "key": "API_KEY", "value": "s3cr3t-value", "secured": true }
            ] })),
        )
        .await
        .unwrap();
    assert_eq!(run["build_number"], 31);
    assert_eq!(run["trigger"], "MANUAL");
    assert_eq!(run["target"]["ref_name"], "main");
    assert_eq!(run["creator"]["display_name"], "Ada Lovelace");
    let uuid = run["uuid"].as_str().unwrap().to_owned();

    let mut statuses = vec![run["status"].as_str().unwrap().to_owned()];
    let done = loop {
        let now = env
            .exec("get-pipeline", repo(json!({ "pipeline_uuid": &uuid })))
            .await
            .unwrap();
        statuses.push(now["status"].as_str().unwrap().to_owned());
        if now["status"] == "successful" {
            break now;
        }
        assert!(statuses.len() < 10, "{statuses:?}");
    };
    assert!(statuses.contains(&"running".to_owned()), "{statuses:?}");
    assert!(done["duration_seconds"].as_u64().unwrap() > 0);
    assert!(done["completed_on"].is_string());
    assert!(!done.to_string().contains("s3cr3t-value"));

    let steps = env
        .exec(
            "list-pipeline-steps",
            repo(json!({ "pipeline_uuid": &uuid })),
        )
        .await
        .unwrap();
    let names: Vec<&str> = items(&steps)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Build", "Test"]);
    assert!(items(&steps).iter().all(|s| s["status"] == "successful"));
    let step = items(&steps)[0]["uuid"].as_str().unwrap().to_owned();

    let whole = env
        .exec(
            "get-step-log",
            repo(json!({ "pipeline_uuid": &uuid, "step_uuid": &step })),
        )
        .await
        .unwrap();
    let text = whole["content"].as_str().unwrap();
    let total = whole["total_size"].as_u64().unwrap();
    assert_eq!(text.len() as u64, total);
    assert!(text.lines().count() > 5);

    let part = env
        .exec("get-step-log", repo(json!({ "pipeline_uuid": &uuid, "step_uuid": &step, "range_start": 10, "range_end": 59 })))
        .await
        .unwrap();
    assert_eq!(part["offset"], 10);
    assert_eq!(part["total_size"], total);
    assert_eq!(part["content"].as_str().unwrap(), &text[10..60]);

    // Log storage is reached through Bitbucket's redirect, without the token.
    let storage: Vec<_> = env
        .fake
        .control()
        .requests
        .iter()
        .filter(|r| r.path.starts_with("/log-storage/"))
        .cloned()
        .collect();
    assert_eq!(storage.len(), 2);
    assert!(storage.iter().all(|r| r.auth_scheme.is_none()));

    let beyond = env
        .exec(
            "get-step-log",
            repo(json!({ "pipeline_uuid": &uuid, "step_uuid": &step, "range_start": total + 100 })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&beyond, Failure::Integration(Error::Validation(_))),
        "{beyond}"
    );
}

#[tokio::test]
async fn custom_and_commit_triggers_failures_and_stop() {
    let env = env().await;
    env.fake.control().pipeline_running_polls = 5;
    let custom = env
        .exec(
            "trigger-pipeline",
            repo(json!({ "branch": "main", "custom_pipeline": "deploy-staging" })),
        )
        .await
        .unwrap();
    assert_eq!(custom["target"]["selector_type"], "custom");
    assert_eq!(custom["target"]["selector_pattern"], "deploy-staging");

    let head = env
        .exec("get-branch", repo(json!({ "name": "develop" })))
        .await
        .unwrap();
    let on_commit = env
        .exec(
            "trigger-pipeline",
            repo(json!({ "commit": head["target_hash"], "custom_pipeline": "nightly" })),
        )
        .await
        .unwrap();
    assert!(
        head["target_hash"]
            .as_str()
            .unwrap()
            .starts_with(on_commit["target"]["commit_hash"].as_str().unwrap())
    );

    let unknown = env
        .exec(
            "trigger-pipeline",
            repo(json!({ "branch": "main", "custom_pipeline": "deploy" })),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, Failure::Integration(Error::Validation(_))),
        "{unknown}"
    );
    let nothing = env
        .exec("trigger-pipeline", repo(json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&nothing, Failure::Integration(Error::Validation(v)) if v.field == "branch"),
        "{nothing}"
    );

    // A trigger answered 503 may have started a run: it is looked for (none
    // of ada's runs since the call is a plain run on main), reported as an
    // unknown outcome, never retryable and never sent twice.
    let before = env
        .fake
        .control()
        .pipelines_of("atom-labs", "bitbucket-plugin")
        .len();
    env.fake.control().inject(Fault::unavailable());
    let failed = env
        .exec("trigger-pipeline", repo(json!({ "branch": "main" })))
        .await
        .unwrap_err();
    assert!(
        matches!(failed, Failure::Integration(Error::OutcomeUnknown(_))),
        "{failed}"
    );
    assert!(!failed.retryable(), "{failed}");
    assert_eq!(
        env.fake
            .control()
            .pipelines_of("atom-labs", "bitbucket-plugin")
            .len(),
        before
    );

    let uuid = custom["uuid"].as_str().unwrap();
    env.exec("get-pipeline", repo(json!({ "pipeline_uuid": uuid })))
        .await
        .unwrap();
    let stopped = env
        .exec("stop-pipeline", repo(json!({ "pipeline_uuid": uuid })))
        .await
        .unwrap();
    assert_eq!(stopped["status"], "stopped");
    let again = env
        .exec("stop-pipeline", repo(json!({ "pipeline_uuid": uuid })))
        .await
        .unwrap_err();
    assert!(
        matches!(again, Failure::Integration(Error::Validation(_))),
        "{again}"
    );
    let finished = poll_until_done(&env, uuid).await;
    assert_eq!(finished["status"], "stopped");
}
