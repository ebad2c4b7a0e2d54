//! `atom-harness serve`: the gateway, for the tenants in the registry.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use atom_gateway::{
    self, AdmissionLimits, GatewayConfig, HostAllowlist, KeyVerifier, ServerLimits, Shared,
};
use atom_gateway::{Operator, webhook_secret_id};
use atom_runtime::{InstanceAllocation, RememberedCredentials};
use clap::Args;

use crate::setup::{SandboxArgs, StoreArgs, configured_tenant, load, open_registry, open_stores};

/// The operator API's credential; without it the API is off.
const OPERATOR_TOKEN_ENV: &str = "ATOM_OPERATOR_TOKEN";

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Listen beyond loopback. Needs at least one tenant with a working key.
    #[arg(long)]
    allow_remote: bool,
    /// A name clients reach the gateway by, besides loopback's (repeatable);
    /// any other `Host` or `Origin` is refused.
    #[arg(long = "public-host", value_name = "NAME")]
    public_hosts: Vec<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Memory all calls together may use, in MiB: with --memory-mib it sets
    /// how many calls run at once, and so the size of the instance pool.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    memory_budget_mib: u64,
    /// Calls one tenant may run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_calls_per_tenant: u64,
    /// How long a call waits for a slot before 429/503, in milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    queue_wait_ms: u64,
    /// Connections open at once.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_connections: u64,
    /// Connections open at once from one client address (an IPv6 client's
    /// /64); more are closed unserved. Behind a proxy every client shares its
    /// address: raise this to --max-connections there.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_connections_per_client: u64,
    /// Seconds a response write may make no progress before the connection
    /// is closed: a client that stops reading is cut off.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    write_timeout_secs: u64,
    /// `GET /bitbucket/events` streams one tenant may hold open; more are
    /// refused with 429.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_streams_per_tenant: u64,
    /// Seconds a client gets to send a request's headers, and a kept-alive
    /// connection may sit idle.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    header_timeout_secs: u64,
    /// Seconds a client gets to send a request's body.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    body_timeout_secs: u64,
    /// Each tenant's upstream requests per hour (default: Bitbucket's
    /// published budget, from the component). Calls beyond it are answered
    /// `rate_limited` with the wait, without spending Bitbucket's budget.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    upstream_budget_per_hour: Option<u32>,
    /// Seconds a read's answer is reused for the same tenant (0: off).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    cache_ttl_secs: u64,
    /// Seconds an analysis's answer (delivery insights, the workspace
    /// summary) is reused: each costs many upstream requests [never
    /// shorter than --cache-ttl-secs].
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    analysis_cache_ttl_secs: u64,
    /// Also POST every accepted webhook event here (ATOM's intake), with retries.
    #[arg(long, value_name = "URL")]
    forward_events_to: Option<hyper::Uri>,
    /// Largest request body, in KiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_body_kib: u64,
    /// Browser sessions one tenant keeps open at once; opening one more
    /// closes that tenant's oldest, never another tenant's.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    max_sessions_per_tenant: u16,
    /// Seconds between looks at every merge-when-green wait that no webhook
    /// delivery woke (a delivery wakes its own at once).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    merge_poll_secs: u64,
    /// The deployment's Redis (`redis://[:password@]host:port/db`): browser
    /// sessions, OAuth logins, the webhook replay set, the upstream budget,
    /// call slots and event fan-out are shared there by every replica.
    /// Without it they live in this process.
    #[arg(long, env = "ATOM_REDIS", value_name = "URL", hide_env_values = true)]
    redis: Option<String>,
    /// What every Redis key of this deployment starts with, so deployments
    /// can share one Redis.
    #[arg(long, env = "ATOM_REDIS_PREFIX", default_value = "atom")]
    redis_prefix: String,
}

