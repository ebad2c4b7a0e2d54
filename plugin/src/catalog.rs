//! Every operation of the contract, once: its name, complexity, description,
//! request and result records, and the function that runs it. From this one
//! table come the typed exports, `execute`'s dispatch and `operations()`.

use crate::bindings::exports::atom::integration::integration::Guest;
use crate::error::Error;
use crate::schema::{self, NoParams};
use crate::types::*;
use crate::{Component, health, repositories, users, workspaces};

/// Hosts the component reaches by default; the host's allowlist should match.
pub const ALLOWED_HOSTS: [&str; 2] = ["api.bitbucket.org", "bitbucket.org"];

/// Bitbucket's 29 webhook event keys.
pub const WEBHOOK_EVENTS: [&str; 29] = [
    "repo:push",
    "repo:fork",
    "repo:updated",
    "repo:created",
    "repo:deleted",
    "repo:imported",
    "repo:transfer",
    "repo:commit_comment_created",
    "repo:commit_status_created",
    "repo:commit_status_updated",
    "pullrequest:created",
    "pullrequest:updated",
    "pullrequest:push",
    "pullrequest:approved",
    "pullrequest:unapproved",
    "pullrequest:changes_request_created",
    "pullrequest:changes_request_removed",
    "pullrequest:fulfilled",
    "pullrequest:rejected",
    "pullrequest:comment_created",
    "pullrequest:comment_updated",
    "pullrequest:comment_deleted",
    "pullrequest:comment_resolved",
    "pullrequest:comment_reopened",
    "issue:created",
    "issue:updated",
    "issue:comment_created",
    "project:updated",
    "pipeline:span_created",
];

/// The request type of a row: its record, or `NoParams`.
macro_rules! request_type {
    () => {
        NoParams
    };
    ($request:ty) => {
        $request
    };
}

/// The request value inside a typed export.
macro_rules! request_value {
    ($var:ident;) => {
        NoParams {}
    };
    ($var:ident; $request:ty) => {
        $var
    };
}

/// Runs a row: its function when it is `done`, a typed error while it is
/// `todo` (a todo row's function is a placeholder and is never expanded).
macro_rules! run {
    (done, $name:ident, $function:path, $request:expr) => {
        $function($request)
    };
    (todo, $name:ident, $function:path, $request:expr) => {{
        let _ = $request;
        Err(Error::not_implemented(&operation_name(stringify!($name))))
    }};
}

macro_rules! is_done {
    (done) => {
        true
    };
    (todo) => {
        false
    };
}

macro_rules! operations {
    ($(
        $status:ident $complexity:ident $name:ident ( $($request:ty)? ) -> $result:ty = $function:path, $description:literal;
    )*) => {
        impl Guest for Component {
            $(
                fn $name($(request: $request)?) -> Result<$result, Error> {
                    run!($status, $name, $function, request_value!(request; $($request)?))
                }
            )*

            fn capabilities() -> IntegrationInfo {
                capabilities()
            }

            fn operations() -> Vec<Operation> {
                vec![$(
                    Operation {
                        name: operation_name(stringify!($name)),
                        description: $description.to_owned(),
                        complexity: Complexity::$complexity,
                        parameters_schema: schema::schema_of::<request_type!($($request)?)>().to_string(),
                        result_schema: schema::schema_of::<$result>().to_string(),
                        implemented: is_done!($status),
                    },
                )*]
            }

            fn execute(operation: String, params_json: String) -> Result<String, Error> {
                match operation.replace('-', "_").as_str() {
                    $(
                        stringify!($name) => {
                            let request: request_type!($($request)?) = schema::parse(&params_json)?;
                            let result: $result = run!($status, $name, $function, request)?;
                            serde_json::to_string(&result)
                                .map_err(|e| Error::internal(format!("could not encode the result: {e}")))
                        }
                    )*
                    _ => Err(Error::validation(
                        "operation",
                        format!("unknown operation '{operation}'; operations() lists them"),
                    )),
                }
            }
        }
    };
}

