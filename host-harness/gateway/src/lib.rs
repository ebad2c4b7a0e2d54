//! The HTTP gateway: the contract over HTTP for hosts that do not embed
//! Wasmtime. One sandbox, the tenants an operator registered; every answer
//! is the component's JSON or `{"error": {...}}` with the HTTP status of
//! its code.
//!
//! Every route needs a caller: `Authorization: Bearer <tenant API key>`, or
//! the session cookie such a key opened (`POST /v1/session`) plus, on
//! anything that changes state, the session's `X-CSRF-Token`.
//!
//! - `GET  /v1/capabilities`, `GET /v1/operations`
//! - `POST /v1/operations/{operation}`: the key's tenant, the params as the body
//! - `POST /v1/tenants/{tenant}/operations/{operation}`: the same, where the
//!   named tenant must be the key's
//! - `POST|GET|DELETE /v1/session`: open (with a key), read, close a browser session
//! - `/atom/v1/…`: ATOM's `IntegrationService` contract (see [`atom`])
//! - `/bitbucket/…`: the routes of ATOM's original integration (see [`seed`],
//!   [`connect`])

// Early answers are `Result<_, Response>` as axum's own extractors' are;
// boxing each would only obscure them.
#![allow(clippy::result_large_err)]

mod admission;
mod atom;
mod budget;
mod cache;
mod calls;
mod connect;
mod directory;
mod error;
mod forward;
mod guard;
mod metrics;
mod openapi;
mod page;
mod principal;
mod probes;
mod seed;
mod server;
mod webhooks;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::Instrument as _;

pub use admission::AdmissionLimits;
pub use directory::KeyVerifier;
pub use guard::HostAllowlist;
pub use server::{ServerLimits, serve, tls_acceptor};
pub use webhooks::secret_id as webhook_secret_id;

use admission::Admission;
use budget::UpstreamBudget;
use cache::ReadCache;
use connect::PendingLogins;
use directory::{Directory, LiveTenant};
use error::GatewayError;
use metrics::Metrics;
use principal::{Principal, Proof, Sessions};
use webhooks::Intake;

use atom_runtime::Sandbox;
use atom_runtime::Tenant;
use atom_runtime::contract::{IntegrationInfo, Operation};
use atom_runtime::wire;

/// What the operator decides about the gateway's front door.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Names the gateway answers to (`Host`, and `Origin` of browser calls).
    pub hosts: HostAllowlist,
    pub admission: AdmissionLimits,
    /// Mark the session cookie `Secure` (the gateway is served over TLS).
    pub secure_cookies: bool,
    pub max_body_bytes: usize,
    /// Time a client gets to send a request's body.
    pub body_timeout: Duration,
    /// Each tenant's upstream requests per hour; `None`: the lowest of the
    /// component's rate-limit hints.
    pub upstream_budget_per_hour: Option<NonZeroU32>,
    /// How long a read's answer is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    pub cache_max_bytes: u64,
    /// The bearer `/metrics` wants; without one, metrics are not served.
    pub metrics_token: Option<String>,
    /// Where accepted webhook events are also POSTed (ATOM's intake).
    pub forward_events_to: Option<hyper::Uri>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            hosts: HostAllowlist::loopback(),
            admission: AdmissionLimits::default(),
            secure_cookies: false,
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(10),
            upstream_budget_per_hour: None,
            cache_ttl: Duration::from_secs(10),
            cache_max_bytes: 64 << 20,
            metrics_token: None,
            forward_events_to: None,
        }
    }
}

#[derive(Clone)]
struct Gateway {
    sandbox: Sandbox,
    directory: Arc<Directory>,
    sessions: Sessions,
    admission: Admission,
    hosts: HostAllowlist,
    secure_cookies: bool,
    discovery: Arc<OnceCell<Arc<Discovery>>>,
    pending_logins: PendingLogins,
    metrics: Arc<Metrics>,
    cache: Option<Arc<ReadCache>>,
    budget: Arc<OnceLock<UpstreamBudget>>,
    budget_per_hour: Option<NonZeroU32>,
    metrics_token: Option<Arc<str>>,
    intake: Intake,
}

