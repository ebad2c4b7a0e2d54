//! The fake's state: accounts, workspaces, their projects, repositories,
//! credentials, what lives in the repositories (commits, branches, tags, pull
//! requests, pipelines, issues, files, webhooks), and the knobs tests turn
//! (faults, delays) and read (the request log, webhook deliveries).

mod code;
mod deployments;
mod git;
mod hooks;
mod ids;
mod issues;
pub(crate) mod oauth;
mod pipelines;
mod pullrequests;
mod seeding;
mod settings;
pub(crate) mod tree;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use crate::spec::Violation;

pub use code::SourceFile;
pub use deployments::{
    Deployment, DeploymentState, DeploymentStatus, ENVIRONMENT_TYPES, Environment,
};
pub use git::{Annotation, Branch, Commit, Tag};
pub(crate) use git::{MERGE_STRATEGIES, Resolved, commit_hash};
pub(crate) use hooks::Event;
pub use hooks::{Delivery, EVENT_KEYS, HookSubject, Webhook};
pub(crate) use ids::{braced, uuid};
pub use issues::{Issue, IssueChange, IssueComment};
pub(crate) use issues::{KINDS, PRIORITIES, STATES};
pub use oauth::{OauthConsumer, OauthServer};
pub use pipelines::{
    Phase, Pipeline, PipelineTarget, RunResult, Step, StepPhase, StepResult, Trigger, Variable,
};
pub use pullrequests::{
    Comment, Inline, MergeParams, MergeTask, Participant, PrState, PullRequest, ReviewState, Task,
    Update,
};
pub use settings::{BranchRestriction, Download, Grant, Group, RepositorySettings};

/// A build status on a commit (`commitstatus`), keyed by (repository,
/// commit, key).
#[derive(Clone, Debug)]
pub struct CommitStatus {
    pub repo: String,
    /// The commit's full hash.
    pub commit: String,
    pub key: String,
    /// INPROGRESS, SUCCESSFUL, FAILED or STOPPED.
    pub state: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub refname: Option<String>,
    pub created_on: u64,
    pub updated_on: u64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub uuid: String,
    pub account_id: String,
    pub display_name: String,
    pub nickname: String,
    pub email: String,
    pub created_on: String,
}

#[derive(Clone, Debug)]
pub struct Membership {
    pub user_uuid: String,
    pub administrator: bool,
}

#[derive(Clone, Debug)]
pub struct Workspace {
    pub uuid: String,
    pub slug: String,
    pub name: String,
    pub is_private: bool,
    pub created_on: String,
    pub members: Vec<Membership>,
}

/// A workspace's project, which every repository of the workspace is filed
/// under (`Repository::project_key`).
#[derive(Clone, Debug)]
pub struct Project {
    pub uuid: String,
    /// The workspace's slug.
    pub workspace: String,
    pub key: String,
    pub name: String,
    pub description: String,
    /// Private projects are seen by workspace members only, and hold no
    /// public repository.
    pub is_private: bool,
    pub created_on: String,
    pub updated_on: String,
}

#[derive(Clone, Debug)]
pub struct Repository {
    pub uuid: String,
    pub workspace: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub is_private: bool,
    pub language: String,
    pub size: u64,
    pub has_issues: bool,
    pub has_wiki: bool,
    /// `allow_forks`, `no_public_forks` or `no_forks`.
    pub fork_policy: String,
    pub created_on: String,
    pub updated_on: String,
    /// The key of its workspace's project.
    pub project_key: String,
    /// What the repository says its project is called where the workspace
    /// has no such project; the project's own name wins where it does.
    pub project_name: String,
    /// What `mainbranch` names; an empty repository names one it does not
    /// have yet, as a freshly created one does live.
    pub main_branch: String,
}

impl Repository {
    /// `workspace/slug`: the key everything inside a repository is filed under.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.workspace, self.slug)
    }
}

/// An answer injected ahead of the normal one.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and body instead.
    Status {
        status: u16,
        content_type: &'static str,
        body: String,
        retry_after: Option<u32>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
}

impl Fault {
    /// Bitbucket's 429: text/plain, no JSON. Live 429s carry no
    /// `Retry-After` (API-NOTES §5): pass `None` unless a test checks that
    /// one is honoured when present.
    pub fn rate_limited(retry_after: Option<u32>) -> Self {
        Fault::Status {
            status: 429,
            content_type: "text/plain",
            body: "Rate limit for this resource has been exceeded".into(),
            retry_after,
        }
    }

    pub fn unavailable() -> Self {
        Fault::Status {
            status: 503,
            content_type: "application/json",
            body: r#"{"type":"error","error":{"message":"Service Unavailable"}}"#.into(),
            retry_after: None,
        }
    }
}

