//! Sealed credentials in PostgreSQL, shared by every gateway of a
//! deployment.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::NOW_MILLIS;
use super::pool::{Failure, PgPool};
use super::watch::StoreWatch;
use crate::clock::now_secs;
use crate::credentials::{
    Rotation, STORED_COLUMNS, SealedCredentials, StoredRow, check_connection, listed,
    open_reloading, reseal, stored_version,
};
use crate::keyring::Keyring;
use crate::seal::{self, RowId};
use postgres::types::Type;

use atom_runtime::host_types::{Credential, CredentialSecret};
use atom_runtime::{CredentialStore, RefreshLeases, StoreError};

const STORE: &str = "credential store";

/// Tenants' credentials for one connection, sealed with AES-256-GCM (see the
/// crate documentation), in PostgreSQL. Sealing and opening happen in the
/// caller's process; the database only ever sees ciphertext.
pub struct PgCredentialStore {
    pool: PgPool,
    connection: String,
    keyring: Mutex<Keyring>,
    watch: Arc<StoreWatch>,
}

impl PgCredentialStore {
    /// The store for `connection` on `pool`'s database, whose schema must
    /// be migrated already (as [`super::open_postgres`] does).
    pub fn new(pool: PgPool, keyring: Keyring, connection: &str) -> Result<Self, StoreError> {
        let watch = Arc::new(StoreWatch::new(pool.config()));
        Self::watched(watch, pool, keyring, connection)
    }

    /// The store, telling `watch` of its own changes.
    pub(crate) fn watched(
        watch: Arc<StoreWatch>,
        pool: PgPool,
        keyring: Keyring,
        connection: &str,
    ) -> Result<Self, StoreError> {
        check_connection(connection)?;
        Ok(Self {
            pool,
            connection: connection.to_owned(),
            keyring: Mutex::new(keyring),
            watch,
        })
    }

    /// Whether the database answers.
    pub fn ready(&self) -> Result<(), StoreError> {
        self.pool.ready()
    }

    fn keyring(&self) -> Result<MutexGuard<'_, Keyring>, StoreError> {
        self.keyring
            .lock()
            .map_err(|_| StoreError::Unavailable("credential store lock poisoned".into()))
    }

    fn run<T: Send + 'static>(
        &self,
        doing: &'static str,
        job: impl FnOnce(&mut postgres::Client, String) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        self.pool
            .run(STORE, doing, move |client| job(client, connection))
    }
}

impl SealedCredentials for PgCredentialStore {
    fn connection(&self) -> &str {
        &self.connection
    }

    fn list(&self) -> Result<Vec<(String, u64, u32)>, StoreError> {
        self.run("listing credentials", |client, connection| {
            let rows = client.query(
                "SELECT tenant, version, key_version FROM credentials
                 WHERE connection = $1 ORDER BY tenant",
                &[&connection],
            )?;
            Ok(rows.iter().map(listed).collect::<Result<_, _>>()?)
        })
    }

    fn rotate(&self, new_keyring: Keyring) -> Result<Rotation, StoreError> {
        let keyring = new_keyring.clone();
        let rotation = self.run("rotating credential keys", move |client, _| {
            let mut transaction = client.transaction()?;
            // Locked until the commit: a credential replaced meanwhile would
            // otherwise be re-sealed from its old contents.
            let rows = transaction
                .query(
                    &format!(
                        "SELECT {STORED_COLUMNS} FROM credentials
                         WHERE key_version <> $1 FOR UPDATE"
                    ),
                    &[&i64::from(keyring.current_version())],
                )?
                .iter()
                .map(StoredRow::of)
                .collect::<Result<Vec<_>, _>>()?;
            let rotation = reseal(&rows, &keyring, |row, sealed| {
                Ok::<_, Failure>(transaction.execute(
                    "UPDATE credentials SET key_version = $1, nonce = $2, ciphertext = $3
                     WHERE tenant = $4 AND connection = $5 AND version = $6",
                    &[
                        &i64::from(sealed.key_version),
                        &&sealed.nonce[..],
                        &sealed.ciphertext,
                        &row.tenant,
                        &row.connection,
                        &row.version,
                    ],
                )?)
            })?;
            transaction.commit()?;
            Ok(rotation)
        })?;
        *self.keyring()? = new_keyring;
        Ok(rotation)
    }
}

