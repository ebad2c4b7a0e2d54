//! Pull requests: `R/pullrequests[/{id}[/approve|/request-changes|/decline|/merge|/comments]]`;
//! comment edits and threads in `comments`, tasks in `tasks`, and what a
//! reviewer reads (commits, activity, diffs, the review queue) in `reading`.

pub mod comments;
pub mod readiness;
pub mod reading;
pub mod tasks;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::endpoint::{Endpoint, Upstream, answer_of};
use crate::error::Error;
use crate::model::{
    ApiAccount, Hashed, Links, Named, RepositoryName, Text, account_refs, optional, required,
};
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::reconcile::{bbql_text, created_after, created_since, reconcile};
use crate::types::{
    CommentResolution, CreatePullRequestCommentRequest, CreatePullRequestRequest, InlineAnchor,
    ListPullRequestCommentsRequest, ListPullRequestsRequest, MergePullRequestRequest, Participant,
    ParticipantRole, PullRequest, PullRequestComment, PullRequestCommentPage, PullRequestPage,
    PullRequestRef, PullRequestState, UpdatePullRequestRequest,
};

/// Pull request listings have long capped `pagelen` at 50.
pub const PULL_REQUESTS: Listing = Listing {
    max_size: 50,
    ..Listing::new("pullrequests", &["state"])
};

/// A pull request's comments, oldest first.
pub const COMMENTS: Listing = Listing::new("pullrequest-comments", &[]);

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
    resolution: Option<ApiResolution>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

/// `comment_resolution`
#[derive(Deserialize)]
struct ApiResolution {
    user: Option<ApiAccount>,
    created_on: Option<String>,
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
                .unwrap_or_else(ApiAccount::unknown),
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
            resolution: self.resolution.map(|r| CommentResolution {
                user: r.user.map(ApiAccount::into_ref),
                created_on: r.created_on,
            }),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

fn state_from_api(state: Option<&str>) -> PullRequestState {
    state
        .map(str::to_ascii_lowercase)
        .and_then(|s| PullRequestState::from_wire_name(&s))
        .unwrap_or(PullRequestState::Open)
}

/// `{"branch": {"name": …}}`
#[derive(Serialize)]
struct BranchSpec<'a> {
    branch: Name<'a>,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Uuid<'a> {
    uuid: &'a str,
}

/// The fields a create or an update sends; absent ones are left out.
#[derive(Serialize, Default)]
struct PullRequestBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<BranchSpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<BranchSpec<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reviewers: Option<Vec<Uuid<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_source_branch: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    draft: Option<bool>,
}

impl<'a> PullRequestBody<'a> {
    /// What a create and an update may both change.
    fn changes(
        destination: Option<&'a str>,
        description: Option<&'a str>,
        reviewer_uuids: Option<&'a [String]>,
        close_source_branch: Option<bool>,
        draft: Option<bool>,
    ) -> Result<Self, Error> {
        Ok(Self {
            destination: destination
                .map(|name| branch("destination_branch", name))
                .transpose()?,
            description,
            reviewers: reviewer_uuids.map(reviewers).transpose()?,
            close_source_branch,
            draft,
            ..Self::default()
        })
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.source.is_none()
            && self.destination.is_none()
            && self.description.is_none()
            && self.reviewers.is_none()
            && self.close_source_branch.is_none()
            && self.draft.is_none()
    }
}

#[derive(Serialize)]
struct MergeBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    merge_strategy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_source_branch: Option<bool>,
}

#[derive(Serialize)]
struct CommentBody<'a> {
    content: Raw<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline: Option<InlineBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<bool>,
}

#[derive(Serialize)]
struct Raw<'a> {
    raw: &'a str,
}

#[derive(Serialize)]
struct Id {
    id: u64,
}

#[derive(Serialize)]
struct InlineBody<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<u32>,
}

