//! Pipelines: `R/pipelines[/{uuid}[/steps[/{step}/log]|/stopPipeline]]`.
//!
//! Each run and step carries one `run-status` derived from Bitbucket's
//! state, stage and result, so callers never re-derive it.

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
pub fn braced(uuid: &str) -> String {
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

/// Newest runs read per page, and pages read at most, when a lost trigger's
/// run is looked for: two small requests in the usual case (the current
/// user, one page), four at worst.
const RECONCILE_PAGELEN: u32 = 25;
const RECONCILE_PAGES: u32 = 3;

/// Starts a run. Never retried: when its answer is lost or is a 5xx, the
/// run it started (if any) is looked for among the newest runs instead.
/// Nothing is added to the run to find it by: the user's pipeline sees only
/// the variables the caller gave.
pub fn trigger(
    upstream: &dyn Upstream,
    request: TriggerPipelineRequest,
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
                    Ok(Variable {
                        key: required(&format!("variables[{i}].key"), &v.key)?,
                        value: &v.value,
                        secured: v.secured.unwrap_or(false),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()
        })
        .transpose()?
        .unwrap_or_default();
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
    let wanted = Wanted {
        branch,
        commit,
        custom,
    };
    reconcile(started_run, || {
        find_triggered(upstream, &request, &wanted, started)
    })
}

/// What a trigger asked for, as a listed run's `target` shows it.
struct Wanted<'a> {
    branch: Option<&'a str>,
    commit: Option<&'a str>,
    custom: Option<&'a str>,
}

impl Wanted<'_> {
    /// Whether `target` is what was triggered: the same branch (or none, for
    /// a commit target), the commit when one was given (Bitbucket answers the
    /// full hash, the caller may have given a prefix: either may be the
    /// shorter), and the custom
    /// pipeline when one was named — else not a custom one, since a run
    /// triggered on a branch runs that branch's (or the default) pipeline.
    fn matches(&self, target: Option<&ApiTarget>) -> bool {
        let Some(target) = target else {
            return false;
        };
        let ref_ok = match self.branch {
            Some(branch) => {
                matches!(target.ref_type.as_deref(), Some("branch" | "named_branch"))
                    && target.ref_name.as_deref() == Some(branch)
            }
            None => target.ref_name.is_none(),
        };
        let commit_ok = self.commit.is_none_or(|given| {
            let given = given.to_ascii_lowercase();
            target
                .commit
                .as_ref()
                .and_then(|c| c.hash.as_deref())
                .map(str::to_ascii_lowercase)
                .is_some_and(|hash| {
                    hash.len() >= 7 && (hash.starts_with(&given) || given.starts_with(&hash))
                })
        });
        let selector = target.selector.as_ref();
        let kind = selector.and_then(|s| s.kind.as_deref());
        let selector_ok = match self.custom {
            Some(pattern) => {
                kind == Some("custom")
                    && selector.and_then(|s| s.pattern.as_deref()) == Some(pattern)
            }
            None => kind != Some("custom"),
        };
        ref_ok && commit_ok && selector_ok
    }
}

