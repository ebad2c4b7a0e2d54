//! The few fields of Bitbucket's answers the insights read, and how they
//! become events. Only these fields are decoded: a page of 100 pipeline
//! runs carries far more than a figure needs.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::model::Named;

use super::figures::{DeploymentEvent, MergeEvent, OpenPullRequest, Outcome, RunEvent};

#[derive(Deserialize)]
pub struct Uuid {
    pub uuid: Option<String>,
}

#[derive(Deserialize)]
pub struct RepositoryRow {
    pub slug: Option<String>,
    pub mainbranch: Option<Named>,
}

#[derive(Deserialize)]
pub struct EnvironmentRow {
    pub uuid: Option<String>,
    pub environment_type: Option<Named>,
}

impl EnvironmentRow {
    pub fn is_production(&self) -> bool {
        self.environment_type
            .as_ref()
            .and_then(|t| t.name.as_deref())
            .is_some_and(|name| name.eq_ignore_ascii_case("production"))
    }
}

#[derive(Deserialize)]
pub struct DeploymentRow {
    pub uuid: Option<String>,
    state: Option<DeploymentState>,
    environment: Option<Uuid>,
    release: Option<Release>,
}

#[derive(Deserialize)]
struct DeploymentState {
    name: Option<String>,
    status: Option<Named>,
    start_date: Option<String>,
    completion_date: Option<String>,
}

#[derive(Deserialize)]
struct Release {
    created_on: Option<String>,
}

impl DeploymentRow {
    pub fn environment(&self) -> Option<&str> {
        self.environment.as_ref()?.uuid.as_deref()
    }

    /// The latest instant the row names: paging stops once a page holds
    /// only deployments from before the window.
    pub fn latest(&self) -> Option<i64> {
        let state = self.state.as_ref();
        [
            state.and_then(|s| s.completion_date.as_deref()),
            state.and_then(|s| s.start_date.as_deref()),
            self.release.as_ref().and_then(|r| r.created_on.as_deref()),
        ]
        .into_iter()
        .flatten()
        .filter_map(instant)
        .max()
    }

    /// A completed deployment that succeeded or failed; stopped ones and
    /// those still running are neither.
    pub fn event(&self) -> Option<DeploymentEvent> {
        let state = self.state.as_ref()?;
        if !state.name.as_deref()?.eq_ignore_ascii_case("completed") {
            return None;
        }
        let failed = match state.status.as_ref()?.name.as_deref()? {
            "SUCCESSFUL" => false,
            "FAILED" => true,
            _ => return None,
        };
        let completed = instant(state.completion_date.as_deref()?)?;
        let started = state
            .start_date
            .as_deref()
            .or(self.release.as_ref().and_then(|r| r.created_on.as_deref()))
            .and_then(instant)
            .unwrap_or(completed);
        Some(DeploymentEvent {
            environment: self.environment()?.to_owned(),
            started,
            completed,
            failed,
        })
    }
}

#[derive(Deserialize)]
pub struct RunRow {
    pub uuid: Option<String>,
    target: Option<RunTarget>,
    state: Option<RunState>,
    created_on: Option<String>,
    completed_on: Option<String>,
    duration_in_seconds: Option<u64>,
}

#[derive(Deserialize)]
struct RunTarget {
    ref_name: Option<String>,
}

#[derive(Deserialize)]
struct RunState {
    name: Option<String>,
    result: Option<Named>,
}

impl RunRow {
    pub fn created(&self) -> Option<i64> {
        instant(self.created_on.as_deref()?)
    }

    pub fn on_branch(&self, branch: &str) -> bool {
        self.target
            .as_ref()
            .and_then(|t| t.ref_name.as_deref())
            .is_some_and(|name| name == branch)
    }

    fn outcome(&self) -> Outcome {
        let state = self.state.as_ref();
        let completed = state
            .and_then(|s| s.name.as_deref())
            .is_some_and(|n| n.eq_ignore_ascii_case("completed"));
        if !completed {
            return Outcome::InProgress;
        }
        match state
            .and_then(|s| s.result.as_ref())
            .and_then(|r| r.name.as_deref())
        {
            Some("SUCCESSFUL") => Outcome::Successful,
            Some("FAILED" | "ERROR") => Outcome::Failed,
            _ => Outcome::Stopped,
        }
    }

    pub fn event(&self) -> Option<RunEvent> {
        Some(RunEvent {
            created: self.created()?,
            outcome: self.outcome(),
            seconds: self.duration_in_seconds.map(|s| s as f64),
        })
    }

    /// A completed main-branch run, as a deployment of a repository that
    /// has no Production environment.
    pub fn as_deployment(&self, branch: &str) -> Option<DeploymentEvent> {
        if !self.on_branch(branch) {
            return None;
        }
        let failed = match self.outcome() {
            Outcome::Successful => false,
            Outcome::Failed => true,
            Outcome::Stopped | Outcome::InProgress => return None,
        };
        let started = self.created()?;
        let completed = self
            .completed_on
            .as_deref()
            .and_then(instant)
            .or_else(|| Some(started + self.duration_in_seconds? as i64))?;
        Some(DeploymentEvent {
            environment: branch.to_owned(),
            started,
            completed,
            failed,
        })
    }
}

