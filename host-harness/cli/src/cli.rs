//! Command-line surface: flags, credentials from the environment, output.

use std::process::ExitCode;

use anyhow::bail;
use atom_runtime::{Failure, InstanceAllocation, Sandbox, Tenant, params, wire};
use clap::{Parser, Subcommand};

use crate::commands::auth::{AuthCommand, KeysCommand, run_auth, run_keys};
use crate::commands::serve::ServeArgs;
use crate::commands::tenants::{TenantsCommand, run_tenants};
use crate::output::{self, Output};
use crate::setup::{SandboxArgs, StoreArgs, load, tenant_for_call};

#[derive(Parser)]
#[command(
    name = "atom-harness",
    version,
    about = "Run an ATOM integration component in a Wasmtime sandbox"
)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the component's operations.
    Operations {
        /// `json` prints everything, schemas included.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Print the component's capabilities.
    Capabilities {
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Run one operation: `call list-repositories workspace=acme page.size=20`.
    Call {
        operation: String,
        /// Parameters as `key=value` (`page.size=20`, `states=open,merged`, `key:=<json>`).
        params: Vec<String>,
        /// Parameters as one JSON object instead.
        #[arg(long, conflicts_with = "params")]
        json: Option<String>,
        /// Follow a listing's cursors to the last page and print every item
        /// as one JSON array (progress on stderr).
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Serve the contract over HTTP to the registered tenants.
    Serve(ServeArgs),
    /// The tenants the gateway serves and their API keys.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Credentials of a tenant in the encrypted store.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// The keys that seal the credential store.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Start the embedded fake Bitbucket and walk through the integration against it.
    #[cfg(feature = "demo")]
    Demo {
        /// Then keep the fake running and serve the integration page in
        /// front of it on 127.0.0.1:8080, printing the URL and a key.
        #[arg(long)]
        serve: bool,
    },
}

pub async fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { serve } => crate::commands::demo::run(&cli.sandbox, serve).await,
        Command::Keys(command) => run_keys(&cli.store, command),
        Command::Serve(args) => crate::commands::serve::run(&cli.sandbox, &cli.store, args).await,
        Command::Tenants(command) => run_tenants(&cli.store, command),
        Command::Auth(command) => {
            let sandbox = load(&cli.sandbox, &[], InstanceAllocation::OnDemand)?;
            run_auth(&sandbox, &cli.sandbox, &cli.store, command).await
        }
        command => {
            let sandbox = load(&cli.sandbox, &[], InstanceAllocation::OnDemand)?;
            let tenant = tenant_for_call(&cli.sandbox, &cli.store)?;
            run_command(&sandbox, &tenant, command).await
        }
    }
}

async fn run_command(
    sandbox: &Sandbox,
    tenant: &Tenant,
    command: Command,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Operations { output } => {
            let operations = sandbox.operations(tenant).await?;
            match output {
                Output::Json => output::print(&wire::operations(&operations), output),
                Output::Table => println!("{}", operations_table(&operations)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Capabilities { output } => {
            let capabilities = sandbox.capabilities(tenant).await?;
            output::print(&wire::capabilities(&capabilities), output);
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            operation,
            params,
            json,
            all,
            output,
        } => {
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
                    .map(|json| {
                        serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json))
                    })
            };
            Ok(print_outcome(outcome, output))
        }
        Command::Auth(_) | Command::Keys(_) | Command::Serve(_) | Command::Tenants(_) => {
            unreachable!("handled before")
        }
        #[cfg(feature = "demo")]
        Command::Demo { .. } => unreachable!("handled before loading"),
    }
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

fn operations_table(operations: &[atom_runtime::contract::Operation]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(["operation", "complexity", "description"]);
    for op in operations {
        table.add_row([
            op.name.as_str(),
            wire::complexity_name(op.complexity),
            op.description.as_str(),
        ]);
    }
    table
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
