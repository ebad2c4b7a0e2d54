//! Tenants: who a call runs for, that tenant's non-secret configuration and
//! where its credential lives.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth_states::{AuthStates, MemoryAuthStates};
use crate::host_types::{Credential, CredentialSecret};

/// Why a credential store refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else replaced the credential first; carries the version stored now.
    #[error("the credential was replaced concurrently (now at version {0})")]
    Conflict(u64),
    /// The store did not answer (or could not be written): trying again
    /// later may work.
    #[error("credential store unavailable: {0}")]
    Unavailable(String),
    /// A stored row that no key of the keyring opens, or that is not a
    /// credential: trying again does not help; the operator must.
    #[error("credential unreadable: {0}")]
    Unreadable(String),
    /// The tenant (or row) asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what is stored: a name taken, a tenant
    /// revoked, a name that is not valid.
    #[error("{0}")]
    Refused(String),
}

/// Who may refresh a tenant's token now, when several processes share a
/// store. A process-local store needs none: the tenant's in-process lock is
/// the whole story, so every lease is granted.
pub trait RefreshLeases {
    /// Takes (or renews) the tenant's lease for `holder` until `ttl` from now,
    /// unless another holder has one that has not expired.
    fn try_lease(&self, _tenant: &str, _holder: &str, _ttl: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Gives the lease back if `holder` still has it.
    fn release_lease(&self, _tenant: &str, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Where tenants' credentials are kept. Replace is a compare-and-swap on the
/// stored version so two refreshes cannot clobber each other.
pub trait CredentialStore: RefreshLeases + Send + Sync {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError>;
    /// Stores `secret` if the stored version is `expected_version` (0 when
    /// there is none yet) and returns the new version.
    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, StoreError>;
    fn remove(&self, tenant: &str) -> Result<(), StoreError>;

    /// As `get`, but never from anything remembered: what a caller reads
    /// once it holds the refresh lock, when another process may just have
    /// stored newer tokens.
    fn get_fresh(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        self.get(tenant)
    }

    /// A mark that differs from any earlier one once a credential may have
    /// changed, by this process or another sharing the store, read without
    /// querying the table; `None` when the store cannot tell (nothing may be
    /// remembered then). See `RememberedCredentials`.
    fn change_mark(&self) -> Option<u64> {
        None
    }
}

/// Credentials held in process memory only: tests and one-shot CLI calls.
#[derive(Default)]
pub struct MemoryCredentialStore {
    credentials: Mutex<HashMap<String, Credential>>,
}

impl CredentialStore for MemoryCredentialStore {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        Ok(self.lock()?.get(tenant).cloned())
    }

    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, StoreError> {
        let mut credentials = self.lock()?;
        let current = credentials.get(tenant).map_or(0, |c| c.version);
        if current != expected_version {
            return Err(StoreError::Conflict(current));
        }
        let version = current + 1;
        credentials.insert(tenant.to_owned(), Credential { secret, version });
        Ok(version)
    }

    fn remove(&self, tenant: &str) -> Result<(), StoreError> {
        self.lock()?.remove(tenant);
        Ok(())
    }
}

impl RefreshLeases for MemoryCredentialStore {}

impl MemoryCredentialStore {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Credential>>, StoreError> {
        self.credentials
            .lock()
            .map_err(|_| StoreError::Unavailable("credential store lock poisoned".into()))
    }
}

/// The confidential OAuth client of a connection (operator configuration).
#[derive(Clone)]
pub struct OauthClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

impl std::fmt::Debug for OauthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OauthClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// One tenant's connection to the upstream.
#[derive(Clone)]
pub struct Tenant {
    pub id: String,
    /// Non-secret settings the component reads with `get-config`.
    pub config: BTreeMap<String, String>,
    pub credentials: Arc<dyn CredentialStore>,
    pub oauth_client: Option<OauthClient>,
    /// OAuth `state` values awaiting their callback, with their expiry.
    pub(crate) auth_states: Arc<dyn AuthStates>,
    /// Held by the one call refreshing this tenant's credential.
    pub(crate) credential_lock: Arc<tokio::sync::Mutex<()>>,
    /// Upstream requests this tenant's calls have sent.
    pub(crate) upstream_requests: Arc<AtomicU64>,
}

impl Tenant {
    pub fn new(id: impl Into<String>, credentials: Arc<dyn CredentialStore>) -> Self {
        Self {
            id: id.into(),
            config: BTreeMap::new(),
            credentials,
            oauth_client: None,
            auth_states: Arc::new(MemoryAuthStates::default()),
            credential_lock: Arc::default(),
            upstream_requests: Arc::default(),
        }
    }

    /// Another tenant with this one's settings, store and pending logins
    /// (kept by tenant), and its own lock.
    pub fn for_id(&self, id: &str) -> Self {
        Self {
            id: id.to_owned(),
            config: self.config.clone(),
            credentials: self.credentials.clone(),
            oauth_client: self.oauth_client.clone(),
            auth_states: self.auth_states.clone(),
            credential_lock: Arc::default(),
            upstream_requests: Arc::default(),
        }
    }

    pub fn with_oauth_client(mut self, client: OauthClient) -> Self {
        self.oauth_client = Some(client);
        self
    }

    /// Keeps pending OAuth states in `states` (shared by every replica of
    /// a deployment) instead of this process's memory.
    pub fn with_auth_states(mut self, states: Arc<dyn AuthStates>) -> Self {
        self.auth_states = states;
        self
    }

    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Stores `secret` as this tenant's credential, whatever was there.
    pub fn set_credential(&self, secret: CredentialSecret) -> Result<u64, StoreError> {
        let current = self.credentials.get(&self.id)?.map_or(0, |c| c.version);
        self.credentials.replace(&self.id, current, secret)
    }

    /// Upstream requests this tenant's calls have sent since it was built.
    pub fn upstream_requests(&self) -> u64 {
        self.upstream_requests.load(Ordering::Relaxed)
    }
}

/// Seconds since the Unix epoch, as credentials and leases count time.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
