//! What the platform around the gateway asks: is it alive (`/healthz`), can
//! it serve (`/readyz`: the tenant registry answers; the component is
//! compiled before the gateway listens), and its metrics. None of them
//! instantiates the component.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use super::Gateway;
use super::principal::bearer;
use super::reply::{Reply, refuse, unauthenticated};

pub async fn healthz() -> Reply {
    Json(json!({ "status": "ok" })).into_response()
}

pub async fn readyz(State(gateway): State<Gateway>) -> Reply {
    match gateway.directory.ready().await {
        Ok(()) => Json(json!({ "ready": true })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "reason": "the tenant registry is unavailable" })),
            )
                .into_response()
        }
    }
}

/// Prometheus text, for the bearer of the operator's metrics token.
pub async fn metrics(State(gateway): State<Gateway>, headers: HeaderMap) -> Reply {
    let Some(token) = &gateway.metrics_token else {
        return refuse(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are off: set ATOM_METRICS_TOKEN for serve",
        );
    };
    let presented = bearer(&headers).unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return unauthenticated("send Authorization: Bearer <ATOM_METRICS_TOKEN>");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        gateway.metrics.render(),
    )
        .into_response()
}
