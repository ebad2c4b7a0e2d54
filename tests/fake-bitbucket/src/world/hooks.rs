//! Webhook subscriptions, the events raised for them and the deliveries
//! made.

use serde_json::Value;

/// The 29 event keys of the spec's `webhook_subscription.events` enum.
pub const EVENT_KEYS: [&str; 29] = [
    "repo:push",
    "repo:fork",
    "repo:updated",
    "repo:created",
    "repo:deleted",
    "repo:imported",
    "repo:transfer",
    "repo:commit_comment_created",
    "repo:commit_status_created",
    "repo:commit_status_updated",
    "pullrequest:created",
    "pullrequest:updated",
    "pullrequest:push",
    "pullrequest:approved",
    "pullrequest:unapproved",
    "pullrequest:changes_request_created",
    "pullrequest:changes_request_removed",
    "pullrequest:fulfilled",
    "pullrequest:rejected",
    "pullrequest:comment_created",
    "pullrequest:comment_updated",
    "pullrequest:comment_deleted",
    "pullrequest:comment_resolved",
    "pullrequest:comment_reopened",
    "issue:created",
    "issue:updated",
    "issue:comment_created",
    "project:updated",
    "pipeline:span_created",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookSubject {
    /// A repository's full name.
    Repository(String),
    /// A workspace slug: the hook fires for all its repositories.
    Workspace(String),
}

#[derive(Clone, Debug)]
pub struct Webhook {
    pub uuid: String,
    pub subject: HookSubject,
    pub url: String,
    pub description: String,
    pub active: bool,
    /// Write-only: answers only say `secret_set`.
    pub secret: Option<String>,
    pub events: Vec<String>,
    pub created_at: u64,
}

/// One POST the fake made to a webhook's URL.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub hook_uuid: String,
    pub event_key: String,
    pub url: String,
    /// The request headers as sent, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The exact bytes sent (and signed).
    pub body: String,
    /// The receiver's status code; None when it could not be reached.
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Something that happened in a repository, waiting for delivery.
#[derive(Clone, Debug)]
pub struct Event {
    pub repo: String,
    pub key: &'static str,
    pub payload: Value,
}
