//! Bitbucket's MCP resources: what agents read, by URI. Each family runs
//! one read-only operation.

use atom_mcp::ResourceTemplate;
use serde_json::json;

pub fn resources() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/pull-requests/{id}".into(),
            name: "pull-request".into(),
            title: "A pull request".into(),
            description: "A pull request with its participants and approvals (get-pull-request)."
                .into(),
            tool: "get-pull-request".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "id": "{id}" }),
        },
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/src/{revision}/{+path}".into(),
            name: "file".into(),
            title: "A file at a branch, tag or commit".into(),
            description: "A file's content at a revision, cut to 64 KiB and saying so; a binary \
                          file is named, not dumped (get-file)."
                .into(),
            tool: "get-file".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "revision": "{revision}", "path": "{path}" }),
        },
        ResourceTemplate {
            uri_template:
                "bitbucket://{workspace}/{repo_slug}/pipelines/{pipeline_uuid}/steps/{step_uuid}/log"
                    .into(),
            name: "step-log".into(),
            title: "A pipeline step's log".into(),
            description: "A pipeline step's log (get-step-log); braces in the uuids percent-encoded."
                .into(),
            tool: "get-step-log".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "pipeline_uuid": "{pipeline_uuid}", "step_uuid": "{step_uuid}" }),
        },
    ]
}
