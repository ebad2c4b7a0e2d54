//! Where the harness keeps what outlives a process: tenants' credentials,
//! sealed; the tenants and their gateway API keys; and the waits the
//! gateway keeps on tenants' behalf. Callers hold each behind its trait
//! ([`SealedCredentials`], [`TenantRegistry`], [`WaitBook`]), whichever of
//! two backends holds it:
//!
//! - SQLite ([`SqliteCredentialStore`], [`SqliteTenantRegistry`],
//!   [`SqliteWaitBook`]): one file on one machine, shared by the processes
//!   there. For a single gateway, the CLI and development.
//! - PostgreSQL ([`open_postgres`] gives the three at once, sharing one
//!   [`PgPool`]): for deployments with several gateways, on several
//!   machines. Leases, claims and compare-and-swap replaces hold across all
//!   of them, and the schema migrates once however many start together.
//!
//! Both pass one test suite and behave alike.
//!
//! Each credential is one row per (tenant, connection), sealed with
//! AES-256-GCM: the plaintext is the `CredentialSecret` as JSON, the nonce is
//! 96 fresh random bits per write, and the associated data is
//! `"atom-credential/v1\0"` followed by the tenant and the connection name,
//! each preceded by its length as a big-endian u64. A row copied to another
//! tenant or connection therefore does not open. Rows name the version of
//! the key that sealed them, so keys can be rotated (see [`Keyring`] and
//! [`SealedCredentials::rotate`]). Sealing happens in the harness process:
//! a database server only ever sees ciphertext.
//!
//! What this protects: the secrets against anyone who can read or modify the
//! database (its files, its backups, or a PostgreSQL login) but not the
//! keys. What it does not: tenant names, credential versions and timestamps
//! are stored in the clear; and someone who can write the database can
//! delete a row or put back an older sealed row of the same tenant and
//! connection (a rollback), which still opens.
//!
//! Rotating keys across processes: give every process the keyring from
//! [`Keyring::with_new_current_key`] (new key current, old keys kept), then
//! run `rotate` once, then drop the old keys ([`Keyring::only_current`])
//! everywhere. A process still on the old keyring cannot read rows sealed
//! under the new key. Old ciphertext may linger after a rotation where the
//! database keeps freed space (SQLite's write-ahead log until it is
//! truncated, PostgreSQL's dead rows until they are vacuumed and reused).

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
    PgCredentialStore, PgPool, PgStores, PgTenantRegistry, PgWaitBook, migrated_pool, open_postgres,
};
pub use credentials::{DEFAULT_CONNECTION, Rotation, SealedCredentials, Unreadable};
pub use keyring::{KEYS_ENV, Keyring};
pub use sqlite::{SqliteCredentialStore, SqliteTenantRegistry, SqliteWaitBook};
pub use tenants::{NewApiKey, TenantRecord, TenantRegistry, check_name, key_id};
pub use waits::{Added, NewWait, Wait, WaitBook, WaitState};
