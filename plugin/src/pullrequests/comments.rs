//! Comment edits and threads: `R/pullrequests/{id}/comments/{comment_id}`
//! (PUT, DELETE), `…/resolve` (POST resolves, DELETE reopens) and publishing
//! the caller's pending comments.

use serde::Serialize;

use super::{ApiComment, COMMENTS, Raw, pull_request};
use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::required;
use crate::page;
use crate::path::ApiPath;
use crate::types::{
    PageRequest, PublishCommentsResult, PullRequestComment, PullRequestCommentRef, PullRequestRef,
    UpdatePullRequestCommentRequest,
};
use crate::users;
use crate::wire::NoParams;

/// Most listing calls (of up to 20 pages of 100) publishing reads: 10,000
/// comments, far more than any pull request carries.
const MAX_LISTING_CALLS: usize = 5;

fn comment_path(
    workspace: &str,
    repo_slug: &str,
    id: u64,
    comment_id: u64,
) -> Result<ApiPath, Error> {
    pull_request(workspace, repo_slug, id)?
        .literal("comments")
        .param("comment_id", &comment_id.to_string())
}

/// The comment a [`PullRequestCommentRef`] names.
fn ref_path(request: &PullRequestCommentRef) -> Result<ApiPath, Error> {
    comment_path(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.comment_id,
    )
}

#[derive(Serialize)]
struct UpdateBody<'a> {
    content: Raw<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<bool>,
}

fn get_comment(upstream: &dyn Upstream, path: ApiPath) -> Result<PullRequestComment, Error> {
    let comment: ApiComment = upstream.json(&Endpoint::get(path))?;
    Ok(comment.into_comment())
}

/// Replaces a comment's text (PUT: a repeat leaves the same text).
pub fn update(
    upstream: &dyn Upstream,
    request: UpdatePullRequestCommentRequest,
) -> Result<PullRequestComment, Error> {
    let body = UpdateBody {
        content: Raw {
            raw: required("content", &request.content)?,
        },
        pending: None,
    };
    let path = comment_path(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.comment_id,
    )?;
    let comment: ApiComment = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(comment.into_comment())
}

/// Deletes a comment (204) and answers the reference it was given.
pub fn delete(
    upstream: &dyn Upstream,
    request: PullRequestCommentRef,
) -> Result<PullRequestCommentRef, Error> {
    let path = ref_path(&request)?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}

/// Resolves the thread the comment starts, then answers the comment as it
/// now is. A thread already resolved (409) is left as it is.
pub fn resolve(
    upstream: &dyn Upstream,
    request: PullRequestCommentRef,
) -> Result<PullRequestComment, Error> {
    let path = ref_path(&request)?;
    match upstream.send(&Endpoint::post(path.clone().literal("resolve"))) {
        Ok(_) | Err(Error::Conflict(_)) => {}
        Err(other) => return Err(other),
    }
    get_comment(upstream, path)
}

/// Reopens a resolved thread (DELETE …/resolve, 204), then answers the
/// comment as it now is.
pub fn reopen(
    upstream: &dyn Upstream,
    request: PullRequestCommentRef,
) -> Result<PullRequestComment, Error> {
    let path = ref_path(&request)?;
    upstream.send(&Endpoint::delete(path.clone().literal("resolve")))?;
    get_comment(upstream, path)
}

/// Every comment of a pull request, oldest first (bounded: see
/// [`MAX_LISTING_CALLS`]), and whether some were left unread.
pub fn all_comments(
    upstream: &dyn Upstream,
    workspace: &str,
    repo_slug: &str,
    id: u64,
    max_calls: usize,
) -> Result<(Vec<PullRequestComment>, bool), Error> {
    let path = pull_request(workspace, repo_slug, id)?.literal("comments");
    let mut comments = Vec::new();
    let mut cursor = None;
    for _ in 0..max_calls {
        let request = PageRequest {
            cursor: cursor.take(),
            size: Some(page::MAX_PAGE_SIZE),
            pages: Some(page::MAX_PAGES_PER_CALL),
            q: None,
            sort: None,
        };
        let (items, next) = page::fetch(
            upstream,
            Endpoint::get(path.clone()),
            Some(&request),
            COMMENTS,
            ApiComment::into_comment,
        )?;
        comments.extend(items);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok((comments, false)),
        }
    }
    Ok((comments, true))
}