/// What a test can assert about a request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// `Bearer` or `Basic`, never the credential itself.
    pub auth_scheme: Option<String>,
}

impl RecordedRequest {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub struct World {
    /// `http://127.0.0.1:PORT`, set when the server starts; links are built on it.
    pub base_url: String,
    pub users: Vec<User>,
    pub workspaces: Vec<Workspace>,
    pub projects: Vec<Project>,
    pub repositories: Vec<Repository>,
    /// Bearer token → user uuid: repository/workspace access tokens (the
    /// seeded ones) and, once issued, OAuth access tokens (those also have
    /// an entry in `oauth.access_expiry`).
    pub bearer_tokens: HashMap<String, String>,
    /// What `X-RateLimit-Limit` says (requests an hour). Bitbucket sends
    /// `X-RateLimit-*` to access tokens only, never to OAuth or API tokens
    /// (API-NOTES §5).
    pub rate_limit_per_hour: u32,
    /// Answers to access tokens say `X-RateLimit-NearLimit: true`.
    pub near_rate_limit: bool,
    /// (account e-mail, API token) → user uuid.
    pub api_tokens: HashMap<(String, String), String>,
    /// Answers to give before normal service resumes, oldest first.
    pub faults: VecDeque<Fault>,
    /// Pads `GET /user`'s display name to this many bytes (huge answers).
    pub pad_user_display_name: Option<usize>,
    pub requests: Vec<RecordedRequest>,
    /// Where requests and answers broke Atlassian's spec; a non-empty list
    /// fails the test when the `FakeBitbucket` is dropped.
    pub violations: Vec<Violation>,
    /// Accept loopback webhook URLs (and deliver to them). Off, the fake
    /// refuses internal addresses as Bitbucket does; tests and the demo,
    /// whose receivers listen on 127.0.0.1, turn it on.
    pub allow_loopback_webhooks: bool,
    /// Check the fake's own answers against the spec (requests are always
    /// checked). On by default; benchmarks that measure a client, not the
    /// fake, turn it off: the answers are the ones the tests check.
    pub check_answers: bool,

    /// Every repository's commits, oldest first; `Commit::repo` is the full name.
    pub commits: Vec<Commit>,
    /// Every repository's branches (`Branch::repo` is the full name).
    pub branches: Vec<Branch>,
    /// Every repository's tags (`Tag::repo` is the full name).
    pub tags: Vec<Tag>,
    /// Pull requests, ids counting from 1 per repository.
    pub pull_requests: Vec<PullRequest>,
    /// Build statuses on commits, oldest first.
    pub statuses: Vec<CommitStatus>,
    /// Merges accepted with 202, polled through `…/merge/task-status/{id}`.
    pub merge_tasks: Vec<MergeTask>,
    /// Pipeline runs, build numbers counting from 1 per repository.
    pub pipelines: Vec<Pipeline>,
    /// The custom pipelines (`selector.pattern`) each repository's
    /// bitbucket-pipelines.yml defines, by full name.
    pub custom_pipelines: HashMap<String, Vec<String>>,
    /// Issues, ids counting from 1 per repository.
    pub issues: Vec<Issue>,
    /// Repository pipeline variables (`pipelines_config/variables`) by
    /// full name, oldest first.
    pub pipeline_variables: HashMap<String, Vec<Variable>>,
    /// Deployment environments of every repository that has them.
    pub environments: Vec<Environment>,
    /// Deployments, each made by a pipeline run, oldest first.
    pub deployments: Vec<Deployment>,
    /// Branch restrictions, default reviewers, downloads and explicit
    /// permissions, by repository full name.
    pub settings: HashMap<String, RepositorySettings>,
    /// Each project's default reviewers (uuids), by `workspace/KEY`: pull
    /// requests of every repository in the project get them too.
    pub project_default_reviewers: HashMap<String, Vec<String>>,
    /// Files on the main branch that code search looks through.
    pub files: Vec<SourceFile>,
    /// Repository and workspace webhooks.
    pub hooks: Vec<Webhook>,
    /// Webhook POSTs the fake made, in the order they were answered.
    pub deliveries: Vec<Delivery>,

    /// The next decline answers 555 (Bitbucket's "Timed out") and changes nothing.
    pub timeout_next_decline: bool,
    /// The next merge answers 555 (Bitbucket's "Timed out") and changes nothing.
    pub timeout_next_merge: bool,
    /// Every merge answers 202 and a task to poll, even without `async=true`.
    pub force_async_merges: bool,
    /// Polls of a merge task that answer PENDING before the one that merges (default 2).
    pub merge_polls_before_success: u32,
    /// How a triggered pipeline ends once it has run its course (default SUCCESSFUL).
    pub pipeline_result: RunResult,
    /// GETs of a triggered pipeline that answer IN_PROGRESS after the PENDING one (default 1).
    pub pipeline_running_polls: u32,
    /// Full pipeline pages lose `next`, as in Bitbucket's BCLOUD-20639.
    pub omit_pipeline_next: bool,
    /// Every issue endpoint answers 410: the tracker was removed at the 2026 sunset.
    pub issues_retired: bool,
    /// Code search answers Bitbucket's "Search is not enabled" 404.
    pub search_disabled: bool,
    /// Page N+1 of code search starts with the last result of page N (BCLOUD-23644).
    pub search_duplicates_across_pages: bool,

