//! What every end-to-end test needs: the component loaded once in the
//! sandbox, and a fresh fake Bitbucket with a tenant pointed at it.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use atom_harness::host_types::CredentialSecret;
use atom_harness::{Allowlist, Failure, Limits, MemoryCredentialStore, Sandbox, Tenant};
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

/// A GET that does not follow redirects: `(status, headers, body)`.
pub async fn raw_get(url: &str) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("a loopback http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("the fake listens");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
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
