//! The gateway as operators run it: `atom-harness serve` in a child process
//! over a store of tenants, in front of the fake; and a load generator.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use atom_runtime::CredentialStore;
use atom_runtime::host_types::CredentialSecret;
use atom_store::{Keyring, SqliteCredentialStore, SqliteTenantRegistry, TenantRegistry as _};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};

pub struct Gateway {
    pub child: Child,
    pub base: String,
    /// One API key per tenant, in creation order.
    pub keys: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn harness(dir: &Path) -> Command {
    harness_on(
        &dir.join("store.sqlite3").to_string_lossy(),
        &dir.join("store.key"),
    )
}

/// `atom-harness` on `store` (a SQLite path or a PostgreSQL URL).
pub fn harness_on(store: &str, key_file: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atom-harness"));
    command
        .arg("--store")
        .arg(store)
        .arg("--key-file")
        .arg(key_file)
        .env_remove("ATOM_CREDENTIAL_KEYS")
        .env_remove("ATOM_COMPONENT");
    command
}

/// A gateway with `tenants` tenants, each with Ada's token, no upstream
/// budget in the way and room for 128 calls at once.
pub fn start(fake: &FakeBitbucket, tenants: usize) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let status = harness(dir.path()).args(["keys", "init"]).output().unwrap();
    assert!(status.status.success(), "keys init");
    let keyring = Keyring::load_file(&dir.path().join("store.key")).unwrap();
    let path = dir.path().join("store.sqlite3");
    let registry = SqliteTenantRegistry::open(&path).unwrap();
    let store = SqliteCredentialStore::open(&path, keyring).unwrap();
    let keys = (0..tenants)
        .map(|i| {
            let name = format!("tenant-{i:04}");
            let key = registry.add(&name).unwrap();
            store
                .replace(&name, 0, CredentialSecret::AccessToken(ADA_TOKEN.into()))
                .unwrap();
            key.key.to_string()
        })
        .collect();
    let (child, base) = serve(harness(dir.path()), fake, &[]);
    Gateway {
        child,
        base,
        keys,
        _dir: dir,
    }
}

/// `serve` as `harness` says, with `extra` flags, out of the way of the
/// load: no upstream budget to speak of and room for 128 calls at once.
pub fn serve(mut harness: Command, fake: &FakeBitbucket, extra: &[&str]) -> (Child, String) {
    let mut child = harness
        .args(["--allow-host", &fake.addr().to_string()])
        .args(["--config", &format!("api-base-url={}", fake.api_base_url())])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args([
            "--memory-budget-mib",
            "16384",
            "--max-calls-per-tenant",
            "1024",
        ])
        .args([
            "--upstream-budget-per-hour",
            "4000000000",
            "--max-connections",
            "1024",
            "--max-connections-per-client",
            "1024",
        ])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    let base = lines
        .find_map(|l| {
            l.split_once("gateway on ")
                .map(|(_, url)| url.trim().to_owned())
        })
        .expect("the gateway starts");
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

/// Requests per second `clients` concurrent clients get from `send` over
/// `span`; every answer must be a success.
pub async fn throughput<F, Fut>(clients: usize, span: Duration, send: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let send = Arc::new(send);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + span;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (send, done, failed) = (send.clone(), done.clone(), failed.clone());
        tasks.spawn(async move {
            while Instant::now() < until {
                if send().await {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let failed = failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} requests failed at {clients} clients");
    done.load(Ordering::Relaxed) as f64 / span.as_secs_f64()
}

/// One gateway read: `get-current-user` through ATOM's execute route.
pub async fn read(client: &reqwest::Client, base: &str, key: &str, cached: bool) -> bool {
    let mut request = client
        .post(format!("{base}/atom/v1/execute"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(r#"{"operation":"get-current-user","parameters":{}}"#);
    if !cached {
        request = request.header("cache-control", "no-cache");
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            if !status.is_success() {
                report_once(&format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            status.is_success()
        }
        Err(error) => {
            report_once(&error.to_string());
            false
        }
    }
}

/// The first failure of a run, so a failed run says why.
fn report_once(what: &str) {
    static REPORTED: std::sync::Once = std::sync::Once::new();
    REPORTED.call_once(|| eprintln!("a gateway read failed: {what}"));
}
