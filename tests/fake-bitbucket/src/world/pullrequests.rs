//! Pull requests, their reviewers and comments, and queued merges.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrState {
    Open,
    Merged,
    Declined,
    Superseded,
}

impl PrState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "OPEN",
            PrState::Merged => "MERGED",
            PrState::Declined => "DECLINED",
            PrState::Superseded => "SUPERSEDED",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "OPEN" => Some(PrState::Open),
            "MERGED" => Some(PrState::Merged),
            "DECLINED" => Some(PrState::Declined),
            "SUPERSEDED" => Some(PrState::Superseded),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Approved => "approved",
            ReviewState::ChangesRequested => "changes_requested",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Participant {
    pub user: String,
    /// REVIEWER when listed in `reviewers`, else PARTICIPANT.
    pub reviewer: bool,
    pub approved: bool,
    pub state: Option<ReviewState>,
    pub participated_on: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Inline {
    pub path: String,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Comment {
    /// Unique across the whole fake, as Bitbucket's are.
    pub id: u64,
    pub user: String,
    pub raw: String,
    pub parent: Option<u64>,
    pub inline: Option<Inline>,
    pub pending: bool,
    pub deleted: bool,
    pub created_on: u64,
    pub updated_on: u64,
    /// Who resolved the thread and when (top-level comments only).
    pub resolution: Option<(String, u64)>,
}

/// A pull request task (`pullrequest_comment_task`).
#[derive(Clone, Debug)]
pub struct Task {
    /// Unique across the whole fake.
    pub id: u64,
    pub creator: String,
    pub raw: String,
    pub resolved: bool,
    pub created_on: u64,
    pub updated_on: u64,
    /// Who resolved it and when, while resolved.
    pub resolution: Option<(String, u64)>,
    /// The comment it hangs below, if any.
    pub comment: Option<u64>,
}

/// An `update` entry of the activity log: the pull request's state and
/// title as someone left them.
#[derive(Clone, Debug)]
pub struct Update {
    pub on: u64,
    pub actor: String,
    pub state: PrState,
    pub title: String,
    pub description: String,
}

#[derive(Clone, Debug)]
pub struct PullRequest {
    pub repo: String,
    /// Per repository, from 1.
    pub id: u64,
    pub title: String,
    pub description: String,
    pub state: PrState,
    pub draft: bool,
    /// A merge was accepted (202) and has not landed yet.
    pub queued: bool,
    pub author: String,
    pub source_branch: String,
    /// The source head when the pull request closed (open ones follow the branch).
    pub source_commit: String,
    pub destination_branch: String,
    /// The destination head when the pull request closed.
    pub destination_commit: String,
    pub merge_commit: Option<String>,
    pub close_source_branch: bool,
    pub reviewers: Vec<String>,
    pub participants: Vec<Participant>,
    pub comments: Vec<Comment>,
    pub tasks: Vec<Task>,
    /// Updates made through the API (creation, edits, decline, merge); the
    /// seeded pull requests' creation and closing are implied by their dates.
    pub updates: Vec<Update>,
    pub closed_by: Option<String>,
    pub reason: String,
    pub created_on: u64,
    pub updated_on: u64,
}

impl PullRequest {
    /// Comments that count: not deleted.
    pub fn comment_count(&self) -> usize {
        self.comments.iter().filter(|c| !c.deleted).count()
    }

    /// Unresolved tasks, as `task_count` counts them.
    pub fn task_count(&self) -> usize {
        self.tasks.iter().filter(|t| !t.resolved).count()
    }

    /// Records an `update` activity entry with the current state and title.
    pub(crate) fn record_update(&mut self, actor: &str, on: u64) {
        self.updates.push(Update {
            on,
            actor: actor.to_owned(),
            state: self.state,
            title: self.title.clone(),
            description: self.description.clone(),
        });
    }

    pub fn participant(&self, user: &str) -> Option<&Participant> {
        self.participants.iter().find(|p| p.user == user)
    }

    /// The caller's participant entry, created on first contact.
    pub(crate) fn participant_mut(&mut self, user: &str) -> &mut Participant {
        if let Some(i) = self.participants.iter().position(|p| p.user == user) {
            return &mut self.participants[i];
        }
        self.participants.push(Participant {
            user: user.to_owned(),
            reviewer: self.reviewers.iter().any(|r| r == user),
            approved: false,
            state: None,
            participated_on: None,
        });
        self.participants.last_mut().expect("just pushed")
    }
}

#[derive(Clone, Debug, Default)]
pub struct MergeParams {
    pub strategy: String,
    pub message: Option<String>,
    pub close_source_branch: bool,
}

#[derive(Clone, Debug)]
pub struct MergeTask {
    pub id: String,
    pub repo: String,
    pub pull_request: u64,
    /// PENDING answers left before the merge lands.
    pub polls_left: u32,
    pub params: MergeParams,
    pub requested_by: String,
    pub done: bool,
}

impl super::World {
    /// Pull request ids count from 1 per repository (by full name).
    pub(crate) fn next_pull_request_id(&self, full_name: &str) -> u64 {
        self.pull_requests
            .iter()
            .filter(|p| p.repo == full_name)
            .map(|p| p.id)
            .max()
            .unwrap_or(0)
            + 1
    }
}
