//! What every command sets up the same way: the sandbox from its flags, the
//! credential store and its keys, the tenant a call runs for.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use atom_runtime::host_types::{ApiToken, CredentialSecret};
use atom_runtime::{
    Allowlist, CredentialStore, InstanceAllocation, Limits, MemoryCredentialStore, OauthClient,
    Sandbox, Tenant,
};
use atom_store::{
    DEFAULT_CONNECTION, KEYS_ENV, Keyring, PgCredentialStore, PgTenantRegistry, PgWaitBook,
    SealedCredentials, SqliteCredentialStore, SqliteTenantRegistry, SqliteWaitBook, TenantRegistry,
    WaitBook, migrated_pool, open_postgres,
};
use clap::Args;

/// Linear memory a call may grow to: above this a 64-bit host would still
/// cope, but no integration call needs it and a typo should not pass.
const MAX_MEMORY_MIB: u64 = 4096;
/// A call's deadline: long enough for a slow merge, short enough to notice.
const MAX_TIMEOUT_SECS: u64 = 3600;

#[derive(Args)]
pub struct SandboxArgs {
    /// The component to load (default: the bundled Bitbucket build).
    #[arg(long, env = "ATOM_COMPONENT", global = true)]
    pub component: Option<PathBuf>,
    /// Hosts the component may reach, `host` or `host:port` (repeatable).
    #[arg(long = "allow-host", value_name = "HOST", global = true, default_values_t = ["api.bitbucket.org".to_string(), "bitbucket.org".to_string()])]
    pub allow_hosts: Vec<String>,
    /// Linear memory cap per call, in MiB (1-4096).
    #[arg(long, default_value_t = 64, global = true, value_parser = clap::value_parser!(u64).range(1..=MAX_MEMORY_MIB))]
    pub memory_mib: u64,
    /// Deadline per call, in seconds (1-3600).
    #[arg(long, default_value_t = 60, global = true, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS))]
    pub timeout_secs: u64,
    /// Tenant the call runs for.
    #[arg(long, default_value = "default", global = true)]
    pub tenant: String,
    /// Non-secret connection setting for the component, `key=value` (repeatable),
    /// e.g. `api-base-url=https://api.bitbucket.org/2.0`.
    #[arg(long = "config", value_name = "KEY=VALUE", global = true)]
    pub config: Vec<String>,
}

#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Where tenants, keys and sealed credentials live: a SQLite file, or a
    /// PostgreSQL database (`postgres://user:password@host/db`) that every
    /// gateway of a deployment shares.
    #[arg(
        long,
        env = "ATOM_STORE",
        // A PostgreSQL URL may carry its password: `--help` must not print it.
        hide_env_values = true,
        default_value = "atom-credentials.sqlite3",
        global = true
    )]
    pub store: PathBuf,
    /// The key file sealing the store, unless ATOM_CREDENTIAL_KEYS holds the keys.
    #[arg(
        long,
        env = "ATOM_KEY_FILE",
        default_value = "atom-credentials.key",
        global = true
    )]
    pub key_file: PathBuf,
}

/// Loads the component with the flags' limits and allowlist plus
/// `extra_hosts`, its instances allocated as `allocation` says.
pub fn load(
    args: &SandboxArgs,
    extra_hosts: &[String],
    allocation: InstanceAllocation,
) -> anyhow::Result<Sandbox> {
    let path = match &args.component {
        Some(path) => path.clone(),
        None => default_component()?,
    };
    let hosts = args.allow_hosts.iter().chain(extra_hosts);
    Sandbox::load_with(&path, Allowlist::new(hosts), limits(args), allocation)
}

/// The flags' limits; clap has already kept both within their ranges, so
/// the shift cannot overflow.
pub fn limits(args: &SandboxArgs) -> Limits {
    Limits {
        memory_bytes: usize::try_from(args.memory_mib << 20).unwrap_or(usize::MAX),
        call_timeout: Duration::from_secs(args.timeout_secs),
    }
}

#[cfg(feature = "bundled")]
fn default_component() -> anyhow::Result<PathBuf> {
    Ok(atom_bitbucket_artifact::component_path().to_path_buf())
}

