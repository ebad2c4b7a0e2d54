//! `demo --serve`: the gateway and its page on loopback, in front of the
//! embedded fake, with one tenant whose key is printed, so a person can
//! open the page and use every tab. The registry lives in a scratch
//! directory removed on exit; the credential stays in memory.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use atom_gateway::{self, GatewayConfig, KeyVerifier, ServerLimits};
use atom_runtime::{Sandbox, Tenant};
use atom_store::{SqliteTenantRegistry, SqliteWaitBook, TenantRegistry as _};

/// Where the page is served, unless the port is taken.
const PREFERRED: &str = "127.0.0.1:8080";

pub async fn serve(sandbox: Sandbox, tenant: &Tenant) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("atom-demo-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let outcome = serve_from(&scratch, sandbox, tenant).await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

async fn serve_from(
    scratch: &std::path::Path,
    sandbox: Sandbox,
    tenant: &Tenant,
) -> anyhow::Result<()> {
    let registry = Arc::new(SqliteTenantRegistry::open(&scratch.join("demo.sqlite3"))?);
    let key = registry.add(&tenant.id)?;
    let app = atom_gateway::router(
        sandbox,
        registry as Arc<dyn KeyVerifier>,
        tenant.clone(),
        GatewayConfig::default(),
        Some(Arc::new(SqliteWaitBook::open(
            &scratch.join("demo.sqlite3"),
        )?)),
    );
    let listener = match tokio::net::TcpListener::bind(PREFERRED).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr: SocketAddr = listener.local_addr().context("the page's address")?;
    println!("\nThe integration page, against the fake: open http://{addr}/");
    println!(
        "and sign in with tenant '{}' and its API key:\n\n  {}\n",
        key.tenant,
        key.key.as_str()
    );
    println!("Press Ctrl-C to stop.");
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    atom_gateway::serve(listener, app, None, ServerLimits::default(), stop).await?;
    Ok(())
}
