//! What only the PostgreSQL backend has: migrations shared by processes,
//! a server that can be away, and callers on async runtimes.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::backend::Schema;
use super::{SECRET_STRINGS, access_token, api_token, key_entry, oauth, unavailable_message};
use crate::{
    DEFAULT_CONNECTION, Keyring, NewWait, PgCredentialStore, PgPool, PgTenantRegistry, PgWaitBook,
    SealedCredentials as _, TenantRegistry as _, WaitBook as _, open_postgres,
};
use atom_runtime::{CredentialStore as _, RefreshLeases as _, StoreError, unix_now};

fn keyring() -> Keyring {
    Keyring::from_env_value(&key_entry(1, 1)).expect("valid keyring")
}

#[test]
fn stores_opening_together_migrate_once() {
    let schema = Schema::create();
    let barrier = Arc::new(Barrier::new(3));
    let openers: Vec<_> = (0..3)
        .map(|_| {
            let url = schema.url.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                open_postgres(&url, keyring(), DEFAULT_CONNECTION).map(drop)
            })
        })
        .collect();
    for opener in openers {
        opener
            .join()
            .expect("opener finished")
            .expect("stores open");
    }
    let versions: Vec<i32> = schema
        .client()
        .query(
            "SELECT version FROM atom_schema_migrations ORDER BY version",
            &[],
        )
        .expect("migrations recorded")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
}

#[test]
fn a_database_newer_than_the_code_is_refused() {
    let schema = Schema::create();
    drop(schema.open());
    schema
        .client()
        .execute(
            "INSERT INTO atom_schema_migrations (version, applied_at) VALUES (6, 0)",
            &[],
        )
        .expect("a future migration");
    let message = unavailable_message(
        open_postgres(&schema.url, keyring(), DEFAULT_CONNECTION).expect_err("opened"),
    );
    assert!(
        message.contains("schema is at version 6, newer than this harness understands (5)"),
        "{message}"
    );
}

#[test]
fn a_second_process_sees_the_first_ones_writes_and_its_lease_excludes_it() {
    let schema = Schema::create();
    let first = open_postgres(&schema.url, keyring(), DEFAULT_CONNECTION).expect("opens");
    let second = open_postgres(&schema.url, keyring(), DEFAULT_CONNECTION).expect("opens");

    first
        .credentials
        .replace("acme", 0, oauth())
        .expect("stored");
    let seen = second.credentials.get("acme").expect("readable");
    assert_eq!(seen.expect("present").version, 1);
    assert!(matches!(
        second.credentials.replace("acme", 0, api_token()),
        Err(StoreError::Conflict(1))
    ));

    let hour = Duration::from_secs(3600);
    assert!(
        first
            .credentials
            .try_lease("acme", "first", hour)
            .expect("answers")
    );
    assert!(
        !second
            .credentials
            .try_lease("acme", "second", hour)
            .expect("answers")
    );
    first
        .credentials
        .release_lease("acme", "first")
        .expect("answers");
    assert!(
        second
            .credentials
            .try_lease("acme", "second", hour)
            .expect("answers")
    );

    let key = first.tenants.add("acme").expect("added");
    assert_eq!(
        second
            .tenants
            .authenticate(&key.key)
            .expect("answers")
            .as_deref(),
        Some("acme")
    );

    let wait = match first.waits.add(&NewWait {
        tenant: "acme".into(),
        kind: "merge-when-green".into(),
        subject: "a/b#1".into(),
        request: "{}".into(),
        key_id: None,
        deadline: unix_now() + 60,
    }) {
        Ok(crate::Added::New(wait)) => wait,
        other => panic!("a new wait, not {other:?}"),
    };
    assert!(first.waits.claim(&wait.id, 60).expect("answers"));
    assert!(!second.waits.claim(&wait.id, 60).expect("answers"));
    assert_eq!(second.waits.waiting().expect("answers"), vec![wait]);
    first.ready().expect("ready");
}

#[test]
fn the_database_holds_no_plaintext_secret() {
    let schema = Schema::create();
    let stores = schema.open();
    let store = open_postgres(&schema.url, keyring(), DEFAULT_CONNECTION)
        .expect("opens")
        .credentials;
    store
        .replace("tenant-marker-acme", 0, oauth())
        .expect("stored");
    store.replace("globex", 0, access_token()).expect("stored");
    store.replace("initech", 0, api_token()).expect("stored");
    stores.tenants.add("acme").expect("added");
    let dump: String = schema
        .client()
        .query(
            "SELECT row_to_json(c)::text FROM credentials c
             UNION ALL SELECT row_to_json(k)::text FROM api_keys k",
            &[],
        )
        .expect("dumped")
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect();
    assert!(dump.contains("tenant-marker-acme"), "rows not found");
    for secret in SECRET_STRINGS
        .iter()
        .chain(&["access_token", "refresh_token"])
    {
        assert!(!dump.contains(secret), "{secret} in the database");
    }
}