/// The run a trigger whose answer was lost started, from what live list
/// answers carry (they have `has_variables`, never the variables: a run
/// cannot be tagged and read back). The newest runs are read, a few pages
/// at most, and a run is this call's when
/// - its `created_on` is not before the call started (less a little clock
///   skew): older runs cannot be this call's;
/// - its `creator` is the credential's own account: runs other people (or
///   pushes, schedules) start at the same moment are not;
/// - its `target` is what was triggered (see [`Wanted::matches`]): the same
///   user may start other pipelines meanwhile.
///
/// Exactly one such run answers; none, or several (the same user triggered
/// the same thing twice at once), leave the outcome unknown.
fn find_triggered(
    upstream: &dyn Upstream,
    request: &TriggerPipelineRequest,
    wanted: &Wanted,
    started: OffsetDateTime,
) -> Result<Option<Pipeline>, Error> {
    let me: ApiAccount = upstream.json(&Endpoint::get(ApiPath::new("user")))?;
    let me = me
        .uuid
        .ok_or_else(|| Error::unavailable("Bitbucket did not say who the current user is", None))?;
    let since = created_since(started)?;
    let mut matching = Vec::new();
    for page in 1..=RECONCILE_PAGES {
        let listing = Endpoint::get(pipelines(&request.workspace, &request.repo_slug)?)
            .query("sort", "-created_on")
            .query("pagelen", RECONCILE_PAGELEN.to_string())
            .query("page", page.to_string());
        let runs: page::Paginated<ApiPipeline> = upstream.json(&listing)?;
        let full = runs.values.len() >= RECONCILE_PAGELEN as usize;
        // Newest first: once a run is older than the call, so is the rest.
        let mut reached_older = false;
        for run in runs.values {
            if !created_after(run.created_on.as_deref(), &since) {
                reached_older = true;
                continue;
            }
            let mine = run
                .creator
                .as_ref()
                .and_then(|c| c.uuid.as_deref())
                .is_some_and(|uuid| uuid == me);
            if mine && wanted.matches(run.target.as_ref()) {
                matching.push(run);
            }
        }
        if reached_older || !full {
            break;
        }
    }
    if matching.len() == 1 {
        Ok(matching.pop().map(ApiPipeline::into_pipeline))
    } else {
        Ok(None)
    }
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
    fn trigger_sends_a_ref_target_with_selector_and_only_the_callers_variables() {
        use crate::endpoint::script::Script;
        use serde_json::json;

        let script = Script::new().ok(json!({
            "uuid": "{p1}", "build_number": 9,
            "state": {"name": "PENDING"}, "trigger": {"name": "MANUAL"}
        }));
        let mut request = run_on_main();
        request.custom_pipeline = Some("deploy".into());
        request.variables = Some(vec![crate::types::PipelineVariable {
            key: "ENV".into(),
            value: "staging".into(),
            secured: None,
        }]);
        let run = trigger(&script, request).unwrap();
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(
            script.body(0),
            json!({
                "target": {
                    "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                    "selector": {"type": "custom", "pattern": "deploy"}
                },
                "variables": [{"key": "ENV", "value": "staging", "secured": false}]
            })
        );
    }

    #[test]
    fn every_trigger_body_carries_target_type_and_selector_type() {
        use crate::endpoint::script::Script;

        let head = "a".repeat(40);
        for (branch, commit, custom) in [
            (Some("main"), None, None),
            (Some("main"), Some(head.as_str()), Some("deploy")),
            (None, Some(head.as_str()), None),
            (None, Some(head.as_str()), Some("deploy")),
        ] {
            let script = Script::new().answer(Err(Error::validation("target", "refused")));
            let mut request = run_on_main();
            request.branch = branch.map(str::to_owned);
            request.commit = commit.map(str::to_owned);
            request.custom_pipeline = custom.map(str::to_owned);
            let _ = trigger(&script, request);
            let body = script.body(0);
            assert!(body["target"]["type"].is_string(), "{body}");
            if let Some(commit) = body["target"].get("commit") {
                assert_eq!(commit["type"], "commit", "{body}");
            }
            if let Some(selector) = body["target"].get("selector") {
                assert_eq!(selector["type"], "custom", "{body}");
            }
        }
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

    fn at(offset: time::Duration) -> String {
        let when = time::OffsetDateTime::now_utc() + offset;
        when.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    /// A run as live list answers show it: `has_variables`, no variables.
    fn run(uuid: &str, creator: &str, branch: &str, created_on: String) -> serde_json::Value {
        serde_json::json!({
            "uuid": uuid, "build_number": 1, "created_on": created_on,
            "has_variables": false,
            "creator": {"uuid": creator},
            "target": {
                "type": "pipeline_ref_target", "ref_type": "branch", "ref_name": branch,
                "commit": {"hash": "abc123"},
                "selector": {"type": "branches", "pattern": branch}
            },
            "state": {"name": "PENDING"}
        })
    }

    fn me() -> serde_json::Value {
        serde_json::json!({"uuid": "{ada}"})
    }

    fn lost_then(pages: &[serde_json::Value]) -> crate::endpoint::script::Script {
        let mut script = crate::endpoint::script::Script::new()
            .answer(Err(Error::outcome_unknown_answered(555, "Timed out")))
            .ok(me());
        for page in pages {
            script = script.ok(page.clone());
        }
        script
    }

    #[test]
    fn a_lost_trigger_answers_the_one_new_run_of_its_creator_and_target() {
        use serde_json::json;
        let now = time::Duration::ZERO;
        let script = lost_then(&[json!({"values": [
            run("{grace}", "{grace}", "main", at(now)),
            run("{other-branch}", "{ada}", "develop", at(now)),
            run("{mine}", "{ada}", "main", at(now)),
            run("{old}", "{ada}", "main", at(-time::Duration::hours(1))),
        ]})]);
        let found = trigger(&script, run_on_main()).unwrap();
        assert_eq!(found.uuid, "{mine}");
        let sent = script.sent.borrow();
        assert_eq!(sent.len(), 3, "the trigger, who am I, one page");
        assert_eq!(sent[1].path.as_str(), "/user");
        assert_eq!(sent[2].query_string(), "sort=-created_on&pagelen=25&page=1");
    }

    #[test]
    fn a_lost_trigger_reads_a_few_pages_at_most() {
        use serde_json::json;
        let full = |uuid: &str| {
            let values: Vec<_> = (0..RECONCILE_PAGELEN)
                .map(|_| run(uuid, "{grace}", "main", at(time::Duration::ZERO)))
                .collect();
            json!({ "values": values })
        };
        let pages: Vec<_> = (0..RECONCILE_PAGES).map(|_| full("{x}")).collect();
        let script = lost_then(&pages);
        let error = trigger(&script, run_on_main()).unwrap_err();
        assert_eq!(error.code(), "outcome_unknown");
        assert_eq!(script.requests_sent(), 2 + RECONCILE_PAGES);
    }

    #[test]
    fn a_lost_trigger_with_no_match_or_two_stays_unknown() {
        use serde_json::json;
        let now = time::Duration::ZERO;
        for values in [
            json!([run("{grace}", "{grace}", "main", at(now))]),
            json!([
                run("{a}", "{ada}", "main", at(now)),
                run("{b}", "{ada}", "main", at(now))
            ]),
        ] {
            let script = lost_then(&[json!({ "values": values })]);
            let error = trigger(&script, run_on_main()).unwrap_err();
            assert_eq!(error.code(), "outcome_unknown");
            assert!(!error.retryable());
            assert_eq!(script.requests_sent(), 3);
        }
    }

    #[test]
    fn targets_match_on_ref_commit_and_selector() {
        let target = |json: serde_json::Value| serde_json::from_value::<ApiTarget>(json).unwrap();
        let custom = target(serde_json::json!({
            "ref_type": "branch", "ref_name": "main", "commit": {"hash": "ABCDEF12"},
            "selector": {"type": "custom", "pattern": "deploy"}
        }));
        let wanted = |branch, commit, custom| Wanted {
            branch,
            commit,
            custom,
        };
        assert!(wanted(Some("main"), Some("abcdef"), Some("deploy")).matches(Some(&custom)));
        assert!(
            !wanted(Some("main"), None, None).matches(Some(&custom)),
            "custom ≠ branch run"
        );
        assert!(!wanted(Some("main"), Some("abd"), Some("deploy")).matches(Some(&custom)));
        assert!(!wanted(Some("main"), None, Some("other")).matches(Some(&custom)));
        assert!(!wanted(None, Some("abcdef"), Some("deploy")).matches(Some(&custom)));
        let bare = target(
            serde_json::json!({"commit": {"hash": "abcdef12"}, "selector": {"type": "default"}}),
        );
        assert!(wanted(None, Some("abcdef12"), None).matches(Some(&bare)));
        assert!(!wanted(None, Some("abcdef12"), None).matches(None));
    }

    #[test]
    fn uuids_get_their_braces() {
        assert_eq!(braced("abc"), "{abc}");
        assert_eq!(braced("{abc}"), "{abc}");
    }
}
