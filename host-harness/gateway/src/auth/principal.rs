//! Who is calling: a tenant's API key (`Authorization: Bearer`), or a
//! browser session that such a key opened. A session rides in an HttpOnly,
//! SameSite=Strict cookie, and every state-changing request in it must also
//! carry the session's CSRF token in `X-CSRF-Token`, which another site's
//! page can neither read nor forge. A session lasts only as long as the key
//! that opened it works: `tenants revoke` and `tenants rotate-key` end it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq as _;

use crate::auth::directory::Directory;
use crate::error::GatewayError;

pub const SESSION_COOKIE: &str = "atom_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Sessions one tenant keeps at most, unless the operator says otherwise.
pub const DEFAULT_SESSIONS_PER_TENANT: usize = 64;

/// How the caller proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    ApiKey,
    Session {
        csrf: String,
    },
    /// An OAuth provider's redirect, bringing back a state this tenant began.
    OauthState,
    /// A webhook delivery, signed with this tenant's secret.
    WebhookSignature,
    /// A wait the tenant's key asked for (merge when green), looked at
    /// again by the gateway while that key still works.
    Wait,
}

/// The tenant a request acts as.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant: String,
    pub proof: Proof,
    /// The id of the API key the request proved itself with, directly or
    /// through the session it opened (see [`atom_store::key_id`]): what
    /// must still be valid for anything the request starts to finish.
    pub key_id: Option<String>,
}

/// Handlers take the principal the authentication layer found; a route
/// outside that layer cannot, by construction, run without one.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = GatewayError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| GatewayError::Unauthenticated("no caller was authenticated".into()))
    }
}

/// The bearer key of a request, if it sent one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

struct Session {
    tenant: String,
    /// The id of the API key that opened the session (never the key).
    key_id: String,
    csrf: String,
    expires: Instant,
}

/// Open browser sessions, in memory: a restart logs browsers out. Each
/// tenant keeps at most `per_tenant`, its oldest going first, so one tenant
/// opening many never closes another's; tenants are the operator's, so that
/// bounds the memory too.
#[derive(Clone)]
pub struct Sessions {
    open: Arc<Mutex<HashMap<String, Session>>>,
    per_tenant: usize,
}

/// A session just opened: its cookie and its CSRF token.
pub struct Opened {
    pub cookie: HeaderValue,
    pub csrf: String,
}

impl Sessions {
    /// `per_tenant` below one is taken as one.
    pub fn new(per_tenant: usize) -> Self {
        Self {
            open: Arc::default(),
            per_tenant: per_tenant.max(1),
        }
    }

    /// Opens a session for the tenant whose key `key_id` names.
    pub fn open(&self, tenant: &str, key_id: &str, secure: bool) -> Option<Opened> {
        let id = random_token()?;
        let csrf = random_token()?;
        let mut open = self.open.lock().ok()?;
        let now = Instant::now();
        open.retain(|_, s| s.expires > now);
        let theirs = || open.iter().filter(|(_, s)| s.tenant == tenant);
        if theirs().count() >= self.per_tenant
            && let Some(oldest) = theirs()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone())
        {
            open.remove(&oldest);
        }
        open.insert(
            id.clone(),
            Session {
                tenant: tenant.to_owned(),
                key_id: key_id.to_owned(),
                csrf: csrf.clone(),
                expires: now + SESSION_LIFETIME,
            },
        );
        let cookie = Cookie::build((SESSION_COOKIE, id))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/")
            .max_age(cookie::time::Duration::seconds(
                SESSION_LIFETIME.as_secs() as i64
            ))
            .build();
        Some(Opened {
            cookie: HeaderValue::from_str(&cookie.to_string()).ok()?,
            csrf,
        })
    }

    /// The session a request's cookie names, if it is open and the key that
    /// opened it still works; one whose key was revoked is closed.
    pub async fn find(&self, headers: &HeaderMap, directory: &Directory) -> Option<Principal> {
        let (id, key_id, principal) = self.lookup(headers)?;
        match directory.key_is_active(&key_id).await {
            Ok(true) => Some(principal),
            Ok(false) => {
                self.open.lock().ok()?.remove(&id);
                None
            }
            // The registry did not answer: refuse, but keep the session.
            Err(error) => {
                tracing::error!(%error, "checking a session's key");
                None
            }
        }
    }

    /// The open session a request's cookie names: its id, its key's id and
    /// who it acts as.
    fn lookup(&self, headers: &HeaderMap) -> Option<(String, String, Principal)> {
        let id = session_id(headers)?;
        let open = self.open.lock().ok()?;
        let session = open.get(&id).filter(|s| s.expires > Instant::now())?;
        let principal = Principal {
            tenant: session.tenant.clone(),
            proof: Proof::Session {
                csrf: session.csrf.clone(),
            },
            key_id: Some(session.key_id.clone()),
        };
        Some((id, session.key_id.clone(), principal))
    }

    pub fn close(&self, headers: &HeaderMap) {
        if let (Some(id), Ok(mut open)) = (session_id(headers), self.open.lock()) {
            open.remove(&id);
        }
    }
}

/// Whether a request in a session carries that session's CSRF token.
pub fn csrf_matches(expected: &str, headers: &HeaderMap) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.as_bytes().ct_eq(expected.as_bytes()).into())
}

/// A cookie that ends the session in the browser too.
pub fn expired_cookie(secure: bool) -> Option<HeaderValue> {
    let cookie = Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_and_checks_its_csrf_token() {
        let sessions = Sessions::new(DEFAULT_SESSIONS_PER_TENANT);
        let opened = sessions.open("acme", "0123456789abcdef", true).unwrap();
        let set_cookie = opened.cookie.to_str().unwrap();
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {pair}")).unwrap(),
        );
        let (_, key_id, principal) = sessions.lookup(&headers).unwrap();
        assert_eq!(key_id, "0123456789abcdef");
        assert_eq!(principal.tenant, "acme");
        let Proof::Session { csrf } = principal.proof else {
            panic!("a session proof");
        };
        assert!(!csrf_matches(&csrf, &headers));
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&csrf).unwrap());
        assert!(csrf_matches(&csrf, &headers));
        sessions.close(&headers);
        assert!(sessions.lookup(&headers).is_none());
    }
}
