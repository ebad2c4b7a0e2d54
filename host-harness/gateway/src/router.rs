//! The route table and the two layers every request passes: the screen
//! (Host, Origin, content type) for all, authentication for the tenants'
//! routes. The one place the generic gateway and the Bitbucket module meet.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::auth::directory::KeyVerifier;
use crate::auth::guard;
use crate::auth::principal::{self, Principal, Proof};
use crate::bitbucket::{self, Bitbucket};
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::openapi;
use crate::probes;
use crate::routes::{atom, mcp, v1};
use crate::shared::Fanout;
use crate::state::Gateway;
use atom_runtime::{Sandbox, Tenant};
use atom_store::WaitBook;

/// The gateway's routes. `keys` decides who a caller is; `template` gives
/// every tenant its settings and the credential store; `waits` keeps what
/// the gateway waits for on tenants' behalf (merge when green).
pub fn router(
    sandbox: Sandbox,
    keys: Arc<dyn KeyVerifier>,
    template: Tenant,
    config: GatewayConfig,
    waits: Option<Arc<dyn WaitBook>>,
) -> Router {
    let fanout = config.shared.clone().map(Fanout::start);
    let bitbucket = Bitbucket::new(
        config.forward_events_to.clone(),
        config.max_streams_per_tenant,
        waits.map(|book| (book, config.merge_poll_every)),
        config.shared.clone().zip(fanout.clone()),
    );
    let gateway = Gateway::new(
        sandbox,
        keys,
        template,
        &config,
        vec![bitbucket.hooks()],
        fanout,
    );
    bitbucket.start_waits(&gateway);
    let operator = match config.operator.clone() {
        Some(operator) => operator.routes(),
        None => Router::new(),
    };
    Router::new()
        .route("/v1/capabilities", get(v1::capabilities))
        .route("/v1/operations", get(v1::operations))
        .route("/v1/operations/{operation}", post(v1::execute))
        .route(
            "/v1/tenants/{tenant}/operations/{operation}",
            post(v1::execute_for_tenant),
        )
        .route(
            "/v1/session",
            post(v1::open_session)
                .get(v1::read_session)
                .delete(v1::close_session),
        )
        .route("/atom/v1/capabilities", get(atom::capabilities))
        .route("/atom/v1/health", get(atom::health))
        .route("/atom/v1/operations", get(atom::operations))
        .route("/atom/v1/execute", post(atom::execute))
        .route_service("/mcp", mcp::service(&gateway, bitbucket.mcp()))
        .merge(bitbucket.routes())
        .layer(middleware::from_fn_with_state(
            gateway.clone(),
            authenticate,
        ))
        // Probes answer the platform, not tenants: no tenant key (metrics
        // want the operator's token), still behind the Host check.
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        // The operator's own credential, never a tenant's.
        .merge(operator)
        .route(
            "/openapi.json",
            get(|State(gateway): State<Gateway>| async move {
                openapi::document(&gateway, bitbucket::describe_routes).await
            }),
        )
        // The page is static; what it shows needs a session.
        .merge(bitbucket::page_routes())
        .layer(middleware::from_fn_with_state(gateway.clone(), screen))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(config.body_timeout))
        .with_state(gateway)
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

/// Finds the caller: a bearer key (which must be valid: a bad key is never
/// passed over for a cookie), else a session cookie with, on state-changing
/// requests, its CSRF token.
async fn authenticate(
    State(gateway): State<Gateway>,
    mut request: Request,
    next: Next,
) -> Response {
    // Bitbucket's own calls carry their proof in the request itself.
    if bitbucket::proves_itself(&request) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let principal = match principal::bearer(headers) {
        Some(key) => match gateway.directory.verify(key).await {
            Ok(Some(tenant)) => Principal {
                tenant,
                proof: Proof::ApiKey,
                key_id: atom_store::key_id(key).map(str::to_owned),
            },
            Ok(None) => {
                gateway.metrics.refused("unauthenticated");
                return refuse(
                    &request,
                    GatewayError::Unauthenticated("the API key is not valid or was revoked".into()),
                );
            }
            Err(error) => {
                tracing::error!(%error, "checking an API key");
                return refuse(
                    &request,
                    GatewayError::ServiceDown("the tenant registry is unavailable".into()),
                );
            }
        },
        None => match gateway.sessions.find(headers, &gateway.directory).await {
            Ok(Some(principal)) => principal,
            Err(error) => return refuse(&request, error),
            // Whether a session exists is the question itself: the page asks on load.
            Ok(None)
                if request.method() == Method::GET && request.uri().path() == "/v1/session" =>
            {
                return Json(json!({ "tenant": null, "csrf_token": null })).into_response();
            }
            Ok(None) => {
                gateway.metrics.refused("unauthenticated");
                return refuse(
                    &request,
                    GatewayError::Unauthenticated(
                        "send Authorization: Bearer <API key> (`atom-harness tenants add` makes one)"
                            .into(),
                    ),
                );
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

/// A refusal in the shape the caller's route family speaks: ATOM's routes
/// answer only in ATOM's envelopes.
fn refuse(request: &Request, error: GatewayError) -> Response {
    let path = request.uri().path();
    if path.starts_with("/atom/v1/") {
        atom::turned_away(path, request.headers(), &error)
    } else {
        error.into_response()
    }
}
