//! Delivery insights over a workspace's repositories and a window of weeks:
//! the four DORA measures, review flow and pipeline health (see
//! `figures` for how each is defined).
//!
//! Cost in upstream requests, all within `max-requests`: 1 to choose the
//! repositories (or 1 + one per named repository), then per repository 5
//! first pages (environments, deployments, pipeline runs newest first,
//! pull requests merged in the window, open pull requests), then further
//! pages only while deployments and runs reach back into the window and
//! merged pull requests go on. Each round goes out together
//! (`Upstream::send_all`). A repository whose next pages do not fit in
//! what is left of the budget, or that Bitbucket refuses, is left out and
//! named, rather than failing the answer or waiting on the rate limit.

mod figures;
mod rows;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::endpoint::{Endpoint, Response, Upstream, answer_of};
use crate::error::Error;
use crate::page::Paginated;
use crate::path::ApiPath;
use crate::types::{
    DeliveryInsightsRequest, DeliveryReport, DeploymentSource, LeftOut, LeftOutReason,
    RepositoryInsights,
};
use figures::{Events, Samples, Window};
use rows::{DeploymentRow, EnvironmentRow, PullRequestRow, RepositoryRow, RunRow};

const DEFAULT_WEEKS: u32 = 12;
const DEFAULT_REPOSITORIES: u32 = 10;
const DEFAULT_REQUESTS: u32 = 120;
/// Pages of one listing of one repository: 1,000 runs or deployments, 500
/// merged pull requests in the window.
const MAX_PAGES: u32 = 10;
/// Bitbucket's largest page; pull request lists stop at 50.
const PAGELEN: u32 = 100;
const PULL_REQUEST_PAGELEN: u32 = 50;
/// First pages read per repository.
const FIRST_PAGES: u32 = 5;

pub fn delivery(
    upstream: &dyn Upstream,
    request: DeliveryInsightsRequest,
) -> Result<DeliveryReport, Error> {
    delivery_at(upstream, request, OffsetDateTime::now_utc())
}

/// The request's numbers, checked against their ranges.
struct Plan {
    window: Window,
    max_repositories: u32,
    max_requests: u32,
}

fn in_range(
    field: &str,
    value: Option<u32>,
    default: u32,
    low: u32,
    high: u32,
) -> Result<u32, Error> {
    let value = value.unwrap_or(default);
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(Error::validation(
            field,
            format!("must be from {low} to {high}"),
        ))
    }
}

fn plan(request: &DeliveryInsightsRequest, now: OffsetDateTime) -> Result<Plan, Error> {
    let weeks = in_range("weeks", request.weeks, DEFAULT_WEEKS, 1, 26)?;
    let max_repositories = in_range(
        "max_repositories",
        request.max_repositories,
        DEFAULT_REPOSITORIES,
        1,
        50,
    )?;
    let max_requests = in_range(
        "max_requests",
        request.max_requests,
        DEFAULT_REQUESTS,
        10,
        1000,
    )?;
    let end = match &request.until {
        Some(text) => rows::instant(text).ok_or_else(|| {
            Error::validation(
                "until",
                "must be an RFC 3339 date and time, e.g. 2026-11-23T00:00:00Z",
            )
        })?,
        None => now.unix_timestamp(),
    };
    Ok(Plan {
        window: Window::ending(end, weeks),
        max_repositories,
        max_requests,
    })
}

