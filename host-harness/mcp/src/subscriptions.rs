//! Resource subscriptions: which sessions asked to hear that a resource
//! changed (`resources/subscribe` up to 2025-11-25, a `subscriptions/listen`
//! stream from 2026-07-28), and the fan-out when the host learns one did. The host decides what changed (the gateway: a verified webhook
//! delivery); this crate only knows URIs, their templates and sessions.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ErrorData;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, RoleServer, SubscriptionSink};
use serde_json::Value;

/// How many resources one session may watch: enough for an agent's working
/// set, and a bound on what a client can make the server hold.
pub const SUBSCRIPTIONS_PER_SESSION: usize = 256;

/// A subscribed resource as the host's matcher sees it: the family it
/// belongs to and the parts of its URI, decoded (a pull request's
/// `workspace`, `repo_slug` and `id`).
pub struct Subscribed<'a> {
    pub template: &'a str,
    pub params: &'a Value,
}

/// Where an update goes.
#[derive(Clone)]
pub(crate) enum Listener {
    /// A session that sent `resources/subscribe`: a plain notification.
    Session(Peer<RoleServer>),
    /// A `subscriptions/listen` stream: the notification carries its id.
    Stream(SubscriptionSink),
}

impl Listener {
    async fn updated(&self, uri: String) -> Result<(), String> {
        match self {
            Self::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .map_err(|error| error.to_string()),
            Self::Stream(sink) => sink
                .notify_resource_updated(uri)
                .await
                .map_err(|error| error.to_string()),
        }
    }
}

struct Entry {
    /// The session (or listen stream) that asked.
    session: u64,
    tenant: String,
    uri: String,
    template: String,
    params: Value,
    listener: Listener,
}

/// The subscriptions of every session of one server process, shared by its
/// sessions and the host. Cheap to clone.
#[derive(Clone, Default)]
pub struct Subscriptions {
    entries: Arc<Mutex<Vec<Entry>>>,
    sessions: Arc<AtomicU64>,
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriptions")
            .field("entries", &self.lock().len())
            .finish()
    }
}

impl Subscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A number no other session of this process has.
    pub(crate) fn new_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }

    /// `session` of `tenant` wants to hear about `uri`. Subscribing twice to
    /// the same URI is one subscription.
    pub(crate) fn add(
        &self,
        session: u64,
        tenant: &str,
        uri: &str,
        template: &str,
        params: Value,
        listener: Listener,
    ) -> Result<(), ErrorData> {
        let mut entries = self.lock();
        if entries.iter().any(|e| e.session == session && e.uri == uri) {
            return Ok(());
        }
        let held = entries.iter().filter(|e| e.session == session).count();
        if held >= SUBSCRIPTIONS_PER_SESSION {
            return Err(ErrorData::invalid_request(
                format!(
                    "this session already watches {SUBSCRIPTIONS_PER_SESSION} resources; \
                     unsubscribe from one first"
                ),
                None,
            ));
        }
        entries.push(Entry {
            session,
            tenant: tenant.to_owned(),
            uri: uri.to_owned(),
            template: template.to_owned(),
            params,
            listener,
        });
        Ok(())
    }

    pub(crate) fn remove(&self, session: u64, uri: &str) {
        self.lock()
            .retain(|e| !(e.session == session && e.uri == uri));
    }

    /// Forgets everything `session` watched (it ended).
    pub(crate) fn end_session(&self, session: u64) {
        self.lock().retain(|e| e.session != session);
    }

    /// How many subscriptions are held, across sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sends `notifications/resources/updated` to every session of `tenant`
    /// subscribed to a resource `changed` says was changed, once per
    /// subscribed URI, and answers how many were sent. Another tenant's
    /// sessions are never asked about. A session whose client went away is
    /// forgotten.
    pub async fn notify(&self, tenant: &str, changed: impl Fn(&Subscribed<'_>) -> bool) -> usize {
        let due: Vec<(u64, String, Listener)> = self
            .lock()
            .iter()
            .filter(|e| e.tenant == tenant)
            .filter(|e| {
                changed(&Subscribed {
                    template: &e.template,
                    params: &e.params,
                })
            })
            .map(|e| (e.session, e.uri.clone(), e.listener.clone()))
            .collect();
        let mut sent = 0;
        for (session, uri, listener) in due {
            match listener.updated(uri).await {
                Ok(()) => sent += 1,
                Err(error) => {
                    tracing::debug!(%error, "a subscribed session is gone; forgetting it");
                    self.end_session(session);
                }
            }
        }
        sent
    }
}
