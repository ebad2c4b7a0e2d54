//! `R/issues/{id}/comments[/{comment_id}]`: oldest first, filtered and
//! sorted with BBQL; writing takes what other issue writes take.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{find, open_tracker, summary};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::{account, rendered};
use crate::routes::{
    created, filter_and_sort, json_body, no_content, query_pairs, require_write, required_content,
};
use crate::world::{Issue, IssueComment, World};
use crate::{Shared, errors, events, lock};

/// Fields `q` accepts on issue comments (the spec declares no `sort` here).
const FIELDS: [&str; 6] = [
    "id",
    "created_on",
    "updated_on",
    "content.raw",
    "user.uuid",
    "user.display_name",
];

type CommentAt = (String, String, String, String);

pub async fn list_comments(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    let issue = &world.issues[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let params = PageParams::from_query(&query)?;
    let mut items: Vec<Value> = issue
        .comments
        .iter()
        .map(|c| render(&world, issue, c))
        .collect();
    filter_and_sort(&mut items, &query, &FIELDS)?;
    let url = format!(
        "{}/2.0/repositories/{}/issues/{}/comments",
        world.base_url, issue.repo, issue.id
    );
    Ok(Json(pages::page(items, &params, &url, &query)).into_response())
}

pub async fn get_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentAt>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id)?;
    let issue = &world.issues[at];
    Ok(Json(render(&world, issue, &issue.comments[index])).into_response())
}

pub async fn create_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    let raw = required_content(&json_body(&body)?)?;
    let now = world.now();
    world.counter += 1;
    let comment = IssueComment {
        id: 800_000 + world.counter,
        user: user.clone(),
        raw,
        created_on: now,
        updated_on: now,
    };
    world.issues[at].comments.push(comment.clone());
    let issue = &world.issues[at];
    let answer = render(&world, issue, &comment);
    let (full_name, issue_id) = (issue.repo.clone(), issue.id);
    events::issue(
        &mut world,
        "issue:comment_created",
        &full_name,
        issue_id,
        &user,
        vec![("comment", answer.clone())],
    );
    Ok(created(answer))
}

/// Only `content.raw` can change; a blank one is refused as on create.
pub async fn update_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentAt>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id)?;
    let raw = required_content(&json_body(&body)?)?;
    let now = world.now();
    let comment = &mut world.issues[at].comments[index];
    comment.raw = raw;
    comment.updated_on = now;
    let issue = &world.issues[at];
    Ok(Json(render(&world, issue, &issue.comments[index])).into_response())
}

pub async fn delete_comment(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, comment_id)): Path<CommentAt>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_tracker(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let (at, index) = locate(&world, &repository, &id, &comment_id)?;
    world.issues[at].comments.remove(index);
    Ok(no_content())
}

/// The issue's index and the comment's; 404 for either missing.
fn locate(
    world: &World,
    repository: &crate::world::Repository,
    id: &str,
    comment_id: &str,
) -> Result<(usize, usize), Response> {
    let at = find(world, repository, id)?;
    let index = comment_id
        .parse::<u64>()
        .ok()
        .and_then(|cid| world.issues[at].comments.iter().position(|c| c.id == cid))
        .ok_or_else(|| errors::error(404, "Comment not found"))?;
    Ok((at, index))
}

/// The `issue_comment` definition.
fn render(world: &World, issue: &Issue, c: &IssueComment) -> Value {
    let base = &world.base_url;
    json!({
        "type": "issue_comment",
        "id": c.id,
        "created_on": stamp(c.created_on),
        "updated_on": stamp(c.updated_on),
        "content": rendered(&c.raw),
        "user": account(world, &c.user),
        "issue": summary(world, issue),
        "links": {
            "self": { "href": format!(
                "{base}/2.0/repositories/{}/issues/{}/comments/{}",
                issue.repo, issue.id, c.id
            ) },
            "html": { "href": format!(
                "{base}/{}/issues/{}#comment-{}",
                issue.repo, issue.id, c.id
            ) }
        }
    })
}
