//! Every operation of the contract, once: its name, complexity, description,
//! request and result records, and the function that runs it. From this one
//! table come the typed exports, `execute`'s dispatch and `operations()`.

use serde::Serialize;

use crate::bounds;
use crate::endpoint::Upstream;
use crate::error::Error;
use crate::quote::quote;
use crate::transport::Client;
use crate::types::*;
use crate::webhooks::WEBHOOK_EVENTS;
use crate::wire::{self, NoParams};
use crate::{
    analytics, auth, branches, commit_files, commits, deployments, diffs, downloads, health,
    insights, issues, permissions, pipelines, projects, pullrequests, repositories, restrictions,
    reviewers, reviews, search, source, statuses, tags, users, variables, webhooks, workspaces,
};

/// The component the bindings export.
pub struct Component;

/// Hosts the component reaches by default; the host's allowlist should match.
pub const ALLOWED_HOSTS: [&str; 2] = ["api.bitbucket.org", "bitbucket.org"];

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

/// One typed export: the row's function behind its bounds check.
macro_rules! typed_export {
    ($name:ident ( $($request:ty)? ) -> $result:ty = $function:path) => {
        fn $name($(request: $request)?) -> Result<$result, Error> {
            run(stringify!($name), request_value!(request; $($request)?), $function)
        }
    };
}

/// The typed exports of one WIT interface. The generic contract's interface
/// also carries discovery and `execute`, which span the whole table.
macro_rules! interface_exports {
    (integration { $( $name:ident ( $($request:ty)? ) -> $result:ty = $function:path; )* }) => {
        impl crate::bindings::exports::atom::integration::integration::Guest for Component {
            $( typed_export!($name ( $($request)? ) -> $result = $function); )*

            fn capabilities() -> IntegrationInfo {
                capabilities()
            }

            fn operations() -> Vec<Operation> {
                operation_list()
            }

            fn execute(operation: String, params_json: String) -> Result<String, Error> {
                execute_on(&operation, &params_json, Client::new)
            }
        }
    };
    ($area:ident { $( $name:ident ( $($request:ty)? ) -> $result:ty = $function:path; )* }) => {
        impl crate::bindings::exports::atom::bitbucket::$area::Guest for Component {
            $( typed_export!($name ( $($request)? ) -> $result = $function); )*
        }
    };
}

/// One of an operation's facts, as a row spells it (`read_only`,
/// `destructive`, `idempotent`); any other word does not compile.
macro_rules! fact {
    (read_only) => {
        Fact::ReadOnly
    };
    (destructive) => {
        Fact::Destructive
    };
    (idempotent) => {
        Fact::Idempotent
    };
}

