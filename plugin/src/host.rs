//! The host's side of the contract, as plain functions.

use crate::bindings::atom::integration::host as imports;
pub use crate::bindings::atom::integration::host::{OauthClient, ReplaceError};
use crate::types::{Credential, CredentialSecret, LogLevel};

pub fn credential() -> Option<Credential> {
    imports::get_credential()
}

/// Waits for this tenant's credential lock; see `lock-credential` in the WIT.
pub fn lock_credential() -> Option<Credential> {
    imports::lock_credential()
}

pub fn unlock_credential() {
    imports::unlock_credential()
}

pub fn replace_credential(
    expected_version: u64,
    secret: &CredentialSecret,
) -> Result<u64, ReplaceError> {
    imports::replace_credential(expected_version, secret)
}

pub fn oauth_client() -> Option<OauthClient> {
    imports::get_oauth_client()
}

pub fn save_auth_state(state: &str, expires_at: u64) {
    imports::save_auth_state(state, expires_at)
}

pub fn take_auth_state(state: &str) -> bool {
    imports::take_auth_state(state)
}

pub fn config(key: &str) -> Option<String> {
    imports::get_config(key).filter(|value| !value.trim().is_empty())
}

pub fn log(level: LogLevel, message: &str, fields: &[(&str, String)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    imports::log(level, message, &fields);
}
