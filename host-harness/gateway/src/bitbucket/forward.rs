//! Forwarding accepted webhook events to the operator's URL (ATOM's intake),
//! one POST per event, `{"tenant", "event"}`, retried with backoff when the
//! receiver is unreachable or answers 429/5xx. Events are never dropped for
//! a slow receiver without a log line saying how many.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use super::webhooks::Delivered;

const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(url: hyper::Uri, mut events: broadcast::Receiver<Delivered>) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let delivered = match events.recv().await {
            Ok(delivered) if delivered.here => delivered,
            // Another replica accepted it, and forwards it.
            Ok(_) => continue,
            Err(RecvError::Lagged(skipped)) => {
                tracing::warn!(skipped, "the webhook forward fell behind; events skipped");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let body = json!({ "tenant": delivered.tenant, "event": *delivered.event }).to_string();
        forward(&client, &url, &delivered.tenant, body).await;
    }
}

async fn forward(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &hyper::Uri,
    tenant: &str,
    body: String,
) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let request = Request::post(url.clone())
            .header("content-type", "application/json")
            .header("x-atom-tenant", tenant)
            .body(Full::new(Bytes::from(body.clone())));
        let Ok(request) = request else {
            tracing::error!("the forward URL does not make a request");
            return;
        };
        let status = tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|response| response.status());
        match status {
            Some(status) if status.is_success() => return,
            Some(status) if !(status.is_server_error() || status.as_u16() == 429) => {
                tracing::warn!(tenant, %status, "the forward receiver refused an event");
                return;
            }
            _ if attempt < ATTEMPTS => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            _ => tracing::warn!(
                tenant,
                attempts = ATTEMPTS,
                "an event could not be forwarded"
            ),
        }
    }
}
