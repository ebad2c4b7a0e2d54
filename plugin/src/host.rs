//! The host's side of the contract, as plain functions.

use crate::bindings::atom::integration::host as imports;
use crate::types::{Credential, LogLevel};

pub fn credential() -> Option<Credential> {
    imports::get_credential()
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
