//! Under faults: thousands of calls across the operations while the fake
//! fails a fifth of all requests in every way Bitbucket and the network do.
//! Nothing traps, every failure is typed, a failure said to be retryable is
//! one that may pass, and no write lands twice.
//!
//! `cargo test` runs a short battery; `ATOM_BATTERY_CALLS=5000` (see
//! `scripts/battery`) runs the full one. The table it prints is the README's.

use std::collections::BTreeMap;
use std::time::Duration;

use atom_runtime::Failure;
use atom_test_support::{exec_in, repo, sandbox, tenant_for};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket, FaultKind, FaultPlan, FaultRule};
use serde_json::{Value, json};

/// A fifth of all requests meet a fault.
const FAULT_RATE: f64 = 0.20;
const SEED: u64 = 0x00A7_0B17;
const DEFAULT_CALLS: usize = 400;

/// Kinds played on any request; each gets an equal share of the rate.
fn kinds() -> Vec<FaultKind> {
    vec![
        FaultKind::ServerError,
        FaultKind::EdgeTimeout,
        FaultKind::RateLimited,
        FaultKind::Reset,
        FaultKind::Stall(Duration::from_millis(50)),
        FaultKind::Truncated,
        FaultKind::NotJson,
        FaultKind::Oversized(12 << 20),
        FaultKind::RepeatedPage,
        FaultKind::ActThenReset,
        FaultKind::ActThenTruncate,
        FaultKind::ActThen502,
        FaultKind::ActThen555,
    ]
}

fn plan() -> FaultPlan {
    let kinds = kinds();
    // Rules roll one after another: equal shares whose union is the rate.
    let share = 1.0 - (1.0 - FAULT_RATE).powf(1.0 / kinds.len() as f64);
    kinds.into_iter().fold(FaultPlan::new(SEED), |plan, kind| {
        plan.rule(FaultRule::all(share, kind))
    })
}

