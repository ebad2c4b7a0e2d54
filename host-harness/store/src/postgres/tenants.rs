//! The tenant registry in PostgreSQL.

use postgres::GenericClient;

use super::pool::{Failure, PgPool};
use super::watch::StoreWatch;
use crate::clock::now_secs;
use crate::tenants::{
    MadeKey, NewApiKey, RECORD_QUERY, TenantRecord, TenantRegistry, authenticate_with, check_name,
    exists, make_key, record_of, revoked, unknown,
};
use atom_runtime::StoreError;
use postgres::types::Type;
use std::sync::Arc;

const STORE: &str = "tenant registry";

/// The tenants and their keys, in PostgreSQL.
#[derive(Debug)]
pub struct PgTenantRegistry {
    pool: PgPool,
    watch: Arc<StoreWatch>,
}

impl PgTenantRegistry {
    /// The registry on `pool`'s database, whose schema must be migrated
    /// already (as [`super::open_postgres`] does).
    pub fn new(pool: PgPool) -> Self {
        Self::watched(Arc::new(StoreWatch::new(pool.config())), pool)
    }

    /// The registry, telling `watch` of its own changes.
    pub(crate) fn watched(watch: Arc<StoreWatch>, pool: PgPool) -> Self {
        Self { pool, watch }
    }

    /// Whether the database answers.
    pub fn ready(&self) -> Result<(), StoreError> {
        self.pool.ready()
    }
}

impl TenantRegistry for PgTenantRegistry {
    fn add(&self, name: &str) -> Result<NewApiKey, StoreError> {
        check_name(name)?;
        let key = make_key(name)?;
        let name = name.to_owned();
        self.pool.run(STORE, "adding a tenant", move |client| {
            let mut transaction = client.transaction()?;
            let created = transaction.execute(
                "INSERT INTO tenants (name, created_at) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &now_secs()],
            )?;
            if created == 0 {
                return Err(exists(&name).into());
            }
            insert_key(&mut transaction, &name, &key)?;
            transaction.commit()?;
            Ok(key.shown)
        })
    }

    fn rotate_key(&self, name: &str) -> Result<NewApiKey, StoreError> {
        let key = make_key(name)?;
        let name = name.to_owned();
        self.pool
            .run(STORE, "rotating a key", move |client| {
                let mut transaction = client.transaction()?;
                // Locks the tenant: a revocation committing meanwhile would
                // otherwise leave the new key working for a revoked tenant.
                let tenant = transaction.query_opt(
                    "SELECT revoked_at FROM tenants WHERE name = $1 FOR UPDATE",
                    &[&name],
                )?;
                let Some(tenant) = tenant else {
                    return Err(unknown(&name).into());
                };
                if tenant.try_get::<_, Option<i64>>(0)?.is_some() {
                    return Err(revoked(&name).into());
                }
                transaction.execute(
                    "UPDATE api_keys SET revoked_at = $1 WHERE tenant = $2 AND revoked_at IS NULL",
                    &[&now_secs(), &name],
                )?;
                insert_key(&mut transaction, &name, &key)?;
                transaction.commit()?;
                Ok(key.shown)
            })
            .inspect(|_| self.watch.changed_here())
    }

    fn revoke(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.pool
            .run(STORE, "revoking a tenant", move |client| {
                let mut transaction = client.transaction()?;
                let at = now_secs();
                let changed = transaction.execute(
                    "UPDATE tenants SET revoked_at = coalesce(revoked_at, $1) WHERE name = $2",
                    &[&at, &name],
                )?;
                if changed == 0 {
                    return Err(unknown(&name).into());
                }
                transaction.execute(
                    "UPDATE api_keys SET revoked_at = $1 WHERE tenant = $2 AND revoked_at IS NULL",
                    &[&at, &name],
                )?;
                transaction.commit()?;
                Ok(())
            })
            .inspect(|_| self.watch.changed_here())
    }

    fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.pool.run(STORE, "listing tenants", |client| {
            let rows = client.query(RECORD_QUERY, &[])?;
            Ok(rows.iter().map(record_of).collect::<Result<_, _>>()?)
        })
    }

    fn has_active_keys(&self) -> Result<bool, StoreError> {
        self.pool.run(STORE, "reading keys", |client| {
            Ok(client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                                    WHERE k.revoked_at IS NULL AND t.revoked_at IS NULL)",
                    &[],
                )?
                .try_get(0)?)
        })
    }

    fn is_active(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.pool.run(STORE, "reading tenants", move |client| {
            Ok(client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1 AND revoked_at IS NULL)",
                    &[&name],
                )?
                .try_get(0)?)
        })
    }

    fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError> {
        authenticate_with(presented, |id| {
            let id = id.to_owned();
            self.pool.run(STORE, "checking a key", move |client| {
                // Typed parameters: one round trip; every request checks a key.
                let row = client.query_typed_opt(
                    "SELECT k.tenant, k.hash FROM api_keys k JOIN tenants t ON t.name = k.tenant
                     WHERE k.id = $1 AND k.revoked_at IS NULL AND t.revoked_at IS NULL",
                    &[(&id, Type::TEXT)],
                )?;
                Ok(match row {
                    Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
                    None => None,
                })
            })
        })
    }

    fn key_is_active(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.pool.run(STORE, "checking a key", move |client| {
            Ok(client
                .query_typed_one(
                    "SELECT EXISTS (SELECT 1 FROM api_keys k JOIN tenants t ON t.name = k.tenant
                                    WHERE k.id = $1 AND k.revoked_at IS NULL
                                      AND t.revoked_at IS NULL)",
                    &[(&id, Type::TEXT)],
                )?
                .try_get(0)?)
        })
    }

    fn change_mark(&self) -> Option<u64> {
        self.watch.mark()
    }
}

fn insert_key(client: &mut impl GenericClient, tenant: &str, key: &MadeKey) -> Result<(), Failure> {
    client.execute(
        "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES ($1, $2, $3, $4)",
        &[&key.id, &tenant, &&key.hash[..], &now_secs()],
    )?;
    Ok(())
}
