//! Tenants' credentials at rest: encrypted in a SQLite file shared by every
//! harness process of a deployment.
//!
//! Each credential is one row per (tenant, connection), sealed with
//! AES-256-GCM: the plaintext is the `CredentialSecret` as JSON, the nonce is
//! 96 fresh random bits per write, and the associated data is
//! `"atom-credential/v1\0"` followed by the tenant and the connection name,
//! each preceded by its length as a big-endian u64. A row copied to another
//! tenant or connection therefore does not open. Rows name the version of
//! the key that sealed them, so keys can be rotated (see [`Keyring`] and
//! [`SealedCredentials::rotate`]).
//!
//! What this protects: the secrets against anyone who can read or modify the
//! database file (or its backups) but not the keys. What it does not: tenant
//! names, credential versions and timestamps are stored in the clear; and
//! someone who can write the file can delete a row or put back an older
//! sealed row of the same tenant and connection (a rollback), which still
//! opens.
//!
//! Rotating keys across processes: give every process the keyring from
//! [`Keyring::with_new_current_key`] (new key current, old keys kept), then
//! run `rotate` once, then drop the old keys ([`Keyring::only_current`])
//! everywhere. A process still on the old keyring cannot read rows sealed
//! under the new key.

mod clock;
mod credentials;
mod keyring;
mod postgres;
mod rows;
mod seal;
mod sqlite;
mod tenants;
mod waits;

#[cfg(test)]
mod tests;

pub use self::postgres::{
    PgCredentialStore, PgPool, PgStores, PgTenantRegistry, PgWaitBook, open_postgres,
};
pub use credentials::{DEFAULT_CONNECTION, Rotation, SealedCredentials, Unreadable};
pub use keyring::{KEYS_ENV, Keyring};
pub use sqlite::{SqliteCredentialStore, SqliteTenantRegistry, SqliteWaitBook};
pub use tenants::{NewApiKey, TenantRecord, TenantRegistry, check_name, key_id};
pub use waits::{Added, NewWait, Wait, WaitBook, WaitState};
