//! Merge when green: a tenant asks once, and the pull request is merged
//! when its builds are green and it has the approvals its branch's rules
//! require, or the wait ends with its reason (a failed build, a change
//! request, the deadline). The component decides, one look at a time
//! (`merge-pull-request-if-green`); this keeps the waits in the store and
//! looks again when a verified delivery says the pull request or a build on
//! its repository changed, and on a slow poll in case a delivery never
//! comes. Nothing is held while waiting: no sandbox instance, no connection,
//! no task per wait; a restarted gateway finds its waits in the store and
//! looks at each at once.
//!
//! Routes: `POST …/pull-requests/{id}/merge-when-green` asks (and looks
//! once right away), `GET /bitbucket/merge-waits[/{id}]` lists or reads the
//! tenant's waits, `DELETE /bitbucket/merge-waits/{id}` cancels one.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast::{self, error::RecvError};

use super::seed::failed;
use super::webhooks::Delivered;
use crate::auth::principal::{Principal, Proof};
use crate::error::GatewayError;
use crate::state::Gateway;
use atom_runtime::unix_now;
use atom_store::{Added, NewWait, Wait, WaitBook, WaitState};

/// The store's name for these waits.
pub const KIND: &str = "merge-when-green";
/// The component's one look.
const LOOK: &str = "merge-pull-request-if-green";
/// A wait lasts a day unless asked otherwise, a week at most.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(24 * 3600);
const LONGEST_DEADLINE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long one look may take before another gateway may look instead:
/// longer than a call's deadline and a merge's polling together.
const LOOK_CLAIM: Duration = Duration::from_secs(120);
/// The fields of `merge-pull-request` a wait passes on.
const MERGE_FIELDS: [&str; 3] = ["strategy", "message", "close_source_branch"];

#[derive(Clone)]
pub struct MergeWaits {
    book: Arc<dyn WaitBook>,
    poll_every: Duration,
}

impl MergeWaits {
    pub fn new(book: Arc<dyn WaitBook>, poll_every: Duration) -> Self {
        Self { book, poll_every }
    }

    /// Looks at every wait now and on each poll, and at a repository's
    /// waits whenever a delivery about it is accepted.
    pub fn start(&self, gateway: Gateway, mut deliveries: broadcast::Receiver<Delivered>) {
        let waits = self.clone();
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(waits.poll_every);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = poll.tick() => waits.look_at_all(&gateway, |_| true).await,
                    delivered = deliveries.recv() => match delivered {
                        Ok(delivered) => {
                            let Some(woken) = Woken::by(&delivered) else { continue };
                            waits.look_at_all(&gateway, |wait| woken.wakes(wait)).await;
                        }
                        // Deliveries were missed: any wait may have changed.
                        Err(RecvError::Lagged(_)) => waits.look_at_all(&gateway, |_| true).await,
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
    }

    async fn look_at_all(&self, gateway: &Gateway, wanted: impl Fn(&Wait) -> bool) {
        let book = self.book.clone();
        let waiting = match tokio::task::spawn_blocking(move || book.waiting()).await {
            Ok(Ok(waiting)) => waiting,
            Ok(Err(error)) => {
                tracing::warn!(%error, "merge waits could not be read");
                return;
            }
            Err(_) => return,
        };
        for wait in waiting.into_iter().filter(|w| w.kind == KIND && wanted(w)) {
            let (waits, gateway) = (self.clone(), gateway.clone());
            // Each look is a call of its own; a slow one delays no other.
            tokio::spawn(async move { waits.look(&gateway, &wait.id).await });
        }
    }

    /// One look at wait `id`, unless one is under way; answers the wait as
    /// it stands after, and the error that ended it if one did.
    async fn look(&self, gateway: &Gateway, id: &str) -> Option<(Wait, Option<GatewayError>)> {
        let wait = self.read(id).await?;
        if wait.state != WaitState::Waiting {
            return Some((wait, None));
        }
        // A delivery and the poll may arrive together, and other gateways
        // on the same store may be looking too: one look at a time.
        if !self.claim(id).await {
            return None;
        }
        let (state, outcome, error) = self.decide(gateway, &wait).await;
        let book = self.book.clone();
        let id = id.to_owned();
        let written = tokio::task::spawn_blocking(move || {
            let text = outcome.to_string();
            match state {
                WaitState::Waiting => book.checked(&id, &text).map(|()| true),
                finished => book.finish(&id, finished, &text),
            }
            .and_then(|_| book.get(&id))
        })
        .await;
        match written {
            Ok(Ok(Some(after))) => {
                if after.state != WaitState::Waiting {
                    tracing::info!(
                        tenant = %after.tenant,
                        wait = %after.id,
                        subject = %after.subject,
                        state = after.state.as_str(),
                        "merge when green finished"
                    );
                }
                Some((after, error))
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "a merge wait could not be written");
                None
            }
            _ => None,
        }
    }

