//! Issue 12's figures in one table, every one against a baseline measured in
//! this run:
//!
//! `cargo bench -p atom-harness --features demo --bench perf --profile dev`
//!
//! (`ATOM_BENCH_PROFILE=deployment` instead: one replica in memory against
//! one and three on PostgreSQL and Redis; see `deployment`.)
//!
//! (dependencies are optimised in the dev profile, so Wasmtime runs at full
//! speed without a release build of it). The fake Bitbucket runs on its own
//! runtime, on threads named `fake-*`, so the CPU it spends answering is not
//! counted as the client's.

mod deployment;
mod gateway;
mod listing;
mod measure;
mod table;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{Allowlist, InstanceAllocation, Limits, MemoryCredentialStore, Sandbox, Tenant};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, FaultKind, FaultPlan, FaultRule};

use measure::{cpu_and_wall, latency, rss_bytes};
use table::Row;

pub const FAKE_THREADS: &str = "fake-";
const OVERHEAD_ROUNDS: usize = 2_000;
const LISTING_ROUNDS: usize = 3;
const LOAD_SPAN: Duration = Duration::from_secs(3);
const TENANTS: usize = 1_000;
const UPSTREAM_LATENCY: Duration = Duration::from_millis(20);

fn main() {
    let fake_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("fake-bitbucket")
        .enable_all()
        .build()
        .unwrap();
    let fake = fake_runtime.block_on(start_fake());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("bench")
        .enable_all()
        .build()
        .unwrap();
    let rows = runtime.block_on(run(&fake));
    println!();
    table::print(&rows);
    println!(
        "\n{} cores, {}; dev profile (dependencies at opt-level 2)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
}

/// The seed data plus workspace `acme` holding 10,000 repositories.
async fn start_fake() -> FakeBitbucket {
    let fake = FakeBitbucket::start().await.unwrap();
    let mut world = fake.control();
    let template = world
        .repositories
        .iter()
        .find(|r| r.workspace == "acme")
        .unwrap()
        .clone();
    // The client is measured, not the fake: its answers are the ones the
    // tests hold to the spec, so they are not checked again here.
    world.check_answers = false;
    world.repositories.retain(|r| r.workspace != "acme");
    for i in 0..listing::REPOSITORIES {
        let mut repository = template.clone();
        repository.slug = format!("bench-{i:05}");
        repository.name = repository.slug.clone();
        repository.uuid = format!("{{00000000-0000-4000-8000-{i:012}}}");
        world.repositories.push(repository);
    }
    drop(world);
    fake
}

fn tenant(fake: &FakeBitbucket) -> Tenant {
    let tenant = Tenant::new("bench", Arc::new(MemoryCredentialStore::default()))
        .with_config("api-base-url", fake.api_base_url());
    tenant
        .set_credential(CredentialSecret::AccessToken(ADA_TOKEN.to_owned()))
        .unwrap();
    tenant
}

async fn run(fake: &FakeBitbucket) -> Vec<Row> {
    let component = atom_bitbucket_artifact::component_path();
    let allow = || Allowlist::new(["127.0.0.1"]);
    let on_demand = Sandbox::load(component, allow(), Limits::default()).unwrap();
    let pooled = Sandbox::load_with(
        component,
        allow(),
        Limits::default(),
        InstanceAllocation::Pooling { instances: 128 },
    )
    .unwrap();
    let tenant = tenant(fake);
    if std::env::var("ATOM_BENCH_PROFILE").as_deref() == Ok("deployment") {
        return deployment::rows(fake).await;
    }
    if let Ok(work) = std::env::var("ATOM_BENCH_PROFILE") {
        profile(&work, &pooled, &tenant).await;
        return Vec::new();
    }
    let mut rows = Vec::new();

    // Sandbox overhead: a fresh instance and a call that does no I/O.
    let trivial = |sandbox: &Sandbox| {
        let (sandbox, tenant) = (sandbox.clone(), tenant.clone());
        move || {
            let (sandbox, tenant) = (sandbox.clone(), tenant.clone());
            async move { sandbox.capabilities(&tenant).await.map(drop).unwrap() }
        }
    };
    let (on_demand_p50, _) = latency(OVERHEAD_ROUNDS, trivial(&on_demand)).await;
    let (pooled_p50, _) = latency(OVERHEAD_ROUNDS, trivial(&pooled)).await;
    rows.push(Row {
        measure: "sandbox overhead: instantiate + `capabilities`, p50, pooling allocator".into(),
        value: micros(pooled_p50),
        baseline_name: "same, on-demand allocator".into(),
        baseline: micros(on_demand_p50),
        unit: "µs",
        target: "<= 20 µs".into(),
    });
    let operations = |sandbox: &Sandbox| {
        let (sandbox, tenant) = (sandbox.clone(), tenant.clone());
        move || {
            let (sandbox, tenant) = (sandbox.clone(), tenant.clone());
            async move { sandbox.operations(&tenant).await.map(drop).unwrap() }
        }
    };
    let (operations_p50, _) = latency(200, operations(&pooled)).await;
    rows.push(Row {
        measure: "`operations` (40 operations with schemas), p50".into(),
        value: micros(operations_p50),
        baseline_name: "`capabilities`, pooling".into(),
        baseline: micros(pooled_p50),
        unit: "µs",
        target: "schemas not rebuilt per call".into(),
    });

    // 10,000 repositories: client CPU through the component vs natively,
    // one page a call and twenty.
    let client = reqwest::Client::new();
    let api = fake.api_base_url();
    let native_cpu = listing_cpu(LISTING_ROUNDS, || listing::natively(&client, &api, "acme")).await;
    for pages in [1, 20] {
        let component_cpu = listing_cpu(LISTING_ROUNDS, || {
            listing::through_component(&pooled, &tenant, "acme", pages)
        })
        .await;
        rows.push(Row {
            measure: format!(
                "10,000-repository listing, client CPU, through the component, {pages} page(s) of 100 a call"
            ),
            value: millis(component_cpu),
            baseline_name: "native Rust client (reqwest + serde), same requests".into(),
            baseline: millis(native_cpu),
            unit: "ms",
            target: "<= 1.1x".into(),
        });
    }
    rows.push(concurrent_listing(&pooled, &tenant, fake, &client).await);
    rows.push(analytics_fan_out(&pooled, &tenant, fake, &client).await);

    // Cold start: a new process to its first answer, with and without the cache.
    let (uncached, cached) = cold_starts();
    rows.push(Row {
        measure: "cold start: `atom-harness capabilities`, process wall time, compile cache".into(),
        value: millis(cached),
        baseline_name: "same, `ATOM_COMPILE_CACHE=off`".into(),
        baseline: millis(uncached),
        unit: "ms",
        target: "<= 50 ms".into(),
    });

    // The gateway under load, against the fake answering the same read directly.
    let gateway = tokio::task::block_in_place(|| gateway::start(fake, 1));
    let key = gateway.keys[0].clone();
    for clients in [1, 16, 128] {
        let direct = {
            let (client, url) = (client.clone(), format!("{api}/user"));
            gateway::throughput(clients, LOAD_SPAN, move || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    client
                        .get(url)
                        .bearer_auth(ADA_TOKEN)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await
        };
        for cached in [true, false] {
            let (client, base, key) = (client.clone(), gateway.base.clone(), key.clone());
            let rps = gateway::throughput(clients, LOAD_SPAN, move || {
                let (client, base, key) = (client.clone(), base.clone(), key.clone());
                async move { gateway::read(&client, &base, &key, cached).await }
            })
            .await;
            rows.push(Row {
                measure: format!(
                    "gateway `execute get-current-user`, {clients} client(s), {}",
                    if cached {
                        "cached"
                    } else {
                        "uncached (sandbox call + upstream)"
                    }
                ),
                value: rps,
                baseline_name: "the fake answering `GET /2.0/user` directly".into(),
                baseline: direct,
                unit: "req/s",
                target: "-".into(),
            });
        }
    }
    drop(gateway);

    // Memory with 1,000 tenants that have each made a call.
    let gateway = tokio::task::block_in_place(|| gateway::start(fake, TENANTS));
    let pid = gateway.child.id();
    assert!(gateway::read(&client, &gateway.base, &gateway.keys[0], false).await);
    let one = rss_bytes(pid);
    for key in &gateway.keys {
        assert!(gateway::read(&client, &gateway.base, key, false).await);
    }
    let all = rss_bytes(pid);
    rows.push(Row {
        measure: format!("gateway RSS after {TENANTS} tenants made a call"),
        value: mib(all),
        baseline_name: "after one tenant's call".into(),
        baseline: mib(one),
        unit: "MiB",
        target: "<= 1024 MiB".into(),
    });
    drop(gateway);

    let size = std::fs::metadata(component).unwrap().len();
    rows.push(Row {
        measure: "component size".into(),
        value: size as f64 / 1024.0,
        baseline_name: "target: 1 MiB".into(),
        baseline: 1024.0,
        unit: "KiB",
        target: "<= 1024 KiB".into(),
    });
    rows
}

/// Runs one workload for ten seconds and nothing else, for a profiler:
/// `ATOM_BENCH_PROFILE=overhead` (instantiate + `capabilities`) or
/// `ATOM_BENCH_PROFILE=listing` (the 10,000-repository listing).
async fn profile(work: &str, sandbox: &Sandbox, tenant: &Tenant) {
    let until = Instant::now() + Duration::from_secs(10);
    let mut rounds = 0_u64;
    while Instant::now() < until {
        match work {
            "overhead" => drop(sandbox.capabilities(tenant).await.unwrap()),
            "listing" => drop(listing::through_component(sandbox, tenant, "acme", 20).await),
            other => panic!("ATOM_BENCH_PROFILE={other}: expected `overhead` or `listing`"),
        }
        rounds += 1;
    }
    eprintln!("{work}: {rounds} rounds in 10 s");
}

/// Mean client CPU of `rounds` listings of every repository of `acme`.
async fn listing_cpu<F: Future<Output = usize>>(rounds: usize, list: impl Fn() -> F) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let (cpu, _, listed) = cpu_and_wall(list()).await;
        assert_eq!(listed, listing::REPOSITORIES);
        total += cpu;
    }
    total / rounds as u32
}

