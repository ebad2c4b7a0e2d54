//! Listing every repository of a 10,000-repository workspace: through the
//! component, and with a native Rust client sending the same requests (the
//! `native-client` crate, run in a process of its own by `main`).

use atom_runtime::{Sandbox, Tenant};

pub const REPOSITORIES: usize = 10_000;

/// Through the sandbox, following the contract's cursors, `pages` pages a
/// call: the number listed. Each answer is read typed, as the native client
/// reads Bitbucket's pages.
pub async fn through_component(
    sandbox: &Sandbox,
    tenant: &Tenant,
    workspace: &str,
    pages: u32,
) -> usize {
    let mut listed = 0;
    let mut cursor = serde_json::Value::Null;
    loop {
        let params = serde_json::json!({
            "workspace": workspace,
            "page": { "size": 100, "pages": pages, "cursor": cursor },
        });
        let answer = sandbox
            .execute(tenant, "list-repositories", &params.to_string())
            .await
            .unwrap_or_else(|f| panic!("listing failed: {f}"));
        let (items, next) = native_client::read_contract_page(&answer);
        listed += items;
        match next {
            Some(next) => cursor = serde_json::Value::String(next),
            None => return listed,
        }
    }
}
