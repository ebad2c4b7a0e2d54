//! A gateway in a child process, with a store holding tenants `acme`
//! (Ada's token) and `globex` (no credential), against a fake Bitbucket.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A store with tenants `acme` (Ada's token) and `globex` (no credential),
/// and a gateway serving them in a child process.
pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub base: String,
    /// The gateway's log lines (JSON), as they arrive.
    pub logs: Arc<Mutex<Vec<String>>>,
    pub acme_key: String,
    pub globex_key: String,
}

pub fn harness(dir: &tempfile::TempDir) -> Command {
    harness_on(dir, &dir.path().join("store.sqlite3").to_string_lossy())
}

/// `atom-harness` on `store` (a SQLite path or a PostgreSQL URL), with the
/// key file in `dir`.
pub fn harness_on(dir: &tempfile::TempDir, store: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_atom-harness"));
    command
        .arg("--store")
        .arg(store)
        .arg("--key-file")
        .arg(dir.path().join("store.key"))
        .env_remove("BITBUCKET_ACCESS_TOKEN")
        .env_remove("BITBUCKET_API_TOKEN")
        .env_remove("BITBUCKET_EMAIL")
        .env_remove("ATOM_COMPONENT")
        .env_remove("ATOM_CREDENTIAL_KEYS")
        .env_remove("ATOM_OAUTH_CLIENT_ID")
        .env_remove("ATOM_OAUTH_CLIENT_SECRET");
    command
}

pub fn run(command: &mut Command) -> String {
    let output = command.output().expect("atom-harness runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

impl Gateway {
    /// `extra` are flags for `serve` (and global ones such as `--component`).
    pub async fn start(fake: &FakeBitbucket, extra: &[&str]) -> Self {
        Self::start_with(fake, extra, &[]).await
    }

    /// `env` is set for the `serve` process only.
    pub async fn start_with(fake: &FakeBitbucket, extra: &[&str], env: &[(&str, &str)]) -> Self {
        // Webhooks registered through the gateway point back at it, on 127.0.0.1.
        fake.control().allow_loopback_webhooks = true;
        let dir = tempfile::tempdir().unwrap();
        run(harness(&dir).args(["keys", "init"]));
        let acme_key = run(harness(&dir).args(["tenants", "add", "acme"]));
        let globex_key = run(harness(&dir).args(["tenants", "add", "globex"]));
        run(harness(&dir)
            .args([
                "--tenant",
                "acme",
                "auth",
                "add-token",
                "--kind",
                "access-token",
            ])
            .env("BITBUCKET_ACCESS_TOKEN", ADA_TOKEN));
        let (child, base, logs) = spawn(&dir, fake, extra, env).await;
        Self {
            dir,
            child,
            base,
            logs,
            acme_key: acme_key.trim().to_owned(),
            globex_key: globex_key.trim().to_owned(),
        }
    }

    /// Stops the gateway and starts another on the same store (with
    /// `extra` flags): what a deployment's restart does. Its address changes.
    pub async fn restart(&mut self, fake: &FakeBitbucket, extra: &[&str]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base, logs) = spawn(&self.dir, fake, extra, &[]).await;
        (self.child, self.base, self.logs) = (child, base, logs);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A POST as a program sends it: JSON, with the key.
    pub async fn call(&self, key: &str, path: &str, body: &str) -> (StatusCode, HeaderMap, Value) {
        let response = reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc")
    }
}

/// `serve` on the store in `dir`: the child, its base URL, its log lines.
async fn spawn(
    dir: &tempfile::TempDir,
    fake: &FakeBitbucket,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    spawn_with(harness(dir), fake, extra, env).await
}

/// `serve` as `harness` (a command with its store flags) says.
pub async fn spawn_with(
    mut harness: Command,
    fake: &FakeBitbucket,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut child = harness
        .args(["--allow-host", &fake.addr().to_string()])
        .args(["--config", &format!("api-base-url={}", fake.api_base_url())])
        .args(["--config", &format!("oauth-base-url={}", fake.base_url())])
        .env("ATOM_OAUTH_CLIENT_ID", OAUTH_CLIENT_ID)
        .env("ATOM_OAUTH_CLIENT_SECRET", OAUTH_CLIENT_SECRET)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("ATOM_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,atom_guest=debug")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let kept = logs.clone();
    let base = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
        let started = lines
            .find_map(|l| l.split_once("gateway on ").map(|(_, url)| url.to_owned()))
            .expect("the gateway starts");
        // Keep reading, so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(|l| kept.lock().unwrap().push(l)));
        started
    })
    .await
    .unwrap();
    (child, base, logs)
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tokens for Ada from the fake's authorization server, as the browser
/// flow would get them: consent (redirect with a code), then the code
/// exchanged with the client's Basic credentials.
pub async fn ada_tokens(fake: &FakeBitbucket) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:9/callback";
    let consent = client
        .get(format!("{}/site/oauth2/authorize", fake.base_url()))
        .query(&[
            ("client_id", OAUTH_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let code = reqwest::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("the consent redirect carries a code");
    let answer = client
        .post(format!("{}/site/oauth2/access_token", fake.base_url()))
        .basic_auth(OAUTH_CLIENT_ID, Some(OAUTH_CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

/// ATOM's side: a loopback receiver that keeps what it is sent.
pub async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/atom/webhooks",
        axum::routing::post(move |body: axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/atom/webhooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Reads a server-sent-events stream until `needle` shows up or `within` passes.
pub async fn read_until(
    response: &mut reqwest::Response,
    needle: &str,
    within: Duration,
) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    seen
}

pub use atom_test_support::{answer, upstream_requests};
