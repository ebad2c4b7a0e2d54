//! Histories a test writes by hand: a deployment run at a chosen time, a
//! merged pull request with its review. The seed's own history is built in
//! `fixtures`; these are for tests whose figures are worked out on paper.

use super::{
    Participant, Phase, Pipeline, PipelineTarget, PrState, PullRequest, ReviewState, RunResult,
    Trigger, World,
};

impl World {
    /// Gives a repository Test, Staging and Production (uuids from
    /// `uuid(first_id)`).
    pub fn seed_environments_of(&mut self, full_name: &str, first_id: u64) {
        self.seed_environments(full_name, first_id);
    }

    /// A completed run of `deploy-production` on main, created at `created`
    /// (the fake's seconds) and lasting `duration`, and the deployment it
    /// made when the repository has a Production environment.
    pub fn seed_deployment_run(
        &mut self,
        full_name: &str,
        build_number: u64,
        created: u64,
        duration: u64,
        outcome: RunResult,
    ) {
        let Some(repository) = self.repository_named(full_name).cloned() else {
            return;
        };
        let steps = self.standard_steps(&repository);
        let uuid = self.fresh_uuid();
        let commit = self
            .branch_in(full_name, "main")
            .map(|b| b.target.clone())
            .unwrap_or_default();
        self.pipelines.push(Pipeline {
            repo: full_name.to_owned(),
            uuid,
            build_number,
            creator: None,
            target: PipelineTarget {
                ref_type: Some("branch".into()),
                ref_name: Some("main".into()),
                commit,
                selector: Some(("custom".into(), "deploy-production".into())),
            },
            trigger: Trigger::Manual,
            phase: Phase::Completed(outcome),
            outcome,
            variables: Vec::new(),
            created_on: created,
            duration,
            completed_on: Some(created + duration),
            stopped_in_step: (outcome == RunResult::Stopped).then_some(1),
            steps,
            views: 0,
        });
        let index = self.pipelines.len() - 1;
        self.record_deployment(index, None);
    }

    /// A pull request into main by `author`, approved by `reviewer` at
    /// `reviewed` and merged at `merged` (the fake's seconds).
    pub fn seed_merged_pull_request(
        &mut self,
        full_name: &str,
        author: &str,
        reviewer: &str,
        created: u64,
        reviewed: u64,
        merged: u64,
    ) {
        let id = self.next_pull_request_id(full_name);
        let head = self
            .branch_in(full_name, "main")
            .map(|b| b.target.clone())
            .unwrap_or_else(|| format!("{id:040x}"));
        self.pull_requests.push(PullRequest {
            repo: full_name.to_owned(),
            id,
            title: format!("Change {id}"),
            description: String::new(),
            state: PrState::Merged,
            draft: false,
            queued: false,
            author: author.to_owned(),
            source_branch: format!("feature/change-{id}"),
            source_commit: head.clone(),
            destination_branch: "main".into(),
            destination_commit: head,
            merge_commit: None,
            close_source_branch: true,
            reviewers: vec![reviewer.to_owned()],
            participants: vec![Participant {
                user: reviewer.to_owned(),
                reviewer: true,
                approved: true,
                state: Some(ReviewState::Approved),
                participated_on: Some(reviewed),
            }],
            comments: Vec::new(),
            tasks: Vec::new(),
            updates: Vec::new(),
            closed_by: Some(author.to_owned()),
            reason: String::new(),
            created_on: created,
            updated_on: merged,
        });
    }
}