pub async fn run(
    sandbox: &SandboxArgs,
    store: &StoreArgs,
    args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    // The registry alone first: refusing to listen needs no credential keys.
    let has_keys = open_registry(store)?.has_active_keys()?;
    if !args.listen.ip().is_loopback() {
        if !args.allow_remote {
            bail!(
                "{} is beyond loopback: pass --allow-remote to serve there (with TLS or behind a TLS proxy)",
                args.listen
            );
        }
        if !has_keys {
            bail!("no tenant has a working API key: `atom-harness tenants add <name>` first");
        }
    }
    let stores = open_stores(store)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(atom_gateway::tls_acceptor(cert, key)?),
        _ => None,
    };
    let mut config = gateway_config(sandbox, &args, tls.is_some());
    if let Some(url) = &args.redis {
        config.shared = Some(
            Shared::connect(url, &args.redis_prefix)
                .await
                .context("connecting to --redis")?,
        );
    }
    if let Some(token) = env_value(OPERATOR_TOKEN_ENV) {
        let operator = Operator::new(
            &token,
            stores.tenants.clone(),
            stores.credentials.clone(),
            webhook_secret_id,
        )
        .map_err(|problem| anyhow::anyhow!("{OPERATOR_TOKEN_ENV}: {problem}"))?;
        config.operator = Some(operator);
    }
    let allocation = allocation_for(config.admission.max_calls);
    let app = atom_gateway::router(
        load(sandbox, &[], allocation)?,
        Arc::new(stores.tenants) as Arc<dyn KeyVerifier>,
        // Every call reads its tenant's credential: remembered until the
        // store says it may have changed.
        configured_tenant(
            sandbox,
            Arc::new(RememberedCredentials::new(stores.credentials)),
        )?,
        config,
        Some(stores.waits),
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "atom-harness gateway on {scheme}://{}",
        listener.local_addr()?
    );
    if !has_keys {
        eprintln!(
            "no tenant has an API key yet: every call is refused until `atom-harness tenants add <name>`"
        );
    }
    let limits = ServerLimits {
        max_connections: args.max_connections as usize,
        max_connections_per_client: args.max_connections_per_client as usize,
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
        ..ServerLimits::default()
    };
    atom_gateway::serve(listener, app, tls, limits, shutdown_signal()).await?;
    eprintln!("atom-harness gateway stopped");
    Ok(ExitCode::SUCCESS)
}

/// Pooled instances for a gateway that admits `max_calls` at once: a slot
/// for each, and for discovery, which runs outside admission. A call beyond
/// the pool would fail to instantiate, so the pool is never smaller than
/// admission; past [`MAX_POOLED_CALLS`] (each slot reserves its memory's
/// address space up front) instances are allocated per call instead.
fn allocation_for(max_calls: usize) -> InstanceAllocation {
    const DISCOVERY: usize = 1;
    if max_calls > MAX_POOLED_CALLS {
        return InstanceAllocation::OnDemand;
    }
    InstanceAllocation::Pooling {
        instances: (max_calls + DISCOVERY) as u32,
    }
}

/// The largest pool `serve` reserves.
const MAX_POOLED_CALLS: usize = 1024;

fn gateway_config(sandbox: &SandboxArgs, args: &ServeArgs, tls: bool) -> GatewayConfig {
    let mut hosts: Vec<String> = HostAllowlist::loopback().names().to_vec();
    hosts.extend(args.public_hosts.iter().cloned());
    if !args.listen.ip().is_unspecified() {
        hosts.push(match args.listen {
            SocketAddr::V4(addr) => addr.ip().to_string(),
            SocketAddr::V6(addr) => format!("[{}]", addr.ip()),
        });
    }
    // Each call may grow to --memory-mib; the budget bounds them together.
    let max_calls = (args.memory_budget_mib / sandbox.memory_mib).max(1) as usize;
    GatewayConfig {
        hosts: HostAllowlist::new(hosts),
        admission: AdmissionLimits {
            max_calls,
            max_calls_per_tenant: (args.max_calls_per_tenant as usize).min(max_calls),
            queue_wait: Duration::from_millis(args.queue_wait_ms),
        },
        secure_cookies: tls,
        max_body_bytes: (args.max_body_kib as usize) << 10,
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        upstream_budget_per_hour: args.upstream_budget_per_hour.and_then(NonZeroU32::new),
        cache_ttl: Duration::from_secs(args.cache_ttl_secs),
        analysis_cache_ttl: Duration::from_secs(args.analysis_cache_ttl_secs),
        forward_events_to: args.forward_events_to.clone(),
        max_sessions_per_tenant: args.max_sessions_per_tenant.into(),
        max_streams_per_tenant: args.max_streams_per_tenant as usize,
        merge_poll_every: Duration::from_secs(args.merge_poll_secs),
        // A shared slot outlives a replica that died holding it by at most
        // one call's deadline, plus the time to notice.
        call_slot_lease: Duration::from_secs(sandbox.timeout_secs + 10),
        metrics_token: env_value("ATOM_METRICS_TOKEN"),
        ..GatewayConfig::default()
    }
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("shutting down: finishing calls in flight");
}
