//! The figures of delivery insights, from samples in time: what a
//! repository's deployments, merges and runs were, and when. No upstream
//! here: every rule that turns events into a figure (medians, bands, weeks,
//! what needs attention) lives in this file, so the docs and the tests can
//! read it in one place.

use crate::types::{
    Attention, AttentionSignal, Band, DeliveryFigures, DoraFigures, DurationFigures, InsightWeek,
    PipelineFigures, ReviewFigures,
};

pub const WEEK_SECONDS: i64 = 7 * 86_400;
const HOUR: f64 = 3_600.0;

/// `[start, end)` in Unix seconds, cut into `weeks` weeks from `start`.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: i64,
    pub end: i64,
    pub weeks: u32,
}

impl Window {
    pub fn ending(end: i64, weeks: u32) -> Self {
        Self {
            start: end - i64::from(weeks) * WEEK_SECONDS,
            end,
            weeks,
        }
    }

    pub fn contains(&self, at: i64) -> bool {
        (self.start..self.end).contains(&at)
    }

    /// The week `at` falls in, if it falls in the window.
    fn week_of(&self, at: i64) -> Option<usize> {
        self.contains(at)
            .then(|| ((at - self.start) / WEEK_SECONDS) as usize)
    }

    pub fn week_start(&self, week: usize) -> i64 {
        self.start + week as i64 * WEEK_SECONDS
    }
}

/// How a completed run or deployment ended, as the figures count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Successful,
    /// Failed or errored (a deployment that expired too).
    Failed,
    /// Stopped or expired: neither a success nor a failure.
    Stopped,
    InProgress,
}

/// A completed deployment (or, for a repository without a Production
/// environment, a completed main-branch run), to one environment.
#[derive(Clone, Debug)]
pub struct DeploymentEvent {
    pub environment: String,
    pub started: i64,
    pub completed: i64,
    pub failed: bool,
}

/// A pull request merged in the window.
#[derive(Clone, Debug)]
pub struct MergeEvent {
    pub created: i64,
    pub merged: i64,
    /// The first approval or change request by someone else.
    pub first_review: Option<i64>,
    /// Into the repository's main branch: a change a deployment carries.
    pub into_main: bool,
}

#[derive(Clone, Debug)]
pub struct RunEvent {
    pub created: i64,
    pub outcome: Outcome,
    pub seconds: Option<f64>,
}

/// An open pull request: when it was opened and whether anyone else
/// approved or asked for changes yet.
#[derive(Clone, Debug)]
pub struct OpenPullRequest {
    pub created: i64,
    pub reviewed: bool,
}

/// One repository's events, as read.
#[derive(Clone, Debug, Default)]
pub struct Events {
    /// None when the repository has nothing to count as a deployment.
    pub deployments: Option<Vec<DeploymentEvent>>,
    pub merges: Vec<MergeEvent>,
    pub runs: Vec<RunEvent>,
    /// Open pull requests Bitbucket counts (`size`), and those read.
    pub open_count: u32,
    pub open: Vec<OpenPullRequest>,
}

/// What the figures are computed from: per repository, then pooled for the
/// rollup. Each sample carries the instant that places it in a week.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    counts_deployments: bool,
    /// (completed, failed) of deployments completed in the window.
    deployments: Vec<(i64, bool)>,
    /// (deployed, hours from the pull request's creation).
    lead_times: Vec<(i64, f64)>,
    changes_not_deployed: u32,
    /// (restored, hours from the first failure of the run of failures).
    restores: Vec<(i64, f64)>,
    unrestored: u32,
    /// (merged, hours to merge, hours to first review).
    merges: Vec<(i64, f64, Option<f64>)>,
    runs: Vec<RunEvent>,
    open: u32,
    waiting: u32,
    oldest_waiting_hours: Option<f64>,
}

fn hours(seconds: i64) -> f64 {
    seconds as f64 / HOUR
}

