//! State that every replica of a deployment must see alike, kept in Redis
//! when the operator names one (`serve --redis`): browser sessions, pending
//! OAuth logins, the webhook replay set, the upstream budget, per-tenant
//! call slots, and the fan-out of events and cache invalidations. Without
//! Redis each of them lives in the process, as for a single gateway.
//!
//! Every key starts with the deployment's prefix, so deployments (or test
//! runs) can share one server. A Redis that does not answer fails the
//! request with a retryable `service_down`, never a guess: a session or a
//! replay check that cannot be read is not assumed either way.

mod budget;
mod fanout;
mod logins;
mod replay;
mod sessions;
mod slots;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::GatewayError;

pub use budget::SharedBudget;
pub use fanout::{Fanout, Published};
pub use logins::{LoginRecord, SharedAuthStates, SharedLogins};
pub use replay::SharedReplay;
pub use sessions::{SessionRecord, SharedSessions};
pub use slots::{SharedSlot, SharedSlots};

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("Shared")
            .field("prefix", &self.prefix)
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// How long one Redis command may take before the request gives up on it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long (re)connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One deployment's Redis: a connection that reconnects by itself, the key
/// prefix, and this replica's name (for holders of shared slots).
#[derive(Clone)]
pub struct Shared {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: Arc<str>,
    replica: Arc<str>,
}

impl Shared {
    /// Connects to `url`; Redis must answer now, so a typo fails the start,
    /// not the first request.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, GatewayError> {
        let client =
            redis::Client::open(url).map_err(|error| down("the Redis URL is not valid", &error))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // Reconnection is retried per command; a request fails fast
            // rather than queue behind a Redis that is away.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|error| down("Redis does not answer", &error))?;
        let shared = Self {
            client,
            connection,
            prefix: Arc::from(prefix),
            replica: Arc::from(replica_name()),
        };
        shared.ready().await?;
        Ok(shared)
    }

    /// `PING`: whether Redis answers now.
    pub async fn ready(&self) -> Result<(), GatewayError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(|error| down("Redis does not answer", &error))
    }

    /// The deployment's key for `parts`, joined by `:`.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = String::from(&*self.prefix);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }
}

/// A Redis failure as the caller sees it: retryable, and without the URL
/// (which may hold a password).
pub(crate) fn down(doing: &str, error: &redis::RedisError) -> GatewayError {
    tracing::warn!(kind = ?error.kind(), "{doing}: {}", error.detail().unwrap_or("no detail"));
    GatewayError::ServiceDown(format!("{doing}: the shared state is unavailable"))
}

/// A name for this process no other replica shares.
fn replica_name() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "gateway".into());
    format!("{host}-{}-{}", std::process::id(), hex_encode(&bytes))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
