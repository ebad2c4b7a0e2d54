//! What the platform around the gateway asks: is it alive (`/healthz`), can
//! it serve (`/readyz`: the tenant registry answers, and Redis when the
//! deployment shares state there; the component is
//! compiled before the gateway listens), and its metrics. None of them
//! instantiates the component.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::auth::principal::bearer;
use crate::error::GatewayError;
use crate::state::Gateway;

pub async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(gateway): State<Gateway>) -> Response {
    let reason = match gateway.directory.ready().await {
        Err(error) => {
            tracing::warn!(%error, "not ready: the tenant registry");
            Some("the tenant registry is unavailable")
        }
        Ok(()) => match &gateway.shared {
            Some(shared) if shared.ready().await.is_err() => {
                Some("the shared state (Redis) is unavailable")
            }
            _ => None,
        },
    };
    match reason {
        None => Json(json!({ "ready": true })).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        )
            .into_response(),
    }
}

/// Prometheus text, for the bearer of the operator's metrics token.
pub async fn metrics(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    let Some(token) = &gateway.metrics_token else {
        return Err(GatewayError::NotFound(
            "metrics are off: set ATOM_METRICS_TOKEN for serve".into(),
        ));
    };
    let presented = bearer(&headers).unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return Err(GatewayError::Unauthenticated(
            "send Authorization: Bearer <ATOM_METRICS_TOKEN>".into(),
        ));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        gateway.metrics.render(),
    )
        .into_response())
}
