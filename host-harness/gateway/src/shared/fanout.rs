//! What one replica learns that every replica must act on: an accepted
//! webhook event (for the streams, MCP subscriptions and merge waits held
//! on other replicas) and a write that makes cached reads stale. Sent over
//! Redis pub/sub on `<prefix>:fanout`; each replica hands what arrives,
//! its own messages included, to its local subscribers.
//!
//! Pub/sub keeps nothing: a replica cut off from Redis misses what is sent
//! meanwhile. Its event streams are live views (a client reconnecting reads
//! the state afresh), merge waits are looked at again by their poll, and
//! its cache entries expire within their short TTL.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use super::{Shared, down};
use crate::error::GatewayError;

/// Messages a slow local subscriber may fall behind by.
const BACKLOG: usize = 1024;
/// How long the listener waits before subscribing again after a failure.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Published {
    /// A verified webhook event of `tenant`, accepted by replica `origin`.
    Event {
        tenant: String,
        event: Arc<Value>,
        origin: String,
    },
    /// Everything cached for `tenant` is stale (a write, a disconnect).
    ForgetTenant { tenant: String },
}

/// A broadcast channel that spans the deployment's replicas.
#[derive(Clone)]
pub struct Fanout {
    shared: Shared,
    channel: String,
    local: broadcast::Sender<Published>,
}

impl Fanout {
    /// Starts listening on Redis; messages reach [`Fanout::subscribe`]rs.
    pub fn start(shared: Shared) -> Self {
        let fanout = Self {
            channel: shared.key(&["fanout"]),
            shared,
            local: broadcast::channel(BACKLOG).0,
        };
        tokio::spawn(fanout.clone().listen());
        fanout
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.local.subscribe()
    }

    /// Sends `message` to every replica, this one included.
    pub async fn publish(&self, message: &Published) -> Result<(), GatewayError> {
        let text = serde_json::to_string(message)
            .map_err(|_| GatewayError::Unavailable("a message could not be written".into()))?;
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(text)
            .query_async::<i64>(&mut self.shared.connection())
            .await
            .map(drop)
            .map_err(|error| down("telling the other replicas", &error))
    }

    /// Subscribes, and subscribes again whenever the connection drops.
    async fn listen(self) {
        loop {
            if let Err(error) = self.relay().await {
                tracing::warn!(kind = ?error.kind(), "the fan-out subscription dropped; subscribing again");
            }
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    }

    async fn relay(&self) -> redis::RedisResult<()> {
        let mut pubsub = self.shared.client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        tracing::info!("listening to the other replicas");
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let Ok(text) = message.get_payload::<String>() else {
                continue;
            };
            match serde_json::from_str::<Published>(&text) {
                // No local subscriber is not an error.
                Ok(published) => drop(self.local.send(published)),
                Err(_) => tracing::warn!("an unreadable fan-out message was ignored"),
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "the subscription ended",
        )))
    }
}
