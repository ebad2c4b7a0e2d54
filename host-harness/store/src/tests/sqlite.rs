//! What only the SQLite backend has: files, their permissions and the
//! schema versions it kept before it had migrations of its own.

use std::path::Path;

use super::backend::raw_sqlite;
use super::{SECRET_STRINGS, access_token, api_token, database, key_entry, oauth};
use crate::{Keyring, SqliteCredentialStore, SqliteTenantRegistry, TenantRegistry as _};
use atom_runtime::CredentialStore as _;

fn keyring() -> Keyring {
    Keyring::from_env_value(&key_entry(1, 1)).expect("valid keyring")
}

fn store(path: &Path) -> SqliteCredentialStore {
    SqliteCredentialStore::open(path, keyring()).expect("store opens")
}

#[test]
fn the_files_hold_no_plaintext_secret() {
    let (dir, path) = database();
    let store = store(&path);
    store
        .replace("tenant-marker-acme", 0, oauth())
        .expect("stored");
    store.replace("globex", 0, access_token()).expect("stored");
    store.replace("initech", 0, api_token()).expect("stored");
    store.replace("initech", 1, oauth()).expect("replaced");

    let scan = |when: &str| {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).expect("listable") {
            let file = entry.expect("entry").path();
            bytes.extend(std::fs::read(&file).expect("readable"));
        }
        // Proves the scan sees row contents at all.
        assert!(
            contains(&bytes, b"tenant-marker-acme"),
            "{when}: rows not found"
        );
        for secret in SECRET_STRINGS
            .iter()
            .chain(&["access_token", "refresh_token"])
        {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{when}: {secret} in the files"
            );
        }
    };
    scan("before checkpoint");
    let wal = path.with_file_name("credentials.db-wal");
    assert!(wal.exists(), "the store runs in WAL mode");

    let busy: i64 = raw_sqlite(&path)
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
        .expect("checkpoint");
    assert_eq!(busy, 0);
    scan("after checkpoint");
    let database = std::fs::read(&path).expect("readable");
    assert!(
        contains(&database, b"tenant-marker-acme"),
        "checkpointed into the database"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(unix)]
#[test]
fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, path) = database();
    store(&path).replace("acme", 0, oauth()).expect("stored");
    // Held open so the -wal and -shm files exist.
    let _open = store(&path);
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    for file in files {
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}

#[test]
fn a_version_1_store_gains_the_registry_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE credentials (tenant TEXT NOT NULL, connection TEXT NOT NULL,
             version INTEGER NOT NULL, key_version INTEGER NOT NULL, nonce BLOB NOT NULL,
             ciphertext BLOB NOT NULL, updated_at INTEGER NOT NULL,
             PRIMARY KEY (tenant, connection)) STRICT;
         INSERT INTO credentials VALUES ('acme', 'bitbucket', 3, 1, zeroblob(12), x'00', 0);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(db);
    let registry = SqliteTenantRegistry::open(&path).unwrap();
    registry.add("acme").unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = db
        .query_row(
            "SELECT version FROM credentials WHERE tenant = 'acme'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 3);
    let schema: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(schema, 4);
    let leases: i64 = db
        .query_row("SELECT count(*) FROM refresh_leases", [], |r| r.get(0))
        .expect("the upgrade adds the refresh leases");
    assert_eq!(leases, 0);
    let waits: i64 = db
        .query_row("SELECT count(*) FROM waits", [], |r| r.get(0))
        .expect("the upgrade adds the waits");
    assert_eq!(waits, 0);
}
