//! `/operator/v1/…`: what ATOM's backend (or an operator's tooling) does to
//! the tenant registry without a shell on a gateway host. Every request
//! carries the operator's credential (`Authorization: Bearer`, the
//! `ATOM_OPERATOR_TOKEN` the gateway was started with), never a tenant's
//! key; a request that looks like a browser's (an `Origin`, a cookie,
//! `Sec-Fetch-*`) is refused, so no web page a signed-in operator visits can
//! drive it. Keys and secrets are answered once and never logged.
//!
//! - `POST   /operator/v1/tenants` `{"name"}`: register; 201 with its first key
//! - `GET    /operator/v1/tenants`: every tenant, with its active key count
//! - `DELETE /operator/v1/tenants/{name}`: revoke it and all its keys
//! - `POST   /operator/v1/tenants/{name}/key`: a new key; older ones stop working
//! - `PUT    /operator/v1/tenants/{name}/webhook-secret` `{"secret"?}`: set
//!   the secret its Bitbucket webhooks sign with (made here when omitted,
//!   and then answered once)

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::auth::principal::bearer;
use crate::error::GatewayError;
use atom_runtime::host_types::CredentialSecret;
use atom_runtime::{CredentialStore, StoreError};
use atom_store::{NewApiKey, TenantRegistry, check_name};

/// Shortest operator credential accepted: it guards every tenant.
pub const MIN_TOKEN_CHARS: usize = 32;
/// Shortest webhook secret an operator may set.
const MIN_WEBHOOK_SECRET_CHARS: usize = 16;

/// What the operator routes work on, and who may call them.
#[derive(Clone)]
pub struct Operator {
    token_digest: [u8; 32],
    tenants: Arc<dyn TenantRegistry>,
    credentials: Arc<dyn CredentialStore>,
    /// Where a tenant's webhook secret is sealed (its credential id).
    secret_id: fn(&str) -> String,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Operator { .. }")
    }
}

impl Operator {
    /// Refused for a token too short to guard every tenant, or shaped like a
    /// tenant key: an operator credential must never be one.
    pub fn new(
        token: &str,
        tenants: Arc<dyn TenantRegistry>,
        credentials: Arc<dyn CredentialStore>,
        secret_id: fn(&str) -> String,
    ) -> Result<Self, String> {
        let token = token.trim();
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the operator token must be at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        if atom_store::key_id(token).is_some() {
            return Err("the operator token must not be a tenant API key".into());
        }
        Ok(Self {
            token_digest: Sha256::digest(token.as_bytes()).into(),
            tenants,
            credentials,
            secret_id,
        })
    }

    pub fn routes<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/operator/v1/tenants", post(add).get(list))
            .route("/operator/v1/tenants/{name}", delete(revoke))
            .route("/operator/v1/tenants/{name}/key", post(rotate_key))
            .route(
                "/operator/v1/tenants/{name}/webhook-secret",
                put(set_webhook_secret),
            )
            .layer(middleware::from_fn_with_state(self.clone(), authenticate))
            .with_state(self)
    }

    /// Runs a registry or store call off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Operator) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, GatewayError> {
        let operator = self.clone();
        tokio::task::spawn_blocking(move || call(&operator))
            .await
            .map_err(|_| GatewayError::Unavailable("the registry call did not finish".into()))?
            .map_err(refusal)
    }
}