#[cfg(not(feature = "bundled"))]
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
    if store.exists() {
        return configured_tenant(args, open_store(store)?);
    }
    configured_tenant(args, Arc::new(MemoryCredentialStore::default()))
}

fn secret_from_env() -> anyhow::Result<Option<CredentialSecret>> {
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

/// The keyring: ATOM_CREDENTIAL_KEYS when set, else the key file.
pub fn keyring(args: &StoreArgs) -> anyhow::Result<Keyring> {
    if std::env::var_os(KEYS_ENV).is_some() {
        return Ok(Keyring::from_env()?);
    }
    Keyring::load_file(&args.key_file).with_context(|| {
        format!(
            "no credential keys: set {KEYS_ENV} or run `atom-harness keys init` to create {}",
            args.key_file.display()
        )
    })
}

impl StoreArgs {
    /// The PostgreSQL URL, when the store is one.
    fn postgres(&self) -> Option<&str> {
        let url = self.store.to_str()?;
        (url.starts_with("postgres://") || url.starts_with("postgresql://")).then_some(url)
    }

    /// Whether there is a store to read yet.
    pub fn exists(&self) -> bool {
        self.postgres().is_some() || self.store.exists()
    }
}

/// The three stores of a serving process; on PostgreSQL they share one
/// pool of connections.
pub struct Stores {
    pub credentials: Arc<dyn SealedCredentials>,
    pub tenants: Arc<dyn TenantRegistry>,
    pub waits: Arc<dyn WaitBook>,
}

pub fn open_stores(args: &StoreArgs) -> anyhow::Result<Stores> {
    let keyring = keyring(args)?;
    Ok(match args.postgres() {
        Some(url) => {
            let stores = open_postgres(url, keyring, DEFAULT_CONNECTION)?;
            Stores {
                credentials: stores.credentials,
                tenants: stores.tenants,
                waits: stores.waits,
            }
        }
        None => Stores {
            credentials: Arc::new(SqliteCredentialStore::open(&args.store, keyring)?),
            tenants: Arc::new(SqliteTenantRegistry::open(&args.store)?),
            waits: Arc::new(SqliteWaitBook::open(&args.store)?),
        },
    })
}

/// The sealed credentials, under the keyring of the flags.
pub fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn SealedCredentials>> {
    open_store_with(args, keyring(args)?)
}

/// The sealed credentials, under `keyring`.
pub fn open_store_with(
    args: &StoreArgs,
    keyring: Keyring,
) -> anyhow::Result<Arc<dyn SealedCredentials>> {
    Ok(match args.postgres() {
        Some(url) => Arc::new(PgCredentialStore::new(
            migrated_pool(url)?,
            keyring,
            DEFAULT_CONNECTION,
        )?),
        None => Arc::new(SqliteCredentialStore::open(&args.store, keyring)?),
    })
}

/// The tenant registry: no keys needed.
pub fn open_registry(args: &StoreArgs) -> anyhow::Result<Arc<dyn TenantRegistry>> {
    Ok(match args.postgres() {
        Some(url) => Arc::new(PgTenantRegistry::new(migrated_pool(url)?)),
        None => Arc::new(SqliteTenantRegistry::open(&args.store)?),
    })
}

/// The merge waits: no keys needed.
pub fn open_waits(args: &StoreArgs) -> anyhow::Result<Arc<dyn WaitBook>> {
    Ok(match args.postgres() {
        Some(url) => Arc::new(PgWaitBook::new(migrated_pool(url)?)),
        None => Arc::new(SqliteWaitBook::open(&args.store)?),
    })
}

/// The operator's OAuth consumer, from the environment.
pub fn oauth_client_from_env(redirect_uri: Option<String>) -> Option<OauthClient> {
    Some(OauthClient {
        client_id: env("ATOM_OAUTH_CLIENT_ID")?,
        client_secret: env("ATOM_OAUTH_CLIENT_SECRET")?,
        redirect_uri: redirect_uri
            .or_else(|| env("ATOM_OAUTH_REDIRECT_URI"))
            .unwrap_or_else(|| "http://127.0.0.1:8976/callback".to_owned()),
    })
}

/// A non-blank environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
