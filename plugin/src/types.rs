//! The contract's records, re-exported under plain names so the rest of the
//! crate never spells a bindings path. Listed one by one: an area's module
//! also aliases the records it borrows from another, so globs would collide.

pub use crate::bindings::atom::integration::host::{
    Credential, CredentialSecret, LogLevel, OauthTokens,
};
pub use crate::bindings::atom::integration::types::{
    AccountRef, AuthKind, BlockedOperation, Error, ErrorInfo, HealthReport, HealthStatus,
    PermissionError, RateLimitError, RetiredError, ValidationError,
};
pub use crate::bindings::exports::atom::bitbucket::analytics::{
    AnalyticsSummaryRequest, PipelineStats, WorkspaceAnalytics,
};
pub use crate::bindings::exports::atom::bitbucket::auth::{
    AuthCompleteRequest, AuthStartResult, AuthStatus,
};
pub use crate::bindings::exports::atom::bitbucket::branches::{
    Branch, BranchPage, BranchRef, BranchRestriction, BranchRestrictionPage, BranchRestrictionRef,
    CreateBranchRequest, ListBranchRestrictionsRequest, ListBranchesRequest,
};
pub use crate::bindings::exports::atom::bitbucket::commits::{
    Commit, CommitPage, CommitRef, ListCommitsRequest,
};
pub use crate::bindings::exports::atom::bitbucket::common::{PageRequest, RepoRef};
pub use crate::bindings::exports::atom::bitbucket::deployments::{
    Deployment, DeploymentPage, DeploymentRef, DeploymentRelease, Environment, EnvironmentPage,
    EnvironmentRef, ListDeploymentsRequest, ListEnvironmentsRequest,
};
pub use crate::bindings::exports::atom::bitbucket::diffs::{
    BoundedText, Diff, DiffOptions, DiffRequest, DiffstatEntry, DiffstatPage, DiffstatRequest,
    FileChange, FileDiff, PatchRequest,
};
pub use crate::bindings::exports::atom::bitbucket::insights::{
    Attention, AttentionSignal, Band, DeliveryFigures, DeliveryInsightsRequest, DeliveryReport,
    DeploymentSource, DoraFigures, DurationFigures, InsightWeek, LeftOut, LeftOutReason,
    PipelineFigures, RepositoryInsights, ReviewFigures,
};
pub use crate::bindings::exports::atom::bitbucket::issues::{
    CreateIssueCommentRequest, CreateIssueRequest, Issue, IssueComment, IssueCommentPage,
    IssueCommentRef, IssueKind, IssuePage, IssuePriority, IssueRef, IssueState,
    ListIssueCommentsRequest, ListIssuesRequest, UpdateIssueCommentRequest, UpdateIssueRequest,
};
pub use crate::bindings::exports::atom::bitbucket::pipelines::{
    CreateRepositoryVariableRequest, ListPipelineStepsRequest, ListPipelinesRequest,
    ListRepositoryVariablesRequest, Pipeline, PipelinePage, PipelineRef, PipelineStep,
    PipelineStepPage, PipelineTarget, RepositoryVariable, RepositoryVariablePage,
    RepositoryVariableRef, RunStatus, StepLog, StepLogRequest, TriggerPipelineRequest,
    UpdateRepositoryVariableRequest,
};
pub use crate::bindings::exports::atom::bitbucket::projects::{
    ListProjectsRequest, Project, ProjectPage, ProjectRef,
};
pub use crate::bindings::exports::atom::bitbucket::pullrequests::{
    Activity, ActivityKind, ActivityPage, CommentResolution, CreatePullRequestCommentRequest,
    CreatePullRequestRequest, CreatePullRequestTaskRequest, DefaultReviewer, DefaultReviewerPage,
    InlineAnchor, ListAwaitingReviewRequest, ListDefaultReviewersRequest,
    ListPullRequestActivityRequest, ListPullRequestCommentsRequest, ListPullRequestCommitsRequest,
    ListPullRequestTasksRequest, ListPullRequestsRequest, MergeBlocker, MergeChecks,
    MergePullRequestRequest, MergeReadiness, MergeStrategy, MergeVerdict, Participant,
    ParticipantRole, PublishCommentsResult, PullRequest, PullRequestComment,
    PullRequestCommentPage, PullRequestCommentRef, PullRequestDiffRequest,
    PullRequestDiffstatRequest, PullRequestPage, PullRequestPatchRequest, PullRequestRef,
    PullRequestState, PullRequestTask, PullRequestTaskPage, PullRequestTaskRef, TaskState,
    UpdatePullRequestCommentRequest, UpdatePullRequestRequest, UpdatePullRequestTaskRequest,
};
pub use crate::bindings::exports::atom::bitbucket::repositories::{
    CreateRepositoryRequest, DeleteRepositoryRequest, Download, DownloadPage,
    ListRepositoriesRequest, RepoPageRequest, RepoRole, Repository, RepositoryPage,
    RepositoryPermission, RepositoryPermissionPage, UpdateRepositoryRequest,
};
pub use crate::bindings::exports::atom::bitbucket::reviews::{
    BundleCut, CommentThread, ReviewBundle, ReviewBundleRequest,
};
pub use crate::bindings::exports::atom::bitbucket::search::{
    CodeSearchHit, CodeSearchPage, SearchCodeRequest, SearchLine, SearchSegment,
};
pub use crate::bindings::exports::atom::bitbucket::source::{
    CommitFilesRequest, CommitFilesResult, FileContent, FileRevision, FileRevisionPage, FileWrite,
    GetFileRequest, ListDirectoryRequest, ListFileHistoryRequest, TreeEntry, TreeEntryKind,
    TreeEntryPage,
};
pub use crate::bindings::exports::atom::bitbucket::statuses::{
    BuildState, BuildStatus, BuildStatusPage, ListCommitStatusesRequest,
    ListPullRequestStatusesRequest, ReportBuildStatusRequest,
};
pub use crate::bindings::exports::atom::bitbucket::tags::{
    CreateTagRequest, ListTagsRequest, Tag, TagPage, TagRef,
};
pub use crate::bindings::exports::atom::bitbucket::users::Account;
pub use crate::bindings::exports::atom::bitbucket::webhooks::{
    CreateWebhookRequest, ListWebhooksRequest, PushChange, Webhook, WebhookDelivery, WebhookEvent,
    WebhookEventCategory, WebhookPage, WebhookRef,
};
pub use crate::bindings::exports::atom::bitbucket::workspaces::{
    ListWorkspaceMembersRequest, ListWorkspacesRequest, Workspace, WorkspaceMemberPage,
    WorkspacePage,
};
pub use crate::bindings::exports::atom::integration::integration::{
    Complexity, IntegrationInfo, Operation, OperationFacts, RateLimitHint,
};
// Built by the component only from the caller's JSON; named by tests.
#[cfg(test)]
pub use crate::bindings::exports::atom::bitbucket::pipelines::PipelineVariable;
