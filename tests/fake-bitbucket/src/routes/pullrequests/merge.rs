//! Merges: synchronous (200), or queued (202) behind a task that answers
//! PENDING a few times before it lands; strategies checked against the
//! destination branch.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Id, find};
use crate::render::{self, RefKind};
use crate::routes::{json_body, open_repository, param, query_pairs, require_write};
use crate::world::{Commit, MERGE_STRATEGIES, MergeParams, MergeTask, PrState, World};
use crate::{Shared, errors, events, lock};

pub async fn merge(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id)): Path<Id>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (user, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    require_write(&world, &user, &repository)?;
    let at = find(&world, &repository, &id)?;
    if std::mem::take(&mut world.timeout_next_merge) {
        return Err(errors::timed_out());
    }
    let query = query_pairs(query.as_deref());
    let run_async = match param(&query, "async") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(errors::error(
                400,
                &format!("Invalid value for async: {other}"),
            ));
        }
    } || world.force_async_merges;
    let body = json_body(&body)?;
    let params = check(&world, at, &body)?;
    let full_name = repository.full_name();
    let pr_id = world.pull_requests[at].id;
    if !run_async {
        land(&mut world, &full_name, pr_id, &params, &user)?;
        return Ok(Json(render::pullrequest(&world, &world.pull_requests[at])).into_response());
    }
    let task_id = world.fresh_uuid().trim_matches(['{', '}']).to_owned();
    world.pull_requests[at].queued = true;
    let polls_left = world.merge_polls_before_success;
    world.merge_tasks.push(MergeTask {
        id: task_id.clone(),
        repo: full_name.clone(),
        pull_request: pr_id,
        polls_left,
        params,
        requested_by: user,
        done: false,
    });
    let href = format!(
        "{}/2.0/repositories/{full_name}/pullrequests/{pr_id}/merge/task-status/{task_id}",
        world.base_url
    );
    let mut response = (
        StatusCode::ACCEPTED,
        Json(json!({
            "type": "task_status",
            "task_status": "PENDING",
            "links": { "self": { "href": href } }
        })),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&href) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn task_status(
    State(world): State<Shared>,
    headers: HeaderMap,
    Path((workspace, slug, id, task_id)): Path<(String, String, String, String)>,
) -> Result<Response, Response> {
    let mut world = lock(&world);
    let (_, repository) = open_repository(&world, &headers, &workspace, &slug)?;
    let at = find(&world, &repository, &id)?;
    let full_name = repository.full_name();
    let pr_id = world.pull_requests[at].id;
    let task = world
        .merge_tasks
        .iter()
        .position(|t| t.id == task_id && t.repo == full_name && t.pull_request == pr_id)
        .ok_or_else(|| errors::error(400, "The task ID does not relate to this pull request."))?;
    let href = format!(
        "{}/2.0/repositories/{full_name}/pullrequests/{pr_id}/merge/task-status/{task_id}",
        world.base_url
    );
    let task_ref = &mut world.merge_tasks[task];
    if !task_ref.done && task_ref.polls_left > 0 {
        task_ref.polls_left -= 1;
        return Ok(Json(json!({
            "type": "task_status",
            "task_status": "PENDING",
            "links": { "self": { "href": href } }
        }))
        .into_response());
    }
    if !task_ref.done {
        let (params, by) = (task_ref.params.clone(), task_ref.requested_by.clone());
        world.pull_requests[at].queued = false;
        land(&mut world, &full_name, pr_id, &params, &by)?;
        world.merge_tasks[task].done = true;
    }
    Ok(Json(json!({
        "type": "task_status",
        "task_status": "SUCCESS",
        "links": { "self": { "href": href } },
        "merge_result": render::pullrequest(&world, &world.pull_requests[at]),
    }))
    .into_response())
}

/// Validates a merge request against the pull request and the destination
/// branch's allowed strategies.
fn check(world: &World, at: usize, body: &Value) -> Result<MergeParams, Response> {
    let pr = &world.pull_requests[at];
    if pr.state != PrState::Open {
        return Err(errors::error(
            400,
            &format!(
                "You can't merge a pull request that is {}.",
                pr.state.as_str().to_lowercase()
            ),
        ));
    }
    if pr.draft {
        return Err(errors::error(400, "You can't merge a draft pull request."));
    }
    if pr.queued {
        return Err(errors::error(
            400,
            "A merge of this pull request is already in progress.",
        ));
    }
    let destination = world
        .branch_in(&pr.repo, &pr.destination_branch)
        .ok_or_else(|| errors::field_error("destination", "Branch not found"))?;
    let strategy = match &body["merge_strategy"] {
        Value::Null => destination.default_merge_strategy.clone(),
        Value::String(s) => s.clone(),
        _ => return Err(errors::field_error("merge_strategy", "Expected a string.")),
    };
    if !MERGE_STRATEGIES.contains(&strategy.as_str()) {
        return Err(errors::field_error(
            "merge_strategy",
            &format!(
                "\"{strategy}\" is not a valid choice. Choose one of: {}.",
                MERGE_STRATEGIES.join(", ")
            ),
        ));
    }
    if !destination.merge_strategies.contains(&strategy) {
        return Err(errors::field_error(
            "merge_strategy",
            &format!(
                "{strategy} is not allowed on {}; allowed: {}.",
                destination.name,
                destination.merge_strategies.join(", ")
            ),
        ));
    }
    let message = body["message"].as_str().map(str::to_owned);
    if message.as_ref().is_some_and(|m| m.len() > 128 * 1024) {
        return Err(errors::field_error("message", "Must be at most 128 KiB."));
    }
    if strategy.contains("fast_forward") {
        let source = source_head(world, at);
        if !world.is_ancestor(&pr.repo, &destination.target, &source) {
            return Err(errors::field_error(
                "merge_strategy",
                &format!(
                    "{strategy} is not possible: {} has commits that {} does not.",
                    destination.name, pr.source_branch
                ),
            ));
        }
    }
    Ok(MergeParams {
        strategy,
        message,
        close_source_branch: body["close_source_branch"]
            .as_bool()
            .unwrap_or(pr.close_source_branch),
    })
}

