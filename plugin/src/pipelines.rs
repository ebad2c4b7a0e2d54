//! Pipelines: `R/pipelines[/{uuid}[/steps[/{step}/log]|/stopPipeline]]`.
//!
//! Each run and step carries one `run-status` derived from Bitbucket's
//! state, stage and result, so callers never re-derive it.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::model::{ApiAccount, Hashed, Links, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::transport::{Client, Endpoint};
use crate::types::{
    ListPipelineStepsRequest, ListPipelinesRequest, Pipeline, PipelinePage, PipelineRef,
    PipelineStep, PipelineStepPage, PipelineTarget, RunStatus, StepLog, StepLogRequest,
    TriggerPipelineRequest,
};

/// Pipelines take their own filters, not BBQL, and sometimes omit `next`.
const PIPELINES: Listing = Listing {
    filter: false,
    number_pages_when_next_missing: true,
    ..Listing::FULL
};
const STEPS: Listing = Listing {
    filter: false,
    sort: false,
    number_pages_when_next_missing: true,
    ..Listing::FULL
};
const SORTS: [&str; 6] = [
    "created_on",
    "-created_on",
    "creator.uuid",
    "-creator.uuid",
    "run_creation_date",
    "-run_creation_date",
];

#[derive(Deserialize)]
pub struct ApiPipeline {
    uuid: Option<String>,
    build_number: Option<u64>,
    creator: Option<ApiAccount>,
    target: Option<ApiTarget>,
    trigger: Option<ApiNamed>,
    state: Option<ApiState>,
    created_on: Option<String>,
    completed_on: Option<String>,
    build_seconds_used: Option<u64>,
    duration_in_seconds: Option<u64>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct ApiTarget {
    ref_type: Option<String>,
    ref_name: Option<String>,
    commit: Option<Hashed>,
    selector: Option<ApiSelector>,
    pullrequest: Option<ApiId>,
}

#[derive(Deserialize)]
struct ApiSelector {
    #[serde(rename = "type")]
    kind: Option<String>,
    pattern: Option<String>,
}

#[derive(Deserialize)]
struct ApiId {
    id: Option<u64>,
}

/// Bitbucket's states, stages, results and triggers: a `name`, or a `type`
/// like `pipeline_trigger_push` when the name is missing.
#[derive(Deserialize)]
struct ApiNamed {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl ApiNamed {
    fn label(&self) -> Option<String> {
        self.name.clone().or_else(|| {
            let kind = self.kind.as_deref()?;
            Some(kind.rsplit('_').next()?.to_ascii_uppercase())
        })
    }
}

#[derive(Deserialize)]
struct ApiState {
    name: Option<String>,
    stage: Option<ApiNamed>,
    result: Option<ApiNamed>,
}

#[derive(Deserialize)]
struct ApiStep {
    uuid: Option<String>,
    name: Option<String>,
    state: Option<ApiState>,
    started_on: Option<String>,
    completed_on: Option<String>,
    duration_in_seconds: Option<u64>,
}

struct Status {
    status: RunStatus,
    state: String,
    stage: Option<String>,
    result: Option<String>,
}

fn status(state: Option<&ApiState>) -> Status {
    let name = state
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| "UNKNOWN".to_owned());
    let stage = state.and_then(|s| s.stage.as_ref()?.label());
    let result = state.and_then(|s| s.result.as_ref()?.label());
    let status = match (name.as_str(), stage.as_deref(), result.as_deref()) {
        ("PENDING" | "PARSING", ..) => RunStatus::Pending,
        ("IN_PROGRESS", Some("PAUSED" | "HALTED"), _) => RunStatus::Paused,
        ("IN_PROGRESS" | "RUNNING" | "BUILDING", ..) => RunStatus::Running,
        ("COMPLETED", _, Some("SUCCESSFUL" | "PASSED")) => RunStatus::Successful,
        ("COMPLETED", _, Some("FAILED")) => RunStatus::Failed,
        ("COMPLETED", _, Some("ERROR")) => RunStatus::Error,
        ("COMPLETED", _, Some("STOPPED")) => RunStatus::Stopped,
        ("COMPLETED", _, Some("EXPIRED")) => RunStatus::Expired,
        ("PAUSED" | "HALTED", ..) => RunStatus::Paused,
        _ => RunStatus::Unknown,
    };
    Status {
        status,
        state: name,
        stage,
        result,
    }
}

impl ApiPipeline {
    pub fn into_pipeline(self) -> Pipeline {
        let Status {
            status,
            state,
            stage,
            result,
        } = status(self.state.as_ref());
        let target = self.target.map(|t| PipelineTarget {
            ref_type: t.ref_type,
            ref_name: t.ref_name,
            commit_hash: t.commit.and_then(|c| c.hash),
            selector_type: t.selector.as_ref().and_then(|s| s.kind.clone()),
            selector_pattern: t.selector.and_then(|s| s.pattern),
            pull_request_id: t.pullrequest.and_then(|p| p.id),
        });
        Pipeline {
            uuid: self.uuid.unwrap_or_default(),
            build_number: self.build_number.unwrap_or_default(),
            status,
            state_name: state,
            stage_name: stage,
            result_name: result,
            trigger: self
                .trigger
                .and_then(|t| t.label())
                .unwrap_or_else(|| "UNKNOWN".to_owned()),
            target: target.unwrap_or(PipelineTarget {
                ref_type: None,
                ref_name: None,
                commit_hash: None,
                selector_type: None,
                selector_pattern: None,
                pull_request_id: None,
            }),
            creator: self.creator.map(ApiAccount::into_ref),
            created_on: self.created_on,
            completed_on: self.completed_on,
            duration_seconds: self.duration_in_seconds,
            build_seconds_used: self.build_seconds_used,
            web_url: Links::html(&self.links),
        }
    }
}

impl ApiStep {
    fn into_step(self) -> PipelineStep {
        let Status {
            status,
            state,
            result,
            ..
        } = status(self.state.as_ref());
        PipelineStep {
            uuid: self.uuid.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            status,
            state_name: state,
            result_name: result,
            started_on: self.started_on,
            completed_on: self.completed_on,
            duration_seconds: self.duration_in_seconds,
        }
    }
}

fn pipelines(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("pipelines"))
}