#[derive(Deserialize)]
pub struct PullRequestRow {
    pub id: Option<u64>,
    author: Option<Uuid>,
    destination: Option<Destination>,
    participants: Option<Vec<ParticipantRow>>,
    created_on: Option<String>,
    updated_on: Option<String>,
}

#[derive(Deserialize)]
struct Destination {
    branch: Option<Named>,
}

#[derive(Deserialize)]
struct ParticipantRow {
    user: Option<Uuid>,
    approved: Option<bool>,
    state: Option<String>,
    participated_on: Option<String>,
}

impl PullRequestRow {
    /// The first approval or change request by someone other than the
    /// author. Bitbucket keeps each participant's latest participation
    /// only, so this is when the earliest reviewer last acted.
    fn first_review(&self) -> Option<i64> {
        let author = self.author.as_ref().and_then(|a| a.uuid.as_deref());
        self.participants
            .iter()
            .flatten()
            .filter(|p| p.user.as_ref().and_then(|u| u.uuid.as_deref()) != author)
            .filter(|p| {
                p.approved == Some(true)
                    || matches!(p.state.as_deref(), Some("approved" | "changes_requested"))
            })
            .filter_map(|p| instant(p.participated_on.as_deref()?))
            .min()
    }

    /// Merged: Bitbucket moves `updated_on` when it merges, and a merged
    /// pull request cannot change after.
    pub fn merge(&self, main_branch: &str) -> Option<MergeEvent> {
        let into_main = self
            .destination
            .as_ref()
            .and_then(|d| d.branch.as_ref())
            .and_then(|b| b.name.as_deref())
            == Some(main_branch);
        Some(MergeEvent {
            created: instant(self.created_on.as_deref()?)?,
            merged: instant(self.updated_on.as_deref()?)?,
            first_review: self.first_review(),
            into_main,
        })
    }

    pub fn open(&self) -> Option<OpenPullRequest> {
        Some(OpenPullRequest {
            created: instant(self.created_on.as_deref()?)?,
            reviewed: self.first_review().is_some(),
        })
    }
}

/// Bitbucket's timestamps (`2026-11-23T08:01:02.123456+00:00`) as Unix seconds.
pub fn instant(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_review_is_someone_elses_approval_or_change_request() {
        let row: PullRequestRow = serde_json::from_value(json!({
            "author": {"uuid": "{a}"},
            "destination": {"branch": {"name": "main"}},
            "created_on": "2026-11-01T00:00:00+00:00",
            "updated_on": "2026-11-03T00:00:00.5+00:00",
            "participants": [
                {"user": {"uuid": "{a}"}, "approved": true, "participated_on": "2026-11-01T01:00:00+00:00"},
                {"user": {"uuid": "{b}"}, "approved": false, "state": null, "participated_on": "2026-11-01T02:00:00+00:00"},
                {"user": {"uuid": "{c}"}, "approved": false, "state": "changes_requested", "participated_on": "2026-11-01T05:00:00+00:00"},
                {"user": {"uuid": "{d}"}, "approved": true, "participated_on": "2026-11-02T00:00:00+00:00"}
            ]
        }))
        .unwrap();
        let merge = row.merge("main").unwrap();
        assert_eq!(merge.first_review, Some(merge.created + 5 * 3_600));
        assert_eq!(merge.merged - merge.created, 2 * 86_400);
        assert!(merge.into_main);
        assert!(!row.merge("develop").unwrap().into_main);
    }

    #[test]
    fn runs_read_as_outcomes_and_main_branch_deployments() {
        let run = |state: serde_json::Value| -> RunRow {
            serde_json::from_value(json!({
                "target": {"ref_name": "main"},
                "state": state,
                "created_on": "2026-11-01T00:00:00Z",
                "duration_in_seconds": 90
            }))
            .unwrap()
        };
        let failed = run(json!({"name": "COMPLETED", "result": {"name": "ERROR"}}));
        assert_eq!(failed.event().unwrap().outcome, Outcome::Failed);
        let deployment = failed.as_deployment("main").unwrap();
        assert!(deployment.failed);
        assert_eq!(deployment.completed - deployment.started, 90);
        assert!(failed.as_deployment("master").is_none());
        let stopped = run(json!({"name": "COMPLETED", "result": {"name": "EXPIRED"}}));
        assert_eq!(stopped.event().unwrap().outcome, Outcome::Stopped);
        assert!(stopped.as_deployment("main").is_none());
        let running = run(json!({"name": "IN_PROGRESS", "stage": {"name": "RUNNING"}}));
        assert_eq!(running.event().unwrap().outcome, Outcome::InProgress);
    }
}
