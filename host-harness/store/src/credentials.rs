//! Sealed credentials whichever database holds them: the trait both
//! backends implement, and what they share of reading, opening and
//! re-sealing a row.

use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{CredentialStore, StoreError};

use super::keyring::Keyring;
use super::rows::Columns;
use super::seal::{self, RowId, Sealed};

/// The connection a store serves unless told otherwise.
pub const DEFAULT_CONNECTION: &str = "bitbucket";

/// A credential store that seals its rows (see the crate documentation):
/// what the operator's commands need beyond [`CredentialStore`].
pub trait SealedCredentials: CredentialStore {
    /// The connection this handle reads and writes.
    fn connection(&self) -> &str;

    /// Every tenant with a credential on this connection, with its version
    /// and the key version it is sealed with; decrypts nothing.
    fn list(&self) -> Result<Vec<(String, u64, u32)>, StoreError>;

    /// Re-seals every stored row, whatever its connection, that is not
    /// under `new_keyring`'s current key, then seals with `new_keyring`
    /// from now on. Rows are read with the key version each names, so
    /// `new_keyring` must still hold the old keys (as
    /// [`Keyring::with_new_current_key`] gives). One transaction: a failure
    /// changes nothing. A row no key of `new_keyring` opens is left as it
    /// is and reported. Credential versions and `updated_at` stay: the
    /// credentials themselves are the same.
    fn rotate(&self, new_keyring: Keyring) -> Result<Rotation, StoreError>;
}

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

/// What both backends select for a credential, in this order.
pub(crate) const STORED_COLUMNS: &str =
    "tenant, connection, version, key_version, nonce, ciphertext";

/// A row as read, still sealed.
pub(crate) struct StoredRow {
    pub tenant: String,
    pub connection: String,
    pub version: i64,
    pub key_version: u32,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl StoredRow {
    /// Reads [`STORED_COLUMNS`].
    pub fn of(row: &impl Columns) -> Result<Self, StoreError> {
        Ok(Self {
            tenant: row.text(0)?,
            connection: row.text(1)?,
            version: row.int(2)?,
            // Out of range only in a tampered row; no key has version 0.
            key_version: u32::try_from(row.int(3)?).unwrap_or(0),
            nonce: row.bytes(4)?,
            ciphertext: row.bytes(5)?,
        })
    }

    pub fn id(&self) -> RowId<'_> {
        RowId {
            tenant: &self.tenant,
            connection: &self.connection,
        }
    }

    pub fn open(&self, keyring: &Keyring) -> Result<CredentialSecret, StoreError> {
        seal::open(
            keyring,
            self.id(),
            self.key_version,
            &self.nonce,
            &self.ciphertext,
        )
    }
}

/// A `list` entry from `tenant, version, key_version`.
pub(crate) fn listed(row: &impl Columns) -> Result<(String, u64, u32), StoreError> {
    Ok((
        row.text(0)?,
        stored_version(row.int(1)?)?,
        u32::try_from(row.int(2)?).unwrap_or(0),
    ))
}

/// Opens `row`, reading the keyring's key file once more when the row names
/// a key version the keyring lacks: `keys rotate` re-seals rows with a key
/// it adds to the file while a server is running on the old keyring.
pub(crate) fn open_reloading(
    keyring: &mut Keyring,
    row: &StoredRow,
) -> Result<CredentialSecret, StoreError> {
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

/// Re-seals `rows` under `keyring`'s current key, writing each through
/// `update` (which answers how many rows it changed); the caller holds the
/// transaction. A row no key opens stays as it is, and is reported: one
/// lost key must not keep every other row on the old one.
pub(crate) fn reseal<E: From<StoreError>>(
    rows: &[StoredRow],
    keyring: &Keyring,
    mut update: impl FnMut(&StoredRow, &Sealed) -> Result<u64, E>,
) -> Result<Rotation, E> {
    let mut resealed = 0;
    let mut unreadable = Vec::new();
    for row in rows {
        let Ok(secret) = row.open(keyring) else {
            unreadable.push(Unreadable {
                tenant: row.tenant.clone(),
                connection: row.connection.clone(),
                key_version: row.key_version,
            });
            continue;
        };
        let sealed = seal::seal(keyring, row.id(), &secret)?;
        resealed += usize::try_from(update(row, &sealed)?).unwrap_or(usize::MAX);
    }
    Ok(Rotation {
        resealed,
        unreadable,
    })
}

/// A connection name is part of every row's associated data: an empty one
/// would be a store nobody meant.
pub(crate) fn check_connection(connection: &str) -> Result<(), StoreError> {
    if connection.is_empty() {
        return Err(StoreError::Unavailable(
            "credential store: the connection name is empty".into(),
        ));
    }
    Ok(())
}

pub(crate) fn stored_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| {
        StoreError::Unavailable(format!(
            "credential store holds an invalid version {version}"
        ))
    })
}
