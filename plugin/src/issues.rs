//! Issues: `R/issues[/{id}[/changes]]`. Bitbucket deprecated its issue
//! tracker (sunset 2026-08-20): a disabled tracker (404) or a removed one
//! (410) comes back as `not-found` or `retired-upstream` in Bitbucket's own
//! words, never as an empty list.

pub mod comments;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Links, Text, optional};
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::reconcile::{bbql_text, created_after, created_since, reconcile};
use crate::types::{
    CreateIssueRequest, Issue, IssueKind, IssuePage, IssuePriority, IssueRef, IssueState,
    ListIssuesRequest, UpdateIssueRequest,
};

#[derive(Deserialize)]
pub struct ApiIssue {
    id: Option<u64>,
    title: Option<String>,
    content: Option<Text>,
    state: Option<String>,
    kind: Option<String>,
    priority: Option<String>,
    assignee: Option<ApiAccount>,
    reporter: Option<ApiAccount>,
    votes: Option<u32>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

impl ApiIssue {
    pub fn into_issue(self) -> Issue {
        Issue {
            id: self.id.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            content: self.content.and_then(|c| c.raw).unwrap_or_default(),
            state: parse_state(self.state.as_deref()),
            kind: parse_kind(self.kind.as_deref()),
            priority: parse_priority(self.priority.as_deref()),
            assignee: self.assignee.map(ApiAccount::into_ref),
            reporter: self.reporter.map(ApiAccount::into_ref),
            votes: self.votes.unwrap_or(0),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

/// Bitbucket's names are the wire names, but for "on hold".
fn state_name(state: IssueState) -> String {
    state.wire_name().replace('_', " ")
}

fn parse_state(name: Option<&str>) -> IssueState {
    name.and_then(|n| IssueState::from_wire_name(&n.replace(' ', "_")))
        .unwrap_or(IssueState::New)
}

fn parse_kind(name: Option<&str>) -> IssueKind {
    name.and_then(IssueKind::from_wire_name)
        .unwrap_or(IssueKind::Bug)
}

fn parse_priority(name: Option<&str>) -> IssuePriority {
    name.and_then(IssuePriority::from_wire_name)
        .unwrap_or(IssuePriority::Major)
}

fn issues(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("issues"))
}

fn issue(workspace: &str, repo_slug: &str, id: u64) -> Result<ApiPath, Error> {
    issues(workspace, repo_slug)?.param("id", &id.to_string())
}

pub fn list(upstream: &dyn Upstream, request: ListIssuesRequest) -> Result<IssuePage, Error> {
    let mut clauses = Vec::new();
    if let Some(state) = request.state {
        clauses.push(format!("state = \"{}\"", state_name(state)));
    }
    if let Some(kind) = request.kind {
        clauses.push(format!("kind = \"{}\"", kind.wire_name()));
    }
    if let Some(priority) = request.priority {
        clauses.push(format!("priority = \"{}\"", priority.wire_name()));
    }
    let mut page = request.page.clone().unwrap_or_else(page::first_page);
    if let Some(q) = page.q.take().filter(|q| !q.trim().is_empty()) {
        clauses.push(format!("({q})"));
    }
    page.q = (!clauses.is_empty()).then(|| clauses.join(" AND "));
    let endpoint = Endpoint::get(issues(&request.workspace, &request.repo_slug)?);
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        Some(&page),
        Listing::new("issues", &[]),
        ApiIssue::into_issue,
    )?;
    Ok(IssuePage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, r: IssueRef) -> Result<Issue, Error> {
    fetch(upstream, issue(&r.workspace, &r.repo_slug, r.id)?)
}

fn fetch(upstream: &dyn Upstream, path: ApiPath) -> Result<Issue, Error> {
    let found: ApiIssue = upstream.json(&Endpoint::get(path))?;
    Ok(found.into_issue())
}

#[derive(Serialize)]
struct Raw<'a> {
    raw: &'a str,
}

#[derive(Serialize)]
struct AccountId<'a> {
    account_id: &'a str,
}

/// The fields a create or an update sends; absent ones are left out.
#[derive(Serialize)]
struct IssueBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Raw<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<&'static str>,
    /// `Some(None)` unassigns: Bitbucket takes `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    assignee: Option<Option<AccountId<'a>>>,
}