/// A row: `Complexity [facts] scopes("scope", …) name(Request) -> Result =
/// function, "description";`. The facts and the OAuth scopes sit in the row
/// itself, so an operation cannot be added without them.
macro_rules! operations {
    ($(
        $interface:ident {
            $(
                $complexity:ident [$($fact:ident),*] scopes($($scope:literal),*)
                $name:ident ( $($request:ty)? ) -> $result:ty = $function:path, $description:literal;
            )*
        }
    )*) => {
        $(
            interface_exports!($interface { $( $name ( $($request)? ) -> $result = $function; )* });
        )*

        /// Every operation's row as static data, in table order: discovery
        /// is one loop over it instead of code written out per operation
        /// (the written-out list was 62 KB of the component).
        static ROWS: &[Row] = &[$($(
            Row {
                rust_name: stringify!($name),
                description: $description,
                complexity: Complexity::$complexity,
                facts: &[$(fact!($fact)),*],
                scopes: &[$($scope),*],
            },
        )*)*];

        /// Every operation with its description and schemas, in table order.
        pub(crate) fn operation_list() -> Vec<Operation> {
            let schemas = wire::Schemas::unpacked();
            ROWS.iter().map(|row| row.operation(schemas)).collect()
        }

        /// Every operation's name and the OAuth scopes it needs, in table
        /// order, without the schemas (for `health`).
        pub(crate) fn operation_scopes() -> Vec<(String, &'static [&'static str])> {
            ROWS.iter()
                .map(|row| (operation_name(row.rust_name), row.scopes))
                .collect()
        }

        /// Every operation's WIT interface and name, in table order (for
        /// the generated operations index).
        #[cfg(test)]
        pub(crate) fn operation_interfaces() -> Vec<(&'static str, String)> {
            vec![$($(
                (stringify!($interface), operation_name(stringify!($name))),
            )*)*]
        }

        /// Every operation's Rust name, in table order (for the fuzz
        /// targets, which the component leaves out).
        #[cfg(not(target_arch = "wasm32"))]
        pub const OPERATION_NAMES: &[&str] = &[$($(stringify!($name)),*),*];

        /// `execute` against any upstream: parses the params, holds them to
        /// their bounds, and only then opens the upstream (a native test or
        /// fuzzer passes a canned one).
        pub fn execute_on<U: Upstream>(
            operation: &str,
            params_json: &str,
            upstream: impl FnOnce() -> Result<U, Error>,
        ) -> Result<String, Error> {
            match operation.replace('-', "_").as_str() {
                $($(
                    stringify!($name) => {
                        let request: request_type!($($request)?) =
                            wire::parse(params_json).map_err(Error::bounded)?;
                        wire::to_json(&run_on(stringify!($name), request, upstream, $function)?)
                    }
                )*)*
                _ => Err(Error::validation(
                    "operation",
                    format!("unknown operation '{}'; operations() lists them", quote(operation)),
                )),
            }
        }

        /// Every operation's name with its params and result schemas, rendered
        /// from the Rust types; `operations()` serves them from `schemas/`.
        #[cfg(test)]
        pub(crate) fn rendered_schemas() -> Vec<wire::RenderedSchemas> {
            vec![$($(
                wire::RenderedSchemas {
                    operation: stringify!($name),
                    // The table's bounds are published in the schema (maxLength, maxItems).
                    parameters: crate::bounds::annotate(
                        stringify!($name),
                        wire::params_schema_of::<request_type!($($request)?)>(),
                    )
                    .to_string(),
                    result: wire::schema_of::<$result>().to_string(),
                },
            )*)*]
        }
    };
}

