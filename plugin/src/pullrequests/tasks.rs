//! Pull request tasks: `R/pullrequests/{id}/tasks[/{task_id}]`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Id, Raw, pull_request};
use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Text, optional, required};
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::reconcile::{created_after, created_since, reconcile};
use crate::types::{
    CreatePullRequestTaskRequest, ListPullRequestTasksRequest, PullRequestTask,
    PullRequestTaskPage, PullRequestTaskRef, TaskState, UpdatePullRequestTaskRequest,
};

pub const TASKS: Listing = Listing::new("pullrequest-tasks", &[]);

/// `pullrequest_comment_task`
#[derive(Deserialize)]
pub struct ApiTask {
    id: Option<u64>,
    content: Option<Text>,
    state: Option<String>,
    creator: Option<ApiAccount>,
    comment: Option<ApiTaskComment>,
    created_on: Option<String>,
    updated_on: Option<String>,
    resolved_on: Option<String>,
    resolved_by: Option<ApiAccount>,
}

#[derive(Deserialize)]
struct ApiTaskComment {
    id: Option<u64>,
}

impl ApiTask {
    pub fn into_task(self) -> PullRequestTask {
        PullRequestTask {
            id: self.id.unwrap_or_default(),
            content: self.content.and_then(|c| c.raw).unwrap_or_default(),
            state: if self.state.as_deref() == Some("RESOLVED") {
                TaskState::Resolved
            } else {
                TaskState::Unresolved
            },
            creator: self.creator.map(ApiAccount::into_ref),
            comment_id: self.comment.and_then(|c| c.id),
            created_on: self.created_on,
            updated_on: self.updated_on,
            resolved_on: self.resolved_on,
            resolved_by: self.resolved_by.map(ApiAccount::into_ref),
        }
    }
}

fn state_to_api(state: TaskState) -> &'static str {
    match state {
        TaskState::Resolved => "RESOLVED",
        TaskState::Unresolved => "UNRESOLVED",
    }
}

pub fn tasks_path(workspace: &str, repo_slug: &str, id: u64) -> Result<ApiPath, Error> {
    Ok(pull_request(workspace, repo_slug, id)?.literal("tasks"))
}

fn task_path(workspace: &str, repo_slug: &str, id: u64, task_id: u64) -> Result<ApiPath, Error> {
    tasks_path(workspace, repo_slug, id)?.param("task_id", &task_id.to_string())
}

/// Tasks, optionally in one state: `state="RESOLVED"` joins the caller's
/// BBQL (`page.q`) with `AND`.
pub fn list(
    upstream: &dyn Upstream,
    request: ListPullRequestTasksRequest,
) -> Result<PullRequestTaskPage, Error> {
    let path = tasks_path(&request.workspace, &request.repo_slug, request.id)?;
    let mut page = request.page.clone();
    if let Some(state) = request.state {
        let filter = format!("state=\"{}\"", state_to_api(state));
        let page = page.get_or_insert_with(page::first_page);
        if page.cursor.is_none() {
            page.q = Some(
                match page.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                    Some(q) => format!("({q}) AND {filter}"),
                    None => filter,
                },
            );
        }
    }
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        page.as_ref(),
        TASKS,
        ApiTask::into_task,
    )?;
    Ok(PullRequestTaskPage { items, next_cursor })
}

/// `pullrequest_task_create`
#[derive(Serialize)]
struct CreateBody<'a> {
    content: Raw<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<Id>,
}

/// Adds a task. Never retried: when its answer is lost, the newest tasks
/// are read and one with the same text (and comment), created since the
/// call started, is the one it made; else the outcome stays unknown.
pub fn create(
    upstream: &dyn Upstream,
    request: CreatePullRequestTaskRequest,
) -> Result<PullRequestTask, Error> {
    let started = OffsetDateTime::now_utc();
    let content = required("content", &request.content)?;
    let body = CreateBody {
        content: Raw { raw: content },
        comment: request.comment_id.map(|id| Id { id }),
    };
    let path = tasks_path(&request.workspace, &request.repo_slug, request.id)?;
    let endpoint = Endpoint::post(path.clone()).json(&body)?;
    let outcome = upstream.json::<ApiTask>(&endpoint).map(ApiTask::into_task);
    reconcile(outcome, || {
        let since = created_since(started)?;
        let newest = Endpoint::get(path)
            .query("sort", "-created_on")
            .query("pagelen", page::MAX_PAGE_SIZE.to_string());
        let page: Paginated<ApiTask> = upstream.json(&newest)?;
        Ok(page
            .values
            .into_iter()
            .filter(|task| created_after(task.created_on.as_deref(), &since))
            .filter(|task| {
                task.content
                    .as_ref()
                    .and_then(|c| c.raw.as_deref())
                    .map(str::trim)
                    == Some(content)
            })
            .filter(|task| task.comment.as_ref().and_then(|c| c.id) == request.comment_id)
            .map(ApiTask::into_task)
            .next())
    })
}