impl<'a> IssueBody<'a> {
    fn new(
        title: Option<&'a str>,
        content: Option<&'a str>,
        kind: Option<IssueKind>,
        priority: Option<IssuePriority>,
        assignee: Option<&'a str>,
    ) -> Result<Self, Error> {
        Ok(Self {
            title: optional("title", title)?,
            content: content.map(|raw| Raw { raw }),
            kind: kind.map(IssueKind::wire_name),
            priority: priority.map(IssuePriority::wire_name),
            // An empty account id unassigns.
            assignee: assignee.map(|id| {
                let id = id.trim();
                (!id.is_empty()).then_some(AccountId { account_id: id })
            }),
        })
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.content.is_none()
            && self.kind.is_none()
            && self.priority.is_none()
            && self.assignee.is_none()
    }
}

/// `{"changes": {"state": {"new": …}}, "message": {"raw": …}}`
#[derive(Serialize)]
struct StateChange<'a> {
    changes: Changes,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Raw<'a>>,
}

#[derive(Serialize)]
struct Changes {
    state: NewValue,
}

#[derive(Serialize)]
struct NewValue {
    new: String,
}

/// Files an issue. Never retried: when its answer is lost, the issue with
/// the same title that the current user reported since the call started is
/// the one it filed.
pub fn create(upstream: &dyn Upstream, request: CreateIssueRequest) -> Result<Issue, Error> {
    let started = OffsetDateTime::now_utc();
    let body = IssueBody::new(
        Some(&request.title),
        request.content.as_deref(),
        request.kind,
        request.priority,
        request.assignee_account_id.as_deref(),
    )?;
    let endpoint = Endpoint::post(issues(&request.workspace, &request.repo_slug)?).json(&body)?;
    let created = upstream
        .json::<ApiIssue>(&endpoint)
        .map(ApiIssue::into_issue);
    reconcile(created, || {
        let title = body.title.unwrap_or_default();
        find_created(upstream, &request, title, started)
    })
}

/// The issue `create` filed, if Bitbucket lists it: reported by the current
/// user since `started`, with the same title; the newest if several.
fn find_created(
    upstream: &dyn Upstream,
    request: &CreateIssueRequest,
    title: &str,
    started: OffsetDateTime,
) -> Result<Option<Issue>, Error> {
    let me: ApiAccount = upstream.json(&Endpoint::get(ApiPath::new("user")))?;
    let reporter = me
        .uuid
        .ok_or_else(|| Error::unavailable("Bitbucket did not say who the current user is", None))?;
    let since = created_since(started)?;
    let q = format!(
        "reporter.uuid = {} AND title = {} AND created_on >= {since}",
        bbql_text(&reporter),
        bbql_text(title)
    );
    let endpoint = Endpoint::get(issues(&request.workspace, &request.repo_slug)?)
        .query("q", q)
        .query("sort", "-created_on")
        .query("pagelen", "10");
    let page: Paginated<ApiIssue> = upstream.json(&endpoint)?;
    Ok(page
        .values
        .into_iter()
        .filter(|issue| created_after(issue.created_on.as_deref(), &since))
        .filter(|issue| issue.title.as_deref().map(str::trim) == Some(title))
        .map(ApiIssue::into_issue)
        .next())
}

