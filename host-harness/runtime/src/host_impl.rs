//! The `host` interface the component imports, served from the call's tenant.

use crate::credential_lock::CredentialLock;
use crate::failure::StoreDown;
use crate::host_types::{Credential, CredentialSecret, Host, LogLevel, OauthClient, ReplaceError};
use crate::sandbox::HostState;
use crate::tenant::StoreError;

impl HostState {
    /// A credential read as the guest sees it: a store that failed marks
    /// the call, so its answer says the store, not the component, failed.
    fn credential_read(
        &mut self,
        read: Result<Option<Credential>, StoreError>,
    ) -> wasmtime::Result<Option<Credential>> {
        read.map_err(|error| {
            self.store_down = true;
            store_down(&self.tenant.id, "reading a credential", error)
        })
    }
}

impl Host for HostState {
    async fn get_credential(&mut self) -> wasmtime::Result<Option<Credential>> {
        let read = self.tenant.credentials.get(&self.tenant.id);
        self.credential_read(read)
    }

    async fn lock_credential(&mut self) -> wasmtime::Result<Option<Credential>> {
        if self.credential_guard.is_none() {
            let lock = CredentialLock::acquire(&self.tenant)
                .await
                .map_err(|error| store_down(&self.tenant.id, "locking a credential", error))?;
            self.credential_guard = Some(lock);
        }
        // Read after the lock, from the store itself: whoever held it may
        // have stored newer tokens a moment ago.
        let read = self.tenant.credentials.get_fresh(&self.tenant.id);
        self.credential_read(read)
    }

    async fn unlock_credential(&mut self) {
        self.credential_guard = None;
    }

    async fn replace_credential(
        &mut self,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, ReplaceError> {
        // Whatever the outcome, this call is done with the lock.
        let _released = self.credential_guard.take();
        self.tenant
            .credentials
            .replace(&self.tenant.id, expected_version, secret)
            .map_err(|error| match error {
                StoreError::Conflict(current) => ReplaceError::Conflict(current),
                StoreError::Unavailable(message) => {
                    self.store_down = true;
                    ReplaceError::Unavailable(message)
                }
                StoreError::Unreadable(message)
                | StoreError::NotFound(message)
                | StoreError::Refused(message) => ReplaceError::Unavailable(message),
            })
    }

    async fn get_config(&mut self, key: String) -> Option<String> {
        self.tenant.config.get(&key).cloned()
    }

    async fn get_oauth_client(&mut self) -> Option<OauthClient> {
        self.tenant.oauth_client.as_ref().map(|client| OauthClient {
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            redirect_uri: client.redirect_uri.clone(),
        })
    }

    async fn save_auth_state(&mut self, state: String, expires_at: u64) -> wasmtime::Result<()> {
        let tenant = &self.tenant;
        tenant
            .auth_states
            .save(&tenant.id, &state, expires_at)
            .await
            .map_err(|error| store_down(&tenant.id, "saving an OAuth state", error))
    }

    async fn take_auth_state(&mut self, state: String) -> wasmtime::Result<bool> {
        let tenant = &self.tenant;
        tenant
            .auth_states
            .take(&tenant.id, &state)
            .await
            .map_err(|error| store_down(&tenant.id, "taking an OAuth state", error))
    }

    async fn log(&mut self, level: LogLevel, message: String, fields: Vec<(String, String)>) {
        let tenant = self.tenant.id.as_str();
        let fields = Fields(&fields);
        match level {
            LogLevel::Trace => tracing::trace!(target: "atom_guest", tenant, %fields, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "atom_guest", tenant, %fields, "{message}"),
            LogLevel::Info => tracing::info!(target: "atom_guest", tenant, %fields, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "atom_guest", tenant, %fields, "{message}"),
            LogLevel::Error => tracing::error!(target: "atom_guest", tenant, %fields, "{message}"),
        }
    }
}

/// A store failure in a host call: it stops the call, which answers
/// `service_down` when the store did not answer, `internal` otherwise (a
/// row no key opens is not fixed by trying again).
fn store_down(tenant: &str, doing: &str, error: StoreError) -> wasmtime::Error {
    tracing::error!(tenant, %error, "{doing} failed");
    match error {
        StoreError::Unavailable(message) => {
            wasmtime::Error::new(StoreDown(format!("{doing}: {message}")))
        }
        other => wasmtime::format_err!("{other}"),
    }
}

/// `key=value key=value`
struct Fields<'a>(&'a [(String, String)]);

impl std::fmt::Display for Fields<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (key, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

/// Records only: nothing to serve, but the component imports the interface.
impl crate::bindings::TypesHost for HostState {}
