//! OAuth 2.0 with Bitbucket as a confidential client, through the `oauth2`
//! crate over wasi:http: the authorization-code flow, refresh, and the
//! refresh that `transport` does on its own before expiry and after a 401.
//!
//! Bitbucket rotates refresh tokens (2026): each refresh answers a new one and
//! the old one dies minutes later. So a new token pair goes to the host store
//! before anything else happens, refreshes of one tenant are serialised
//! through the host's credential lock, and a token exchange is never retried.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, RedirectUrl, RefreshToken, RequestTokenError, StandardErrorResponse,
    TokenResponse, TokenUrl,
};

use crate::config::Config;
use crate::error::Error;
use crate::host::{self, ReplaceError};
use crate::schema::NoParams;
use crate::transport;
use crate::types::{
    AuthCompleteRequest, AuthKind, AuthStartResult, AuthStatus, Credential, CredentialSecret,
    OauthTokens,
};

/// How long a login may take between `auth-start` and `auth-complete`.
const STATE_LIFETIME: Duration = Duration::from_secs(600);

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

fn oauth_client(config: &Config) -> Result<Client, Error> {
    let configured = host::oauth_client().ok_or_else(|| {
        Error::config(
            "oauth-client",
            "is not configured for this connection (client id, secret and redirect URI)",
        )
    })?;
    let url = |path: &str| format!("{}/site/oauth2/{path}", config.oauth_base_url);
    Ok(BasicClient::new(ClientId::new(configured.client_id))
        .set_client_secret(ClientSecret::new(configured.client_secret))
        .set_auth_uri(
            AuthUrl::new(url("authorize"))
                .map_err(|_| Error::config("oauth-base-url", "is not a URL"))?,
        )
        .set_token_uri(
            TokenUrl::new(url("access_token"))
                .map_err(|_| Error::config("oauth-base-url", "is not a URL"))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(configured.redirect_uri)
                .map_err(|_| Error::config("oauth-client", "redirect URI is not a URL"))?,
        ))
}

pub fn start(_: NoParams) -> Result<AuthStartResult, Error> {
    let config = Config::from_host()?;
    let (url, state) = oauth_client(&config)?
        .authorize_url(CsrfToken::new_random)
        .url();
    let expires_at = unix_now() + STATE_LIFETIME.as_secs();
    host::save_auth_state(state.secret(), expires_at);
    Ok(AuthStartResult {
        authorize_url: url.to_string(),
        state: state.secret().clone(),
        expires_at,
    })
}

pub fn complete(request: AuthCompleteRequest) -> Result<AuthStatus, Error> {
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
    let config = Config::from_host()?;
    let tokens = exchange(&config, Exchange::Code(request.code.trim().to_owned()))?;
    let secret = CredentialSecret::Oauth(tokens);
    // A fresh login replaces whatever was stored, whoever wrote it last.
    let mut expected = host::credential().map_or(0, |c| c.version);
    loop {
        match host::replace_credential(expected, &secret) {
            Ok(_) => break,
            Err(ReplaceError::Conflict(current)) => expected = current,
            Err(ReplaceError::Unavailable(message)) => return Err(store_failed(&message)),
        }
    }
    Ok(status(&secret))
}

pub fn refresh(_: NoParams) -> Result<AuthStatus, Error> {
    let config = Config::from_host()?;
    let seen = host::credential()
        .ok_or_else(|| Error::auth_invalid("no credential is stored for this connection"))?;
    let credential = refresh_after(&config, seen.version)?;
    Ok(status(&credential.secret))
}

/// Whether an OAuth access token is within `margin` of expiring.
pub fn expiring(secret: &CredentialSecret, margin: Duration) -> bool {
    matches!(secret, CredentialSecret::Oauth(OauthTokens { expires_at: Some(at), .. }) if *at <= unix_now() + margin.as_secs())
}

