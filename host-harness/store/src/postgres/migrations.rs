//! The PostgreSQL schema, by version: the same tables as SQLite's, in
//! PostgreSQL's types. Every process applies what is missing when it
//! starts; the tables go in the first schema of the connection's
//! `search_path`, so a deployment (or a test) picks its own.

use postgres::Client;

use super::pool::Failure;
use crate::clock::now_secs;
use atom_runtime::StoreError;

/// Serializes migrations of every harness process on the database: three
/// replicas starting at once migrate once. ASCII "atom-mig".
const MIGRATION_LOCK: i64 = 0x6174_6f6d_2d6d_6967;

/// Version 1: sealed credentials.
const V1: &str = "
CREATE TABLE credentials (
    tenant      TEXT   NOT NULL,
    connection  TEXT   NOT NULL,
    version     BIGINT NOT NULL CHECK (version > 0),
    key_version BIGINT NOT NULL CHECK (key_version BETWEEN 1 AND 4294967295),
    nonce       BYTEA  NOT NULL CHECK (length(nonce) = 12),
    ciphertext  BYTEA  NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, connection)
);
";

/// Version 2: the tenants an operator created and their gateway API keys
/// (only a SHA-256 of each key's secret half is kept).
const V2: &str = "
CREATE TABLE tenants (
    name        TEXT   PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE TABLE api_keys (
    id          TEXT   PRIMARY KEY,
    tenant      TEXT   NOT NULL REFERENCES tenants (name),
    hash        BYTEA  NOT NULL CHECK (length(hash) = 32),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant);
";

/// Version 3: who is refreshing a tenant's OAuth token, across processes.
/// A lease expires, so a process that dies holding one delays the others,
/// it does not lock them out.
const V3: &str = "
CREATE TABLE refresh_leases (
    tenant      TEXT   NOT NULL,
    connection  TEXT   NOT NULL,
    holder      TEXT   NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, connection)
);
";

/// Version 4: what the gateway waits for on a tenant's behalf. `seq` keeps
/// the order waits were added in, as SQLite's rowid does: several may share
/// a second.
const V4: &str = "
CREATE TABLE waits (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    id          TEXT   PRIMARY KEY,
    tenant      TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    request     TEXT   NOT NULL,
    key_id      TEXT,
    state       TEXT   NOT NULL CHECK (state IN ('waiting', 'done', 'ended', 'cancelled', 'expired')),
    outcome     TEXT,
    checks      BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    checked_at  BIGINT,
    deadline    BIGINT NOT NULL,
    claimed_until BIGINT
);
CREATE INDEX waits_waiting ON waits (state, tenant, subject);
CREATE UNIQUE INDEX one_wait_per_subject ON waits (tenant, kind, subject) WHERE state = 'waiting';
";

/// Version 5: every write to the credentials, tenants or keys tells the
/// processes listening (see `watch`), whichever process or command made it,
/// so what they remember of those tables stops standing at once.
const V5: &str = "
CREATE FUNCTION atom_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('atom_store_changes', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON credentials FOR EACH STATEMENT EXECUTE FUNCTION atom_announce_change();
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON tenants FOR EACH STATEMENT EXECUTE FUNCTION atom_announce_change();
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION atom_announce_change();
";

const MIGRATIONS: &[(i32, &str)] = &[(1, V1), (2, V2), (3, V3), (4, V4), (5, V5)];

/// The newest version this code knows.
const LATEST: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Applies the migrations the database lacks, all in one transaction under
/// an advisory lock; refuses a database newer than this code.
pub(crate) fn migrate(client: &mut Client) -> Result<(), Failure> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS
    // can still collide.
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS atom_schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at BIGINT  NOT NULL
         )",
    )?;
    let current: i32 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM atom_schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if current > LATEST {
        return Err(Failure::Store(StoreError::Unavailable(format!(
            "the database's schema is at version {current}, newer than this harness understands \
             ({LATEST}): run a newer harness"
        ))));
    }
    // Plain CREATEs: a database that already has some other table of the
    // same name is not ours, and must not be written to.
    for (version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        transaction.batch_execute(sql)?;
        transaction.execute(
            "INSERT INTO atom_schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &now_secs()],
        )?;
    }
    transaction.commit()?;
    Ok(())
}