/// The gateway's routes. `keys` decides who a caller is; `template` gives
/// every tenant its settings and the credential store.
pub fn router(
    sandbox: Sandbox,
    keys: Arc<dyn KeyVerifier>,
    template: Tenant,
    config: GatewayConfig,
) -> Router {
    let gateway = Gateway {
        directory: Arc::new(Directory::new(keys, template)),
        sessions: Sessions::default(),
        admission: Admission::new(config.admission),
        hosts: config.hosts,
        secure_cookies: config.secure_cookies,
        discovery: Arc::default(),
        pending_logins: PendingLogins::default(),
        metrics: Arc::new(Metrics::new(sandbox.outbound_stats())),
        cache: ReadCache::new(config.cache_ttl, config.cache_max_bytes).map(Arc::new),
        budget: Arc::default(),
        budget_per_hour: config.upstream_budget_per_hour,
        metrics_token: config.metrics_token.map(Arc::from),
        intake: Intake::default(),
        sandbox,
    };
    if let Some(url) = config.forward_events_to {
        tokio::spawn(forward::run(url, gateway.intake.subscribe()));
    }
    Router::new()
        .route("/v1/capabilities", get(capabilities))
        .route("/v1/operations", get(operations))
        .route("/v1/operations/{operation}", post(execute))
        .route(
            "/v1/tenants/{tenant}/operations/{operation}",
            post(execute_for_tenant),
        )
        .route(
            "/v1/session",
            post(open_session).get(read_session).delete(close_session),
        )
        .route("/atom/v1/capabilities", get(atom::capabilities))
        .route("/atom/v1/health", get(atom::health))
        .route("/atom/v1/operations", get(atom::operations))
        .route("/atom/v1/execute", post(atom::execute))
        .route("/bitbucket/events", get(webhooks::events))
        .route("/bitbucket/webhooks/{tenant}", post(webhooks::deliver))
        .route("/bitbucket/health", get(connect::health))
        .route("/bitbucket/oauth/start", get(connect::start))
        .route(
            connect::BROWSER_CALLBACK,
            get(connect::browser_callback).post(connect::posted_callback),
        )
        .merge(seed_routes())
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            authenticate,
        ))
        // Probes answer the platform, not tenants: no tenant key (metrics
        // want the operator's token), still behind the Host check.
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .route("/openapi.json", get(openapi::document))
        // The page is static; what it shows needs a session.
        .route("/", get(page::index))
        .route("/bitbucket", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .layer(middleware::from_fn_with_state(gateway.clone(), screen))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(config.body_timeout))
        .with_state(gateway)
}

fn seed_routes() -> Router<Gateway> {
    seed::ROUTES.iter().fold(Router::new(), |router, route| {
        router.route(&route.full_path(), route.handler())
    })
}

/// Host allowlist, cross-site and content-type checks, before anyone is
/// looked up.
async fn screen(State(gateway): State<Gateway>, request: Request, next: Next) -> Response {
    match guard::check(&gateway.hosts, request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            gateway.metrics.refused("screened");
            refusal.into_response()
        }
    }
}

fn is_bitbucket_calling(request: &Request) -> bool {
    let path = request.uri().path();
    match *request.method() {
        axum::http::Method::GET => path == connect::BROWSER_CALLBACK,
        axum::http::Method::POST => path.starts_with("/bitbucket/webhooks/"),
        _ => false,
    }
}