/// The 10,000-repository listing with upstream latency: the component asks
/// for 20 pages a call, which it fetches a few at a time once the first page
/// gave the total; the baseline follows `next` one page after another.
async fn concurrent_listing(
    sandbox: &Sandbox,
    tenant: &Tenant,
    fake: &FakeBitbucket,
    client: &reqwest::Client,
) -> Row {
    let api = fake.api_base_url();
    fake.set_faults(
        FaultPlan::new(1).rule(FaultRule::all(1.0, FaultKind::Stall(UPSTREAM_LATENCY))),
    );
    let (_, component, listed) =
        cpu_and_wall(listing::through_component(sandbox, tenant, "acme", 20)).await;
    assert_eq!(listed, listing::REPOSITORIES);
    let (_, native, listed) = cpu_and_wall(listing::natively(client, &api, "acme")).await;
    assert_eq!(listed, listing::REPOSITORIES);
    fake.set_faults(FaultPlan::new(1));
    Row {
        measure: format!(
            "10,000-repository listing, {} ms upstream latency each page, wall, component with 20 pages a call",
            UPSTREAM_LATENCY.as_millis()
        ),
        value: millis(component),
        baseline_name: "native client, one page after another".into(),
        baseline: millis(native),
        unit: "ms",
        target: "< 0.5x".into(),
    }
}