impl Samples {
    /// A repository's samples in `window`. Events after the window's end
    /// count for nothing: a failure restored after it is unrestored in it.
    pub fn of(events: &Events, window: Window) -> Self {
        let mut samples = Samples {
            counts_deployments: events.deployments.is_some(),
            ..Samples::default()
        };
        if let Some(deployments) = &events.deployments {
            let mut done: Vec<&DeploymentEvent> = deployments
                .iter()
                .filter(|d| d.completed < window.end)
                .collect();
            done.sort_by_key(|d| (d.completed, d.started));
            samples.deployments = done
                .iter()
                .filter(|d| window.contains(d.completed))
                .map(|d| (d.completed, d.failed))
                .collect();
            samples.restores_from(&done, window);
            samples.lead_times_from(&done, &events.merges, window);
        }
        samples.merges = events
            .merges
            .iter()
            .filter(|m| window.contains(m.merged))
            .map(|m| {
                let review = m
                    .first_review
                    .filter(|r| *r >= m.created)
                    .map(|r| hours(r - m.created));
                (m.merged, hours(m.merged - m.created), review)
            })
            .collect();
        samples.runs = events
            .runs
            .iter()
            .filter(|r| window.contains(r.created))
            .cloned()
            .collect();
        samples.open = events.open_count.max(events.open.len() as u32);
        // Ages at the window's end: a pull request opened after it is not
        // yet waiting in it.
        let waiting: Vec<i64> = events
            .open
            .iter()
            .filter(|p| !p.reviewed && p.created < window.end)
            .map(|p| window.end - p.created)
            .collect();
        samples.waiting = waiting.len() as u32;
        samples.oldest_waiting_hours = waiting.iter().max().map(|s| hours(*s));
        samples
    }

    /// Per environment, a run of failures is restored by the next success;
    /// it counts when its first failure completed in the window.
    fn restores_from(&mut self, done: &[&DeploymentEvent], window: Window) {
        let mut failing_since: Vec<(&str, i64)> = Vec::new();
        for d in done {
            let position = failing_since
                .iter()
                .position(|(environment, _)| *environment == d.environment);
            match (d.failed, position) {
                (true, None) => failing_since.push((&d.environment, d.completed)),
                (true, Some(_)) => {}
                (false, Some(i)) => {
                    let (_, since) = failing_since.swap_remove(i);
                    if window.contains(since) {
                        self.restores
                            .push((d.completed, hours(d.completed - since)));
                    }
                }
                (false, None) => {}
            }
        }
        self.unrestored = failing_since
            .iter()
            .filter(|(_, since)| window.contains(*since))
            .count() as u32;
    }

    /// Each change merged into the main branch in the window, to the first
    /// successful deployment that started after its merge.
    fn lead_times_from(
        &mut self,
        done: &[&DeploymentEvent],
        merges: &[MergeEvent],
        window: Window,
    ) {
        for merge in merges
            .iter()
            .filter(|m| m.into_main && window.contains(m.merged))
        {
            let carried = done
                .iter()
                .filter(|d| !d.failed && d.started >= merge.merged)
                .min_by_key(|d| d.completed);
            match carried {
                Some(d) => self
                    .lead_times
                    .push((d.completed, hours(d.completed - merge.created))),
                None => self.changes_not_deployed += 1,
            }
        }
    }