fn pipeline(workspace: &str, repo_slug: &str, uuid: &str) -> Result<ApiPath, Error> {
    pipelines(workspace, repo_slug)?.param("pipeline_uuid", &braced(uuid))
}

/// Bitbucket wants pipeline and step uuids with their braces.
fn braced(uuid: &str) -> String {
    let uuid = uuid.trim();
    if uuid.starts_with('{') || uuid.is_empty() {
        uuid.to_owned()
    } else {
        format!("{{{uuid}}}")
    }
}

pub fn list(request: ListPipelinesRequest) -> Result<PipelinePage, Error> {
    if let Some(sort) = request.page.as_ref().and_then(|p| p.sort.as_deref())
        && !SORTS.contains(&sort)
    {
        return Err(Error::validation(
            "page.sort",
            format!("must be one of: {}", SORTS.join(", ")),
        ));
    }
    let client = Client::connect()?;
    let endpoint = Endpoint::get(pipelines(&request.workspace, &request.repo_slug)?)
        .query_opt(
            "status",
            request.status.as_deref().map(str::to_ascii_uppercase),
        )
        .query_opt("target.branch", request.target_branch.as_deref())
        .query_opt(
            "trigger_type",
            request.trigger_type.as_deref().map(str::to_ascii_uppercase),
        );
    // Newest first unless the caller sorts.
    let page = request.page.clone().unwrap_or(crate::types::PageRequest {
        cursor: None,
        size: None,
        q: None,
        sort: None,
    });
    let page = crate::types::PageRequest {
        sort: page.sort.or(Some("-created_on".to_owned())),
        ..page
    };
    let (items, next_cursor) = page::fetch(
        &client,
        endpoint,
        Some(&page),
        PIPELINES,
        ApiPipeline::into_pipeline,
    )?;
    Ok(PipelinePage { items, next_cursor })
}

pub fn get(request: PipelineRef) -> Result<Pipeline, Error> {
    let client = Client::connect()?;
    fetch(&client, &request)
}

fn fetch(client: &Client, r: &PipelineRef) -> Result<Pipeline, Error> {
    let run: ApiPipeline = client.json(&Endpoint::get(pipeline(
        &r.workspace,
        &r.repo_slug,
        &r.pipeline_uuid,
    )?))?;
    Ok(run.into_pipeline())
}

pub fn steps(request: ListPipelineStepsRequest) -> Result<PipelineStepPage, Error> {
    let client = Client::connect()?;
    let path = pipeline(
        &request.workspace,
        &request.repo_slug,
        &request.pipeline_uuid,
    )?
    .literal("steps");
    let (items, next_cursor) = page::fetch(
        &client,
        Endpoint::get(path),
        request.page.as_ref(),
        STEPS,
        ApiStep::into_step,
    )?;
    Ok(PipelineStepPage { items, next_cursor })
}

