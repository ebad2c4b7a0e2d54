//! Command-line surface: flags, credentials from the environment, output.

use std::process::ExitCode;

use atom_runtime::{InstanceAllocation, Sandbox, Tenant};
use clap::{Parser, Subcommand};

use crate::commands::auth::{AuthCommand, run_auth};
use crate::commands::insights::InsightsArgs;
use crate::commands::keys::{KeysCommand, run_keys};
use crate::commands::merge_waits::MergeWaitsCommand;
use crate::commands::serve::ServeArgs;
use crate::commands::tenants::{TenantsCommand, run_tenants};
use crate::commands::{call, discover};
use crate::output::Output;
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
    /// Delivery insights of a workspace: DORA measures, review flow and
    /// pipelines per repository, and its charts as SVG files (`--charts DIR`).
    Insights(InsightsArgs),
    /// Serve the operations as MCP tools over stdio, for one tenant (an MCP
    /// client starts this; stdout is the protocol's, logs go to stderr).
    Mcp {
        /// List and run only the operations that change nothing.
        #[arg(long)]
        read_only: bool,
    },
    /// Serve the contract over HTTP to the registered tenants.
    // Boxed: serve's flags outweigh every other command's.
    Serve(Box<ServeArgs>),
    /// The tenants the gateway serves and their API keys.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// What gateways wait to merge for a tenant (merge when green).
    #[command(subcommand)]
    MergeWaits(MergeWaitsCommand),
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
        Command::Serve(args) => crate::commands::serve::run(&cli.sandbox, &cli.store, *args).await,
        Command::Tenants(command) => run_tenants(&cli.store, command),
        Command::MergeWaits(command) => {
            crate::commands::merge_waits::run(&cli.store, &cli.sandbox.tenant, command)
        }
        Command::Mcp { read_only } => {
            let sandbox = load(&cli.sandbox, &[], InstanceAllocation::OnDemand)?;
            let tenant = tenant_for_call(&cli.sandbox, &cli.store)?;
            crate::commands::mcp::run(sandbox, tenant, crate::commands::mcp::McpArgs { read_only })
                .await
        }
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
        Command::Operations { output } => discover::operations(sandbox, tenant, output).await,
        Command::Capabilities { output } => discover::capabilities(sandbox, tenant, output).await,
        Command::Call {
            operation,
            params,
            json,
            all,
            output,
        } => {
            let args = call::CallArgs {
                operation,
                params,
                json,
                all,
                output,
            };
            call::run(sandbox, tenant, args).await
        }
        Command::Insights(args) => crate::commands::insights::run(sandbox, tenant, args).await,
        Command::Auth(_)
        | Command::Keys(_)
        | Command::MergeWaits(_)
        | Command::Mcp { .. }
        | Command::Serve(_)
        | Command::Tenants(_) => {
            unreachable!("handled before")
        }
        #[cfg(feature = "demo")]
        Command::Demo { .. } => unreachable!("handled before loading"),
    }
}