operations! {
    done Read health() -> HealthReport = health::check,
        "Whether Bitbucket is reachable with this connection's credential, which kind it is and what it can do.";
    todo Critical auth_start() -> AuthStartResult = unimplemented,
        "Start an OAuth 2.0 login: the Bitbucket authorize URL and the state the callback must return.";
    todo Critical auth_complete(AuthCompleteRequest) -> AuthStatus = unimplemented,
        "Finish an OAuth 2.0 login: check the state, exchange the code and store the tokens.";
    todo Critical auth_refresh() -> AuthStatus = unimplemented,
        "Exchange the stored refresh token for new tokens now.";

    done Read get_current_user() -> Account = users::current,
        "The Bitbucket account the credential acts as.";
    done Read list_workspaces(ListWorkspacesRequest) -> WorkspacePage = workspaces::list,
        "Workspaces the current user can access (GET /user/workspaces).";
    done Read list_repositories(ListRepositoriesRequest) -> RepositoryPage = repositories::list,
        "Repositories of a workspace, filtered with BBQL `page.q` and sorted with `page.sort`.";
    done Read get_repository(RepoRef) -> Repository = repositories::get,
        "One repository by workspace and slug.";

    todo Read list_branches(ListBranchesRequest) -> BranchPage = unimplemented,
        "Branches of a repository, filtered with BBQL and sorted.";
    todo Read get_branch(BranchRef) -> Branch = unimplemented,
        "One branch by name (names may contain `/`).";
    todo Read list_commits(ListCommitsRequest) -> CommitPage = unimplemented,
        "Commits reachable from `include` and not from `exclude`, optionally touching `path`, newest first.";
    todo Read get_commit(CommitRef) -> Commit = unimplemented,
        "One commit by hash.";

    todo Read list_pull_requests(ListPullRequestsRequest) -> PullRequestPage = unimplemented,
        "Pull requests of a repository in one or several states.";
    todo Read get_pull_request(PullRequestRef) -> PullRequest = unimplemented,
        "One pull request with its participants and approvals.";
    todo Execute create_pull_request(CreatePullRequestRequest) -> PullRequest = unimplemented,
        "Open a pull request from a source branch (never retried automatically).";
    todo Execute update_pull_request(UpdatePullRequestRequest) -> PullRequest = unimplemented,
        "Change a pull request's title, description, destination, reviewers or draft flag.";
    todo Execute approve_pull_request(PullRequestRef) -> Participant = unimplemented,
        "Approve a pull request as the current user.";
    todo Execute unapprove_pull_request(PullRequestRef) -> PullRequest = unimplemented,
        "Withdraw the current user's approval.";
    todo Execute request_changes(PullRequestRef) -> Participant = unimplemented,
        "Request changes on a pull request as the current user.";
    todo Execute remove_change_request(PullRequestRef) -> PullRequest = unimplemented,
        "Withdraw the current user's change request.";
    todo Critical decline_pull_request(PullRequestRef) -> PullRequest = unimplemented,
        "Decline a pull request.";
    todo Critical merge_pull_request(MergePullRequestRequest) -> PullRequest = unimplemented,
        "Merge a pull request with a strategy, waiting for Bitbucket's asynchronous merge.";
    todo Read list_pull_request_comments(ListPullRequestCommentsRequest) -> PullRequestCommentPage = unimplemented,
        "Comments on a pull request, oldest first.";
    todo Execute create_pull_request_comment(CreatePullRequestCommentRequest) -> PullRequestComment = unimplemented,
        "Comment on a pull request: plain, as a reply, or inline on a file and line.";

    todo Read list_pipelines(ListPipelinesRequest) -> PipelinePage = unimplemented,
        "Pipeline runs of a repository, filtered by status, branch and trigger.";
    todo Read get_pipeline(PipelineRef) -> Pipeline = unimplemented,
        "One pipeline run with its status, result, duration and trigger.";
    todo Read list_pipeline_steps(ListPipelineStepsRequest) -> PipelineStepPage = unimplemented,
        "Steps of a pipeline run with their status and duration.";
    todo Read get_step_log(StepLogRequest) -> StepLog = unimplemented,
        "A step's log, whole or a byte range.";
    todo Execute trigger_pipeline(TriggerPipelineRequest) -> Pipeline = unimplemented,
        "Run a pipeline on a branch, a commit or a custom selector, with variables (never retried automatically).";
    todo Execute stop_pipeline(PipelineRef) -> Pipeline = unimplemented,
        "Stop a running pipeline.";

    todo Read list_issues(ListIssuesRequest) -> IssuePage = unimplemented,
        "Issues of a repository by state, kind and priority (Bitbucket Issues is deprecated upstream).";
    todo Read get_issue(IssueRef) -> Issue = unimplemented,
        "One issue.";
    todo Execute create_issue(CreateIssueRequest) -> Issue = unimplemented,
        "File an issue (never retried automatically).";
    todo Execute update_issue(UpdateIssueRequest) -> Issue = unimplemented,
        "Change an issue's fields or state.";

    todo Read search_code(SearchCodeRequest) -> CodeSearchPage = unimplemented,
        "Search code in a workspace with Bitbucket's search syntax.";

    todo Read list_webhooks(ListWebhooksRequest) -> WebhookPage = unimplemented,
        "Webhooks of a repository or of a workspace.";
    todo Critical create_webhook(CreateWebhookRequest) -> Webhook = unimplemented,
        "Subscribe a URL to events, optionally signed with a secret.";
    todo Critical delete_webhook(WebhookRef) -> WebhookRef = unimplemented,
        "Delete a webhook.";
    todo Read verify_webhook_delivery(WebhookDelivery) -> WebhookEvent = unimplemented,
        "Verify a delivery's signature and parse it into a typed event (no upstream request).";

    todo Analyze analytics_summary(AnalyticsSummaryRequest) -> WorkspaceAnalytics = unimplemented,
        "Repository, pull request, pipeline and issue figures of a workspace.";
}

/// `list_repositories` → `list-repositories`, the WIT function's name.
fn operation_name(rust_name: &str) -> String {
    rust_name.replace('_', "-")
}

fn capabilities() -> IntegrationInfo {
    IntegrationInfo {
        name: "bitbucket".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: "Bitbucket Cloud: workspaces, repositories, branches, commits, pull requests, pipelines, issues, code search and webhooks.".to_owned(),
        auth_kinds: vec![AuthKind::Oauth2, AuthKind::AccessToken, AuthKind::ApiToken],
        allowed_hosts: ALLOWED_HOSTS.map(str::to_owned).to_vec(),
        rate_limits: vec![
            RateLimitHint { scope: "/2.0/repositories/* (per user, token or OAuth consumer)".to_owned(), requests_per_hour: 1000 },
            RateLimitHint { scope: "webhook endpoints".to_owned(), requests_per_hour: 1000 },
            RateLimitHint { scope: "raw files".to_owned(), requests_per_hour: 5000 },
        ],
        supports_webhooks: true,
        webhook_events: WEBHOOK_EVENTS.map(str::to_owned).to_vec(),
    }
}
