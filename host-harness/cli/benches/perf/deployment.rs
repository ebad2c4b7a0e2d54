//! `ATOM_BENCH_PROFILE=deployment`: what sharing state costs. The same
//! uncached read (`execute get-current-user` with `Cache-Control: no-cache`,
//! so every request checks the key, takes a budget token and a call slot,
//! reads the credential and calls the fake) against one replica with its
//! state in memory and SQLite, one replica on PostgreSQL and Redis, and
//! three replicas on them behind a round-robin client. Throughput and p99,
//! every figure against the in-memory replica measured in the same run.
//!
//! PostgreSQL and Redis are the machine's (`ATOM_BENCH_POSTGRES`,
//! `ATOM_BENCH_REDIS`): a schema and a key prefix of the bench's own, gone
//! at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atom_runtime::CredentialStore as _;
use atom_runtime::host_types::CredentialSecret;
use atom_store::{DEFAULT_CONNECTION, Keyring, TenantRegistry as _, open_postgres};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};

use crate::gateway::{self, harness_on};
use crate::table::Row;

const CLIENTS: [usize; 2] = [1, 16];
const SPAN: Duration = Duration::from_secs(4);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Replicas of `serve` on one PostgreSQL schema and one Redis prefix.
struct Shared {
    replicas: Vec<(std::process::Child, String)>,
    key: String,
    schema: String,
    postgres: String,
    _dir: tempfile::TempDir,
}

impl Shared {
    fn start(fake: &FakeBitbucket, replicas: usize) -> Self {
        let postgres = env_or(
            "ATOM_BENCH_POSTGRES",
            "postgres://postgres@127.0.0.1:5432/test",
        );
        let redis = env_or("ATOM_BENCH_REDIS", "redis://127.0.0.1:6379/0");
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let schema = format!("atom_bench_{suffix}");
        sql(&postgres, &format!("CREATE SCHEMA {schema}"));
        let store = format!("{postgres}?options=-csearch_path%3D{schema}");
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("store.key");
        let keyring = Keyring::generate().unwrap();
        keyring.save_file(&key_file).unwrap();
        let stores = open_postgres(&store, keyring, DEFAULT_CONNECTION).unwrap();
        let key = stores.tenants.add("tenant-0000").unwrap().key.to_string();
        stores
            .credentials
            .replace(
                "tenant-0000",
                0,
                CredentialSecret::AccessToken(ADA_TOKEN.into()),
            )
            .unwrap();
        let prefix = format!("atom-bench-{suffix}");
        let replicas = (0..replicas)
            .map(|_| {
                gateway::serve(
                    harness_on(&store, &key_file),
                    fake,
                    &["--redis", &redis, "--redis-prefix", &prefix],
                )
            })
            .collect();
        Self {
            replicas,
            key,
            schema,
            postgres,
            _dir: dir,
        }
    }

    fn bases(&self) -> Vec<String> {
        self.replicas.iter().map(|(_, base)| base.clone()).collect()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for (child, _) in &mut self.replicas {
            let _ = child.kill();
            let _ = child.wait();
        }
        sql(
            &self.postgres,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
    }
}

/// On a thread of its own: the sync client must not run on the bench's runtime.
fn sql(url: &str, statement: &str) {
    let (url, statement) = (url.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .expect("PostgreSQL answers at ATOM_BENCH_POSTGRES");
        client.batch_execute(&statement).unwrap();
    })
    .join()
    .unwrap();
}

/// Requests per second and p99 of `clients` clients sending the uncached
/// read round robin over `bases`.
async fn load(clients: usize, bases: Vec<String>, key: String) -> (f64, Duration) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + SPAN;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, bases, key) = (client.clone(), bases.clone(), key.clone());
        let (next, samples) = (next.clone(), samples.clone());
        tasks.spawn(async move {
            let mut mine = Vec::new();
            while Instant::now() < until {
                let base = &bases[next.fetch_add(1, Ordering::Relaxed) % bases.len()];
                let started = Instant::now();
                assert!(
                    gateway::read(&client, base, &key, false).await,
                    "a read failed under load"
                );
                mine.push(started.elapsed());
            }
            samples.lock().unwrap().extend(mine);
        });
    }
    while tasks.join_next().await.is_some() {}
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    samples.sort();
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    (samples.len() as f64 / SPAN.as_secs_f64(), p99)
}

pub async fn rows(fake: &FakeBitbucket) -> Vec<Row> {
    let memory = tokio::task::block_in_place(|| gateway::start(fake, 1));
    let one = tokio::task::block_in_place(|| Shared::start(fake, 1));
    let three = tokio::task::block_in_place(|| Shared::start(fake, 3));
    let mut rows = Vec::new();
    for clients in CLIENTS {
        let baseline = load(clients, vec![memory.base.clone()], memory.keys[0].clone()).await;
        for (name, shared) in [("1 replica", &one), ("3 replicas", &three)] {
            let (rps, p99) = load(clients, shared.bases(), shared.key.clone()).await;
            let setup = format!("{name} on PostgreSQL + Redis, {clients} client(s)");
            rows.push(Row {
                measure: format!("uncached read, {setup}: throughput"),
                value: rps,
                baseline_name: "1 replica, state in memory + SQLite".into(),
                baseline: baseline.0,
                unit: "req/s",
                target: "-".into(),
                ..Row::default()
            });
            rows.push(Row {
                measure: format!("uncached read, {setup}: p99"),
                value: p99.as_secs_f64() * 1000.0,
                baseline_name: "1 replica, state in memory + SQLite".into(),
                baseline: baseline.1.as_secs_f64() * 1000.0,
                unit: "ms",
                target: "-".into(),
                ..Row::default()
            });
        }
    }
    rows
}
