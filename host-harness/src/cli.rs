//! Command-line surface: flags, credentials from the environment, output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use atom_harness::host_types::{ApiToken, CredentialSecret};
use atom_harness::{
    Allowlist, CredentialStore, Failure, Limits, MemoryCredentialStore, Sandbox, Tenant, params,
    wire,
};
use clap::{Args, Parser, Subcommand};

use crate::auth_cli::{
    AuthCommand, KeysCommand, StoreArgs, oauth_client_from_env, open_store, run_auth, run_keys,
};

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

#[derive(Args)]
pub struct SandboxArgs {
    /// The component to load (default: the bundled Bitbucket build).
    #[arg(long, env = "ATOM_COMPONENT", global = true)]
    component: Option<PathBuf>,
    /// Hosts the component may reach, `host` or `host:port` (repeatable).
    #[arg(long = "allow-host", value_name = "HOST", global = true, default_values_t = ["api.bitbucket.org".to_string(), "bitbucket.org".to_string()])]
    allow_hosts: Vec<String>,
    /// Linear memory cap per call, in MiB.
    #[arg(long, default_value_t = 64, global = true)]
    memory_mib: usize,
    /// Deadline per call, in seconds.
    #[arg(long, default_value_t = 60, global = true)]
    timeout_secs: u64,
    /// Tenant the call runs for.
    #[arg(long, default_value = "default", global = true)]
    tenant: String,
    /// Non-secret connection setting for the component, `key=value` (repeatable),
    /// e.g. `api-base-url=https://api.bitbucket.org/2.0`.
    #[arg(long = "config", value_name = "KEY=VALUE", global = true)]
    config: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// List the component's operations.
    Operations {
        /// Print the full JSON, schemas included.
        #[arg(long)]
        json: bool,
    },
    /// Print the component's capabilities.
    Capabilities,
    /// Run one operation: `call list-repositories workspace=acme page.size=20`.
    Call {
        operation: String,
        /// Parameters as `key=value` (`page.size=20`, `states=open,merged`, `key:=<json>`).
        params: Vec<String>,
        /// Parameters as one JSON object instead.
        #[arg(long, conflicts_with = "params")]
        json: Option<String>,
    },
    /// Serve the contract over HTTP for every tenant in the store.
    Serve {
        /// Where to listen; keep it on loopback or behind the platform's authentication.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Credentials of a tenant in the encrypted store.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// The keys that seal the credential store.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Start the embedded fake Bitbucket and walk through the integration against it.
    #[cfg(feature = "demo")]
    Demo {
        /// Keep the fake running afterwards and print how to call it.
        #[arg(long)]
        serve: bool,
    },
}

pub async fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo { serve } => crate::demo::run(&cli.sandbox, serve).await,
        Command::Keys(command) => run_keys(&cli.store, command),
        Command::Serve { listen } => serve(&cli.sandbox, &cli.store, listen).await,
        Command::Auth(command) => {
            let sandbox = load(&cli.sandbox, &[])?;
            run_auth(&sandbox, &cli.sandbox, &cli.store, command).await
        }
        command => {
            let sandbox = load(&cli.sandbox, &[])?;
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
        Command::Operations { json } => {
            let operations = sandbox.operations(tenant).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&wire::operations(&operations))?
                );
            } else {
                for op in operations {
                    println!(
                        "{:<28} {:<9} {}",
                        op.name,
                        wire::complexity_name(op.complexity),
                        op.description
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Capabilities => {
            println!(
                "{}",
                serde_json::to_string_pretty(&wire::capabilities(
                    &sandbox.capabilities(tenant).await?
                ))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            operation,
            params,
            json,
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
            Ok(print_outcome(
                sandbox.execute(tenant, &operation, &params).await,
            ))
        }
        Command::Auth(_) | Command::Keys(_) | Command::Serve { .. } => {
            unreachable!("handled before")
        }
        #[cfg(feature = "demo")]
        Command::Demo { .. } => unreachable!("handled before loading"),
    }
}

/// Prints the answer as JSON on stdout, or the failure readably on stderr.
pub fn print_outcome(outcome: Result<String, Failure>) -> ExitCode {
    match outcome {
        Ok(json) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&json)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(json);
            println!("{pretty}");
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

/// Loads the component with the flags' limits and allowlist plus `extra_hosts`.
pub fn load(args: &SandboxArgs, extra_hosts: &[String]) -> anyhow::Result<Sandbox> {
    let path = match &args.component {
        Some(path) => path.clone(),
        None => default_component()?,
    };
    let limits = Limits {
        memory_bytes: args.memory_mib << 20,
        call_timeout: Duration::from_secs(args.timeout_secs),
    };
    let hosts = args.allow_hosts.iter().chain(extra_hosts);
    Sandbox::load(&path, Allowlist::new(hosts), limits)
}

#[cfg(feature = "demo")]
fn default_component() -> anyhow::Result<PathBuf> {
    Ok(atom_bitbucket_artifact::component_path().to_path_buf())
}

#[cfg(not(feature = "demo"))]
fn default_component() -> anyhow::Result<PathBuf> {
    bail!("no --component given (this build bundles none)")
}

/// A tenant with the flags' settings and the operator's OAuth consumer.
pub fn configured_tenant(
    args: &SandboxArgs,
    credentials: Arc<dyn CredentialStore>,
) -> anyhow::Result<Tenant> {
    let mut tenant = Tenant::new(args.tenant.clone(), credentials);
    for setting in &args.config {
        let (key, value) = setting
            .split_once('=')
            .with_context(|| format!("--config '{setting}' is not key=value"))?;
        tenant = tenant.with_config(key.trim(), value.trim());
    }
    if let Some(client) = oauth_client_from_env(None) {
        tenant = tenant.with_oauth_client(client);
    }
    Ok(tenant)
}

/// The tenant of a CLI call: a credential from the environment
/// (`BITBUCKET_ACCESS_TOKEN`, or `BITBUCKET_EMAIL` with `BITBUCKET_API_TOKEN`)
/// held in memory for this process only, else the encrypted store when it
/// exists, else none.
pub fn tenant_for_call(args: &SandboxArgs, store: &StoreArgs) -> anyhow::Result<Tenant> {
    if let Some(secret) = secret_from_env()? {
        let tenant = configured_tenant(args, Arc::new(MemoryCredentialStore::default()))?;
        tenant.set_credential(secret)?;
        return Ok(tenant);
    }
    if store.store.exists() {
        return configured_tenant(args, open_store(store)?);
    }
    configured_tenant(args, Arc::new(MemoryCredentialStore::default()))
}

fn secret_from_env() -> anyhow::Result<Option<CredentialSecret>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Ok(
        match (
            env("BITBUCKET_ACCESS_TOKEN"),
            env("BITBUCKET_EMAIL"),
            env("BITBUCKET_API_TOKEN"),
        ) {
            (Some(token), _, _) => Some(CredentialSecret::AccessToken(token)),
            (None, Some(email), Some(token)) => {
                Some(CredentialSecret::ApiToken(ApiToken { email, token }))
            }
            (None, None, Some(_)) => {
                bail!("BITBUCKET_API_TOKEN needs BITBUCKET_EMAIL (the Atlassian account e-mail)")
            }
            _ => None,
        },
    )
}

/// `atom-harness serve`: the gateway, with tenants from the encrypted store.
/// A tenant is built once and kept, so its credential lock and pending OAuth
/// states are shared by all of its requests.
async fn serve(
    args: &SandboxArgs,
    store: &StoreArgs,
    listen: std::net::SocketAddr,
) -> anyhow::Result<ExitCode> {
    let sandbox = load(args, &[])?;
    let credentials: Arc<dyn CredentialStore> = open_store(store)?;
    let discovery = configured_tenant(args, Arc::new(MemoryCredentialStore::default()))?;
    let template = configured_tenant(args, credentials)?;
    let known = std::sync::Mutex::new(std::collections::HashMap::<String, Tenant>::new());
    let resolver: atom_harness::gateway::TenantResolver = Arc::new(move |name: &str| {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !valid {
            return None;
        }
        let mut known = known.lock().ok()?;
        Some(
            known
                .entry(name.to_owned())
                .or_insert_with(|| template.for_id(name))
                .clone(),
        )
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("atom-harness gateway on http://{}", listener.local_addr()?);
    axum::serve(
        listener,
        atom_harness::gateway::router(sandbox, resolver, discovery),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
