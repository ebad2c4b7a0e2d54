//! The workspace overview: repositories, open and recently merged pull
//! requests, pipeline outcomes and open issues.
//!
//! Cost in upstream requests: 1 (the repository listing, which also gives the
//! total) + per sampled repository 3 (open PRs, merged PRs, pipelines) + 1
//! more where the repository has an issue tracker; with `repo_slugs`, 1 more
//! per named repository to read it. Counts use `pagelen=1` and Bitbucket's
//! `size`, so a busy repository costs no more than a quiet one.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::page::Paginated;
use crate::path::ApiPath;
use crate::pipelines::ApiPipeline;
use crate::repositories::ApiRepository;
use crate::types::{
    AnalyticsSummaryRequest, PipelineStats, Repository, RunStatus, WorkspaceAnalytics,
};

const DEFAULT_SAMPLE: u32 = 10;
const DEFAULT_RUNS: u32 = 20;
const WEEK: time::Duration = time::Duration::days(7);

/// How many items a listing has, from one one-item page.
fn count(upstream: &dyn Upstream, endpoint: Endpoint) -> Result<u32, Error> {
    let page: Paginated<Value> = upstream.json(&endpoint.query("pagelen", "1"))?;
    Ok(page.size.map_or(page.values.len() as u32, |s| s as u32))
}

pub fn summary(
    upstream: &dyn Upstream,
    request: AnalyticsSummaryRequest,
) -> Result<WorkspaceAnalytics, Error> {
    summary_since(upstream, request, OffsetDateTime::now_utc() - WEEK)
}

