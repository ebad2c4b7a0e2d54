//! Pending OAuth logins in Redis, so the browser Bitbucket sends back may
//! land on any replica: `<prefix>:login:<state>` names the tenant (and the
//! key) that started it, expiring with the state and taken with `GETDEL`,
//! so it completes once across the deployment. The component's own record
//! of its states (`<prefix>:auth-state:<tenant>:<state>`) is kept the same
//! way, through [`atom_runtime::AuthStates`].

use serde::{Deserialize, Serialize};

use super::{Shared, down};
use crate::error::GatewayError;
use atom_runtime::{AuthStates, BoxFuture, StoreError, unix_now};

/// Who started a login.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginRecord {
    pub tenant: String,
    pub key_id: Option<String>,
    /// Unix seconds.
    pub expires: u64,
}

#[derive(Clone)]
pub struct SharedLogins {
    shared: Shared,
}

impl SharedLogins {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    /// Remembers `login` under `state` until it expires; a later call for
    /// the same state (the key that started it) replaces it.
    pub async fn put(&self, state: &str, login: &LoginRecord) -> Result<(), GatewayError> {
        let seconds = login.expires.saturating_sub(unix_now());
        if seconds == 0 {
            return Ok(());
        }
        let value = serde_json::to_string(login)
            .map_err(|_| GatewayError::Unavailable("a login could not be written".into()))?;
        redis::cmd("SET")
            .arg(self.shared.key(&["login", state]))
            .arg(value)
            .arg("EX")
            .arg(seconds)
            .query_async::<()>(&mut self.shared.connection())
            .await
            .map_err(|error| down("remembering a login", &error))
    }

    /// The login of `state`, once: whoever takes it first, on any replica.
    pub async fn take(&self, state: &str) -> Result<Option<LoginRecord>, GatewayError> {
        let value: Option<String> = redis::cmd("GETDEL")
            .arg(self.shared.key(&["login", state]))
            .query_async(&mut self.shared.connection())
            .await
            .map_err(|error| down("finishing a login", &error))?;
        Ok(value
            .and_then(|v| serde_json::from_str::<LoginRecord>(&v).ok())
            .filter(|login| login.expires > unix_now()))
    }
}

/// The component's pending states, shared by every replica.
pub struct SharedAuthStates {
    shared: Shared,
}

impl SharedAuthStates {
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }
}

fn store_down(doing: &str, error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(down(doing, error).message())
}

impl AuthStates for SharedAuthStates {
    fn save<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let seconds = expires_at.saturating_sub(unix_now());
            if seconds == 0 {
                return Ok(());
            }
            redis::cmd("SET")
                .arg(self.shared.key(&["auth-state", tenant, state]))
                .arg(expires_at)
                .arg("EX")
                .arg(seconds)
                .query_async::<()>(&mut self.shared.connection())
                .await
                .map_err(|error| store_down("saving an OAuth state", &error))
        })
    }

    fn take<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let expires: Option<u64> = redis::cmd("GETDEL")
                .arg(self.shared.key(&["auth-state", tenant, state]))
                .query_async(&mut self.shared.connection())
                .await
                .map_err(|error| store_down("taking an OAuth state", &error))?;
            Ok(expires.is_some_and(|expires| expires > unix_now()))
        })
    }
}