/// Finds the caller: a bearer key (which must be valid: a bad key is never
/// passed over for a cookie), else a session cookie with, on state-changing
/// requests, its CSRF token.
async fn authenticate(
    State(gateway): State<Gateway>,
    mut request: Request,
    next: Next,
) -> Response {
    // Bitbucket's calls carry their own proof: the OAuth redirect a
    // one-use state (see `connect`), a delivery its signature (`webhooks`).
    if is_bitbucket_calling(&request) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let principal = match principal::bearer(headers) {
        Some(key) => match gateway.directory.verify(key.to_owned()).await {
            Ok(Some(tenant)) => Principal {
                tenant,
                proof: Proof::ApiKey,
            },
            Ok(None) => {
                gateway.metrics.refused("unauthenticated");
                return GatewayError::Unauthenticated(
                    "the API key is not valid or was revoked".into(),
                )
                .into_response();
            }
            Err(error) => {
                tracing::error!(%error, "checking an API key");
                return GatewayError::Unavailable("the tenant registry is unavailable".into())
                    .into_response();
            }
        },
        None => match gateway.sessions.find(headers) {
            Some(principal) => principal,
            // Whether a session exists is the question itself: the page asks on load.
            None if request.method() == axum::http::Method::GET
                && request.uri().path() == "/v1/session" =>
            {
                return Json(json!({ "tenant": null, "csrf_token": null })).into_response();
            }
            None => {
                gateway.metrics.refused("unauthenticated");
                return GatewayError::Unauthenticated(
                    "send Authorization: Bearer <API key> (`atom-harness tenants add` makes one)"
                        .into(),
                )
                .into_response();
            }
        },
    };
    if let Proof::Session { csrf } = &principal.proof
        && !guard::is_safe(request.method())
        && !principal::csrf_matches(csrf, headers)
    {
        gateway.metrics.refused("csrf");
        return GatewayError::Forbidden(
            "a session's state-changing request must carry its X-CSRF-Token".into(),
        )
        .into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn capabilities(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Value>, GatewayError> {
    let discovery = gateway.discovery().await?;
    Ok(Json(wire::capabilities(&discovery.info)))
}

async fn operations(
    State(gateway): State<Gateway>,
    _: Principal,
) -> Result<Json<Value>, GatewayError> {
    let discovery = gateway.discovery().await?;
    Ok(Json(wire::operations(&discovery.operations)))
}

async fn execute(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    Path(operation): Path<String>,
    body: Bytes,
) -> Response {
    gateway
        .execute(&principal, &headers, &operation, &body)
        .await
}

async fn execute_for_tenant(
    State(gateway): State<Gateway>,
    principal: Principal,
    headers: HeaderMap,
    Path((tenant, operation)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if tenant != principal.tenant {
        return GatewayError::Forbidden("this API key does not act for that tenant".into())
            .into_response();
    }
    gateway
        .execute(&principal, &headers, &operation, &body)
        .await
}

/// Trades an API key for a browser session: an HttpOnly cookie and the CSRF
/// token the page sends back on every change.
async fn open_session(
    State(gateway): State<Gateway>,
    principal: Principal,
) -> Result<Response, GatewayError> {
    if principal.proof != Proof::ApiKey {
        return Err(GatewayError::Forbidden(
            "a session is opened with an API key".into(),
        ));
    }
    let opened = gateway
        .sessions
        .open(&principal.tenant, gateway.secure_cookies)
        .ok_or_else(|| GatewayError::Unavailable("no session could be opened".into()))?;
    let mut reply = (
        StatusCode::CREATED,
        Json(json!({ "tenant": principal.tenant, "csrf_token": opened.csrf })),
    )
        .into_response();
    reply
        .headers_mut()
        .insert(header::SET_COOKIE, opened.cookie);
    Ok(reply)
}

async fn read_session(principal: Principal) -> Response {
    let csrf = match &principal.proof {
        Proof::Session { csrf } => Some(csrf.as_str()),
        Proof::ApiKey | Proof::OauthState | Proof::WebhookSignature => None,
    };
    Json(json!({ "tenant": principal.tenant, "csrf_token": csrf })).into_response()
}

async fn close_session(
    State(gateway): State<Gateway>,
    _: Principal,
    headers: HeaderMap,
) -> Response {
    gateway.sessions.close(&headers);
    let mut reply = StatusCode::NO_CONTENT.into_response();
    if let Some(cookie) = principal::expired_cookie(gateway.secure_cookies) {
        reply.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    reply
}

/// What the component says about itself; the same for every tenant and
/// every call, so it is asked once.
struct Discovery {
    info: IntegrationInfo,
    operations: Vec<Operation>,
    /// Each operation's parameter schema, parsed once rather than per request.
    params_schemas: HashMap<String, Value>,
}

impl Discovery {
    fn new(info: IntegrationInfo, operations: Vec<Operation>) -> Self {
        let params_schemas = operations
            .iter()
            .filter_map(|op| {
                let schema = serde_json::from_str(&op.parameters_schema).ok()?;
                Some((op.name.clone(), schema))
            })
            .collect();
        Self {
            info,
            operations,
            params_schemas,
        }
    }
}

/// Now, as RFC 3339 text, for the health answers' timestamps.
fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Gateway {
    fn live(&self, principal: &Principal) -> LiveTenant {
        self.directory
            .live(&principal.tenant, || self.admission.tenant_slots())
    }

    /// Discovery needs no credential and is the same for every tenant: it
    /// runs once, as a tenant no one can call as.
    async fn discovery(&self) -> Result<Arc<Discovery>, GatewayError> {
        let tenant = self.directory.anonymous();
        self.discovery
            .get_or_try_init(|| async {
                Ok(Arc::new(Discovery::new(
                    self.sandbox.capabilities(&tenant).await?,
                    self.sandbox.operations(&tenant).await?,
                )))
            })
            .await
            .cloned()
            .map_err(GatewayError::Component)
    }

    async fn execute(
        &self,
        principal: &Principal,
        headers: &HeaderMap,
        operation: &str,
        body: &[u8],
    ) -> Response {
        let params = match std::str::from_utf8(body) {
            Ok("") => "{}",
            Ok(params) => params,
            Err(_) => {
                return GatewayError::validation("the body is not UTF-8 JSON").into_response();
            }
        };
        let span = tracing::info_span!(
            "call",
            request_id = %atom::request_id(headers),
            tenant = %principal.tenant,
            operation,
        );
        match self
            .run(principal, operation, params)
            .instrument(span)
            .await
        {
            Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer).into_response(),
            Err(error) => error.into_response(),
        }
    }
}