/// One call of the battery: a read, or a write whose effect can be counted.
enum Call {
    Read(&'static str, Value),
    CreateIssue(String),
    TriggerPipeline(String),
}

#[derive(Default)]
struct Tally {
    calls: usize,
    reads: usize,
    reads_ok: usize,
    writes: usize,
    writes_ok: usize,
    errors: BTreeMap<String, usize>,
    untyped: Vec<String>,
    wrongly_retryable: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_calls_under_a_fifth_of_faults_stay_typed_and_never_write_twice() {
    let total: usize = std::env::var("ATOM_BATTERY_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CALLS);
    let fake = FakeBitbucket::start().await.expect("the fake starts");
    let tenant = tenant_for(&fake, "battery");
    tenant
        .set_credential(atom_runtime::host_types::CredentialSecret::AccessToken(
            ADA_TOKEN.to_owned(),
        ))
        .unwrap();

    let reads = reads(&tenant).await;
    fake.set_faults(plan());

    let mut tally = Tally::default();
    let mut issue_titles = Vec::new();
    let mut trigger_ids = Vec::new();
    for n in 0..total {
        let call = match n % 10 {
            8 => Call::CreateIssue(format!("battery issue {n}")),
            9 if n % 20 == 9 => Call::TriggerPipeline(format!("battery-{n}")),
            _ => {
                let (operation, params) = &reads[n % reads.len()];
                Call::Read(operation, params.clone())
            }
        };
        let (operation, params, is_read) = match &call {
            Call::Read(operation, params) => (*operation, params.clone(), true),
            Call::CreateIssue(title) => {
                issue_titles.push(title.clone());
                ("create-issue", repo(json!({ "title": title })), false)
            }
            Call::TriggerPipeline(id) => {
                trigger_ids.push(id.clone());
                (
                    "trigger-pipeline",
                    repo(json!({
                        "branch": "main",
                        "variables": [{ "key": "BATTERY_ID", "value": id }],
                    })),
                    false,
                )
            }
        };
        tally.calls += 1;
        let outcome = exec_in(sandbox(), &tenant, operation, params).await;
        if is_read {
            tally.reads += 1;
        } else {
            tally.writes += 1;
        }
        match outcome {
            Ok(_) if is_read => tally.reads_ok += 1,
            Ok(_) => tally.writes_ok += 1,
            Err(failure @ Failure::Integration(_)) => {
                let code = failure.code().to_owned();
                let retryable = failure.retryable();
                // A write is retryable only when its answer proves it was
                // not done: of what the plan injects, a 429.
                let may_pass_later = if is_read {
                    matches!(
                        code.as_str(),
                        "upstream_unavailable" | "rate_limited" | "timeout"
                    )
                } else {
                    code == "rate_limited"
                };
                if retryable && !may_pass_later {
                    tally
                        .wrongly_retryable
                        .push(format!("{operation}: {failure}"));
                }
                *tally.errors.entry(code).or_default() += 1;
            }
            Err(other) => tally.untyped.push(format!("{operation}: {other}")),
        }
    }
    let injected = fake.fault_counts();
    fake.set_faults(FaultPlan::new(SEED));

    let duplicates = {
        let world = fake.control();
        let issues = issue_titles
            .iter()
            .filter(|title| world.issues.iter().filter(|i| &i.title == *title).count() > 1)
            .count();
        let runs = trigger_ids
            .iter()
            .filter(|id| {
                world
                    .pipelines
                    .iter()
                    .filter(|p| {
                        p.variables
                            .iter()
                            .any(|v| v.key == "BATTERY_ID" && &v.value == *id)
                    })
                    .count()
                    > 1
            })
            .count();
        issues + runs
    };

    print_table(&tally, &injected, duplicates);
    assert!(
        injected.total() > 0,
        "the plan injected no fault: {injected}"
    );
    assert!(
        tally.untyped.is_empty(),
        "traps or host failures: {:?}",
        tally.untyped
    );
    assert_eq!(duplicates, 0, "a write landed twice");
    assert!(
        tally.wrongly_retryable.is_empty(),
        "failures marked retryable that cannot pass: {:?}",
        tally.wrongly_retryable
    );
}

/// Read calls with params taken from the seed data, each checked to work
/// before any fault is switched on (so a failure later is the fault's).
async fn reads(tenant: &atom_runtime::Tenant) -> Vec<(&'static str, Value)> {
    let first = |operation: &'static str, params: Value| async move {
        exec_in(sandbox(), tenant, operation, params.clone())
            .await
            .unwrap_or_else(|f| panic!("{operation} {params} fails without faults: {f}"))
    };
    let pipelines = first("list-pipelines", repo(json!({}))).await;
    let pipeline = pipelines["items"][0]["uuid"].as_str().unwrap().to_owned();
    let commits = first("list-commits", repo(json!({}))).await;
    let commit = commits["items"][0]["hash"].as_str().unwrap().to_owned();
    let pulls = first("list-pull-requests", repo(json!({}))).await;
    let pull = pulls["items"][0]["id"].clone();
    let repositories = first(
        "list-repositories",
        json!({ "workspace": "acme", "page": { "size": 50 } }),
    )
    .await;
    let second_page = repositories["next_cursor"].clone();
    let issues = first("list-issues", repo(json!({}))).await;
    let issue = issues["items"][0]["id"].clone();

    let reads: Vec<(&'static str, Value)> = vec![
        ("health", json!({})),
        ("get-current-user", json!({})),
        ("list-workspaces", json!({})),
        (
            "list-repositories",
            json!({ "workspace": "acme", "page": { "size": 100 } }),
        ),
        // A later page: where a page repeating the previous one can happen.
        (
            "list-repositories",
            json!({ "workspace": "acme", "page": { "cursor": second_page } }),
        ),
        ("get-repository", repo(json!({}))),
        ("list-branches", repo(json!({}))),
        ("get-branch", repo(json!({ "name": "main" }))),
        ("list-commits", repo(json!({}))),
        ("get-commit", repo(json!({ "commit": commit }))),
        ("list-pull-requests", repo(json!({}))),
        ("get-pull-request", repo(json!({ "id": pull }))),
        ("list-pull-request-comments", repo(json!({ "id": pull }))),
        ("list-pipelines", repo(json!({}))),
        ("get-pipeline", repo(json!({ "pipeline_uuid": pipeline }))),
        (
            "list-pipeline-steps",
            repo(json!({ "pipeline_uuid": pipeline })),
        ),
        ("list-issues", repo(json!({}))),
        ("get-issue", repo(json!({ "id": issue }))),
        ("list-webhooks", repo(json!({}))),
        ("analytics-summary", json!({ "workspace": "atom-labs" })),
    ];
    for (operation, params) in &reads {
        first(operation, params.clone()).await;
    }
    reads
}

fn print_table(tally: &Tally, injected: &fake_bitbucket::FaultCounts, duplicates: usize) {
    let percent = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    println!("\n| battery (seed {SEED:#x}, fault rate {FAULT_RATE}) | value |\n|---|---:|");
    println!("| calls | {} |", tally.calls);
    println!("| faults injected | {} |", injected.total());
    for (kind, count) in &injected.0 {
        println!("| &nbsp;&nbsp;{kind} | {count} |");
    }
    println!(
        "| reads succeeded | {} of {} ({:.1} %) |",
        tally.reads_ok,
        tally.reads,
        percent(tally.reads_ok, tally.reads)
    );
    println!(
        "| writes succeeded | {} of {} |",
        tally.writes_ok, tally.writes
    );
    println!(
        "| typed errors | {} |",
        tally.errors.values().sum::<usize>()
    );
    for (code, count) in &tally.errors {
        println!("| &nbsp;&nbsp;{code} | {count} |");
    }
    println!("| duplicates | {duplicates} |");
    println!("| traps and untyped failures | {} |", tally.untyped.len());
}
