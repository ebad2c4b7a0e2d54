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
use crate::shared::{SessionRecord, Shared, SharedSessions};

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
    record: SessionRecord,
    expires: Instant,
}

/// Open browser sessions: in process memory (a restart logs browsers out),
/// or in the deployment's Redis, where every replica finds them. Each
/// tenant keeps at most `per_tenant`, its oldest going first, so one tenant
/// opening many never closes another's; tenants are the operator's, so that
/// bounds the memory too.
#[derive(Clone)]
pub struct Sessions {
    open: Backend,
    per_tenant: usize,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<HashMap<String, Session>>>),
    Shared(SharedSessions),
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
            open: Backend::Memory(Arc::default()),
            per_tenant: per_tenant.max(1),
        }
    }

    /// Sessions every replica of the deployment shares.
    pub fn shared(shared: Shared, per_tenant: usize) -> Self {
        let per_tenant = per_tenant.max(1);
        Self {
            open: Backend::Shared(SharedSessions::new(shared, per_tenant)),
            per_tenant,
        }
    }

    /// Opens a session for the tenant whose key `key_id` names.
    pub async fn open(
        &self,
        tenant: &str,
        key_id: &str,
        secure: bool,
    ) -> Result<Opened, GatewayError> {
        let unavailable = || GatewayError::Unavailable("no session could be opened".into());
        let id = random_token().ok_or_else(unavailable)?;
        let record = SessionRecord {
            tenant: tenant.to_owned(),
            key_id: key_id.to_owned(),
            csrf: random_token().ok_or_else(unavailable)?,
        };
        match &self.open {
            Backend::Memory(open) => {
                let mut open = open.lock().map_err(|_| unavailable())?;
                let now = Instant::now();
                open.retain(|_, s| s.expires > now);
                let theirs = || open.iter().filter(|(_, s)| s.record.tenant == tenant);
                if theirs().count() >= self.per_tenant
                    && let Some(oldest) = theirs()
                        .min_by_key(|(_, s)| s.expires)
                        .map(|(id, _)| id.clone())
                {
                    open.remove(&oldest);
                }
                let session = Session {
                    record: record.clone(),
                    expires: now + SESSION_LIFETIME,
                };
                open.insert(id.clone(), session);
            }
            Backend::Shared(shared) => shared.open(&id, &record, SESSION_LIFETIME).await?,
        }
        let cookie = Cookie::build((SESSION_COOKIE, id))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure)
            .path("/")
            .max_age(cookie::time::Duration::seconds(
                SESSION_LIFETIME.as_secs() as i64
            ))
            .build();
        Ok(Opened {
            cookie: HeaderValue::from_str(&cookie.to_string()).map_err(|_| unavailable())?,
            csrf: record.csrf,
        })
    }

    /// The session a request's cookie names, if it is open and the key that
    /// opened it still works; one whose key was revoked is closed. Fails
    /// when the sessions or the registry cannot be read: neither "signed
    /// in" nor "signed out" is known then.
    pub async fn find(
        &self,
        headers: &HeaderMap,
        directory: &Directory,
    ) -> Result<Option<Principal>, GatewayError> {
        let Some(id) = session_id(headers) else {
            return Ok(None);
        };
        let Some(record) = self.lookup(&id).await? else {
            return Ok(None);
        };
        match directory.key_is_active(&record.key_id).await {
            Ok(true) => Ok(Some(Principal {
                tenant: record.tenant,
                proof: Proof::Session { csrf: record.csrf },
                key_id: Some(record.key_id),
            })),
            Ok(false) => {
                self.remove(&id).await?;
                Ok(None)
            }
            // The registry did not answer: refuse, but keep the session.
            Err(error) => {
                tracing::error!(%error, "checking a session's key");
                Err(GatewayError::ServiceDown(
                    "the tenant registry is unavailable".into(),
                ))
            }
        }
    }

    /// The open session `id` names.
    async fn lookup(&self, id: &str) -> Result<Option<SessionRecord>, GatewayError> {
        match &self.open {
            Backend::Memory(open) => Ok(open.lock().ok().and_then(|open| {
                open.get(id)
                    .filter(|s| s.expires > Instant::now())
                    .map(|s| s.record.clone())
            })),
            Backend::Shared(shared) => shared.get(id).await,
        }
    }

    async fn remove(&self, id: &str) -> Result<(), GatewayError> {
        match &self.open {
            Backend::Memory(open) => {
                if let Ok(mut open) = open.lock() {
                    open.remove(id);
                }
                Ok(())
            }
            Backend::Shared(shared) => shared.close(id).await,
        }
    }

    pub async fn close(&self, headers: &HeaderMap) -> Result<(), GatewayError> {
        match session_id(headers) {
            Some(id) => self.remove(&id).await,
            None => Ok(()),
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

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_and_checks_its_csrf_token() {
        let sessions = Sessions::new(DEFAULT_SESSIONS_PER_TENANT);
        let opened = sessions
            .open("acme", "0123456789abcdef", true)
            .await
            .unwrap();
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
        let id = session_id(&headers).unwrap();
        let record = sessions.lookup(&id).await.unwrap().unwrap();
        assert_eq!(record.key_id, "0123456789abcdef");
        assert_eq!(record.tenant, "acme");
        assert!(!csrf_matches(&record.csrf, &headers));
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&record.csrf).unwrap());
        assert!(csrf_matches(&record.csrf, &headers));
        sessions.close(&headers).await.unwrap();
        assert!(sessions.lookup(&id).await.unwrap().is_none());
    }
}