fn branch<'a>(field: &str, name: &'a str) -> Result<BranchSpec<'a>, Error> {
    Ok(BranchSpec {
        branch: Name {
            name: required(field, name)?,
        },
    })
}

fn reviewers(uuids: &[String]) -> Result<Vec<Uuid<'_>>, Error> {
    uuids
        .iter()
        .enumerate()
        .map(|(i, uuid)| {
            Ok(Uuid {
                uuid: required(&format!("reviewers[{i}]"), uuid)?,
            })
        })
        .collect()
}

pub fn pull_requests(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("pullrequests"))
}

pub fn pull_request(workspace: &str, repo_slug: &str, id: u64) -> Result<ApiPath, Error> {
    pull_requests(workspace, repo_slug)?.param("id", &id.to_string())
}

pub fn fetch(upstream: &dyn Upstream, path: ApiPath) -> Result<PullRequest, Error> {
    let pr: ApiPullRequest = upstream.json(&Endpoint::get(path))?;
    Ok(pr.into_pull_request())
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListPullRequestsRequest,
) -> Result<PullRequestPage, Error> {
    let mut endpoint = Endpoint::get(pull_requests(&request.workspace, &request.repo_slug)?);
    for state in request.states.iter().flatten() {
        endpoint = endpoint.query("state", state.wire_name().to_ascii_uppercase());
    }
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        PULL_REQUESTS,
        ApiPullRequest::into_pull_request,
    )?;
    Ok(PullRequestPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, r: PullRequestRef) -> Result<PullRequest, Error> {
    fetch(upstream, pull_request(&r.workspace, &r.repo_slug, r.id)?)
}

/// Opens a pull request. Never retried: when its answer is lost, the open
/// pull request from the same branch (to the same destination) with the same
/// title, created since the call started, is the one it made.
pub fn create(
    upstream: &dyn Upstream,
    request: CreatePullRequestRequest,
) -> Result<PullRequest, Error> {
    let started = OffsetDateTime::now_utc();
    let body = PullRequestBody {
        title: Some(required("title", &request.title)?),
        source: Some(branch("source_branch", &request.source_branch)?),
        ..PullRequestBody::changes(
            request.destination_branch.as_deref(),
            request.description.as_deref(),
            request.reviewers.as_deref(),
            request.close_source_branch,
            request.draft,
        )?
    };
    let endpoint =
        Endpoint::post(pull_requests(&request.workspace, &request.repo_slug)?).json(&body)?;
    let created = upstream
        .json::<ApiPullRequest>(&endpoint)
        .map(ApiPullRequest::into_pull_request);
    reconcile(created, || find_created(upstream, &request, &body, started))
}

/// The pull request `create` made, if Bitbucket lists it: open, from the
/// same source to the same destination, with the same title, created since
/// `started`. Bitbucket keeps one open pull request per source and
/// destination, so the newest match is the one.
fn find_created(
    upstream: &dyn Upstream,
    request: &CreatePullRequestRequest,
    body: &PullRequestBody,
    started: OffsetDateTime,
) -> Result<Option<PullRequest>, Error> {
    let since = created_since(started)?;
    let mut q = Vec::new();
    if let Some(source) = &body.source {
        q.push(format!(
            "source.branch.name = {}",
            bbql_text(source.branch.name)
        ));
    }
    if let Some(destination) = &body.destination {
        q.push(format!(
            "destination.branch.name = {}",
            bbql_text(destination.branch.name)
        ));
    }
    q.push(format!("created_on >= {since}"));
    let endpoint = Endpoint::get(pull_requests(&request.workspace, &request.repo_slug)?)
        .query("state", "OPEN")
        .query("q", q.join(" AND "))
        .query("sort", "-created_on")
        .query("pagelen", PULL_REQUESTS.max_size.to_string());
    let page: Paginated<ApiPullRequest> = upstream.json(&endpoint)?;
    Ok(page
        .values
        .into_iter()
        .filter(|pr| created_after(pr.created_on.as_deref(), &since))
        .filter(|pr| pr.title.as_deref().map(str::trim) == body.title)
        .map(ApiPullRequest::into_pull_request)
        .next())
}

