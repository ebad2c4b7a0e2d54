//! Every enum of the contract as JSON: lowercase snake_case, the WIT case
//! name with `_` for `-` (`merge-commit` is `"merge_commit"`). Serialising,
//! parsing and the published schema all come from the one table below, so
//! what is emitted, what is accepted and what is documented cannot differ.

use std::borrow::Cow;

#[cfg(test)]
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::types::{
    ActivityKind, AttentionSignal, AuthKind, Band, BuildState, Complexity, DeploymentSource,
    FileChange, HealthStatus, IssueKind, IssuePriority, IssueState, LeftOutReason, MergeBlocker,
    MergeStrategy, MergeVerdict, ParticipantRole, PullRequestState, RepoRole, RunStatus, TaskState,
    TreeEntryKind, WebhookEventCategory,
};

macro_rules! wire_enums {
    ($($ty:ident { $($variant:ident = $name:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// Every value, in the contract's order.
            #[cfg(test)]
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
            const NAMES: &'static [&'static str] = &[$($name),+];

            /// The value's JSON name.
            pub fn wire_name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            pub fn from_wire_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.wire_name())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = Cow::<'de, str>::deserialize(deserializer)?;
                Self::from_wire_name(&name)
                    .ok_or_else(|| de::Error::unknown_variant(&name, Self::NAMES))
            }
        }

        #[cfg(test)]
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($ty))
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "enum": Self::NAMES })
            }
        }
    )+};
}

wire_enums! {
    AuthKind { Oauth2 = "oauth2", AccessToken = "access_token", ApiToken = "api_token" }
    Complexity { Read = "read", Analyze = "analyze", Execute = "execute", Critical = "critical" }
    HealthStatus {
        Ok = "ok",
        Unauthenticated = "unauthenticated",
        CredentialRejected = "credential_rejected",
        Unreachable = "unreachable",
    }
    RepoRole { Member = "member", Contributor = "contributor", Admin = "admin", Owner = "owner" }
    PullRequestState {
        Open = "open",
        Merged = "merged",
        Declined = "declined",
        Superseded = "superseded",
    }
    ParticipantRole { Participant = "participant", Reviewer = "reviewer" }
    MergeStrategy {
        MergeCommit = "merge_commit",
        Squash = "squash",
        FastForward = "fast_forward",
        SquashFastForward = "squash_fast_forward",
        RebaseFastForward = "rebase_fast_forward",
        RebaseMerge = "rebase_merge",
    }
    MergeVerdict { Merged = "merged", Waiting = "waiting", Ended = "ended" }
    MergeBlocker {
        NoBuildYet = "no_build_yet",
        BuildsRunning = "builds_running",
        BuildsMissing = "builds_missing",
        ApprovalsMissing = "approvals_missing",
        TasksOpen = "tasks_open",
        Draft = "draft",
        BuildFailed = "build_failed",
        ChangesRequested = "changes_requested",
        Closed = "closed",
        MergedAlready = "merged_already",
    }
    Band { Elite = "elite", High = "high", Medium = "medium", Low = "low" }
    DeploymentSource {
        ProductionEnvironment = "production_environment",
        MainBranchPipelines = "main_branch_pipelines",
        None = "none",
    }
    AttentionSignal {
        ChangeFailures = "change_failures",
        UnrestoredFailure = "unrestored_failure",
        FailingPipelines = "failing_pipelines",
        WaitingForReview = "waiting_for_review",
        SlowLeadTime = "slow_lead_time",
    }
    LeftOutReason {
        Budget = "budget",
        RateLimited = "rate_limited",
        NotFound = "not_found",
        Forbidden = "forbidden",
        UpstreamError = "upstream_error",
    }
    RunStatus {
        Pending = "pending",
        Running = "running",
        Paused = "paused",
        Successful = "successful",
        Failed = "failed",
        Error = "error",
        Stopped = "stopped",
        Expired = "expired",
        Unknown = "unknown",
    }
    IssueState {
        Submitted = "submitted",
        New = "new",
        Open = "open",
        Resolved = "resolved",
        OnHold = "on_hold",
        Invalid = "invalid",
        Duplicate = "duplicate",
        Wontfix = "wontfix",
        Closed = "closed",
    }
    IssueKind { Bug = "bug", Enhancement = "enhancement", Proposal = "proposal", Task = "task" }
    IssuePriority {
        Trivial = "trivial",
        Minor = "minor",
        Major = "major",
        Critical = "critical",
        Blocker = "blocker",
    }
    WebhookEventCategory {
        Repository = "repository",
        PullRequest = "pull_request",
        Pipeline = "pipeline",
        Issue = "issue",
        Project = "project",
        Other = "other",
    }
    FileChange { Added = "added", Removed = "removed", Modified = "modified", Renamed = "renamed" }
    TreeEntryKind { File = "file", Directory = "directory", Link = "link", Submodule = "submodule" }
    BuildState {
        InProgress = "in_progress",
        Successful = "successful",
        Failed = "failed",
        Stopped = "stopped",
    }
    ActivityKind {
        Update = "update",
        Approval = "approval",
        ChangesRequested = "changes_requested",
        Comment = "comment",
    }
    TaskState { Unresolved = "unresolved", Resolved = "resolved" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snake_case(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn names_are_snake_case_and_round_trip() {
        fn check<T>(all: &[T])
        where
            T: Serialize + for<'de> Deserialize<'de> + Copy + PartialEq + std::fmt::Debug,
        {
            for value in all {
                let json = serde_json::to_value(value).unwrap();
                let name = json.as_str().unwrap();
                assert!(snake_case(name), "{name} is not snake_case");
                assert_eq!(serde_json::from_value::<T>(json.clone()).unwrap(), *value);
            }
        }
        check(AuthKind::ALL);
        check(Complexity::ALL);
        check(HealthStatus::ALL);
        check(RepoRole::ALL);
        check(PullRequestState::ALL);
        check(ParticipantRole::ALL);
        check(MergeStrategy::ALL);
        check(MergeVerdict::ALL);
        check(MergeBlocker::ALL);
        check(RunStatus::ALL);
        check(IssueState::ALL);
        check(IssueKind::ALL);
        check(IssuePriority::ALL);
        check(WebhookEventCategory::ALL);
        check(FileChange::ALL);
        check(TreeEntryKind::ALL);
        check(BuildState::ALL);
        check(ActivityKind::ALL);
        check(TaskState::ALL);
        check(Band::ALL);
        check(DeploymentSource::ALL);
        check(AttentionSignal::ALL);
        check(LeftOutReason::ALL);
    }

    #[test]
    fn only_the_published_names_are_accepted() {
        assert_eq!(
            serde_json::from_str::<MergeStrategy>(r#""merge_commit""#).unwrap(),
            MergeStrategy::MergeCommit
        );
        for other in [r#""MergeCommit""#, r#""merge-commit""#, r#""MERGE_COMMIT""#] {
            let error = serde_json::from_str::<MergeStrategy>(other).unwrap_err();
            assert!(error.to_string().contains("merge_commit"), "{error}");
        }
    }

    #[test]
    fn schema_lists_the_emitted_names() {
        let schema = schemars::schema_for!(IssueState).to_value();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let emitted: Vec<&str> = IssueState::ALL.iter().map(|s| s.wire_name()).collect();
        assert_eq!(listed, emitted);
    }
}
