//! Whether anything was committed to the store's file since a given mark,
//! by this process's other connections or by another process (`tenants
//! revoke`, `auth add-token`): `PRAGMA data_version` on a connection that
//! itself never writes. It reads the write-ahead log's index in shared
//! memory, not a table, so it is cheap enough to ask on every request.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;

use atom_runtime::StoreError;

pub(crate) struct DataVersion {
    watch: Mutex<Connection>,
}

impl DataVersion {
    pub(crate) fn open(path: &Path, what: &str) -> Result<Self, StoreError> {
        Ok(Self {
            watch: Mutex::new(super::open_database(path, what)?),
        })
    }

    /// Differs from any earlier mark once another connection committed;
    /// `None` if SQLite cannot say (nothing may be remembered then).
    pub(crate) fn mark(&self) -> Option<u64> {
        let watch = self.watch.lock().ok()?;
        let version = watch
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)))
            .ok()?;
        u64::try_from(version).ok()
    }
}
