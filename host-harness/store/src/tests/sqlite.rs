use std::path::Path;
use std::sync::{Arc, Barrier};
use std::thread;

use super::{
    SECRET_STRINGS, access_token, api_token, assert_same, database, key_entry, oauth,
    unavailable_message,
};
use crate::{DEFAULT_CONNECTION, Keyring, SqliteCredentialStore, Unreadable};
use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{CredentialStore, StoreError};

fn keyring() -> Keyring {
    Keyring::from_env_value(&key_entry(1, 1)).expect("valid keyring")
}

fn store(path: &Path) -> SqliteCredentialStore {
    SqliteCredentialStore::open(path, keyring()).expect("store opens")
}

/// A second, plain connection to the file, as an attacker or operator with
/// file access would have.
fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

#[test]
fn every_kind_of_secret_round_trips() {
    let (_dir, path) = database();
    let store = store(&path);
    let secrets = [
        ("acme", oauth()),
        ("globex", access_token()),
        ("initech", api_token()),
    ];
    for (tenant, secret) in &secrets {
        assert_eq!(store.replace(tenant, 0, secret.clone()).expect("stored"), 1);
    }
    for (tenant, secret) in &secrets {
        let credential = store.get(tenant).expect("readable").expect("present");
        assert_eq!(credential.version, 1);
        assert_same(&credential.secret, secret);
    }
    assert!(store.get("umbrella").expect("readable").is_none());

    // A fresh handle (a restarted process) reads the same.
    let reopened = self::store(&path);
    let credential = reopened.get("acme").expect("readable").expect("present");
    assert_same(&credential.secret, &oauth());

    store.remove("acme").expect("removed");
    assert!(store.get("acme").expect("readable").is_none());
    store.remove("acme").expect("removing nothing is fine");
}

#[test]
fn a_stale_version_conflicts_with_the_current_one() {
    let (_dir, path) = database();
    let store = store(&path);
    assert_eq!(store.replace("acme", 0, oauth()).expect("first"), 1);
    assert_eq!(store.replace("acme", 1, access_token()).expect("second"), 2);

    for stale in [0, 1, 3, u64::MAX] {
        match store.replace("acme", stale, api_token()) {
            Err(StoreError::Conflict(2)) => {}
            other => panic!("expected Conflict(2) for {stale}, got {other:?}"),
        }
    }
    match store.replace("nobody", 4, api_token()) {
        Err(StoreError::Conflict(0)) => {}
        other => panic!("expected Conflict(0), got {other:?}"),
    }
    let credential = store.get("acme").expect("readable").expect("present");
    assert_eq!(credential.version, 2);
    assert_same(&credential.secret, &access_token());
    assert!(store.get("nobody").expect("readable").is_none());
}

#[test]
fn two_handles_racing_on_one_version_let_exactly_one_win() {
    let (_dir, path) = database();
    let handles = [Arc::new(store(&path)), Arc::new(store(&path))];
    for version in 0..20 {
        let barrier = Arc::new(Barrier::new(handles.len()));
        let racers: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(racer, handle)| {
                let handle = Arc::clone(handle);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let secret = CredentialSecret::AccessToken(format!("r{version}-{racer}"));
                    barrier.wait();
                    handle.replace("acme", version, secret)
                })
            })
            .collect();
        let outcomes: Vec<_> = racers
            .into_iter()
            .map(|racer| racer.join().expect("racer finished"))
            .collect();
        let winners = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(winners, 1, "version {version}: {outcomes:?}");
        for outcome in &outcomes {
            match outcome {
                Ok(new) => assert_eq!(*new, version + 1),
                Err(StoreError::Conflict(now)) => assert_eq!(*now, version + 1),
                Err(other) => panic!("version {version}: {other}"),
            }
        }
    }
    let credential = handles[1].get("acme").expect("readable").expect("present");
    assert_eq!(credential.version, 20);
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

    let busy: i64 = raw(&path)
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

#[test]
fn a_row_copied_to_another_tenant_does_not_open() {
    let (_dir, path) = database();
    let store = store(&path);
    store.replace("alice", 0, api_token()).expect("stored");

    raw(&path)
        .execute(
            "INSERT INTO credentials
             SELECT 'mallory', connection, version, key_version, nonce, ciphertext, updated_at
             FROM credentials WHERE tenant = 'alice'",
            [],
        )
        .expect("copied");
    let message = unavailable_message(store.get("mallory").expect_err("copied row opened"));
    assert!(message.contains("tenant 'mallory'"), "{message}");
    assert!(message.contains("key version 1"), "{message}");
    assert!(
        message.contains("sealed for another tenant or connection, or the key is wrong"),
        "{message}"
    );
    for secret in SECRET_STRINGS {
        assert!(!message.contains(secret), "{message}");
    }
    assert!(
        store
            .get("alice")
            .expect("the original still opens")
            .is_some()
    );

    raw(&path)
        .execute(
            "UPDATE credentials SET tenant = 'eve' WHERE tenant = 'alice'",
            [],
        )
        .expect("moved");
    let message = unavailable_message(store.get("eve").expect_err("moved row opened"));
    assert!(message.contains("tenant 'eve'"), "{message}");
}

#[test]
fn a_row_moved_to_another_connection_does_not_open() {
    let (_dir, path) = database();
    store(&path).replace("alice", 0, oauth()).expect("stored");
    raw(&path)
        .execute("UPDATE credentials SET connection = 'github'", [])
        .expect("moved");
    let github =
        SqliteCredentialStore::open_connection(&path, keyring(), "github").expect("store opens");
    let message = unavailable_message(github.get("alice").expect_err("moved row opened"));
    assert!(message.contains("connection 'github'"), "{message}");
    assert!(
        message.contains("sealed for another tenant or connection"),
        "{message}"
    );
}

