//! The tenants an operator created, and the API keys that act as them at
//! the gateway. A tenant exists only once `tenants add` made it: the gateway
//! never creates one because a request named it.
//!
//! A key reads `atom_<id>_<secret>`: the id finds its row, the secret is 256
//! random bits of which only a SHA-256 is stored, compared in constant time.
//! Such a secret cannot be guessed, so a plain hash is as good as a slow one
//! and costs nothing per request. A key is shown once, when it is made.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::clock::to_u64;
use super::rows::Columns;
use atom_runtime::StoreError;

const KEY_PREFIX: &str = "atom";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
const MAX_TENANT_NAME: usize = 64;

/// The tenants and their API keys, in whichever database the deployment
/// uses.
pub trait TenantRegistry: Send + Sync {
    /// Creates tenant `name` with its first API key.
    fn add(&self, name: &str) -> Result<NewApiKey, StoreError>;

    /// A new key for `name`; every older key of the tenant stops working.
    fn rotate_key(&self, name: &str) -> Result<NewApiKey, StoreError>;

    /// Revokes the tenant and every key it has.
    fn revoke(&self, name: &str) -> Result<(), StoreError>;

    /// Every tenant, by name.
    fn list(&self) -> Result<Vec<TenantRecord>, StoreError>;

    /// Whether any key works: the gateway refuses to listen beyond loopback
    /// without one.
    fn has_active_keys(&self) -> Result<bool, StoreError>;

    /// Whether `name` is a tenant that has not been revoked.
    fn is_active(&self, name: &str) -> Result<bool, StoreError>;

    /// The tenant a presented key acts as, if it is a working key.
    fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError>;

    /// Whether the key with this id still works: neither it nor its tenant
    /// was revoked (`rotate-key` revokes every older key).
    fn key_is_active(&self, id: &str) -> Result<bool, StoreError>;

    /// A mark that differs from any earlier one whenever a key or tenant
    /// may have changed since, by this process or any other sharing the
    /// store, read without querying the tables: what lets a caller remember
    /// a verified key until it might have been revoked or rotated. `None`
    /// when the backend cannot tell now (nothing may be remembered then).
    fn change_mark(&self) -> Option<u64> {
        None
    }
}

/// A shared registry is a registry, so callers holding an `Arc` of either
/// backend can hand it on as any trait the registry implies.
impl<T: TenantRegistry + ?Sized> TenantRegistry for std::sync::Arc<T> {
    fn add(&self, name: &str) -> Result<NewApiKey, StoreError> {
        (**self).add(name)
    }
    fn rotate_key(&self, name: &str) -> Result<NewApiKey, StoreError> {
        (**self).rotate_key(name)
    }
    fn revoke(&self, name: &str) -> Result<(), StoreError> {
        (**self).revoke(name)
    }
    fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        (**self).list()
    }
    fn has_active_keys(&self) -> Result<bool, StoreError> {
        (**self).has_active_keys()
    }
    fn is_active(&self, name: &str) -> Result<bool, StoreError> {
        (**self).is_active(name)
    }
    fn authenticate(&self, presented: &str) -> Result<Option<String>, StoreError> {
        (**self).authenticate(presented)
    }
    fn key_is_active(&self, id: &str) -> Result<bool, StoreError> {
        (**self).key_is_active(id)
    }
    fn change_mark(&self) -> Option<u64> {
        (**self).change_mark()
    }
}

/// A freshly made API key: printed once, never stored in the clear.
pub struct NewApiKey {
    pub tenant: String,
    pub key: Zeroizing<String>,
}

/// A tenant as `tenants list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub name: String,
    pub created_at: u64,
    pub revoked_at: Option<u64>,
    /// API keys that still work.
    pub active_keys: u32,
}

/// What both backends select for `list`, in this order.
pub(crate) const RECORD_QUERY: &str = "SELECT t.name, t.created_at, t.revoked_at,
        (SELECT count(*) FROM api_keys k WHERE k.tenant = t.name AND k.revoked_at IS NULL)
 FROM tenants t ORDER BY t.name";

/// Reads a row of [`RECORD_QUERY`].
pub(crate) fn record_of(row: &impl Columns) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        name: row.text(0)?,
        created_at: to_u64(row.int(1)?),
        revoked_at: row.maybe_int(2)?.map(to_u64),
        active_keys: u32::try_from(row.int(3)?).unwrap_or(u32::MAX),
    })
}

/// A new key: the row to store and the key to show once.
pub(crate) struct MadeKey {
    pub id: String,
    /// SHA-256 of the secret half: all that is stored of it.
    pub hash: [u8; 32],
    pub shown: NewApiKey,
}

/// Makes a key for `tenant`; the caller stores its id and hash.
pub(crate) fn make_key(tenant: &str) -> Result<MadeKey, StoreError> {
    let mut id = [0u8; ID_BYTES];
    let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
    for buffer in [&mut id[..], &mut secret[..]] {
        getrandom::fill(buffer).map_err(|error| {
            StoreError::Unavailable(format!("the system random generator failed: {error}"))
        })?;
    }
    let id = hex::encode(id);
    let secret = Zeroizing::new(URL_SAFE_NO_PAD.encode(&secret[..]));
    Ok(MadeKey {
        hash: Sha256::digest(secret.as_bytes()).into(),
        shown: NewApiKey {
            tenant: tenant.to_owned(),
            key: Zeroizing::new(format!("{KEY_PREFIX}_{id}_{}", secret.as_str())),
        },
        id,
    })
}

/// The tenant `presented` acts as: `lookup` finds the working key with an
/// id (its tenant and stored hash), then the secret half must hash to it.
pub(crate) fn authenticate_with(
    presented: &str,
    lookup: impl FnOnce(&str) -> Result<Option<(String, Vec<u8>)>, StoreError>,
) -> Result<Option<String>, StoreError> {
    let Some((id, secret)) = split_key(presented) else {
        return Ok(None);
    };
    Ok(lookup(id)?.and_then(|(tenant, hash)| {
        let matches: bool = Sha256::digest(secret).as_slice().ct_eq(&hash).into();
        matches.then_some(tenant)
    }))
}

/// Tenant names travel in URLs and logs: short, plain and unambiguous.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TENANT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "a tenant name is 1 to {MAX_TENANT_NAME} letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

/// The id part of a well-formed key: it names the key and proves nothing,
/// so it may be kept where the key itself must not be.
pub fn key_id(presented: &str) -> Option<&str> {
    split_key(presented).map(|(id, _)| id)
}

/// `atom_<id>_<secret>` → `(id, secret)`.
pub(crate) fn split_key(presented: &str) -> Option<(&str, &[u8])> {
    let rest = presented
        .trim()
        .strip_prefix(KEY_PREFIX)?
        .strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == ID_BYTES * 2
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && (40..=64).contains(&secret.len());
    well_formed.then_some((id, secret.as_bytes()))
}

pub(crate) fn unknown(name: &str) -> StoreError {
    StoreError::NotFound(format!(
        "no tenant '{name}': `atom-harness tenants add {name}` creates it"
    ))
}

pub(crate) fn exists(name: &str) -> StoreError {
    StoreError::Refused(format!(
        "tenant '{name}' exists already (tenant names are never reused)"
    ))
}

pub(crate) fn revoked(name: &str) -> StoreError {
    StoreError::Refused(format!("tenant '{name}' is revoked"))
}
