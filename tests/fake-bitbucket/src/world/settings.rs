//! A repository's settings that only admins change in the web UI and the
//! API reads: branch restrictions, default reviewers, download artifacts
//! and explicit user and group permissions.

/// A `branchrestriction` rule; ids are unique across repositories, as live.
#[derive(Clone, Debug)]
pub struct BranchRestriction {
    pub id: u64,
    /// One of the spec's `kind` enum, e.g. `push` or `require_approvals_to_merge`.
    pub kind: String,
    /// A glob on branch names (`branch_match_kind` is always `glob` here).
    pub pattern: String,
    /// The kind's number (approvals, builds…); absent for kinds without one.
    pub value: Option<u64>,
    /// Uuids of the users the rule exempts.
    pub users: Vec<String>,
    /// Slugs of the workspace groups the rule exempts.
    pub groups: Vec<String>,
}

/// A file uploaded to a repository's Downloads.
#[derive(Clone, Debug)]
pub struct Download {
    pub name: String,
    pub size: u64,
    /// How many times it was downloaded.
    pub downloads: u64,
    pub created_on: String,
    /// Uuid of the uploader.
    pub user: String,
}

/// A workspace group, as repository permissions name it.
#[derive(Clone, Debug)]
pub struct Group {
    pub slug: String,
    pub name: String,
}

/// `read`, `write` or `admin`: an explicit grant on one repository.
#[derive(Clone, Debug)]
pub struct Grant<T> {
    pub to: T,
    pub permission: String,
}

/// Everything above for one repository; a repository without an entry in
/// `World::settings` has none of it.
#[derive(Clone, Debug, Default)]
pub struct RepositorySettings {
    pub branch_restrictions: Vec<BranchRestriction>,
    /// Uuids, in the order they were added.
    pub default_reviewers: Vec<String>,
    pub downloads: Vec<Download>,
    /// Grants to users by uuid.
    pub user_permissions: Vec<Grant<String>>,
    pub group_permissions: Vec<Grant<Group>>,
}
