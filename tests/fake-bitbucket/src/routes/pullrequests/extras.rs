//! What a reviewer reads around a pull request: the diff, diffstat and
//! patch (302s to the repository-level endpoints, as live answers), its
//! commits, its activity log, its tasks and its build statuses.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Id, find};
use crate::clock::stamp;
use crate::pages::{self, PageParams};
use crate::render::{self, account, rendered};
use crate::routes::source::redirect;
use crate::routes::{
    created, json_body, no_content, open_repository, param, query_pairs, require_write,
    required_content,
};
use crate::world::{Commit, PrState, PullRequest, Task, World};
use crate::{Shared, bbql, errors, lock};

/// The source and destination heads a pull request compares: the branches'
/// while it is open, the recorded ones once closed.
fn heads(world: &World, pr: &PullRequest) -> (String, String) {
    let live = |name: &str, stored: &str| match world.branch_in(&pr.repo, name) {
        Some(b) if pr.state == PrState::Open => b.target.clone(),
        _ => stored.to_owned(),
    };
    (
        live(&pr.source_branch, &pr.source_commit),
        live(&pr.destination_branch, &pr.destination_commit),
    )
}

/// 302 to `R/{kind}/{source}..{destination}`: live redirects the pull
/// request's diff, diffstat and patch to the repository-level endpoint; the
/// diff and diffstat ask for the topic (three-dot) comparison, against the
/// merge base.
fn redirect_to(
    world: &Shared,
    headers: &HeaderMap,
    (workspace, slug, id): Id,
    kind: &str,
) -> Result<Response, Response> {
    let world = lock(world);
    let (_, repository) = open_repository(&world, headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let (source, destination) = heads(&world, pr);
    let query = if kind == "patch" { "" } else { "?topic=true" };
    Ok(redirect(&format!(
        "{}/2.0/repositories/{}/{kind}/{source}..{destination}{query}",
        world.base_url, pr.repo
    )))
}

pub async fn diff(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    redirect_to(&world, &headers, id, "diff")
}

pub async fn diffstat(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    redirect_to(&world, &headers, id, "diffstat")
}

pub async fn patch(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<Id>,
) -> Result<Response, Response> {
    redirect_to(&world, &headers, id, "patch")
}

/// The commits on the source that the destination lacks, newest first.
pub async fn commits(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let (source, destination) = heads(&world, pr);
    let ahead = world.reachable(&pr.repo, std::slice::from_ref(&source));
    let behind = world.reachable(&pr.repo, std::slice::from_ref(&destination));
    let mut list: Vec<&Commit> = world
        .commits
        .iter()
        .filter(|c| c.repo == pr.repo && ahead.contains(&c.hash) && !behind.contains(&c.hash))
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse(c.date));
    let url = format!(
        "{}/2.0/repositories/{}/pullrequests/{}/commits",
        world.base_url, pr.repo, pr.id
    );
    Ok(Json(pages::page_of(list, &page_params, &url, &query, |c| {
        render::commit(&world, c)
    }))
    .into_response())
}

/// The pull request as activity entries embed it.
fn pr_ref(world: &World, pr: &PullRequest) -> Value {
    let base = &world.base_url;
    json!({
        "type": "pullrequest",
        "id": pr.id,
        "title": pr.title,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{}/pullrequests/{}", pr.repo, pr.id) },
            "html": { "href": format!("{base}/{}/pull-requests/{}", pr.repo, pr.id) }
        }
    })
}