    /// Every sample of `others` added to these.
    pub fn pool(&mut self, other: &Samples) {
        self.counts_deployments |= other.counts_deployments;
        self.deployments.extend_from_slice(&other.deployments);
        self.lead_times.extend_from_slice(&other.lead_times);
        self.changes_not_deployed += other.changes_not_deployed;
        self.restores.extend_from_slice(&other.restores);
        self.unrestored += other.unrestored;
        self.merges.extend_from_slice(&other.merges);
        self.runs.extend_from_slice(&other.runs);
        self.open += other.open;
        self.waiting += other.waiting;
        self.oldest_waiting_hours = match (self.oldest_waiting_hours, other.oldest_waiting_hours) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn figures(&self, window: Window, format: &dyn Fn(i64) -> String) -> DeliveryFigures {
        DeliveryFigures {
            dora: self.dora(window),
            review: self.review(),
            pipelines: pipeline_figures(self.runs.iter()),
            weeks: (0..window.weeks as usize)
                .map(|week| self.week(window, week, format))
                .collect(),
        }
    }

    fn dora(&self, window: Window) -> DoraFigures {
        let successful = self
            .deployments
            .iter()
            .filter(|(_, failed)| !failed)
            .count() as u32;
        let failed = self.deployments.len() as u32 - successful;
        let per_week = f64::from(successful) / f64::from(window.weeks.max(1));
        let lead_time = durations(self.lead_times.iter().map(|(_, h)| *h));
        let restore = durations(self.restores.iter().map(|(_, h)| *h));
        let rate =
            (successful + failed > 0).then(|| f64::from(failed) / f64::from(successful + failed));
        DoraFigures {
            deployments: successful,
            deployments_per_week: per_week,
            deployment_frequency_band: self
                .counts_deployments
                .then(|| deployment_frequency_band(per_week)),
            lead_time_band: lead_time.median_hours.map(lead_time_band),
            lead_time,
            changes_not_deployed: self.changes_not_deployed,
            failed_deployments: failed,
            change_failure_rate: rate,
            change_failure_band: rate.map(change_failure_band),
            time_to_restore_band: restore.median_hours.map(time_to_restore_band),
            time_to_restore: restore,
            unrestored_failures: self.unrestored,
        }
    }

    fn review(&self) -> ReviewFigures {
        ReviewFigures {
            merged: self.merges.len() as u32,
            time_to_first_review: durations(self.merges.iter().filter_map(|(_, _, r)| *r)),
            time_to_merge: durations(self.merges.iter().map(|(_, h, _)| *h)),
            open: self.open,
            waiting_for_review: self.waiting,
            oldest_waiting_hours: self.oldest_waiting_hours,
        }
    }

    fn week(&self, window: Window, week: usize, format: &dyn Fn(i64) -> String) -> InsightWeek {
        let this = |at: i64| window.week_of(at) == Some(week);
        let deployments: Vec<bool> = self
            .deployments
            .iter()
            .filter(|(at, _)| this(*at))
            .map(|(_, failed)| *failed)
            .collect();
        let failed = deployments.iter().filter(|f| **f).count() as u32;
        let runs = pipeline_figures(self.runs.iter().filter(|r| this(r.created)));
        let merges: Vec<_> = self.merges.iter().filter(|(at, _, _)| this(*at)).collect();
        InsightWeek {
            starts_on: format(window.week_start(week)),
            deployments: deployments.len() as u32 - failed,
            failed_deployments: failed,
            lead_time_median_hours: median(
                self.lead_times
                    .iter()
                    .filter(|(at, _)| this(*at))
                    .map(|(_, h)| *h),
            ),
            time_to_restore_median_hours: median(
                self.restores
                    .iter()
                    .filter(|(at, _)| this(*at))
                    .map(|(_, h)| *h),
            ),
            runs: runs.runs,
            successful_runs: runs.successful,
            failed_runs: runs.failed,
            success_rate: runs.success_rate,
            duration_p50_seconds: runs.duration_p50_seconds,
            duration_p90_seconds: runs.duration_p90_seconds,
            merged: merges.len() as u32,
            time_to_merge_median_hours: median(merges.iter().map(|(_, h, _)| *h)),
            time_to_first_review_median_hours: median(merges.iter().filter_map(|(_, _, r)| *r)),
        }
    }
}

fn pipeline_figures<'a>(runs: impl Iterator<Item = &'a RunEvent>) -> PipelineFigures {
    let mut figures = PipelineFigures {
        runs: 0,
        successful: 0,
        failed: 0,
        stopped: 0,
        in_progress: 0,
        success_rate: None,
        duration_p50_seconds: None,
        duration_p90_seconds: None,
    };
    // Stopped runs were cut short by someone: their durations say nothing
    // about how long a build takes.
    let mut seconds = Vec::new();
    for run in runs {
        figures.runs += 1;
        match run.outcome {
            Outcome::Successful => figures.successful += 1,
            Outcome::Failed => figures.failed += 1,
            Outcome::Stopped => figures.stopped += 1,
            Outcome::InProgress => figures.in_progress += 1,
        }
        if matches!(run.outcome, Outcome::Successful | Outcome::Failed) {
            seconds.extend(run.seconds);
        }
    }
    let decided = figures.successful + figures.failed;
    figures.success_rate =
        (decided > 0).then(|| f64::from(figures.successful) / f64::from(decided));
    figures.duration_p50_seconds = median(seconds.iter().copied());
    figures.duration_p90_seconds = percentile(seconds.iter().copied(), 90);
    figures
}

