//! `R/pullrequests`, `R/pullrequests/{id}`; reviews, merges and comments
//! live in the sibling modules.

mod comments;
mod extras;
mod merge;
mod review;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use comments::{
    create_comment, delete_comment, get_comment, list_comments, reopen_comment, resolve_comment,
    update_comment,
};
pub use extras::{
    activity, commits, create_task, delete_task, diff, diffstat, get_task, list_tasks, patch,
    statuses, update_task,
};
pub use merge::{merge, task_status};
pub use review::{approve, decline, request_changes, unapprove, unrequest_changes};

use super::{
    created, json_body, open_repository, params, query_pairs, require_write, required_text,
};
use crate::pages::{self, PageParams};
use crate::render;
use crate::world::{Participant, PrState, PullRequest, Repository, World};
use crate::{Shared, bbql, errors, events, lock};

/// Fields `q` and `sort` accept on pull requests.
const FIELDS: [&str; 21] = [
    "id",
    "title",
    "description",
    "state",
    "draft",
    "author.uuid",
    "author.account_id",
    "author.display_name",
    "author.nickname",
    "source.branch.name",
    "destination.branch.name",
    "created_on",
    "updated_on",
    "comment_count",
    "close_source_branch",
    "task_count",
    "reviewers.uuid",
    "reviewers.account_id",
    "reviewers.nickname",
    "participants.user.uuid",
    "participants.state",
];

type Id = (String, String, String);

