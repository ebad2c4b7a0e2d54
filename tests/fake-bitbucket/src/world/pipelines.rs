//! Pipeline runs and their steps, and the state machine a triggered run
//! walks through as it is polled.

use super::{Repository, World};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunResult {
    #[default]
    Successful,
    Failed,
    Error,
    Stopped,
    Expired,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Successful => "SUCCESSFUL",
            RunResult::Failed => "FAILED",
            RunResult::Error => "ERROR",
            RunResult::Stopped => "STOPPED",
            RunResult::Expired => "EXPIRED",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Completed(RunResult),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Push,
    Manual,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Push => "PUSH",
            Trigger::Manual => "MANUAL",
            Trigger::Schedule => "SCHEDULE",
        }
    }

    /// The name the listing's `trigger_type` filter uses, from the spec's
    /// enum (`SCHEDULED`, where the run itself says `SCHEDULE`).
    pub fn filter_name(self) -> &'static str {
        match self {
            Trigger::Schedule => "SCHEDULED",
            other => other.as_str(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PipelineTarget {
    /// `branch` for a `pipeline_ref_target`; None for a `pipeline_commit_target`.
    pub ref_type: Option<String>,
    pub ref_name: Option<String>,
    pub commit: String,
    /// (`type`, `pattern`), e.g. ("custom", "deploy-staging") or ("branches", "main").
    pub selector: Option<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Variable {
    pub uuid: String,
    pub key: String,
    pub value: String,
    pub secured: bool,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub uuid: String,
    pub name: String,
    pub image: String,
    pub script: Vec<String>,
}

/// Where a step stands, derived from its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepPhase {
    Pending,
    Running,
    Completed(StepResult),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepResult {
    Successful,
    Failed,
    Error,
    Stopped,
    NotRun,
}

impl StepResult {
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Successful => "SUCCESSFUL",
            StepResult::Failed => "FAILED",
            StepResult::Error => "ERROR",
            StepResult::Stopped => "STOPPED",
            StepResult::NotRun => "NOT_RUN",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Pipeline {
    pub repo: String,
    /// `{uuid}`, braces included.
    pub uuid: String,
    pub build_number: u64,
    pub creator: Option<String>,
    pub target: PipelineTarget,
    pub trigger: Trigger,
    pub phase: Phase,
    /// How the run ends if nobody stops it.
    pub outcome: RunResult,
    pub variables: Vec<Variable>,
    pub created_on: u64,
    /// Seconds the whole run takes once it completes on its own.
    pub duration: u64,
    pub completed_on: Option<u64>,
    /// The step that was running when the run was stopped, if any was.
    pub stopped_in_step: Option<usize>,
    pub steps: Vec<Step>,
    /// GETs seen so far; drives the state machine.
    pub views: u32,
}

impl Pipeline {
    /// One GET's worth of progress: the first look shows PENDING, the next
    /// `running_polls` show IN_PROGRESS, the one after the outcome.
    pub fn observe(&mut self, running_polls: u32) {
        if matches!(self.phase, Phase::Completed(_)) {
            return;
        }
        self.views += 1;
        self.phase = if self.views <= 1 {
            Phase::Pending
        } else if self.views <= 1 + running_polls {
            Phase::Running
        } else {
            self.completed_on = Some(self.created_on + self.duration);
            Phase::Completed(self.outcome)
        };
    }

    /// Stops a run that has not completed: false when it already had.
    pub fn stop(&mut self, now: u64) -> bool {
        let stopped_in_step = match self.phase {
            Phase::Completed(_) => return false,
            Phase::Pending => None,
            Phase::Running => Some(0),
        };
        self.phase = Phase::Completed(RunResult::Stopped);
        self.outcome = RunResult::Stopped;
        self.stopped_in_step = stopped_in_step;
        let completed_on = now.max(self.created_on + 1);
        self.duration = completed_on - self.created_on;
        self.completed_on = Some(completed_on);
        true
    }

    /// Seconds the run has used so far, when it has completed.
    pub fn duration_in_seconds(&self) -> Option<u64> {
        self.completed_on.map(|c| c - self.created_on)
    }

    /// A step's state, following the run's: the first step runs while the
    /// run does; a failure is the last step's, an error the first's.
    pub fn step_phase(&self, index: usize) -> StepPhase {
        let last = self.steps.len().saturating_sub(1);
        match self.phase {
            Phase::Pending => StepPhase::Pending,
            Phase::Running if index == 0 => StepPhase::Running,
            Phase::Running => StepPhase::Pending,
            Phase::Completed(result) => StepPhase::Completed(match result {
                RunResult::Successful => StepResult::Successful,
                RunResult::Failed if index == last => StepResult::Failed,
                RunResult::Failed => StepResult::Successful,
                RunResult::Error if index == 0 => StepResult::Error,
                RunResult::Error | RunResult::Expired => StepResult::NotRun,
                RunResult::Stopped => match self.stopped_in_step {
                    Some(at) if index < at => StepResult::Successful,
                    Some(at) if index == at => StepResult::Stopped,
                    _ => StepResult::NotRun,
                },
            }),
        }
    }

    /// (started_on, completed_on) of a step, in seconds since the epoch of
    /// the fake's clock; the steps share the run's duration.
    pub fn step_times(&self, index: usize) -> (Option<u64>, Option<u64>) {
        let count = self.steps.len().max(1) as u64;
        let setup = 6;
        let share = self.duration.saturating_sub(setup).max(count) / count;
        let start = self.created_on + setup + share * index as u64;
        match self.step_phase(index) {
            StepPhase::Pending => (None, None),
            StepPhase::Running => (Some(start), None),
            StepPhase::Completed(StepResult::NotRun) => (None, None),
            StepPhase::Completed(StepResult::Stopped) => (
                Some(start),
                Some(self.completed_on.unwrap_or(start).max(start)),
            ),
            StepPhase::Completed(_) => (Some(start), Some(start + share)),
        }
    }
}

impl World {
    /// The two steps every run of the fake has, seeded or triggered.
    pub(crate) fn standard_steps(&mut self, repository: &Repository) -> Vec<Step> {
        let image = match repository.language.as_str() {
            "rust" => "rust:1.95",
            "python" => "python:3.13",
            "go" => "golang:1.25",
            "java" | "kotlin" => "eclipse-temurin:21",
            _ => "node:22",
        };
        let (build, test) = match repository.language.as_str() {
            "rust" => ("cargo build --locked", "cargo test --locked"),
            "python" => ("pip install -r requirements.txt", "pytest -q"),
            "go" => ("go build ./...", "go test ./..."),
            "java" | "kotlin" => ("./gradlew assemble", "./gradlew test"),
            _ => ("npm ci", "npm test"),
        };
        [("Build", build), ("Test", test)]
            .iter()
            .map(|(name, command)| Step {
                uuid: self.fresh_uuid(),
                name: (*name).to_owned(),
                image: image.to_owned(),
                script: vec![(*command).to_owned()],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Pipeline {
        Pipeline {
            repo: "w/r".into(),
            uuid: "{p}".into(),
            build_number: 1,
            creator: None,
            target: PipelineTarget {
                ref_type: Some("branch".into()),
                ref_name: Some("main".into()),
                commit: "0".repeat(40),
                selector: None,
            },
            trigger: Trigger::Manual,
            phase: Phase::Pending,
            outcome: RunResult::Successful,
            variables: Vec::new(),
            created_on: 1_000,
            duration: 96,
            completed_on: None,
            stopped_in_step: None,
            steps: ["Build", "Test"]
                .iter()
                .map(|n| Step {
                    uuid: format!("{{{n}}}"),
                    name: (*n).into(),
                    image: "rust:1.95".into(),
                    script: Vec::new(),
                })
                .collect(),
            views: 0,
        }
    }

    #[test]
    fn each_look_advances_a_run_one_state() {
        let mut p = run();
        p.observe(1);
        assert_eq!(p.phase, Phase::Pending);
        assert_eq!(p.step_phase(0), StepPhase::Pending);
        p.observe(1);
        assert_eq!(p.phase, Phase::Running);
        assert_eq!(p.step_phase(0), StepPhase::Running);
        assert_eq!(p.step_phase(1), StepPhase::Pending);
        assert_eq!(p.completed_on, None);
        p.observe(1);
        assert_eq!(p.phase, Phase::Completed(RunResult::Successful));
        assert_eq!(p.duration_in_seconds(), Some(96));
        p.observe(1);
        assert_eq!(p.phase, Phase::Completed(RunResult::Successful));
        assert!(!p.stop(5_000), "a completed run cannot be stopped");
    }

    #[test]
    fn longer_runs_and_failures_follow_the_knobs() {
        let mut p = run();
        p.outcome = RunResult::Failed;
        for _ in 0..4 {
            p.observe(3);
            assert_ne!(p.phase, Phase::Completed(RunResult::Failed));
        }
        p.observe(3);
        assert_eq!(p.phase, Phase::Completed(RunResult::Failed));
        assert_eq!(
            p.step_phase(0),
            StepPhase::Completed(StepResult::Successful)
        );
        assert_eq!(p.step_phase(1), StepPhase::Completed(StepResult::Failed));
    }

    #[test]
    fn stopping_a_running_run_stops_its_first_step() {
        let mut p = run();
        p.observe(1);
        p.observe(1);
        assert!(p.stop(1_050));
        assert_eq!(p.phase, Phase::Completed(RunResult::Stopped));
        assert_eq!(p.step_phase(0), StepPhase::Completed(StepResult::Stopped));
        assert_eq!(p.step_phase(1), StepPhase::Completed(StepResult::NotRun));
        assert_eq!(p.duration_in_seconds(), Some(50));
        p.observe(1);
        assert_eq!(
            p.phase,
            Phase::Completed(RunResult::Stopped),
            "stays stopped"
        );
    }
}
