//! The seed's connection routes: health and the OAuth flow.
//!
//! Bitbucket sends the browser back to `GET /bitbucket/oauth/callback`
//! from its own site, so the SameSite=Strict session cookie does not come
//! with it: that one route is not authenticated. Its `state` is: the
//! gateway remembers which tenant started each flow, for as long as the
//! component says the state lives, and lets it complete once, for that
//! tenant only. The component checks the state again against the tenant's
//! own pending logins.
//!
//! A state alone is not enough: whoever holds the authorization URL would
//! link their own Bitbucket account to the tenant. `oauth/start` therefore
//! also sets a short-lived HttpOnly cookie holding the state, and the
//! browser's callback completes only with it, so only the browser that
//! started a login finishes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use super::Bitbucket;
use crate::auth::principal::{Principal, Proof};
use crate::error::GatewayError;
use crate::routes::rfc3339_now;
use crate::shared::{LoginRecord, Shared, SharedLogins};
use crate::state::Gateway;
use atom_runtime::unix_now;

pub const BROWSER_CALLBACK: &str = "/bitbucket/oauth/callback";

/// Flows waiting for their callback at most; only authenticated tenants
/// start one, so this bounds memory, not access.
const MAX_PENDING: usize = 10_000;

/// Flows one tenant may have waiting; its oldest goes first, so one tenant
/// opening many logins never pushes out another's.
const MAX_PENDING_PER_TENANT: usize = 16;

const NOT_CONFIGURED: &str = "OAuth is not configured for this gateway: its operator sets \
     ATOM_OAUTH_CLIENT_ID and ATOM_OAUTH_CLIENT_SECRET. Until then, add a credential with \
     `atom-harness auth add-token`.";

/// The cookie that ties a login's state to the browser that started it.
const STATE_COOKIE: &str = "atom_oauth_state";

/// OAuth `state` → the login it began: in this process, or in the
/// deployment's Redis so the callback may reach any replica.
#[derive(Clone, Default)]
pub struct PendingLogins {
    pending: Arc<Mutex<Pending>>,
    shared: Option<SharedLogins>,
}

#[derive(Default)]
struct Pending {
    by_state: HashMap<String, Login>,
    started: u64,
}

struct Login {
    tenant: String,
    /// Unix seconds.
    expires: u64,
    /// Which of the tenant's logins is oldest.
    order: u64,
    /// The API key the browser's login was started with: revoking or
    /// rotating it ends the login, as it ends the key's sessions.
    key_id: Option<String>,
}

impl PendingLogins {
    pub fn shared(shared: Shared) -> Self {
        Self {
            pending: Arc::default(),
            shared: Some(SharedLogins::new(shared)),
        }
    }

    /// Remembers the flow an `auth-start` answer began. Shared logins are
    /// written by the start route alone (with the key that started them),
    /// since only its browser holds the start cookie a callback needs.
    pub fn started(&self, tenant: &str, answer: &str) {
        if self.shared.is_some() {
            return;
        }
        let answer: Value = serde_json::from_str(answer).unwrap_or_default();
        let (Some(state), Some(expires)) =
            (answer["state"].as_str(), answer["expires_at"].as_u64())
        else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now();
        pending.by_state.retain(|_, login| login.expires > now);
        let mine: Vec<(u64, String)> = pending
            .by_state
            .iter()
            .filter(|(_, login)| login.tenant == tenant)
            .map(|(state, login)| (login.order, state.clone()))
            .collect();
        if mine.len() >= MAX_PENDING_PER_TENANT
            && let Some((_, oldest)) = mine.into_iter().min()
        {
            pending.by_state.remove(&oldest);
        }
        if pending.by_state.len() < MAX_PENDING {
            pending.started += 1;
            let order = pending.started;
            let login = Login {
                tenant: tenant.to_owned(),
                expires,
                order,
                key_id: None,
            };
            pending.by_state.insert(state.to_owned(), login);
        }
    }

