//! The workspace overview: repositories, open and recently merged pull
//! requests, pipeline outcomes and open issues.
//!
//! Cost in upstream requests: 1 (the repository listing, which also gives the
//! total) + per sampled repository 3 (open PRs, merged PRs, pipelines) + 1
//! more where the repository has an issue tracker; with `repo_slugs`, 1 more
//! per named repository to read it. Counts use `pagelen=1` and Bitbucket's
//! `size`, so a busy repository costs no more than a quiet one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::Error;
use crate::page::Paginated;
use crate::path::ApiPath;
use crate::pipelines::ApiPipeline;
use crate::repositories::ApiRepository;
use crate::transport::{Client, Endpoint};
use crate::types::{
    AnalyticsSummaryRequest, PipelineStats, Repository, RunStatus, WorkspaceAnalytics,
};

const DEFAULT_SAMPLE: u32 = 10;
const DEFAULT_RUNS: u32 = 20;
const WEEK_SECONDS: u64 = 7 * 24 * 3600;

/// How many items a listing has, from one one-item page.
fn count(client: &Client, endpoint: Endpoint) -> Result<u32, Error> {
    let page: Paginated<Value> = client.json(&endpoint.query("pagelen", "1"))?;
    Ok(page.size.map_or(page.values.len() as u32, |s| s as u32))
}

pub fn summary(request: AnalyticsSummaryRequest) -> Result<WorkspaceAnalytics, Error> {
    let runs = request.pipeline_runs.unwrap_or(DEFAULT_RUNS);
    if !(1..=100).contains(&runs) {
        return Err(Error::validation("pipeline_runs", "must be from 1 to 100"));
    }
    let client = Client::connect()?;
    let repositories_path = ApiPath::new("repositories").param("workspace", &request.workspace)?;

    let listing: Paginated<ApiRepository> = client.json(
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
                client
                    .json::<ApiRepository>(&Endpoint::get(path))
                    .map(ApiRepository::into_repository)
            })
            .collect::<Result<_, _>>()?,
    };

    let since = iso_datetime(unix_now().saturating_sub(WEEK_SECONDS));
    let (mut open_prs, mut merged, mut open_issues, mut trackers) = (0, 0, 0, 0);
    let mut pipelines: Vec<ApiPipeline> = Vec::new();
    for repo in &sample {
        let base = ApiPath::repository(&request.workspace, &repo.slug)?;
        open_prs += count(
            &client,
            Endpoint::get(base.clone().literal("pullrequests")).query("state", "OPEN"),
        )?;
        merged += count(
            &client,
            Endpoint::get(base.clone().literal("pullrequests"))
                .query("state", "MERGED")
                .query("q", format!("updated_on >= {since}")),
        )?;
        // A repository without Pipelines enabled has no runs to count.
        match client.json::<Paginated<ApiPipeline>>(
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
            match count(&client, open) {
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
        upstream_requests: client.requests_sent(),
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

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SS+00:00` (days-from-civil, proleptic Gregorian).
fn iso_datetime(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let seconds = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_utc() {
        assert_eq!(iso_datetime(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_datetime(1_795_000_000), "2026-11-18T11:06:40+00:00");
        assert_eq!(iso_datetime(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
