//! The seed's connection routes: health and the OAuth flow.
//!
//! Bitbucket sends the browser back to `GET /bitbucket/oauth/callback`
//! from its own site, so the SameSite=Strict session cookie does not come
//! with it: that one route is not authenticated. Its `state` is: the
//! gateway remembers which tenant started each flow, for as long as the
//! component says the state lives, and lets it complete once, for that
//! tenant only. The component checks the state again against the tenant's
//! own pending logins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Bitbucket;
use crate::auth::principal::{Principal, Proof};
use crate::error::GatewayError;
use crate::routes::rfc3339_now;
use crate::state::Gateway;
use atom_runtime::unix_now;

pub const BROWSER_CALLBACK: &str = "/bitbucket/oauth/callback";

/// Flows waiting for their callback at most; only authenticated tenants
/// start one, so this bounds memory, not access.
const MAX_PENDING: usize = 10_000;

/// OAuth `state` → (tenant, expiry in unix seconds).
#[derive(Clone, Default)]
pub struct PendingLogins {
    pending: Arc<Mutex<HashMap<String, (String, u64)>>>,
}

impl PendingLogins {
    /// Remembers the flow an `auth-start` answer began.
    pub fn started(&self, tenant: &str, answer: &str) {
        let answer: Value = serde_json::from_str(answer).unwrap_or_default();
        let (Some(state), Some(expires)) =
            (answer["state"].as_str(), answer["expires_at"].as_u64())
        else {
            return;
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now();
        pending.retain(|_, (_, expiry)| *expiry > now);
        if pending.len() < MAX_PENDING {
            pending.insert(state.to_owned(), (tenant.to_owned(), expires));
        }
    }

    /// The tenant that started the flow of `state`, once.
    fn finish(&self, state: &str) -> Option<String> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (tenant, expiry) = pending.remove(state)?;
        (expiry > unix_now()).then_some(tenant)
    }
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
    principal: Principal,
) -> Result<Json<Value>, GatewayError> {
    let answer = gateway.run(&principal, "auth-start", "{}").await?;
    let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
    Ok(Json(json!({
        "authorization_url": answer["authorize_url"],
        "state": answer["state"],
        "expires_at": answer["expires_at"],
    })))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Bitbucket's redirect, from the browser: the state names the tenant.
pub async fn browser_callback(
    State(gateway): State<Gateway>,
    Extension(bitbucket): Extension<Bitbucket>,
    Query(callback): Query<Callback>,
) -> Result<Json<Value>, GatewayError> {
    if let Some(error) = callback.error {
        return Err(GatewayError::Forbidden(format!(
            "Bitbucket did not grant access: {error} {}",
            callback.error_description.unwrap_or_default()
        )));
    }
    let tenant = callback
        .state
        .as_deref()
        .and_then(|s| bitbucket.pending_logins.finish(s))
        .ok_or_else(|| {
            GatewayError::validation(
                "unknown, used or expired OAuth state: start again from /bitbucket/oauth/start",
            )
        })?;
    let principal = Principal {
        tenant,
        proof: Proof::OauthState,
    };
    complete(&gateway, &principal, callback.code, callback.state).await
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
        bitbucket.pending_logins.finish(state);
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