pub fn update(
    upstream: &dyn Upstream,
    request: UpdatePullRequestRequest,
) -> Result<PullRequest, Error> {
    let body = PullRequestBody {
        title: optional("title", request.title.as_deref())?,
        ..PullRequestBody::changes(
            request.destination_branch.as_deref(),
            request.description.as_deref(),
            request.reviewers.as_deref(),
            request.close_source_branch,
            request.draft,
        )?
    };
    if body.is_empty() {
        return Err(Error::validation(
            "title",
            "nothing to change: give at least one field to update",
        ));
    }
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?;
    let pr: ApiPullRequest = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(pr.into_pull_request())
}

pub fn approve(upstream: &dyn Upstream, request: PullRequestRef) -> Result<Participant, Error> {
    review(upstream, &request, "approve")
}

pub fn request_changes(
    upstream: &dyn Upstream,
    request: PullRequestRef,
) -> Result<Participant, Error> {
    review(upstream, &request, "request-changes")
}

pub fn unapprove(upstream: &dyn Upstream, request: PullRequestRef) -> Result<PullRequest, Error> {
    withdraw(upstream, &request, "approve")
}

pub fn remove_change_request(
    upstream: &dyn Upstream,
    request: PullRequestRef,
) -> Result<PullRequest, Error> {
    withdraw(upstream, &request, "request-changes")
}

fn review(upstream: &dyn Upstream, r: &PullRequestRef, action: &str) -> Result<Participant, Error> {
    let path = pull_request(&r.workspace, &r.repo_slug, r.id)?.literal(action);
    let participant: ApiParticipant = upstream.json(&Endpoint::post(path))?;
    Ok(participant.into_participant())
}

/// DELETE answers 204 with no body: the pull request as it is now follows.
fn withdraw(
    upstream: &dyn Upstream,
    r: &PullRequestRef,
    action: &str,
) -> Result<PullRequest, Error> {
    let path = pull_request(&r.workspace, &r.repo_slug, r.id)?;
    upstream.send(&Endpoint::delete(path.clone().literal(action)))?;
    fetch(upstream, path)
}

pub fn decline(upstream: &dyn Upstream, r: PullRequestRef) -> Result<PullRequest, Error> {
    let path = pull_request(&r.workspace, &r.repo_slug, r.id)?.literal("decline");
    let pr: ApiPullRequest = upstream.json(&Endpoint::post(path))?;
    Ok(pr.into_pull_request())
}

#[derive(Deserialize)]
struct TaskStatus {
    task_status: Option<String>,
    merge_result: Option<ApiPullRequest>,
}