/// The component's fan-out: `analytics-summary` sends its reads a few at a
/// time; the baseline sends the same requests (read back from the fake's
/// log) one after another from a native client.
async fn analytics_fan_out(
    sandbox: &Sandbox,
    tenant: &Tenant,
    fake: &FakeBitbucket,
    client: &reqwest::Client,
) -> Row {
    let params = serde_json::json!({ "workspace": "atom-labs" }).to_string();
    let analytics = || async {
        sandbox
            .execute(tenant, "analytics-summary", &params)
            .await
            .unwrap_or_else(|f| panic!("analytics-summary failed: {f}"));
    };
    let before = fake.control().requests.len();
    analytics().await;
    let sent: Vec<String> = fake.control().requests[before..]
        .iter()
        .map(|r| format!("{}{}{}", fake.base_url(), r.path, query_string(&r.query)))
        .collect();
    let requests = sent.len();
    // Bitbucket answers in tens to hundreds of milliseconds, the fake in
    // one: each answer is held 20 ms, as a modest network would.
    fake.set_faults(
        FaultPlan::new(1).rule(FaultRule::all(1.0, FaultKind::Stall(UPSTREAM_LATENCY))),
    );
    let (component, _) = latency(20, analytics).await;
    let (native, _) = latency(20, || {
        let (client, sent) = (client.clone(), sent.clone());
        async move {
            for url in sent {
                let response = client.get(url).bearer_auth(ADA_TOKEN).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        }
    })
    .await;
    fake.set_faults(FaultPlan::new(1));
    Row {
        measure: format!(
            "`analytics-summary` ({requests} upstream reads, {} ms upstream latency each), p50 wall, component fanning out",
            UPSTREAM_LATENCY.as_millis()
        ),
        value: millis(component),
        baseline_name: "native client, the same requests one after another".into(),
        baseline: millis(native),
        unit: "ms",
        target: "< 0.5x".into(),
    }
}

fn query_string(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut query = url::form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    query.extend_pairs(pairs);
    query.finish()
}

/// Median wall time of five `atom-harness capabilities` processes without
/// and with a warm compile cache.
fn cold_starts() -> (Duration, Duration) {
    let cache = tempfile::tempdir().unwrap();
    let run = |cache_setting: &str| {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_atom-harness"))
            .arg("capabilities")
            .env("ATOM_COMPILE_CACHE", cache_setting)
            .env_remove("ATOM_COMPONENT")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        started.elapsed()
    };
    let median = |setting: &str| {
        let mut samples: Vec<Duration> = (0..5).map(|_| run(setting)).collect();
        samples.sort();
        samples[2]
    };
    let uncached = median("off");
    let warm = cache.path().to_str().unwrap().to_owned();
    run(&warm);
    (uncached, median(&warm))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
