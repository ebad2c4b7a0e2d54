//! Credentials read recently, so a tenant's every call need neither query
//! the store nor open (decrypt) its sealed row again. An entry stands while
//! the store's change mark is the one read before the entry was read: a
//! refresh, a new token or a removal, by this process or any other sharing
//! the store, moves it. A store that gives no mark has nothing remembered.
//!
//! The opened secrets stay in this process's memory between calls, as they
//! already did during each call; they are never written anywhere else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::host_types::{Credential, CredentialSecret};
use crate::tenant::{CredentialStore, RefreshLeases, StoreError};

/// Beyond every tenant's credential and webhook secret of a large
/// deployment; past it the memo starts again.
const MAX_REMEMBERED: usize = 20_000;

pub struct RememberedCredentials {
    store: Arc<dyn CredentialStore>,
    read: Mutex<HashMap<String, Read>>,
}

struct Read {
    credential: Option<Credential>,
    mark: u64,
}

impl RememberedCredentials {
    pub fn new(store: Arc<dyn CredentialStore>) -> Self {
        Self {
            store,
            read: Mutex::default(),
        }
    }

    fn remembered(&self, tenant: &str, mark: u64) -> Option<Option<Credential>> {
        let read = self.read.lock().ok()?;
        read.get(tenant)
            .filter(|entry| entry.mark == mark)
            .map(|entry| entry.credential.clone())
    }

    fn remember(&self, tenant: &str, credential: &Option<Credential>, mark: Option<u64>) {
        let (Some(mark), Ok(mut read)) = (mark, self.read.lock()) else {
            return;
        };
        if read.len() >= MAX_REMEMBERED {
            read.clear();
        }
        read.insert(
            tenant.to_owned(),
            Read {
                credential: credential.clone(),
                mark,
            },
        );
    }

    fn forget(&self, tenant: &str) {
        if let Ok(mut read) = self.read.lock() {
            read.remove(tenant);
        }
    }
}

impl CredentialStore for RememberedCredentials {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        // Read before the store: a change after it moves the mark.
        let mark = self.store.change_mark();
        if let Some(credential) = mark.and_then(|mark| self.remembered(tenant, mark)) {
            return Ok(credential);
        }
        let credential = self.store.get(tenant)?;
        self.remember(tenant, &credential, mark);
        Ok(credential)
    }

    fn get_fresh(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        let mark = self.store.change_mark();
        let credential = self.store.get_fresh(tenant)?;
        self.remember(tenant, &credential, mark);
        Ok(credential)
    }

    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, StoreError> {
        self.forget(tenant);
        let replaced = self.store.replace(tenant, expected_version, secret);
        // A read that overlapped the write may have remembered either.
        self.forget(tenant);
        replaced
    }

    fn remove(&self, tenant: &str) -> Result<(), StoreError> {
        self.forget(tenant);
        let removed = self.store.remove(tenant);
        self.forget(tenant);
        removed
    }

    fn change_mark(&self) -> Option<u64> {
        self.store.change_mark()
    }
}

impl RefreshLeases for RememberedCredentials {
    fn try_lease(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.store.try_lease(tenant, holder, ttl)
    }

    fn release_lease(&self, tenant: &str, holder: &str) -> Result<(), StoreError> {
        self.store.release_lease(tenant, holder)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::tenant::MemoryCredentialStore;

    /// A memory store that counts its reads and gives a mark the test moves.
    #[derive(Default)]
    struct Counted {
        store: MemoryCredentialStore,
        reads: AtomicU64,
        mark: AtomicU64,
        no_mark: std::sync::atomic::AtomicBool,
    }

    impl CredentialStore for Counted {
        fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.store.get(tenant)
        }
        fn replace(
            &self,
            tenant: &str,
            version: u64,
            secret: CredentialSecret,
        ) -> Result<u64, StoreError> {
            self.store.replace(tenant, version, secret)
        }
        fn remove(&self, tenant: &str) -> Result<(), StoreError> {
            self.store.remove(tenant)
        }
        fn change_mark(&self) -> Option<u64> {
            (!self.no_mark.load(Ordering::SeqCst)).then(|| self.mark.load(Ordering::SeqCst))
        }
    }

    impl RefreshLeases for Counted {}

    fn token(text: &str) -> CredentialSecret {
        CredentialSecret::AccessToken(text.into())
    }

    fn secret_of(credential: Option<Credential>) -> String {
        match credential.map(|c| c.secret) {
            Some(CredentialSecret::AccessToken(token)) => token,
            _ => panic!("not the access token the test stored"),
        }
    }

    #[test]
    fn a_credential_is_read_once_until_the_store_changes() {
        let counted = Arc::new(Counted::default());
        let remembered = RememberedCredentials::new(counted.clone());
        remembered.replace("acme", 0, token("one")).unwrap();
        for _ in 0..3 {
            assert_eq!(secret_of(remembered.get("acme").unwrap()), "one");
        }
        assert_eq!(counted.reads.load(Ordering::SeqCst), 1);

        // Another process wrote: the store's mark moved.
        counted.store.replace("acme", 1, token("two")).unwrap();
        counted.mark.fetch_add(1, Ordering::SeqCst);
        assert_eq!(secret_of(remembered.get("acme").unwrap()), "two");
        assert_eq!(counted.reads.load(Ordering::SeqCst), 2);

        // Its own write is never answered from memory.
        remembered.replace("acme", 2, token("three")).unwrap();
        assert_eq!(secret_of(remembered.get("acme").unwrap()), "three");
        // Under the refresh lock: from the store, whatever is remembered.
        let reads = counted.reads.load(Ordering::SeqCst);
        assert_eq!(secret_of(remembered.get_fresh("acme").unwrap()), "three");
        assert_eq!(counted.reads.load(Ordering::SeqCst), reads + 1);
        remembered.remove("acme").unwrap();
        assert!(remembered.get("acme").unwrap().is_none());
    }

    #[test]
    fn nothing_is_remembered_while_the_store_gives_no_mark() {
        let counted = Arc::new(Counted::default());
        counted.no_mark.store(true, Ordering::SeqCst);
        let remembered = RememberedCredentials::new(counted.clone());
        remembered.replace("acme", 0, token("one")).unwrap();
        remembered.get("acme").unwrap();
        remembered.get("acme").unwrap();
        assert_eq!(counted.reads.load(Ordering::SeqCst), 2);
    }
}
