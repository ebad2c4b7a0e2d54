//! The contract as the ATOM host sees it: discovery describes every
//! operation, and `execute` answers exactly what the typed function does.

use atom_runtime::contract::Complexity;
use atom_test_support::{env, sandbox};
use bitbucket::exports::atom::bitbucket::common::{PageRequest, RepoRef};
use bitbucket::exports::atom::bitbucket::repositories::ListRepositoriesRequest;
use serde_json::{Value, json};

/// Bitbucket's typed functions, bound here: the host knows only the
/// generic contract, and hands this test an untyped instance.
#[allow(unsafe_code)]
mod bitbucket {
    wasmtime::component::bindgen!({
        path: ["../../wit/integration@0.8.0", "../../wit/bitbucket@0.8.0"],
        world: "atom:bitbucket/bitbucket",
        exports: { default: async },
        // The generic records are the host's, so errors compare as one type.
        with: { "atom:integration/types": atom_runtime::contract },
        additional_derives: [serde::Serialize],
    });
}

/// Runs one typed Bitbucket call on a fresh instance of the component.
macro_rules! typed {
    ($env:expr, |$bitbucket:ident, $store:ident| $call:expr) => {
        sandbox()
            .run_instance(&$env.tenant, move |instance, $store| {
                Box::pin(async move {
                    let $bitbucket = bitbucket::Bitbucket::new(&mut *$store, &instance)?;
                    $call.await
                })
            })
            .await
            .unwrap()
    };
}

#[tokio::test]
async fn execute_and_the_typed_functions_agree() {
    let env = env().await;
    let request = ListRepositoriesRequest {
        workspace: "acme".into(),
        role: None,
        page: Some(PageRequest {
            cursor: None,
            size: Some(25),
            pages: None,
            q: Some("name ~ \"billing\"".into()),
            sort: Some("name".into()),
        }),
    };
    let typed = typed!(env, |bitbucket, store| bitbucket
        .atom_bitbucket_repositories()
        .call_list_repositories(store, &request))
    .unwrap();
    let executed = env
        .exec("list-repositories", json!({ "workspace": "acme", "page": { "size": 25, "q": "name ~ \"billing\"", "sort": "name" } }))
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), executed);
    assert_eq!(typed.items.len(), 24);

    let repo = RepoRef {
        workspace: "atom-labs".into(),
        repo_slug: "atom-core".into(),
    };
    let typed = typed!(env, |bitbucket, store| bitbucket
        .atom_bitbucket_repositories()
        .call_get_repository(store, &repo))
    .unwrap();
    let executed = env
        .exec(
            "get-repository",
            json!({ "workspace": "atom-labs", "repo_slug": "atom-core" }),
        )
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), executed);

    // Errors agree too.
    let missing = RepoRef {
        workspace: "atom-labs".into(),
        repo_slug: "nope".into(),
    };
    let typed = typed!(env, |bitbucket, store| bitbucket
        .atom_bitbucket_repositories()
        .call_get_repository(store, &missing))
    .unwrap_err();
    let executed = env
        .exec(
            "get-repository",
            json!({ "workspace": "atom-labs", "repo_slug": "nope" }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        atom_runtime::Failure::Integration(typed).to_json(),
        executed.to_json()
    );
}

#[tokio::test]
async fn discovery_describes_every_operation_with_a_usable_schema() {
    let env = env().await;
    let operations = sandbox().operations(&env.tenant).await.unwrap();
    assert!(operations.len() >= 40, "the whole contract is listed");
    for op in operations.iter() {
        let params: Value = serde_json::from_str(&op.parameters_schema)
            .unwrap_or_else(|e| panic!("{}: {e}", op.name));
        let result: Value = serde_json::from_str(&op.result_schema).unwrap();
        assert_eq!(params["type"], "object", "{}", op.name);
        assert!(
            result.is_object() && !op.description.is_empty(),
            "{}",
            op.name
        );
    }
    let find = |name: &str| {
        operations
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("{name} listed"))
    };

    let list = find("list-repositories");
    assert!(matches!(list.complexity, Complexity::Read));
    let schema: Value = serde_json::from_str(&list.parameters_schema).unwrap();
    assert_eq!(schema["required"], json!(["workspace"]));
    assert!(schema["properties"]["page"].is_object());
    assert!(
        list.parameters_schema.contains("BBQL"),
        "field docs become schema descriptions"
    );

    assert!(matches!(
        find("merge-pull-request").complexity,
        Complexity::Critical
    ));
    assert!(matches!(
        find("create-pull-request").complexity,
        Complexity::Execute
    ));
    assert!(matches!(
        find("analytics-summary").complexity,
        Complexity::Analyze
    ));

    let info = sandbox().capabilities(&env.tenant).await.unwrap();
    assert_eq!(info.name, "bitbucket");
    assert_eq!(info.allowed_hosts, ["api.bitbucket.org", "bitbucket.org"]);
    assert_eq!(info.webhook_events.len(), 29);
}
