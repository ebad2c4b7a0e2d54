//! The SQLite backend: one file that the harness processes of one machine
//! share, coordinating through SQLite's locks.

mod credentials;
mod tenants;
mod waits;
mod watch;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use atom_runtime::StoreError;

pub use credentials::SqliteCredentialStore;
pub use tenants::SqliteTenantRegistry;
pub use waits::SqliteWaitBook;

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

/// Opens (creating if absent) the store's file at `path` for one handle;
/// `what` names the handle in errors.
fn open_database(path: &Path, what: &str) -> Result<Connection, StoreError> {
    create_private(path)?;
    let mut db = Connection::open(path)
        .map_err(|error| StoreError::Unavailable(format!("{what} {}: {error}", path.display())))?;
    prepare(&mut db, path)?;
    Ok(db)
}

/// Settings every handle needs, then the schema if the file is new or older.
fn prepare(db: &mut Connection, path: &Path) -> Result<(), StoreError> {
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
fn create_private(path: &Path) -> Result<(), StoreError> {
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