/// Changes fields with a PUT and the state through Bitbucket's issue changes
/// (which record who changed it and why), then answers the issue as it is.
pub fn update(upstream: &dyn Upstream, request: UpdateIssueRequest) -> Result<Issue, Error> {
    let body = IssueBody::new(
        request.title.as_deref(),
        request.content.as_deref(),
        request.kind,
        request.priority,
        request.assignee_account_id.as_deref(),
    )?;
    if request.state_message.is_some() && request.state.is_none() {
        return Err(Error::validation(
            "state_message",
            "goes with a new state: give state too",
        ));
    }
    if body.is_empty() && request.state.is_none() {
        return Err(Error::validation(
            "state",
            "nothing to change: give a field or a new state",
        ));
    }
    let path = issue(&request.workspace, &request.repo_slug, request.id)?;
    if !body.is_empty() {
        upstream.send(&Endpoint::put(path.clone()).json(&body)?)?;
    }
    if let Some(state) = request.state {
        let change = StateChange {
            changes: Changes {
                state: NewValue {
                    new: state_name(state),
                },
            },
            message: request
                .state_message
                .as_deref()
                .filter(|m| !m.trim().is_empty())
                .map(|raw| Raw { raw }),
        };
        upstream.send(&Endpoint::post(path.clone().literal("changes")).json(&change)?)?;
    }
    fetch(upstream, path)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    #[test]
    fn state_filters_use_bitbucket_spelling() {
        let script = Script::new().ok(json!({"values": [
            {"id": 5, "title": "Crash", "state": "on hold", "kind": "bug", "priority": "critical"}
        ]}));
        let page = list(
            &script,
            ListIssuesRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                state: Some(IssueState::OnHold),
                kind: None,
                priority: Some(IssuePriority::Critical),
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].state, IssueState::OnHold);
        assert_eq!(page.items[0].priority, IssuePriority::Critical);
        assert_eq!(
            script.sent.borrow()[0].query_string(),
            "pagelen=50&q=state%20%3D%20%22on%20hold%22%20AND%20priority%20%3D%20%22critical%22"
        );
    }

    fn new_issue() -> CreateIssueRequest {
        CreateIssueRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            title: "Crash on \"save\"".into(),
            content: None,
            kind: None,
            priority: None,
            assignee_account_id: None,
        }
    }

    fn just_now() -> String {
        let now = time::OffsetDateTime::now_utc();
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    #[test]
    fn a_lost_create_answers_the_issue_the_current_user_just_filed() {
        let script = Script::new()
            .answer(Err(Error::outcome_unknown("answer cut short")))
            .ok(json!({"uuid": "{ada}", "display_name": "Ada"}))
            .ok(json!({"values": [
                {"id": 12, "title": "Crash on \"save\"", "created_on": just_now()},
                {"id": 4, "title": "Crash on \"save\"", "created_on": "2020-01-01T00:00:00Z"}
            ]}));
        let issue = create(&script, new_issue()).unwrap();
        assert_eq!(issue.id, 12);
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[1].path.as_str(), "/user");
        let query = sent[2].query_string();
        assert!(
            query.starts_with("q=reporter.uuid%20%3D%20%22%7Bada%7D%22%20AND%20title%20%3D%20%22Crash%20on%20%5C%22save%5C%22%22%20AND%20created_on%20%3E%3D%20"),
            "{query}"
        );
        assert!(sent[1..].iter().all(|e| e.method == http::Method::GET));
    }

    #[test]
    fn a_lost_create_stays_unknown_when_nothing_is_found_or_the_lookup_fails() {
        let nothing = Script::new()
            .answer(Err(Error::outcome_unknown("answer cut short")))
            .ok(json!({"uuid": "{ada}"}))
            .ok(json!({"values": []}));
        let unreadable_user = Script::new()
            .answer(Err(Error::outcome_unknown("answer cut short")))
            .answer(Err(Error::unavailable("reset", None)));
        for script in [nothing, unreadable_user] {
            let error = create(&script, new_issue()).unwrap_err();
            assert_eq!(error.code(), "outcome_unknown");
            assert!(!error.retryable());
            let posts = script
                .sent
                .borrow()
                .iter()
                .filter(|e| e.method == http::Method::POST)
                .count();
            assert_eq!(posts, 1);
        }
    }

    #[test]
    fn update_puts_fields_then_posts_the_state_change() {
        let script = Script::new()
            .ok(json!({}))
            .ok(json!({}))
            .ok(json!({"id": 5, "title": "Crash", "state": "resolved"}));
        let issue = update(
            &script,
            UpdateIssueRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 5,
                title: None,
                content: None,
                kind: None,
                priority: None,
                assignee_account_id: Some(String::new()),
                state: Some(IssueState::Resolved),
                state_message: Some("Fixed".into()),
            },
        )
        .unwrap();
        assert_eq!(issue.state, IssueState::Resolved);
        assert_eq!(script.body(0), json!({"assignee": null}));
        assert_eq!(
            script.body(1),
            json!({"changes": {"state": {"new": "resolved"}}, "message": {"raw": "Fixed"}})
        );
        assert_eq!(
            script.sent.borrow()[1].path.as_str(),
            "/repositories/acme/api/issues/5/changes"
        );
    }
}
