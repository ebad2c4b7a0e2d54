//! Webhooks: repository (`R/hooks`) and workspace (`/workspaces/{ws}/hooks`)
//! subscriptions, and the verification of a delivery: `X-Hub-Signature:
//! sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::issues::ApiIssue;
use crate::model::{ApiAccount, RepositoryName, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::pipelines::ApiPipeline;
use crate::pullrequests::{ApiComment, ApiPullRequest};
use crate::quote::{bounded, quote};
use crate::types::{
    CreateWebhookRequest, ListWebhooksRequest, PushChange, Webhook, WebhookDelivery, WebhookEvent,
    WebhookEventCategory, WebhookPage, WebhookRef,
};

/// serde quotes the value it refused; this much of its message is kept.
const MAX_SERDE_TEXT: usize = 200;

/// Bitbucket's 29 webhook event keys.
pub const WEBHOOK_EVENTS: [&str; 29] = [
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

#[derive(Deserialize)]
struct ApiWebhook {
    uuid: Option<String>,
    url: Option<String>,
    description: Option<String>,
    #[serde(default)]
    events: Vec<String>,
    active: Option<bool>,
    secret_set: Option<bool>,
    created_at: Option<String>,
}

impl ApiWebhook {
    fn into_webhook(self) -> Webhook {
        Webhook {
            uuid: self.uuid.unwrap_or_default(),
            url: self.url.unwrap_or_default(),
            description: self.description.unwrap_or_default(),
            events: self.events,
            active: self.active.unwrap_or(false),
            secret_set: self.secret_set.unwrap_or(false),
            created_at: self.created_at,
        }
    }
}

#[derive(Serialize)]
struct NewWebhook<'a> {
    url: &'a str,
    events: &'a [String],
    active: bool,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

/// `R/hooks` or `/workspaces/{workspace}/hooks`.
fn hooks(workspace: &str, repo_slug: Option<&str>) -> Result<ApiPath, Error> {
    match repo_slug {
        Some(slug) => Ok(ApiPath::repository(workspace, slug)?.literal("hooks")),
        None => Ok(ApiPath::new("workspaces")
            .param("workspace", workspace)?
            .literal("hooks")),
    }
}

pub fn list(upstream: &dyn Upstream, request: ListWebhooksRequest) -> Result<WebhookPage, Error> {
    let endpoint = Endpoint::get(hooks(&request.workspace, request.repo_slug.as_deref())?);
    let listing = Listing {
        filter: false,
        sort: false,
        ..Listing::new("webhooks", &[])
    };
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        listing,
        ApiWebhook::into_webhook,
    )?;
    Ok(WebhookPage { items, next_cursor })
}

/// Subscribes a URL. Never retried.
pub fn create(upstream: &dyn Upstream, request: CreateWebhookRequest) -> Result<Webhook, Error> {
    let url = required("url", &request.url)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::validation("url", "must be an http(s) URL"));
    }
    if request.events.is_empty() {
        return Err(Error::validation(
            "events",
            "subscribe to at least one event",
        ));
    }
    for (i, event) in request.events.iter().enumerate() {
        if !WEBHOOK_EVENTS.contains(&event.as_str()) {
            return Err(Error::validation(
                &format!("events[{i}]"),
                format!("'{}' is not a Bitbucket event key", quote(event)),
            ));
        }
    }
    // Its length (the spec's 128) is held in `limits`.
    let secret = request.secret.as_deref().filter(|s| !s.is_empty());
    let body = NewWebhook {
        url,
        events: &request.events,
        active: request.active.unwrap_or(true),
        description: request.description.as_deref().unwrap_or("ATOM"),
        secret,
    };
    let endpoint =
        Endpoint::post(hooks(&request.workspace, request.repo_slug.as_deref())?).json(&body)?;
    let created: ApiWebhook = upstream.json(&endpoint)?;
    Ok(created.into_webhook())
}

pub fn delete(upstream: &dyn Upstream, request: WebhookRef) -> Result<WebhookRef, Error> {
    let path =
        hooks(&request.workspace, request.repo_slug.as_deref())?.param("uuid", &request.uuid)?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}

#[derive(Deserialize)]
struct ApiPush {
    #[serde(default)]
    changes: Vec<ApiChange>,
}

#[derive(Deserialize)]
struct ApiChange {
    new: Option<ApiRefState>,
    old: Option<ApiRefState>,
    created: Option<bool>,
    closed: Option<bool>,
    forced: Option<bool>,
    #[serde(default)]
    commits: Vec<Value>,
}

