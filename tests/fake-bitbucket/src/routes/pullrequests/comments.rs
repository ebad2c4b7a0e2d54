//! `R/pullrequests/{id}/comments[/{comment_id}]`: oldest first, replies
//! through `parent`, inline comments through `inline`, drafts through
//! `pending`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Id, find};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::{account, rendered};
use crate::routes::{
    created, filter_and_sort, json_body, no_content, open_repository, query_pairs, require_write,
    required_content,
};
use crate::world::{Comment, Inline, PullRequest, World};
use crate::{Shared, errors, events, lock};

/// Fields `q` and `sort` accept on comments.
const FIELDS: [&str; 9] = [
    "id",
    "created_on",
    "updated_on",
    "content.raw",
    "user.uuid",
    "user.display_name",
    "inline.path",
    "deleted",
    "pending",
];

pub async fn list_comments(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    // Someone else's drafts stay invisible.
    let mut comments: Vec<&Comment> = pr
        .comments
        .iter()
        .filter(|c| !c.pending || c.user == user)
        .collect();
    comments.sort_by_key(|c| c.id);
    let mut items: Vec<Value> = comments.iter().map(|c| render(&world, pr, c)).collect();
    filter_and_sort(&mut items, &query, &FIELDS)?;
    let url = format!(
        "{}/2.0/repositories/{}/pullrequests/{}/comments",
        world.base_url, pr.repo, pr.id
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn get_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<(String, String, String, String)>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let comment = comment_id
        .parse::<u64>()
        .ok()
        .and_then(|cid| pr.comments.iter().find(|c| c.id == cid))
        .filter(|c| !c.pending || c.user == user)
        .ok_or_else(|| errors::error(404, "Comment not found"))?;
    Ok(Json(render(&world, pr, comment)).into_response())
}

pub async fn create_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    let body = json_body(&body)?;
    let raw = required_content(&body)?;
    let parent = match &body["parent"] {
        Value::Null => None,
        parent => {
            let parent_id = parent["id"]
                .as_u64()
                .ok_or_else(|| errors::field_error("parent", "Expected {\"id\": <number>}."))?;
            if !world.pull_requests[at]
                .comments
                .iter()
                .any(|c| c.id == parent_id)
            {
                return Err(errors::field_error(
                    "parent",
                    &format!("Comment {parent_id} not found on this pull request."),
                ));
            }
            Some(parent_id)
        }
    };
    let inline = match &body["inline"] {
        Value::Null => None,
        inline => {
            let path = inline["path"]
                .as_str()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| errors::field_error("inline", "inline.path is required."))?;
            Some(Inline {
                path: path.to_owned(),
                from: inline["from"].as_u64(),
                to: inline["to"].as_u64(),
            })
        }
    };
    let pending = body["pending"].as_bool().unwrap_or(false);
    let now = world.now();
    world.counter += 1;
    let comment = Comment {
        id: 700_000 + world.counter,
        user: user.clone(),
        raw,
        parent,
        inline,
        pending,
        deleted: false,
        resolution: None,
        created_on: now,
        updated_on: now,
    };
    let pr = &mut world.pull_requests[at];
    pr.comments.push(comment.clone());
    let me = pr.participant_mut(&user);
    if me.participated_on.is_none() {
        me.participated_on = Some(now);
    }
    let answer = render(&world, &world.pull_requests[at], &comment);
    if !pending {
        let pr_id = world.pull_requests[at].id;
        events::pull_request(
            &mut world,
            "pullrequest:comment_created",
            &repository.full_name(),
            pr_id,
            &user,
            Some(("comment", answer.clone())),
        );
    }
    Ok(created(answer))
}

type CommentId = (String, String, String, String);

/// The pull request's index and the comment's, visible to `user` (someone
/// else's drafts are not); 404 otherwise.
fn locate(
    world: &World,
    repository: &crate::world::Repository,
    id: &str,
    comment_id: &str,
    user: &str,
) -> Result<(usize, usize), Response> {
    let at = find(world, repository, id)?;
    let index = comment_id
        .parse::<u64>()
        .ok()
        .and_then(|cid| {
            world.pull_requests[at]
                .comments
                .iter()
                .position(|c| c.id == cid)
        })
        .filter(|&i| {
            let c = &world.pull_requests[at].comments[i];
            !c.pending || c.user == user
        })
        .ok_or_else(|| errors::error(404, "Comment not found"))?;
    Ok((at, index))
}

/// `PUT …/comments/{comment_id}`: the author edits `content.raw`, or
/// publishes a draft with `pending: false`. Anyone else gets 403.
pub async fn update_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentId>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id, &user)?;
    let body = json_body(&body)?;
    let comment = &world.pull_requests[at].comments[index];
    if comment.deleted {
        return Err(errors::error(404, "Comment not found"));
    }
    if comment.user != user {
        return Err(errors::forbidden("You can only edit your own comments."));
    }
    let raw = match &body["content"]["raw"] {
        Value::Null => None,
        Value::String(raw) if !raw.trim().is_empty() => Some(raw.clone()),
        _ => {
            return Err(errors::field_error(
                "content",
                "This field may not be blank.",
            ));
        }
    };
    let publish = match &body["pending"] {
        Value::Null => false,
        Value::Bool(false) => comment.pending,
        Value::Bool(true) if comment.pending => false,
        _ => {
            return Err(errors::field_error(
                "pending",
                "A published comment cannot become a draft again.",
            ));
        }
    };
    let now = world.now();
    let comment = &mut world.pull_requests[at].comments[index];
    if let Some(raw) = raw {
        comment.raw = raw;
    }
    if publish {
        comment.pending = false;
    }
    comment.updated_on = now;
    let comment = comment.clone();
    let answer = render(&world, &world.pull_requests[at], &comment);
    if !comment.pending {
        let pr_id = world.pull_requests[at].id;
        // Publishing a draft is when others first see it.
        let key = if publish {
            "pullrequest:comment_created"
        } else {
            "pullrequest:comment_updated"
        };
        events::pull_request(
            &mut world,
            key,
            &repository.full_name(),
            pr_id,
            &user,
            Some(("comment", answer.clone())),
        );
    }
    Ok(Json(answer).into_response())
}

