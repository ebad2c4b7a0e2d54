//! The tenants the gateway serves: only those an operator registered, found
//! by the API key a request presents. A tenant's `Tenant` (its credential
//! lock, its pending OAuth states) and its call slots are built on its first
//! authenticated request and kept, so they are shared by all its requests;
//! a name nobody registered never gets that far.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::store::TenantRegistry;
use crate::tenant::{StoreError, Tenant};

/// Who an API key acts for.
pub trait KeyVerifier: Send + Sync {
    /// The tenant the key belongs to, if it is valid and not revoked.
    fn verify(&self, key: &str) -> Result<Option<String>, StoreError>;
}

impl KeyVerifier for TenantRegistry {
    fn verify(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.authenticate(key)
    }
}

/// A registered tenant while the gateway runs.
#[derive(Clone)]
pub struct LiveTenant {
    pub tenant: Tenant,
    pub slots: Arc<Semaphore>,
}

pub struct Directory {
    keys: Arc<dyn KeyVerifier>,
    /// Settings and credential store every tenant starts from.
    template: Tenant,
    live: Mutex<HashMap<String, LiveTenant>>,
}

impl Directory {
    pub fn new(keys: Arc<dyn KeyVerifier>, template: Tenant) -> Self {
        Self {
            keys,
            template,
            live: Mutex::default(),
        }
    }

    /// Checks a key off the async workers (it reads SQLite).
    pub async fn verify(self: &Arc<Self>, key: String) -> Result<Option<String>, StoreError> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.verify(&key))
            .await
            .map_err(|_| StoreError::Unavailable("key check did not finish".into()))?
    }

    /// The live tenant of a name a key was just verified for.
    pub fn live(&self, verified: &str, new_slots: impl FnOnce() -> Arc<Semaphore>) -> LiveTenant {
        let mut live = self
            .live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        live.entry(verified.to_owned())
            .or_insert_with(|| LiveTenant {
                tenant: self.template.for_id(verified),
                slots: new_slots(),
            })
            .clone()
    }
}
