//! The spec layer: it notices requests and answers that break Atlassian's
//! spec, lets the reviewed overrides through, and (the point of it all) the
//! fake's every route answers within the spec.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, PLUGIN, SERVICE, values};
use crate::{FakeBitbucket, Fault, GRACE_TOKEN, Violation};

fn enc(uuid: &str) -> String {
    uuid.replace('{', "%7B").replace('}', "%7D")
}

/// The violations so far, forgotten (so the fake drops quietly).
fn taken(api: &Api) -> Vec<Violation> {
    api.fake.take_violations()
}

fn mentions(violations: &[Violation], side: &str, at: &str) -> bool {
    violations
        .iter()
        .any(|v| v.side == side && v.at.contains(at))
}

#[tokio::test]
async fn an_undeclared_query_parameter_is_the_callers_violation() {
    let api = Api::start().await;
    assert_eq!(
        api.get("/2.0/user?colour=blue").await.status,
        StatusCode::OK
    );
    let found = taken(&api);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].side, "request");
    assert_eq!(found[0].at, "query parameter colour");
    assert_eq!(found[0].path, "/2.0/user");
}

#[tokio::test]
async fn a_value_outside_the_enum_is_a_violation() {
    let api = Api::start().await;
    api.get(&format!("{PLUGIN}/pullrequests?state=WEIRD")).await;
    let found = taken(&api);
    assert!(
        mentions(&found, "request", "query parameter state"),
        "{found:?}"
    );
    assert!(found[0].what.contains("WEIRD"));
}

#[tokio::test]
async fn a_body_missing_a_required_field_is_a_violation() {
    let api = Api::start().await;
    // `pipeline_configuration_source` requires `source` and `uri`.
    api.post(
        &format!("{SERVICE}/pipelines"),
        json!({
            "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main" },
            "configuration_sources": [{ "uri": "bitbucket-pipelines.yml" }]
        }),
    )
    .await;
    let found = taken(&api);
    assert!(
        found.iter().any(|v| v.side == "request"
            && v.at == "body/configuration_sources/0"
            && v.what.contains("source")),
        "{found:?}"
    );
}

/// The discriminator override is narrow: a pipeline trigger still needs
/// `target.type` (and its selector's `type`), as live and the route do.
#[tokio::test]
async fn a_trigger_without_target_type_is_a_violation() {
    let api = Api::start().await;
    let refused = api
        .post(
            &format!("{SERVICE}/pipelines"),
            json!({ "target": { "ref_type": "branch", "ref_name": "main" } }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let found = taken(&api);
    assert!(
        found.iter().any(|v| v.side == "request"
            && v.at.starts_with("body/target")
            && v.what.contains("type")),
        "{found:?}"
    );
    api.post(
        &format!("{SERVICE}/pipelines"),
        json!({ "target": {
            "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
            "selector": { "pattern": "deploy-staging" }
        } }),
    )
    .await;
    let found = taken(&api);
    assert!(
        found
            .iter()
            .any(|v| v.side == "request" && v.at.starts_with("body/target/selector")),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_wrong_answer_is_the_fakes_violation() {
    let api = Api::start().await;
    // A workspace whose creation date is not RFC 3339 (`format: date-time`).
    api.fake.control().workspaces[1].created_on = "last Tuesday".into();
    assert_eq!(
        api.get("/2.0/workspaces/atom-labs").await.status,
        StatusCode::OK
    );
    let found = taken(&api);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].side, "response");
    assert_eq!(found[0].at, "body/created_on");
}

#[tokio::test]
async fn dropping_a_fake_with_violations_fails_the_test() {
    let fake = FakeBitbucket::start().await.unwrap();
    let api = Api { fake };
    api.get("/2.0/user?colour=blue").await;
    assert_eq!(api.fake.violations().len(), 1);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(api)));
    let message = dropped.expect_err("the drop panics");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("GET /2.0/user (request) query parameter colour"),
        "{text}"
    );
}

