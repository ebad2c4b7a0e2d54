//! The sandbox holds: outbound HTTP only to allowlisted hosts, a memory cap
//! and a deadline per call, and a call that hits a limit leaves the next one
//! unharmed.

use std::time::Duration;

use atom_runtime::contract::Error;
use atom_runtime::{Failure, Limit, Limits};
use atom_test_support::{env, exec_in, sandbox, tenant_for};
use fake_bitbucket::Fault;
use serde_json::json;

#[tokio::test]
async fn a_host_outside_the_allowlist_is_denied_before_any_connection() {
    let env = env().await;
    // Same fake, but named `localhost`, which the allowlist does not list.
    let port = env.fake.addr().port();
    let tenant = env
        .tenant
        .clone()
        .with_config("api-base-url", format!("http://localhost:{port}/2.0"));
    let failure = exec_in(sandbox(), &tenant, "get-current-user", json!({}))
        .await
        .unwrap_err();
    let Failure::Integration(Error::PermissionDenied(denied)) = &failure else {
        panic!("expected permission-denied, got {failure}");
    };
    assert!(
        denied.message.contains("allowlist") && denied.message.contains("localhost"),
        "{}",
        denied.message
    );
    assert!(!denied.retryable);
    assert!(
        env.fake.control().requests.is_empty(),
        "nothing reached the fake"
    );
}

#[tokio::test]
async fn a_call_over_its_memory_cap_fails_cleanly_and_the_next_call_works() {
    let env = env().await;
    let small = sandbox().with_limits(Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    });
    // A 6 MiB answer fits the component's response cap but not 8 MiB of memory.
    env.fake.control().pad_user_display_name = Some(6 << 20);
    let failure = exec_in(&small, &env.tenant, "get-current-user", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            failure,
            Failure::LimitExceeded {
                limit: Limit::Memory,
                ..
            }
        ),
        "expected the memory limit, got {failure}"
    );
    assert_eq!(failure.to_json()["limit"], "memory");
    assert!(
        !failure.retryable(),
        "the same call meets the same cap again"
    );

    let page = exec_in(
        &small,
        &env.tenant,
        "list-repositories",
        json!({ "workspace": "ada" }),
    )
    .await
    .expect("the next call in the same sandbox works");
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_call_over_its_deadline_fails_cleanly_and_the_next_call_works() {
    let env = env().await;
    let hurried = sandbox().with_limits(Limits {
        call_timeout: Duration::from_millis(700),
        ..Limits::default()
    });
    env.fake
        .control()
        .inject(Fault::Delay(Duration::from_secs(5)));
    let failure = exec_in(&hurried, &env.tenant, "get-current-user", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            failure,
            Failure::LimitExceeded {
                limit: Limit::Deadline,
                ..
            }
        ),
        "expected the deadline, got {failure}"
    );
    assert_eq!(failure.code(), "timeout");
    assert!(failure.retryable());

    let me = exec_in(&hurried, &env.tenant, "get-current-user", json!({}))
        .await
        .expect("the next call works");
    assert_eq!(me["display_name"], "Ada Lovelace");
}

#[tokio::test]
async fn an_answer_over_the_response_cap_is_a_typed_error_not_a_trap() {
    let env = env().await;
    env.fake.control().pad_user_display_name = Some(3 << 20);
    let tenant = env
        .tenant
        .clone()
        .with_config("max-response-bytes", (1 << 20).to_string());
    let failure = exec_in(sandbox(), &tenant, "get-current-user", json!({}))
        .await
        .unwrap_err();
    let Failure::Integration(Error::UpstreamUnavailable(info)) = &failure else {
        panic!("expected upstream-unavailable, got {failure}");
    };
    assert!(info.message.contains("response cap"), "{}", info.message);
    assert!(!info.retryable, "the same answer is too large again");
}

#[tokio::test]
async fn tenants_do_not_share_state() {
    let env = env().await;
    // A second tenant on the same sandbox with no credential at all.
    let stranger = tenant_for(&env.fake, "tenant-b");
    let failure = exec_in(sandbox(), &stranger, "get-current-user", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(failure, Failure::Integration(Error::AuthInvalid(_))),
        "got {failure}"
    );
    let health = exec_in(sandbox(), &stranger, "health", json!({}))
        .await
        .unwrap();
    assert_eq!(health["status"], "unauthenticated");

    let health = env.exec("health", json!({})).await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["credential_kind"], "access_token");
    assert_eq!(health["account"]["display_name"], "Ada Lovelace");
}
