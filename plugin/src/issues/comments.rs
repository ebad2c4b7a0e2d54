//! An issue's comments: `R/issues/{id}/comments`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Links, Text};
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::reconcile::{created_after, created_since, reconcile};
use crate::types::{
    CreateIssueCommentRequest, IssueComment, IssueCommentPage, IssueCommentRef,
    ListIssueCommentsRequest, UpdateIssueCommentRequest,
};

#[derive(Deserialize)]
struct ApiIssueComment {
    id: Option<u64>,
    content: Option<Text>,
    user: Option<ApiAccount>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

impl ApiIssueComment {
    fn into_comment(self) -> IssueComment {
        IssueComment {
            id: self.id.unwrap_or_default(),
            content: self.content.and_then(|c| c.raw).unwrap_or_default(),
            author: self.user.map(ApiAccount::into_ref),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

/// The spec gives issue comments `q` but no `sort`.
const COMMENTS: Listing = Listing {
    sort: false,
    ..Listing::new("issue-comments", &[])
};

fn comments(workspace: &str, repo_slug: &str, id: u64) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?
        .literal("issues")
        .param("id", &id.to_string())?
        .literal("comments"))
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListIssueCommentsRequest,
) -> Result<IssueCommentPage, Error> {
    let path = comments(&request.workspace, &request.repo_slug, request.id)?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        COMMENTS,
        ApiIssueComment::into_comment,
    )?;
    Ok(IssueCommentPage { items, next_cursor })
}

#[derive(Serialize)]
struct CommentBody<'a> {
    content: Raw<'a>,
}

#[derive(Serialize)]
struct Raw<'a> {
    raw: &'a str,
}

pub fn create(
    upstream: &dyn Upstream,
    request: CreateIssueCommentRequest,
) -> Result<IssueComment, Error> {
    let content = request.content.trim();
    if content.is_empty() {
        return Err(Error::validation("content", "must not be empty"));
    }
    let started = OffsetDateTime::now_utc();
    let path = comments(&request.workspace, &request.repo_slug, request.id)?;
    let body = CommentBody {
        content: Raw { raw: content },
    };
    let created = upstream
        .json::<ApiIssueComment>(&Endpoint::post(path.clone()).json(&body)?)
        .map(ApiIssueComment::into_comment);
    reconcile(created, || find_created(upstream, path, content, started))
}

/// The comment `create` posted, if Bitbucket lists it: by the current user,
/// since `started`, with the same text; the newest if several.
fn find_created(
    upstream: &dyn Upstream,
    path: ApiPath,
    content: &str,
    started: OffsetDateTime,
) -> Result<Option<IssueComment>, Error> {
    let me: ApiAccount = upstream.json(&Endpoint::get(ApiPath::new("user")))?;
    let since = created_since(started)?;
    let endpoint = Endpoint::get(path)
        .query("q", format!("created_on >= {since}"))
        .query("pagelen", "100");
    let page: Paginated<ApiIssueComment> = upstream.json(&endpoint)?;
    Ok(page
        .values
        .into_iter()
        .filter(|c| created_after(c.created_on.as_deref(), &since))
        .filter(|c| c.user.as_ref().and_then(|u| u.uuid.as_ref()) == me.uuid.as_ref())
        .filter(|c| {
            c.content
                .as_ref()
                .and_then(|t| t.raw.as_deref())
                .map(str::trim)
                == Some(content)
        })
        .map(ApiIssueComment::into_comment)
        .next_back())
}

fn comment(workspace: &str, repo_slug: &str, id: u64, comment_id: u64) -> Result<ApiPath, Error> {
    comments(workspace, repo_slug, id)?.param("comment_id", &comment_id.to_string())
}

pub fn update(
    upstream: &dyn Upstream,
    request: UpdateIssueCommentRequest,
) -> Result<IssueComment, Error> {
    let content = request.content.trim();
    if content.is_empty() {
        return Err(Error::validation("content", "must not be empty"));
    }
    let path = comment(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.comment_id,
    )?;
    let body = CommentBody {
        content: Raw { raw: content },
    };
    let updated: ApiIssueComment = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(updated.into_comment())
}

pub fn delete(upstream: &dyn Upstream, request: IssueCommentRef) -> Result<IssueCommentRef, Error> {
    let path = comment(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.comment_id,
    )?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}
