//! The tenants an operator created, and the API keys that act as them at
//! the gateway. A tenant exists only once `tenants add` made it: the gateway
//! never creates one because a request named it.
//!
//! A key reads `atom_<id>_<secret>`: the id finds its row, the secret is 256
//! random bits of which only a SHA-256 is stored, compared in constant time.
//! Such a secret cannot be guessed, so a plain hash is as good as a slow one
//! and costs nothing per request. A key is shown once, when it is made.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::sqlite::{create_private, prepare};
use atom_runtime::{StoreError, unix_now};

const KEY_PREFIX: &str = "atom";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
const MAX_TENANT_NAME: usize = 64;

/// A freshly made API key: printed once, never stored in the clear.
pub struct NewApiKey {
    pub tenant: String,
    pub key: Zeroizing<String>,
}

/// A tenant as `tenants list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub name: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
    /// API keys that still work.
    pub active_keys: u32,
}

/// The tenants and their keys, in the credential store's SQLite file.
pub struct TenantRegistry {
    db: Mutex<Connection>,
}

impl TenantRegistry {
    /// Opens (creating if absent) the registry in the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path)?;
        let mut db = Connection::open(path).map_err(|error| {
            StoreError::Unavailable(format!("tenant registry {}: {error}", path.display()))
        })?;
        prepare(&mut db, path)?;
        Ok(Self { db: Mutex::new(db) })
    }

    /// Creates tenant `name` with its first API key.
    pub fn add(&self, name: &str) -> Result<NewApiKey, StoreError> {
        check_name(name)?;
        let mut db = self.lock()?;
        let transaction = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("adding a tenant"))?;
        let created = transaction
            .execute(
                "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                params![name, now()],
            )
            .map_err(failed("adding a tenant"))?;
        if created == 0 {
            return Err(StoreError::Unavailable(format!(
                "tenant '{name}' exists already (tenant names are never reused)"
            )));
        }
        let key = insert_key(&transaction, name)?;
        transaction.commit().map_err(failed("adding a tenant"))?;
        Ok(key)
    }

    /// A new key for `name`; every older key of the tenant stops working.
    pub fn rotate_key(&self, name: &str) -> Result<NewApiKey, StoreError> {
        let mut db = self.lock()?;
        let transaction = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("rotating a key"))?;
        let active: Option<Option<i64>> = transaction
            .query_row(
                "SELECT revoked_at FROM tenants WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed("rotating a key"))?;
        match active {
            None => return Err(unknown(name)),
            Some(Some(_)) => {
                return Err(StoreError::Unavailable(format!(
                    "tenant '{name}' is revoked"
                )));
            }
            Some(None) => {}
        }
        transaction
            .execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE tenant = ?2 AND revoked_at IS NULL",
                params![now(), name],
            )
            .map_err(failed("rotating a key"))?;
        let key = insert_key(&transaction, name)?;
        transaction.commit().map_err(failed("rotating a key"))?;
        Ok(key)
    }

    /// Revokes the tenant and every key it has.
    pub fn revoke(&self, name: &str) -> Result<(), StoreError> {
        let mut db = self.lock()?;
        let transaction = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("revoking a tenant"))?;
        let at = now();
        let changed = transaction
            .execute(
                "UPDATE tenants SET revoked_at = coalesce(revoked_at, ?1) WHERE name = ?2",
                params![at, name],
            )
            .map_err(failed("revoking a tenant"))?;
        if changed == 0 {
            return Err(unknown(name));
        }
        transaction
            .execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE tenant = ?2 AND revoked_at IS NULL",
                params![at, name],
            )
            .map_err(failed("revoking a tenant"))?;
        transaction.commit().map_err(failed("revoking a tenant"))
    }

    pub fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let db = self.lock()?;
        let mut statement = db
            .prepare_cached(
                "SELECT t.name, t.created_at, t.revoked_at,
                        (SELECT count(*) FROM api_keys k
                         WHERE k.tenant = t.name AND k.revoked_at IS NULL)
                 FROM tenants t ORDER BY t.name",
            )
            .map_err(failed("listing tenants"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(TenantRecord {
                    name: row.get(0)?,
                    created_at: row.get::<_, i64>(1)?.max(0) as u64,
                    revoked_at: row.get::<_, Option<i64>>(2)?.map(|at| at.max(0) as u64),
                    active_keys: row.get(3)?,
                })
            })
            .map_err(failed("listing tenants"))?;
        rows.collect::<Result<_, _>>()
            .map_err(failed("listing tenants"))
    }

    /// Whether any key works: the gateway refuses to listen beyond loopback
    /// without one.
    pub fn has_active_keys(&self) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                            WHERE k.revoked_at IS NULL AND t.revoked_at IS NULL)",
            [],
            |row| row.get(0),
        )
        .map_err(failed("reading keys"))
    }

    /// Whether `name` is a tenant that has not been revoked.
    pub fn is_active(&self, name: &str) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1 AND revoked_at IS NULL)",
            params![name],
            |row| row.get(0),
        )
        .map_err(failed("reading tenants"))
    }

    /// The tenant a presented key acts as, if it is a working key.
    pub fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError> {
        let Some((id, secret)) = split_key(presented) else {
            return Ok(None);
        };
        let db = self.lock()?;
        let row: Option<(String, Vec<u8>)> = db
            .prepare_cached(
                "SELECT k.tenant, k.hash FROM api_keys k JOIN tenants t ON t.name = k.tenant
                 WHERE k.id = ?1 AND k.revoked_at IS NULL AND t.revoked_at IS NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(failed("checking a key"))?;
        Ok(row.and_then(|(tenant, hash)| {
            let matches: bool = Sha256::digest(secret).as_slice().ct_eq(&hash).into();
            matches.then_some(tenant)
        }))
    }

    /// Whether the key with this id still works: neither it nor its tenant
    /// was revoked (`rotate-key` revokes every older key).
    pub fn key_is_active(&self, id: &str) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                            WHERE k.id = ?1 AND k.revoked_at IS NULL AND t.revoked_at IS NULL)",
            params![id],
            |row| row.get(0),
        )
        .map_err(failed("checking a key"))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.db
            .lock()
            .map_err(|_| StoreError::Unavailable("tenant registry lock poisoned".into()))
    }
}

