//! Listing every repository of a 10,000-repository workspace: through the
//! component, and with a native Rust client sending the same requests.

use atom_runtime::{Sandbox, Tenant};
use fake_bitbucket::ADA_TOKEN;
use serde::Deserialize;

pub const REPOSITORIES: usize = 10_000;

/// Through the sandbox, following the contract's cursors, `pages` pages a
/// call: the number listed.
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
        // Read as the native client reads Bitbucket's pages: typed.
        let page: ContractPage = serde_json::from_str(&answer).unwrap();
        listed += page.items.len();
        match page.next_cursor {
            Some(next) => cursor = serde_json::Value::String(next),
            None => return listed,
        }
    }
}

#[derive(Deserialize)]
#[allow(dead_code)] // read as a client would, not all used
struct Repository {
    uuid: String,
    slug: String,
    full_name: String,
    name: String,
    is_private: bool,
    updated_on: Option<String>,
    description: Option<String>,
}

/// The contract's `repository-page` as JSON.
#[derive(Deserialize)]
struct ContractPage {
    items: Vec<Repository>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    values: Vec<Repository>,
    next: Option<String>,
}

/// A native client: one pooled connection, Bitbucket's `next` links,
/// typed decoding. The number listed.
pub async fn natively(client: &reqwest::Client, api_base: &str, workspace: &str) -> usize {
    let mut listed = 0;
    let mut url = format!("{api_base}/repositories/{workspace}?pagelen=100");
    loop {
        let body = client
            .get(&url)
            .bearer_auth(ADA_TOKEN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Page = serde_json::from_slice(&body).unwrap();
        listed += page.values.len();
        match page.next {
            Some(next) => url = next,
            None => return listed,
        }
    }
}
