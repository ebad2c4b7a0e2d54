//! `atom-harness demo`: the bundled component, in the sandbox, against the
//! embedded fake Bitbucket on loopback. Nothing leaves the machine.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{InstanceAllocation, MemoryCredentialStore, Sandbox, Tenant};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};
use serde_json::{Value, json};

use crate::setup::{SandboxArgs, configured_tenant, load};

pub async fn run(args: &SandboxArgs, serve: bool) -> anyhow::Result<ExitCode> {
    let fake = FakeBitbucket::start()
        .await
        .context("starting the fake Bitbucket")?;
    // Webhooks created from the page point at receivers on this machine.
    fake.control().allow_loopback_webhooks = true;
    let fake_host = fake.addr().to_string();
    let sandbox = load(
        args,
        std::slice::from_ref(&fake_host),
        InstanceAllocation::OnDemand,
    )?;
    let tenant = configured_tenant(args, Arc::new(MemoryCredentialStore::default()))?
        .with_config("api-base-url", fake.api_base_url())
        .with_config("oauth-base-url", fake.base_url())
        .with_config("merge-poll-ms", "50");
    tenant.set_credential(CredentialSecret::AccessToken(ADA_TOKEN.to_owned()))?;

    println!(
        "Fake Bitbucket Cloud listening on {} (loopback only)\n",
        fake.base_url()
    );
    let demo = Demo {
        sandbox: &sandbox,
        tenant: &tenant,
    };

    let info = sandbox.capabilities(&tenant).await?;
    let operations = sandbox.operations(&tenant).await?;
    println!(
        "Component: {} {}, {} operations\n",
        info.name,
        info.version,
        operations.len()
    );

    let health = demo.step("health", json!({})).await?;
    println!("  status: {}, {}\n", health["status"], health["message"]);

    let me = demo.step("get-current-user", json!({})).await?;
    println!("  {} ({})\n", me["display_name"], me["uuid"]);

    let workspaces = demo.step("list-workspaces", json!({})).await?;
    for w in items(&workspaces) {
        println!(
            "  {:<12} {:<20} admin: {}",
            w["slug"].as_str().unwrap_or(""),
            w["name"].as_str().unwrap_or(""),
            w["administrator"]
        );
    }
    println!();

    println!("Every repository of 'acme', following the cursor page by page:");
    let (mut cursor, mut seen, mut page) = (None::<String>, HashSet::new(), 0);
    loop {
        page += 1;
        let params = json!({ "workspace": "acme", "page": { "size": 100, "cursor": cursor } });
        let answer = demo.quiet("list-repositories", params).await?;
        let names: Vec<&str> = items(&answer)
            .iter()
            .filter_map(|r| r["slug"].as_str())
            .collect();
        seen.extend(names.iter().map(|n| n.to_string()));
        println!(
            "  page {page}: {:>3} repositories  {} … {}",
            names.len(),
            names.first().unwrap_or(&""),
            names.last().unwrap_or(&"")
        );
        cursor = answer["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    println!("  {} distinct repositories in {page} pages\n", seen.len());

    let filtered = demo
        .step("list-repositories", json!({ "workspace": "acme", "page": { "q": "name ~ \"api\" AND language = \"rust\"", "sort": "-updated_on", "size": 5 } }))
        .await?;
    for r in items(&filtered) {
        println!(
            "  {:<22} {:<8} updated {}",
            r["slug"].as_str().unwrap_or(""),
            r["language"].as_str().unwrap_or(""),
            r["updated_on"].as_str().unwrap_or("")
        );
    }
    println!();

    let repo = demo
        .step(
            "get-repository",
            json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin" }),
        )
        .await?;
    println!(
        "  {} — {} (main branch: {})\n",
        repo["full_name"], repo["description"], repo["main_branch"]
    );

    println!("A repository that does not exist answers a typed error:");
    demo.show_failure(
        "get-repository",
        json!({ "workspace": "acme", "repo_slug": "no-such-repo" }),
    )
    .await;
    println!();

    workflow(&demo, &sandbox, &fake).await?;

    if serve {
        println!("\nThe fake keeps running. From another terminal, for example:\n");
        println!(
            "  BITBUCKET_ACCESS_TOKEN={ADA_TOKEN} cargo run -q -p atom-harness -- --allow-host {fake_host} \\\n    --config api-base-url={} call list-repositories workspace=atom-labs",
            fake.api_base_url()
        );
        crate::demo_page::serve(sandbox.clone(), &tenant).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A change from branch to production: pull request, review by a second
/// tenant, merge, pipeline, log.
async fn workflow(demo: &Demo<'_>, sandbox: &Sandbox, fake: &FakeBitbucket) -> anyhow::Result<()> {
    let repo = json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin" });
    let with = |extra: Value| {
        let mut params = repo.clone();
        params
            .as_object_mut()
            .expect("an object")
            .extend(extra.as_object().cloned().unwrap_or_default());
        params
    };
    println!("A change, start to finish, on atom-labs/bitbucket-plugin:\n");
    let branches = demo
        .step(
            "list-branches",
            with(json!({ "page": { "q": "name ~ \"feature/\"" } })),
        )
        .await?;
    for b in items(&branches) {
        println!(
            "  {:<22} {}",
            b["name"].as_str().unwrap_or(""),
            &b["target_hash"].as_str().unwrap_or("")
                [..12.min(b["target_hash"].as_str().unwrap_or("").len())]
        );
    }
    let pr = demo
        .step(
            "create-pull-request",
            with(json!({ "title": "Log in with Bitbucket", "source_branch": "feature/login", "destination_branch": "main", "close_source_branch": true })),
        )
        .await?;
    let id = pr["id"].as_u64().unwrap_or_default();
    println!(
        "  #{id} {} ({} → {}), {}\n",
        pr["title"], pr["source_branch"], pr["destination_branch"], pr["state"]
    );

    // Grace reviews from her own tenant: same sandbox, another credential.
    let grace = Tenant::new("grace", Arc::new(MemoryCredentialStore::default()))
        .with_config("api-base-url", fake.api_base_url())
        .with_config("merge-poll-ms", "50");
    grace.set_credential(CredentialSecret::AccessToken(
        fake_bitbucket::GRACE_TOKEN.to_owned(),
    ))?;
    let reviewer = Demo {
        sandbox,
        tenant: &grace,
    };
    let approval = reviewer
        .step("approve-pull-request", with(json!({ "id": id })))
        .await?;
    println!(
        "  {} approved: {}\n",
        approval["user"]["display_name"], approval["approved"]
    );

    let merged = demo.step("merge-pull-request", with(json!({ "id": id, "strategy": "squash", "message": format!("Log in with Bitbucket (#{id})") }))).await?;
    println!(
        "  #{id} is {} as {}\n",
        merged["state"], merged["merge_commit"]
    );

    let run = demo
        .step("trigger-pipeline", with(json!({ "branch": "main", "variables": [{ "key": "DEPLOY_ENV", "value": "staging" }] })))
        .await?;
    let uuid = run["uuid"].as_str().unwrap_or_default().to_owned();
    println!("  build #{} {}", run["build_number"], run["status"]);
    let mut status = run["status"].as_str().unwrap_or_default().to_owned();
    for _ in 0..20 {
        if !matches!(status.as_str(), "pending" | "running" | "paused") {
            break;
        }
        let now = demo
            .quiet("get-pipeline", with(json!({ "pipeline_uuid": uuid })))
            .await?;
        status = now["status"].as_str().unwrap_or_default().to_owned();
        println!(
            "  build #{} {}{}",
            now["build_number"],
            status,
            now["duration_seconds"]
                .as_u64()
                .map(|d| format!(" in {d} s"))
                .unwrap_or_default()
        );
    }
    println!();
    let steps = demo
        .step(
            "list-pipeline-steps",
            with(json!({ "pipeline_uuid": uuid })),
        )
        .await?;
    for step in items(&steps) {
        println!(
            "  {:<10} {}",
            step["name"].as_str().unwrap_or(""),
            step["status"].as_str().unwrap_or("")
        );
    }
    if let Some(step) = items(&steps).first() {
        let log = demo
            .step("get-step-log", with(json!({ "pipeline_uuid": uuid, "step_uuid": step["uuid"], "range_start": 0, "range_end": 399 })))
            .await?;
        println!(
            "  first {} of {} bytes:",
            log["content"].as_str().unwrap_or("").len(),
            log["total_size"]
        );
        for line in log["content"].as_str().unwrap_or("").lines().take(6) {
            println!("  | {line}");
        }
    }
    Ok(())
}

struct Demo<'a> {
    sandbox: &'a Sandbox,
    tenant: &'a Tenant,
}

impl Demo<'_> {
    async fn step(&self, operation: &str, params: Value) -> anyhow::Result<Value> {
        println!("$ atom-harness call {operation}{}", cli_args(&params, ""));
        self.quiet(operation, params).await
    }

    async fn quiet(&self, operation: &str, params: Value) -> anyhow::Result<Value> {
        let answer = self
            .sandbox
            .execute(self.tenant, operation, &params.to_string())
            .await?;
        Ok(serde_json::from_str(&answer)?)
    }

    async fn show_failure(&self, operation: &str, params: Value) {
        println!("$ atom-harness call {operation}{}", cli_args(&params, ""));
        match self
            .sandbox
            .execute(self.tenant, operation, &params.to_string())
            .await
        {
            Ok(_) => println!("  (unexpectedly succeeded)"),
            Err(failure) => println!("  error: {}: {}", failure.code(), failure.message()),
        }
    }
}

fn items(page: &Value) -> &[Value] {
    page["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The `key=value` form of `params`, as a user would type it.
fn cli_args(params: &Value, prefix: &str) -> String {
    let Some(map) = params.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::Object(_) => cli_args(v, &format!("{prefix}{k}.")),
            Value::Array(_) => format!(" '{prefix}{k}:={v}'"),
            Value::String(s) if s.contains([' ', '"']) => format!(" '{prefix}{k}={s}'"),
            Value::String(s) => format!(" {prefix}{k}={s}"),
            other => format!(" {prefix}{k}={other}"),
        })
        .collect()
}
