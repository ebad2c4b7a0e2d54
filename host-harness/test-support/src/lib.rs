//! What the host's and the end-to-end tests share: the Bitbucket component
//! loaded once in the sandbox, a fresh fake Bitbucket with a tenant pointed
//! at it, and small HTTP helpers.

use std::sync::{Arc, OnceLock};

use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{Allowlist, Failure, Limits, MemoryCredentialStore, Sandbox, Tenant};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};
use serde_json::Value;

/// The component, compiled once per test process. Loopback on any port is
/// allowed so each test's fake can listen where the OS puts it.
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::load(
            atom_bitbucket_artifact::component_path(),
            Allowlist::new(["127.0.0.1"]),
            Limits::default(),
        )
        .expect("the component loads")
    })
}

pub struct Env {
    pub fake: FakeBitbucket,
    pub tenant: Tenant,
}

/// A fake with the seed data and a tenant signed in as Ada with a Bearer token.
pub async fn env() -> Env {
    env_with(CredentialSecret::AccessToken(ADA_TOKEN.to_owned())).await
}

pub async fn env_with(secret: CredentialSecret) -> Env {
    let fake = FakeBitbucket::start().await.expect("the fake starts");
    // The webhook tests' receivers listen on 127.0.0.1.
    fake.control().allow_loopback_webhooks = true;
    let tenant = tenant_for(&fake, "tenant-a");
    tenant.set_credential(secret).expect("memory store accepts");
    Env { fake, tenant }
}

pub fn tenant_for(fake: &FakeBitbucket, id: &str) -> Tenant {
    Tenant::new(id, Arc::new(MemoryCredentialStore::default()))
        .with_config("api-base-url", fake.api_base_url())
        .with_config("oauth-base-url", fake.base_url())
        // Retries stay real but fast.
        .with_config("retry-base-ms", "5")
}

impl Env {
    pub async fn exec(&self, operation: &str, params: Value) -> Result<Value, Failure> {
        exec_in(sandbox(), &self.tenant, operation, params).await
    }
}

pub async fn exec_in(
    sandbox: &Sandbox,
    tenant: &Tenant,
    operation: &str,
    params: Value,
) -> Result<Value, Failure> {
    let answer = sandbox
        .execute(tenant, operation, &params.to_string())
        .await?;
    Ok(serde_json::from_str(&answer).expect("execute answers JSON"))
}

/// The slugs of a page answer.
pub fn slugs(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("a page has items")
        .iter()
        .map(|r| {
            r["slug"]
                .as_str()
                .expect("a repository has a slug")
                .to_owned()
        })
        .collect()
}

/// A GET straight to the fake, bypassing the component, that does not
/// follow redirects, optionally as Ada: `(status, headers, body)`.
pub async fn raw_get(url: &str, bearer: Option<&str>) -> (u16, reqwest::header::HeaderMap, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let mut request = client.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("a text body"))
}

/// Params for the richly seeded repository, atom-labs/bitbucket-plugin, plus `extra`.
pub fn repo(extra: Value) -> Value {
    let mut params =
        serde_json::json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin" });
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    params
}

/// A response's status, headers and body (JSON when it parses, else the text).
pub async fn answer(
    response: reqwest::Response,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.text().await.expect("a body");
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, headers, json)
}

/// How many requests the fake has answered so far.
pub fn upstream_requests(fake: &FakeBitbucket) -> usize {
    fake.control().requests.len()
}
