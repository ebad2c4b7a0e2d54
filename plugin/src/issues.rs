//! Issues: `R/issues[/{id}[/changes]]`. Bitbucket deprecated its issue
//! tracker (sunset 2026-08-20): a disabled tracker (404) or a removed one
//! (410) comes back as `not-found` or `retired-upstream` in Bitbucket's own
//! words, never as an empty list.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::model::{ApiAccount, Links, Text, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::transport::{Client, Endpoint};
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

const STATES: [(IssueState, &str); 9] = [
    (IssueState::Submitted, "submitted"),
    (IssueState::New, "new"),
    (IssueState::Open, "open"),
    (IssueState::Resolved, "resolved"),
    (IssueState::OnHold, "on hold"),
    (IssueState::Invalid, "invalid"),
    (IssueState::Duplicate, "duplicate"),
    (IssueState::Wontfix, "wontfix"),
    (IssueState::Closed, "closed"),
];
const KINDS: [(IssueKind, &str); 4] = [
    (IssueKind::Bug, "bug"),
    (IssueKind::Enhancement, "enhancement"),
    (IssueKind::Proposal, "proposal"),
    (IssueKind::Task, "task"),
];
const PRIORITIES: [(IssuePriority, &str); 5] = [
    (IssuePriority::Trivial, "trivial"),
    (IssuePriority::Minor, "minor"),
    (IssuePriority::Major, "major"),
    (IssuePriority::Critical, "critical"),
    (IssuePriority::Blocker, "blocker"),
];

fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], value: T) -> &'static str {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("", |(_, name)| name)
}

fn value_of<T: Copy>(table: &[(T, &'static str)], name: Option<&str>, default: T) -> T {
    table
        .iter()
        .find(|(_, n)| Some(*n) == name)
        .map_or(default, |(v, _)| *v)
}

fn parse_state(name: Option<&str>) -> IssueState {
    value_of(&STATES, name, IssueState::New)
}

fn parse_kind(name: Option<&str>) -> IssueKind {
    value_of(&KINDS, name, IssueKind::Bug)
}

fn parse_priority(name: Option<&str>) -> IssuePriority {
    value_of(&PRIORITIES, name, IssuePriority::Major)
}

fn issues(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("issues"))
}

fn issue(r: &IssueRef) -> Result<ApiPath, Error> {
    issues(&r.workspace, &r.repo_slug)?.param("id", &r.id.to_string())
}

pub fn list(request: ListIssuesRequest) -> Result<IssuePage, Error> {
    let mut clauses = Vec::new();
    if let Some(state) = request.state {
        clauses.push(format!("state = \"{}\"", name_of(&STATES, state)));
    }
    if let Some(kind) = request.kind {
        clauses.push(format!("kind = \"{}\"", name_of(&KINDS, kind)));
    }
    if let Some(priority) = request.priority {
        clauses.push(format!("priority = \"{}\"", name_of(&PRIORITIES, priority)));
    }
    let mut page = request.page.clone().unwrap_or(crate::types::PageRequest {
        cursor: None,
        size: None,
        q: None,
        sort: None,
    });
    if let Some(q) = page.q.take().filter(|q| !q.trim().is_empty()) {
        clauses.push(format!("({q})"));
    }
    page.q = (!clauses.is_empty()).then(|| clauses.join(" AND "));
    let client = Client::connect()?;
    let endpoint = Endpoint::get(issues(&request.workspace, &request.repo_slug)?);
    let (items, next_cursor) = page::fetch(
        &client,
        endpoint,
        Some(&page),
        Listing::FULL,
        ApiIssue::into_issue,
    )?;
    Ok(IssuePage { items, next_cursor })
}

pub fn get(request: IssueRef) -> Result<Issue, Error> {
    let client = Client::connect()?;
    fetch(&client, &request)
}

fn fetch(client: &Client, r: &IssueRef) -> Result<Issue, Error> {
    let found: ApiIssue = client.json(&Endpoint::get(issue(r)?))?;
    Ok(found.into_issue())
}

fn fields(
    title: Option<&str>,
    content: Option<&str>,
    kind: Option<IssueKind>,
    priority: Option<IssuePriority>,
    assignee: Option<&str>,
) -> Result<Map<String, Value>, Error> {
    let mut body = Map::new();
    if let Some(title) = title {
        body.insert("title".into(), json!(required("title", title)?));
    }
    if let Some(content) = content {
        body.insert("content".into(), json!({ "raw": content }));
    }
    if let Some(kind) = kind {
        body.insert("kind".into(), json!(name_of(&KINDS, kind)));
    }
    if let Some(priority) = priority {
        body.insert("priority".into(), json!(name_of(&PRIORITIES, priority)));
    }
    if let Some(assignee) = assignee {
        // An empty account id unassigns.
        let value = if assignee.trim().is_empty() {
            Value::Null
        } else {
            json!({ "account_id": assignee.trim() })
        };
        body.insert("assignee".into(), value);
    }
    Ok(body)
}

/// Files an issue. Never retried.
pub fn create(request: CreateIssueRequest) -> Result<Issue, Error> {
    required("title", &request.title)?;
    let body = fields(
        Some(&request.title),
        request.content.as_deref(),
        request.kind,
        request.priority,
        request.assignee_account_id.as_deref(),
    )?;
    let client = Client::connect()?;
    let created: ApiIssue = client.json(
        &Endpoint::post(issues(&request.workspace, &request.repo_slug)?).json(Value::Object(body)),
    )?;
    Ok(created.into_issue())
}

/// Changes fields with a PUT and the state through Bitbucket's issue changes
/// (which record who changed it and why), then answers the issue as it is.
pub fn update(request: UpdateIssueRequest) -> Result<Issue, Error> {
    let body = fields(
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
    let target = IssueRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
        id: request.id,
    };
    let client = Client::connect()?;
    if !body.is_empty() {
        client.send(&Endpoint::put(issue(&target)?).json(Value::Object(body)))?;
    }
    if let Some(state) = request.state {
        let mut change = Map::new();
        change.insert(
            "changes".into(),
            json!({ "state": { "new": name_of(&STATES, state) } }),
        );
        if let Some(message) = request
            .state_message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
        {
            change.insert("message".into(), json!({ "raw": message }));
        }
        client.send(
            &Endpoint::post(issue(&target)?.literal("changes")).json(Value::Object(change)),
        )?;
    }
    fetch(&client, &target)
}
