//! The PostgreSQL backend: one database that the gateways of a deployment
//! share, on as many machines as it has.

mod credentials;
mod migrations;
mod pool;
mod tenants;
mod waits;
mod watch;

use watch::StoreWatch;

use std::sync::Arc;

use crate::keyring::Keyring;
use atom_runtime::StoreError;

pub use credentials::PgCredentialStore;
pub use pool::PgPool;
pub use tenants::PgTenantRegistry;
pub use waits::PgWaitBook;

/// The server's clock, in Unix seconds and milliseconds, for what
/// processes on different machines compare: leases and claims.
const NOW_SECS: &str = "floor(extract(epoch FROM statement_timestamp()))::bigint";
const NOW_MILLIS: &str = "floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint";

/// The three stores of one process, sharing one pool of connections.
#[derive(Debug)]
pub struct PgStores {
    pub credentials: Arc<PgCredentialStore>,
    pub tenants: Arc<PgTenantRegistry>,
    pub waits: Arc<PgWaitBook>,
}

impl PgStores {
    /// Whether the database answers (`/readyz`).
    pub fn ready(&self) -> Result<(), StoreError> {
        self.tenants.ready()
    }
}

/// Connects to the database at `url` (a `postgres://` URL or key=value
/// string; its `options` may set the `search_path` the tables live in),
/// applies the schema migrations it lacks and answers the stores, the
/// credential store serving `connection`. Fails if the database cannot be
/// reached now: a process should not start on a store it cannot use.
pub fn open_postgres(
    url: &str,
    keyring: Keyring,
    connection: &str,
) -> Result<PgStores, StoreError> {
    let pool = migrated_pool(url)?;
    // One listener hears of changes to both.
    let watch = Arc::new(StoreWatch::new(pool.config()));
    Ok(PgStores {
        credentials: Arc::new(PgCredentialStore::watched(
            watch.clone(),
            pool.clone(),
            keyring,
            connection,
        )?),
        tenants: Arc::new(PgTenantRegistry::watched(watch, pool.clone())),
        waits: Arc::new(PgWaitBook::new(pool)),
    })
}

/// A pool on `url` with the schema migrations applied, for a process that
/// needs only some of the stores (a registry command needs no keys).
pub fn migrated_pool(url: &str) -> Result<PgPool, StoreError> {
    let pool = PgPool::new(url)?;
    pool.run("store", "applying the schema migrations", |client| {
        migrations::migrate(client)
    })?;
    Ok(pool)
}