    /// The wait once a look under way has written it (or as it stands
    /// after a few seconds): checked more than `checks` times, or finished.
    async fn after_look(&self, id: &str, checks: u32) -> Option<Wait> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let wait = self.read(id).await?;
            let looked = wait.checks > checks || wait.state != WaitState::Waiting;
            if looked || tokio::time::Instant::now() >= deadline {
                return Some(wait);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn claim(&self, id: &str) -> bool {
        let (book, id) = (self.book.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || book.claim(&id, LOOK_CLAIM.as_secs()))
            .await
            .is_ok_and(|claimed| claimed.unwrap_or(false))
    }

    async fn read(&self, id: &str) -> Option<Wait> {
        let (book, id) = (self.book.clone(), id.to_owned());
        tokio::task::spawn_blocking(move || book.get(&id))
            .await
            .ok()?
            .ok()?
    }

    /// What one look makes of the wait: still waiting, or how it ends.
    async fn decide(
        &self,
        gateway: &Gateway,
        wait: &Wait,
    ) -> (WaitState, Value, Option<GatewayError>) {
        if unix_now() > wait.deadline {
            let outcome =
                json!({ "reason": "the deadline passed before the pull request was ready" });
            return (WaitState::Expired, outcome, None);
        }
        if let Some(key_id) = &wait.key_id
            && !gateway
                .directory
                .key_is_active(key_id)
                .await
                .unwrap_or(true)
        {
            let outcome = json!({ "reason": "the API key that asked was revoked or rotated" });
            return (WaitState::Cancelled, outcome, None);
        }
        let principal = Principal {
            tenant: wait.tenant.clone(),
            proof: Proof::Wait,
            key_id: wait.key_id.clone(),
        };
        match gateway.run(&principal, LOOK, &wait.request).await {
            Ok(answer) => {
                let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
                (state_of(&answer), answer, None)
            }
            Err(error) => {
                let outcome = json!({ "error": error.details() });
                if waiting_helps(&error) {
                    (WaitState::Waiting, outcome, None)
                } else {
                    (WaitState::Ended, outcome, Some(error))
                }
            }
        }
    }
}

/// How a look's answer leaves the wait. A pull request found merged is
/// what was waited for, whoever merged it (an earlier look whose answer was
/// lost, say).
fn state_of(answer: &Value) -> WaitState {
    match answer["verdict"].as_str() {
        Some("merged") => WaitState::Done,
        Some("ended") if answer["blockers"] == json!(["merged_already"]) => WaitState::Done,
        Some("ended") => WaitState::Ended,
        _ => WaitState::Waiting,
    }
}

/// An error a later look may not meet: the budget, a busy upstream, a
/// merge whose answer was lost (the next look reads whether it happened).
fn waiting_helps(error: &GatewayError) -> bool {
    error.retryable()
        || matches!(
            error.code(),
            "outcome_unknown" | "timeout" | "unavailable" | "overloaded" | "rate_limited"
        )
}

/// Which waits a delivery may have changed: its repository's, and when it
/// is about a pull request, that pull request's only.
struct Woken {
    repository: String,
    pull_request: Option<u64>,
}

impl Woken {
    fn by(delivered: &Delivered) -> Option<Self> {
        let event = &delivered.event;
        let key = event["event_key"].as_str()?;
        let about_builds = key.starts_with("repo:commit_status_");
        if !about_builds && !key.starts_with("pullrequest:") {
            return None;
        }
        Some(Woken {
            repository: format!(
                "{}/{}",
                delivered.tenant,
                event["repository"].as_str()?.to_ascii_lowercase()
            ),
            pull_request: if about_builds {
                None
            } else {
                event["pull_request"]["id"].as_u64()
            },
        })
    }

