//! The workspace overview: repositories, open and recently merged pull
//! requests, pipeline outcomes and open issues.
//!
//! Cost in upstream requests: 1 (the repository listing, which also gives the
//! total) + per sampled repository 3 (open PRs, merged PRs, pipelines) + 1
//! more where the repository has an issue tracker; with `repo_slugs`, 1 more
//! per named repository to read it. Counts use `pagelen=1` and Bitbucket's
//! `size`, so a busy repository costs no more than a quiet one. The
//! per-repository requests go out together (`Upstream::send_all`), a bounded
//! number at a time.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::endpoint::{Endpoint, Upstream, answer_of};
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

/// What one of the fan-out's requests is for.
enum Ask {
    OpenPulls,
    MergedPulls,
    Pipelines,
    OpenIssues,
}

/// A listing asked for one item: its `size` is the count.
fn counting(endpoint: Endpoint) -> Endpoint {
    endpoint.query("pagelen", "1")
}

/// How many items a listing has, from one one-item page.
fn count(page: Paginated<Value>) -> u32 {
    page.size.map_or(page.values.len() as u32, |s| s as u32)
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
        Some(slugs) => {
            let reads = slugs
                .iter()
                .enumerate()
                .map(|(i, slug)| {
                    let path = repositories_path
                        .clone()
                        .param(&format!("repo_slugs[{i}]"), slug)?;
                    Ok(Endpoint::get(path))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            upstream
                .json_all::<ApiRepository>(&reads)?
                .into_iter()
                .map(ApiRepository::into_repository)
                .collect()
        }
    };

    let since = since
        .replace_nanosecond(0)
        .unwrap_or(since)
        .format(&Rfc3339)
        .map_err(|e| Error::internal(format!("could not write a date: {e}")))?;
    // Every repository's requests go out together; the answers come back
    // in this order, so the totals are those of asking one by one.
    let mut asks: Vec<(Ask, Endpoint)> = Vec::new();
    for repo in &sample {
        let base = ApiPath::repository(&request.workspace, &repo.slug)?;
        let pulls = || Endpoint::get(base.clone().literal("pullrequests"));
        asks.push((Ask::OpenPulls, counting(pulls().query("state", "OPEN"))));
        asks.push((
            Ask::MergedPulls,
            counting(
                pulls()
                    .query("state", "MERGED")
                    .query("q", format!("updated_on >= {since}")),
            ),
        ));
        asks.push((
            Ask::Pipelines,
            Endpoint::get(base.clone().literal("pipelines"))
                .query("sort", "-created_on")
                .query("pagelen", runs.to_string()),
        ));
        if repo.has_issues == Some(true) {
            let open = Endpoint::get(base.literal("issues"))
                .query("q", r#"state = "new" OR state = "open""#);
            asks.push((Ask::OpenIssues, counting(open)));
        }
    }
    let endpoints: Vec<Endpoint> = asks.iter().map(|(_, e)| e.clone()).collect();
    let answers = upstream.send_all(&endpoints);

    let (mut open_prs, mut merged, mut open_issues, mut trackers) = (0, 0, 0, 0);
    let mut pipelines: Vec<ApiPipeline> = Vec::new();
    for ((ask, endpoint), answer) in asks.iter().zip(answers) {
        match (ask, answer) {
            (Ask::OpenPulls, Ok(response)) => open_prs += count(answer_of(endpoint, &response)?),
            (Ask::MergedPulls, Ok(response)) => merged += count(answer_of(endpoint, &response)?),
            (Ask::Pipelines, Ok(response)) => {
                let page: Paginated<ApiPipeline> = answer_of(endpoint, &response)?;
                pipelines.extend(page.values);
            }
            // A repository without Pipelines enabled has no runs to count.
            (Ask::Pipelines, Err(Error::NotFound(_))) => {}
            (Ask::OpenIssues, Ok(response)) => {
                open_issues += count(answer_of(endpoint, &response)?);
                trackers += 1;
            }
            // Disabled or retired upstream: this repository has no tracker to count.
            (Ask::OpenIssues, Err(Error::NotFound(_) | Error::RetiredUpstream(_))) => {}
            (_, Err(other)) => return Err(other),
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

    /// Answers by path and query, and sends a batch last to first: what a
    /// concurrent upstream may do, as long as it answers in order.
    struct Routed {
        config: crate::config::Config,
        answers: Vec<(&'static str, Value)>,
        sent: std::cell::RefCell<Vec<String>>,
    }

    impl Upstream for Routed {
        fn send(&self, endpoint: &Endpoint) -> Result<crate::endpoint::Response, Error> {
            let key = format!("{}?{}", endpoint.path.as_str(), endpoint.query_string());
            self.sent.borrow_mut().push(key.clone());
            match self
                .answers
                .iter()
                .find(|(prefix, _)| key.starts_with(prefix))
            {
                Some((_, body)) => Ok(crate::endpoint::Response {
                    status: 200,
                    body: body.to_string().into_bytes(),
                    ..Default::default()
                }),
                None => Err(Error::from_upstream(404, b"", None)),
            }
        }

        fn send_all(
            &self,
            endpoints: &[Endpoint],
        ) -> Vec<Result<crate::endpoint::Response, Error>> {
            let mut answers: Vec<_> = endpoints.iter().rev().map(|e| self.send(e)).collect();
            answers.reverse();
            answers
        }

        fn config(&self) -> &crate::config::Config {
            &self.config
        }

        fn requests_sent(&self) -> u32 {
            self.sent.borrow().len() as u32
        }
    }

    #[test]
    fn answers_batched_out_of_order_count_as_asked_one_by_one() {
        let upstream = Routed {
            config: Default::default(),
            answers: vec![
                (
                    "/repositories/acme?",
                    json!({"size": 7, "values": [
                        {"slug": "api", "has_issues": true},
                        {"slug": "web", "has_issues": false}
                    ]}),
                ),
                (
                    "/repositories/acme/api/pullrequests?state=OPEN",
                    json!({"size": 3, "values": [{}]}),
                ),
                (
                    "/repositories/acme/api/pullrequests?state=MERGED",
                    json!({"size": 1, "values": [{}]}),
                ),
                (
                    "/repositories/acme/api/pipelines?",
                    json!({"values": [
                        {"state": {"name": "COMPLETED", "result": {"name": "FAILED"}}, "duration_in_seconds": 40}
                    ]}),
                ),
                (
                    "/repositories/acme/api/issues?",
                    json!({"size": 5, "values": [{}]}),
                ),
                (
                    "/repositories/acme/web/pullrequests?state=OPEN",
                    json!({"size": 10, "values": [{}]}),
                ),
                (
                    "/repositories/acme/web/pullrequests?state=MERGED",
                    json!({"size": 20, "values": [{}]}),
                ),
                // web has no Pipelines: 404, not counted.
            ],
            sent: Default::default(),
        };
        let since = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let request = AnalyticsSummaryRequest {
            workspace: "acme".into(),
            repo_slugs: None,
            pipeline_runs: None,
        };
        let summary = summary_since(&upstream, request, since).unwrap();
        assert_eq!(summary.repositories, 7);
        assert_eq!(summary.repositories_sampled, 2);
        assert_eq!(summary.open_pull_requests, 13);
        assert_eq!(summary.merged_last_week, 21);
        assert_eq!(summary.open_issues, Some(5));
        assert_eq!(summary.pipelines.runs, 1);
        assert_eq!(summary.pipelines.failed, 1);
        assert_eq!(summary.upstream_requests, 8);
    }

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
