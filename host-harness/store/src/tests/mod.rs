//! Shared fixtures for the store's tests. The tests of what both backends
//! do are written once, as functions of a [`backend::Backend`], and run
//! against each by [`for_each_backend!`].

/// Makes a `#[test]` per backend of each named `fn(&Backend)` of the
/// calling module, in a submodule named after each backend.
macro_rules! for_each_backend {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $test() {
                    super::$test(&$crate::tests::backend::Backend::sqlite());
                }
            )+
        }
        mod postgres {
            $(
                #[test]
                fn $test() {
                    super::$test(&$crate::tests::backend::Backend::postgres());
                }
            )+
        }
    };
}

mod backend;
mod credentials;
mod keyring;
mod postgres;
mod sqlite;
mod tenants;
mod waits;

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

use atom_runtime::StoreError;
use atom_runtime::host_types::{ApiToken, CredentialSecret, OauthTokens};

/// A fresh database path; the directory lives as long as the returned guard.
fn database() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("credentials.db");
    (dir, path)
}

/// The text form of a one-key keyring with a fixed key.
fn key_entry(version: u32, byte: u8) -> String {
    format!("{version}:{}", STANDARD.encode([byte; 32]))
}

fn oauth() -> CredentialSecret {
    CredentialSecret::Oauth(OauthTokens {
        access_token: "oauth-access-7f3a9c61".into(),
        refresh_token: Some("oauth-refresh-51be02d4".into()),
        expires_at: Some(1_900_000_000),
        scopes: vec!["repository".into(), "pullrequest:write".into()],
    })
}

fn access_token() -> CredentialSecret {
    CredentialSecret::AccessToken("workspace-access-c0ffee42".into())
}

fn api_token() -> CredentialSecret {
    CredentialSecret::ApiToken(ApiToken {
        email: "ops-owner@example.com".into(),
        token: "atlassian-api-deadbeef99".into(),
    })
}

/// Every secret string the fixtures above hold.
const SECRET_STRINGS: &[&str] = &[
    "oauth-access-7f3a9c61",
    "oauth-refresh-51be02d4",
    "workspace-access-c0ffee42",
    "ops-owner@example.com",
    "atlassian-api-deadbeef99",
];

/// The generated types have no `PartialEq`; their JSON form stands in.
fn assert_same(left: &CredentialSecret, right: &CredentialSecret) {
    assert_eq!(
        serde_json::to_value(left).expect("serializable"),
        serde_json::to_value(right).expect("serializable"),
    );
}

fn unavailable_message(error: StoreError) -> String {
    match error {
        StoreError::Unavailable(message) => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A row no key opens: not worth retrying, unlike a store that is away.
fn unreadable_message(error: StoreError) -> String {
    match error {
        StoreError::Unreadable(message) => message,
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

/// How long a listener may take to connect, or a notification to arrive.
const MARK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The store's change mark once it gives one (PostgreSQL's listener
/// connects on the first ask).
fn first_mark(mark: impl Fn() -> Option<u64>) -> u64 {
    let until = std::time::Instant::now() + MARK_PATIENCE;
    loop {
        if let Some(mark) = mark() {
            return mark;
        }
        assert!(std::time::Instant::now() < until, "the store gave no mark");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether the mark moves from `before` (SQLite's at once, PostgreSQL's
/// when its notification arrives).
fn moves_from(before: u64, mark: impl Fn() -> Option<u64>) -> bool {
    let until = std::time::Instant::now() + MARK_PATIENCE;
    while std::time::Instant::now() < until {
        if mark() != Some(before) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}