fn format(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A repository to read, as the listing or its own read named it.
struct Candidate {
    slug: String,
    main_branch: String,
}

impl Candidate {
    fn of(row: RepositoryRow) -> Option<Self> {
        Some(Candidate {
            slug: row.slug?,
            main_branch: row
                .mainbranch
                .and_then(|b| b.name)
                .unwrap_or_else(|| "main".to_owned()),
        })
    }
}

/// Which repositories, how many the workspace has, how many were not
/// asked for, and those named that could not be read.
struct Chosen {
    candidates: Vec<Candidate>,
    in_workspace: u32,
    not_sampled: u32,
    left_out: Vec<LeftOut>,
}

fn choose(
    upstream: &dyn Upstream,
    request: &DeliveryInsightsRequest,
    plan: &Plan,
) -> Result<Chosen, Error> {
    let listing = ApiPath::new("repositories").param("workspace", &request.workspace)?;
    let Some(named) = &request.repo_slugs else {
        let page: Paginated<RepositoryRow> = upstream.json(
            &Endpoint::get(listing)
                .query("sort", "-updated_on")
                .query("pagelen", plan.max_repositories.to_string()),
        )?;
        let in_workspace = page.size.map_or(page.values.len() as u32, |s| s as u32);
        let candidates: Vec<Candidate> =
            page.values.into_iter().filter_map(Candidate::of).collect();
        return Ok(Chosen {
            not_sampled: in_workspace.saturating_sub(candidates.len() as u32),
            candidates,
            in_workspace,
            left_out: Vec::new(),
        });
    };
    // A repository named twice is counted once.
    let mut slugs: Vec<&String> = Vec::new();
    for slug in named {
        if !slugs.contains(&slug) {
            slugs.push(slug);
        }
    }
    // One count of the workspace, then each named repository, as far as
    // the budget goes.
    let affordable = plan.max_requests.saturating_sub(1) as usize;
    let mut endpoints = vec![Endpoint::get(listing.clone()).query("pagelen", "1")];
    for (i, slug) in slugs.iter().take(affordable).enumerate() {
        let path = listing.clone().param(&format!("repo_slugs[{i}]"), slug)?;
        endpoints.push(Endpoint::get(path));
    }
    let mut answers = upstream.send_all(&endpoints).into_iter();
    let count: Paginated<serde_json::Value> =
        answer_of(&endpoints[0], &answers.next().expect("one answer each")?)?;
    let mut chosen = Chosen {
        candidates: Vec::new(),
        in_workspace: count.size.map_or(count.values.len() as u32, |s| s as u32),
        not_sampled: 0,
        left_out: Vec::new(),
    };
    for ((slug, endpoint), answer) in slugs.iter().zip(&endpoints[1..]).zip(answers) {
        match answer.and_then(|response| answer_of::<RepositoryRow>(endpoint, &response)) {
            Ok(row) => chosen.candidates.extend(Candidate::of(row)),
            Err(error) => chosen.left_out.push(left_out_for(slug, error)?),
        }
    }
    for slug in slugs.iter().skip(affordable) {
        chosen
            .left_out
            .push(over_budget(slug, "the budget ran out before it was read"));
    }
    Ok(chosen)
}

fn over_budget(slug: &str, detail: &str) -> LeftOut {
    LeftOut {
        repo_slug: slug.to_owned(),
        reason: LeftOutReason::Budget,
        detail: format!("{detail}; raise max_requests to count it"),
    }
}

/// What a repository's failure means for the answer: a credential that
/// no longer works fails it all, anything else leaves the repository out.
fn left_out_for(slug: &str, error: Error) -> Result<LeftOut, Error> {
    let reason = match &error {
        // A credential that no longer works, or a request Bitbucket finds
        // malformed, would meet every repository the same way.
        Error::AuthExpired(_) | Error::AuthInvalid(_) | Error::Validation(_) => return Err(error),
        Error::NotFound(_) => LeftOutReason::NotFound,
        Error::PermissionDenied(_) => LeftOutReason::Forbidden,
        Error::RateLimited(_) => LeftOutReason::RateLimited,
        _ => LeftOutReason::UpstreamError,
    };
    Ok(LeftOut {
        repo_slug: slug.to_owned(),
        reason,
        detail: error.message().to_owned(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Environments,
    Deployments,
    Runs,
    Merged,
    Open,
}

/// What has been read of one repository so far.
struct Reading {
    candidate: Candidate,
    environments: Vec<EnvironmentRow>,
    deployments: Vec<DeploymentRow>,
    runs: Vec<RunRow>,
    merged: Vec<PullRequestRow>,
    open: Vec<PullRequestRow>,
    open_count: u32,
    pipelines_enabled: bool,
    pages: [u32; 5],
    left_out: Option<LeftOut>,
}

impl Reading {
    fn new(candidate: Candidate) -> Self {
        Reading {
            candidate,
            environments: Vec::new(),
            deployments: Vec::new(),
            runs: Vec::new(),
            merged: Vec::new(),
            open: Vec::new(),
            open_count: 0,
            pipelines_enabled: true,
            pages: [0; 5],
            left_out: None,
        }
    }
}

struct Ask {
    repository: usize,
    kind: Kind,
    endpoint: Endpoint,
}

fn first_pages(
    workspace: &str,
    reading: &Reading,
    window: Window,
) -> Result<Vec<(Kind, Endpoint)>, Error> {
    let base = ApiPath::repository(workspace, &reading.candidate.slug)?;
    let pulls = |state: &str| {
        Endpoint::get(base.clone().literal("pullrequests"))
            .query("state", state)
            // Lists leave participants out unless asked for.
            .query("fields", "+values.participants")
            .query("pagelen", PULL_REQUEST_PAGELEN.to_string())
    };
    Ok(vec![
        (
            Kind::Environments,
            Endpoint::get(base.clone().literal("environments"))
                .query("pagelen", PAGELEN.to_string()),
        ),
        (
            Kind::Deployments,
            Endpoint::get(base.clone().literal("deployments"))
                .query("pagelen", PAGELEN.to_string()),
        ),
        (
            Kind::Runs,
            Endpoint::get(base.clone().literal("pipelines"))
                .query("sort", "-created_on")
                .query("pagelen", PAGELEN.to_string()),
        ),
        (
            Kind::Merged,
            pulls("MERGED").query("sort", "updated_on").query(
                "q",
                format!(
                    "updated_on >= {} AND updated_on < {}",
                    format(window.start),
                    format(window.end)
                ),
            ),
        ),
        // Oldest first: past the first page, the oldest waiting is read.
        (Kind::Open, pulls("OPEN").query("sort", "created_on")),
    ])
}

/// The next page of `endpoint`'s listing: Bitbucket's `next`, or the next
/// page number when a full page came without one (BCLOUD-20639).
fn next_page<T>(endpoint: &Endpoint, page: &Paginated<T>) -> Option<Endpoint> {
    if let Some(next) = &page.next {
        let query = next.split_once('?').map_or("", |(_, q)| q).to_owned();
        return Some(Endpoint::get(endpoint.path.clone()).with_raw_query(query));
    }
    let (number, pagelen) = (page.page?, page.pagelen?);
    if page.values.len() < pagelen as usize || page.values.is_empty() {
        return None;
    }
    let mut query: Vec<String> = endpoint
        .query_string()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("page="))
        .map(str::to_owned)
        .collect();
    query.push(format!("page={}", number + 1));
    Some(Endpoint::get(endpoint.path.clone()).with_raw_query(query.join("&")))
}

fn decode<T: DeserializeOwned>(
    endpoint: &Endpoint,
    response: &Response,
) -> Result<Paginated<T>, Error> {
    answer_of(endpoint, response)
}

/// Takes one page into `reading` and answers the next page to read, if
/// the window needs it.
fn take_page(
    reading: &mut Reading,
    kind: Kind,
    endpoint: &Endpoint,
    response: &Response,
    window: Window,
) -> Result<Option<Endpoint>, Error> {
    match kind {
        Kind::Environments => {
            let page: Paginated<EnvironmentRow> = decode(endpoint, response)?;
            reading.environments.extend(page.values);
            Ok(None)
        }
        Kind::Deployments => {
            let mut page: Paginated<DeploymentRow> = decode(endpoint, response)?;
            let reaches_back = page
                .values
                .iter()
                .filter_map(DeploymentRow::latest)
                .min()
                .is_some_and(|oldest| oldest >= window.start);
            let next = next_page(endpoint, &page).filter(|_| reaches_back);
            // Pages shift while a busy repository is read: count each once.
            page.values.retain(|row| {
                !seen(&reading.deployments, row.uuid.as_deref(), |d| {
                    d.uuid.as_deref()
                })
            });
            reading.deployments.extend(page.values);
            Ok(next)
        }
        Kind::Runs => {
            let mut page: Paginated<RunRow> = decode(endpoint, response)?;
            let reaches_back = page
                .values
                .last()
                .and_then(RunRow::created)
                .is_some_and(|oldest| oldest >= window.start);
            let next = next_page(endpoint, &page).filter(|_| reaches_back);
            page.values
                .retain(|row| !seen(&reading.runs, row.uuid.as_deref(), |r| r.uuid.as_deref()));
            reading.runs.extend(page.values);
            Ok(next)
        }
        Kind::Merged => {
            let mut page: Paginated<PullRequestRow> = decode(endpoint, response)?;
            let next = next_page(endpoint, &page);
            page.values
                .retain(|row| row.id.is_none() || !reading.merged.iter().any(|m| m.id == row.id));
            reading.merged.extend(page.values);
            Ok(next)
        }
        Kind::Open => {
            let page: Paginated<PullRequestRow> = decode(endpoint, response)?;
            reading.open_count = page.size.map_or(page.values.len() as u32, |s| s as u32);
            reading.open.extend(page.values);
            Ok(None)
        }
    }
}

/// Whether a row with `id` was read already (a row without one never was).
fn seen<T>(read: &[T], id: Option<&str>, id_of: impl Fn(&T) -> Option<&str>) -> bool {
    id.is_some_and(|id| read.iter().any(|row| id_of(row) == Some(id)))
}

fn slot(kind: Kind) -> usize {
    kind as usize
}

/// Reads every candidate, round by round, within the budget.
fn read_all(
    upstream: &dyn Upstream,
    workspace: &str,
    readings: &mut [Reading],
    plan: &Plan,
) -> Result<(), Error> {
    let remaining =
        |upstream: &dyn Upstream| plan.max_requests.saturating_sub(upstream.requests_sent());
    let mut asks = Vec::new();
    let mut left = remaining(upstream);
    for (i, reading) in readings.iter_mut().enumerate() {
        if left < FIRST_PAGES {
            reading.left_out = Some(over_budget(
                &reading.candidate.slug,
                "the budget ran out before it was read",
            ));
            continue;
        }
        left -= FIRST_PAGES;
        for (kind, endpoint) in first_pages(workspace, reading, plan.window)? {
            asks.push(Ask {
                repository: i,
                kind,
                endpoint,
            });
        }
    }
    while !asks.is_empty() {
        let endpoints: Vec<Endpoint> = asks.iter().map(|a| a.endpoint.clone()).collect();
        let answers = upstream.send_all(&endpoints);
        let mut next: Vec<Ask> = Vec::new();
        for (ask, answer) in asks.into_iter().zip(answers) {
            let reading = &mut readings[ask.repository];
            if reading.left_out.is_some() {
                continue;
            }
            reading.pages[slot(ask.kind)] += 1;
            let taken = answer.and_then(|response| {
                take_page(reading, ask.kind, &ask.endpoint, &response, plan.window)
            });
            match taken {
                Ok(Some(endpoint)) => next.push(Ask { endpoint, ..ask }),
                Ok(None) => {}
                // Environments, deployments or Pipelines not enabled: none to count.
                Err(Error::NotFound(_))
                    if matches!(
                        ask.kind,
                        Kind::Environments | Kind::Deployments | Kind::Runs
                    ) && reading.pages[slot(ask.kind)] == 1 =>
                {
                    if ask.kind == Kind::Runs {
                        reading.pipelines_enabled = false;
                    }
                }
                Err(error) => {
                    reading.left_out = Some(left_out_for(&reading.candidate.slug, error)?);
                }
            }
        }
        asks = affordable(next, readings, remaining(upstream));
    }
    Ok(())
}

/// The next round, whole repositories at a time: one whose pages go over
/// the page cap or what is left of the budget is left out.
fn affordable(next: Vec<Ask>, readings: &mut [Reading], mut left: u32) -> Vec<Ask> {
    let mut round = Vec::new();
    let mut repositories: Vec<usize> = next.iter().map(|a| a.repository).collect();
    repositories.dedup();
    for repository in repositories {
        let reading = &mut readings[repository];
        if reading.left_out.is_some() {
            continue;
        }
        let asks: Vec<&Ask> = next.iter().filter(|a| a.repository == repository).collect();
        let slug = reading.candidate.slug.clone();
        if asks
            .iter()
            .any(|a| reading.pages[slot(a.kind)] >= MAX_PAGES)
        {
            reading.left_out = Some(LeftOut {
                repo_slug: slug,
                reason: LeftOutReason::Budget,
                detail: format!(
                    "more history in the window than {MAX_PAGES} pages of a listing; a shorter window (weeks) counts it"
                ),
            });
            continue;
        }
        if (asks.len() as u32) > left {
            reading.left_out = Some(over_budget(
                &slug,
                "its history needed more pages than the budget had left",
            ));
            continue;
        }
        left -= asks.len() as u32;
    }
    for ask in next {
        if readings[ask.repository].left_out.is_none() {
            round.push(ask);
        }
    }
    round
}

/// A repository's events, and where its deployments came from.
fn events_of(reading: &Reading) -> (DeploymentSource, Events) {
    let main = &reading.candidate.main_branch;
    let production: Vec<&str> = reading
        .environments
        .iter()
        .filter(|e| e.is_production())
        .filter_map(|e| e.uuid.as_deref())
        .collect();
    let main_runs = || reading.runs.iter().filter_map(|r| r.as_deployment(main));
    let (source, deployments) = if !production.is_empty() {
        let deployments = reading
            .deployments
            .iter()
            .filter(|d| d.environment().is_some_and(|e| production.contains(&e)))
            .filter_map(DeploymentRow::event)
            .collect();
        (DeploymentSource::ProductionEnvironment, Some(deployments))
    } else if reading.pipelines_enabled && reading.runs.iter().any(|r| r.on_branch(main)) {
        (
            DeploymentSource::MainBranchPipelines,
            Some(main_runs().collect()),
        )
    } else {
        (DeploymentSource::None, None)
    };
    let events = Events {
        deployments,
        merges: reading
            .merged
            .iter()
            .filter_map(|p| p.merge(main))
            .collect(),
        runs: reading.runs.iter().filter_map(RunRow::event).collect(),
        open_count: reading.open_count,
        open: reading
            .open
            .iter()
            .filter_map(PullRequestRow::open)
            .collect(),
    };
    (source, events)
}

fn delivery_at(
    upstream: &dyn Upstream,
    request: DeliveryInsightsRequest,
    now: OffsetDateTime,
) -> Result<DeliveryReport, Error> {
    let plan = plan(&request, now)?;
    let window = plan.window;
    let chosen = choose(upstream, &request, &plan)?;
    let mut readings: Vec<Reading> = chosen.candidates.into_iter().map(Reading::new).collect();
    read_all(upstream, &request.workspace, &mut readings, &plan)?;

    let mut left_out = chosen.left_out;
    let mut repositories = Vec::new();
    let mut attention = Vec::new();
    let mut pooled = Samples::default();
    for reading in readings {
        if let Some(out) = reading.left_out {
            left_out.push(out);
            continue;
        }
        let (source, events) = events_of(&reading);
        let samples = Samples::of(&events, window);
        pooled.pool(&samples);
        let figures = samples.figures(window, &format);
        attention.extend(figures::attention(&reading.candidate.slug, &figures));
        repositories.push(RepositoryInsights {
            repo_slug: reading.candidate.slug,
            deployment_source: source,
            figures,
        });
    }
    Ok(DeliveryReport {
        workspace: request.workspace,
        window_start: format(window.start),
        window_end: format(window.end),
        weeks: window.weeks,
        repositories_in_workspace: chosen.in_workspace,
        rollup: pooled.figures(window, &format),
        repositories,
        attention,
        partial: !left_out.is_empty() || chosen.not_sampled > 0,
        left_out,
        not_sampled: chosen.not_sampled,
        upstream_requests: upstream.requests_sent(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(values: usize, next: Option<&str>, number: u32) -> Paginated<serde_json::Value> {
        Paginated {
            values: vec![serde_json::Value::Null; values],
            next: next.map(str::to_owned),
            page: Some(number),
            pagelen: Some(100),
            size: None,
        }
    }

    fn runs() -> Endpoint {
        let path = ApiPath::repository("acme", "api")
            .unwrap()
            .literal("pipelines");
        Endpoint::get(path)
            .query("sort", "-created_on")
            .query("pagelen", "100")
    }

    #[test]
    fn the_next_page_is_bitbuckets_link_or_the_next_number_of_a_full_page() {
        let linked = next_page(
            &runs(),
            &page(100, Some("https://api.bitbucket.org/2.0/repositories/acme/api/pipelines?page=2&pagelen=100"), 1),
        )
        .unwrap();
        assert_eq!(linked.query_string(), "page=2&pagelen=100");
        assert_eq!(
            linked.path.as_str(),
            runs().path.as_str(),
            "only the query is taken"
        );
        // A full page without `next` (BCLOUD-20639): the next number.
        let numbered = next_page(&runs(), &page(100, None, 1)).unwrap();
        assert_eq!(
            numbered.query_string(),
            "sort=-created_on&pagelen=100&page=2"
        );
        assert!(
            next_page(&runs(), &page(40, None, 1)).is_none(),
            "a short page is the last"
        );
    }

    #[test]
    fn a_repository_is_read_whole_or_left_out_by_name() {
        let candidate = |slug: &str| Candidate {
            slug: slug.to_owned(),
            main_branch: "main".to_owned(),
        };
        let mut readings = vec![Reading::new(candidate("a")), Reading::new(candidate("b"))];
        let ask = |repository| Ask {
            repository,
            kind: Kind::Runs,
            endpoint: runs(),
        };
        readings[1].pages[slot(Kind::Runs)] = MAX_PAGES;
        // Room for two more requests: a's two pages fit, b is at its cap.
        let round = affordable(vec![ask(0), ask(0), ask(1)], &mut readings, 2);
        assert_eq!(round.len(), 2);
        assert!(readings[0].left_out.is_none());
        let out = readings[1].left_out.as_ref().unwrap();
        assert_eq!(out.reason, LeftOutReason::Budget);
        assert!(out.detail.contains("weeks"), "{}", out.detail);
        // No room: a is left out whole, not read in part.
        let round = affordable(vec![ask(0), ask(0)], &mut readings, 1);
        assert!(round.is_empty());
        assert!(
            readings[0]
                .left_out
                .as_ref()
                .unwrap()
                .detail
                .contains("max_requests")
        );
    }
}