fn durations(hours: impl Iterator<Item = f64>) -> DurationFigures {
    let values: Vec<f64> = hours.collect();
    DurationFigures {
        count: values.len() as u32,
        median_hours: median(values.iter().copied()),
        p90_hours: percentile(values.iter().copied(), 90),
    }
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

/// The middle value; the mean of the two middle ones for an even count.
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let values = sorted(values);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// The nearest-rank percentile: the smallest value with at least `p` % of
/// the values at or below it.
pub fn percentile(values: impl Iterator<Item = f64>, p: u32) -> Option<f64> {
    let values = sorted(values);
    if values.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * values.len() as u64).div_ceil(100).max(1) as usize;
    Some(values[rank - 1])
}

// The bands follow the DORA reports (Accelerate State of DevOps): elite
// deploys on demand, several times a day, high between daily and weekly,
// medium between weekly and monthly; lead time under a day, a week, a
// month; time to restore under an hour, a day, a week; change failure
// rates at most 5 %, 10 %, 15 % (the 2023 report's cluster values).

/// A month of weeks: 30.44 days.
const WEEKS_PER_MONTH: f64 = 30.44 / 7.0;

pub fn deployment_frequency_band(per_week: f64) -> Band {
    if per_week >= 7.0 {
        Band::Elite
    } else if per_week >= 1.0 {
        Band::High
    } else if per_week >= 1.0 / WEEKS_PER_MONTH {
        Band::Medium
    } else {
        Band::Low
    }
}

pub fn lead_time_band(median_hours: f64) -> Band {
    if median_hours < 24.0 {
        Band::Elite
    } else if median_hours < 24.0 * 7.0 {
        Band::High
    } else if median_hours < 24.0 * 30.44 {
        Band::Medium
    } else {
        Band::Low
    }
}

pub fn change_failure_band(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.10 {
        Band::High
    } else if rate <= 0.15 {
        Band::Medium
    } else {
        Band::Low
    }
}

