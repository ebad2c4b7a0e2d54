//! `atom-harness demo`: the bundled component, in the sandbox, against the
//! embedded fake Bitbucket on loopback. Nothing leaves the machine.

use std::collections::HashSet;
use std::process::ExitCode;

use anyhow::Context;
use atom_harness::host_types::CredentialSecret;
use atom_harness::{Sandbox, Tenant};
use fake_bitbucket::{ADA_TOKEN, FakeBitbucket};
use serde_json::{Value, json};

use crate::cli::{SandboxArgs, load, tenant_from_env};

pub async fn run(args: &SandboxArgs, serve: bool) -> anyhow::Result<ExitCode> {
    let fake = FakeBitbucket::start()
        .await
        .context("starting the fake Bitbucket")?;
    let fake_host = fake.addr().to_string();
    let sandbox = load(args, std::slice::from_ref(&fake_host))?;
    let tenant = tenant_from_env(args)?
        .with_config("api-base-url", fake.api_base_url())
        .with_config("oauth-base-url", fake.base_url());
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
    let ready = operations.iter().filter(|o| o.implemented).count();
    println!(
        "Component: {} {} — {ready} of {} operations implemented\n",
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

    if serve {
        println!("\nThe fake keeps running. In another terminal, for example:\n");
        println!(
            "  BITBUCKET_ACCESS_TOKEN={ADA_TOKEN} cargo run -q -p atom-harness -- --allow-host {fake_host} \\\n    --config api-base-url={} call list-repositories workspace=atom-labs\n",
            fake.api_base_url()
        );
        println!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
    }
    Ok(ExitCode::SUCCESS)
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
            Value::String(s) if s.contains([' ', '"']) => format!(" '{prefix}{k}={s}'"),
            Value::String(s) => format!(" {prefix}{k}={s}"),
            other => format!(" {prefix}{k}={other}"),
        })
        .collect()
}
