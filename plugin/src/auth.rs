//! The OAuth 2.0 operations: `auth-start`, `auth-complete` and
//! `auth-refresh`. The credential itself, the token exchange and the refresh
//! that every call may do live in `session`.

use std::time::Duration;

use oauth2::CsrfToken;

use crate::endpoint::Upstream;
use crate::error::Error;
use crate::host::{self, ReplaceError};
use crate::session::{self, Grant};
use crate::types::{AuthCompleteRequest, AuthKind, AuthStartResult, AuthStatus, CredentialSecret};
use crate::wire::NoParams;

/// How long a login may take between `auth-start` and `auth-complete`.
const STATE_LIFETIME: Duration = Duration::from_secs(600);

pub fn start(upstream: &dyn Upstream, _: NoParams) -> Result<AuthStartResult, Error> {
    let (url, state) = session::oauth_client(upstream.config())?
        .authorize_url(|| CsrfToken::new(random_state()))
        .url();
    let expires_at = session::unix_now() + STATE_LIFETIME.as_secs();
    host::save_auth_state(state.secret(), expires_at);
    Ok(AuthStartResult {
        authorize_url: url.to_string(),
        state: state.secret().clone(),
        expires_at,
    })
}

/// A login's `state`: 128 bits from the host's secure random source
/// (`wasi:random/random`), base64url as oauth2's own. oauth2's
/// `CsrfToken::new_random` draws them through getrandom's preview-1 import,
/// which alone made every instance of the component instantiate WASI's
/// preview-1 adapter as well.
fn random_state() -> String {
    use base64::Engine as _;
    let bytes = waki::bindings::wasi::random::random::get_random_bytes(16);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn complete(
    upstream: &dyn Upstream,
    request: AuthCompleteRequest,
) -> Result<AuthStatus, Error> {
    if request.code.trim().is_empty() {
        return Err(Error::validation("code", "must not be empty"));
    }
    // Single use, checked before the code is spent.
    if !host::take_auth_state(request.state.trim()) {
        return Err(Error::validation(
            "state",
            "does not match a login started here, or it expired or was used: start the login again",
        ));
    }
    let tokens = session::exchange(
        upstream.config(),
        Grant::Code(request.code.trim().to_owned()),
    )?;
    let secret = CredentialSecret::Oauth(tokens);
    // A fresh login replaces whatever was stored, whoever wrote it last.
    let mut expected = host::credential().map_or(0, |c| c.version);
    loop {
        match host::replace_credential(expected, &secret) {
            Ok(_) => break,
            Err(ReplaceError::Conflict(current)) => expected = current,
            Err(ReplaceError::Unavailable(message)) => return Err(session::store_failed(&message)),
        }
    }
    Ok(status(&secret))
}

pub fn refresh(upstream: &dyn Upstream, _: NoParams) -> Result<AuthStatus, Error> {
    let seen = host::credential()
        .ok_or_else(|| Error::auth_invalid("no credential is stored for this connection"))?;
    refreshable(&seen.secret)?;
    let credential = session::refresh_after(upstream.config(), seen.version)?;
    Ok(status(&credential.secret))
}

/// Only OAuth credentials have a refresh. A token pasted by hand has not
/// expired because it cannot be refreshed: saying so would send the user to
/// reconnect for nothing.
fn refreshable(secret: &CredentialSecret) -> Result<(), Error> {
    let kind = match secret {
        CredentialSecret::Oauth(_) => return Ok(()),
        CredentialSecret::AccessToken(_) => "an access token",
        CredentialSecret::ApiToken(_) => "an API token",
    };
    Err(Error::validation(
        "operation",
        format!("auth-refresh applies to OAuth credentials; this connection uses {kind}"),
    ))
}

fn status(secret: &CredentialSecret) -> AuthStatus {
    let (kind, scopes, expires_at) = match secret {
        CredentialSecret::Oauth(tokens) => {
            (AuthKind::Oauth2, tokens.scopes.clone(), tokens.expires_at)
        }
        CredentialSecret::AccessToken(_) => (AuthKind::AccessToken, Vec::new(), None),
        CredentialSecret::ApiToken(_) => (AuthKind::ApiToken, Vec::new(), None),
    };
    AuthStatus {
        kind,
        scopes,
        expires_at,
        account: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::atom::integration::host::ApiToken;

    fn refused(secret: CredentialSecret) -> String {
        let Err(Error::Validation(refused)) = refreshable(&secret) else {
            panic!("a credential without a refresh token must be refused as invalid input");
        };
        assert_eq!(refused.field, "operation");
        refused.message
    }

    #[test]
    fn refresh_names_the_credential_kind_instead_of_calling_it_expired() {
        let message = refused(CredentialSecret::AccessToken("secret-token".into()));
        assert!(
            message.contains("this connection uses an access token"),
            "{message}"
        );
        assert!(!message.contains("expired") && !message.contains("secret-token"));
        let message = refused(CredentialSecret::ApiToken(ApiToken {
            email: "a@b.c".into(),
            token: "secret-token".into(),
        }));
        assert!(message.contains("an API token"), "{message}");
    }
}
