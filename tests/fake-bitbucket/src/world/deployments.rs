//! Deployment environments and the deployments pipeline runs make to them.
//!
//! A run of the custom pipeline `deploy-<slug>` deploys to the environment
//! of that slug (bitbucket-pipelines.yml of the rich repositories declares
//! `deployment: staging` / `deployment: production` on those pipelines'
//! steps); no other run deploys. A deployment keeps only which run made it:
//! its state is the run's, read whenever it is rendered, so it is in
//! progress while the run is and ends as the run ends.

use super::{Phase, Pipeline, RunResult, World, braced};

/// Bitbucket's three environment types, in rank order: (name, slug).
pub const ENVIRONMENT_TYPES: [(&str, &str); 3] = [
    ("Test", "test"),
    ("Staging", "staging"),
    ("Production", "production"),
];

#[derive(Clone, Debug)]
pub struct Environment {
    /// The repository's full name.
    pub repo: String,
    /// `{uuid}`, braces included.
    pub uuid: String,
    pub name: String,
    pub slug: String,
    /// The environment type's name: `Test`, `Staging` or `Production`.
    pub kind: String,
    /// 0 for Test, 1 for Staging, 2 for Production.
    pub rank: u32,
    pub hidden: bool,
}

#[derive(Clone, Debug)]
pub struct Deployment {
    /// The repository's full name.
    pub repo: String,
    /// `{uuid}`, braces included.
    pub uuid: String,
    /// The environment's `{uuid}`.
    pub environment: String,
    /// The `{uuid}` of the run that made it (its release).
    pub pipeline: String,
}

/// How a completed deployment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentStatus {
    Successful,
    Failed,
    Stopped,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Successful => "SUCCESSFUL",
            DeploymentStatus::Failed => "FAILED",
            DeploymentStatus::Stopped => "STOPPED",
        }
    }
}

/// Where a deployment stands, derived from its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeploymentState {
    InProgress,
    Completed(DeploymentStatus),
}

impl DeploymentState {
    /// A pending or running run is a deployment in progress; a run that
    /// errored or expired failed to deploy.
    pub fn of(run: &Pipeline) -> Self {
        match run.phase {
            Phase::Pending | Phase::Running => DeploymentState::InProgress,
            Phase::Completed(RunResult::Successful) => {
                DeploymentState::Completed(DeploymentStatus::Successful)
            }
            Phase::Completed(RunResult::Stopped) => {
                DeploymentState::Completed(DeploymentStatus::Stopped)
            }
            Phase::Completed(RunResult::Failed | RunResult::Error | RunResult::Expired) => {
                DeploymentState::Completed(DeploymentStatus::Failed)
            }
        }
    }
}

impl World {
    /// A repository's environments (by full name), in rank order.
    pub fn environments_of(&self, full_name: &str) -> Vec<&Environment> {
        let mut environments: Vec<&Environment> = self
            .environments
            .iter()
            .filter(|e| e.repo == full_name)
            .collect();
        environments.sort_by_key(|e| (e.rank, e.name.clone()));
        environments
    }

    /// An environment of a repository by `{uuid}`, with or without braces.
    pub fn environment(&self, full_name: &str, uuid: &str) -> Option<&Environment> {
        let uuid = braced(uuid);
        self.environments
            .iter()
            .find(|e| e.repo == full_name && e.uuid == uuid)
    }

