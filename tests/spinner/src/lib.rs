//! A misbehaving component for the host's isolation tests. It exports the
//! same `guest` world as the Bitbucket component, so the host loads it the
//! same way, but `execute("spin", …)` never returns: only the host's epoch
//! deadline can stop it. `execute("echo", …)` answers promptly, to show the
//! host still serves other calls.

// Generated glue is the only unsafe code in the crate.
#[allow(unsafe_code, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "guest",
    });

    // Exported symbols are named like `atom:integration/…#execute`, which a
    // native linker refuses; natively the crate is only type-checked.
    #[cfg(target_arch = "wasm32")]
    use crate::Spinner;
    #[cfg(target_arch = "wasm32")]
    export!(Spinner);
}

use bindings::exports::atom::integration::integration::*;

/// The component the bindings export.
pub struct Spinner;

/// Answers of every typed export except `health`: the tests drive the
/// spinner through `execute` alone.
fn only_execute<T>() -> Result<T, Error> {
    Err(Error::Internal(ErrorInfo {
        message: "the spinner implements only execute".to_owned(),
        retryable: false,
        status: None,
    }))
}

/// Burns CPU until the host interrupts it. `black_box` hides the state from
/// the optimiser, so the loop cannot be folded away.
fn spin() -> ! {
    let mut state = 0u64;
    loop {
        state = std::hint::black_box(
            state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1),
        );
    }
}

fn operation(name: &str, description: &str) -> Operation {
    Operation {
        name: name.to_owned(),
        description: description.to_owned(),
        complexity: Complexity::Read,
        parameters_schema: r#"{"type":"object"}"#.to_owned(),
        result_schema: r#"{"type":"object"}"#.to_owned(),
    }
}

/// The typed exports the spinner refuses, one line each.
macro_rules! refused {
    ($($name:ident($($request:ty)?) -> $result:ty;)*) => {
        $(
            fn $name($(_: $request)?) -> Result<$result, Error> {
                only_execute()
            }
        )*
    };
}

impl Guest for Spinner {
    fn capabilities() -> IntegrationInfo {
        IntegrationInfo {
            name: "spinner".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Test component: spins forever or echoes its params.".to_owned(),
            auth_kinds: Vec::new(),
            allowed_hosts: Vec::new(),
            rate_limits: Vec::new(),
            supports_webhooks: false,
            webhook_events: Vec::new(),
        }
    }

    fn operations() -> Vec<Operation> {
        vec![
            operation("spin", "Loops forever; only the host's deadline stops it."),
            operation("echo", "Answers its params unchanged."),
        ]
    }

    fn execute(operation: String, params_json: String) -> Result<String, Error> {
        match operation.as_str() {
            "spin" => spin(),
            "echo" => Ok(params_json),
            _ => Err(Error::Validation(ValidationError {
                field: "operation".to_owned(),
                message: format!("unknown operation '{operation}'; operations() lists them"),
                retryable: false,
            })),
        }
    }

    // Healthy without a credential, so the host's readiness checks pass.
    fn health() -> Result<HealthReport, Error> {
        Ok(HealthReport {
            status: HealthStatus::Ok,
            message: "the spinner needs no upstream".to_owned(),
            credential_kind: None,
            account: None,
            scopes: Vec::new(),
            can: Vec::new(),
            expires_at: None,
            api_base_url: String::new(),
        })
    }

    refused! {
        auth_start() -> AuthStartResult;
        auth_complete(AuthCompleteRequest) -> AuthStatus;
        auth_refresh() -> AuthStatus;
        get_current_user() -> Account;
        list_workspaces(ListWorkspacesRequest) -> WorkspacePage;
        list_repositories(ListRepositoriesRequest) -> RepositoryPage;
        get_repository(RepoRef) -> Repository;
        list_branches(ListBranchesRequest) -> BranchPage;
        get_branch(BranchRef) -> Branch;
        list_commits(ListCommitsRequest) -> CommitPage;
        get_commit(CommitRef) -> Commit;
        list_pull_requests(ListPullRequestsRequest) -> PullRequestPage;
        get_pull_request(PullRequestRef) -> PullRequest;
        create_pull_request(CreatePullRequestRequest) -> PullRequest;
        update_pull_request(UpdatePullRequestRequest) -> PullRequest;
        approve_pull_request(PullRequestRef) -> Participant;
        unapprove_pull_request(PullRequestRef) -> PullRequest;
        request_changes(PullRequestRef) -> Participant;
        remove_change_request(PullRequestRef) -> PullRequest;
        decline_pull_request(PullRequestRef) -> PullRequest;
        merge_pull_request(MergePullRequestRequest) -> PullRequest;
        list_pull_request_comments(ListPullRequestCommentsRequest) -> PullRequestCommentPage;
        create_pull_request_comment(CreatePullRequestCommentRequest) -> PullRequestComment;
        list_pipelines(ListPipelinesRequest) -> PipelinePage;
        get_pipeline(PipelineRef) -> Pipeline;
        list_pipeline_steps(ListPipelineStepsRequest) -> PipelineStepPage;
        get_step_log(StepLogRequest) -> StepLog;
        trigger_pipeline(TriggerPipelineRequest) -> Pipeline;
        stop_pipeline(PipelineRef) -> Pipeline;
        list_issues(ListIssuesRequest) -> IssuePage;
        get_issue(IssueRef) -> Issue;
        create_issue(CreateIssueRequest) -> Issue;
        update_issue(UpdateIssueRequest) -> Issue;
        search_code(SearchCodeRequest) -> CodeSearchPage;
        list_webhooks(ListWebhooksRequest) -> WebhookPage;
        create_webhook(CreateWebhookRequest) -> Webhook;
        delete_webhook(WebhookRef) -> WebhookRef;
        verify_webhook_delivery(WebhookDelivery) -> WebhookEvent;
        analytics_summary(AnalyticsSummaryRequest) -> WorkspaceAnalytics;
    }
}