    /// Ties the login of `state` to the tenant and the API key that
    /// started it from the start route.
    async fn started_with(
        &self,
        tenant: &str,
        state: &str,
        expires: u64,
        key_id: Option<String>,
    ) -> Result<(), GatewayError> {
        if let Some(shared) = &self.shared {
            let login = LoginRecord {
                tenant: tenant.to_owned(),
                key_id,
                expires,
            };
            return shared.put(state, &login).await;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(login) = pending.by_state.get_mut(state) {
            login.key_id = key_id;
        }
        Ok(())
    }

    /// The tenant that started the flow of `state`, and with which key, once.
    async fn finish(&self, state: &str) -> Result<Option<(String, Option<String>)>, GatewayError> {
        if let Some(shared) = &self.shared {
            return Ok(shared
                .take(state)
                .await?
                .map(|login| (login.tenant, login.key_id)));
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(login) = pending.by_state.remove(state) else {
            return Ok(None);
        };
        Ok((login.expires > unix_now()).then_some((login.tenant, login.key_id)))
    }
}

/// The start cookie for `state`, living as long as the state; `None` for
/// one that ends it.
fn state_cookie(state: Option<&str>, expires_at: u64, secure: bool) -> Option<HeaderValue> {
    let seconds = expires_at.saturating_sub(unix_now());
    let cookie = Cookie::build((STATE_COOKIE, state.unwrap_or_default().to_owned()))
        .http_only(true)
        // Lax: the cookie must come back on Bitbucket's top-level redirect.
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/bitbucket/oauth")
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(seconds).unwrap_or(0),
        ))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Whether the request carries the start cookie of exactly `state`.
fn started_here(headers: &HeaderMap, state: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(|c| c.name() == STATE_COOKIE)
        .any(|c| bool::from(c.value().as_bytes().ct_eq(state.as_bytes())))
}

pub async fn health(State(gateway): State<Gateway>, principal: Principal) -> Response {
    let timestamp = rfc3339_now();
    let body = match gateway.run(&principal, "health", "{}").await {
        Ok(answer) => {
            let report: Value = serde_json::from_str(&answer).unwrap_or_default();
            let healthy = report["status"] == "ok";
            json!({
                "status": if healthy { "healthy" } else { "unhealthy" },
                "timestamp": timestamp,
                "user": report["account"]["display_name"],
                "error": if healthy { Value::Null } else { report["message"].clone() },
                "report": report,
            })
        }
        Err(error) => json!({
            "status": "error",
            "timestamp": timestamp,
            "user": null,
            "error": error.message(),
            "code": error.code(),
        }),
    };
    Json(body).into_response()
}

pub async fn start(
    State(gateway): State<Gateway>,
    Extension(bitbucket): Extension<Bitbucket>,
    principal: Principal,
) -> Result<Response, GatewayError> {
    // Said before the component is asked, so the page can explain it in
    // place rather than show the component's internal error.
    if gateway.live(&principal).tenant.oauth_client.is_none() {
        return Err(GatewayError::Conflict(NOT_CONFIGURED.into()));
    }
    let answer = gateway.run(&principal, "auth-start", "{}").await?;
    let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
    if let Some(state) = answer["state"].as_str() {
        let expires = answer["expires_at"].as_u64().unwrap_or_default();
        bitbucket
            .pending_logins
            .started_with(&principal.tenant, state, expires, principal.key_id.clone())
            .await?;
    }
    let cookie = state_cookie(
        answer["state"].as_str(),
        answer["expires_at"].as_u64().unwrap_or_default(),
        gateway.secure_cookies,
    );
    let body = Json(json!({
        "authorization_url": answer["authorize_url"],
        "state": answer["state"],
        "expires_at": answer["expires_at"],
    }));
    Ok(match cookie {
        Some(cookie) => ([(header::SET_COOKIE, cookie)], body).into_response(),
        None => body.into_response(),
    })
}

/// Forgets the tenant's stored Bitbucket credential; calls fail with
/// `auth_invalid` until it connects again.
pub async fn disconnect(
    State(gateway): State<Gateway>,
    principal: Principal,
) -> Result<Json<Value>, GatewayError> {
    let tenant = gateway.live(&principal).tenant;
    let id = tenant.id.clone();
    let unavailable = || GatewayError::ServiceDown("the credential store did not answer".into());
    tokio::task::spawn_blocking(move || tenant.credentials.remove(&id))
        .await
        .map_err(|_| unavailable())?
        .map_err(|_| unavailable())?;
    // No answer read with the credential may outlive it.
    gateway.forget_tenant(&principal.tenant).await;
    Ok(Json(
        json!({ "connected": false, "tenant": principal.tenant }),
    ))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Bitbucket's redirect, from the browser: the state names the tenant and
/// the start cookie the browser. The browser goes back to the page's
/// Settings, which says how it went.
pub async fn browser_callback(
    State(gateway): State<Gateway>,
    Extension(bitbucket): Extension<Bitbucket>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    match connect_browser(&gateway, &bitbucket, &headers, callback).await {
        Ok(_) => {
            let location = [(header::LOCATION, "/?oauth=connected#settings")];
            match state_cookie(None, 0, gateway.secure_cookies) {
                Some(ended) => (
                    StatusCode::SEE_OTHER,
                    [(header::SET_COOKIE, ended)],
                    location,
                )
                    .into_response(),
                None => (StatusCode::SEE_OTHER, location).into_response(),
            }
        }
        // The code only: the page words it, and nothing of Bitbucket's
        // answer travels in a URL.
        Err(error) => (
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("/?oauth_error={}#settings", error.code()),
            )],
        )
            .into_response(),
    }
}

