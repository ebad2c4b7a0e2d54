//! Approvals, change requests and decline.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Id, find};
use crate::clock::stamp;
use crate::render::{self, account, participant};
use crate::routes::{json_body, no_content, open_repository, require_write};
use crate::world::{PrState, ReviewState};
use crate::{Shared, errors, events, lock};

/// What a review action does to the caller's participant entry.
#[derive(Clone, Copy)]
enum Review {
    Approve,
    Unapprove,
    RequestChanges,
    RemoveRequest,
}

pub async fn approve(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    review(&world, &headers, id, Review::Approve)
}

pub async fn unapprove(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    review(&world, &headers, id, Review::Unapprove)
}

pub async fn request_changes(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    review(&world, &headers, id, Review::RequestChanges)
}

pub async fn unrequest_changes(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    review(&world, &headers, id, Review::RemoveRequest)
}

fn review(
    world: &Shared,
    headers: &HeaderMap,
    (workspace, slug, id): Id,
    action: Review,
) -> Result<Response, Response> {
    let mut world = lock(world);
    let (user, repository) = open_repository(&world, headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    if world.pull_requests[at].state != PrState::Open {
        return Err(errors::error(
            400,
            "You can't review a pull request that is no longer open.",
        ));
    }
    let undoing = matches!(action, Review::Unapprove | Review::RemoveRequest);
    if undoing && world.pull_requests[at].participant(&user).is_none() {
        // Nothing to take back.
        return Ok(no_content());
    }
    let now = world.now();
    let pr = &mut world.pull_requests[at];
    let me = pr.participant_mut(&user);
    let before = (me.approved, me.state);
    let key = match action {
        Review::Approve => {
            me.approved = true;
            me.state = Some(ReviewState::Approved);
            me.participated_on = Some(now);
            Some("pullrequest:approved")
        }
        Review::Unapprove => {
            me.approved = false;
            if me.state == Some(ReviewState::Approved) {
                me.state = None;
            }
            before.0.then_some("pullrequest:unapproved")
        }
        Review::RequestChanges => {
            me.approved = false;
            me.state = Some(ReviewState::ChangesRequested);
            me.participated_on = Some(now);
            Some("pullrequest:changes_request_created")
        }
        Review::RemoveRequest => {
            if me.state == Some(ReviewState::ChangesRequested) {
                me.state = None;
            }
            (before.1 == Some(ReviewState::ChangesRequested))
                .then_some("pullrequest:changes_request_removed")
        }
    };
    let answer = participant(
        &world,
        world.pull_requests[at].participant(&user).expect("added"),
    );
    let pr_id = world.pull_requests[at].id;
    if let Some(key) = key {
        let field = if key.contains("changes_request") {
            "changes_request"
        } else {
            "approval"
        };
        let extra = json!({ "date": stamp(now), "user": account(&world, &user) });
        events::pull_request(
            &mut world,
            key,
            &repository.full_name(),
            pr_id,
            &user,
            Some((field, extra)),
        );
    }
    Ok(match action {
        Review::Approve | Review::RequestChanges => Json(answer).into_response(),
        Review::Unapprove | Review::RemoveRequest => no_content(),
    })
}

pub async fn decline(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    if std::mem::take(&mut world.timeout_next_decline) {
        return Err(errors::timed_out());
    }
    if world.pull_requests[at].state != PrState::Open {
        return Err(errors::error(
            400,
            "You can't decline a pull request that is not open.",
        ));
    }
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let now = world.now();
    let source = world.pull_requests[at].source_branch.clone();
    let destination = world.pull_requests[at].destination_branch.clone();
    let source_head = world
        .branch_in(&full_name, &source)
        .map(|b| b.target.clone());
    let destination_head = world
        .branch_in(&full_name, &destination)
        .map(|b| b.target.clone());
    let pr = &mut world.pull_requests[at];
    pr.state = PrState::Declined;
    pr.closed_by = Some(user.clone());
    pr.reason = body["message"].as_str().unwrap_or_default().to_owned();
    pr.updated_on = now;
    pr.record_update(&user, now);
    pr.source_commit = source_head.unwrap_or(pr.source_commit.clone());
    pr.destination_commit = destination_head.unwrap_or(pr.destination_commit.clone());
    let pr_id = pr.id;
    events::pull_request(
        &mut world,
        "pullrequest:rejected",
        &full_name,
        pr_id,
        &user,
        None,
    );
    Ok(Json(render::pullrequest(&world, &world.pull_requests[at])).into_response())
}