#[tokio::test]
async fn overrides_let_the_live_apis_habits_through() {
    let api = Api::start().await;
    // q/sort on PR lists, include on commits: undeclared, honoured live.
    api.get(&format!(
        "{PLUGIN}/pullrequests?q=state%3D%22OPEN%22&sort=-id&pagelen=5&fields=values.id"
    ))
    .await;
    api.get(&format!("{PLUGIN}/commits?include=main&exclude=develop"))
        .await;
    // The trailing-slash alias of the pipelines list.
    api.get(&format!("{PLUGIN}/pipelines/")).await;
    // OAuth lives outside the REST API's spec.
    api.call(Method::POST, "/site/oauth2/access_token", None, None, &[])
        .await;
    // 401 on an operation that does not declare it, in Bitbucket's error shape.
    assert_eq!(
        api.call(Method::GET, &format!("{PLUGIN}/commits"), None, None, &[])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // An injected answer is the test's script, not the fake's.
    api.fake.control().inject(Fault::rate_limited(Some(1)));
    api.get("/2.0/user").await;
    assert_eq!(taken(&api), vec![]);
    // But `page` is only common to paginated answers.
    api.get("/2.0/user?pagelen=5").await;
    assert!(mentions(&taken(&api), "request", "query parameter pagelen"));
}

#[tokio::test]
async fn webhooks_refuse_internal_addresses_like_bitbucket() {
    let fake = FakeBitbucket::start().await.unwrap();
    let api = Api { fake };
    let url = format!("{PLUGIN}/hooks");
    for internal in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest",
    ] {
        let refused = api
            .post(&url, json!({ "url": internal, "events": ["repo:push"] }))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{internal}");
        let body = refused.json();
        assert_eq!(body["type"], "error");
        assert!(body["error"]["fields"]["url"].is_array(), "{body}");
    }
    let public = api
        .post(
            &url,
            json!({ "url": "https://hooks.example.com/bb", "events": ["repo:push"] }),
        )
        .await;
    assert_eq!(public.status, StatusCode::CREATED);

    // With the knob on, loopback receivers are accepted; private ones are not.
    api.fake.control().allow_loopback_webhooks = true;
    let loopback = api
        .post(
            &url,
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["repo:push"] }),
        )
        .await;
    assert_eq!(loopback.status, StatusCode::CREATED);
    let private = api
        .post(
            &url,
            json!({ "url": "http://192.168.0.2/hook", "events": ["repo:push"] }),
        )
        .await;
    assert_eq!(private.status, StatusCode::BAD_REQUEST);
}