/// Tenant names travel in URLs and logs: short, plain and unambiguous.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TENANT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "a tenant name is 1 to {MAX_TENANT_NAME} letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

fn insert_key(
    transaction: &rusqlite::Transaction<'_>,
    tenant: &str,
) -> Result<NewApiKey, StoreError> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
    for buffer in [&mut id[..], &mut secret[..]] {
        getrandom::fill(buffer).map_err(|error| {
            StoreError::Unavailable(format!("the system random generator failed: {error}"))
        })?;
    }
    let id = hex::encode(id);
    let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(&secret[..]));
    transaction
        .execute(
            "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                id,
                tenant,
                Sha256::digest(secret.as_bytes()).as_slice(),
                now()
            ],
        )
        .map_err(failed("storing a key"))?;
    Ok(NewApiKey {
        tenant: tenant.to_owned(),
        key: Zeroizing::new(format!("{KEY_PREFIX}_{id}_{}", secret.as_str())),
    })
}

/// `atom_<id>_<secret>` → `(id, secret)`.
/// The id part of a well-formed key: it names the key and proves nothing,
/// so it may be kept where the key itself must not be.
pub fn key_id(presented: &str) -> Option<&str> {
    split_key(presented).map(|(id, _)| id)
}

fn split_key(presented: &str) -> Option<(&str, &[u8])> {
    let rest = presented
        .trim()
        .strip_prefix(KEY_PREFIX)?
        .strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == ID_BYTES * 2
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && (40..=64).contains(&secret.len());
    well_formed.then_some((id, secret.as_bytes()))
}

