//! `hello`, a minimal integration that knows nothing of Bitbucket, in the
//! same sandbox the Bitbucket component runs in, with no host change.

use std::sync::Arc;

use atom_runtime::contract::{Complexity, Error, HealthStatus};
use atom_runtime::{Allowlist, Failure, Limits, MemoryCredentialStore, Sandbox, Tenant};

fn hello() -> Sandbox {
    Sandbox::load(
        atom_test_components::hello(),
        Allowlist::new(Vec::<String>::new()),
        Limits::default(),
    )
    .expect("the hello integration loads")
}

fn tenant() -> Tenant {
    Tenant::new("tenant-a", Arc::new(MemoryCredentialStore::default()))
}

#[tokio::test]
async fn a_second_integration_is_discovered_and_run_through_the_generic_contract() {
    let sandbox = hello();
    let tenant = tenant().with_config("greeting", "Howdy");

    let info = sandbox.capabilities(&tenant).await.unwrap();
    assert_eq!(info.name, "hello");
    assert_eq!(info.version, atom_runtime::CONTRACT_VERSION);

    let operations = sandbox.operations(&tenant).await.unwrap();
    let names: Vec<_> = operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["greet"]);
    assert!(matches!(operations[0].complexity, Complexity::Read));

    // The greeting word comes through the host interface's configuration.
    let answer = sandbox
        .execute(&tenant, "greet", r#"{"name":"Ada"}"#)
        .await
        .unwrap();
    assert_eq!(answer, r#"{"greeting":"Howdy, Ada!"}"#);

    let report = sandbox.health(&tenant).await.unwrap();
    assert!(matches!(report.status, HealthStatus::Ok));
}

#[tokio::test]
async fn the_second_integrations_typed_errors_reach_the_host_as_they_were_sent() {
    let sandbox = hello();
    let failure = sandbox
        .execute(&tenant(), "greet", r#"{"name":""}"#)
        .await
        .unwrap_err();
    match failure {
        Failure::Integration(Error::Validation(error)) => assert_eq!(error.field, "name"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let failure = sandbox
        .execute(&tenant(), "list-repositories", "{}")
        .await
        .unwrap_err();
    assert_eq!(
        failure.code(),
        "validation",
        "hello has no Bitbucket operations"
    );
}

#[test]
fn a_component_that_is_not_an_integration_is_refused_by_name() {
    // The smallest valid component: the preamble alone, exporting nothing.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wasm");
    std::fs::write(&empty, b"\0asm\x0d\x00\x01\x00").unwrap();
    let error = Sandbox::load(
        &empty,
        Allowlist::new(Vec::<String>::new()),
        Limits::default(),
    )
    .err()
    .expect("an empty component is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("not an ATOM integration")
            && message.contains(&format!(
                "atom:integration/integration@{}",
                atom_runtime::CONTRACT_VERSION
            )),
        "{message}"
    );
}
