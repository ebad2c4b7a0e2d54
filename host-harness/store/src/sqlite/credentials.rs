//! Sealed credentials in one SQLite file that several harness processes share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::watch::DataVersion;
use crate::clock::{now_millis, now_secs};
use crate::credentials::{
    DEFAULT_CONNECTION, Rotation, STORED_COLUMNS, SealedCredentials, StoredRow, check_connection,
    listed, open_reloading, reseal, stored_version,
};
use crate::keyring::Keyring;
use crate::seal::{self, RowId};
use atom_runtime::host_types::{Credential, CredentialSecret};
use atom_runtime::{CredentialStore, RefreshLeases, StoreError};

/// Tenants' credentials for one connection, sealed with AES-256-GCM (see the
/// crate documentation). Each handle owns one SQLite connection; handles in
/// other threads or processes coordinate through the database's locks.
pub struct SqliteCredentialStore {
    path: PathBuf,
    connection: String,
    inner: Mutex<Inner>,
    watch: DataVersion,
}

struct Inner {
    db: Connection,
    keyring: Keyring,
}

impl SqliteCredentialStore {
    /// Opens (creating if absent) the store at `path` for the default connection.
    pub fn open(path: &Path, keyring: Keyring) -> Result<Self, StoreError> {
        Self::open_connection(path, keyring, DEFAULT_CONNECTION)
    }

    /// Opens (creating if absent) the store at `path` for `connection`.
    pub fn open_connection(
        path: &Path,
        keyring: Keyring,
        connection: &str,
    ) -> Result<Self, StoreError> {
        check_connection(connection)?;
        let db = super::open_database(path, "credential store")?;
        Ok(Self {
            path: path.to_owned(),
            connection: connection.to_owned(),
            inner: Mutex::new(Inner { db, keyring }),
            watch: DataVersion::open(path, "credential store")?,
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("credential store lock poisoned".into()))
    }

    fn failed(&self, doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
        move |error| {
            StoreError::Unavailable(format!(
                "credential store {}: {doing}: {error}",
                self.path.display()
            ))
        }
    }

    fn row_id<'a>(&'a self, tenant: &'a str) -> RowId<'a> {
        RowId {
            tenant,
            connection: &self.connection,
        }
    }
}

impl SealedCredentials for SqliteCredentialStore {
    fn connection(&self) -> &str {
        &self.connection
    }

    fn list(&self) -> Result<Vec<(String, u64, u32)>, StoreError> {
        let inner = self.lock()?;
        let failed = self.failed("listing credentials");
        let mut statement = inner
            .db
            .prepare_cached(
                "SELECT tenant, version, key_version FROM credentials
                 WHERE connection = ?1 ORDER BY tenant",
            )
            .map_err(failed)?;
        let mut rows = statement.query(params![self.connection]).map_err(failed)?;
        let mut listed_rows = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            listed_rows.push(listed(row)?);
        }
        Ok(listed_rows)
    }

    fn rotate(&self, new_keyring: Keyring) -> Result<Rotation, StoreError> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        let failed = self.failed("rotating credential keys");
        let target = new_keyring.current_version();
        let transaction = inner
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let rows = {
            let mut statement = transaction
                .prepare(&format!(
                    "SELECT {STORED_COLUMNS} FROM credentials WHERE key_version != ?1"
                ))
                .map_err(failed)?;
            let mut rows = statement.query(params![target]).map_err(failed)?;
            let mut stored = Vec::new();
            while let Some(row) = rows.next().map_err(failed)? {
                stored.push(StoredRow::of(row)?);
            }
            stored
        };
        let rotation = reseal(&rows, &new_keyring, |row, sealed| {
            let changed = transaction
                .execute(
                    "UPDATE credentials SET key_version = ?1, nonce = ?2, ciphertext = ?3
                     WHERE tenant = ?4 AND connection = ?5 AND version = ?6",
                    params![
                        sealed.key_version,
                        &sealed.nonce[..],
                        sealed.ciphertext,
                        row.tenant,
                        row.connection,
                        row.version
                    ],
                )
                .map_err(failed)?;
            Ok::<_, StoreError>(u64::try_from(changed).unwrap_or(u64::MAX))
        })?;
        transaction.commit().map_err(failed)?;
        self.watch.changed_here();
        inner.keyring = new_keyring;
        // Old-key ciphertext lingers in the write-ahead log until it is
        // overwritten; truncating it now is best effort, since readers in
        // other processes may hold it open.
        match inner
            .db
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            }) {
            Ok(0) => {}
            Ok(_) => tracing::warn!(
                path = %self.path.display(),
                "credential keys rotated, but the write-ahead log is in use and was not truncated"
            ),
            Err(error) => tracing::warn!(
                path = %self.path.display(),
                %error,
                "credential keys rotated, but the write-ahead log was not truncated"
            ),
        }
        Ok(rotation)
    }
}