fn now() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

fn unknown(name: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "no tenant '{name}': `atom-harness tenants add {name}` creates it"
    ))
}

fn failed(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |error| StoreError::Unavailable(format!("tenant registry: {doing}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> (tempfile::TempDir, TenantRegistry) {
        let dir = tempfile::tempdir().unwrap();
        let registry = TenantRegistry::open(&dir.path().join("store.db")).unwrap();
        (dir, registry)
    }

    #[test]
    fn a_key_acts_as_its_tenant_until_rotated_or_revoked() {
        let (_dir, registry) = registry();
        let first = registry.add("acme").unwrap();
        let other = registry.add("globex").unwrap();
        assert_eq!(
            registry.authenticate(&first.key).unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(
            registry.authenticate(&other.key).unwrap().as_deref(),
            Some("globex")
        );

        let active = |key: &str| registry.key_is_active(key_id(key).unwrap()).unwrap();
        assert!(active(&first.key));
        let second = registry.rotate_key("acme").unwrap();
        assert_eq!(registry.authenticate(&first.key).unwrap(), None);
        assert!(!active(&first.key) && active(&second.key));
        assert_eq!(
            registry.authenticate(&second.key).unwrap().as_deref(),
            Some("acme")
        );

        registry.revoke("acme").unwrap();
        assert_eq!(registry.authenticate(&second.key).unwrap(), None);
        assert!(!active(&second.key) && active(&other.key));
        assert!(
            registry.rotate_key("acme").is_err(),
            "a revoked tenant gets no key"
        );
        assert!(registry.add("acme").is_err(), "names are never reused");
        let listed = registry.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[0].revoked_at.is_some() && listed[0].active_keys == 0);
        assert_eq!(listed[1].active_keys, 1);
    }

    #[test]
    fn forged_and_malformed_keys_act_as_nobody() {
        let (_dir, registry) = registry();
        let key = registry.add("acme").unwrap();
        let (id, secret) = split_key(&key.key).unwrap();
        let mut forged = secret.to_vec();
        forged[0] ^= 1;
        let forged = format!("atom_{id}_{}", String::from_utf8(forged).unwrap());
        for presented in [
            forged.as_str(),
            "",
            "atom_",
            "Bearer x",
            &key.key[..key.key.len() - 1],
        ] {
            assert_eq!(
                registry.authenticate(presented).unwrap(),
                None,
                "{presented}"
            );
        }
        assert!(registry.has_active_keys().unwrap());
    }

    #[test]
    fn a_version_1_store_gains_the_registry_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE credentials (tenant TEXT NOT NULL, connection TEXT NOT NULL,
                 version INTEGER NOT NULL, key_version INTEGER NOT NULL, nonce BLOB NOT NULL,
                 ciphertext BLOB NOT NULL, updated_at INTEGER NOT NULL,
                 PRIMARY KEY (tenant, connection)) STRICT;
             INSERT INTO credentials VALUES ('acme', 'bitbucket', 3, 1, zeroblob(12), x'00', 0);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(db);
        let registry = TenantRegistry::open(&path).unwrap();
        registry.add("acme").unwrap();
        let db = Connection::open(&path).unwrap();
        let version: i64 = db
            .query_row(
                "SELECT version FROM credentials WHERE tenant = 'acme'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, 3);
        let schema: i64 = db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(schema, 4);
        let leases: i64 = db
            .query_row("SELECT count(*) FROM refresh_leases", [], |r| r.get(0))
            .expect("the upgrade adds the refresh leases");
        assert_eq!(leases, 0);
        let waits: i64 = db
            .query_row("SELECT count(*) FROM waits", [], |r| r.get(0))
            .expect("the upgrade adds the waits");
        assert_eq!(waits, 0);
    }

    #[test]
    fn names_are_checked() {
        let (_dir, registry) = registry();
        for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(registry.add(bad).is_err(), "{bad}");
        }
    }
}