// The facts of every row, by these rules (tested below):
// - `read_only`: changes nothing, in Bitbucket or with the host: a host may
//   cache and share its answer. `auth_start` never reaches Bitbucket but
//   records a fresh one-use state with the host on every call, so it is
//   neither read-only nor idempotent (a cached answer would hand two
//   browsers the same state).
// - `destructive`: discards what the same API cannot give back: deletes,
//   decline, merge, stop, and `auth_complete`, which replaces the stored
//   credential with another (perhaps another account's). Updates that
//   change fields the caller can set back (titles, texts, states) are not;
//   nor is `auth_refresh`, which swaps the credential for an equivalent one.
// - `idempotent`: a second identical call leaves Bitbucket as the first
//   did: reads, PUT-style updates, deletes, approvals and their withdrawal,
//   decline, merge and stop (a second one is refused and changes nothing),
//   resolve and reopen, publishing (nothing left pending), and the keyed
//   build status. Never a create, a trigger, a comment or a task, nor the
//   OAuth exchanges (a code is one-use, a refresh token rotates).
// - `scopes`: Bitbucket's classic OAuth 2.0 scopes, as the spec's
//   `security.oauth2` names them for every endpoint the call sends (see
//   `health` for how they are matched against a credential's). Where the
//   spec asks less than the live API is known to (it lists `pipeline` for
//   running a pipeline), the API notes' stronger scope is used.
operations! {
    integration {
        Read [read_only, idempotent] scopes() health() -> HealthReport = health::check,
            "Whether Bitbucket is reachable with this connection's credential, which kind it is and what it can do.";
    }

    auth {
        Critical [] scopes() auth_start() -> AuthStartResult = auth::start,
            "Start an OAuth 2.0 login: the Bitbucket authorize URL and the state the callback must return.";
        Critical [destructive] scopes() auth_complete(AuthCompleteRequest) -> AuthStatus = auth::complete,
            "Finish an OAuth 2.0 login: check the state, exchange the code and store the tokens.";
        Critical [] scopes() auth_refresh() -> AuthStatus = auth::refresh,
            "Exchange the stored refresh token for new tokens now.";
    }

    users {
        Read [read_only, idempotent] scopes("account") get_current_user() -> Account = users::current,
            "The Bitbucket account the credential acts as.";
    }

    workspaces {
        Read [read_only, idempotent] scopes("account") list_workspaces(ListWorkspacesRequest) -> WorkspacePage = workspaces::list,
            "Workspaces the current user can access (GET /user/workspaces).";
        Read [read_only, idempotent] scopes("account") list_workspace_members(ListWorkspaceMembersRequest) -> WorkspaceMemberPage = workspaces::members,
            "The people who belong to a workspace.";
    }

    repositories {
        Read [read_only, idempotent] scopes("repository") list_repositories(ListRepositoriesRequest) -> RepositoryPage = repositories::list,
            "Repositories of a workspace, filtered with BBQL `page.q` and sorted with `page.sort`.";
        Read [read_only, idempotent] scopes("repository") list_downloads(RepoPageRequest) -> DownloadPage = downloads::list,
            "Files uploaded to a repository's Downloads.";
        Read [read_only, idempotent] scopes("repository:admin") list_repository_user_permissions(RepoPageRequest) -> RepositoryPermissionPage = permissions::users,
            "Users given a permission on the repository itself.";
        Read [read_only, idempotent] scopes("repository:admin") list_repository_group_permissions(RepoPageRequest) -> RepositoryPermissionPage = permissions::groups,
            "Groups given a permission on the repository.";
        Read [read_only, idempotent] scopes("repository") get_repository(RepoRef) -> Repository = repositories::get,
            "One repository by workspace and slug.";
        Execute [] scopes("repository:admin") create_repository(CreateRepositoryRequest) -> Repository = repositories::create,
            "Create a git repository in a workspace, in a project or the workspace's default one (never retried automatically).";
        Execute [idempotent] scopes("repository:admin") update_repository(UpdateRepositoryRequest) -> Repository = repositories::update,
            "Change a repository's name, description, privacy, project, language or features; fields not given stay.";
        Critical [destructive, idempotent] scopes("repository:delete") delete_repository(DeleteRepositoryRequest) -> RepoRef = repositories::delete,
            "Delete a repository with its code, pull requests, issues and pipelines; its full name must be repeated.";
    }

    branches {
        Read [read_only, idempotent] scopes("repository") list_branches(ListBranchesRequest) -> BranchPage = branches::list,
            "Branches of a repository, filtered with BBQL and sorted.";
        Read [read_only, idempotent] scopes("repository:admin") list_branch_restrictions(ListBranchRestrictionsRequest) -> BranchRestrictionPage = restrictions::list,
            "Branch restrictions of a repository (who may push, merge rules), by kind or pattern.";
        Read [read_only, idempotent] scopes("repository:admin") get_branch_restriction(BranchRestrictionRef) -> BranchRestriction = restrictions::get,
            "One branch restriction by id.";
        Read [read_only, idempotent] scopes("repository") get_branch(BranchRef) -> Branch = branches::get,
            "One branch by name (names may contain `/`).";
        Execute [] scopes("repository:write") create_branch(CreateBranchRequest) -> Branch = branches::create,
            "Create a branch at a commit, or at the head of a branch or tag (never retried automatically).";
        Critical [destructive, idempotent] scopes("repository:write") delete_branch(BranchRef) -> BranchRef = branches::delete,
            "Delete a branch; Bitbucket refuses the main branch. Commits only on it become unreachable.";
    }

    tags {
        Read [read_only, idempotent] scopes("repository") list_tags(ListTagsRequest) -> TagPage = tags::list,
            "Tags of a repository, filtered with BBQL and sorted.";
        Read [read_only, idempotent] scopes("repository") get_tag(TagRef) -> Tag = tags::get,
            "One tag by name, with its commit and, when annotated, its message and tagger.";
        Execute [] scopes("repository:write") create_tag(CreateTagRequest) -> Tag = tags::create,
            "Tag a commit, or the head of a branch; a message makes it annotated (never retried automatically).";
        Critical [destructive, idempotent] scopes("repository:write") delete_tag(TagRef) -> TagRef = tags::delete,
            "Delete a tag; a release or deployment may name it.";
    }

    projects {
        Read [read_only, idempotent] scopes("project") list_projects(ListProjectsRequest) -> ProjectPage = projects::list,
            "Projects of a workspace.";
        Read [read_only, idempotent] scopes("project") get_project(ProjectRef) -> Project = projects::get,
            "One project of a workspace by its key.";
    }

    commits {
        Read [read_only, idempotent] scopes("repository") list_commits(ListCommitsRequest) -> CommitPage = commits::list,
            "Commits reachable from `include` and not from `exclude`, optionally touching `path`, newest first.";
        Read [read_only, idempotent] scopes("repository") get_commit(CommitRef) -> Commit = commits::get,
            "One commit by hash.";
    }

    source {
        Read [read_only, idempotent] scopes("repository") get_file(GetFileRequest) -> FileContent = source::get_file,
            "A file's content at a revision, cut to `max_bytes` (default 64 KiB, at most 1 MiB); binary files are named, not dumped.";
        Read [read_only, idempotent] scopes("repository") list_directory(ListDirectoryRequest) -> TreeEntryPage = source::list_directory,
            "The files, directories, links and submodules of a directory at a revision.";
        Read [read_only, idempotent] scopes("repository") list_file_history(ListFileHistoryRequest) -> FileRevisionPage = source::list_file_history,
            "The commits that changed a file, newest first, following renames.";
        Execute [] scopes("repository:write") commit_files(CommitFilesRequest) -> CommitFilesResult = commit_files::commit_files,
            "Write and delete files in one new commit on a branch, on top of its head (or `parent`, which Bitbucket checks is still the head); a new branch name starts a branch (never retried automatically).";
    }

    diffs {
        Read [read_only, idempotent] scopes("repository") get_diff(DiffRequest) -> Diff = diffs::get_diff,
            "The diff of `new..old` (or of one commit) per file, within a byte budget (default 256 KiB) that names every file it cuts.";
        Read [read_only, idempotent] scopes("repository") get_diffstat(DiffstatRequest) -> DiffstatPage = diffs::get_diffstat,
            "Lines added and removed per file between two revisions.";
        Read [read_only, idempotent] scopes("repository") get_patch(PatchRequest) -> BoundedText = diffs::get_patch,
            "The patch series (with commit headers) of `new..old` or of one commit, cut to `max_bytes`.";
    }

    statuses {
        Read [read_only, idempotent] scopes("repository") list_commit_statuses(ListCommitStatusesRequest) -> BuildStatusPage = statuses::list_for_commit,
            "Build statuses CI systems reported on a commit.";
        Read [read_only, idempotent] scopes("pullrequest") list_pull_request_statuses(ListPullRequestStatusesRequest) -> BuildStatusPage = statuses::list_for_pull_request,
            "Build statuses of a pull request's commits.";
        Execute [idempotent] scopes("repository") report_build_status(ReportBuildStatusRequest) -> BuildStatus = statuses::report,
            "Report a build status on a commit; the same key updates the same status.";
    }

    pullrequests {
        Read [read_only, idempotent] scopes("pullrequest") list_pull_requests(ListPullRequestsRequest) -> PullRequestPage = pullrequests::list,
            "Pull requests of a repository in one or several states.";
        Read [read_only, idempotent] scopes("pullrequest") list_default_reviewers(ListDefaultReviewersRequest) -> DefaultReviewerPage = reviewers::list,
            "Who is asked to review new pull requests: the repository's own, or with `effective` the project's too.";
        Read [read_only, idempotent] scopes("pullrequest") get_pull_request(PullRequestRef) -> PullRequest = pullrequests::get,
            "One pull request with its participants and approvals.";
        Execute [] scopes("pullrequest:write") create_pull_request(CreatePullRequestRequest) -> PullRequest = pullrequests::create,
            "Open a pull request from a source branch (never retried automatically).";
        Execute [idempotent] scopes("pullrequest:write") update_pull_request(UpdatePullRequestRequest) -> PullRequest = pullrequests::update,
            "Change a pull request's title, description, destination, reviewers or draft flag.";
        Execute [idempotent] scopes("pullrequest:write") approve_pull_request(PullRequestRef) -> Participant = pullrequests::approve,
            "Approve a pull request as the current user.";
        Execute [idempotent] scopes("pullrequest:write") unapprove_pull_request(PullRequestRef) -> PullRequest = pullrequests::unapprove,
            "Withdraw the current user's approval.";
        Execute [idempotent] scopes("pullrequest:write") request_changes(PullRequestRef) -> Participant = pullrequests::request_changes,
            "Request changes on a pull request as the current user.";
        Execute [idempotent] scopes("pullrequest:write") remove_change_request(PullRequestRef) -> PullRequest = pullrequests::remove_change_request,
            "Withdraw the current user's change request.";
        Critical [destructive, idempotent] scopes("pullrequest:write") decline_pull_request(PullRequestRef) -> PullRequest = pullrequests::decline,
            "Decline a pull request.";
        Critical [destructive, idempotent] scopes("pullrequest:write") merge_pull_request(MergePullRequestRequest) -> PullRequest = pullrequests::merge,
            "Merge a pull request with a strategy, waiting for Bitbucket's asynchronous merge.";
        Critical [destructive, idempotent] scopes("pullrequest:write") merge_pull_request_if_green(MergePullRequestRequest) -> MergeReadiness = pullrequests::readiness::merge_if_green,
            "Merge a pull request only if its builds are green and it has the approvals its branch's rules require; otherwise say what it waits for, or why waiting will not help.";
        Read [read_only, idempotent] scopes("pullrequest") list_pull_request_comments(ListPullRequestCommentsRequest) -> PullRequestCommentPage = pullrequests::list_comments,
            "Comments on a pull request, oldest first.";
        Execute [] scopes("pullrequest") create_pull_request_comment(CreatePullRequestCommentRequest) -> PullRequestComment = pullrequests::create_comment,
            "Comment on a pull request: plain, as a reply, or inline on a file and line.";
        Execute [idempotent] scopes("pullrequest") update_pull_request_comment(UpdatePullRequestCommentRequest) -> PullRequestComment = pullrequests::comments::update,
            "Replace a comment's text.";
        Critical [destructive, idempotent] scopes("pullrequest") delete_pull_request_comment(PullRequestCommentRef) -> PullRequestCommentRef = pullrequests::comments::delete,
            "Delete a comment.";
        Execute [idempotent] scopes("pullrequest") resolve_pull_request_comment(PullRequestCommentRef) -> PullRequestComment = pullrequests::comments::resolve,
            "Resolve a comment thread; answers the comment as it now is.";
        Execute [idempotent] scopes("pullrequest") reopen_pull_request_comment(PullRequestCommentRef) -> PullRequestComment = pullrequests::comments::reopen,
            "Reopen a resolved comment thread; answers the comment as it now is.";
        Execute [idempotent] scopes("account", "pullrequest") publish_pending_comments(PullRequestRef) -> PublishCommentsResult = pullrequests::comments::publish_pending,
            "Publish the current user's pending (draft) comments on a pull request; a failure midway says how many were published.";
        Read [read_only, idempotent] scopes("pullrequest") list_pull_request_commits(ListPullRequestCommitsRequest) -> CommitPage = pullrequests::reading::commits,
            "The commits of a pull request, newest first.";
        Read [read_only, idempotent] scopes("pullrequest") list_pull_request_activity(ListPullRequestActivityRequest) -> ActivityPage = pullrequests::reading::activity,
            "A pull request's activity log: updates, approvals, change requests and comments, newest first.";
        Read [read_only, idempotent] scopes("account", "pullrequest") list_pull_requests_awaiting_review(ListAwaitingReviewRequest) -> PullRequestPage = pullrequests::reading::awaiting_review,
            "Open pull requests that name the current user as a reviewer and still wait for their review.";
        Read [read_only, idempotent] scopes("pullrequest") get_pull_request_diff(PullRequestDiffRequest) -> Diff = pullrequests::reading::diff,
            "A pull request's diff per file, within a byte budget (default 256 KiB) that names every file it cuts.";
        Read [read_only, idempotent] scopes("pullrequest") get_pull_request_diffstat(PullRequestDiffstatRequest) -> DiffstatPage = pullrequests::reading::diffstat,
            "Lines added and removed per file in a pull request.";
        Read [read_only, idempotent] scopes("pullrequest") get_pull_request_patch(PullRequestPatchRequest) -> BoundedText = pullrequests::reading::patch,
            "A pull request's patch series, cut to `max_bytes`.";
        Read [read_only, idempotent] scopes("pullrequest") list_pull_request_tasks(ListPullRequestTasksRequest) -> PullRequestTaskPage = pullrequests::tasks::list,
            "Tasks on a pull request, optionally only resolved or unresolved ones.";
        Execute [] scopes("pullrequest") create_pull_request_task(CreatePullRequestTaskRequest) -> PullRequestTask = pullrequests::tasks::create,
            "Add a task to a pull request, optionally under a comment (never retried automatically).";
        Execute [idempotent] scopes("pullrequest") update_pull_request_task(UpdatePullRequestTaskRequest) -> PullRequestTask = pullrequests::tasks::update,
            "Change a task's text, or resolve or reopen it.";
        Critical [destructive, idempotent] scopes("pullrequest") delete_pull_request_task(PullRequestTaskRef) -> PullRequestTaskRef = pullrequests::tasks::delete,
            "Delete a task.";
    }

    reviews {
        Analyze [read_only, idempotent] scopes("pullrequest", "repository") get_review_bundle(ReviewBundleRequest) -> ReviewBundle = reviews::bundle,
            "Everything a reviewer needs of a pull request in one call: the pull request, diffstat, per-file diffs within a budget, build statuses, open tasks and unresolved threads, every cut named.";
    }

    pipelines {
        Read [read_only, idempotent] scopes("pipeline") list_pipelines(ListPipelinesRequest) -> PipelinePage = pipelines::list,
            "Pipeline runs of a repository, filtered by status, branch and trigger.";
        Read [read_only, idempotent] scopes("pipeline") list_repository_variables(ListRepositoryVariablesRequest) -> RepositoryVariablePage = variables::list,
            "A repository's pipeline variables; a secured one's value is never answered.";
        Execute [] scopes("pipeline:variable") create_repository_variable(CreateRepositoryVariableRequest) -> RepositoryVariable = variables::create,
            "Add a pipeline variable to a repository; a secured value is write-only from then on (never retried automatically).";
        Execute [idempotent] scopes("pipeline:variable") update_repository_variable(UpdateRepositoryVariableRequest) -> RepositoryVariable = variables::update,
            "Change a pipeline variable's key, value or securing; fields not given stay.";
        Critical [destructive, idempotent] scopes("pipeline:variable") delete_repository_variable(RepositoryVariableRef) -> RepositoryVariableRef = variables::delete,
            "Delete a pipeline variable; pipelines that read it fail or change behaviour.";
        Read [read_only, idempotent] scopes("pipeline") get_pipeline(PipelineRef) -> Pipeline = pipelines::get,
            "One pipeline run with its status, result, duration and trigger.";
        Read [read_only, idempotent] scopes("pipeline") list_pipeline_steps(ListPipelineStepsRequest) -> PipelineStepPage = pipelines::steps,
            "Steps of a pipeline run with their status and duration.";
        Read [read_only, idempotent] scopes("pipeline") get_step_log(StepLogRequest) -> StepLog = pipelines::log,
            "A step's log, whole or a byte range.";
        Execute [] scopes("pipeline:write") trigger_pipeline(TriggerPipelineRequest) -> Pipeline = pipelines::trigger,
            "Run a pipeline on a branch, a commit or a custom selector, with variables (never retried automatically).";
        Execute [destructive, idempotent] scopes("pipeline:write") stop_pipeline(PipelineRef) -> Pipeline = pipelines::stop,
            "Stop a running pipeline.";
    }

    deployments {
        Read [read_only, idempotent] scopes("pipeline") list_environments(ListEnvironmentsRequest) -> EnvironmentPage = deployments::list_environments,
            "A repository's deployment environments (Test, Staging, Production…) with their type, rank and lock.";
        Read [read_only, idempotent] scopes("pipeline") get_environment(EnvironmentRef) -> Environment = deployments::get_environment,
            "One deployment environment by uuid.";
        Read [read_only, idempotent] scopes("pipeline") list_deployments(ListDeploymentsRequest) -> DeploymentPage = deployments::list_deployments,
            "Deployments of a repository, newest first, with state, environment and the pipeline run released; optionally one environment's.";
        Read [read_only, idempotent] scopes("pipeline") get_deployment(DeploymentRef) -> Deployment = deployments::get_deployment,
            "One deployment by uuid: its state, environment and the release's commit and pipeline run.";
    }

    issues {
        Read [read_only, idempotent] scopes("issue") list_issues(ListIssuesRequest) -> IssuePage = issues::list,
            "Issues of a repository by state, kind and priority (Bitbucket Issues is deprecated upstream).";
        Read [read_only, idempotent] scopes("issue") list_issue_comments(ListIssueCommentsRequest) -> IssueCommentPage = issues::comments::list,
            "Comments on an issue, oldest first.";
        Execute [idempotent] scopes("issue:write") update_issue_comment(UpdateIssueCommentRequest) -> IssueComment = issues::comments::update,
            "Replace an issue comment's text.";
        Critical [destructive, idempotent] scopes("issue:write") delete_issue_comment(IssueCommentRef) -> IssueCommentRef = issues::comments::delete,
            "Delete an issue comment.";
        Execute [] scopes("issue:write") create_issue_comment(CreateIssueCommentRequest) -> IssueComment = issues::comments::create,
            "Comment on an issue (never retried automatically).";
        Read [read_only, idempotent] scopes("issue") get_issue(IssueRef) -> Issue = issues::get,
            "One issue.";
        Execute [] scopes("issue:write") create_issue(CreateIssueRequest) -> Issue = issues::create,
            "File an issue (never retried automatically).";
        Execute [idempotent] scopes("issue:write") update_issue(UpdateIssueRequest) -> Issue = issues::update,
            "Change an issue's fields or state.";
    }

    search {
        Read [read_only, idempotent] scopes("repository") search_code(SearchCodeRequest) -> CodeSearchPage = search::search,
            "Search code in a workspace with Bitbucket's search syntax.";
    }

    webhooks {
        Read [read_only, idempotent] scopes("webhook") list_webhooks(ListWebhooksRequest) -> WebhookPage = webhooks::list,
            "Webhooks of a repository or of a workspace.";
        Critical [] scopes("webhook") create_webhook(CreateWebhookRequest) -> Webhook = webhooks::create,
            "Subscribe a URL to events, optionally signed with a secret.";
        Critical [destructive, idempotent] scopes("webhook") delete_webhook(WebhookRef) -> WebhookRef = webhooks::delete,
            "Delete a webhook.";
        Read [read_only, idempotent] scopes() verify_webhook_delivery(WebhookDelivery) -> WebhookEvent = webhooks::verify,
            "Verify a delivery's signature and parse it into a typed event (no upstream request).";
    }

    analytics {
        Analyze [read_only, idempotent] scopes("repository", "pullrequest", "pipeline", "issue") analytics_summary(AnalyticsSummaryRequest) -> WorkspaceAnalytics = analytics::summary,
            "Repository, pull request, pipeline and issue figures of a workspace.";
    }

    insights {
        Analyze [read_only, idempotent] scopes("repository", "pullrequest", "pipeline") delivery_insights(DeliveryInsightsRequest) -> DeliveryReport = insights::delivery,
            "Delivery over a window of weeks across a workspace's repositories: the four DORA measures with their bands, review flow and pipeline health, per repository and rolled up, by week; within a budget of upstream requests, naming what it left out.";
    }
}