/// Refreshes the credential the caller saw at `seen_version`, unless another
/// call already did while this one waited for the lock: then that newer
/// credential is the answer and Bitbucket is not asked again.
pub fn refresh_after(config: &Config, seen_version: u64) -> Result<Credential, Error> {
    let Some(current) = host::lock_credential() else {
        host::unlock_credential();
        return Err(Error::auth_invalid(
            "no credential is stored for this connection",
        ));
    };
    if current.version != seen_version {
        host::unlock_credential();
        return Ok(current);
    }
    let refresh_token = match &current.secret {
        CredentialSecret::Oauth(OauthTokens {
            refresh_token: Some(token),
            ..
        }) => token.clone(),
        _ => {
            host::unlock_credential();
            return Err(Error::AuthExpired(crate::types::ErrorInfo {
                message: "the credential expired and cannot be refreshed: reconnect required"
                    .into(),
                retryable: false,
                status: None,
            }));
        }
    };
    let tokens = match exchange(config, Exchange::Refresh(refresh_token)) {
        Ok(tokens) => tokens,
        Err(error) => {
            host::unlock_credential();
            return Err(error);
        }
    };
    let secret = CredentialSecret::Oauth(tokens);
    match host::replace_credential(current.version, &secret) {
        Ok(version) => Ok(Credential { secret, version }),
        // Another process refreshed between our read and our write: its
        // tokens are as good as ours and already stored.
        Err(ReplaceError::Conflict(_)) => host::credential()
            .ok_or_else(|| Error::auth_invalid("the credential was removed during a refresh")),
        Err(ReplaceError::Unavailable(message)) => Err(store_failed(&message)),
    }
}

enum Exchange {
    Code(String),
    Refresh(String),
}

fn exchange(config: &Config, grant: Exchange) -> Result<OauthTokens, Error> {
    let client = oauth_client(config)?;
    let http = |request: HttpRequest| -> Result<HttpResponse, Error> {
        transport::send_form(config, request)
    };
    let answer = match &grant {
        Exchange::Code(code) => client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .request(&http),
        Exchange::Refresh(token) => client
            .exchange_refresh_token(&RefreshToken::new(token.clone()))
            .request(&http),
    };
    let token = answer.map_err(token_error)?;
    Ok(OauthTokens {
        access_token: token.access_token().secret().clone(),
        refresh_token: token
            .refresh_token()
            .map(|t| t.secret().clone())
            // Grants that answer no new refresh token keep the old one.
            .or(match grant {
                Exchange::Refresh(old) => Some(old),
                Exchange::Code(_) => None,
            }),
        expires_at: token.expires_in().map(|d| unix_now() + d.as_secs()),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    })
}

type TokenError = RequestTokenError<Error, StandardErrorResponse<BasicErrorResponseType>>;

fn token_error(error: TokenError) -> Error {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => Error::AuthExpired(crate::types::ErrorInfo {
                message: format!(
                    "Bitbucket refused the grant ({}): reconnect required",
                    response
                        .error_description()
                        .map_or("invalid_grant", String::as_str)
                ),
                retryable: false,
                status: Some(400),
            }),
            BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                Error::auth_invalid("Bitbucket refused the OAuth client: check its id and secret")
            }
            other => Error::auth_invalid(format!("Bitbucket refused the token request: {other}")),
        },
        RequestTokenError::Request(error) => error,
        RequestTokenError::Parse(..) => {
            Error::unavailable("Bitbucket's token answer could not be read", None)
        }
        RequestTokenError::Other(message) => {
            Error::unavailable(format!("token request failed: {message}"), None)
        }
    }
}

fn status(secret: &CredentialSecret) -> AuthStatus {
    match secret {
        CredentialSecret::Oauth(tokens) => AuthStatus {
            kind: AuthKind::Oauth2,
            scopes: tokens.scopes.clone(),
            expires_at: tokens.expires_at,
            account: None,
        },
        CredentialSecret::AccessToken(_) => AuthStatus {
            kind: AuthKind::AccessToken,
            scopes: Vec::new(),
            expires_at: None,
            account: None,
        },
        CredentialSecret::ApiToken(_) => AuthStatus {
            kind: AuthKind::ApiToken,
            scopes: Vec::new(),
            expires_at: None,
            account: None,
        },
    }
}

fn store_failed(message: &str) -> Error {
    Error::internal(format!("the new tokens could not be stored: {message}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
