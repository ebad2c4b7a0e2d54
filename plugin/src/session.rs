//! The tenant's credential for one call: reading it from the host, the
//! `Authorization` it makes, and OAuth 2.0 with Bitbucket as a confidential
//! client through the `oauth2` crate over wasi:http (token exchange and
//! refresh).
//!
//! Bitbucket rotates refresh tokens (2026): each refresh answers a new one and
//! the old one dies minutes later. So a new token pair goes to the host store
//! before anything else happens, refreshes of one tenant are serialised
//! through the host's credential lock, and a token exchange is never retried.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, RedirectUrl, RefreshToken, RequestTokenError, StandardErrorResponse,
    TokenResponse, TokenUrl,
};
use url::Url;

use crate::config::Config;
use crate::error::Error;
use crate::host::{self, ReplaceError};
use crate::types::{Credential, CredentialSecret, ErrorInfo, LogLevel, OauthTokens};
use crate::wasi_http::{self, Limits};

pub type OauthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The credential a call uses; replaced when an OAuth token is refreshed.
pub struct Session {
    credential: RefCell<Credential>,
}

impl Session {
    /// The tenant's stored credential, refreshed first when it is an OAuth
    /// token about to expire.
    pub fn open(config: &Config) -> Result<Self, Error> {
        let mut credential = host::credential().ok_or_else(|| {
            Error::auth_invalid("no credential is stored for this connection: add an access token, an API token or log in with OAuth")
        })?;
        if expiring(&credential.secret, config.refresh_margin) {
            credential = refresh_after(config, credential.version)?;
        }
        Ok(Self {
            credential: RefCell::new(credential),
        })
    }

    pub fn is_oauth(&self) -> bool {
        matches!(self.credential.borrow().secret, CredentialSecret::Oauth(_))
    }

    /// Refreshes the token this session holds (after Bitbucket refused it).
    pub fn refresh(&self, config: &Config) -> Result<(), Error> {
        let seen = self.credential.borrow().version;
        let fresh = refresh_after(config, seen)?;
        *self.credential.borrow_mut() = fresh;
        Ok(())
    }

    /// The `Authorization` header value.
    pub fn authorization(&self) -> String {
        match &self.credential.borrow().secret {
            CredentialSecret::Oauth(tokens) => format!("Bearer {}", tokens.access_token),
            CredentialSecret::AccessToken(token) => format!("Bearer {token}"),
            CredentialSecret::ApiToken(api) => {
                let pair = format!("{}:{}", api.email, api.token);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
        }
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether an OAuth access token is within `margin` of expiring.
pub fn expiring(secret: &CredentialSecret, margin: Duration) -> bool {
    matches!(secret, CredentialSecret::Oauth(OauthTokens { expires_at: Some(at), .. }) if *at <= unix_now() + margin.as_secs())
}

/// The operator's OAuth consumer for this connection.
pub fn oauth_client(config: &Config) -> Result<OauthClient, Error> {
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

/// Refreshes the credential the caller saw at `seen_version`, unless another
/// call already did while this one waited for the lock: then that newer
/// credential is the answer and Bitbucket is not asked again.
pub fn refresh_after(config: &Config, seen_version: u64) -> Result<Credential, Error> {
    let outcome = refresh_locked(config, seen_version);
    // Storing the new pair released the lock already; releasing twice is harmless.
    if outcome.is_err() {
        host::unlock_credential();
    }
    outcome
}

fn refresh_locked(config: &Config, seen_version: u64) -> Result<Credential, Error> {
    let Some(current) = host::lock_credential() else {
        return Err(Error::auth_invalid(
            "no credential is stored for this connection",
        ));
    };
    if current.version != seen_version {
        host::unlock_credential();
        return Ok(current);
    }
    let CredentialSecret::Oauth(OauthTokens {
        refresh_token: Some(refresh_token),
        ..
    }) = &current.secret
    else {
        return Err(Error::AuthExpired(ErrorInfo {
            message: "the credential expired and cannot be refreshed: reconnect required".into(),
            retryable: false,
            status: None,
        }));
    };
    let tokens = match exchange(config, Grant::Refresh(refresh_token.clone())) {
        Ok(tokens) => tokens,
        // The refresh token may have been rotated by a process the lease did
        // not cover (an older harness, a lease that expired mid-refresh): if
        // the store holds newer tokens, they are the answer.
        Err(refused @ Error::AuthExpired(_)) => {
            return match host::credential() {
                Some(newer) if newer.version != current.version => {
                    host::unlock_credential();
                    Ok(newer)
                }
                _ => Err(refused),
            };
        }
        Err(other) => return Err(other),
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

pub fn store_failed(message: &str) -> Error {
    Error::internal(format!("the new tokens could not be stored: {message}"))
}

pub enum Grant {
    Code(String),
    Refresh(String),
}

/// Exchanges a code or a refresh token for tokens: once, never retried (a
/// refresh token is single use), never logged.
pub fn exchange(config: &Config, grant: Grant) -> Result<OauthTokens, Error> {
    let client = oauth_client(config)?;
    let http = |request: HttpRequest| send_token_request(config, request);
    let answer = match &grant {
        Grant::Code(code) => client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .request(&http),
        Grant::Refresh(token) => client
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
                Grant::Refresh(old) => Some(old),
                Grant::Code(_) => None,
            }),
        expires_at: token.expires_in().map(|d| unix_now() + d.as_secs()),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    })
}

fn send_token_request(config: &Config, request: HttpRequest) -> Result<HttpResponse, Error> {
    let url = Url::parse(&request.uri().to_string())
        .map_err(|_| Error::config("oauth-base-url", "is not a URL"))?;
    let body = request.body();
    let mut headers: Vec<(&str, Vec<u8>)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes().to_vec()))
        .collect();
    headers.push(("content-length", body.len().to_string().into()));
    let limits = Limits {
        connect_timeout: config.connect_timeout,
        max_response_bytes: config.max_response_bytes,
    };
    // A lost token answer stays the transport's error: what it changes is
    // the credential, which the next refresh settles, not data in Bitbucket.
    let response = wasi_http::exchange(request.method(), &url, &headers, Some(body), &limits)
        .map_err(|failed| failed.error)?;
    host::log(
        LogLevel::Debug,
        "oauth token request",
        &[("status", response.status.to_string())],
    );
    let mut answer = http::Response::new(response.body);
    *answer.status_mut() =
        http::StatusCode::from_u16(response.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *answer.headers_mut() = response.headers;
    Ok(answer)
}

type TokenError = RequestTokenError<Error, StandardErrorResponse<BasicErrorResponseType>>;

fn token_error(error: TokenError) -> Error {
    match error {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => Error::AuthExpired(ErrorInfo {
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
