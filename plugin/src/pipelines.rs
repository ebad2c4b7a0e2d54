//! Pipelines: `R/pipelines[/{uuid}[/steps[/{step}/log]|/stopPipeline]]`.
//!
//! Each run and step carries one `run-status` derived from Bitbucket's
//! state, stage and result, so callers never re-derive it.

use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Hashed, Links, optional, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::reconcile::{created_after, created_since, reconcile};
use crate::types::{
    ListPipelineStepsRequest, ListPipelinesRequest, Pipeline, PipelinePage, PipelineRef,
    PipelineStep, PipelineStepPage, PipelineTarget, RunStatus, StepLog, StepLogRequest,
    TriggerPipelineRequest,
};

/// Pipelines take their own filters, not BBQL, and sometimes omit `next`.
const PIPELINES: Listing = Listing {
    filter: false,
    number_pages_when_next_missing: true,
    ..Listing::new("pipelines", &["status", "target.branch", "trigger_type"])
};
const STEPS: Listing = Listing {
    filter: false,
    sort: false,
    number_pages_when_next_missing: true,
    ..Listing::new("pipeline-steps", &[])
};
/// The values Bitbucket's spec allows for the listing's `status` filter.
const STATUS_FILTERS: &[&str] = &[
    "PARSING", "PENDING", "PAUSED", "HALTED", "BUILDING", "ERROR", "PASSED", "FAILED", "STOPPED",
    "UNKNOWN",
];
/// … and for its `trigger_type` filter.
const TRIGGER_FILTERS: &[&str] = &["PUSH", "MANUAL", "SCHEDULED", "PARENT_STEP"];

/// A filter value as Bitbucket spells it (any case in), or a validation
/// error listing the values it takes: an unknown one would silently match
/// nothing upstream.
fn spec_value(field: &str, given: Option<&str>, allowed: &[&str]) -> Result<Option<String>, Error> {
    let Some(given) = given else {
        return Ok(None);
    };
    let upper = given.trim().to_ascii_uppercase();
    if allowed.contains(&upper.as_str()) {
        Ok(Some(upper))
    } else {
        Err(Error::validation(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        ))
    }
}

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
    /// Absent from some listings: then only the run itself says.
    variables: Option<Vec<ApiVariable>>,
}

#[derive(Deserialize)]
struct ApiVariable {
    key: Option<String>,
    value: Option<String>,
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
            target: target.unwrap_or_else(no_target),
            creator: self.creator.map(ApiAccount::into_ref),
            created_on: self.created_on,
            completed_on: self.completed_on,
            duration_seconds: self.duration_in_seconds,
            build_seconds_used: self.build_seconds_used,
            web_url: Links::html(&self.links),
        }
    }
}