/// Publishes the caller's pending comments: reads who the caller is
/// (`GET /user`) and the pull request's comments, keeps the caller's
/// pending ones, and PUTs each with `pending: false` (its text unchanged),
/// oldest first. A second call finds none left and publishes nothing.
///
/// A failure midway stops there: the call answers the error (its code as
/// it came) with a message that says how many were published before it and
/// which ids, so nothing published is mistaken for not done. The caller's
/// next call publishes the rest.
pub fn publish_pending(
    upstream: &dyn Upstream,
    request: PullRequestRef,
) -> Result<PublishCommentsResult, Error> {
    let me = users::current(upstream, NoParams {})?.uuid;
    let (comments, _) = all_comments(
        upstream,
        &request.workspace,
        &request.repo_slug,
        request.id,
        MAX_LISTING_CALLS,
    )?;
    let pending: Vec<PullRequestComment> = comments
        .into_iter()
        .filter(|c| c.pending && !c.deleted)
        .filter(|c| c.author.as_ref().and_then(|a| a.uuid.as_deref()) == Some(me.as_str()))
        .collect();
    let total = pending.len();
    let mut published = Vec::with_capacity(total);
    for comment in pending {
        let body = UpdateBody {
            content: Raw {
                raw: &comment.content,
            },
            pending: Some(false),
        };
        let path = comment_path(
            &request.workspace,
            &request.repo_slug,
            request.id,
            comment.id,
        )?;
        let answer = Endpoint::put(path)
            .json(&body)
            .and_then(|endpoint| upstream.json::<ApiComment>(&endpoint));
        match answer {
            Ok(done) => published.push(done.into_comment()),
            Err(error) => {
                let ids: Vec<String> = published
                    .iter()
                    .map(|c: &PullRequestComment| c.id.to_string())
                    .collect();
                return Err(error.with_context(&format!(
                    "published {} of {total} pending comments (ids: {}) before comment {} failed",
                    published.len(),
                    if ids.is_empty() {
                        "none".to_owned()
                    } else {
                        ids.join(", ")
                    },
                    comment.id
                )));
            }
        }
    }
    Ok(PublishCommentsResult { published })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::Response;
    use crate::endpoint::script::Script;

    fn comment_ref() -> PullRequestCommentRef {
        PullRequestCommentRef {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
            comment_id: 17,
        }
    }

    fn no_content() -> Result<Response, Error> {
        Ok(Response {
            status: 204,
            ..Response::default()
        })
    }

    #[test]
    fn resolve_posts_then_answers_the_comment_with_its_resolution() {
        let script = Script::new()
            .ok(json!({"type": "comment_resolution", "created_on": "2026-12-01T00:00:00Z"}))
            .ok(json!({"id": 17, "content": {"raw": "nit"},
                       "resolution": {"user": {"display_name": "Ada"}, "created_on": "2026-12-01T00:00:00Z"}}));
        let comment = resolve(&script, comment_ref()).unwrap();
        let resolution = comment.resolution.unwrap();
        assert_eq!(resolution.user.unwrap().display_name, "Ada");
        let sent = script.sent.borrow();
        assert_eq!(sent[0].method, http::Method::POST);
        assert_eq!(
            sent[0].path.as_str(),
            "/repositories/acme/api/pullrequests/4/comments/17/resolve"
        );
        assert_eq!(sent[1].method, http::Method::GET);
        assert_eq!(
            sent[1].path.as_str(),
            "/repositories/acme/api/pullrequests/4/comments/17"
        );
    }

    #[test]
    fn an_already_resolved_thread_is_answered_as_it_is() {
        let script = Script::new()
            .answer(Err(Error::from_upstream(409, b"", None)))
            .ok(json!({"id": 17, "resolution": {"created_on": "x"}}));
        assert!(
            resolve(&script, comment_ref())
                .unwrap()
                .resolution
                .is_some()
        );
    }

    #[test]
    fn reopen_deletes_the_resolution_and_delete_answers_the_ref() {
        let script = Script::new().answer(no_content()).ok(json!({"id": 17}));
        assert!(reopen(&script, comment_ref()).unwrap().resolution.is_none());
        assert_eq!(script.sent.borrow()[0].method, http::Method::DELETE);
        let script = Script::new().answer(no_content());
        assert_eq!(delete(&script, comment_ref()).unwrap().comment_id, 17);
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/acme/api/pullrequests/4/comments/17"
        );
    }

    #[test]
    fn update_puts_the_new_text() {
        let script = Script::new().ok(json!({"id": 17, "content": {"raw": "better"}}));
        let comment = update(
            &script,
            UpdatePullRequestCommentRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                comment_id: 17,
                content: "better".into(),
            },
        )
        .unwrap();
        assert_eq!(comment.content, "better");
        assert_eq!(script.sent.borrow()[0].method, http::Method::PUT);
        assert_eq!(script.body(0), json!({"content": {"raw": "better"}}));
    }

    fn pending_listing() -> serde_json::Value {
        json!({"values": [
            {"id": 1, "content": {"raw": "mine"}, "pending": true, "user": {"uuid": "{me}"}},
            {"id": 2, "content": {"raw": "theirs"}, "pending": true, "user": {"uuid": "{other}"}},
            {"id": 3, "content": {"raw": "public"}, "pending": false, "user": {"uuid": "{me}"}},
            {"id": 4, "content": {"raw": "mine too"}, "pending": true, "user": {"uuid": "{me}"}}
        ]})
    }

    fn pull_request_ref() -> PullRequestRef {
        PullRequestRef {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
        }
    }

    #[test]
    fn publishing_puts_only_the_callers_pending_comments() {
        let script = Script::new()
            .ok(json!({"uuid": "{me}", "display_name": "Me"}))
            .ok(pending_listing())
            .ok(json!({"id": 1, "content": {"raw": "mine"}, "pending": false}))
            .ok(json!({"id": 4, "content": {"raw": "mine too"}, "pending": false}));
        let result = publish_pending(&script, pull_request_ref()).unwrap();
        let ids: Vec<u64> = result.published.iter().map(|c| c.id).collect();
        assert_eq!(ids, [1, 4]);
        let sent = script.sent.borrow();
        assert_eq!(sent[0].path.as_str(), "/user");
        assert_eq!(sent[1].query_string(), "pagelen=100");
        assert_eq!(
            sent[2].path.as_str(),
            "/repositories/acme/api/pullrequests/4/comments/1"
        );
        assert_eq!(
            script.body(2),
            json!({"content": {"raw": "mine"}, "pending": false})
        );
        assert_eq!(sent.len(), 4);
    }

    #[test]
    fn a_failure_midway_says_how_many_were_published() {
        let script = Script::new()
            .ok(json!({"uuid": "{me}", "display_name": "Me"}))
            .ok(pending_listing())
            .ok(json!({"id": 1, "pending": false}))
            .answer(Err(Error::outcome_unknown("connection reset")));
        let error = publish_pending(&script, pull_request_ref()).unwrap_err();
        assert_eq!(error.code(), "outcome_unknown");
        assert!(
            error
                .message()
                .starts_with("published 1 of 2 pending comments (ids: 1) before comment 4 failed"),
            "{}",
            error.message()
        );
    }
}
