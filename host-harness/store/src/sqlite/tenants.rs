//! The tenant registry in the store's SQLite file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::watch::DataVersion;
use crate::clock::now_secs;
use crate::tenants::{
    MadeKey, NewApiKey, RECORD_QUERY, TenantRecord, TenantRegistry, authenticate_with, check_name,
    exists, make_key, record_of, revoked, unknown,
};
use atom_runtime::StoreError;

/// The tenants and their keys, in the credential store's SQLite file.
pub struct SqliteTenantRegistry {
    db: Mutex<Connection>,
    watch: DataVersion,
}

impl SqliteTenantRegistry {
    /// Opens (creating if absent) the registry in the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = super::open_database(path, "tenant registry")?;
        Ok(Self {
            db: Mutex::new(db),
            watch: DataVersion::open(path, "tenant registry")?,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.db
            .lock()
            .map_err(|_| StoreError::Unavailable("tenant registry lock poisoned".into()))
    }
}

impl TenantRegistry for SqliteTenantRegistry {
    fn add(&self, name: &str) -> Result<NewApiKey, StoreError> {
        check_name(name)?;
        let key = make_key(name)?;
        let mut db = self.lock()?;
        let transaction = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("adding a tenant"))?;
        let created = transaction
            .execute(
                "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)
                 ON CONFLICT (name) DO NOTHING",
                params![name, now_secs()],
            )
            .map_err(failed("adding a tenant"))?;
        if created == 0 {
            return Err(exists(name));
        }
        insert_key(&transaction, name, &key)?;
        transaction.commit().map_err(failed("adding a tenant"))?;
        self.watch.changed_here();
        Ok(key.shown)
    }

    fn rotate_key(&self, name: &str) -> Result<NewApiKey, StoreError> {
        let key = make_key(name)?;
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
            Some(Some(_)) => return Err(revoked(name)),
            Some(None) => {}
        }
        transaction
            .execute(
                "UPDATE api_keys SET revoked_at = ?1 WHERE tenant = ?2 AND revoked_at IS NULL",
                params![now_secs(), name],
            )
            .map_err(failed("rotating a key"))?;
        insert_key(&transaction, name, &key)?;
        transaction.commit().map_err(failed("rotating a key"))?;
        self.watch.changed_here();
        Ok(key.shown)
    }

    fn revoke(&self, name: &str) -> Result<(), StoreError> {
        let mut db = self.lock()?;
        let transaction = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed("revoking a tenant"))?;
        let at = now_secs();
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
        transaction.commit().map_err(failed("revoking a tenant"))?;
        self.watch.changed_here();
        Ok(())
    }

    fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let db = self.lock()?;
        let failed = failed("listing tenants");
        let mut statement = db.prepare_cached(RECORD_QUERY).map_err(failed)?;
        let mut rows = statement.query([]).map_err(failed)?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            records.push(record_of(row)?);
        }
        Ok(records)
    }

    fn has_active_keys(&self) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                            WHERE k.revoked_at IS NULL AND t.revoked_at IS NULL)",
            [],
            |row| row.get(0),
        )
        .map_err(failed("reading keys"))
    }

    fn is_active(&self, name: &str) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1 AND revoked_at IS NULL)",
            params![name],
            |row| row.get(0),
        )
        .map_err(failed("reading tenants"))
    }

    fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError> {
        authenticate_with(presented, |id| {
            let db = self.lock()?;
            db.prepare_cached(
                "SELECT k.tenant, k.hash FROM api_keys k JOIN tenants t ON t.name = k.tenant
                 WHERE k.id = ?1 AND k.revoked_at IS NULL AND t.revoked_at IS NULL",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(failed("checking a key"))
        })
    }

    fn key_is_active(&self, id: &str) -> Result<bool, StoreError> {
        let db = self.lock()?;
        db.query_row(
            "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                            WHERE k.id = ?1 AND k.revoked_at IS NULL AND t.revoked_at IS NULL)",
            params![id],
            |row| row.get(0),
        )
        .map_err(failed("checking a key"))
    }

    /// Any commit to the file moves it, not only the registry's: a
    /// credential refresh makes remembered keys be checked again once.
    fn change_mark(&self) -> Option<u64> {
        self.watch.mark()
    }
}

fn insert_key(
    transaction: &rusqlite::Transaction<'_>,
    tenant: &str,
    key: &MadeKey,
) -> Result<(), StoreError> {
    transaction
        .execute(
            "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![key.id, tenant, &key.hash[..], now_secs()],
        )
        .map_err(failed("storing a key"))?;
    Ok(())
}

fn failed(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy {
    move |error| StoreError::Unavailable(format!("tenant registry: {doing}: {error}"))
}