async fn connect_browser(
    gateway: &Gateway,
    bitbucket: &Bitbucket,
    headers: &HeaderMap,
    callback: Callback,
) -> Result<Json<Value>, GatewayError> {
    if let Some(error) = callback.error {
        return Err(GatewayError::Forbidden(format!(
            "Bitbucket did not grant access: {error} {}",
            callback.error_description.unwrap_or_default()
        )));
    }
    // Checked before the state is used up, so a stranger's try cannot spend
    // the login of the browser that started it.
    let state = callback.state.as_deref().unwrap_or_default();
    if !started_here(headers, state) {
        return Err(GatewayError::Forbidden(
            "this browser did not start this login: start again from the page's Settings".into(),
        ));
    }
    let (tenant, key_id) = bitbucket
        .pending_logins
        .finish(state)
        .await?
        .ok_or_else(|| {
            GatewayError::validation(
                "unknown, used or expired OAuth state: start again from /bitbucket/oauth/start",
            )
        })?;
    if let Some(key_id) = &key_id {
        let active =
            gateway.directory.key_is_active(key_id).await.map_err(|_| {
                GatewayError::ServiceDown("the tenant registry did not answer".into())
            })?;
        if !active {
            return Err(GatewayError::Forbidden(
                "the API key that started this login was revoked or rotated: sign in again".into(),
            ));
        }
    }
    let principal = Principal {
        tenant,
        proof: Proof::OauthState,
        key_id,
    };
    complete(gateway, &principal, callback.code, callback.state).await
}

/// The seed's `POST /bitbucket/oauth/callback` `{code, state}`, by a caller
/// that is already authenticated.
pub async fn posted_callback(
    State(gateway): State<Gateway>,
    Extension(bitbucket): Extension<Bitbucket>,
    principal: Principal,
    body: Bytes,
) -> Result<Json<Value>, GatewayError> {
    let callback: Callback = serde_json::from_slice(&body)
        .map_err(|_| GatewayError::validation("the body must be {\"code\": …, \"state\": …}"))?;
    if let Some(state) = &callback.state {
        bitbucket.pending_logins.finish(state).await?;
    }
    complete(&gateway, &principal, callback.code, callback.state).await
}

async fn complete(
    gateway: &Gateway,
    principal: &Principal,
    code: Option<String>,
    state: Option<String>,
) -> Result<Json<Value>, GatewayError> {
    let params = json!({ "code": code.unwrap_or_default(), "state": state.unwrap_or_default() });
    let status = gateway
        .run(principal, "auth-complete", &params.to_string())
        .await?;
    // The tokens stay in the store; the caller learns what it got.
    Ok(Json(json!({
        "connected": true,
        "tenant": principal.tenant,
        "status": serde_json::from_str::<Value>(&status).unwrap_or_default(),
    })))
}