pub fn time_to_restore_band(median_hours: f64) -> Band {
    if median_hours < 1.0 {
        Band::Elite
    } else if median_hours < 24.0 {
        Band::High
    } else if median_hours < 24.0 * 7.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// A pull request waiting longer than this for a first review needs someone.
const WAITING_TOO_LONG_HOURS: f64 = 72.0;
/// Below this share of successful runs, a repository's pipelines need work.
const HEALTHY_SUCCESS_RATE: f64 = 0.8;
/// Fewer decided runs than this say nothing about a success rate.
const RUNS_TO_JUDGE: u32 = 5;

/// What in a repository's figures needs someone, in the signals' order.
pub fn attention(repo_slug: &str, figures: &DeliveryFigures) -> Vec<Attention> {
    let mut found = Vec::new();
    let mut raise = |signal, detail: String| {
        found.push(Attention {
            repo_slug: repo_slug.to_owned(),
            signal,
            detail,
        })
    };
    let dora = &figures.dora;
    if let (Some(Band::Low), Some(rate)) = (dora.change_failure_band, dora.change_failure_rate) {
        raise(
            AttentionSignal::ChangeFailures,
            format!(
                "{} of {} deployments failed ({:.0} %)",
                dora.failed_deployments,
                dora.failed_deployments + dora.deployments,
                rate * 100.0
            ),
        );
    }
    if dora.unrestored_failures > 0 {
        raise(
            AttentionSignal::UnrestoredFailure,
            format!(
                "{} failed deployment(s) with no successful one since",
                dora.unrestored_failures
            ),
        );
    }
    let pipelines = &figures.pipelines;
    if let Some(rate) = pipelines.success_rate
        && rate < HEALTHY_SUCCESS_RATE
        && pipelines.successful + pipelines.failed >= RUNS_TO_JUDGE
    {
        raise(
            AttentionSignal::FailingPipelines,
            format!(
                "{:.0} % of {} pipeline runs succeeded",
                rate * 100.0,
                pipelines.successful + pipelines.failed
            ),
        );
    }
    let review = &figures.review;
    if let Some(oldest) = review.oldest_waiting_hours
        && oldest > WAITING_TOO_LONG_HOURS
    {
        raise(
            AttentionSignal::WaitingForReview,
            format!(
                "{} pull request(s) wait for a first review, the oldest for {:.1} days",
                review.waiting_for_review,
                oldest / 24.0
            ),
        );
    }
    if let (Some(Band::Low), Some(median)) = (dora.lead_time_band, dora.lead_time.median_hours) {
        raise(
            AttentionSignal::SlowLeadTime,
            format!("median lead time for changes {:.1} days", median / 24.0),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600;

    fn window() -> Window {
        Window::ending(10 * WEEK_SECONDS, 2)
    }

    fn deploy(environment: &str, completed: i64, failed: bool) -> DeploymentEvent {
        DeploymentEvent {
            environment: environment.into(),
            started: completed - 600,
            completed,
            failed,
        }
    }

    fn at(week: i64, hours: i64) -> i64 {
        8 * WEEK_SECONDS + week * WEEK_SECONDS + hours * H
    }

    #[test]
    fn a_run_of_failures_is_restored_once_from_its_first_failure() {
        let events = Events {
            deployments: Some(vec![
                deploy("prod", at(0, 10), false),
                deploy("prod", at(0, 20), true),
                deploy("prod", at(0, 22), true),
                // Another environment's success restores nothing here.
                deploy("eu", at(0, 23), false),
                deploy("prod", at(0, 25), false),
                deploy("prod", at(1, 30), true),
                // After the window: the last failure stays unrestored.
                deploy("prod", at(2, 1), false),
            ]),
            ..Events::default()
        };
        let samples = Samples::of(&events, window());
        let figures = samples.figures(window(), &|t| t.to_string());
        assert_eq!(figures.dora.deployments, 3);
        assert_eq!(figures.dora.failed_deployments, 3);
        assert_eq!(figures.dora.change_failure_rate, Some(0.5));
        assert_eq!(figures.dora.time_to_restore.count, 1);
        assert_eq!(figures.dora.time_to_restore.median_hours, Some(5.0));
        assert_eq!(figures.dora.unrestored_failures, 1);
        assert_eq!(figures.dora.deployments_per_week, 1.5);
        assert_eq!(figures.weeks[0].deployments, 3);
        assert_eq!(figures.weeks[1].failed_deployments, 1);
    }

    #[test]
    fn a_change_is_carried_by_the_first_success_that_started_after_its_merge() {
        let merge = |created, merged| MergeEvent {
            created,
            merged,
            first_review: Some(created + H),
            into_main: true,
        };
        let events = Events {
            deployments: Some(vec![
                deploy("prod", at(0, 5), false),
                deploy("prod", at(0, 30), true),
                deploy("prod", at(0, 40), false),
            ]),
            merges: vec![
                merge(at(0, 0), at(0, 10)),
                // Merged before the window: no lead time, though deployed in it.
                merge(at(-1, 0), at(-1, 1)),
                // Nothing deployed after it.
                merge(at(1, 0), at(1, 2)),
            ],
            ..Events::default()
        };
        let figures = Samples::of(&events, window()).figures(window(), &|t| t.to_string());
        assert_eq!(figures.dora.lead_time.count, 1);
        assert_eq!(figures.dora.lead_time.median_hours, Some(40.0));
        assert_eq!(figures.dora.changes_not_deployed, 1);
        assert_eq!(figures.review.merged, 2);
        assert_eq!(figures.review.time_to_first_review.median_hours, Some(1.0));
        assert_eq!(figures.weeks[0].lead_time_median_hours, Some(40.0));
    }

    #[test]
    fn medians_average_the_middle_pair_and_percentiles_take_the_nearest_rank() {
        let values = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(values.into_iter()), Some(2.5));
        assert_eq!(median([5.0].into_iter()), Some(5.0));
        assert_eq!(percentile(values.into_iter(), 90), Some(4.0));
        assert_eq!(percentile((1..=10).map(f64::from), 90), Some(9.0));
        assert_eq!(median(std::iter::empty()), None);
    }

    #[test]
    fn bands_follow_the_dora_thresholds() {
        assert_eq!(deployment_frequency_band(7.0), Band::Elite);
        assert_eq!(deployment_frequency_band(1.0), Band::High);
        assert_eq!(deployment_frequency_band(0.25), Band::Medium);
        assert_eq!(deployment_frequency_band(0.2), Band::Low);
        assert_eq!(lead_time_band(23.9), Band::Elite);
        assert_eq!(lead_time_band(24.0 * 8.0), Band::Medium);
        assert_eq!(change_failure_band(0.05), Band::Elite);
        assert_eq!(change_failure_band(0.16), Band::Low);
        assert_eq!(time_to_restore_band(0.5), Band::Elite);
        assert_eq!(time_to_restore_band(24.0 * 8.0), Band::Low);
    }

    #[test]
    fn stopped_runs_count_in_neither_rate_nor_durations_and_waiting_is_aged_at_the_end() {
        let run = |created, outcome, seconds| RunEvent {
            created,
            outcome,
            seconds: Some(seconds),
        };
        let events = Events {
            deployments: None,
            runs: vec![
                run(at(0, 1), Outcome::Successful, 100.0),
                run(at(0, 2), Outcome::Failed, 300.0),
                run(at(0, 3), Outcome::Stopped, 5.0),
            ],
            open_count: 3,
            open: vec![
                OpenPullRequest {
                    created: at(1, 0),
                    reviewed: false,
                },
                OpenPullRequest {
                    created: at(0, 0),
                    reviewed: true,
                },
                OpenPullRequest {
                    created: at(3, 0),
                    reviewed: false,
                },
            ],
            ..Events::default()
        };
        let figures = Samples::of(&events, window()).figures(window(), &|t| t.to_string());
        assert_eq!(figures.pipelines.success_rate, Some(0.5));
        assert_eq!(figures.pipelines.duration_p50_seconds, Some(200.0));
        assert_eq!(figures.pipelines.stopped, 1);
        assert_eq!(figures.review.open, 3);
        assert_eq!(figures.review.waiting_for_review, 1);
        assert_eq!(figures.review.oldest_waiting_hours, Some(168.0));
        assert_eq!(figures.dora.deployment_frequency_band, None);
        // Two decided runs judge nothing; a week without review is too long.
        let signals: Vec<AttentionSignal> = attention("web", &figures)
            .iter()
            .map(|a| a.signal)
            .collect();
        assert_eq!(signals, [AttentionSignal::WaitingForReview]);
    }
}