/// One fact a row states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fact {
    ReadOnly,
    Destructive,
    Idempotent,
}

/// What discovery says of one operation, fixed at build time.
struct Row {
    rust_name: &'static str,
    description: &'static str,
    complexity: Complexity,
    facts: &'static [Fact],
    scopes: &'static [&'static str],
}

impl Row {
    fn operation(&self, schemas: &wire::Schemas) -> Operation {
        Operation {
            name: operation_name(self.rust_name),
            title: title(self.rust_name),
            description: self.description.to_owned(),
            complexity: self.complexity,
            facts: facts(self.facts, self.scopes),
            parameters_schema: schemas
                .get(&format!("{}.parameters", self.rust_name))
                .to_owned(),
            result_schema: schemas
                .get(&format!("{}.result", self.rust_name))
                .to_owned(),
        }
    }
}

fn facts(stated: &[Fact], scopes: &[&str]) -> OperationFacts {
    OperationFacts {
        read_only: stated.contains(&Fact::ReadOnly),
        destructive: stated.contains(&Fact::Destructive),
        idempotent: stated.contains(&Fact::Idempotent),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// `list_pull_requests` → `List pull requests`.
fn title(rust_name: &str) -> String {
    let words = rust_name.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Every operation runs through here: its params are held to their bounds
/// before a client, a credential or a request exists, and what it answers
/// with an error quotes no caller value at length.
fn run<R: Serialize, T>(
    operation: &str,
    request: R,
    function: impl FnOnce(&dyn Upstream, R) -> Result<T, Error>,
) -> Result<T, Error> {
    run_on(operation, request, Client::new, function)
}

/// [`run`] with the upstream opened by `open`, once the params passed.
fn run_on<U: Upstream, R: Serialize, T>(
    operation: &str,
    request: R,
    open: impl FnOnce() -> Result<U, Error>,
    function: impl FnOnce(&dyn Upstream, R) -> Result<T, Error>,
) -> Result<T, Error> {
    bounds::check(operation, &request).map_err(Error::bounded)?;
    function(&open()?, request).map_err(Error::bounded)
}

/// `list_repositories` → `list-repositories`, the WIT function's name.
fn operation_name(rust_name: &str) -> String {
    rust_name.replace('_', "-")
}

fn capabilities() -> IntegrationInfo {
    IntegrationInfo {
        name: "bitbucket".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        description: "Bitbucket Cloud: workspaces and their projects, repositories, branches and tags, commits, source files, diffs, build statuses, pull requests and their review, pipelines, issues, code search and webhooks.".to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::atom::integration::integration::Guest;
    use crate::endpoint::script::Script;

    fn validation(result: Result<impl Sized, Error>) -> crate::types::ValidationError {
        match result {
            Err(Error::Validation(e)) => e,
            _ => panic!("expected a validation error"),
        }
    }

    #[test]
    fn a_megabyte_repo_slug_is_refused_by_name_and_never_sent() {
        let script = Script::new();
        let request = RepoRef {
            workspace: "acme".into(),
            repo_slug: "x".repeat(1 << 20),
        };
        let e = validation(run_on(
            "get_repository",
            request,
            || Ok(&script),
            repositories::get,
        ));
        assert_eq!(e.field, "repo_slug");
        assert!(e.message.len() < 200, "{}", e.message);
        assert!(!e.message.contains("xxxx"), "the value is not echoed");
        assert_eq!(script.requests_sent(), 0);
    }

    #[test]
    fn execute_refuses_oversized_params_before_it_needs_the_host() {
        // Natively the host's imports are unreachable: reaching `Client::new`
        // here would panic instead of answering.
        let params = serde_json::json!({"workspace": "acme", "repo_slug": "x".repeat(1 << 20)});
        let e = validation(Component::execute(
            "get-repository".into(),
            params.to_string(),
        ));
        assert_eq!(e.field, "repo_slug");
        assert!(e.message.len() < 200);
    }

    #[test]
    fn execute_quotes_no_long_caller_value() {
        let long = "k".repeat(1 << 20);
        let e = validation(Component::execute(long.clone(), "{}".into()));
        assert!(e.message.len() < 300, "{}", e.message);
        let params = format!(r#"{{"workspace":"acme","role":"{long}"}}"#);
        let e = validation(Component::execute("list-repositories".into(), params));
        assert_eq!(e.field, "role");
        assert!(e.message.len() < 500, "{}", e.message);
        let params = format!(r#"{{"workspace":"acme","{long}":1}}"#);
        let e = validation(Component::execute("list-repositories".into(), params));
        assert!(e.field.len() < 200, "{}", e.field);
    }

    #[test]
    fn every_rows_facts_are_consistent() {
        let mut wrong = Vec::new();
        for op in Component::operations() {
            let f = &op.facts;
            let name = op.name.as_str();
            let mut check = |ok: bool, rule: &str| {
                if !ok {
                    wrong.push(format!("{name}: {rule}"));
                }
            };
            check(!f.read_only || f.idempotent, "read-only is idempotent");
            check(
                !f.read_only || !f.destructive,
                "read-only is not destructive",
            );
            check(
                !(name.starts_with("create-") || name.starts_with("trigger-")) || !f.idempotent,
                "a create or a trigger is not idempotent",
            );
            check(
                !matches!(op.complexity, Complexity::Read | Complexity::Analyze) || f.read_only,
                "a read or an analysis is read-only",
            );
            check(
                !name.starts_with("delete-") || f.destructive,
                "a delete is destructive",
            );
            check(
                !f.read_only || !matches!(op.complexity, Complexity::Execute),
                "what changes nothing is not `execute`",
            );
            check(!op.title.is_empty(), "has a title");
            check(
                f.scopes
                    .iter()
                    .all(|s| crate::health::KNOWN_SCOPES.contains(&s.as_str())),
                "names only Bitbucket's scopes",
            );
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn titles_come_from_the_name() {
        assert_eq!(title("list_pull_requests"), "List pull requests");
        let ops = Component::operations();
        let health = ops.iter().find(|o| o.name == "health").unwrap();
        assert_eq!(health.title, "Health");
        let merge = ops.iter().find(|o| o.name == "merge-pull-request").unwrap();
        assert!(merge.facts.destructive && !merge.facts.read_only);
        assert_eq!(merge.facts.scopes, ["pullrequest:write"]);
    }
}