/// The activity log, newest first: `update` entries (creation, edits,
/// closing), `approval` and `changes_requested` for the reviews that stand,
/// and `comment` entries (not someone else's drafts).
pub async fn activity(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let reference = pr_ref(&world, pr);
    let (source, destination) = heads(&world, pr);
    let update = |on: u64, actor: &str, state: PrState, title: &str, description: &str| {
        let endpoint = |branch: &str, hash: &str| {
            json!({
                "branch": { "name": branch },
                "commit": render::reference(&world, &pr.repo, hash, true),
                "repository": render::summary_named(&world, &pr.repo),
            })
        };
        json!({
            "update": {
                "state": state.as_str(),
                "title": title,
                "description": description,
                "reason": if state == PrState::Declined { pr.reason.as_str() } else { "" },
                "author": account(&world, actor),
                "date": stamp(on),
                "source": endpoint(&pr.source_branch, &source),
                "destination": endpoint(&pr.destination_branch, &destination),
            },
            "pull_request": reference.clone(),
        })
    };
    let mut entries: Vec<(u64, Value)> = Vec::new();
    // Seeded pull requests were opened (and closed) before the log began.
    let opened = pr
        .updates
        .first()
        .is_some_and(|u| u.state == PrState::Open && u.on <= pr.created_on);
    if !opened {
        entries.push((
            pr.created_on,
            update(
                pr.created_on,
                &pr.author,
                PrState::Open,
                &pr.title,
                &pr.description,
            ),
        ));
    }
    if pr.state != PrState::Open && !pr.updates.iter().any(|u| u.state == pr.state) {
        let closer = pr.closed_by.as_deref().unwrap_or(&pr.author);
        entries.push((
            pr.updated_on,
            update(pr.updated_on, closer, pr.state, &pr.title, &pr.description),
        ));
    }
    for u in &pr.updates {
        entries.push((
            u.on,
            update(u.on, &u.actor, u.state, &u.title, &u.description),
        ));
    }
    for p in &pr.participants {
        let Some(on) = p.participated_on else {
            continue;
        };
        let review = json!({ "date": stamp(on), "user": account(&world, &p.user), "pullrequest": reference.clone() });
        if p.approved {
            entries.push((
                on,
                json!({ "approval": review, "pull_request": reference.clone() }),
            ));
        } else if p.state == Some(crate::world::ReviewState::ChangesRequested) {
            entries.push((
                on,
                json!({ "changes_requested": review, "pull_request": reference.clone() }),
            ));
        }
    }
    for c in pr.comments.iter().filter(|c| !c.pending || c.user == user) {
        entries.push((
            c.created_on,
            json!({
                "comment": super::comments::render(&world, pr, c),
                "pull_request": reference.clone(),
            }),
        ));
    }
    entries.sort_by_key(|(on, _)| std::cmp::Reverse(*on));
    let url = format!(
        "{}/2.0/repositories/{}/pullrequests/{}/activity",
        world.base_url, pr.repo, pr.id
    );
    let items = entries.into_iter().map(|(_, v)| v).collect();
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

/// Fields `q` and `sort` accept on tasks.
const TASK_FIELDS: [&str; 6] = [
    "id",
    "state",
    "content.raw",
    "creator.uuid",
    "created_on",
    "updated_on",
];

/// The `pullrequest_comment_task` definition.
fn render_task(world: &World, pr: &PullRequest, t: &Task) -> Value {
    let base = &world.base_url;
    let api = format!("{base}/2.0/repositories/{}/pullrequests/{}", pr.repo, pr.id);
    let html = format!("{base}/{}/pull-requests/{}", pr.repo, pr.id);
    let mut task = json!({
        "id": t.id,
        "state": if t.resolved { "RESOLVED" } else { "UNRESOLVED" },
        "content": rendered(&t.raw),
        "creator": account(world, &t.creator),
        "pending": false,
        "created_on": stamp(t.created_on),
        "updated_on": stamp(t.updated_on),
        "resolved_on": t.resolution.as_ref().map(|(_, on)| stamp(*on)),
        "resolved_by": t.resolution.as_ref().map(|(u, _)| account(world, u)),
        "links": {
            "self": { "href": format!("{api}/tasks/{}", t.id) },
            "html": { "href": format!("{html}/_/diff#task-{}", t.id) }
        }
    });
    if let Some(comment) = t.comment {
        task["comment"] = json!({
            "type": "pullrequest_comment",
            "id": comment,
            "links": {
                "self": { "href": format!("{api}/comments/{comment}") },
                "html": { "href": format!("{html}/_/diff#comment-{comment}") }
            }
        });
    }
    task
}

pub async fn list_tasks(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let page_params = PageParams::from_query(&query)?;
    let mut items: Vec<Value> = pr
        .tasks
        .iter()
        .map(|t| render_task(&world, pr, t))
        .collect();
    if let Some(q) = param(&query, "q") {
        let filter = bbql::parse(q, &TASK_FIELDS).map_err(|m| errors::error(400, &m))?;
        items.retain(|item| filter.matches(item));
    }
    bbql::sort(
        &mut items,
        param(&query, "sort").unwrap_or("created_on"),
        &TASK_FIELDS,
    )
    .map_err(|m| errors::error(400, &m))?;
    let url = format!(
        "{}/2.0/repositories/{}/pullrequests/{}/tasks",
        world.base_url, pr.repo, pr.id
    );
    Ok(Json(pages::page(items, &page_params, &url, &query)).into_response())
}

pub async fn create_task(
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
    let comment = match &body["comment"] {
        Value::Null => None,
        comment => {
            let cid = comment["id"]
                .as_u64()
                .ok_or_else(|| errors::field_error("comment", "Expected {\"id\": <number>}."))?;
            if !world.pull_requests[at]
                .comments
                .iter()
                .any(|c| c.id == cid && !c.deleted)
            {
                return Err(errors::field_error(
                    "comment",
                    &format!("Comment {cid} not found on this pull request."),
                ));
            }
            Some(cid)
        }
    };
    let now = world.now();
    world.counter += 1;
    let task = Task {
        id: 900_000 + world.counter,
        creator: user,
        raw,
        resolved: false,
        created_on: now,
        updated_on: now,
        resolution: None,
        comment,
    };
    world.pull_requests[at].tasks.push(task.clone());
    let answer = render_task(&world, &world.pull_requests[at], &task);
    let location = answer["links"]["self"]["href"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut response = created(answer);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

type TaskId = (String, String, String, String);

fn locate_task(
    world: &World,
    repository: &crate::world::Repository,
    id: &str,
    task_id: &str,
) -> Result<(usize, usize), Response> {
    let at = find(world, repository, id)?;
    let index = task_id
        .parse::<u64>()
        .ok()
        .and_then(|tid| {
            world.pull_requests[at]
                .tasks
                .iter()
                .position(|t| t.id == tid)
        })
        .ok_or_else(|| errors::error(404, "Task not found"))?;
    Ok((at, index))
}

pub async fn get_task(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, task_id)): Path<TaskId>,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let (at, index) = locate_task(&world, &repository, &id, &task_id)?;
    let pr = &world.pull_requests[at];
    Ok(Json(render_task(&world, pr, &pr.tasks[index])).into_response())
}

/// `PUT …/tasks/{task_id}`: new `content.raw` and/or `state`
/// (RESOLVED/UNRESOLVED); resolving records who and when.
pub async fn update_task(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, task_id)): Path<TaskId>,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let (at, index) = locate_task(&world, &repository, &id, &task_id)?;
    let body = json_body(&body)?;
    let raw = match &body["content"] {
        Value::Null => None,
        _ => Some(required_content(&body)?),
    };
    let resolved = match &body["state"] {
        Value::Null => None,
        Value::String(s) if s == "RESOLVED" => Some(true),
        Value::String(s) if s == "UNRESOLVED" => Some(false),
        _ => {
            return Err(errors::field_error(
                "state",
                "Expected RESOLVED or UNRESOLVED.",
            ));
        }
    };
    if raw.is_none() && resolved.is_none() {
        return Err(errors::error(
            400,
            "Nothing to update: give content or state.",
        ));
    }
    let now = world.now();
    let task = &mut world.pull_requests[at].tasks[index];
    if let Some(raw) = raw {
        task.raw = raw;
    }
    if let Some(resolved) = resolved {
        if resolved && !task.resolved {
            task.resolution = Some((user.clone(), now));
        }
        if !resolved {
            task.resolution = None;
        }
        task.resolved = resolved;
    }
    task.updated_on = now;
    let pr = &world.pull_requests[at];
    Ok(Json(render_task(&world, pr, &pr.tasks[index])).into_response())
}

/// `DELETE …/tasks/{task_id}`: its creator or the pull request's author may.
pub async fn delete_task(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, task_id)): Path<TaskId>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let (at, index) = locate_task(&world, &repository, &id, &task_id)?;
    let pr = &world.pull_requests[at];
    if pr.tasks[index].creator != user && pr.author != user {
        return Err(errors::forbidden("You can only delete tasks you created."));
    }
    world.pull_requests[at].tasks.remove(index);
    Ok(no_content())
}

/// `GET …/statuses`: the build statuses of the source head.
pub async fn statuses(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let pr = &world.pull_requests[find(&world, &repository, &id)?];
    let query = query_pairs(query.as_deref());
    let (source, _) = heads(&world, pr);
    let url = format!(
        "{}/2.0/repositories/{}/pullrequests/{}/statuses",
        world.base_url, pr.repo, pr.id
    );
    crate::routes::statuses::listing(&world, &pr.repo, &source, &query, &url)
}
