//! AES-256-GCM sealing of one credential, bound to the row that holds it.

use std::io;

use aes_gcm::Nonce;
use aes_gcm::aead::AeadInPlace as _;
use zeroize::Zeroizing;

use super::keyring::Keyring;
use atom_runtime::StoreError;
use atom_runtime::host_types::CredentialSecret;

/// Versions the associated-data layout: changing it makes every stored row
/// unreadable, so a new layout needs a new prefix.
const DOMAIN: &[u8] = b"atom-credential/v1\0";
pub(super) const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Which row a credential belongs to; sealed into it as associated data so a
/// ciphertext moved to another row no longer opens.
#[derive(Clone, Copy)]
pub(super) struct RowId<'a> {
    pub tenant: &'a str,
    pub connection: &'a str,
}

impl RowId<'_> {
    /// Length-prefixed rather than NUL-separated: names are arbitrary
    /// strings, and ("a\0b", "c") must not bind like ("a", "b\0c").
    fn associated_data(self) -> Vec<u8> {
        let mut data =
            Vec::with_capacity(DOMAIN.len() + 16 + self.tenant.len() + self.connection.len());
        data.extend_from_slice(DOMAIN);
        for part in [self.tenant, self.connection] {
            data.extend_from_slice(&(part.len() as u64).to_be_bytes());
            data.extend_from_slice(part.as_bytes());
        }
        data
    }

    fn describe(self) -> String {
        format!(
            "credential for tenant '{}' on connection '{}'",
            self.tenant.escape_debug(),
            self.connection.escape_debug()
        )
    }
}

/// A credential as stored: nothing here is secret.
pub(super) struct Sealed {
    pub key_version: u32,
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

/// Seals `secret` for `row` under the keyring's current key with a fresh
/// random nonce. Random 96-bit nonces stay safe for 2^32 seals per key; key
/// rotation keeps any one key far below that.
pub(super) fn seal(
    keyring: &Keyring,
    row: RowId<'_>,
    secret: &CredentialSecret,
) -> Result<Sealed, StoreError> {
    let key_version = keyring.current_version();
    let cipher = keyring.cipher(key_version).ok_or_else(|| {
        StoreError::Unavailable(format!(
            "credential keys: the current key version {key_version} is missing"
        ))
    })?;
    let mut nonce = [0; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|error| {
        StoreError::Unavailable(format!(
            "sealing {}: the system random generator failed: {error}",
            row.describe()
        ))
    })?;
    let mut buffer = serialize(secret).map_err(|_| {
        StoreError::Unavailable(format!(
            "sealing {}: could not serialize it",
            row.describe()
        ))
    })?;
    cipher
        .encrypt_in_place(
            Nonce::from_slice(&nonce),
            &row.associated_data(),
            &mut *buffer,
        )
        .map_err(|_| StoreError::Unavailable(format!("sealing {} failed", row.describe())))?;
    // Encrypted in place: the buffer holds no plaintext any more.
    let ciphertext = std::mem::take(&mut *buffer);
    Ok(Sealed {
        key_version,
        nonce,
        ciphertext,
    })
}

/// Opens a credential stored for `row`. Errors say why without revealing
/// plaintext or key material.
pub(super) fn open(
    keyring: &Keyring,
    row: RowId<'_>,
    key_version: u32,
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<CredentialSecret, StoreError> {
    let cipher = keyring.cipher(key_version).ok_or_else(|| {
        StoreError::Unreadable(format!(
            "{} is sealed with key version {key_version}, which the keyring does not hold (it holds {:?})",
            row.describe(),
            keyring.versions()
        ))
    })?;
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| {
        StoreError::Unreadable(format!(
            "{} has a malformed nonce ({} bytes)",
            row.describe(),
            nonce.len()
        ))
    })?;
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_in_place(
            Nonce::from_slice(nonce),
            &row.associated_data(),
            &mut *buffer,
        )
        .map_err(|_| {
            StoreError::Unreadable(format!(
                "{} does not decrypt with key version {key_version}: it was sealed for another tenant or connection, or the key is wrong",
                row.describe()
            ))
        })?;
    // serde_json's own error would quote the offending plaintext.
    serde_json::from_slice(&buffer).map_err(|_| {
        StoreError::Unreadable(format!(
            "{} decrypts but is not a credential this harness understands",
            row.describe()
        ))
    })
}

/// The JSON form of `secret` in a buffer sized for the tag, so neither
/// serializing nor encrypting in place reallocates and strands an unwiped
/// copy of the plaintext.
fn serialize(secret: &CredentialSecret) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, secret)?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(counter.0 + TAG_LEN));
    serde_json::to_writer(&mut *buffer, secret)?;
    Ok(buffer)
}

struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