/// The operator's credential, and no browser.
async fn authenticate(State(operator): State<Operator>, request: Request, next: Next) -> Response {
    if from_a_browser(request.headers()) {
        return GatewayError::Forbidden("the operator API is not for browsers".into())
            .into_response();
    }
    let presented = bearer(request.headers()).unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if !bool::from(digest.ct_eq(&operator.token_digest)) {
        tracing::warn!(path = %request.uri().path(), "operator API: refused a caller without the operator token");
        return GatewayError::Unauthenticated(
            "send Authorization: Bearer <the operator token (ATOM_OPERATOR_TOKEN)>".into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Headers only browsers send (or send on their own).
fn from_a_browser(headers: &HeaderMap) -> bool {
    headers.contains_key(header::ORIGIN)
        || headers.contains_key(header::COOKIE)
        || headers.contains_key("sec-fetch-site")
        || headers.contains_key("sec-fetch-mode")
}

/// A registry refusal as the operator sees it.
fn refusal(error: StoreError) -> GatewayError {
    match error {
        StoreError::NotFound(message) => GatewayError::NotFound(message),
        StoreError::Refused(message) => GatewayError::Conflict(message),
        StoreError::Conflict(_) => GatewayError::Conflict("changed concurrently: try again".into()),
        StoreError::Unavailable(_) | StoreError::Unreadable(_) => {
            GatewayError::ServiceDown("the tenant registry is unavailable".into())
        }
    }
}

fn new_key(status: StatusCode, new: &NewApiKey) -> Response {
    (
        status,
        Json(json!({ "tenant": new.tenant, "api_key": new.key.as_str() })),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    name: String,
}

async fn add(State(operator): State<Operator>, body: Bytes) -> Result<Response, GatewayError> {
    let NewTenant { name } =
        serde_json::from_slice(&body).map_err(|_| GatewayError::Validation {
            field: Some("name".into()),
            message: "the body must be {\"name\": \"<tenant>\"}".into(),
        })?;
    check_name(&name).map_err(|error| GatewayError::Validation {
        field: Some("name".into()),
        message: error.to_string(),
    })?;
    let new = operator
        .blocking(move |operator| operator.tenants.add(&name))
        .await?;
    tracing::info!(tenant = %new.tenant, "operator API: tenant added");
    Ok(new_key(StatusCode::CREATED, &new))
}

async fn list(State(operator): State<Operator>) -> Result<Json<Value>, GatewayError> {
    let tenants = operator
        .blocking(|operator| operator.tenants.list())
        .await?;
    let tenants: Vec<Value> = tenants
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "created_at": t.created_at,
                "revoked_at": t.revoked_at,
                "active_keys": t.active_keys,
            })
        })
        .collect();
    Ok(Json(json!({ "tenants": tenants })))
}

async fn revoke(
    State(operator): State<Operator>,
    Path(name): Path<String>,
) -> Result<Json<Value>, GatewayError> {
    let tenant = name.clone();
    operator
        .blocking(move |operator| operator.tenants.revoke(&tenant))
        .await?;
    tracing::info!(tenant = %name, "operator API: tenant revoked");
    Ok(Json(json!({ "tenant": name, "revoked": true })))
}

async fn rotate_key(
    State(operator): State<Operator>,
    Path(name): Path<String>,
) -> Result<Response, GatewayError> {
    let new = operator
        .blocking(move |operator| operator.tenants.rotate_key(&name))
        .await?;
    tracing::info!(tenant = %new.tenant, "operator API: key rotated");
    Ok(new_key(StatusCode::OK, &new))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WebhookSecret {
    secret: Option<String>,
}

async fn set_webhook_secret(
    State(operator): State<Operator>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, GatewayError> {
    let asked: WebhookSecret = if body.is_empty() {
        WebhookSecret::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| GatewayError::Validation {
            field: Some("secret".into()),
            message: "the body must be {} or {\"secret\": \"<at least 16 characters>\"}".into(),
        })?
    };
    let (secret, made_here) = match asked.secret {
        Some(secret) if secret.trim().chars().count() >= MIN_WEBHOOK_SECRET_CHARS => {
            (secret.trim().to_owned(), false)
        }
        Some(_) => {
            return Err(GatewayError::Validation {
                field: Some("secret".into()),
                message: format!(
                    "a webhook secret has at least {MIN_WEBHOOK_SECRET_CHARS} characters"
                ),
            });
        }
        None => (random_secret()?, true),
    };
    let (tenant, sealed) = (name.clone(), secret.clone());
    operator
        .blocking(move |operator| {
            if !operator.tenants.is_active(&tenant)? {
                return Err(StoreError::NotFound(format!("no active tenant '{tenant}'")));
            }
            let id = (operator.secret_id)(&tenant);
            let version = operator.credentials.get(&id)?.map_or(0, |c| c.version);
            operator
                .credentials
                .replace(&id, version, CredentialSecret::AccessToken(sealed))
                .map(drop)
        })
        .await?;
    tracing::info!(tenant = %name, "operator API: webhook secret set");
    let mut answer = json!({
        "tenant": name,
        "webhook_path": format!("/bitbucket/webhooks/{name}"),
    });
    // Answered only when made here: the caller already has its own.
    if made_here {
        answer["secret"] = json!(secret);
    }
    Ok(Json(answer))
}

fn random_secret() -> Result<String, GatewayError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|_| GatewayError::Unavailable("no randomness for a secret".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
