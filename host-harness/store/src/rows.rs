//! One way to read a column from either database, so that each public type
//! is built from a row in one place for both backends.

use atom_runtime::StoreError;

/// The column types the store's tables use.
pub(crate) trait Columns {
    fn int(&self, at: usize) -> Result<i64, StoreError>;
    fn maybe_int(&self, at: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, at: usize) -> Result<String, StoreError>;
    fn maybe_text(&self, at: usize) -> Result<Option<String>, StoreError>;
    fn bytes(&self, at: usize) -> Result<Vec<u8>, StoreError>;
}

/// Neither database's column errors quote the value, so they are safe to
/// pass on even for a sealed credential's column.
fn unreadable(at: usize, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!(
        "store: column {at} of a row is unreadable: {error}"
    ))
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, at: usize) -> Result<i64, StoreError> {
        self.get(at).map_err(|error| unreadable(at, error))
    }

    fn maybe_int(&self, at: usize) -> Result<Option<i64>, StoreError> {
        self.get(at).map_err(|error| unreadable(at, error))
    }

    fn text(&self, at: usize) -> Result<String, StoreError> {
        self.get(at).map_err(|error| unreadable(at, error))
    }

    fn maybe_text(&self, at: usize) -> Result<Option<String>, StoreError> {
        self.get(at).map_err(|error| unreadable(at, error))
    }

    fn bytes(&self, at: usize) -> Result<Vec<u8>, StoreError> {
        self.get(at).map_err(|error| unreadable(at, error))
    }
}

impl Columns for postgres::Row {
    fn int(&self, at: usize) -> Result<i64, StoreError> {
        self.try_get(at).map_err(|error| unreadable(at, error))
    }

    fn maybe_int(&self, at: usize) -> Result<Option<i64>, StoreError> {
        self.try_get(at).map_err(|error| unreadable(at, error))
    }

    fn text(&self, at: usize) -> Result<String, StoreError> {
        self.try_get(at).map_err(|error| unreadable(at, error))
    }

    fn maybe_text(&self, at: usize) -> Result<Option<String>, StoreError> {
        self.try_get(at).map_err(|error| unreadable(at, error))
    }

    fn bytes(&self, at: usize) -> Result<Vec<u8>, StoreError> {
        self.try_get(at).map_err(|error| unreadable(at, error))
    }
}
