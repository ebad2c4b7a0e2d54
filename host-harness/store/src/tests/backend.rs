//! A fresh, empty store of either backend for one test, and raw access to
//! it as someone with database access (not the keys) would have.

use std::path::PathBuf;
use std::sync::Arc;

use postgres::NoTls;
use tempfile::TempDir;

use super::database;
use crate::{
    DEFAULT_CONNECTION, Keyring, SealedCredentials, SqliteCredentialStore, SqliteTenantRegistry,
    SqliteWaitBook, TenantRegistry, WaitBook, open_postgres,
};
use atom_runtime::StoreError;

/// The server the PostgreSQL tests use: a URL (not key=value), since each
/// test appends its own `options`.
pub(super) const POSTGRES_ENV: &str = "ATOM_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(super) enum Backend {
    Sqlite { _dir: TempDir, path: PathBuf },
    Postgres(Schema),
}

impl Backend {
    pub fn sqlite() -> Self {
        let (dir, path) = database();
        Backend::Sqlite { _dir: dir, path }
    }

    pub fn postgres() -> Self {
        Backend::Postgres(Schema::create())
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
            Backend::Postgres(schema) => {
                open_postgres(&schema.url, keyring, connection)?.credentials
            }
        })
    }

    pub fn tenants(&self) -> Arc<dyn TenantRegistry> {
        match self {
            Backend::Sqlite { path, .. } => {
                Arc::new(SqliteTenantRegistry::open(path).expect("registry opens"))
            }
            Backend::Postgres(schema) => schema.open().tenants,
        }
    }

    pub fn waits(&self) -> Arc<dyn WaitBook> {
        match self {
            Backend::Sqlite { path, .. } => {
                Arc::new(SqliteWaitBook::open(path).expect("waits open"))
            }
            Backend::Postgres(schema) => schema.open().waits,
        }
    }

    /// Runs `sql` (written to suit both databases) outside the store.
    pub fn execute(&self, sql: &str) -> u64 {
        match self {
            Backend::Sqlite { path, .. } => {
                let changed = raw_sqlite(path).execute(sql, []).expect("raw statement");
                u64::try_from(changed).expect("a row count")
            }
            Backend::Postgres(schema) => schema.client().execute(sql, &[]).expect("raw statement"),
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
            Backend::Postgres(schema) => schema
                .client()
                .query(QUERY, &[])
                .expect("queried")
                .iter()
                .map(|row| row.get(0))
                .collect(),
        }
    }
}

/// A second, plain connection to the file, as an attacker or operator with
/// file access would have.
pub(super) fn raw_sqlite(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

/// A schema of its own on the test server, dropped (best effort) when the
/// test ends, so tests run in parallel and leave nothing behind.
pub(super) struct Schema {
    pub name: String,
    /// The server's URL with this schema as the search path.
    pub url: String,
    admin: String,
}

impl Schema {
    pub fn create() -> Self {
        let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("randomness");
        let name = format!("atom_test_{}", hex::encode(random));
        postgres::Client::connect(&admin, NoTls)
            .unwrap_or_else(|error| {
                panic!("PostgreSQL for the store's tests ({POSTGRES_ENV}): {error}")
            })
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("test schema created");
        let separator = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{separator}options=-csearch_path%3D{name}");
        Self { name, url, admin }
    }

    /// Stores of a process of their own.
    pub fn open(&self) -> crate::PgStores {
        let keyring = Keyring::generate().expect("random key");
        open_postgres(&self.url, keyring, DEFAULT_CONNECTION).expect("stores open")
    }

    /// A plain connection to the schema, outside the store.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, NoTls).expect("raw connection")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