/// A URL whose password must never show: the server is not listening on
/// port 1, so nothing can be done but fail.
const UNREACHABLE: &str = "postgres://postgres:hunter2-not-shown@127.0.0.1:1/test";

fn assert_unreachable<T>(outcome: Result<T, StoreError>) {
    let Err(error) = outcome else {
        panic!("an unreachable server answered");
    };
    let message = unavailable_message(error);
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("postgres://postgres@127.0.0.1:1/test"),
        "{message}"
    );
}

#[test]
fn an_unreachable_server_is_unavailable_at_once_and_its_password_never_shows() {
    let started = Instant::now();
    assert_unreachable(open_postgres(UNREACHABLE, keyring(), DEFAULT_CONNECTION));

    // Stores built on a pool that never connected: every call fails alike.
    let pool = PgPool::new(UNREACHABLE).expect("a valid URL");
    assert_eq!(pool.target(), "postgres://postgres@127.0.0.1:1/test");
    assert!(!format!("{pool:?}").contains("hunter2"));
    let credentials = PgCredentialStore::new(pool.clone(), keyring(), DEFAULT_CONNECTION)
        .expect("no connection needed yet");
    let tenants = PgTenantRegistry::new(pool.clone());
    let waits = PgWaitBook::new(pool.clone());
    assert_unreachable(credentials.get("acme"));
    assert_unreachable(credentials.replace("acme", 0, oauth()));
    assert_unreachable(credentials.try_lease("acme", "me", Duration::from_secs(1)));
    assert_unreachable(credentials.list());
    assert_unreachable(credentials.rotate(keyring()));
    assert_unreachable(tenants.add("acme"));
    assert_unreachable(tenants.is_active("acme"));
    assert_unreachable(waits.waiting());
    assert_unreachable(pool.ready());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    let message = unavailable_message(
        PgPool::new("postgres://postgres:hunter2@127.0.0.1:5432/test?nonsense=1")
            .expect_err("an unknown option"),
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn calls_from_inside_an_async_runtime_do_not_panic() {
    let schema = Schema::create();
    let stores = schema.open();
    for runtime in [
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    ] {
        let credentials = Arc::clone(&stores.credentials);
        let tenants = Arc::clone(&stores.tenants);
        runtime.block_on(async move {
            credentials.remove("acme").expect("removed");
            assert_eq!(credentials.replace("acme", 0, oauth()).expect("stored"), 1);
            assert!(credentials.get("acme").expect("readable").is_some());
            assert!(
                credentials
                    .try_lease("acme", "me", Duration::from_secs(1))
                    .expect("answers")
            );
            credentials.release_lease("acme", "me").expect("answers");
            assert!(!tenants.has_active_keys().expect("answers"));
        });
    }
}

#[test]
fn a_connection_the_server_dropped_is_replaced_without_a_restart() {
    let schema = Schema::create();
    // Names this test's connections, so only they are dropped.
    let url = format!("{}&application_name={}", schema.url, schema.name);
    let stores = open_postgres(&url, keyring(), DEFAULT_CONNECTION).expect("opens");
    stores
        .credentials
        .replace("acme", 0, oauth())
        .expect("stored");
    let dropped: i64 = schema
        .client()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1",
            &[&schema.name],
        )
        .expect("terminated")
        .get(0);
    assert!(dropped >= 1);

    // Each worker may fail the one call it makes on its dropped
    // connection; after that, calls succeed again.
    let mut failures = 0;
    let mut successes_in_a_row = 0;
    for _ in 0..30 {
        match stores.credentials.get("acme") {
            Ok(credential) => {
                assert!(credential.is_some());
                successes_in_a_row += 1;
                if successes_in_a_row == 8 {
                    break;
                }
            }
            Err(StoreError::Unavailable(_)) => {
                failures += 1;
                successes_in_a_row = 0;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(successes_in_a_row, 8, "{failures} failures");
    assert!(failures <= 4, "{failures} failures");
}