fn no_target() -> PipelineTarget {
    PipelineTarget {
        ref_type: None,
        ref_name: None,
        commit_hash: None,
        selector_type: None,
        selector_pattern: None,
        pull_request_id: None,
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

pub fn list(upstream: &dyn Upstream, request: ListPipelinesRequest) -> Result<PipelinePage, Error> {
    if let Some(sort) = request.page.as_ref().and_then(|p| p.sort.as_deref())
        && !SORTS.contains(&sort)
    {
        return Err(Error::validation(
            "page.sort",
            format!("must be one of: {}", SORTS.join(", ")),
        ));
    }
    let status = spec_value("status", request.status.as_deref(), STATUS_FILTERS)?;
    let trigger = spec_value(
        "trigger_type",
        request.trigger_type.as_deref(),
        TRIGGER_FILTERS,
    )?;
    let endpoint = Endpoint::get(pipelines(&request.workspace, &request.repo_slug)?)
        .query_opt("status", status)
        .query_opt("target.branch", request.target_branch.as_deref())
        .query_opt("trigger_type", trigger);
    // Newest first unless the caller sorts.
    let mut page = request.page.clone().unwrap_or_else(page::first_page);
    page.sort = page.sort.or(Some("-created_on".to_owned()));
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        Some(&page),
        PIPELINES,
        ApiPipeline::into_pipeline,
    )?;
    Ok(PipelinePage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: PipelineRef) -> Result<Pipeline, Error> {
    fetch(upstream, &request)
}

fn fetch(upstream: &dyn Upstream, r: &PipelineRef) -> Result<Pipeline, Error> {
    let run: ApiPipeline = upstream.json(&Endpoint::get(pipeline(
        &r.workspace,
        &r.repo_slug,
        &r.pipeline_uuid,
    )?))?;
    Ok(run.into_pipeline())
}

pub fn steps(
    upstream: &dyn Upstream,
    request: ListPipelineStepsRequest,
) -> Result<PipelineStepPage, Error> {
    let path = pipeline(
        &request.workspace,
        &request.repo_slug,
        &request.pipeline_uuid,
    )?
    .literal("steps");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        STEPS,
        ApiStep::into_step,
    )?;
    Ok(PipelineStepPage { items, next_cursor })
}

/// The step's log, following Bitbucket's 307 to log storage (which never
/// sees the credential), whole or as a byte range.
pub fn log(upstream: &dyn Upstream, request: StepLogRequest) -> Result<StepLog, Error> {
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
    let response = upstream.send(&endpoint)?;
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

#[derive(Serialize)]
struct TriggerBody<'a> {
    target: Target<'a>,
    variables: Vec<Variable<'a>>,
}

/// `pipeline_ref_target` (a branch, perhaps at a commit) or
/// `pipeline_commit_target` (a bare commit).
#[derive(Serialize)]
struct Target<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<CommitHash<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<Selector<'a>>,
}

#[derive(Serialize)]
struct CommitHash<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    hash: &'a str,
}

#[derive(Serialize)]
struct Selector<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    pattern: &'a str,
}

#[derive(Serialize)]
struct Variable<'a> {
    key: &'a str,
    value: &'a str,
    secured: bool,
}

/// The variable every triggered run carries, with a value unique to the
/// call: when the trigger's answer is lost, the run that has it is the one
/// the call started.
pub const TRIGGER_ID_VARIABLE: &str = "ATOM_TRIGGER_ID";

/// Recent runs a lost trigger's run is looked for among.
const RECONCILE_RUNS: u32 = 20;

/// Starts a run. Never retried: a lost answer does not mean no run started,
/// so the run carrying this call's trigger id is looked for instead.
pub fn trigger(
    upstream: &dyn Upstream,
    request: TriggerPipelineRequest,
) -> Result<Pipeline, Error> {
    trigger_with_id(upstream, request, &trigger_id())
}