    /// The OAuth 2.0 authorization server (`/site/oauth2/…`).
    pub oauth: OauthServer,

    /// Events raised while answering; delivered once the answer has left.
    pub(crate) outbox: Vec<Event>,
    /// Pre-signed log URLs handed out: signature → (pipeline uuid, step uuid).
    pub(crate) log_links: HashMap<String, (String, String)>,
    /// Source of fresh uuids and ids.
    pub(crate) counter: u64,
    /// The last timestamp handed out, so that timestamps never repeat.
    pub(crate) clock: u64,
}

impl Default for World {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            users: Vec::new(),
            workspaces: Vec::new(),
            projects: Vec::new(),
            repositories: Vec::new(),
            bearer_tokens: HashMap::new(),
            rate_limit_per_hour: 1000,
            near_rate_limit: false,
            api_tokens: HashMap::new(),
            faults: VecDeque::new(),
            pad_user_display_name: None,
            requests: Vec::new(),
            violations: Vec::new(),
            allow_loopback_webhooks: false,
            check_answers: true,
            commits: Vec::new(),
            branches: Vec::new(),
            tags: Vec::new(),
            pull_requests: Vec::new(),
            statuses: Vec::new(),
            merge_tasks: Vec::new(),
            pipelines: Vec::new(),
            custom_pipelines: HashMap::new(),
            issues: Vec::new(),
            pipeline_variables: HashMap::new(),
            environments: Vec::new(),
            deployments: Vec::new(),
            settings: HashMap::new(),
            project_default_reviewers: HashMap::new(),
            files: Vec::new(),
            hooks: Vec::new(),
            deliveries: Vec::new(),
            timeout_next_decline: false,
            timeout_next_merge: false,
            force_async_merges: false,
            merge_polls_before_success: 2,
            pipeline_result: RunResult::Successful,
            pipeline_running_polls: 1,
            omit_pipeline_next: false,
            issues_retired: false,
            search_disabled: false,
            search_duplicates_across_pages: false,
            oauth: OauthServer {
                access_lifetime: 7_200,
                ..OauthServer::default()
            },
            outbox: Vec::new(),
            log_links: HashMap::new(),
            counter: 0,
            clock: 0,
        }
    }
}