#[test]
fn connections_sharing_a_file_are_separate() {
    let (_dir, path) = database();
    let bitbucket = store(&path);
    let github =
        SqliteCredentialStore::open_connection(&path, keyring(), "github").expect("store opens");
    bitbucket.replace("acme", 0, oauth()).expect("stored");
    assert!(github.get("acme").expect("readable").is_none());
    assert_eq!(
        github.replace("acme", 0, access_token()).expect("stored"),
        1
    );
    assert_eq!(
        bitbucket.list().expect("listed"),
        vec![("acme".to_owned(), 1, 1)]
    );
    assert_eq!(
        github.list().expect("listed"),
        vec![("acme".to_owned(), 1, 1)]
    );
    assert!(SqliteCredentialStore::open_connection(&path, keyring(), "").is_err());
}

#[test]
fn a_keyring_without_the_rows_key_version_says_so() {
    let (_dir, path) = database();
    let sealing = Keyring::from_env_value(&key_entry(3, 3)).expect("valid keyring");
    SqliteCredentialStore::open(&path, sealing)
        .expect("store opens")
        .replace("acme", 0, oauth())
        .expect("stored");

    let other = SqliteCredentialStore::open(&path, keyring()).expect("store opens");
    let message = unavailable_message(other.get("acme").expect_err("opened without its key"));
    assert!(
        message.contains("sealed with key version 3, which the keyring does not hold"),
        "{message}"
    );

    let wrong = Keyring::from_env_value(&key_entry(3, 4)).expect("valid keyring");
    let wrong = SqliteCredentialStore::open(&path, wrong).expect("store opens");
    let message = unavailable_message(wrong.get("acme").expect_err("opened with a wrong key"));
    assert!(
        message.contains("does not decrypt with key version 3"),
        "{message}"
    );
}

#[test]
fn rotation_reseals_under_the_new_key_and_keeps_versions() {
    let (_dir, path) = database();
    let old = keyring();
    let store = SqliteCredentialStore::open(&path, old.clone()).expect("store opens");
    store.replace("acme", 0, oauth()).expect("stored");
    store.replace("globex", 0, access_token()).expect("stored");
    store.replace("globex", 1, api_token()).expect("replaced");
    let nonces_before = nonces(&path);

    let new = old.with_new_current_key().expect("random key");
    assert_eq!(store.rotate(new.clone()).expect("rotated").resealed, 2);
    assert_eq!(
        store.list().expect("listed"),
        vec![("acme".to_owned(), 1, 2), ("globex".to_owned(), 2, 2)]
    );
    assert_ne!(nonces(&path), nonces_before, "re-sealed with fresh nonces");
    assert_eq!(store.rotate(new.clone()).expect("nothing left").resealed, 0);

    let reader = SqliteCredentialStore::open(&path, new.only_current()).expect("store opens");
    let acme = reader.get("acme").expect("readable").expect("present");
    assert_eq!(acme.version, 1);
    assert_same(&acme.secret, &oauth());
    let globex = reader.get("globex").expect("readable").expect("present");
    assert_eq!(globex.version, 2);
    assert_same(&globex.secret, &api_token());

    // The rotating handle now seals with the new key too.
    store.replace("initech", 0, access_token()).expect("stored");
    assert_eq!(
        store.list().expect("listed")[2],
        ("initech".to_owned(), 1, 2)
    );

    let stale = SqliteCredentialStore::open(&path, old).expect("store opens");
    let message = unavailable_message(stale.get("acme").expect_err("old key opened it"));
    assert!(message.contains("key version 2"), "{message}");
}

#[test]
fn a_row_the_new_keyring_cannot_open_is_reported_and_the_rest_resealed() {
    let (_dir, path) = database();
    let store = store(&path);
    store.replace("acme", 0, oauth()).expect("stored");
    let foreign = Keyring::from_env_value(&key_entry(7, 7)).expect("valid keyring");
    SqliteCredentialStore::open(&path, foreign)
        .expect("store opens")
        .replace("globex", 0, access_token())
        .expect("stored");

    let new = keyring().with_new_current_key().expect("random key");
    let current = new.current_version();
    let rotation = store.rotate(new.clone()).expect("rotated what it could");
    assert_eq!(rotation.resealed, 1);
    assert_eq!(
        rotation.unreadable,
        vec![Unreadable {
            tenant: "globex".to_owned(),
            connection: DEFAULT_CONNECTION.to_owned(),
            key_version: 7,
        }]
    );
    assert_eq!(
        store.list().expect("listed"),
        vec![("acme".to_owned(), 1, current), ("globex".to_owned(), 1, 7)],
        "acme moved to the new key, globex stayed as it was"
    );
    let reader = SqliteCredentialStore::open(&path, new.only_current()).expect("store opens");
    assert!(reader.get("acme").expect("readable").is_some());
}

fn nonces(path: &Path) -> Vec<Vec<u8>> {
    let db = raw(path);
    let mut statement = db
        .prepare("SELECT nonce FROM credentials ORDER BY connection, tenant")
        .expect("prepared");
    statement
        .query_map([], |row| row.get(0))
        .expect("queried")
        .collect::<Result<_, _>>()
        .expect("read")
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