/// Merges, asking Bitbucket to work asynchronously and polling its task
/// status (202 + `Location`) within a bound. The POST itself is never retried:
/// a 5xx or 555 may come after Bitbucket merged, so it is `outcome-unknown`
/// (not retryable), and the caller reads the pull request to know.
pub fn merge(
    upstream: &dyn Upstream,
    request: MergePullRequestRequest,
) -> Result<PullRequest, Error> {
    let body = MergeBody {
        kind: "pullrequest_merge_parameters",
        merge_strategy: request.strategy.map(|s| s.wire_name()),
        message: request.message.as_deref(),
        close_source_branch: request.close_source_branch,
    };
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?;
    let endpoint = Endpoint::post(path.clone().literal("merge"))
        .query("async", "true")
        .json(&body)?;
    let response = upstream.send(&endpoint)?;
    if response.status != 202 {
        return Ok(answer_of::<ApiPullRequest>(&endpoint, &response)?.into_pull_request());
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
        path.clone()
            .literal("merge/task-status")
            .param("task_id", &task_id)?,
    );
    let config = upstream.config();
    for _ in 0..config.merge_poll_attempts {
        let task: TaskStatus = upstream.json(&status)?;
        match task.task_status.as_deref() {
            Some("SUCCESS") => {
                return match task.merge_result {
                    Some(pr) => Ok(pr.into_pull_request()),
                    None => fetch(upstream, path),
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
    upstream: &dyn Upstream,
    request: ListPullRequestCommentsRequest,
) -> Result<PullRequestCommentPage, Error> {
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path.literal("comments")),
        request.page.as_ref(),
        COMMENTS,
        ApiComment::into_comment,
    )?;
    Ok(PullRequestCommentPage { items, next_cursor })
}

/// Comments on a pull request. Never retried.
pub fn create_comment(
    upstream: &dyn Upstream,
    request: CreatePullRequestCommentRequest,
) -> Result<PullRequestComment, Error> {
    let inline = match &request.inline {
        Some(inline) if inline.from_line.is_none() && inline.to_line.is_none() => {
            return Err(Error::validation(
                "inline.to_line",
                "give the line on the new side (to_line) or the old side (from_line)",
            ));
        }
        Some(inline) => Some(InlineBody {
            path: required("inline.path", &inline.path)?,
            from: inline.from_line,
            to: inline.to_line,
        }),
        None => None,
    };
    let body = CommentBody {
        content: Raw {
            raw: required("content", &request.content)?,
        },
        parent: request.parent_id.map(|id| Id { id }),
        inline,
        pending: request.pending,
    };
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?;
    let comment: ApiComment =
        upstream.json(&Endpoint::post(path.literal("comments")).json(&body)?)?;
    Ok(comment.into_comment())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::Response;
    use crate::endpoint::script::Script;

    fn pr_json(id: u64, state: &str) -> serde_json::Value {
        json!({
            "type": "pullrequest", "id": id, "title": "Log in", "state": state,
            "source": {"branch": {"name": "feature/login"}},
            "destination": {"branch": {"name": "main"}},
            "participants": [{"user": {"display_name": "Ada"}, "role": "REVIEWER", "approved": true}]
        })
    }

    #[test]
    fn create_sends_only_the_given_fields_once() {
        let script = Script::new().ok(pr_json(7, "OPEN"));
        let created = create(
            &script,
            CreatePullRequestRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                title: " Log in ".into(),
                source_branch: "feature/login".into(),
                destination_branch: None,
                description: None,
                reviewers: Some(vec!["{a1}".into()]),
                close_source_branch: Some(true),
                draft: None,
            },
        )
        .unwrap();
        assert_eq!(created.id, 7);
        assert_eq!(created.state, PullRequestState::Open);
        assert_eq!(created.participants[0].role, ParticipantRole::Reviewer);
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, http::Method::POST);
        assert_eq!(sent[0].path.as_str(), "/repositories/acme/api/pullrequests");
        assert_eq!(
            script.body(0),
            json!({
                "title": "Log in",
                "source": {"branch": {"name": "feature/login"}},
                "reviewers": [{"uuid": "{a1}"}],
                "close_source_branch": true
            })
        );
    }

    #[test]
    fn a_failed_create_is_not_sent_again() {
        let script = Script::new().answer(Err(Error::unavailable("reset", None)));
        let result = create(
            &script,
            CreatePullRequestRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                title: "t".into(),
                source_branch: "b".into(),
                destination_branch: None,
                description: None,
                reviewers: None,
                close_source_branch: None,
                draft: None,
            },
        );
        assert!(result.is_err());
        assert_eq!(script.requests_sent(), 1);
    }

    fn new_pr() -> CreatePullRequestRequest {
        CreatePullRequestRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            title: "Log in".into(),
            source_branch: "feature/login".into(),
            destination_branch: Some("main".into()),
            description: None,
            reviewers: None,
            close_source_branch: None,
            draft: None,
        }
    }

    fn created(id: u64, created_on: &str) -> serde_json::Value {
        let mut pr = pr_json(id, "OPEN");
        pr["created_on"] = json!(created_on);
        pr
    }

    fn just_now() -> String {
        let now = time::OffsetDateTime::now_utc();
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    #[test]
    fn a_lost_create_answers_the_pull_request_it_made() {
        let script = Script::new()
            .answer(Err(Error::outcome_unknown("connection reset")))
            .ok(json!({"values": [created(8, &just_now()), created(3, "2020-01-01T00:00:00Z")]}));
        let pr = create(&script, new_pr()).unwrap();
        assert_eq!(pr.id, 8);
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].method, http::Method::GET, "never a second POST");
        let query = sent[1].query_string();
        assert!(query.starts_with("state=OPEN&q=source.branch.name%20%3D%20%22feature%2Flogin%22%20AND%20destination.branch.name%20%3D%20%22main%22%20AND%20created_on%20%3E%3D%20"), "{query}");
    }

    #[test]
    fn a_lost_create_stays_unknown_when_the_lookup_finds_nothing_of_its_own() {
        let mut other_title = created(9, &just_now());
        other_title["title"] = json!("Something else");
        let older = created(3, "2020-01-01T00:00:00Z");
        let lookups = [
            Ok(Response {
                status: 200,
                body: json!({"values": [other_title, older]})
                    .to_string()
                    .into_bytes(),
                ..Response::default()
            }),
            Err(Error::unavailable("reset again", None)),
        ];
        for lookup in lookups {
            let script = Script::new()
                .answer(Err(Error::outcome_unknown("connection reset")))
                .answer(lookup);
            let error = create(&script, new_pr()).unwrap_err();
            assert_eq!(error.code(), "outcome_unknown");
            assert!(!error.retryable());
            let sent = script.sent.borrow();
            let posts = sent
                .iter()
                .filter(|e| e.method == http::Method::POST)
                .count();
            assert_eq!(posts, 1);
        }
    }

    #[test]
    fn a_create_refused_before_it_was_sent_is_not_looked_up() {
        let script = Script::new().answer(Err(Error::unavailable("connection refused", None)));
        let error = create(&script, new_pr()).unwrap_err();
        assert_eq!(error.code(), "upstream_unavailable");
        assert_eq!(script.requests_sent(), 1);
    }

    #[test]
    fn a_success_whose_body_cannot_be_read_is_an_unknown_outcome() {
        let script = Script::new()
            .answer(Ok(Response {
                status: 201,
                body: b"{\"id\": 8, \"tit".to_vec(),
                ..Response::default()
            }))
            .ok(json!({"values": [created(8, &just_now())]}));
        assert_eq!(create(&script, new_pr()).unwrap().id, 8);
    }

    #[test]
    fn listing_sends_bitbucket_state_names_and_maps_them_back() {
        let script = Script::new().ok(json!({"values": [pr_json(3, "MERGED")], "pagelen": 50}));
        let page = list(
            &script,
            ListPullRequestsRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                states: Some(vec![PullRequestState::Merged, PullRequestState::Declined]),
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].state, PullRequestState::Merged);
        assert!(page.next_cursor.is_none());
        assert_eq!(
            script.sent.borrow()[0].query_string(),
            "state=MERGED&state=DECLINED&pagelen=50"
        );
    }

    #[test]
    fn merge_sends_the_strategy_by_its_bitbucket_name() {
        let script = Script::new().ok(pr_json(7, "MERGED"));
        let merged = merge(
            &script,
            MergePullRequestRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 7,
                strategy: Some(crate::types::MergeStrategy::MergeCommit),
                message: None,
                close_source_branch: None,
            },
        )
        .unwrap();
        assert_eq!(merged.state, PullRequestState::Merged);
        assert_eq!(
            script.body(0),
            json!({"type": "pullrequest_merge_parameters", "merge_strategy": "merge_commit"})
        );
        assert_eq!(script.sent.borrow()[0].query_string(), "async=true");
    }
}
