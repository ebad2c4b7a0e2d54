//! Keys verified recently, so a caller's every request need not query the
//! registry: an entry stands while the registry's change mark is the one
//! read before the entry was verified. Any rotation or revocation (by this
//! process, a `tenants` command or another replica) moves the mark, and a
//! registry that cannot tell gives no mark, so nothing stands then.
//!
//! Entries are found by a hash of the key, never the key itself, and only
//! working keys are remembered: a wrong key is checked against the registry
//! every time.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

/// Enough for every tenant of a large deployment; past it the memo starts
/// again rather than track which entry is oldest.
const MAX_REMEMBERED: usize = 10_000;

type Fingerprint = [u8; 32];

#[derive(Default)]
pub struct RememberedKeys {
    keys: Mutex<HashMap<Fingerprint, Entry>>,
}

struct Entry {
    tenant: String,
    mark: u64,
}

impl RememberedKeys {
    /// The tenant `key` was verified for while the mark was `mark`.
    pub fn tenant_of(&self, key: &str, mark: Option<u64>) -> Option<String> {
        let mark = mark?;
        let keys = self.keys.lock().ok()?;
        keys.get(&fingerprint(key))
            .filter(|entry| entry.mark == mark)
            .map(|entry| entry.tenant.clone())
    }

    /// `key` works for `tenant`, as verified after reading `mark`.
    pub fn remember(&self, key: &str, tenant: &str, mark: Option<u64>) {
        let Some(mark) = mark else {
            return;
        };
        let Ok(mut keys) = self.keys.lock() else {
            return;
        };
        if keys.len() >= MAX_REMEMBERED {
            keys.clear();
        }
        keys.insert(
            fingerprint(key),
            Entry {
                tenant: tenant.to_owned(),
                mark,
            },
        );
    }
}

fn fingerprint(key: &str) -> Fingerprint {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stands_only_while_the_mark_has_not_moved() {
        let remembered = RememberedKeys::default();
        remembered.remember("atom_k_secret", "acme", Some(7));
        assert_eq!(
            remembered.tenant_of("atom_k_secret", Some(7)).as_deref(),
            Some("acme")
        );
        assert_eq!(remembered.tenant_of("atom_k_secret", Some(8)), None);
        assert_eq!(remembered.tenant_of("atom_k_secret", None), None);
        assert_eq!(remembered.tenant_of("atom_k_other", Some(7)), None);
    }

    #[test]
    fn nothing_is_remembered_without_a_mark() {
        let remembered = RememberedKeys::default();
        remembered.remember("atom_k_secret", "acme", None);
        assert!(remembered.keys.lock().unwrap().is_empty());
    }
}
