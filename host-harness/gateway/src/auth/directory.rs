//! The tenants the gateway serves: only those an operator registered, found
//! by the API key a request presents. A tenant's `Tenant` (its credential
//! lock, its pending OAuth states) and its call slots are built on its first
//! authenticated request and kept, so they are shared by all its requests;
//! a name nobody registered never gets that far.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use atom_runtime::{StoreError, Tenant};
use atom_store::TenantRegistry;

use super::remembered::RememberedKeys;

/// Who an API key acts for.
pub trait KeyVerifier: Send + Sync {
    /// The tenant the key belongs to, if it is valid and not revoked.
    fn verify(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Whether `tenant` is registered and not revoked.
    fn is_active(&self, tenant: &str) -> Result<bool, StoreError>;
    /// Whether the key named by `key_id` (see [`atom_store::key_id`]) still
    /// works.
    fn key_is_active(&self, key_id: &str) -> Result<bool, StoreError>;
    /// Whether keys can be checked at all (the store answers).
    fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// See [`TenantRegistry::change_mark`]: `None` remembers nothing.
    fn change_mark(&self) -> Option<u64> {
        None
    }
}

/// Whichever backend holds the registry.
impl<T: TenantRegistry + ?Sized> KeyVerifier for T {
    fn verify(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.authenticate(key)
    }

    fn is_active(&self, tenant: &str) -> Result<bool, StoreError> {
        TenantRegistry::is_active(self, tenant)
    }

    fn key_is_active(&self, key_id: &str) -> Result<bool, StoreError> {
        TenantRegistry::key_is_active(self, key_id)
    }

    fn ready(&self) -> Result<(), StoreError> {
        self.has_active_keys().map(drop)
    }

    fn change_mark(&self) -> Option<u64> {
        TenantRegistry::change_mark(self)
    }
}

/// A registered tenant while the gateway runs.
#[derive(Clone)]
pub struct LiveTenant {
    pub tenant: Tenant,
    pub slots: Arc<Semaphore>,
    /// The tenant's upstream requests its budget has been charged for.
    pub charged: Arc<AtomicU64>,
}

pub struct Directory {
    keys: Arc<dyn KeyVerifier>,
    /// Bearer keys, by the tenant they act for.
    remembered: RememberedKeys,
    /// Ids of keys that opened a session, still working.
    remembered_ids: RememberedKeys,
    /// Settings and credential store every tenant starts from.
    template: Tenant,
    live: Mutex<HashMap<String, LiveTenant>>,
}

impl Directory {
    pub fn new(keys: Arc<dyn KeyVerifier>, template: Tenant) -> Self {
        Self {
            keys,
            remembered: RememberedKeys::default(),
            remembered_ids: RememberedKeys::default(),
            template,
            live: Mutex::default(),
        }
    }

    /// The tenant a key acts for: remembered while the registry has not
    /// changed since, else checked off the async workers (it reads the
    /// database).
    pub async fn verify(&self, key: &str) -> Result<Option<String>, StoreError> {
        // Read before checking: a change after it moves the mark.
        let mark = self.keys.change_mark();
        if let Some(tenant) = self.remembered.tenant_of(key, mark) {
            return Ok(Some(tenant));
        }
        let (keys, presented) = (self.keys.clone(), key.to_owned());
        let verified = tokio::task::spawn_blocking(move || keys.verify(&presented))
            .await
            .map_err(|_| StoreError::Unavailable("key check did not finish".into()))??;
        if let Some(tenant) = &verified {
            self.remembered.remember(key, tenant, mark);
        }
        Ok(verified)
    }

    /// Whether `tenant` is registered, off the async workers.
    pub async fn is_active(&self, tenant: &str) -> Result<bool, StoreError> {
        let (keys, tenant) = (self.keys.clone(), tenant.to_owned());
        tokio::task::spawn_blocking(move || keys.is_active(&tenant))
            .await
            .map_err(|_| StoreError::Unavailable("tenant check did not finish".into()))?
    }

    /// Whether the key a session was opened with still works: remembered
    /// as a bearer key is, else checked off the async workers.
    pub async fn key_is_active(&self, key_id: &str) -> Result<bool, StoreError> {
        let mark = self.keys.change_mark();
        if self.remembered_ids.tenant_of(key_id, mark).is_some() {
            return Ok(true);
        }
        let (keys, id) = (self.keys.clone(), key_id.to_owned());
        let active = tokio::task::spawn_blocking(move || keys.key_is_active(&id))
            .await
            .map_err(|_| StoreError::Unavailable("key check did not finish".into()))??;
        if active {
            self.remembered_ids.remember(key_id, "", mark);
        }
        Ok(active)
    }

    /// A tenant with the template's settings and a name no tenant can have
    /// (names have no `/`): for calls that need no credential.
    pub fn anonymous(&self) -> Tenant {
        self.template.for_id("/anonymous")
    }

    /// The credential store every tenant's credential and webhook secret live in.
    pub fn credentials(&self) -> Arc<dyn atom_runtime::CredentialStore> {
        self.template.credentials.clone()
    }

    /// Whether the registry answers, off the async workers.
    pub async fn ready(&self) -> Result<(), StoreError> {
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.ready())
            .await
            .map_err(|_| StoreError::Unavailable("readiness check did not finish".into()))?
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
                charged: Arc::default(),
            })
            .clone()
    }
}