/// `DELETE …/comments/{comment_id}`: the author's comment is marked
/// deleted (it stays in the list, `deleted: true`), 204.
pub async fn delete_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentId>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id, &user)?;
    let comment = &world.pull_requests[at].comments[index];
    if comment.deleted {
        return Err(errors::error(404, "Comment not found"));
    }
    if comment.user != user {
        return Err(errors::forbidden("You can only delete your own comments."));
    }
    let now = world.now();
    let comment = &mut world.pull_requests[at].comments[index];
    comment.deleted = true;
    comment.updated_on = now;
    let comment = comment.clone();
    if !comment.pending {
        let answer = render(&world, &world.pull_requests[at], &comment);
        let pr_id = world.pull_requests[at].id;
        events::pull_request(
            &mut world,
            "pullrequest:comment_deleted",
            &repository.full_name(),
            pr_id,
            &user,
            Some(("comment", answer)),
        );
    }
    Ok(no_content())
}

/// `POST …/comments/{comment_id}/resolve`: resolves a top-level comment on
/// the diff; 409 when it already is, 403 for replies and general comments
/// (the spec's statuses).
pub async fn resolve_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentId>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id, &user)?;
    let comment = &world.pull_requests[at].comments[index];
    if comment.parent.is_some() || comment.deleted {
        return Err(errors::forbidden(
            "Only top-level comments can be resolved.",
        ));
    }
    if comment.inline.is_none() {
        return Err(errors::forbidden(
            "Only comments on the diff can be resolved.",
        ));
    }
    if comment.resolution.is_some() {
        return Err(errors::error(
            409,
            "This comment thread is already resolved.",
        ));
    }
    let now = world.now();
    world.pull_requests[at].comments[index].resolution = Some((user.clone(), now));
    let comment = world.pull_requests[at].comments[index].clone();
    let answer = resolution(&world, &user, now);
    let rendered_comment = render(&world, &world.pull_requests[at], &comment);
    let pr_id = world.pull_requests[at].id;
    events::pull_request(
        &mut world,
        "pullrequest:comment_resolved",
        &repository.full_name(),
        pr_id,
        &user,
        Some(("comment", rendered_comment)),
    );
    Ok(Json(answer).into_response())
}

/// `DELETE …/comments/{comment_id}/resolve`: reopens the thread, 204; 404
/// when it is not resolved (the spec's status).
pub async fn reopen_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentId>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id, &user)?;
    if world.pull_requests[at].comments[index].parent.is_some() {
        return Err(errors::forbidden(
            "Only top-level comments can be resolved.",
        ));
    }
    if world.pull_requests[at].comments[index]
        .resolution
        .take()
        .is_none()
    {
        return Err(errors::error(404, "This comment thread is not resolved."));
    }
    let comment = world.pull_requests[at].comments[index].clone();
    let rendered_comment = render(&world, &world.pull_requests[at], &comment);
    let pr_id = world.pull_requests[at].id;
    events::pull_request(
        &mut world,
        "pullrequest:comment_reopened",
        &repository.full_name(),
        pr_id,
        &user,
        Some(("comment", rendered_comment)),
    );
    Ok(no_content())
}

/// The `comment_resolution` definition.
fn resolution(world: &World, user: &str, on: u64) -> Value {
    json!({
        "type": "comment_resolution",
        "user": account(world, user),
        "created_on": stamp(on),
    })
}

/// The `pullrequest_comment` definition.
pub fn render(world: &World, pr: &PullRequest, c: &Comment) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}/pullrequests/{}", pr.repo, pr.id);
    let html = format!("{base}/{}/pull-requests/{}", pr.repo, pr.id);
    let mut comment = json!({
        "type": "pullrequest_comment",
        "id": c.id,
        "created_on": stamp(c.created_on),
        "updated_on": stamp(c.updated_on),
        "content": rendered(&c.raw),
        "user": account(world, &c.user),
        "deleted": c.deleted,
        "pending": c.pending,
        "pullrequest": {
            "type": "pullrequest",
            "id": pr.id,
            "title": pr.title,
            "links": {
                "self": { "href": api },
                "html": { "href": html }
            }
        },
        "links": {
            "self": { "href": format!("{api}/comments/{}", c.id) },
            "html": { "href": format!("{html}/_/diff#comment-{}", c.id) }
        }
    });
    if let Some(parent) = c.parent {
        comment["parent"] = json!({
            "type": "pullrequest_comment",
            "id": parent,
            "links": {
                "self": { "href": format!("{api}/comments/{parent}") },
                "html": { "href": format!("{html}/_/diff#comment-{parent}") }
            }
        });
    }
    if let Some((user, on)) = &c.resolution {
        comment["resolution"] = resolution(world, user, *on);
    }
    if let Some(inline) = &c.inline {
        comment["inline"] = json!({
            "path": inline.path,
            "from": inline.from,
            "to": inline.to,
        });
        comment["links"]["code"] = json!({
            "href": format!("{api}/diff#chg-{}", inline.path)
        });
    }
    comment
}