#[derive(Deserialize)]
struct ApiRefState {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    target: Option<crate::model::Hashed>,
}

#[derive(Deserialize)]
struct Payload {
    actor: Option<ApiAccount>,
    repository: Option<RepositoryName>,
    pullrequest: Option<ApiPullRequest>,
    comment: Option<ApiComment>,
    push: Option<ApiPush>,
    pipeline: Option<ApiPipeline>,
    issue: Option<ApiIssue>,
}

/// Verifies and parses one delivery; no upstream request.
pub fn verify(_: &dyn Upstream, request: WebhookDelivery) -> Result<WebhookEvent, Error> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let signed = match request.secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) => {
            let signature = header("x-hub-signature").ok_or_else(|| {
                Error::auth_invalid(
                    "the delivery carries no X-Hub-Signature, but this webhook has a secret",
                )
            })?;
            check_signature(secret, request.body.as_bytes(), &signature)?;
            true
        }
        None => false,
    };
    let event_key = header("x-event-key")
        .ok_or_else(|| Error::validation("headers", "X-Event-Key is missing"))?;
    let raw: Value = serde_json::from_str(&request.body).map_err(|e| {
        Error::validation(
            "body",
            format!("is not JSON: {}", bounded(&e.to_string(), MAX_SERDE_TEXT)),
        )
    })?;
    let payload: Payload = serde_json::from_value(raw.clone()).map_err(|e| {
        Error::validation(
            "body",
            format!(
                "is not a Bitbucket event: {}",
                bounded(&e.to_string(), MAX_SERDE_TEXT)
            ),
        )
    })?;
    let category = match event_key.split(':').next() {
        Some("repo") => WebhookEventCategory::Repository,
        Some("pullrequest") => WebhookEventCategory::PullRequest,
        Some("pipeline") => WebhookEventCategory::Pipeline,
        Some("issue") => WebhookEventCategory::Issue,
        Some("project") => WebhookEventCategory::Project,
        _ => WebhookEventCategory::Other,
    };
    let push_changes = payload
        .push
        .map(|push| {
            push.changes
                .into_iter()
                .map(|c| {
                    let current = c.new.as_ref().or(c.old.as_ref());
                    PushChange {
                        ref_name: current.and_then(|r| r.name.clone()),
                        ref_type: current.and_then(|r| r.kind.clone()),
                        old_hash: c.old.as_ref().and_then(|r| r.target.as_ref()?.hash.clone()),
                        new_hash: c.new.as_ref().and_then(|r| r.target.as_ref()?.hash.clone()),
                        created: c.created.unwrap_or(false),
                        closed: c.closed.unwrap_or(false),
                        forced: c.forced.unwrap_or(false),
                        commit_count: c.commits.len() as u32,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(WebhookEvent {
        event_key,
        category,
        hook_uuid: header("x-hook-uuid"),
        request_uuid: header("x-request-uuid"),
        attempt: header("x-attempt-number").and_then(|a| a.parse().ok()),
        signed,
        actor: payload.actor.map(ApiAccount::into_ref),
        repository: payload.repository.and_then(|r| r.full_name),
        pull_request: payload.pullrequest.map(ApiPullRequest::into_pull_request),
        comment: payload.comment.map(ApiComment::into_comment),
        push_changes,
        pipeline: payload.pipeline.map(ApiPipeline::into_pipeline),
        issue: payload.issue.map(ApiIssue::into_issue),
        payload_json: raw.to_string(),
    })
}

fn check_signature(secret: &str, body: &[u8], header: &str) -> Result<(), Error> {
    let refused = || {
        Error::auth_invalid(
            "the delivery's X-Hub-Signature does not match its body and this webhook's secret",
        )
    };
    let hex_digest = header.strip_prefix("sha256=").ok_or_else(refused)?;
    let expected = hex::decode(hex_digest).map_err(|_| refused())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| refused())?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_vector_and_tampering() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let good = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert!(check_signature("Jefe", b"what do ya want for nothing?", good).is_ok());
        assert!(check_signature("Jefe", b"what do ya want for nothing!", good).is_err());
        assert!(check_signature("jefe", b"what do ya want for nothing?", good).is_err());
        assert!(check_signature("Jefe", b"what do ya want for nothing?", "sha1=abc").is_err());
    }
}
