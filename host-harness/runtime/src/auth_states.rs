//! Where the OAuth `state` values a component saves between `auth-start`
//! and `auth-complete` are kept: in process memory by default, or wherever
//! the host says, so that a login started on one replica of a deployment
//! completes on another.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::tenant::{StoreError, unix_now};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Pending OAuth states, keyed by tenant: one tenant's state never completes
/// another's login, and each is taken at most once.
pub trait AuthStates: Send + Sync {
    /// Remembers `state` for `tenant` until `expires_at` (Unix seconds).
    fn save<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Forgets `state` and answers whether it was pending and unexpired.
    fn take<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// States in this process only: one gateway, the CLI, tests.
#[derive(Default)]
pub struct MemoryAuthStates {
    pending: Mutex<HashMap<(String, String), u64>>,
}

impl AuthStates for MemoryAuthStates {
    fn save<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| StoreError::Unavailable("pending logins lock poisoned".into()))?;
            let now = unix_now();
            pending.retain(|_, expiry| *expiry > now);
            pending.insert((tenant.to_owned(), state.to_owned()), expires_at);
            Ok(())
        })
    }

    fn take<'a>(
        &'a self,
        tenant: &'a str,
        state: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| StoreError::Unavailable("pending logins lock poisoned".into()))?;
            Ok(pending
                .remove(&(tenant.to_owned(), state.to_owned()))
                .is_some_and(|expiry| expiry > unix_now()))
        })
    }
}
