//! The contract's records, re-exported under plain names so the rest of the
//! crate never spells a bindings path.

pub use crate::bindings::atom::integration::host::{
    Credential, CredentialSecret, LogLevel, OauthTokens,
};
pub use crate::bindings::exports::atom::integration::integration::*;
