//! Bitbucket's MCP prompts: the jobs people use such servers for, each
//! built on one read-only operation whose answer it carries.

use atom_mcp::PromptTemplate;
use serde_json::json;

fn argument(name: &str, description: &str) -> (String, String, bool) {
    (name.to_owned(), description.to_owned(), true)
}

fn repository() -> Vec<(String, String, bool)> {
    vec![
        argument("workspace", "The workspace slug, e.g. atom-labs"),
        argument("repo_slug", "The repository slug, e.g. bitbucket-plugin"),
    ]
}

pub fn prompts() -> Vec<PromptTemplate> {
    let mut pull_request = repository();
    pull_request.push(argument("id", "The pull request's number"));
    let mut pipeline = repository();
    pipeline.push(argument(
        "pipeline_uuid",
        "The pipeline run's uuid, braces included",
    ));
    vec![
        PromptTemplate {
            name: "review-pull-request".into(),
            title: "Review a pull request".into(),
            description: "Review a pull request from its review bundle: diffs within a budget, \
                          build statuses, open tasks and unresolved threads."
                .into(),
            arguments: pull_request,
            tool: "get-review-bundle".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "id": "{id}" }),
            instructions:
                "Review pull request #{id} of {workspace}/{repo_slug}. Its review bundle \
                           follows: the pull request, its diffstat, per-file diffs cut to a byte \
                           budget (`cuts` names every file cut or left out: read those with \
                           get-pull-request-diff and options.paths before judging them), the \
                           source head's build statuses, open tasks and unresolved comment \
                           threads. Point out bugs, risky or untested changes and unanswered \
                           threads, say whether a failed build blocks it, and end with a verdict: \
                           approve, request changes, or what you still need to read."
                    .into(),
        },
        PromptTemplate {
            name: "explain-failed-pipeline".into(),
            title: "Explain a failed pipeline".into(),
            description: "Explain why a pipeline run failed, from its steps and their logs.".into(),
            arguments: pipeline,
            tool: "list-pipeline-steps".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "pipeline_uuid": "{pipeline_uuid}" }),
            instructions:
                "Explain why pipeline {pipeline_uuid} of {workspace}/{repo_slug} failed. \
                           Its steps follow. Read the log of the first step that failed with \
                           get-step-log (ask for its last bytes with range_start and range_end \
                           rather than the whole log), find the first real error, and say what \
                           to change, and whether running it again could help (a flaky step, a \
                           timeout) or not."
                    .into(),
        },
        PromptTemplate {
            name: "summarise-open-work".into(),
            title: "Summarise a repository's open work".into(),
            description: "Summarise what is open in a repository: pull requests, their review \
                          state, and what to look at first."
                .into(),
            arguments: repository(),
            tool: "list-pull-requests".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "states": ["open"], "page": { "size": 50 } }),
            instructions: "Summarise the open work of {workspace}/{repo_slug}. Its open pull \
                           requests follow (more pages with page.cursor when next_cursor is \
                           set). Group them by what they wait for (review, changes, a build), \
                           name the oldest and the riskiest, and add what list-pipelines on the \
                           main branch and list-pull-requests-awaiting-review say if it helps."
                .into(),
        },
    ]
}
