//! Webhook intake: `POST /bitbucket/webhooks/{tenant}`, where Bitbucket
//! delivers a tenant's events. No API key comes with a delivery; the
//! signature does: the component verifies `X-Hub-Signature` on the raw body
//! with the tenant's webhook secret (`atom-harness tenants webhook-secret`),
//! sealed in the credential store. The signature covers the body only, so a
//! replay is a body accepted before (whatever its unsigned headers say), and
//! the unsigned `X-Event-Key` must name what the body is about. Verifying
//! sends nothing upstream and takes nothing from the tenant's budget; nothing
//! is remembered of a delivery until its signature holds. An accepted event
//! goes to the tenant's listeners on `GET /bitbucket/events` (server-sent
//! events), to the operator's forward URL if one is set, and makes the cache
//! forget the repository it is about.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt as _};
use moka::sync::Cache;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use super::Bitbucket;
use crate::auth::principal::{Principal, Proof};
use crate::error::GatewayError;
use crate::metrics::ReasonLabel;
use crate::server::{Held, HeldSlot};
use crate::shared::{Fanout, Published, Shared, SharedReplay};
use crate::state::Gateway;
use atom_runtime::StoreError;
use atom_runtime::host_types::CredentialSecret;

/// Where a tenant's webhook secret is sealed: an id no tenant name can take
/// (names have no `/`), bound to the tenant like its credential.
pub fn secret_id(tenant: &str) -> String {
    format!("{tenant}/webhook-secret")
}

/// Deliveries remembered against replay: Bitbucket retries within hours.
const REMEMBERED_FOR: Duration = Duration::from_secs(24 * 3600);
const REMEMBERED_AT_MOST: u64 = 100_000;
/// Events a slow listener may fall behind by before it skips some.
const BACKLOG: usize = 256;

/// One accepted event, for one tenant's listeners.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub tenant: String,
    pub event: Arc<Value>,
    /// Accepted by this replica (not relayed from another): only the
    /// replica that accepted an event forwards it, so ATOM gets it once.
    pub here: bool,
}

#[derive(Clone)]
pub struct Intake {
    /// Accepted deliveries: the tenant and the SHA-256 of the signed body.
    seen: Cache<(String, [u8; 32]), ()>,
    /// Makes look-up-then-remember one step: moka's `entry().or_insert()`
    /// let two of 64 identical deliveries racing each other through under
    /// load, and a replay must be accepted once.
    remembering: Arc<Mutex<()>>,
    events: broadcast::Sender<Delivered>,
    /// The deployment's replay set and fan-out, when replicas share them.
    shared: Option<(SharedReplay, Fanout)>,
}

impl Default for Intake {
    fn default() -> Self {
        Self {
            seen: Cache::builder()
                .time_to_live(REMEMBERED_FOR)
                .max_capacity(REMEMBERED_AT_MOST)
                .build(),
            remembering: Arc::default(),
            events: broadcast::channel(BACKLOG).0,
            shared: None,
        }
    }
}

impl Intake {
    /// Replays are refused across the deployment, and an event accepted by
    /// any replica reaches this one's listeners.
    pub fn shared(shared: Shared, fanout: Fanout) -> Self {
        let replica = shared.replica().to_owned();
        let intake = Self {
            shared: Some((SharedReplay::new(shared), fanout.clone())),
            ..Self::default()
        };
        tokio::spawn(relay(fanout.subscribe(), intake.events.clone(), replica));
        intake
    }

    /// Whether no replica accepted this delivery before; remembers it.
    async fn first_time(&self, tenant: &str, body: &str) -> Result<bool, GatewayError> {
        let digest: [u8; 32] = Sha256::digest(body.as_bytes()).into();
        if let Some((replay, _)) = &self.shared {
            return replay
                .first_time(tenant, &hex(&digest), REMEMBERED_FOR)
                .await;
        }
        // One step decides among identical deliveries arriving together.
        let key = (tenant.to_owned(), digest);
        let _one_at_a_time = self
            .remembering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let first = !self.seen.contains_key(&key);
        if first {
            self.seen.insert(key, ());
        }
        Ok(first)
    }