/// The step's log, following Bitbucket's 307 to log storage (which never
/// sees the credential), whole or as a byte range.
pub fn log(request: StepLogRequest) -> Result<StepLog, Error> {
    let path = pipeline(
        &request.workspace,
        &request.repo_slug,
        &request.pipeline_uuid,
    )?
    .literal("steps")
    .param("step_uuid", &braced(&request.step_uuid))?
    .literal("log");
    let mut endpoint = Endpoint::get(path).header("accept", "application/octet-stream");
    let offset = request.range_start.unwrap_or(0);
    match (request.range_start, request.range_end) {
        (None, None) => {}
        (start, Some(end)) if end < start.unwrap_or(0) => {
            return Err(Error::validation(
                "range_end",
                "must not be before range_start",
            ));
        }
        (start, end) => {
            let end = end.map(|e| e.to_string()).unwrap_or_default();
            endpoint = endpoint.header("range", format!("bytes={}-{end}", start.unwrap_or(0)));
        }
    }
    let client = Client::connect()?;
    let response = client.send(&endpoint)?;
    // `Content-Range: bytes a-b/total` on 206; the body's length on 200.
    let total_size = response
        .header("content-range")
        .and_then(|range| range.rsplit('/').next())
        .and_then(|total| total.trim().parse().ok())
        .or_else(|| (response.status == 200).then_some(response.body.len() as u64));
    let offset = if response.status == 206 { offset } else { 0 };
    Ok(StepLog {
        content: String::from_utf8_lossy(&response.body).into_owned(),
        offset,
        total_size,
    })
}

/// Starts a run. Never retried: a lost answer does not mean no run started.
pub fn trigger(request: TriggerPipelineRequest) -> Result<Pipeline, Error> {
    let branch = request
        .branch
        .as_deref()
        .map(|b| required("branch", b))
        .transpose()?;
    let commit = request
        .commit
        .as_deref()
        .map(|c| required("commit", c))
        .transpose()?;
    let custom = request
        .custom_pipeline
        .as_deref()
        .map(|c| required("custom_pipeline", c))
        .transpose()?;
    let mut target = Map::new();
    match (branch, commit) {
        (None, None) => {
            return Err(Error::validation(
                "branch",
                "give a branch, a commit, or both",
            ));
        }
        (Some(branch), commit) => {
            target.insert("type".into(), json!("pipeline_ref_target"));
            target.insert("ref_type".into(), json!("branch"));
            target.insert("ref_name".into(), json!(branch));
            if let Some(hash) = commit {
                target.insert("commit".into(), json!({ "type": "commit", "hash": hash }));
            }
        }
        (None, Some(hash)) => {
            target.insert("type".into(), json!("pipeline_commit_target"));
            target.insert("commit".into(), json!({ "type": "commit", "hash": hash }));
        }
    }
    if let Some(pattern) = custom {
        target.insert(
            "selector".into(),
            json!({ "type": "custom", "pattern": pattern }),
        );
    }
    let mut body = Map::new();
    body.insert("target".into(), Value::Object(target));
    if let Some(variables) = &request.variables {
        let list = variables
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = required(&format!("variables[{i}].key"), &v.key)?;
                Ok(json!({ "key": key, "value": v.value, "secured": v.secured.unwrap_or(false) }))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        body.insert("variables".into(), Value::Array(list));
    }
    let client = Client::connect()?;
    let endpoint = Endpoint::post(pipelines(&request.workspace, &request.repo_slug)?)
        .json(Value::Object(body));
    let run: ApiPipeline = client.json(&endpoint)?;
    Ok(run.into_pipeline())
}

/// Asks Bitbucket to stop the run (204), then answers the run as it is now.
pub fn stop(request: PipelineRef) -> Result<Pipeline, Error> {
    let client = Client::connect()?;
    let path = pipeline(
        &request.workspace,
        &request.repo_slug,
        &request.pipeline_uuid,
    )?
    .literal("stopPipeline");
    client.send(&Endpoint::post(path))?;
    fetch(&client, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: &str) -> RunStatus {
        status(Some(&serde_json::from_str::<ApiState>(json).unwrap())).status
    }

    #[test]
    fn one_status_from_state_stage_and_result() {
        assert!(matches!(
            state(r#"{"name":"PENDING","type":"pipeline_state_pending"}"#),
            RunStatus::Pending
        ));
        assert!(matches!(
            state(r#"{"name":"IN_PROGRESS","stage":{"name":"RUNNING"}}"#),
            RunStatus::Running
        ));
        assert!(matches!(
            state(r#"{"name":"IN_PROGRESS","stage":{"type":"pipeline_state_in_progress_paused"}}"#),
            RunStatus::Paused
        ));
        assert!(matches!(
            state(r#"{"name":"COMPLETED","result":{"name":"SUCCESSFUL"}}"#),
            RunStatus::Successful
        ));
        assert!(matches!(
            state(r#"{"name":"COMPLETED","result":{"type":"pipeline_state_completed_failed"}}"#),
            RunStatus::Failed
        ));
        assert!(matches!(
            state(r#"{"name":"COMPLETED","result":{"name":"STOPPED"}}"#),
            RunStatus::Stopped
        ));
        assert!(matches!(
            state(r#"{"name":"SOMETHING_NEW"}"#),
            RunStatus::Unknown
        ));
    }

    #[test]
    fn uuids_get_their_braces() {
        assert_eq!(braced("abc"), "{abc}");
        assert_eq!(braced("{abc}"), "{abc}");
    }
}