    /// An environment of a repository by name, e.g. `"Staging"`.
    pub fn environment_named(&self, full_name: &str, name: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|e| e.repo == full_name && e.name == name)
    }

    /// A repository's deployments, newest first (by when their run started).
    pub fn deployments_of(&self, full_name: &str) -> Vec<&Deployment> {
        let mut deployments: Vec<(&Deployment, u64, u64)> = self
            .deployments
            .iter()
            .filter(|d| d.repo == full_name)
            .map(|d| {
                let run = self.pipeline(&d.pipeline);
                let created = run.map_or(0, |p| p.created_on);
                let number = run.map_or(0, |p| p.build_number);
                (d, created, number)
            })
            .collect();
        deployments.sort_by_key(|d| std::cmp::Reverse((d.1, d.2)));
        deployments.into_iter().map(|(d, _, _)| d).collect()
    }

    /// A deployment of a repository by `{uuid}`, with or without braces.
    pub fn deployment(&self, full_name: &str, uuid: &str) -> Option<&Deployment> {
        let uuid = braced(uuid);
        self.deployments
            .iter()
            .find(|d| d.repo == full_name && d.uuid == uuid)
    }

    /// The deployment the run `pipeline_uuid` made, if it made one.
    pub fn deployment_of_run(&self, pipeline_uuid: &str) -> Option<&Deployment> {
        let uuid = braced(pipeline_uuid);
        self.deployments.iter().find(|d| d.pipeline == uuid)
    }

    /// Gives a repository Test, Staging and Production, with the uuids
    /// `uuid(first_id)`, `uuid(first_id + 1)`, `uuid(first_id + 2)`.
    pub(crate) fn seed_environments(&mut self, full_name: &str, first_id: u64) {
        for ((name, slug), rank) in ENVIRONMENT_TYPES.iter().zip(0u32..) {
            self.environments.push(Environment {
                repo: full_name.to_owned(),
                uuid: super::uuid(first_id + u64::from(rank)),
                name: (*name).to_owned(),
                slug: (*slug).to_owned(),
                kind: (*name).to_owned(),
                rank,
                hidden: false,
            });
        }
    }

    /// Records the deployment the run at `index` makes, if its selector is
    /// a `deploy-<slug>` custom pipeline and its repository has that
    /// environment; `uuid` becomes the deployment's (a fresh one if None).
    pub(crate) fn record_deployment(&mut self, index: usize, uuid: Option<String>) -> bool {
        let run = &self.pipelines[index];
        let Some(("custom", pattern)) = run
            .target
            .selector
            .as_ref()
            .map(|(kind, pattern)| (kind.as_str(), pattern.as_str()))
        else {
            return false;
        };
        let Some(slug) = pattern.strip_prefix("deploy-") else {
            return false;
        };
        let Some(environment) = self
            .environments
            .iter()
            .find(|e| e.repo == run.repo && e.slug == slug)
        else {
            return false;
        };
        let (repo, environment, pipeline) =
            (run.repo.clone(), environment.uuid.clone(), run.uuid.clone());
        let uuid = uuid.unwrap_or_else(|| self.fresh_uuid());
        self.deployments.push(Deployment {
            repo,
            uuid,
            environment,
            pipeline,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_expiries_are_failed_deployments() {
        let mut run = Pipeline {
            repo: "w/r".into(),
            uuid: "{p}".into(),
            build_number: 1,
            creator: None,
            target: super::super::PipelineTarget {
                ref_type: None,
                ref_name: None,
                commit: String::new(),
                selector: None,
            },
            trigger: super::super::Trigger::Manual,
            phase: Phase::Running,
            outcome: RunResult::Successful,
            variables: Vec::new(),
            created_on: 0,
            duration: 1,
            completed_on: None,
            stopped_in_step: None,
            steps: Vec::new(),
            views: 0,
        };
        assert_eq!(DeploymentState::of(&run), DeploymentState::InProgress);
        for (result, status) in [
            (RunResult::Successful, DeploymentStatus::Successful),
            (RunResult::Failed, DeploymentStatus::Failed),
            (RunResult::Error, DeploymentStatus::Failed),
            (RunResult::Expired, DeploymentStatus::Failed),
            (RunResult::Stopped, DeploymentStatus::Stopped),
        ] {
            run.phase = Phase::Completed(result);
            assert_eq!(
                DeploymentState::of(&run),
                DeploymentState::Completed(status)
            );
        }
    }
}
