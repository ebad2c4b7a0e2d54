//! Failures arrive as the contract's typed errors, with Bitbucket's own words
//! and never a secret.

use atom_runtime::Failure;
use atom_runtime::contract::Error;
use atom_runtime::host_types::CredentialSecret;
use atom_test_support::{env, env_with, raw_get};
use fake_bitbucket::{ADA_TOKEN, Fault};
use serde_json::json;

#[tokio::test]
async fn an_unknown_repository_is_not_found() {
    let env = env().await;
    let failure = env
        .exec(
            "get-repository",
            json!({ "workspace": "acme", "repo_slug": "no-such-repo" }),
        )
        .await
        .unwrap_err();
    let Failure::Integration(Error::NotFound(info)) = &failure else {
        panic!("expected not-found, got {failure}");
    };
    assert_eq!(info.status, Some(404));
    assert!(
        info.message.contains("no longer exists"),
        "Bitbucket's message: {}",
        info.message
    );
    assert!(!info.retryable);
}

#[tokio::test]
async fn a_wrong_token_is_auth_invalid_and_never_echoed() {
    let token = "definitely-not-a-valid-token-5f2a";
    let env = env_with(CredentialSecret::AccessToken(token.to_owned())).await;
    let failure = env.exec("list-workspaces", json!({})).await.unwrap_err();
    assert!(
        matches!(failure, Failure::Integration(Error::AuthInvalid(_))),
        "got {failure}"
    );
    assert_eq!(failure.code(), "auth_invalid");
    let rendered = failure.to_json().to_string();
    assert!(!rendered.contains(token) && !rendered.contains(ADA_TOKEN));
    // A 401 is not retried: one request reached Bitbucket.
    assert_eq!(
        env.fake.control().requests_to("/2.0/user/workspaces").len(),
        1
    );
}

#[tokio::test]
async fn a_removed_endpoint_is_retired_upstream_with_its_announcement() {
    let env = env().await;
    env.fake.control().inject(Fault::Status {
        status: 410,
        content_type: "application/json",
        body: json!({"type":"error","error":{"message":"CHANGE-2770 - Functionality has been deprecated","detail":"Please read the changelog entry for more details.","data":{"announcement_url":"https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770"}}}).to_string(),
        retry_after: None,
    });
    let failure = env.exec("list-workspaces", json!({})).await.unwrap_err();
    let Failure::Integration(Error::RetiredUpstream(retired)) = &failure else {
        panic!("expected retired-upstream, got {failure}");
    };
    assert_eq!(
        retired.announcement_url.as_deref(),
        Some("https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770")
    );
    assert!(retired.message.contains("CHANGE-2770"));
    assert!(!retired.retryable);
}

#[tokio::test]
async fn the_fake_answers_410_on_the_endpoints_removed_in_2026() {
    // The fidelity the test above relies on, checked where the fake serves it.
    let env = env().await;
    for path in [
        "/2.0/workspaces",
        "/2.0/repositories",
        "/2.0/user/permissions/repositories",
    ] {
        let url = format!("{}{path}", env.fake.base_url());
        let (status, _, body) = raw_get(&url, Some(ADA_TOKEN)).await;
        assert_eq!(status, 410, "{path}");
        assert!(body.contains("announcement_url"), "{path}: {body}");
    }
}

#[tokio::test]
async fn rate_limits_are_retried_then_reported_with_bitbuckets_text() {
    let env = env().await;
    env.fake.control().inject(Fault::rate_limited(None));
    let page = env
        .exec("list-repositories", json!({ "workspace": "ada" }))
        .await
        .expect("one 429 is absorbed");
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        env.fake
            .control()
            .requests_to("/2.0/repositories/ada")
            .len(),
        2
    );

    for _ in 0..3 {
        env.fake.control().inject(Fault::rate_limited(Some(0)));
    }
    let failure = env
        .exec("list-repositories", json!({ "workspace": "ada" }))
        .await
        .unwrap_err();
    let Failure::Integration(Error::RateLimited(limited)) = &failure else {
        panic!("expected rate-limited, got {failure}");
    };
    assert_eq!(
        limited.message,
        "Rate limit for this resource has been exceeded"
    );
    assert_eq!(limited.retry_after_seconds, Some(0));
    assert!(limited.retryable);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads() {
    let env = env().await;
    env.fake.control().inject(Fault::unavailable());
    env.fake.control().inject(Fault::unavailable());
    let me = env
        .exec("get-current-user", json!({}))
        .await
        .expect("two 503s then success");
    assert_eq!(me["display_name"], "Ada Lovelace");
    assert_eq!(env.fake.control().requests_to("/2.0/user").len(), 3);
}

#[tokio::test]
async fn bad_params_name_the_field_and_never_reach_bitbucket() {
    let env = env().await;
    for (params, field) in [
        (json!({}), "workspace"),
        (
            json!({ "workspace": "acme", "page": { "size": 500 } }),
            "page.size",
        ),
        (
            json!({ "workspace": "acme", "page": { "size": "ten" } }),
            "page.size",
        ),
        (json!({ "workspace": "acme", "role": "janitor" }), "role"),
        (json!({ "workspace": "acme", "sortt": "name" }), "sortt"),
        (json!({ "workspace": "  " }), "workspace"),
        (
            json!({ "workspace": "acme", "page": { "cursor": "bm90LWEtY3Vyc29yIyM" } }),
            "page.cursor",
        ),
    ] {
        let failure = env
            .exec("list-repositories", params.clone())
            .await
            .unwrap_err();
        let Failure::Integration(Error::Validation(v)) = &failure else {
            panic!("{params}: expected validation, got {failure}");
        };
        assert_eq!(v.field, field, "{params}: {}", v.message);
    }
    assert!(env.fake.control().requests.is_empty());

    let failure = env.exec("list-everything", json!({})).await.unwrap_err();
    assert!(
        matches!(&failure, Failure::Integration(Error::Validation(v)) if v.field == "operation")
    );
}