pub async fn list(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let mut states = Vec::new();
    for name in params(&query, "state") {
        states.push(
            PrState::parse(name)
                .ok_or_else(|| errors::error(400, &format!("Invalid state: {name}")))?,
        );
    }
    if states.is_empty() {
        states.push(PrState::Open);
    }
    let full_name = repository.full_name();
    let mut pulls: Vec<&PullRequest> = world
        .pull_requests
        .iter()
        .filter(|p| p.repo == full_name && states.contains(&p.state))
        .collect();
    // Newest first unless sorted.
    pulls.sort_by_key(|p| std::cmp::Reverse(p.id));
    let mut items: Vec<Value> = pulls
        .iter()
        .map(|p| render::pullrequest(&world, p))
        .collect();
    if let Some(q) = super::param(&query, "q") {
        let filter = bbql::parse(q, &FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    if let Some(sort) = super::param(&query, "sort") {
        bbql::sort(&mut items, sort, &FIELDS).map_err(|m| errors::error(400, &m))?;
    }
    let url = format!(
        "{}/2.0/repositories/{full_name}/pullrequests",
        world.base_url
    );
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

pub async fn get(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &id)?;
    Ok(Json(render::pullrequest(&world, &world.pull_requests[at])).into_response())
}

pub async fn create(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let body = json_body(&body)?;
    let full_name = repository.full_name();
    let title = required_text(&body, "title")?;
    let source = body["source"]["branch"]["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| errors::field_error("source", "This field is required."))?
        .to_owned();
    let source_head = world
        .branch_in(&full_name, &source)
        .map(|b| b.target.clone())
        .ok_or_else(|| errors::field_error("source", &format!("Branch not found: {source}")))?;
    let destination = match body["destination"]["branch"]["name"].as_str() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => repository.main_branch.clone(),
    };
    let destination_head = world
        .branch_in(&full_name, &destination)
        .map(|b| b.target.clone())
        .ok_or_else(|| {
            errors::field_error("destination", &format!("Branch not found: {destination}"))
        })?;
    if source == destination {
        return Err(errors::field_error(
            "source",
            "The source branch and the destination branch must differ.",
        ));
    }
    let reviewers = reviewers(&world, &body["reviewers"], &user)?.unwrap_or_default();
    let id = world.next_pull_request_id(&full_name);
    let now = world.now();
    let participants = reviewers
        .iter()
        .map(|r| Participant {
            user: r.clone(),
            reviewer: true,
            approved: false,
            state: None,
            participated_on: None,
        })
        .collect();
    let mut pr = PullRequest {
        repo: full_name.clone(),
        id,
        title,
        description: body["description"].as_str().unwrap_or_default().to_owned(),
        state: PrState::Open,
        draft: body["draft"].as_bool().unwrap_or(false),
        queued: false,
        author: user.clone(),
        source_branch: source,
        source_commit: source_head,
        destination_branch: destination,
        destination_commit: destination_head,
        merge_commit: None,
        close_source_branch: body["close_source_branch"].as_bool().unwrap_or(false),
        reviewers,
        participants,
        comments: Vec::new(),
        tasks: Vec::new(),
        updates: Vec::new(),
        closed_by: None,
        reason: String::new(),
        created_on: now,
        updated_on: now,
    };
    pr.record_update(&user, now);
    let answer = render::pullrequest(&world, &pr);
    world.pull_requests.push(pr);
    events::pull_request(
        &mut world,
        "pullrequest:created",
        &full_name,
        id,
        &user,
        None,
    );
    Ok(created(answer))
}

pub async fn update(
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
    if world.pull_requests[at].state != PrState::Open {
        return Err(errors::error(400, "You can't edit a closed pull request."));
    }
    let full_name = repository.full_name();
    let title = match &body["title"] {
        Value::Null => None,
        Value::String(t) if !t.trim().is_empty() => Some(t.trim().to_owned()),
        _ => return Err(errors::field_error("title", "This field may not be blank.")),
    };
    let destination = match body["destination"]["branch"]["name"].as_str() {
        None => None,
        Some(name) => {
            if world.branch_in(&full_name, name).is_none() {
                return Err(errors::field_error(
                    "destination",
                    &format!("Branch not found: {name}"),
                ));
            }
            if name == world.pull_requests[at].source_branch {
                return Err(errors::field_error(
                    "destination",
                    "The source branch and the destination branch must differ.",
                ));
            }
            Some(name.to_owned())
        }
    };
    let author = world.pull_requests[at].author.clone();
    let reviewers = reviewers(&world, &body["reviewers"], &author)?;
    let now = world.now();
    let pr = &mut world.pull_requests[at];
    if let Some(title) = title {
        pr.title = title;
    }
    if let Some(description) = body["description"].as_str() {
        pr.description = description.to_owned();
    }
    if let Some(destination) = destination {
        pr.destination_branch = destination;
    }
    if let Some(draft) = body["draft"].as_bool() {
        pr.draft = draft;
    }
    if let Some(close) = body["close_source_branch"].as_bool() {
        pr.close_source_branch = close;
    }
    if let Some(reviewers) = reviewers {
        // Reviewers who took part stay on as participants.
        pr.participants.retain(|p| {
            !p.reviewer || reviewers.contains(&p.user) || p.approved || p.state.is_some()
        });
        for p in &mut pr.participants {
            p.reviewer = reviewers.contains(&p.user);
        }
        for r in &reviewers {
            pr.participant_mut(r).reviewer = true;
        }
        pr.reviewers = reviewers;
    }
    pr.updated_on = now;
    pr.record_update(&user, now);
    let pr_id = pr.id;
    events::pull_request(
        &mut world,
        "pullrequest:updated",
        &full_name,
        pr_id,
        &user,
        None,
    );
    Ok(Json(render::pullrequest(&world, &world.pull_requests[at])).into_response())
}

/// `reviewers: [{uuid} | {account_id}]` → account uuids; None when absent.
fn reviewers(world: &World, value: &Value, author: &str) -> Result<Option<Vec<String>>, Response> {
    let Some(list) = value.as_array() else {
        return match value {
            Value::Null => Ok(None),
            _ => Err(errors::field_error(
                "reviewers",
                "Expected a list of accounts.",
            )),
        };
    };
    let mut uuids: Vec<String> = Vec::new();
    for entry in list {
        let user = world.users.iter().find(|u| {
            entry["uuid"].as_str() == Some(u.uuid.as_str())
                || entry["account_id"].as_str() == Some(u.account_id.as_str())
        });
        let Some(user) = user else {
            let named = entry["uuid"]
                .as_str()
                .or(entry["account_id"].as_str())
                .unwrap_or("?");
            return Err(errors::field_error(
                "reviewers",
                &format!("{named} is not a valid user."),
            ));
        };
        if user.uuid == author {
            return Err(errors::field_error(
                "reviewers",
                &format!(
                    "{} is the author and cannot be included as a reviewer.",
                    user.display_name
                ),
            ));
        }
        if !uuids.contains(&user.uuid) {
            uuids.push(user.uuid.clone());
        }
    }
    Ok(Some(uuids))
}

/// The index of the pull request `id` names in `repository`, or 404.
fn find(world: &World, repository: &Repository, id: &str) -> Result<usize, Response> {
    let full_name = repository.full_name();
    id.parse::<u64>()
        .ok()
        .and_then(|id| {
            world
                .pull_requests
                .iter()
                .position(|p| p.repo == full_name && p.id == id)
        })
        .ok_or_else(|| errors::error(404, "Pull request not found"))
}
