//! A fresh, empty store of either backend for one test, and raw access to
//! it as someone with database access (not the keys) would have.

use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;

use super::database;
use crate::{
    DEFAULT_CONNECTION, Keyring, SealedCredentials, SqliteCredentialStore, SqliteTenantRegistry,
    SqliteWaitBook, TenantRegistry, WaitBook,
};
use atom_runtime::StoreError;

pub(super) enum Backend {
    Sqlite { _dir: TempDir, path: PathBuf },
}

impl Backend {
    pub fn sqlite() -> Self {
        let (dir, path) = database();
        Backend::Sqlite { _dir: dir, path }
    }

    /// A new handle, as a process of its own would open, on the default
    /// connection.
    pub fn credentials(&self, keyring: Keyring) -> Arc<dyn SealedCredentials> {
        self.credentials_on(keyring, DEFAULT_CONNECTION)
            .expect("store opens")
    }

    pub fn credentials_on(
        &self,
        keyring: Keyring,
        connection: &str,
    ) -> Result<Arc<dyn SealedCredentials>, StoreError> {
        Ok(match self {
            Backend::Sqlite { path, .. } => Arc::new(SqliteCredentialStore::open_connection(
                path, keyring, connection,
            )?),
        })
    }

    pub fn tenants(&self) -> Arc<dyn TenantRegistry> {
        match self {
            Backend::Sqlite { path, .. } => {
                Arc::new(SqliteTenantRegistry::open(path).expect("registry opens"))
            }
        }
    }

    pub fn waits(&self) -> Arc<dyn WaitBook> {
        match self {
            Backend::Sqlite { path, .. } => {
                Arc::new(SqliteWaitBook::open(path).expect("waits open"))
            }
        }
    }

    /// Runs `sql` (written to suit both databases) outside the store.
    pub fn execute(&self, sql: &str) -> u64 {
        match self {
            Backend::Sqlite { path, .. } => {
                let changed = raw_sqlite(path).execute(sql, []).expect("raw statement");
                u64::try_from(changed).expect("a row count")
            }
        }
    }

    /// Every credential's nonce, in a stable order.
    pub fn nonces(&self) -> Vec<Vec<u8>> {
        const QUERY: &str = "SELECT nonce FROM credentials ORDER BY connection, tenant";
        match self {
            Backend::Sqlite { path, .. } => {
                let db = raw_sqlite(path);
                let mut statement = db.prepare(QUERY).expect("prepared");
                statement
                    .query_map([], |row| row.get(0))
                    .expect("queried")
                    .collect::<Result<_, _>>()
                    .expect("read")
            }
        }
    }
}

/// A second, plain connection to the file, as an attacker or operator with
/// file access would have.
pub(super) fn raw_sqlite(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}
