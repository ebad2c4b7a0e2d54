//! Issues (Bitbucket's deprecated tracker) and the changes made to them.

#[derive(Clone, Debug)]
pub struct Issue {
    pub repo: String,
    /// Per repository, from 1.
    pub id: u64,
    pub title: String,
    pub content: String,
    pub reporter: String,
    pub assignee: Option<String>,
    /// One of Bitbucket's nine: new, open, resolved, on hold, …
    pub state: String,
    pub kind: String,
    pub priority: String,
    pub component: Option<String>,
    pub milestone: Option<String>,
    pub version: Option<String>,
    pub votes: u32,
    pub watches: u32,
    pub created_on: u64,
    pub updated_on: u64,
    pub edited_on: Option<u64>,
    pub changes: Vec<IssueChange>,
    /// Oldest first.
    pub comments: Vec<IssueComment>,
}

#[derive(Clone, Debug)]
pub struct IssueComment {
    /// Unique across the whole fake, as Bitbucket's are.
    pub id: u64,
    pub user: String,
    pub raw: String,
    pub created_on: u64,
    pub updated_on: u64,
}

#[derive(Clone, Debug)]
pub struct IssueChange {
    /// Per issue, from 1.
    pub id: u64,
    pub user: String,
    pub created_on: u64,
    /// (field, old, new), e.g. ("state", "new", "resolved").
    pub changes: Vec<(String, String, String)>,
    pub message: String,
}

/// The values Bitbucket accepts for `state`, `kind` and `priority`.
pub const STATES: [&str; 9] = [
    "submitted",
    "new",
    "open",
    "resolved",
    "on hold",
    "invalid",
    "duplicate",
    "wontfix",
    "closed",
];
pub const KINDS: [&str; 4] = ["bug", "enhancement", "proposal", "task"];
pub const PRIORITIES: [&str; 5] = ["trivial", "minor", "major", "critical", "blocker"];