/// Every route of the fake, once, with requests the spec allows: none of
/// the answers may break it.
#[tokio::test]
async fn every_route_answers_within_the_spec() {
    let api = Api::start().await;
    let get = |path: String| {
        let api = &api;
        async move {
            let answer = api.get(&path).await;
            assert!(
                answer.status.as_u16() < 500,
                "GET {path}: {}",
                answer.status
            );
            answer.json()
        }
    };

    // Account, workspaces, repositories (and the CHANGE-2770 removals).
    get("/2.0/user".into()).await;
    get("/2.0/user/workspaces?sort=slug&administrator=true&pagelen=2".into()).await;
    for removed in [
        "/2.0/user/permissions/workspaces",
        "/2.0/user/permissions/repositories",
        "/2.0/workspaces",
        "/2.0/repositories",
    ] {
        assert_eq!(api.get(removed).await.status, StatusCode::GONE);
    }
    get("/2.0/workspaces/acme".into()).await;
    get("/2.0/workspaces/nope".into()).await;
    get("/2.0/workspaces/acme/projects?pagelen=2&page=2".into()).await;
    get("/2.0/workspaces/umbrella/projects".into()).await;
    get("/2.0/workspaces/acme/projects/PLAT".into()).await;
    get("/2.0/workspaces/acme/projects/NOPE".into()).await;
    let repos = get(
        "/2.0/repositories/acme?role=member&q=name%20~%20%22api%22&sort=-updated_on&pagelen=100"
            .into(),
    )
    .await;
    assert!(!values(&repos).is_empty());
    get(PLUGIN.into()).await;
    get("/2.0/repositories/acme/nope".into()).await;

    // Branches, tags and commits.
    get(format!(
        "{PLUGIN}/refs/branches?q=name%20~%20%22a%22&sort=-name"
    ))
    .await;
    get(format!("{PLUGIN}/refs/branches/main")).await;
    let head = api
        .fake
        .control()
        .branch("acme", "api-service-00", "develop")
        .unwrap()
        .target
        .clone();
    let branch = api
        .post(
            &format!("{SERVICE}/refs/branches"),
            json!({ "name": "feature/tour", "target": { "hash": head } }),
        )
        .await;
    assert_eq!(branch.status, StatusCode::CREATED);
    assert_eq!(
        api.delete(&format!("{SERVICE}/refs/branches/feature/tour"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    get(format!(
        "{PLUGIN}/refs/tags?q=name%20~%20%22v0%22&sort=-name"
    ))
    .await;
    get(format!("{PLUGIN}/refs/tags?sort=-target.date&pagelen=1")).await;
    get(format!("{PLUGIN}/refs/tags/v0.1.0")).await;
    get(format!("{PLUGIN}/refs/tags/v0.2.0")).await;
    get(format!("{PLUGIN}/refs/tags/nope")).await;
    let tag = api
        .post(
            &format!("{SERVICE}/refs/tags"),
            json!({ "name": "tour/1", "target": { "hash": head }, "message": "Tour" }),
        )
        .await;
    assert_eq!(tag.status, StatusCode::CREATED);
    assert_eq!(
        api.delete(&format!("{SERVICE}/refs/tags/tour/1"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    get(format!("{PLUGIN}/commits?pagelen=3")).await;
    let commits = get(format!("{PLUGIN}/commits/main?path=src")).await;
    let hash = values(&commits)[0]["hash"].as_str().unwrap().to_owned();
    get(format!("{PLUGIN}/commit/{hash}")).await;

    // Pull requests.
    get(format!("{PLUGIN}/pullrequests?state=OPEN&state=MERGED")).await;
    let grace = api.fake.control().user_named("grace").unwrap().uuid.clone();
    let made = api
        .post(
            &format!("{SERVICE}/pullrequests"),
            json!({
                "title": "Tour", "source": { "branch": { "name": "develop" } },
                "destination": { "branch": { "name": "main" } },
                "reviewers": [{ "uuid": grace }], "close_source_branch": false
            }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json());
    let id = made.json()["id"].as_u64().unwrap();
    let pr = format!("{SERVICE}/pullrequests/{id}");
    get(pr.clone()).await;
    api.put(
        &pr,
        json!({ "title": "Tour, renamed", "description": "Seen" }),
    )
    .await;
    api.post_as_grace(&format!("{pr}/approve"), json!({})).await;
    api.call(
        Method::DELETE,
        &format!("{pr}/approve"),
        Some(GRACE_TOKEN),
        None,
        &[],
    )
    .await;
    api.post_as_grace(&format!("{pr}/request-changes"), json!({}))
        .await;
    api.call(
        Method::DELETE,
        &format!("{pr}/request-changes"),
        Some(GRACE_TOKEN),
        None,
        &[],
    )
    .await;
    let comment = api
        .post(
            &format!("{pr}/comments"),
            json!({ "content": { "raw": "Looks **good**" } }),
        )
        .await;
    assert_eq!(comment.status, StatusCode::CREATED);
    let comment_id = comment.json()["id"].as_u64().unwrap();
    api.post(
        &format!("{pr}/comments"),
        json!({ "content": { "raw": "Inline" }, "parent": { "id": comment_id }, "inline": { "path": "README.md", "to": 1 } }),
    )
    .await;
    get(format!("{pr}/comments?sort=created_on")).await;
    get(format!("{pr}/comments/{comment_id}")).await;
    api.fake.control().force_async_merges = true;
    let accepted = api
        .post(
            &format!("{pr}/merge?async=true"),
            json!({ "merge_strategy": "squash", "message": "Tour" }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let location = accepted.header("location").unwrap().to_owned();
    for _ in 0..4 {
        get(location.clone()).await;
    }
    api.fake.control().force_async_merges = false;
    let merged = api
        .post(
            &format!("{PLUGIN}/pullrequests/5/merge"),
            json!({ "type": "pullrequest_merge_parameters", "merge_strategy": "merge_commit" }),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.json());
    let declined = api
        .post(&format!("{PLUGIN}/pullrequests/6/decline"), json!({}))
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.json());

    // Pipelines, steps and logs.
    get(format!(
        "{PLUGIN}/pipelines?sort=created_on&status=PASSED&target.branch=main&pagelen=5"
    ))
    .await;
    get(format!("{PLUGIN}/pipelines/?trigger_type=MANUAL")).await;
    let run = api
        .post(
            &format!("{SERVICE}/pipelines"),
            json!({
                "target": { "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                            "selector": { "type": "custom", "pattern": "nightly" } },
                "variables": [{ "key": "A", "value": "1" }, { "key": "B", "value": "2", "secured": true }]
            }),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.json());
    let run_url = format!(
        "{SERVICE}/pipelines/{}",
        enc(run.json()["uuid"].as_str().unwrap())
    );
    for _ in 0..3 {
        get(run_url.clone()).await;
    }
    let steps = get(format!("{run_url}/steps")).await;
    get(format!("{run_url}/steps/")).await;
    let step = enc(values(&steps)[0]["uuid"].as_str().unwrap());
    get(format!("{run_url}/steps/{step}")).await;
    get(run_url.clone()).await;
    let log = api.get(&format!("{run_url}/steps/{step}/log")).await;
    if let Some(location) = log.header("location") {
        api.call(Method::GET, location, None, None, &[]).await;
    }
    let another = api
        .post(&format!("{SERVICE}/pipelines"), json!({ "target": { "type": "pipeline_commit_target", "commit": { "type": "commit", "hash": head } } }))
        .await;
    let another_url = format!(
        "{SERVICE}/pipelines/{}",
        enc(another.json()["uuid"].as_str().unwrap())
    );
    get(another_url.clone()).await;
    api.post(&format!("{another_url}/stopPipeline"), json!({}))
        .await;
    get(another_url).await;

    // Issues.
    get(format!(
        "{PLUGIN}/issues?q=state%3D%22new%22&sort=-priority"
    ))
    .await;
    let issue = api
        .post(
            &format!("{PLUGIN}/issues"),
            json!({ "title": "Tour", "content": { "raw": "Body" }, "kind": "task", "priority": "minor" }),
        )
        .await;
    assert_eq!(issue.status, StatusCode::CREATED);
    let issue_url = format!("{PLUGIN}/issues/{}", issue.json()["id"]);
    get(issue_url.clone()).await;
    api.put(
        &issue_url,
        json!({ "assignee": { "account_id": "557058:ada" }, "priority": "major" }),
    )
    .await;
    api.put(&issue_url, json!({ "assignee": null })).await;
    api.post(
        &format!("{issue_url}/changes"),
        json!({ "changes": { "state": { "new": "resolved" } }, "message": { "raw": "Done" } }),
    )
    .await;
    get(format!("{issue_url}/changes")).await;

    // Webhooks, repository and workspace.
    for hooks in [
        format!("{PLUGIN}/hooks"),
        "/2.0/workspaces/atom-labs/hooks".to_owned(),
    ] {
        let made = api
            .post(&hooks, json!({ "description": "Tour", "url": "http://127.0.0.1:9/hook", "active": true, "secret": "s", "events": ["repo:push", "pullrequest:created"] }))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.json());
        let hook = format!("{hooks}/{}", enc(made.json()["uuid"].as_str().unwrap()));
        get(hooks.clone()).await;
        get(hook.clone()).await;
        api.put(&hook, json!({ "active": false, "secret": null }))
            .await;
        assert_eq!(api.delete(&hook).await.status, StatusCode::NO_CONTENT);
    }

    // Code search.
    get(
        "/2.0/workspaces/atom-labs/search/code?search_query=verify_signature&page=1&pagelen=2"
            .into(),
    )
    .await;

    let found = taken(&api);
    let listed: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(found.is_empty(), "{}", listed.join("\n"));
}