impl World {
    pub fn inject(&mut self, fault: Fault) {
        self.faults.push_back(fault);
    }

    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn user(&self, uuid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.uuid == uuid)
    }

    /// By nickname, e.g. `"ada"` or `"grace"`.
    pub fn user_named(&self, nickname: &str) -> Option<&User> {
        self.users.iter().find(|u| u.nickname == nickname)
    }

    /// By slug or `{uuid}`.
    pub fn workspace(&self, id: &str) -> Option<&Workspace> {
        self.workspaces
            .iter()
            .find(|w| w.slug == id || w.uuid == id)
    }

    /// By workspace and key.
    pub fn project(&self, workspace: &Workspace, key: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.workspace == workspace.slug && p.key == key)
    }

    /// The project a repository is filed under, if its workspace has it.
    pub fn project_of(&self, repository: &Repository) -> Option<&Project> {
        self.workspace(&repository.workspace)
            .and_then(|w| self.project(w, &repository.project_key))
    }

    /// Public projects are seen by everyone, private ones by workspace members.
    pub fn can_see_project(&self, project: &Project, user_uuid: &str) -> bool {
        !project.is_private
            || self
                .workspace(&project.workspace)
                .is_some_and(|w| self.is_member(w, user_uuid))
    }

    /// By workspace (slug or uuid) and repository slug or `{uuid}`.
    pub fn repository(&self, workspace: &Workspace, id: &str) -> Option<&Repository> {
        self.repositories
            .iter()
            .find(|r| r.workspace == workspace.slug && (r.slug == id || r.uuid == id))
    }

    /// By `workspace/slug`.
    pub fn repository_named(&self, full_name: &str) -> Option<&Repository> {
        self.repositories
            .iter()
            .find(|r| r.full_name() == full_name)
    }

    pub fn is_member(&self, workspace: &Workspace, user_uuid: &str) -> bool {
        workspace.members.iter().any(|m| m.user_uuid == user_uuid)
    }

    pub fn is_admin(&self, workspace: &Workspace, user_uuid: &str) -> bool {
        workspace
            .members
            .iter()
            .any(|m| m.user_uuid == user_uuid && m.administrator)
    }

    pub fn can_read(&self, repository: &Repository, user_uuid: &str) -> bool {
        !repository.is_private || self.can_write(repository, user_uuid)
    }

    /// Workspace members write to every repository of the workspace.
    pub fn can_write(&self, repository: &Repository, user_uuid: &str) -> bool {
        self.workspace(&repository.workspace)
            .is_some_and(|w| self.is_member(w, user_uuid))
    }

    /// Workspace admins administer every repository of the workspace; an
    /// explicit `admin` grant makes a member an admin of that one.
    pub fn can_admin(&self, repository: &Repository, user_uuid: &str) -> bool {
        let explicit = self.settings_of(repository).is_some_and(|s| {
            s.user_permissions
                .iter()
                .any(|g| g.to == user_uuid && g.permission == "admin")
        });
        self.workspace(&repository.workspace).is_some_and(|w| {
            self.is_admin(w, user_uuid) || (explicit && self.is_member(w, user_uuid))
        })
    }

    /// A repository's restrictions, reviewers, downloads and permissions, if any.
    pub fn settings_of(&self, repository: &Repository) -> Option<&RepositorySettings> {
        self.settings.get(&repository.full_name())
    }

    /// Forgets a repository and everything filed under its full name.
    pub(crate) fn remove_repository(&mut self, full_name: &str) {
        self.repositories.retain(|r| r.full_name() != full_name);
        self.commits.retain(|c| c.repo != full_name);
        self.branches.retain(|b| b.repo != full_name);
        self.tags.retain(|t| t.repo != full_name);
        self.pull_requests.retain(|p| p.repo != full_name);
        self.statuses.retain(|s| s.repo != full_name);
        self.merge_tasks.retain(|t| t.repo != full_name);
        self.pipelines.retain(|p| p.repo != full_name);
        self.environments.retain(|e| e.repo != full_name);
        self.deployments.retain(|d| d.repo != full_name);
        self.custom_pipelines.remove(full_name);
        self.settings.remove(full_name);
        self.issues.retain(|i| i.repo != full_name);
        self.files.retain(|f| f.repo != full_name);
        self.hooks
            .retain(|h| !matches!(&h.subject, HookSubject::Repository(r) if r == full_name));
        let pipelines: Vec<String> = self.pipelines.iter().map(|p| p.uuid.clone()).collect();
        self.log_links
            .retain(|_, (pipeline, _)| pipelines.contains(pipeline));
    }

    /// A pull request by workspace slug, repository slug and id.
    pub fn pull_request(&self, workspace: &str, repo: &str, id: u64) -> Option<&PullRequest> {
        let full_name = format!("{workspace}/{repo}");
        self.pull_requests
            .iter()
            .find(|p| p.repo == full_name && p.id == id)
    }

    /// A pipeline by uuid, with or without braces.
    pub fn pipeline(&self, uuid: &str) -> Option<&Pipeline> {
        let uuid = braced(uuid);
        self.pipelines.iter().find(|p| p.uuid == uuid)
    }

    /// One repository's pipelines, oldest first.
    pub fn pipelines_of(&self, workspace: &str, repo: &str) -> Vec<&Pipeline> {
        let full_name = format!("{workspace}/{repo}");
        self.pipelines
            .iter()
            .filter(|p| p.repo == full_name)
            .collect()
    }

    /// An issue by workspace slug, repository slug and id.
    pub fn issue(&self, workspace: &str, repo: &str, id: u64) -> Option<&Issue> {
        let full_name = format!("{workspace}/{repo}");
        self.issues
            .iter()
            .find(|i| i.repo == full_name && i.id == id)
    }

    /// A webhook by uuid, with or without braces.
    pub fn hook(&self, uuid: &str) -> Option<&Webhook> {
        let uuid = braced(uuid);
        self.hooks.iter().find(|h| h.uuid == uuid)
    }

    /// Webhook POSTs made so far (answered or failed), oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.clone()
    }

    /// A fresh `{uuid}`, distinct from every seeded one.
    pub(crate) fn fresh_uuid(&mut self) -> String {
        self.counter += 1;
        uuid(1_000_000 + self.counter)
    }

    /// Now, strictly after every timestamp handed out before.
    pub(crate) fn now(&mut self) -> u64 {
        self.clock = crate::clock::wall().max(self.clock + 1);
        self.clock
    }

    /// Queues a webhook event; it is delivered after the current answer.
    pub(crate) fn emit(&mut self, repo: &str, key: &'static str, payload: Value) {
        self.outbox.push(Event {
            repo: repo.to_owned(),
            key,
            payload,
        });
    }
}
