//! `call`: run one operation, or follow a listing to its last page.

use std::process::ExitCode;

use anyhow::bail;
use atom_runtime::{Failure, Sandbox, Tenant, params};

use crate::output::{self, Output};

pub struct CallArgs {
    pub operation: String,
    pub params: Vec<String>,
    pub json: Option<String>,
    pub all: bool,
    pub output: Output,
}

pub async fn run(sandbox: &Sandbox, tenant: &Tenant, args: CallArgs) -> anyhow::Result<ExitCode> {
    let CallArgs {
        operation,
        params,
        json,
        all,
        output,
    } = args;
    let params = match json {
        Some(json) => json,
        None => {
            let schema = parameter_schema(sandbox, tenant, &operation).await?;
            params::from_pairs(&schema, &params)
                .map_err(anyhow::Error::msg)?
                .to_string()
        }
    };
    let outcome = if all {
        let schema = parameter_schema(sandbox, tenant, &operation).await?;
        if schema["properties"].get("page").is_none() {
            bail!("'{operation}' is not a listing: it takes no `page` to follow");
        }
        let params = serde_json::from_str(&params)
            .map_err(|e| anyhow::anyhow!("--json is not JSON: {e}"))?;
        crate::paging::all_items(sandbox, tenant, &operation, params)
            .await?
            .map(serde_json::Value::Array)
    } else {
        sandbox
            .execute(tenant, &operation, &params)
            .await
            .map(|json| serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json)))
    };
    Ok(print_outcome(outcome, output))
}

/// Prints the answer on stdout, or the failure readably on stderr.
pub fn print_outcome(outcome: Result<serde_json::Value, Failure>, output: Output) -> ExitCode {
    match outcome {
        Ok(answer) => {
            output::print(&answer, output);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            let retry = if failure.retryable() {
                " (retryable)"
            } else {
                ""
            };
            eprintln!("error: {}: {}{retry}", failure.code(), failure.message());
            // The operator runs this on their own machine: what a gateway
            // client is never shown helps here.
            if let Some(internals) = failure.internals() {
                eprintln!("{internals}");
            }
            let details = failure.to_json();
            if details.as_object().is_some_and(|o| o.len() > 3) {
                eprintln!(
                    "{}",
                    serde_json::to_string_pretty(&details).unwrap_or_default()
                );
            }
            ExitCode::from(1)
        }
    }
}

async fn parameter_schema(
    sandbox: &Sandbox,
    tenant: &Tenant,
    operation: &str,
) -> anyhow::Result<serde_json::Value> {
    let operations = sandbox.operations(tenant).await?;
    let wanted = operation.replace('_', "-");
    match operations.iter().find(|op| op.name == wanted) {
        Some(op) => Ok(serde_json::from_str(&op.parameters_schema)?),
        None => bail!("unknown operation '{operation}'; `atom-harness operations` lists them"),
    }
}