fn trigger_with_id(
    upstream: &dyn Upstream,
    request: TriggerPipelineRequest,
    trigger_id: &str,
) -> Result<Pipeline, Error> {
    let started = OffsetDateTime::now_utc();
    let branch = optional("branch", request.branch.as_deref())?;
    let commit = optional("commit", request.commit.as_deref())?;
    let custom = optional("custom_pipeline", request.custom_pipeline.as_deref())?;
    let commit_hash = commit.map(|hash| CommitHash {
        kind: "commit",
        hash,
    });
    let (kind, ref_type) = match (&branch, &commit) {
        (None, None) => {
            return Err(Error::validation(
                "branch",
                "give a branch, a commit, or both",
            ));
        }
        (Some(_), _) => ("pipeline_ref_target", Some("branch")),
        (None, Some(_)) => ("pipeline_commit_target", None),
    };
    let variables = request
        .variables
        .as_ref()
        .map(|variables| {
            variables
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let field = format!("variables[{i}].key");
                    let key = required(&field, &v.key)?;
                    if key == TRIGGER_ID_VARIABLE {
                        return Err(Error::validation(
                            &field,
                            format!("{TRIGGER_ID_VARIABLE} is set by this integration"),
                        ));
                    }
                    Ok(Variable {
                        key,
                        value: &v.value,
                        secured: v.secured.unwrap_or(false),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .transpose()?
        .unwrap_or_default()
        .into_iter()
        .chain([Variable {
            key: TRIGGER_ID_VARIABLE,
            value: trigger_id,
            secured: false,
        }])
        .collect();
    let body = TriggerBody {
        target: Target {
            kind,
            ref_type,
            ref_name: branch,
            commit: commit_hash,
            selector: custom.map(|pattern| Selector {
                kind: "custom",
                pattern,
            }),
        },
        variables,
    };
    let endpoint =
        Endpoint::post(pipelines(&request.workspace, &request.repo_slug)?).json(&body)?;
    let started_run = upstream
        .json::<ApiPipeline>(&endpoint)
        .map(ApiPipeline::into_pipeline);
    reconcile(started_run, || {
        find_triggered(upstream, &request, branch, trigger_id, started)
    })
}

/// A fresh id for one trigger: 128 bits from the host's random source (the
/// std hasher's keys come from it).
fn trigger_id() -> String {
    let random = || std::collections::hash_map::RandomState::new().hash_one(0u8);
    format!("{:016x}{:016x}", random(), random())
}

/// The run carrying `trigger_id`, among the newest runs (on `branch` when
/// given) created since `started`. Listings may leave variables out: those
/// runs are read one by one, together.
fn find_triggered(
    upstream: &dyn Upstream,
    request: &TriggerPipelineRequest,
    branch: Option<&str>,
    trigger_id: &str,
    started: OffsetDateTime,
) -> Result<Option<Pipeline>, Error> {
    let since = created_since(started)?;
    let listing = Endpoint::get(pipelines(&request.workspace, &request.repo_slug)?)
        .query_opt("target.branch", branch)
        .query("sort", "-created_on")
        .query("pagelen", RECONCILE_RUNS.to_string());
    let page: page::Paginated<ApiPipeline> = upstream.json(&listing)?;
    let recent: Vec<ApiPipeline> = page
        .values
        .into_iter()
        .filter(|run| created_after(run.created_on.as_deref(), &since))
        .collect();
    let carries = |run: &ApiPipeline| {
        run.variables.iter().flatten().any(|v| {
            v.key.as_deref() == Some(TRIGGER_ID_VARIABLE) && v.value.as_deref() == Some(trigger_id)
        })
    };
    let (listed, unlisted): (Vec<_>, Vec<_>) =
        recent.into_iter().partition(|run| run.variables.is_some());
    if let Some(run) = listed.into_iter().find(carries) {
        return Ok(Some(run.into_pipeline()));
    }
    let reads = unlisted
        .iter()
        .filter_map(|run| run.uuid.as_deref())
        .map(|uuid| pipeline(&request.workspace, &request.repo_slug, uuid).map(Endpoint::get))
        .collect::<Result<Vec<_>, Error>>()?;
    let runs: Vec<ApiPipeline> = upstream.json_all(&reads)?;
    Ok(runs
        .into_iter()
        .find(carries)
        .map(ApiPipeline::into_pipeline))
}

/// Asks Bitbucket to stop the run (204), then answers the run as it is now.
pub fn stop(upstream: &dyn Upstream, request: PipelineRef) -> Result<Pipeline, Error> {
    let path = pipeline(
        &request.workspace,
        &request.repo_slug,
        &request.pipeline_uuid,
    )?
    .literal("stopPipeline");
    upstream.send(&Endpoint::post(path))?;
    fetch(upstream, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_the_specs_values_in_any_case_and_name_the_field_otherwise() {
        assert_eq!(
            spec_value("trigger_type", Some("scheduled"), TRIGGER_FILTERS).unwrap(),
            Some("SCHEDULED".to_owned())
        );
        assert_eq!(spec_value("status", None, STATUS_FILTERS).unwrap(), None);
        let Err(Error::Validation(refused)) =
            spec_value("trigger_type", Some("SCHEDULE"), TRIGGER_FILTERS)
        else {
            panic!("SCHEDULE is not the spec's name");
        };
        assert_eq!(refused.field, "trigger_type");
        assert!(refused.message.contains("PARENT_STEP"));
    }

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
    fn trigger_sends_a_ref_target_with_selector_and_variables() {
        use crate::endpoint::script::Script;
        use serde_json::json;

        let script = Script::new().ok(json!({
            "uuid": "{p1}", "build_number": 9,
            "state": {"name": "PENDING"}, "trigger": {"name": "MANUAL"}
        }));
        let run = trigger_with_id(
            &script,
            TriggerPipelineRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                branch: Some("main".into()),
                commit: None,
                custom_pipeline: Some("deploy".into()),
                variables: Some(vec![crate::types::PipelineVariable {
                    key: "ENV".into(),
                    value: "staging".into(),
                    secured: None,
                }]),
            },
            "t1",
        )
        .unwrap();
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(
            script.body(0),
            json!({
                "target": {
                    "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                    "selector": {"type": "custom", "pattern": "deploy"}
                },
                "variables": [
                    {"key": "ENV", "value": "staging", "secured": false},
                    {"key": "ATOM_TRIGGER_ID", "value": "t1", "secured": false}
                ]
            })
        );
    }

    fn run_on_main() -> TriggerPipelineRequest {
        TriggerPipelineRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            branch: Some("main".into()),
            commit: None,
            custom_pipeline: None,
            variables: None,
        }
    }

    fn just_now() -> String {
        let now = time::OffsetDateTime::now_utc();
        now.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    fn run(uuid: &str, build: u64, trigger_id: Option<&str>) -> serde_json::Value {
        let mut run = serde_json::json!({
            "uuid": uuid, "build_number": build, "created_on": just_now(),
            "state": {"name": "PENDING"}
        });
        if let Some(id) = trigger_id {
            run["variables"] = serde_json::json!([{"key": "ATOM_TRIGGER_ID", "value": id}]);
        }
        run
    }

    #[test]
    fn a_lost_trigger_answers_the_run_carrying_its_id() {
        use crate::endpoint::script::Script;
        use serde_json::json;

        let script = Script::new()
            .answer(Err(Error::outcome_unknown("connection reset")))
            .ok(json!({"values": [run("{b}", 12, Some("other")), run("{a}", 11, Some("t1"))]}));
        let found = trigger_with_id(&script, run_on_main(), "t1").unwrap();
        assert_eq!(found.build_number, 11);
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[1].query_string(),
            "target.branch=main&sort=-created_on&pagelen=20"
        );
    }

    #[test]
    fn runs_listed_without_variables_are_read_one_by_one_in_order() {
        use crate::endpoint::script::Script;
        use serde_json::json;

        let script = Script::new()
            .answer(Err(Error::outcome_unknown("connection reset")))
            .ok(json!({"values": [run("{b}", 12, None), run("{a}", 11, None)]}))
            .ok(run("{b}", 12, Some("other")))
            .ok(run("{a}", 11, Some("t1")));
        let found = trigger_with_id(&script, run_on_main(), "t1").unwrap();
        assert_eq!(found.uuid, "{a}");
        let sent = script.sent.borrow();
        assert_eq!(
            sent[2].path.as_str(),
            "/repositories/acme/api/pipelines/%7Bb%7D"
        );
        assert_eq!(
            sent[3].path.as_str(),
            "/repositories/acme/api/pipelines/%7Ba%7D"
        );
    }

    #[test]
    fn a_lost_trigger_without_its_run_stays_unknown() {
        use crate::endpoint::script::Script;
        use serde_json::json;

        let script = Script::new()
            .answer(Err(Error::outcome_unknown("connection reset")))
            .ok(json!({"values": [run("{b}", 12, Some("other"))]}));
        let error = trigger_with_id(&script, run_on_main(), "t1").unwrap_err();
        assert_eq!(error.code(), "outcome_unknown");
        assert!(!error.retryable());
        assert_eq!(script.requests_sent(), 2);
    }

    #[test]
    fn the_trigger_id_is_the_integrations_own_variable() {
        use crate::endpoint::script::Script;

        let mut request = run_on_main();
        request.variables = Some(vec![crate::types::PipelineVariable {
            key: TRIGGER_ID_VARIABLE.into(),
            value: "mine".into(),
            secured: None,
        }]);
        let Err(Error::Validation(refused)) = trigger(&Script::new(), request) else {
            panic!("the id is set by the integration");
        };
        assert_eq!(refused.field, "variables[0].key");
        assert_ne!(trigger_id(), trigger_id());
    }

    #[test]
    fn uuids_get_their_braces() {
        assert_eq!(braced("abc"), "{abc}");
        assert_eq!(braced("{abc}"), "{abc}");
    }
}