    /// Hands an accepted event to every listener of the deployment.
    async fn announce(&self, delivered: Delivered, body: &str) -> Result<(), GatewayError> {
        let Some((replay, fanout)) = &self.shared else {
            // No listener is not an error: the event was still received.
            let _ = self.events.send(delivered);
            return Ok(());
        };
        let published = Published::Event {
            tenant: delivered.tenant.clone(),
            event: delivered.event,
            origin: replay.replica().to_owned(),
        };
        if let Err(error) = fanout.publish(&published).await {
            // Not acknowledged, so Bitbucket sends it again: that retry
            // must not be refused as a replay.
            let digest: [u8; 32] = Sha256::digest(body.as_bytes()).into();
            if replay
                .forget(&delivered.tenant, &hex(&digest))
                .await
                .is_err()
            {
                tracing::error!("a delivery that was not announced stays marked as seen");
            }
            return Err(error);
        }
        Ok(())
    }
}

/// Events any replica accepted, to this replica's listeners.
async fn relay(
    mut published: broadcast::Receiver<Published>,
    events: broadcast::Sender<Delivered>,
    replica: String,
) {
    use broadcast::error::RecvError;
    loop {
        match published.recv().await {
            Ok(Published::Event {
                tenant,
                event,
                origin,
            }) => {
                let here = origin == replica;
                let _ = events.send(Delivered {
                    tenant,
                    event,
                    here,
                });
            }
            Ok(_) => {}
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "this replica's listeners missed events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Intake {
    pub fn subscribe(&self) -> broadcast::Receiver<Delivered> {
        self.events.subscribe()
    }
}

pub async fn deliver(
    State(gateway): State<Gateway>,
    Extension(bitbucket): Extension<Bitbucket>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = accept(&gateway, &bitbucket.intake, &tenant, &headers, &body).await;
    let reason = match &outcome {
        Ok(_) => "accepted",
        Err(GatewayError::Conflict(_)) => "replayed",
        Err(_) => "refused",
    };
    gateway
        .metrics
        .webhook_deliveries
        .get_or_create(&ReasonLabel { reason })
        .inc();
    match outcome {
        Ok(event) => {
            Json(json!({ "accepted": true, "event_key": event["event_key"] })).into_response()
        }
        Err(error) => error.into_response(),
    }
}

async fn accept(
    gateway: &Gateway,
    intake: &Intake,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<Value>, GatewayError> {
    let body =
        std::str::from_utf8(body).map_err(|_| GatewayError::validation("the body is not UTF-8"))?;
    let secret = webhook_secret(gateway, tenant)
        .await?
        .ok_or_else(|| GatewayError::NotFound("no webhook intake for that tenant".into()))?;

    let principal = Principal {
        tenant: tenant.to_owned(),
        proof: Proof::WebhookSignature,
        key_id: None,
    };
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let delivery = json!({ "headers": headers, "body": body, "secret": secret });
    let event = gateway
        .run_local(&principal, "verify-webhook-delivery", &delivery.to_string())
        .await
        .map_err(|error| match error.code() {
            "auth_invalid" => GatewayError::BadSignature(error.message()),
            _ => GatewayError::validation(error.message()),
        })?;
    let event: Arc<Value> = Arc::new(serde_json::from_str(&event).unwrap_or_default());
    let event_key = event["event_key"].as_str().unwrap_or_default();
    if !event_key_fits(event_key, &serde_json::from_str(body).unwrap_or_default()) {
        return Err(GatewayError::validation(
            "X-Event-Key does not name what the delivery's body is about",
        ));
    }
    if !intake.first_time(tenant, body).await? {
        return Err(GatewayError::Conflict(
            "this delivery was accepted before".into(),
        ));
    }

    if let (Some(cache), Some((workspace, slug))) = (
        &gateway.cache,
        event["repository"].as_str().and_then(|r| r.split_once('/')),
    ) {
        cache.forget_repository(tenant, workspace, slug);
    }
    let delivered = Delivered {
        tenant: tenant.to_owned(),
        event: event.clone(),
        here: true,
    };
    intake.announce(delivered, body).await?;
    Ok(event)
}

/// What a body must carry for the event key it came with: the header is not
/// signed, so a delivery cannot be passed off as another kind of event
/// (a pull request's as an issue's, a push as a repository update).
fn event_key_fits(event_key: &str, body: &Value) -> bool {
    const SUBJECTS: [&str; 5] = ["pullrequest", "issue", "push", "commit_status", "pipeline"];
    let (category, action) = event_key.split_once(':').unwrap_or((event_key, ""));
    let wanted = match (category, action) {
        ("pullrequest" | "issue" | "pipeline", _) => Some(category),
        ("repo", "push") => Some("push"),
        ("repo", action) if action.starts_with("commit_status_") => Some("commit_status"),
        _ => None,
    };
    SUBJECTS.iter().all(|&subject| {
        body.get(subject).is_some_and(|v| !v.is_null()) == (wanted == Some(subject))
    })
}

/// The tenant's webhook secret, if it is registered and has one.
async fn webhook_secret(gateway: &Gateway, tenant: &str) -> Result<Option<String>, GatewayError> {
    let down = || GatewayError::ServiceDown("the credential store did not answer".into());
    if !gateway
        .directory
        .is_active(tenant)
        .await
        .map_err(|_| down())?
    {
        return Ok(None);
    }
    let credentials = gateway.directory.credentials();
    let id = secret_id(tenant);
    let stored = tokio::task::spawn_blocking(move || credentials.get(&id))
        .await
        .map_err(|_| down())?
        .map_err(|error| match error {
            StoreError::Unavailable(_) => down(),
            // A secret no key opens: the delivery cannot be checked.
            _ => GatewayError::NotFound("no webhook intake for that tenant".into()),
        })?;
    Ok(match stored.map(|c| c.secret) {
        Some(CredentialSecret::AccessToken(secret)) => Some(secret),
        _ => None,
    })
}

/// How often an idle event stream writes, which is also when a stream whose
/// client left is noticed and its slot freed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /bitbucket/events`: the caller's tenant's events as they arrive.
/// A tenant at its cap of open streams is refused (429) rather than left to
/// hold every connection the gateway has.
pub async fn events(
    Extension(bitbucket): Extension<Bitbucket>,
    principal: Principal,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, GatewayError> {
    let slot = bitbucket.streams.open(&principal.tenant)?;
    let tenant = principal.tenant;
    let stream = BroadcastStream::new(bitbucket.intake.subscribe()).filter_map(move |delivered| {
        // The stream holds its slot until the client goes away.
        let _held = &slot;
        let event = match delivered {
            Ok(delivered) if delivered.tenant == tenant => Some(
                Event::default()
                    .event(delivered.event["event_key"].as_str().unwrap_or("event"))
                    .data(delivered.event.to_string()),
            ),
            Ok(_) => None,
            // A listener that fell behind is told so, then goes on.
            Err(_) => Some(Event::default().event("lagged").data("{}")),
        };
        std::future::ready(event.map(Ok))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Event streams open per tenant.
#[derive(Clone)]
pub struct EventStreams(Held<String>);

impl EventStreams {
    pub fn new(per_tenant: usize) -> Self {
        Self(Held::new(per_tenant))
    }

    fn open(&self, tenant: &str) -> Result<HeldSlot<String>, GatewayError> {
        self.0
            .take(tenant.to_owned())
            .ok_or_else(|| GatewayError::RateLimited {
                message: format!(
                    "this tenant already has {} event streams open; close one first",
                    self.0.cap()
                ),
                // A stream whose client left is noticed at its next keep-alive.
                retry_after_seconds: KEEP_ALIVE.as_secs(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_key_must_name_what_the_body_is_about() {
        let pull_request = json!({ "pullrequest": { "id": 1 }, "repository": {} });
        assert!(event_key_fits("pullrequest:created", &pull_request));
        assert!(!event_key_fits("issue:created", &pull_request));
        assert!(!event_key_fits("repo:updated", &pull_request));
        let push = json!({ "push": { "changes": [] }, "repository": {} });
        assert!(event_key_fits("repo:push", &push));
        assert!(!event_key_fits("pullrequest:created", &push));
        assert!(event_key_fits("repo:updated", &json!({ "repository": {} })));
    }
}
