//! What a call through the sandbox costs, against the same call without it.
//!
//! `cargo bench -p atom-harness --features demo --bench calls --profile dev` (dependencies are
//! optimised in the dev profile, so Wasmtime runs at full speed without a
//! second build of it). Prints one table; every row is measured in this run,
//! against the fake Bitbucket on loopback, and compared with the baseline: the
//! same `GET /2.0/user` sent straight from the host.

use std::sync::Arc;
use std::time::{Duration, Instant};

use atom_harness::host_types::CredentialSecret;
use atom_harness::{Allowlist, Limits, MemoryCredentialStore, Sandbox, Tenant};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};

const ROUNDS: usize = 200;

#[tokio::main]
async fn main() {
    let fake = FakeBitbucket::start().await.expect("the fake starts");
    let started = Instant::now();
    let sandbox = Sandbox::load(
        atom_bitbucket_artifact::component_path(),
        Allowlist::new(["127.0.0.1"]),
        Limits::default(),
    )
    .expect("the component loads");
    let load = started.elapsed();
    let tenant = Tenant::new("bench", Arc::new(MemoryCredentialStore::default()))
        .with_config("api-base-url", fake.api_base_url());
    tenant
        .set_credential(CredentialSecret::AccessToken(ADA_TOKEN.to_owned()))
        .unwrap();

    let addr = fake.addr().to_string();
    // No pooling: the sandbox opens a fresh connection per request too.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let direct = |path: &'static str| {
        let (client, url) = (client.clone(), format!("http://{addr}{path}"));
        move || direct_get(client.clone(), url.clone())
    };
    let user_baseline = measure(direct("/2.0/user")).await;
    let page_baseline = measure(direct("/2.0/repositories/acme?pagelen=100")).await;
    let rows = [
        (
            "capabilities (instantiate, no I/O)",
            &user_baseline,
            measure(|| async { sandbox.capabilities(&tenant).await.map(drop).unwrap() }).await,
        ),
        (
            "operations (40 schemas, no I/O)",
            &user_baseline,
            measure(|| async { sandbox.operations(&tenant).await.map(drop).unwrap() }).await,
        ),
        (
            "get-current-user",
            &user_baseline,
            measure(|| async {
                sandbox
                    .execute(&tenant, "get-current-user", "{}")
                    .await
                    .map(drop)
                    .unwrap()
            })
            .await,
        ),
        (
            "list-repositories, 100 items",
            &page_baseline,
            measure(|| async {
                let params = r#"{"workspace":"acme","page":{"size":100}}"#;
                sandbox
                    .execute(&tenant, "list-repositories", params)
                    .await
                    .map(drop)
                    .unwrap()
            })
            .await,
        ),
    ];

    println!(
        "Sandbox::load (compiles, or loads the user's compile cache): {:.0} ms ({} rounds per row)",
        load.as_secs_f64() * 1e3,
        ROUNDS
    );
    let (compiled, cached) = compile_cache_timings();
    println!(
        "compile {:.0} ms, load from the compiled cache {:.1} ms ({:.0}x faster)\n",
        compiled.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3,
        compiled.as_secs_f64() / cached.as_secs_f64()
    );
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>12}",
        "call", "p50 µs", "p95 µs", "mean µs", "× baseline"
    );
    let row = |name: &str, s: &Stats, base: &Stats| {
        println!(
            "{name:<42} {:>10.0} {:>10.0} {:>10.0} {:>12.2}",
            s.p50,
            s.p95,
            s.mean,
            s.p50 / base.p50
        );
    };
    row(
        "baseline A: GET /2.0/user from the host",
        &user_baseline,
        &user_baseline,
    );
    row(
        "baseline B: GET a page of 100 repositories",
        &page_baseline,
        &page_baseline,
    );
    for (name, base, stats) in &rows {
        row(name, stats, base);
    }
    println!("\nrows are compared with baseline A, except the listing (baseline B)");
}

struct Stats {
    p50: f64,
    p95: f64,
    mean: f64,
}

async fn measure<F, Fut>(mut call: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..10 {
        call().await;
    }
    let mut samples: Vec<Duration> = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    Stats {
        p50: micros(samples[ROUNDS / 2]),
        p95: micros(samples[ROUNDS * 95 / 100]),
        mean: samples.iter().copied().map(micros).sum::<f64>() / ROUNDS as f64,
    }
}

/// One GET on a fresh connection, as the sandbox makes it.
async fn direct_get(client: reqwest::Client, url: String) {
    let response = client.get(url).bearer_auth(ADA_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
}

/// Compiling the component against loading the copy the first compile left
/// in a fresh cache directory, with the same engine.
fn compile_cache_timings() -> (Duration, Duration) {
    use atom_harness::compiled::{Origin, load_with};
    let engine = wasmtime::Engine::default();
    let bytes = std::fs::read(atom_bitbucket_artifact::component_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (_, origin) = load_with(&engine, &bytes, Some(dir.path())).unwrap();
    let compiled = started.elapsed();
    assert_eq!(origin, Origin::Compiled);
    let started = Instant::now();
    let (_, origin) = load_with(&engine, &bytes, Some(dir.path())).unwrap();
    assert_eq!(origin, Origin::Cache);
    (compiled, started.elapsed())
}