    fn wakes(&self, wait: &Wait) -> bool {
        let Some((repository, id)) = wait.subject.rsplit_once('#') else {
            return false;
        };
        format!("{}/{repository}", wait.tenant) == self.repository
            && self.pull_request.is_none_or(|pr| pr.to_string() == id)
    }
}

/// `workspace/repo#id`, lower-cased as Bitbucket's URLs are insensitive.
fn subject(workspace: &str, repo_slug: &str, id: u64) -> String {
    format!("{workspace}/{repo_slug}#{id}").to_ascii_lowercase()
}

/// `POST …/pull-requests/{id}/merge-when-green` with an optional body
/// `{strategy, message, close_source_branch, deadline_minutes}`: 201 and the
/// wait (200 and the existing one when the tenant already waits for this
/// pull request), after one look. A look that fails for good (no such pull
/// request, no permission) answers its error and ends the wait.
pub async fn ask(
    State(gateway): State<Gateway>,
    axum::Extension(bitbucket): axum::Extension<super::Bitbucket>,
    principal: Principal,
    Path((workspace, repo_slug, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let Some(waits) = bitbucket.merge_waits.as_ref() else {
        return failed(&GatewayError::NotFound(
            "merge when green is not set up".into(),
        ));
    };
    let request = match wait_request(&workspace, &repo_slug, &id, &body) {
        Ok(request) => request,
        Err(error) => return failed(&error),
    };
    let new = NewWait {
        tenant: principal.tenant.clone(),
        kind: KIND.into(),
        subject: request.subject,
        request: request.params.to_string(),
        key_id: principal.key_id.clone(),
        deadline: unix_now() + request.deadline.as_secs(),
    };
    let book = waits.book.clone();
    let added = tokio::task::spawn_blocking(move || book.add(&new)).await;
    let (status, wait) = match added {
        Ok(Ok(Added::New(wait))) => (StatusCode::CREATED, wait),
        Ok(Ok(Added::Existing(wait))) => (StatusCode::OK, wait),
        Ok(Err(error)) => return failed(&GatewayError::ServiceDown(error.to_string())),
        Err(_) => {
            return failed(&GatewayError::ServiceDown(
                "the store did not answer".into(),
            ));
        }
    };
    let (wait, error) = match waits.look(&gateway, &wait.id).await {
        Some(looked) => looked,
        // A delivery's look got there first: answer what it found.
        None => match waits.after_look(&wait.id, wait.checks).await {
            Some(wait) => (wait, None),
            None => return failed(&GatewayError::Unavailable("the wait vanished".into())),
        },
    };
    if let Some(error) = error {
        return failed(&error);
    }
    (status, Json(json!({ "wait": view(&wait) }))).into_response()
}

/// `GET /bitbucket/merge-waits`: the tenant's waits, newest first.
pub async fn list(
    axum::Extension(bitbucket): axum::Extension<super::Bitbucket>,
    principal: Principal,
) -> Response {
    let Some(waits) = bitbucket.merge_waits.as_ref() else {
        return Json(json!({ "waits": [] })).into_response();
    };
    let book = waits.book.clone();
    match tokio::task::spawn_blocking(move || book.list(&principal.tenant)).await {
        Ok(Ok(all)) => {
            let items: Vec<Value> = all.iter().filter(|w| w.kind == KIND).map(view).collect();
            Json(json!({ "waits": items })).into_response()
        }
        _ => failed(&GatewayError::ServiceDown(
            "the store did not answer".into(),
        )),
    }
}

/// `GET /bitbucket/merge-waits/{id}`: one of the tenant's waits.
pub async fn get_one(
    axum::Extension(bitbucket): axum::Extension<super::Bitbucket>,
    principal: Principal,
    Path(id): Path<String>,
) -> Response {
    let found = match bitbucket.merge_waits.as_ref() {
        Some(waits) => waits.read(&id).await,
        None => None,
    };
    match found.filter(|w| w.tenant == principal.tenant && w.kind == KIND) {
        Some(wait) => Json(json!({ "wait": view(&wait) })).into_response(),
        None => failed(&GatewayError::NotFound("no such merge wait".into())),
    }
}

/// `DELETE /bitbucket/merge-waits/{id}`: cancels the wait if it still
/// waits, and answers it as it stands (a finished one stays finished).
pub async fn cancel(
    axum::Extension(bitbucket): axum::Extension<super::Bitbucket>,
    principal: Principal,
    Path(id): Path<String>,
) -> Response {
    let Some(waits) = bitbucket.merge_waits.as_ref() else {
        return failed(&GatewayError::NotFound("no such merge wait".into()));
    };
    let book = waits.book.clone();
    let tenant = principal.tenant.clone();
    match tokio::task::spawn_blocking(move || book.cancel(&tenant, &id)).await {
        Ok(Ok(Some(wait))) if wait.kind == KIND => {
            tracing::info!(tenant = %wait.tenant, wait = %wait.id, state = wait.state.as_str(), "merge wait cancelled");
            Json(json!({ "wait": view(&wait) })).into_response()
        }
        Ok(Ok(_)) => failed(&GatewayError::NotFound("no such merge wait".into())),
        _ => failed(&GatewayError::ServiceDown(
            "the store did not answer".into(),
        )),
    }
}

struct WaitRequest {
    subject: String,
    params: Value,
    deadline: Duration,
}

fn wait_request(
    workspace: &str,
    repo_slug: &str,
    id: &str,
    body: &[u8],
) -> Result<WaitRequest, GatewayError> {
    let invalid = |field: &str, message: &str| GatewayError::Validation {
        field: Some(field.into()),
        message: message.into(),
    };
    let id: u64 = id
        .parse()
        .map_err(|_| invalid("id", "a pull request id is a positive whole number"))?;
    let mut fields = match body {
        [] => Map::new(),
        body => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            _ => return Err(GatewayError::validation("the body must be a JSON object")),
        },
    };
    let deadline = match fields.remove("deadline_minutes") {
        None | Some(Value::Null) => DEFAULT_DEADLINE,
        Some(minutes) => minutes
            .as_u64()
            .filter(|m| (1..=LONGEST_DEADLINE.as_secs() / 60).contains(m))
            .map(|m| Duration::from_secs(m * 60))
            .ok_or_else(|| {
                invalid(
                    "deadline_minutes",
                    "deadline_minutes is 1 to 10080 (a week)",
                )
            })?,
    };
    if let Some(unknown) = fields.keys().find(|k| !MERGE_FIELDS.contains(&k.as_str())) {
        return Err(invalid(unknown, &format!("unknown field '{unknown}'")));
    }
    let mut params = json!({ "workspace": workspace, "repo_slug": repo_slug, "id": id });
    params.as_object_mut().expect("an object").extend(fields);
    Ok(WaitRequest {
        subject: subject(workspace, repo_slug, id),
        params,
        deadline,
    })
}

/// A wait as the routes show it: no key id, times in RFC 3339, the last
/// look's answer as JSON.
fn view(wait: &Wait) -> Value {
    let request: Value = serde_json::from_str(&wait.request).unwrap_or_default();
    let last: Value = wait
        .outcome
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    json!({
        "id": wait.id,
        "workspace": request["workspace"],
        "repo_slug": request["repo_slug"],
        "pull_request_id": request["id"],
        "state": wait.state.as_str(),
        "created_on": rfc3339(wait.created_at),
        "updated_on": rfc3339(wait.updated_at),
        "checked_on": wait.checked_at.map(rfc3339),
        "deadline": rfc3339(wait.deadline),
        "checks": wait.checks,
        "blockers": last["blockers"],
        "last": last,
    })
}

fn rfc3339(unix: u64) -> Value {
    OffsetDateTime::from_unix_timestamp(i64::try_from(unix).unwrap_or(i64::MAX))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(tenant: &str, subject: &str) -> Wait {
        Wait {
            id: "w".into(),
            tenant: tenant.into(),
            kind: KIND.into(),
            subject: subject.into(),
            request: "{}".into(),
            key_id: None,
            state: WaitState::Waiting,
            outcome: None,
            checks: 0,
            created_at: 0,
            updated_at: 0,
            checked_at: None,
            deadline: 0,
        }
    }

    fn delivered(tenant: &str, event: Value) -> Delivered {
        Delivered {
            tenant: tenant.into(),
            event: Arc::new(event),
            here: true,
        }
    }

    #[test]
    fn a_build_wakes_its_repositorys_waits_and_a_pull_request_event_only_its_own() {
        let status = delivered(
            "acme",
            json!({"event_key": "repo:commit_status_updated", "repository": "Atom-Labs/Plugin"}),
        );
        let woken = Woken::by(&status).unwrap();
        assert!(woken.wakes(&wait("acme", "atom-labs/plugin#1")));
        assert!(woken.wakes(&wait("acme", "atom-labs/plugin#2")));
        assert!(!woken.wakes(&wait("globex", "atom-labs/plugin#1")));
        assert!(!woken.wakes(&wait("acme", "atom-labs/other#1")));

        let approved = delivered(
            "acme",
            json!({"event_key": "pullrequest:approved", "repository": "atom-labs/plugin", "pull_request": {"id": 2}}),
        );
        let woken = Woken::by(&approved).unwrap();
        assert!(woken.wakes(&wait("acme", "atom-labs/plugin#2")));
        assert!(!woken.wakes(&wait("acme", "atom-labs/plugin#1")));

        let push = delivered(
            "acme",
            json!({"event_key": "repo:push", "repository": "atom-labs/plugin"}),
        );
        assert!(Woken::by(&push).is_none());
    }

    #[test]
    fn found_merged_is_done_and_a_failure_ends() {
        assert_eq!(state_of(&json!({"verdict": "merged"})), WaitState::Done);
        assert_eq!(
            state_of(&json!({"verdict": "ended", "blockers": ["merged_already"]})),
            WaitState::Done
        );
        assert_eq!(
            state_of(&json!({"verdict": "ended", "blockers": ["build_failed"]})),
            WaitState::Ended
        );
        assert_eq!(
            state_of(&json!({"verdict": "waiting", "blockers": ["builds_running"]})),
            WaitState::Waiting
        );
    }

    #[test]
    fn a_request_names_the_field_it_gets_wrong() {
        let error = wait_request("a", "b", "x", b"").err().unwrap();
        assert_eq!(error.details()["field"], "id");
        let error = wait_request("a", "b", "1", br#"{"deadline_minutes": 0}"#)
            .err()
            .unwrap();
        assert_eq!(error.details()["field"], "deadline_minutes");
        let error = wait_request("a", "b", "1", br#"{"force": true}"#)
            .err()
            .unwrap();
        assert_eq!(error.details()["field"], "force");
        let ok = wait_request("A", "B", "7", br#"{"strategy": "squash"}"#).unwrap();
        assert_eq!(ok.subject, "a/b#7");
        assert_eq!(
            ok.params,
            json!({"workspace": "A", "repo_slug": "B", "id": 7, "strategy": "squash"})
        );
    }
}
