//! `atom-harness merge-waits …`: what a gateway waits to merge for a
//! tenant (merge when green), read from and cancelled in the store that
//! every gateway process of the deployment shares.

use std::process::ExitCode;

use atom_store::{Wait, WaitState};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::output::{self, Output};
use crate::setup::StoreArgs;

/// The store's name for merge-when-green waits (the gateway's `KIND`).
const KIND: &str = "merge-when-green";

#[derive(Subcommand)]
pub enum MergeWaitsCommand {
    /// The tenant's (`--tenant`) waits: those still waiting and those that
    /// ended in the last week, newest first.
    List {
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Cancel one of the tenant's waits; a finished one stays as it ended.
    Cancel { id: String },
}

pub fn run(
    store: &StoreArgs,
    tenant: &str,
    command: MergeWaitsCommand,
) -> anyhow::Result<ExitCode> {
    let book = crate::setup::open_waits(store)?;
    match command {
        MergeWaitsCommand::List { output } => {
            let rows: Vec<Value> = book
                .list(tenant)?
                .iter()
                .filter(|w| w.kind == KIND)
                .map(row)
                .collect();
            output::print(&Value::Array(rows), output);
        }
        MergeWaitsCommand::Cancel { id } => match book.cancel(tenant, &id)? {
            Some(wait) if wait.kind == KIND => {
                if wait.state == WaitState::Cancelled {
                    println!("merge wait {id} cancelled");
                } else {
                    println!("merge wait {id} had already ended: {}", wait.state.as_str());
                }
            }
            _ => anyhow::bail!("tenant '{tenant}' has no merge wait {id}"),
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn row(wait: &Wait) -> Value {
    let request: Value = serde_json::from_str(&wait.request).unwrap_or_default();
    let last: Value = wait
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    json!({
        "id": wait.id,
        "pull_request": format!("{}/{}#{}",
            request["workspace"].as_str().unwrap_or_default(),
            request["repo_slug"].as_str().unwrap_or_default(),
            request["id"]),
        "state": wait.state.as_str(),
        "blockers": last["blockers"],
        "checks": wait.checks,
        "deadline": wait.deadline,
    })
}