fn source_head(world: &World, at: usize) -> String {
    let pr = &world.pull_requests[at];
    world
        .branch_in(&pr.repo, &pr.source_branch)
        .map(|b| b.target.clone())
        .unwrap_or_else(|| pr.source_commit.clone())
}

/// Lands a validated merge: the destination moves, the pull request is
/// MERGED, the source branch goes if asked, and the hooks hear of it.
pub(super) fn land(
    world: &mut World,
    repo: &str,
    id: u64,
    params: &MergeParams,
    actor: &str,
) -> Result<(), Response> {
    let at = world
        .pull_requests
        .iter()
        .position(|p| p.repo == repo && p.id == id)
        .ok_or_else(|| errors::error(404, "Pull request not found"))?;
    let pr = world.pull_requests[at].clone();
    if pr.state != PrState::Open {
        return Err(errors::error(400, "The pull request is no longer open."));
    }
    let destination = world
        .branch_in(repo, &pr.destination_branch)
        .cloned()
        .ok_or_else(|| errors::field_error("destination", "Branch not found"))?;
    let source = source_head(world, at);
    let old_head = destination.target.clone();
    let gained: Vec<String> = {
        let behind = world.reachable(repo, std::slice::from_ref(&old_head));
        let ahead = world.reachable(repo, std::slice::from_ref(&source));
        let mut gained: Vec<&Commit> = world
            .commits
            .iter()
            .filter(|c| c.repo == repo && ahead.contains(&c.hash) && !behind.contains(&c.hash))
            .collect();
        gained.sort_by_key(|c| c.date);
        gained.iter().map(|c| c.hash.clone()).collect()
    };
    let now = world.now();
    let new_head = if params.strategy == "fast_forward" || params.strategy == "rebase_fast_forward"
    {
        source.clone()
    } else {
        let message = params.message.clone().unwrap_or_else(|| {
            let approvers: Vec<String> = pr
                .participants
                .iter()
                .filter(|p| p.approved)
                .filter_map(|p| world.user(&p.user))
                .map(|u| format!("Approved-by: {}", u.display_name))
                .collect();
            let mut message = format!(
                "Merged in {} (pull request #{})\n\n{}",
                pr.source_branch, pr.id, pr.title
            );
            if !approvers.is_empty() {
                message.push_str("\n\n");
                message.push_str(&approvers.join("\n"));
            }
            message
        });
        let paths = {
            let mut paths: Vec<String> = gained
                .iter()
                .filter_map(|h| world.commit_in(repo, h))
                .flat_map(|c| c.paths.iter().cloned())
                .collect();
            paths.sort();
            paths.dedup();
            paths
        };
        // The merged tree: what the source changed since the merge base,
        // on top of the destination.
        let tree = {
            let base = world
                .merge_base(repo, &old_head, &source)
                .map(|b| world.tree_at(repo, &b))
                .unwrap_or_default();
            std::sync::Arc::new(crate::world::tree::merge(
                &base,
                &world.tree_at(repo, &old_head),
                &world.tree_at(repo, &source),
            ))
        };
        let user = world.user(actor).cloned();
        let parents = if params.strategy == "merge_commit" || params.strategy == "rebase_merge" {
            vec![old_head.clone(), source.clone()]
        } else {
            vec![old_head.clone()]
        };
        world.add_commit(Commit {
            repo: repo.to_owned(),
            hash: String::new(),
            message,
            author: user.as_ref().map(|u| u.uuid.clone()),
            author_raw: user
                .map(|u| format!("{} <{}>", u.display_name, u.email))
                .unwrap_or_default(),
            date: now,
            parents,
            paths,
            tree,
        })
    };
    if let Some(branch) = world
        .branches
        .iter_mut()
        .find(|b| b.repo == repo && b.name == destination.name)
    {
        branch.target = new_head.clone();
    }
    let mut pushed = gained.clone();
    if new_head != source {
        pushed.push(new_head.clone());
    }
    let mut changes = vec![events::push_change(
        world,
        RefKind::Branch,
        repo,
        &destination.name,
        Some(&old_head),
        Some(&new_head),
        &pushed,
    )];
    let repository = world.repository_named(repo).cloned();
    let closes =
        params.close_source_branch && repository.is_some_and(|r| r.main_branch != pr.source_branch);
    if closes && let Some(change) = world.remove_branch(repo, &pr.source_branch) {
        changes.push(change);
    }
    let merged = &mut world.pull_requests[at];
    merged.state = PrState::Merged;
    merged.queued = false;
    merged.merge_commit = Some(new_head);
    merged.closed_by = Some(actor.to_owned());
    merged.close_source_branch = params.close_source_branch;
    merged.source_commit = source;
    merged.destination_commit = old_head;
    merged.updated_on = now;
    merged.record_update(actor, now);
    events::push(world, repo, actor, changes);
    events::pull_request(world, "pullrequest:fulfilled", repo, id, actor, None);
    Ok(())
}
