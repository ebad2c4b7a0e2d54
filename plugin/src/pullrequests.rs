//! Pull requests: `R/pullrequests[/{id}[/approve|/request-changes|/decline|/merge|/comments]]`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::model::{
    ApiAccount, Hashed, Links, Named, RepositoryName, Text, account_refs, required,
};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::transport::{Client, Endpoint};
use crate::types::{
    CreatePullRequestCommentRequest, CreatePullRequestRequest, InlineAnchor,
    ListPullRequestCommentsRequest, ListPullRequestsRequest, MergePullRequestRequest,
    MergeStrategy, Participant, ParticipantRole, PullRequest, PullRequestComment,
    PullRequestCommentPage, PullRequestPage, PullRequestRef, PullRequestState,
    UpdatePullRequestRequest,
};

/// Pull request listings have long capped `pagelen` at 50.
const PULL_REQUESTS: Listing = Listing {
    max_size: 50,
    ..Listing::FULL
};

#[derive(Deserialize)]
pub struct ApiPullRequest {
    id: Option<u64>,
    title: Option<String>,
    description: Option<String>,
    summary: Option<Text>,
    state: Option<String>,
    draft: Option<bool>,
    author: Option<ApiAccount>,
    source: Option<ApiEndpoint>,
    destination: Option<ApiEndpoint>,
    merge_commit: Option<Hashed>,
    close_source_branch: Option<bool>,
    #[serde(default)]
    reviewers: Vec<ApiAccount>,
    #[serde(default)]
    participants: Vec<ApiParticipant>,
    comment_count: Option<u32>,
    task_count: Option<u32>,
    closed_by: Option<ApiAccount>,
    reason: Option<String>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct ApiEndpoint {
    branch: Option<Named>,
    commit: Option<Hashed>,
    repository: Option<RepositoryName>,
}

#[derive(Deserialize)]
pub struct ApiParticipant {
    user: Option<ApiAccount>,
    role: Option<String>,
    approved: Option<bool>,
    state: Option<String>,
    participated_on: Option<String>,
}

#[derive(Deserialize)]
pub struct ApiComment {
    id: Option<u64>,
    content: Option<Text>,
    user: Option<ApiAccount>,
    parent: Option<ApiCommentId>,
    inline: Option<ApiInline>,
    deleted: Option<bool>,
    pending: Option<bool>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct ApiCommentId {
    id: Option<u64>,
}

#[derive(Deserialize)]
struct ApiInline {
    path: Option<String>,
    from: Option<u32>,
    to: Option<u32>,
}

impl ApiPullRequest {
    pub fn into_pull_request(self) -> PullRequest {
        let (source, destination) = (self.source, self.destination);
        let branch = |e: &Option<ApiEndpoint>| {
            e.as_ref()
                .and_then(|e| e.branch.as_ref()?.name.clone())
                .unwrap_or_default()
        };
        let commit =
            |e: &Option<ApiEndpoint>| e.as_ref().and_then(|e| e.commit.as_ref()?.hash.clone());
        PullRequest {
            id: self.id.unwrap_or_default(),
            title: self.title.unwrap_or_default(),
            description: self
                .description
                .or_else(|| self.summary.and_then(|s| s.raw))
                .unwrap_or_default(),
            state: state_from_api(self.state.as_deref()),
            draft: self.draft.unwrap_or(false),
            author: self.author.map(ApiAccount::into_ref),
            source_branch: branch(&source),
            source_commit: commit(&source),
            source_repository: source
                .as_ref()
                .and_then(|e| e.repository.as_ref()?.full_name.clone()),
            destination_branch: branch(&destination),
            destination_commit: commit(&destination),
            merge_commit: self.merge_commit.and_then(|c| c.hash),
            close_source_branch: self.close_source_branch.unwrap_or(false),
            reviewers: account_refs(self.reviewers),
            participants: self
                .participants
                .into_iter()
                .map(ApiParticipant::into_participant)
                .collect(),
            comment_count: self.comment_count.unwrap_or(0),
            task_count: self.task_count.unwrap_or(0),
            closed_by: self.closed_by.map(ApiAccount::into_ref),
            reason: self.reason.filter(|r| !r.is_empty()),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

impl ApiParticipant {
    fn into_participant(self) -> Participant {
        Participant {
            user: self
                .user
                .map(ApiAccount::into_ref)
                .unwrap_or_else(|| crate::types::AccountRef {
                    uuid: None,
                    account_id: None,
                    display_name: String::new(),
                    nickname: None,
                }),
            role: if self.role.as_deref() == Some("REVIEWER") {
                ParticipantRole::Reviewer
            } else {
                ParticipantRole::Participant
            },
            approved: self.approved.unwrap_or(false),
            state: self.state,
            participated_on: self.participated_on,
        }
    }
}

impl ApiComment {
    pub fn into_comment(self) -> PullRequestComment {
        PullRequestComment {
            id: self.id.unwrap_or_default(),
            content: self.content.and_then(|c| c.raw).unwrap_or_default(),
            author: self.user.map(ApiAccount::into_ref),
            parent_id: self.parent.and_then(|p| p.id),
            inline: self.inline.map(|i| InlineAnchor {
                path: i.path.unwrap_or_default(),
                from_line: i.from,
                to_line: i.to,
            }),
            deleted: self.deleted.unwrap_or(false),
            pending: self.pending.unwrap_or(false),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

fn state_from_api(state: Option<&str>) -> PullRequestState {
    match state {
        Some("MERGED") => PullRequestState::Merged,
        Some("DECLINED") => PullRequestState::Declined,
        Some("SUPERSEDED") => PullRequestState::Superseded,
        _ => PullRequestState::Open,
    }
}

fn state_name(state: PullRequestState) -> &'static str {
    match state {
        PullRequestState::Open => "OPEN",
        PullRequestState::Merged => "MERGED",
        PullRequestState::Declined => "DECLINED",
        PullRequestState::Superseded => "SUPERSEDED",
    }
}

fn strategy_name(strategy: MergeStrategy) -> &'static str {
    match strategy {
        MergeStrategy::MergeCommit => "merge_commit",
        MergeStrategy::Squash => "squash",
        MergeStrategy::FastForward => "fast_forward",
        MergeStrategy::SquashFastForward => "squash_fast_forward",
        MergeStrategy::RebaseFastForward => "rebase_fast_forward",
        MergeStrategy::RebaseMerge => "rebase_merge",
    }
}

fn pull_requests(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("pullrequests"))
}

fn pull_request(r: &PullRequestRef) -> Result<ApiPath, Error> {
    pull_requests(&r.workspace, &r.repo_slug)?.param("id", &r.id.to_string())
}

fn fetch(client: &Client, r: &PullRequestRef) -> Result<PullRequest, Error> {
    let pr: ApiPullRequest = client.json(&Endpoint::get(pull_request(r)?))?;
    Ok(pr.into_pull_request())
}

fn reviewers_body(reviewers: &[String]) -> Result<Value, Error> {
    let list = reviewers
        .iter()
        .enumerate()
        .map(|(i, uuid)| {
            required(&format!("reviewers[{i}]"), uuid).map(|uuid| json!({ "uuid": uuid }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(list))
}

pub fn list(request: ListPullRequestsRequest) -> Result<PullRequestPage, Error> {
    let client = Client::connect()?;
    let mut endpoint = Endpoint::get(pull_requests(&request.workspace, &request.repo_slug)?);
    for state in request.states.iter().flatten() {
        endpoint = endpoint.query("state", state_name(*state));
    }
    let (items, next_cursor) = page::fetch(
        &client,
        endpoint,
        request.page.as_ref(),
        PULL_REQUESTS,
        ApiPullRequest::into_pull_request,
    )?;
    Ok(PullRequestPage { items, next_cursor })
}

pub fn get(request: PullRequestRef) -> Result<PullRequest, Error> {
    fetch(&Client::connect()?, &request)
}

pub fn create(request: CreatePullRequestRequest) -> Result<PullRequest, Error> {
    let mut body = Map::new();
    body.insert("title".into(), json!(required("title", &request.title)?));
    body.insert(
        "source".into(),
        json!({ "branch": { "name": required("source_branch", &request.source_branch)? } }),
    );
    if let Some(destination) = &request.destination_branch {
        body.insert(
            "destination".into(),
            json!({ "branch": { "name": required("destination_branch", destination)? } }),
        );
    }
    if let Some(description) = &request.description {
        body.insert("description".into(), json!(description));
    }
    if let Some(reviewers) = &request.reviewers {
        body.insert("reviewers".into(), reviewers_body(reviewers)?);
    }
    if let Some(close) = request.close_source_branch {
        body.insert("close_source_branch".into(), json!(close));
    }
    if let Some(draft) = request.draft {
        body.insert("draft".into(), json!(draft));
    }
    let client = Client::connect()?;
    let endpoint = Endpoint::post(pull_requests(&request.workspace, &request.repo_slug)?)
        .json(Value::Object(body));
    let pr: ApiPullRequest = client.json(&endpoint)?;
    Ok(pr.into_pull_request())
}

pub fn update(request: UpdatePullRequestRequest) -> Result<PullRequest, Error> {
    let mut body = Map::new();
    if let Some(title) = &request.title {
        body.insert("title".into(), json!(required("title", title)?));
    }
    if let Some(description) = &request.description {
        body.insert("description".into(), json!(description));
    }
    if let Some(destination) = &request.destination_branch {
        body.insert(
            "destination".into(),
            json!({ "branch": { "name": required("destination_branch", destination)? } }),
        );
    }
    if let Some(reviewers) = &request.reviewers {
        body.insert("reviewers".into(), reviewers_body(reviewers)?);
    }
    if let Some(draft) = request.draft {
        body.insert("draft".into(), json!(draft));
    }
    if let Some(close) = request.close_source_branch {
        body.insert("close_source_branch".into(), json!(close));
    }
    if body.is_empty() {
        return Err(Error::validation(
            "title",
            "nothing to change: give at least one field to update",
        ));
    }
    let target = PullRequestRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
        id: request.id,
    };
    let client = Client::connect()?;
    let pr: ApiPullRequest =
        client.json(&Endpoint::put(pull_request(&target)?).json(Value::Object(body)))?;
    Ok(pr.into_pull_request())
}

pub fn approve(request: PullRequestRef) -> Result<Participant, Error> {
    review(&request, "approve")
}

pub fn request_changes(request: PullRequestRef) -> Result<Participant, Error> {
    review(&request, "request-changes")
}

pub fn unapprove(request: PullRequestRef) -> Result<PullRequest, Error> {
    withdraw(&request, "approve")
}

pub fn remove_change_request(request: PullRequestRef) -> Result<PullRequest, Error> {
    withdraw(&request, "request-changes")
}

fn review(request: &PullRequestRef, action: &str) -> Result<Participant, Error> {
    let client = Client::connect()?;
    let participant: ApiParticipant =
        client.json(&Endpoint::post(pull_request(request)?.literal(action)))?;
    Ok(participant.into_participant())
}

/// DELETE answers 204 with no body: the pull request as it is now follows.
fn withdraw(request: &PullRequestRef, action: &str) -> Result<PullRequest, Error> {
    let client = Client::connect()?;
    client.send(&Endpoint::delete(pull_request(request)?.literal(action)))?;
    fetch(&client, request)
}

pub fn decline(request: PullRequestRef) -> Result<PullRequest, Error> {
    let client = Client::connect()?;
    let pr: ApiPullRequest =
        client.json(&Endpoint::post(pull_request(&request)?.literal("decline")))?;
    Ok(pr.into_pull_request())
}

#[derive(Deserialize)]
struct TaskStatus {
    task_status: Option<String>,
    merge_result: Option<ApiPullRequest>,
}

/// Merges, asking Bitbucket to work asynchronously and polling its task
/// status (202 + `Location`) within a bound. The POST itself is never retried:
/// a 555 comes back as a retryable `timeout` for the caller to decide.
pub fn merge(request: MergePullRequestRequest) -> Result<PullRequest, Error> {
    let mut body = Map::new();
    body.insert("type".into(), json!("pullrequest_merge_parameters"));
    if let Some(strategy) = request.strategy {
        body.insert("merge_strategy".into(), json!(strategy_name(strategy)));
    }
    if let Some(message) = &request.message {
        if message.len() > 128 * 1024 {
            return Err(Error::validation("message", "must be at most 128 KiB"));
        }
        body.insert("message".into(), json!(message));
    }
    if let Some(close) = request.close_source_branch {
        body.insert("close_source_branch".into(), json!(close));
    }
    let target = PullRequestRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
        id: request.id,
    };
    let client = Client::connect()?;
    let endpoint = Endpoint::post(pull_request(&target)?.literal("merge"))
        .query("async", "true")
        .json(Value::Object(body));
    let response = client.send(&endpoint)?;
    if response.status != 202 {
        return Ok(response.json::<ApiPullRequest>()?.into_pull_request());
    }
    let task_id = response
        .header("location")
        .and_then(|location| location.split('?').next())
        .and_then(|location| location.trim_end_matches('/').rsplit('/').next())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::unavailable(
                "Bitbucket accepted the merge without saying where to follow it",
                Some(202),
            )
        })?;
    let status = Endpoint::get(
        pull_request(&target)?
            .literal("merge/task-status")
            .param("task_id", &task_id)?,
    );
    let config = client.config();
    for _ in 0..config.merge_poll_attempts {
        let task: TaskStatus = client.json(&status)?;
        match task.task_status.as_deref() {
            Some("SUCCESS") => {
                return match task.merge_result {
                    Some(pr) => Ok(pr.into_pull_request()),
                    None => fetch(&client, &target),
                };
            }
            Some("PENDING") | None => std::thread::sleep(config.merge_poll_interval),
            Some(other) => {
                return Err(Error::unavailable(
                    format!("Bitbucket's merge task ended {other}"),
                    None,
                ));
            }
        }
    }
    Err(Error::timeout(format!(
        "the merge is still running after {} polls; get-pull-request shows when it lands",
        config.merge_poll_attempts
    )))
}

pub fn list_comments(
    request: ListPullRequestCommentsRequest,
) -> Result<PullRequestCommentPage, Error> {
    let client = Client::connect()?;
    let target = PullRequestRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
        id: request.id,
    };
    let endpoint = Endpoint::get(pull_request(&target)?.literal("comments"));
    let (items, next_cursor) = page::fetch(
        &client,
        endpoint,
        request.page.as_ref(),
        Listing::FULL,
        ApiComment::into_comment,
    )?;
    Ok(PullRequestCommentPage { items, next_cursor })
}

pub fn create_comment(
    request: CreatePullRequestCommentRequest,
) -> Result<PullRequestComment, Error> {
    let mut body = Map::new();
    body.insert(
        "content".into(),
        json!({ "raw": required("content", &request.content)? }),
    );
    if let Some(parent) = request.parent_id {
        body.insert("parent".into(), json!({ "id": parent }));
    }
    if let Some(inline) = &request.inline {
        let mut anchor = Map::new();
        anchor.insert("path".into(), json!(required("inline.path", &inline.path)?));
        if inline.from_line.is_none() && inline.to_line.is_none() {
            return Err(Error::validation(
                "inline.to_line",
                "give the line on the new side (to_line) or the old side (from_line)",
            ));
        }
        if let Some(from) = inline.from_line {
            anchor.insert("from".into(), json!(from));
        }
        if let Some(to) = inline.to_line {
            anchor.insert("to".into(), json!(to));
        }
        body.insert("inline".into(), Value::Object(anchor));
    }
    if let Some(pending) = request.pending {
        body.insert("pending".into(), json!(pending));
    }
    let target = PullRequestRef {
        workspace: request.workspace,
        repo_slug: request.repo_slug,
        id: request.id,
    };
    let client = Client::connect()?;
    let comment: ApiComment = client.json(
        &Endpoint::post(pull_request(&target)?.literal("comments")).json(Value::Object(body)),
    )?;
    Ok(comment.into_comment())
}