impl CredentialStore for SqliteCredentialStore {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        let mut inner = self.lock()?;
        let failed = self.failed("reading a credential");
        let row = {
            let mut statement = inner
                .db
                .prepare_cached(&format!(
                    "SELECT {STORED_COLUMNS} FROM credentials
                     WHERE tenant = ?1 AND connection = ?2"
                ))
                .map_err(failed)?;
            let mut rows = statement
                .query(params![tenant, self.connection])
                .map_err(failed)?;
            match rows.next().map_err(failed)? {
                Some(row) => StoredRow::of(row)?,
                None => return Ok(None),
            }
        };
        Ok(Some(Credential {
            secret: open_reloading(&mut inner.keyring, &row)?,
            version: stored_version(row.version)?,
        }))
    }

    fn replace(
        &self,
        tenant: &str,
        expected_version: u64,
        secret: CredentialSecret,
    ) -> Result<u64, StoreError> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        let failed = self.failed("replacing a credential");
        // Sealed before taking the write lock, which other processes wait on.
        let sealed = seal::seal(&inner.keyring, self.row_id(tenant), &secret)?;
        let now = now_secs();
        // IMMEDIATE takes the write lock up front: a deferred transaction
        // that read first could not upgrade past a concurrent writer.
        let transaction = inner
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let changed = match i64::try_from(expected_version) {
            Ok(0) => transaction.execute(
                "INSERT INTO credentials
                     (tenant, connection, version, key_version, nonce, ciphertext, updated_at)
                 VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, connection) DO NOTHING",
                params![
                    tenant,
                    self.connection,
                    sealed.key_version,
                    &sealed.nonce[..],
                    sealed.ciphertext,
                    now
                ],
            ),
            Ok(expected) => transaction.execute(
                "UPDATE credentials
                 SET version = version + 1, key_version = ?1, nonce = ?2, ciphertext = ?3,
                     updated_at = ?4
                 WHERE tenant = ?5 AND connection = ?6 AND version = ?7",
                params![
                    sealed.key_version,
                    &sealed.nonce[..],
                    sealed.ciphertext,
                    now,
                    tenant,
                    self.connection,
                    expected
                ],
            ),
            // Beyond any version SQLite can hold: it cannot be the stored one.
            Err(_) => Ok(0),
        }
        .map_err(failed)?;
        if changed == 1 {
            transaction.commit().map_err(failed)?;
            self.watch.changed_here();
            return Ok(expected_version + 1);
        }
        let current = transaction
            .query_row(
                "SELECT version FROM credentials WHERE tenant = ?1 AND connection = ?2",
                params![tenant, self.connection],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map_err(failed)?;
        Err(StoreError::Conflict(match current {
            Some(version) => stored_version(version)?,
            None => 0,
        }))
    }

    fn remove(&self, tenant: &str) -> Result<(), StoreError> {
        let inner = self.lock()?;
        inner
            .db
            .execute(
                "DELETE FROM credentials WHERE tenant = ?1 AND connection = ?2",
                params![tenant, self.connection],
            )
            .map_err(self.failed("removing a credential"))?;
        self.watch.changed_here();
        Ok(())
    }

    fn change_mark(&self) -> Option<u64> {
        self.watch.mark()
    }
}

impl RefreshLeases for SqliteCredentialStore {
    fn try_lease(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let inner = self.lock()?;
        let now = now_millis();
        let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        // One statement, so taking a free or expired lease is atomic across
        // processes; a holder may renew its own.
        let changed = inner
            .db
            .prepare_cached(
                "INSERT INTO refresh_leases (tenant, connection, holder, expires_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, connection) DO UPDATE
                 SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE refresh_leases.expires_at <= ?5 OR refresh_leases.holder = excluded.holder",
            )
            .map_err(self.failed("taking a refresh lease"))?
            .execute(params![tenant, self.connection, holder, expires_at, now])
            .map_err(self.failed("taking a refresh lease"))?;
        Ok(changed == 1)
    }

    fn release_lease(&self, tenant: &str, holder: &str) -> Result<(), StoreError> {
        let inner = self.lock()?;
        inner
            .db
            .prepare_cached(
                "DELETE FROM refresh_leases WHERE tenant = ?1 AND connection = ?2 AND holder = ?3",
            )
            .map_err(self.failed("releasing a refresh lease"))?
            .execute(params![tenant, self.connection, holder])
            .map_err(self.failed("releasing a refresh lease"))?;
        Ok(())
    }
}

impl fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("path", &self.path)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}