/// `pullrequest_task_update`
#[derive(Serialize)]
struct UpdateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Raw<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
}

pub fn update(
    upstream: &dyn Upstream,
    request: UpdatePullRequestTaskRequest,
) -> Result<PullRequestTask, Error> {
    let body = UpdateBody {
        content: optional("content", request.content.as_deref())?.map(|raw| Raw { raw }),
        state: request.state.map(state_to_api),
    };
    if body.content.is_none() && body.state.is_none() {
        return Err(Error::validation(
            "content",
            "nothing to change: give the new content or a state",
        ));
    }
    let path = task_path(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.task_id,
    )?;
    let task: ApiTask = upstream.json(&Endpoint::put(path).json(&body)?)?;
    Ok(task.into_task())
}

/// Deletes a task (204) and answers the reference it was given.
pub fn delete(
    upstream: &dyn Upstream,
    request: PullRequestTaskRef,
) -> Result<PullRequestTaskRef, Error> {
    let path = task_path(
        &request.workspace,
        &request.repo_slug,
        request.id,
        request.task_id,
    )?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    fn now() -> String {
        OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    fn new_task() -> CreatePullRequestTaskRequest {
        CreatePullRequestTaskRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
            content: "Add a test".into(),
            comment_id: Some(17),
        }
    }

    #[test]
    fn create_sends_the_task_create_shape_once() {
        let script = Script::new().ok(
            json!({"id": 9, "content": {"raw": "Add a test"}, "state": "UNRESOLVED",
                                            "comment": {"id": 17}}),
        );
        let task = create(&script, new_task()).unwrap();
        assert_eq!(
            (task.id, task.comment_id, task.state),
            (9, Some(17), TaskState::Unresolved)
        );
        assert_eq!(
            script.body(0),
            json!({"content": {"raw": "Add a test"}, "comment": {"id": 17}})
        );
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/acme/api/pullrequests/4/tasks"
        );
    }

    #[test]
    fn a_lost_create_answers_the_task_it_made_or_stays_unknown() {
        let found = json!({"values": [
            {"id": 3, "content": {"raw": "Add a test"}, "comment": {"id": 17}, "created_on": "2020-01-01T00:00:00Z"},
            {"id": 9, "content": {"raw": "Add a test"}, "comment": {"id": 17}, "created_on": now()}
        ]});
        let script = Script::new()
            .answer(Err(Error::outcome_unknown("reset")))
            .ok(found);
        assert_eq!(create(&script, new_task()).unwrap().id, 9);
        let sent = script.sent.borrow();
        assert_eq!(sent[1].method, http::Method::GET, "never a second POST");
        assert_eq!(sent[1].query_string(), "sort=-created_on&pagelen=100");
        drop(sent);

        let script = Script::new()
            .answer(Err(Error::outcome_unknown("reset")))
            .ok(json!({"values": []}));
        let error = create(&script, new_task()).unwrap_err();
        assert_eq!(error.code(), "outcome_unknown");
        assert!(!error.retryable());
    }

    #[test]
    fn a_state_filter_joins_the_callers_query() {
        let script = Script::new().ok(json!({"values": [{"id": 1, "state": "RESOLVED"}]}));
        let page = list(
            &script,
            ListPullRequestTasksRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                state: Some(TaskState::Resolved),
                page: Some(crate::types::PageRequest {
                    q: Some("creator.uuid = \"{me}\"".into()),
                    ..page::first_page()
                }),
            },
        )
        .unwrap();
        assert_eq!(page.items[0].state, TaskState::Resolved);
        assert_eq!(
            script.sent.borrow()[0].query_string(),
            "pagelen=50&q=%28creator.uuid%20%3D%20%22%7Bme%7D%22%29%20AND%20state%3D%22RESOLVED%22"
        );
    }

    #[test]
    fn update_sends_only_what_changes_and_refuses_nothing() {
        let script = Script::new().ok(json!({"id": 1, "state": "RESOLVED"}));
        let request = |state| UpdatePullRequestTaskRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
            task_id: 1,
            content: None,
            state,
        };
        update(&script, request(Some(TaskState::Resolved))).unwrap();
        assert_eq!(script.body(0), json!({"state": "RESOLVED"}));
        let Err(Error::Validation(_)) = update(&script, request(None)) else {
            panic!()
        };
        assert_eq!(script.requests_sent(), 1);
    }
}
