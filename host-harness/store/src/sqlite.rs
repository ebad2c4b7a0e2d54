//! Sealed credentials in one SQLite file that several harness processes share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::keyring::Keyring;
use super::seal::{self, RowId};
use atom_runtime::host_types::{Credential, CredentialSecret};
use atom_runtime::{CredentialStore, RefreshLeases, StoreError, unix_now};

/// The connection a store serves unless told otherwise.
pub const DEFAULT_CONNECTION: &str = "bitbucket";

/// How long a write waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA user_version` of the schema below.
const SCHEMA_VERSION: i64 = 4;

/// Version 1: sealed credentials.
const SCHEMA_V1: &str = "
CREATE TABLE credentials (
    tenant      TEXT    NOT NULL,
    connection  TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version > 0),
    key_version INTEGER NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    nonce       BLOB    NOT NULL CHECK (length(nonce) = 12),
    ciphertext  BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection)
) STRICT;
";

/// Version 2: the tenants an operator created and their gateway API keys
/// (only a SHA-256 of each key's secret half is kept; see `tenants`).
const SCHEMA_V2: &str = "
CREATE TABLE tenants (
    name        TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE TABLE api_keys (
    id          TEXT    PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants (name),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant);
";

/// Version 3: who is refreshing a tenant's OAuth token, across processes.
/// A lease expires, so a process that dies holding one delays the others,
/// it does not lock them out.
const SCHEMA_V3: &str = "
CREATE TABLE refresh_leases (
    tenant      TEXT    NOT NULL,
    connection  TEXT    NOT NULL,
    holder      TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant, connection)
) STRICT;
";

/// Version 4: what the gateway waits for on a tenant's behalf (a merge
/// when green): kept here, not in memory, so a wait outlives the process
/// that took it and any process of the deployment can pick it up.
const SCHEMA_V4: &str = "
CREATE TABLE waits (
    id          TEXT    PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    request     TEXT    NOT NULL,
    key_id      TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('waiting', 'done', 'ended', 'cancelled', 'expired')),
    outcome     TEXT,
    checks      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    checked_at  INTEGER,
    deadline    INTEGER NOT NULL,
    claimed_until INTEGER
) STRICT;
CREATE INDEX waits_waiting ON waits (state, tenant, subject);
CREATE UNIQUE INDEX one_wait_per_subject ON waits (tenant, kind, subject) WHERE state = 'waiting';
";

/// Tenants' credentials for one connection, sealed with AES-256-GCM (see the
/// module documentation). Each handle owns one SQLite connection; handles in
/// other threads or processes coordinate through the database's locks.
pub struct SqliteCredentialStore {
    path: PathBuf,
    connection: String,
    inner: Mutex<Inner>,
}

struct Inner {
    db: Connection,
    keyring: Keyring,
}

/// A row as read, still sealed.
/// What a key rotation did.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Rows now sealed with the new current key.
    pub resealed: usize,
    /// Rows sealed with a key the keyring lacks, left as they were.
    pub unreadable: Vec<Unreadable>,
}

/// A stored row no key of the keyring opens.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub tenant: String,
    pub connection: String,
    pub key_version: u32,
}

struct StoredRow {
    tenant: String,
    connection: String,
    version: i64,
    key_version: u32,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl StoredRow {
    fn id(&self) -> RowId<'_> {
        RowId {
            tenant: &self.tenant,
            connection: &self.connection,
        }
    }

