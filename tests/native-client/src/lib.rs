//! The bench's native baseline: what a Rust program that needs the same
//! repositories would write without us (reqwest, serde's typed decoding,
//! Bitbucket's `next` links), in a crate of its own so the dev profile
//! optimises it like the host (`[profile.dev.package.native-client]`).
//! Reading the component's answers typed lives here too, so both sides of
//! the comparison decode at the same optimisation level.

use serde::Deserialize;

/// The fields a caller of a listing reads.
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

#[derive(Deserialize)]
struct BitbucketPage {
    values: Vec<Repository>,
    next: Option<String>,
}

/// The contract's `repository-page`, as the component answers it.
#[derive(Deserialize)]
struct ContractPage {
    items: Vec<Repository>,
    next_cursor: Option<String>,
}

/// Lists every repository of `workspace` page by page (100 a page, with
/// Bitbucket's partial response `fields` when given) on a runtime of its
/// own; the number listed.
pub fn list_repositories(
    api_base: &str,
    workspace: &str,
    token: &str,
    fields: Option<&str>,
) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = reqwest::Client::new();
    runtime.block_on(async {
        let mut listed = 0;
        let mut url = format!("{api_base}/repositories/{workspace}?pagelen=100");
        if let Some(fields) = fields {
            url = format!("{url}&fields={fields}");
        }
        loop {
            let body = client
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .expect("the listing answers")
                .bytes()
                .await
                .expect("a whole page");
            let page: BitbucketPage = serde_json::from_slice(&body).expect("a page");
            listed += page.values.len();
            match page.next {
                Some(next) => url = next,
                None => return listed,
            }
        }
    })
}

/// One of the component's listing answers, read typed: how many items it
/// holds and its cursor for the next call.
pub fn read_contract_page(answer: &str) -> (usize, Option<String>) {
    let page: ContractPage = serde_json::from_str(answer).expect("a repository page");
    (page.items.len(), page.next_cursor)
}
