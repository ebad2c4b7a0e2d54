//! Bitbucket's OAuth 2.0 authorization server as of 2026: two-hour access
//! tokens, refresh tokens that rotate (the one used stops working), and
//! `invalid_grant` for anything spent, unknown or revoked.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A registered OAuth consumer (Bitbucket's name for a client).
#[derive(Clone, Debug)]
pub struct OauthConsumer {
    pub key: String,
    pub secret: String,
    /// Redirect URIs must start with this.
    pub callback_url: String,
    /// What the consumer was granted, as the token answer spells it.
    pub scopes: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub user: String,
    pub consumer: String,
    pub redirect_uri: String,
}

#[derive(Default)]
pub struct OauthServer {
    pub consumers: Vec<OauthConsumer>,
    /// Who grants access on the consent screen (the fake has no browser).
    pub authorize_as: String,
    /// Seconds an access token lives (Bitbucket: 7200).
    pub access_lifetime: u64,
    /// Access token → unix second it stops working.
    pub access_expiry: HashMap<String, u64>,
    /// Access token → the scopes its consumer was granted when it was issued.
    pub access_scopes: HashMap<String, Vec<String>>,
    /// Every token request by grant type, in order (`authorization_code`, `refresh_token`).
    pub token_requests: Vec<String>,
    /// Authorization codes not yet exchanged.
    pub(crate) codes: HashMap<String, Grant>,
    /// Refresh tokens still usable → their grant.
    pub(crate) refresh_tokens: HashMap<String, Grant>,
    /// Refresh tokens already rotated away.
    pub(crate) spent_refresh_tokens: Vec<String>,
    pub(crate) issued: u64,
}

impl OauthServer {
    /// Every access token issued so far expires now.
    pub fn expire_access_tokens(&mut self) {
        for expiry in self.access_expiry.values_mut() {
            *expiry = 0;
        }
    }

    pub fn refresh_requests(&self) -> usize {
        self.token_requests
            .iter()
            .filter(|g| *g == "refresh_token")
            .count()
    }

    /// Whether `token` would still be accepted by a refresh.
    pub fn refresh_token_is_live(&self, token: &str) -> bool {
        self.refresh_tokens.contains_key(token)
    }

    pub(crate) fn is_expired(&self, access_token: &str) -> bool {
        self.access_expiry
            .get(access_token)
            .is_some_and(|at| *at <= unix_now())
    }

    pub(crate) fn fresh(&mut self, kind: &str) -> String {
        self.issued += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("fake-oauth-{kind}-{}-{nanos:08x}", self.issued)
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