    fn open(&self, keyring: &Keyring) -> Result<CredentialSecret, StoreError> {
        seal::open(
            keyring,
            self.id(),
            self.key_version,
            &self.nonce,
            &self.ciphertext,
        )
    }
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
        if connection.is_empty() {
            return Err(StoreError::Unavailable(
                "credential store: the connection name is empty".into(),
            ));
        }
        create_private(path)?;
        let mut db = Connection::open(path).map_err(|error| {
            StoreError::Unavailable(format!("credential store {}: {error}", path.display()))
        })?;
        prepare(&mut db, path)?;
        Ok(Self {
            path: path.to_owned(),
            connection: connection.to_owned(),
            inner: Mutex::new(Inner { db, keyring }),
        })
    }

    /// The connection this handle reads and writes.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// Every tenant with a credential on this connection, with its version
    /// and the key version it is sealed with; decrypts nothing.
    pub fn list(&self) -> Result<Vec<(String, u64, u32)>, StoreError> {
        let inner = self.lock()?;
        let mut statement = inner
            .db
            .prepare_cached(
                "SELECT tenant, version, key_version FROM credentials
                 WHERE connection = ?1 ORDER BY tenant",
            )
            .map_err(self.failed("listing credentials"))?;
        let rows = statement
            .query_map(params![self.connection], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, u32>(2)?,
                ))
            })
            .map_err(self.failed("listing credentials"))?;
        rows.map(|row| {
            let (tenant, version, key_version) = row.map_err(self.failed("listing credentials"))?;
            Ok((tenant, stored_version(version)?, key_version))
        })
        .collect()
    }

    /// Re-seals every row of the file, whatever its connection, that is not
    /// under `new_keyring`'s current key, then seals with `new_keyring` from
    /// now on. Rows are read with the key version each names, so
    /// `new_keyring` must still hold the old keys (as
    /// `Keyring::with_new_current_key` gives). One transaction: a row it
    /// cannot open fails the whole rotation and changes nothing. Credential
    /// versions and `updated_at` stay: the credentials themselves are the
    /// same. Answers how many rows were re-sealed.
    pub fn rotate(&self, new_keyring: Keyring) -> Result<Rotation, StoreError> {
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
                .prepare(
                    "SELECT tenant, connection, version, key_version, nonce, ciphertext
                     FROM credentials WHERE key_version != ?1",
                )
                .map_err(failed)?;
            statement
                .query_map(params![target], |row| {
                    Ok(StoredRow {
                        tenant: row.get(0)?,
                        connection: row.get(1)?,
                        version: row.get(2)?,
                        key_version: row.get(3)?,
                        nonce: row.get(4)?,
                        ciphertext: row.get(5)?,
                    })
                })
                .map_err(failed)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(failed)?
        };
        let mut resealed = 0;
        let mut unreadable = Vec::new();
        for row in &rows {
            // A row no key opens stays as it is, and is reported: one lost
            // key must not keep every other row on the old one.
            let secret = match row.open(&new_keyring) {
                Ok(secret) => secret,
                Err(_) => {
                    unreadable.push(Unreadable {
                        tenant: row.tenant.clone(),
                        connection: row.connection.clone(),
                        key_version: row.key_version,
                    });
                    continue;
                }
            };
            let sealed = seal::seal(&new_keyring, row.id(), &secret)?;
            resealed += transaction
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
        }
        transaction.commit().map_err(failed)?;
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
        Ok(Rotation {
            resealed,
            unreadable,
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

/// Opens `row`, reading the keyring's key file once more when the row names
/// a key version the keyring lacks: `keys rotate` re-seals rows with a key
/// it adds to the file while a server is running on the old keyring.
fn open_reloading(keyring: &mut Keyring, row: &StoredRow) -> Result<CredentialSecret, StoreError> {
    match row.open(keyring) {
        Err(missing) if !keyring.contains(row.key_version) => match keyring.reload() {
            Some(Ok(fresh)) if fresh.contains(row.key_version) => {
                *keyring = fresh;
                row.open(keyring)
            }
            Some(Err(reload)) => {
                tracing::warn!(%reload, "re-reading the credential key file");
                Err(missing)
            }
            _ => Err(missing),
        },
        opened => opened,
    }
}

impl CredentialStore for SqliteCredentialStore {
    fn get(&self, tenant: &str) -> Result<Option<Credential>, StoreError> {
        let mut inner = self.lock()?;
        let failed = self.failed("reading a credential");
        let row = inner
            .db
            .prepare_cached(
                "SELECT version, key_version, nonce, ciphertext FROM credentials
                 WHERE tenant = ?1 AND connection = ?2",
            )
            .map_err(failed)?
            .query_row(params![tenant, self.connection], |row| {
                Ok(StoredRow {
                    tenant: tenant.to_owned(),
                    connection: self.connection.clone(),
                    version: row.get(0)?,
                    key_version: row.get(1)?,
                    nonce: row.get(2)?,
                    ciphertext: row.get(3)?,
                })
            })
            .optional()
            .map_err(failed)?;
        let Some(row) = row else {
            return Ok(None);
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
        let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
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
        Ok(())
    }
}

impl RefreshLeases for SqliteCredentialStore {
    fn try_lease(&self, tenant: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let inner = self.lock()?;
        let now = unix_now_millis();
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

fn unix_now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl fmt::Debug for SqliteCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteCredentialStore")
            .field("path", &self.path)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

/// Settings every handle needs, then the schema if the file is new or older.
pub(super) fn prepare(db: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let refuse = |problem: String| {
        StoreError::Unavailable(format!("credential store {}: {problem}", path.display()))
    };
    let failed = |error: rusqlite::Error| refuse(error.to_string());
    // First, so that even switching to WAL waits for other processes.
    db.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    let mode: String = db
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(failed)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(refuse(format!(
            "cannot use write-ahead logging (journal mode stays {mode})"
        )));
    }
    // A committed refresh may have rotated the upstream's refresh token:
    // losing it to a power cut would lock the tenant out.
    db.pragma_update(None, "synchronous", "FULL")
        .map_err(failed)?;
    // Wipes freed space, so ciphertext sealed under a retired key does not
    // outlive its row.
    db.pragma_update(None, "secure_delete", "ON")
        .map_err(failed)?;
    let transaction = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let version: i64 = transaction
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(failed)?;
    if version > SCHEMA_VERSION {
        return Err(refuse(format!(
            "schema version {version} is newer than this harness understands ({SCHEMA_VERSION})"
        )));
    }
    // Plain CREATEs: a file that already has some other table of the same
    // name is not ours, and must not be written to.
    if version < 1 {
        transaction.execute_batch(SCHEMA_V1).map_err(failed)?;
    }
    if version < 2 {
        transaction.execute_batch(SCHEMA_V2).map_err(failed)?;
    }
    if version < 3 {
        transaction.execute_batch(SCHEMA_V3).map_err(failed)?;
    }
    if version < 4 {
        transaction.execute_batch(SCHEMA_V4).map_err(failed)?;
    }
    if version < SCHEMA_VERSION {
        transaction
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(failed)?;
    }
    transaction.commit().map_err(failed)
}

/// Creates the database file readable by its owner only; SQLite gives its
/// `-wal` and `-shm` files the same permissions.
pub(super) fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(StoreError::Unavailable(format!(
            "credential store {}: {error}",
            path.display()
        ))),
    }
}

fn stored_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "credential store holds an invalid version {version}"
        ))
    })
}
