//! The lock a call holds while it refreshes its tenant's OAuth token: the
//! tenant's in-process mutex (calls of this process queue on it without
//! touching the store) and then the store's lease (one refresher per tenant
//! across every process sharing the store). Bitbucket rotates refresh
//! tokens, so two refreshes with the same token leave one process with a
//! dead token: whoever waits re-reads the store once it gets the lock.

use std::sync::Arc;
use std::time::Duration;

use crate::tenant::{CredentialStore, StoreError, Tenant};

/// How long a lease lasts without its holder: longer than one token
/// request takes, short enough that a crashed holder delays, not blocks.
const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often a waiting process looks at the lease again.
const LEASE_POLL: Duration = Duration::from_millis(25);

/// Held for one call; released by drop, so a trap or a deadline cannot
/// leave it taken (the lease's expiry covers a process that dies).
pub(crate) struct CredentialLock {
    _local: tokio::sync::OwnedMutexGuard<()>,
    store: Arc<dyn CredentialStore>,
    tenant: String,
    holder: String,
}

impl CredentialLock {
    /// Waits for the tenant's lock here and in every other process. The
    /// caller's deadline bounds the wait.
    pub(crate) async fn acquire(tenant: &Tenant) -> Result<Self, StoreError> {
        let local = tenant.credential_lock.clone().lock_owned().await;
        let holder = holder_id()?;
        while !tenant
            .credentials
            .try_lease(&tenant.id, &holder, LEASE_TTL)?
        {
            tokio::time::sleep(LEASE_POLL).await;
        }
        Ok(Self {
            _local: local,
            store: tenant.credentials.clone(),
            tenant: tenant.id.clone(),
            holder,
        })
    }
}

impl Drop for CredentialLock {
    fn drop(&mut self) {
        if let Err(error) = self.store.release_lease(&self.tenant, &self.holder) {
            // The lease expires on its own; others wait until then.
            tracing::warn!(tenant = %self.tenant, %error, "refresh lease not released");
        }
    }
}

/// A name for this holder no other process or call shares.
fn holder_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a lease: {e}")))?;
    Ok(format!("{}-{}", std::process::id(), hex::encode(bytes)))
}