impl CredentialStore for PgCredentialStore {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        let tenant = tenant.to_owned();
        let row = self.run("reading a credential", move |client, connection| {
            // Typed parameters: one round trip, not a prepare and then an
            // execute; every call of every request reads a credential.
            let row = client.query_typed_opt(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM credentials
                     WHERE tenant = $1 AND connection = $2"
                ),
                &[(&tenant, Type::TEXT), (&connection, Type::TEXT)],
            )?;
            Ok(row.as_ref().map(StoredRow::of).transpose()?)
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Credential {
            secret: open_reloading(&mut *self.keyring()?, &row)?,
            version: stored_version(row.version)?,
        }))
    }

    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, StoreError> {
        let id = RowId {
            tenant,
            connection: &self.connection,
        };
        let sealed = seal::seal(&*self.keyring()?, id, &secret)?;
        let tenant = tenant.to_owned();
        let now = now_secs();
        self.run("replacing a credential", move |client, connection| {
            let key_version = i64::from(sealed.key_version);
            let nonce = &sealed.nonce[..];
            // Each statement is atomic on its own: a concurrent writer of the
            // same row makes it wait, then it sees that writer's version.
            let changed = match i64::try_from(expected_version) {
                Ok(0) => client.execute(
                    "INSERT INTO credentials
                         (tenant, connection, version, key_version, nonce, ciphertext, updated_at)
                     VALUES ($1, $2, 1, $3, $4, $5, $6)
                     ON CONFLICT (tenant, connection) DO NOTHING",
                    &[
                        &tenant,
                        &connection,
                        &key_version,
                        &nonce,
                        &sealed.ciphertext,
                        &now,
                    ],
                )?,
                Ok(expected) => client.execute(
                    "UPDATE credentials
                     SET version = version + 1, key_version = $1, nonce = $2, ciphertext = $3,
                         updated_at = $4
                     WHERE tenant = $5 AND connection = $6 AND version = $7",
                    &[
                        &key_version,
                        &nonce,
                        &sealed.ciphertext,
                        &now,
                        &tenant,
                        &connection,
                        &expected,
                    ],
                )?,
                // Beyond any version a BIGINT holds: it cannot be the stored one.
                Err(_) => 0,
            };
            if changed == 1 {
                return Ok(expected_version + 1);
            }
            let current = client
                .query_opt(
                    "SELECT version FROM credentials WHERE tenant = $1 AND connection = $2",
                    &[&tenant, &connection],
                )?
                .map(|row| row.try_get::<_, i64>(0))
                .transpose()?;
            Err(Failure::Store(StoreError::Conflict(match current {
                Some(version) => stored_version(version)?,
                None => 0,
            })))
        })
        .inspect(|_| self.watch.changed_here())
    }

    fn remove(&self, tenant: &str) -> Result<(), StoreError> {
        let tenant = tenant.to_owned();
        self.run("removing a credential", move |client, connection| {
            client.execute(
                "DELETE FROM credentials WHERE tenant = $1 AND connection = $2",
                &[&tenant, &connection],
            )?;
            Ok(())
        })
        .inspect(|_| self.watch.changed_here())
    }

    fn change_mark(&self) -> Option<u64> {
        self.watch.mark()
    }
}

impl RefreshLeases for PgCredentialStore {
    fn try_lease(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let tenant = tenant.to_owned();
        let holder = holder.to_owned();
        // Halved so that adding the server's clock cannot overflow a BIGINT.
        let ttl = i64::try_from(ttl.as_millis()).map_or(i64::MAX / 2, |ttl| ttl.min(i64::MAX / 2));
        // One statement, so taking a free or expired lease is atomic across
        // replicas (the row's lock orders them); a holder may renew its own.
        // Time is the server's: the gateways' clocks may disagree, the
        // database has one.
        self.run("taking a refresh lease", move |client, connection| {
            let changed = client.execute(
                &format!(
                    "INSERT INTO refresh_leases (tenant, connection, holder, expires_at)
                     VALUES ($1, $2, $3, {NOW_MILLIS} + $4)
                     ON CONFLICT (tenant, connection) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE refresh_leases.expires_at <= {NOW_MILLIS}
                        OR refresh_leases.holder = excluded.holder"
                ),
                &[&tenant, &connection, &holder, &ttl],
            )?;
            Ok(changed == 1)
        })
    }

    fn release_lease(&self, tenant: &str, holder: &str) -> Result<(), StoreError> {
        let tenant = tenant.to_owned();
        let holder = holder.to_owned();
        self.run("releasing a refresh lease", move |client, connection| {
            client.execute(
                "DELETE FROM refresh_leases WHERE tenant = $1 AND connection = $2 AND holder = $3",
                &[&tenant, &connection, &holder],
            )?;
            Ok(())
        })
    }
}

impl fmt::Debug for PgCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCredentialStore")
            .field("database", &self.pool.target())
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}
