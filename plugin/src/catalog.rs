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
    analytics, auth, branches, commits, health, issues, pipelines, pullrequests, repositories,
    search, users, webhooks, workspaces,
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

macro_rules! operations {
    ($(
        $interface:ident {
            $(
                $complexity:ident $name:ident ( $($request:ty)? ) -> $result:ty = $function:path, $description:literal;
            )*
        }
    )*) => {
        $(
            interface_exports!($interface { $( $name ( $($request)? ) -> $result = $function; )* });
        )*

        /// Every operation with its description and schemas, in table order.
        pub(crate) fn operation_list() -> Vec<Operation> {
            vec![$($(
                Operation {
                    name: operation_name(stringify!($name)),
                    description: $description.to_owned(),
                    complexity: Complexity::$complexity,
                    parameters_schema: include_str!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/schemas/", stringify!($name), ".parameters.json"
                    )).to_owned(),
                    result_schema: include_str!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/schemas/", stringify!($name), ".result.json"
                    )).to_owned(),
                },
            )*)*]
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

operations! {
    integration {
        Read health() -> HealthReport = health::check,
            "Whether Bitbucket is reachable with this connection's credential, which kind it is and what it can do.";
    }

    auth {
        Critical auth_start() -> AuthStartResult = auth::start,
            "Start an OAuth 2.0 login: the Bitbucket authorize URL and the state the callback must return.";
        Critical auth_complete(AuthCompleteRequest) -> AuthStatus = auth::complete,
            "Finish an OAuth 2.0 login: check the state, exchange the code and store the tokens.";
        Critical auth_refresh() -> AuthStatus = auth::refresh,
            "Exchange the stored refresh token for new tokens now.";
    }

    users {
        Read get_current_user() -> Account = users::current,
            "The Bitbucket account the credential acts as.";
    }

    workspaces {
        Read list_workspaces(ListWorkspacesRequest) -> WorkspacePage = workspaces::list,
            "Workspaces the current user can access (GET /user/workspaces).";
    }

    repositories {
        Read list_repositories(ListRepositoriesRequest) -> RepositoryPage = repositories::list,
            "Repositories of a workspace, filtered with BBQL `page.q` and sorted with `page.sort`.";
        Read get_repository(RepoRef) -> Repository = repositories::get,
            "One repository by workspace and slug.";
    }

    branches {
        Read list_branches(ListBranchesRequest) -> BranchPage = branches::list,
            "Branches of a repository, filtered with BBQL and sorted.";
        Read get_branch(BranchRef) -> Branch = branches::get,
            "One branch by name (names may contain `/`).";
    }

    commits {
        Read list_commits(ListCommitsRequest) -> CommitPage = commits::list,
            "Commits reachable from `include` and not from `exclude`, optionally touching `path`, newest first.";
        Read get_commit(CommitRef) -> Commit = commits::get,
            "One commit by hash.";
    }

    pullrequests {
        Read list_pull_requests(ListPullRequestsRequest) -> PullRequestPage = pullrequests::list,
            "Pull requests of a repository in one or several states.";
        Read get_pull_request(PullRequestRef) -> PullRequest = pullrequests::get,
            "One pull request with its participants and approvals.";
        Execute create_pull_request(CreatePullRequestRequest) -> PullRequest = pullrequests::create,
            "Open a pull request from a source branch (never retried automatically).";
        Execute update_pull_request(UpdatePullRequestRequest) -> PullRequest = pullrequests::update,
            "Change a pull request's title, description, destination, reviewers or draft flag.";
        Execute approve_pull_request(PullRequestRef) -> Participant = pullrequests::approve,
            "Approve a pull request as the current user.";
        Execute unapprove_pull_request(PullRequestRef) -> PullRequest = pullrequests::unapprove,
            "Withdraw the current user's approval.";
        Execute request_changes(PullRequestRef) -> Participant = pullrequests::request_changes,
            "Request changes on a pull request as the current user.";
        Execute remove_change_request(PullRequestRef) -> PullRequest = pullrequests::remove_change_request,
            "Withdraw the current user's change request.";
        Critical decline_pull_request(PullRequestRef) -> PullRequest = pullrequests::decline,
            "Decline a pull request.";
        Critical merge_pull_request(MergePullRequestRequest) -> PullRequest = pullrequests::merge,
            "Merge a pull request with a strategy, waiting for Bitbucket's asynchronous merge.";
        Read list_pull_request_comments(ListPullRequestCommentsRequest) -> PullRequestCommentPage = pullrequests::list_comments,
            "Comments on a pull request, oldest first.";
        Execute create_pull_request_comment(CreatePullRequestCommentRequest) -> PullRequestComment = pullrequests::create_comment,
            "Comment on a pull request: plain, as a reply, or inline on a file and line.";
    }

    pipelines {
        Read list_pipelines(ListPipelinesRequest) -> PipelinePage = pipelines::list,
            "Pipeline runs of a repository, filtered by status, branch and trigger.";
        Read get_pipeline(PipelineRef) -> Pipeline = pipelines::get,
            "One pipeline run with its status, result, duration and trigger.";
        Read list_pipeline_steps(ListPipelineStepsRequest) -> PipelineStepPage = pipelines::steps,
            "Steps of a pipeline run with their status and duration.";
        Read get_step_log(StepLogRequest) -> StepLog = pipelines::log,
            "A step's log, whole or a byte range.";
        Execute trigger_pipeline(TriggerPipelineRequest) -> Pipeline = pipelines::trigger,
            "Run a pipeline on a branch, a commit or a custom selector, with variables (never retried automatically).";
        Execute stop_pipeline(PipelineRef) -> Pipeline = pipelines::stop,
            "Stop a running pipeline.";
    }

    issues {
        Read list_issues(ListIssuesRequest) -> IssuePage = issues::list,
            "Issues of a repository by state, kind and priority (Bitbucket Issues is deprecated upstream).";
        Read get_issue(IssueRef) -> Issue = issues::get,
            "One issue.";
        Execute create_issue(CreateIssueRequest) -> Issue = issues::create,
            "File an issue (never retried automatically).";
        Execute update_issue(UpdateIssueRequest) -> Issue = issues::update,
            "Change an issue's fields or state.";
    }

    search {
        Read search_code(SearchCodeRequest) -> CodeSearchPage = search::search,
            "Search code in a workspace with Bitbucket's search syntax.";
    }

    webhooks {
        Read list_webhooks(ListWebhooksRequest) -> WebhookPage = webhooks::list,
            "Webhooks of a repository or of a workspace.";
        Critical create_webhook(CreateWebhookRequest) -> Webhook = webhooks::create,
            "Subscribe a URL to events, optionally signed with a secret.";
        Critical delete_webhook(WebhookRef) -> WebhookRef = webhooks::delete,
            "Delete a webhook.";
        Read verify_webhook_delivery(WebhookDelivery) -> WebhookEvent = webhooks::verify,
            "Verify a delivery's signature and parse it into a typed event (no upstream request).";
    }

    analytics {
        Analyze analytics_summary(AnalyticsSummaryRequest) -> WorkspaceAnalytics = analytics::summary,
            "Repository, pull request, pipeline and issue figures of a workspace.";
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
}