fn summary_since(
    upstream: &dyn Upstream,
    request: AnalyticsSummaryRequest,
    since: OffsetDateTime,
) -> Result<WorkspaceAnalytics, Error> {
    let runs = request.pipeline_runs.unwrap_or(DEFAULT_RUNS);
    if !(1..=100).contains(&runs) {
        return Err(Error::validation("pipeline_runs", "must be from 1 to 100"));
    }
    let repositories_path = ApiPath::new("repositories").param("workspace", &request.workspace)?;

    let listing: Paginated<ApiRepository> = upstream.json(
        &Endpoint::get(repositories_path.clone())
            .query("sort", "-updated_on")
            .query("pagelen", DEFAULT_SAMPLE.to_string()),
    )?;
    let total = listing
        .size
        .map_or(listing.values.len() as u32, |s| s as u32);
    let sample: Vec<Repository> = match &request.repo_slugs {
        None => listing
            .values
            .into_iter()
            .map(ApiRepository::into_repository)
            .collect(),
        Some(slugs) => slugs
            .iter()
            .enumerate()
            .map(|(i, slug)| {
                let path = repositories_path
                    .clone()
                    .param(&format!("repo_slugs[{i}]"), slug)?;
                upstream
                    .json::<ApiRepository>(&Endpoint::get(path))
                    .map(ApiRepository::into_repository)
            })
            .collect::<Result<_, _>>()?,
    };

    let since = since
        .replace_nanosecond(0)
        .unwrap_or(since)
        .format(&Rfc3339)
        .map_err(|e| Error::internal(format!("could not write a date: {e}")))?;
    let (mut open_prs, mut merged, mut open_issues, mut trackers) = (0, 0, 0, 0);
    let mut pipelines: Vec<ApiPipeline> = Vec::new();
    for repo in &sample {
        let base = ApiPath::repository(&request.workspace, &repo.slug)?;
        open_prs += count(
            upstream,
            Endpoint::get(base.clone().literal("pullrequests")).query("state", "OPEN"),
        )?;
        merged += count(
            upstream,
            Endpoint::get(base.clone().literal("pullrequests"))
                .query("state", "MERGED")
                .query("q", format!("updated_on >= {since}")),
        )?;
        // A repository without Pipelines enabled has no runs to count.
        match upstream.json::<Paginated<ApiPipeline>>(
            &Endpoint::get(base.clone().literal("pipelines"))
                .query("sort", "-created_on")
                .query("pagelen", runs.to_string()),
        ) {
            Ok(page) => pipelines.extend(page.values),
            Err(Error::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
        if repo.has_issues == Some(true) {
            let open = Endpoint::get(base.literal("issues"))
                .query("q", r#"state = "new" OR state = "open""#);
            match count(upstream, open) {
                Ok(n) => {
                    open_issues += n;
                    trackers += 1;
                }
                // Disabled or retired upstream: this repository has no tracker to count.
                Err(Error::NotFound(_) | Error::RetiredUpstream(_)) => {}
                Err(other) => return Err(other),
            }
        }
    }

    Ok(WorkspaceAnalytics {
        workspace: request.workspace,
        repositories: total,
        repositories_sampled: sample.len() as u32,
        open_pull_requests: open_prs,
        merged_last_week: merged,
        pipelines: stats(pipelines),
        open_issues: (trackers > 0).then_some(open_issues),
        // Counted where they are sent: retries and redirects cost too.
        upstream_requests: upstream.requests_sent(),
    })
}

fn stats(runs: Vec<ApiPipeline>) -> PipelineStats {
    let mut s = PipelineStats {
        runs: runs.len() as u32,
        successful: 0,
        failed: 0,
        error: 0,
        stopped: 0,
        in_progress: 0,
        success_rate: None,
        mean_duration_seconds: None,
    };
    let (mut completed, mut durations) = (0u32, Vec::new());
    for run in runs.into_iter().map(ApiPipeline::into_pipeline) {
        match run.status {
            RunStatus::Successful => s.successful += 1,
            RunStatus::Failed => s.failed += 1,
            RunStatus::Error => s.error += 1,
            RunStatus::Stopped | RunStatus::Expired => s.stopped += 1,
            RunStatus::Pending | RunStatus::Running | RunStatus::Paused => s.in_progress += 1,
            RunStatus::Unknown => {}
        }
        if !matches!(
            run.status,
            RunStatus::Pending | RunStatus::Running | RunStatus::Paused | RunStatus::Unknown
        ) {
            completed += 1;
            durations.extend(run.duration_seconds);
        }
    }
    if completed > 0 {
        s.success_rate = Some(f64::from(s.successful) / f64::from(completed));
    }
    if !durations.is_empty() {
        s.mean_duration_seconds =
            Some(durations.iter().sum::<u64>() as f64 / durations.len() as f64);
    }
    s
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    #[test]
    fn one_repository_costs_five_requests_and_counts_by_size() {
        let script = Script::new()
            .ok(json!({"size": 1, "values": [{"slug": "api", "full_name": "acme/api", "has_issues": true}]}))
            .ok(json!({"size": 3, "values": [{}]}))
            .ok(json!({"size": 2, "values": [{}]}))
            .ok(json!({"values": [
                {"state": {"name": "COMPLETED", "result": {"name": "SUCCESSFUL"}}, "duration_in_seconds": 10},
                {"state": {"name": "COMPLETED", "result": {"name": "FAILED"}}, "duration_in_seconds": 30}
            ]}))
            .ok(json!({"size": 4, "values": [{}]}));
        let since = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let summary = summary_since(
            &script,
            AnalyticsSummaryRequest {
                workspace: "acme".into(),
                repo_slugs: None,
                pipeline_runs: None,
            },
            since,
        )
        .unwrap();
        assert_eq!(summary.repositories, 1);
        assert_eq!(summary.open_pull_requests, 3);
        assert_eq!(summary.merged_last_week, 2);
        assert_eq!(summary.open_issues, Some(4));
        assert_eq!(summary.pipelines.success_rate, Some(0.5));
        assert_eq!(summary.pipelines.mean_duration_seconds, Some(20.0));
        assert_eq!(summary.upstream_requests, 5);
        assert_eq!(
            script.sent.borrow()[2].query_string(),
            "state=MERGED&q=updated_on%20%3E%3D%202026-11-18T11%3A06%3A40Z&pagelen=1"
        );
    }
}
