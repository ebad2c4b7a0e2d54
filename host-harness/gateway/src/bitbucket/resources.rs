//! Bitbucket's MCP resources: what agents read, by URI. Each family runs
//! one read-only operation, and a verified webhook delivery tells the
//! sessions subscribed to what it changed.

use atom_mcp::{ResourceTemplate, Subscribed, Subscriptions};
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};

use super::webhooks::Delivered;

pub fn resources() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}".into(),
            name: "repository".into(),
            title: "A repository".into(),
            description: "A repository (get-repository). Subscribed, it is updated by every \
                          event of the repository: pushes, pull requests, pipelines, statuses."
                .into(),
            tool: "get-repository".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}" }),
        },
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/pull-requests/{id}".into(),
            name: "pull-request".into(),
            title: "A pull request".into(),
            description: "A pull request with its participants and approvals (get-pull-request). \
                          Subscribed, it is updated by its events: comments, approvals, \
                          updates, merges."
                .into(),
            tool: "get-pull-request".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "id": "{id}" }),
        },
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/src/{revision}/{+path}".into(),
            name: "file".into(),
            title: "A file at a branch, tag or commit".into(),
            description: "A file's content at a revision, cut to 64 KiB and saying so; a binary \
                          file is named, not dumped (get-file). Subscribed at a branch, it is \
                          updated by a push to that branch."
                .into(),
            tool: "get-file".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "revision": "{revision}", "path": "{path}" }),
        },
        ResourceTemplate {
            uri_template: "bitbucket://{workspace}/{repo_slug}/pipelines/{pipeline_uuid}".into(),
            name: "pipeline".into(),
            title: "A pipeline run".into(),
            description: "A pipeline run and its state (get-pipeline); braces in the uuid \
                          percent-encoded. Subscribed, it is updated by its pipeline events."
                .into(),
            tool: "get-pipeline".into(),
            params: json!({ "workspace": "{workspace}", "repo_slug": "{repo_slug}", "pipeline_uuid": "{pipeline_uuid}" }),
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

/// Wakes the MCP sessions subscribed to what each accepted delivery changed,
/// for as long as the intake runs.
pub async fn wake(subscriptions: Subscriptions, mut events: broadcast::Receiver<Delivered>) {
    loop {
        match events.recv().await {
            Ok(delivered) => {
                subscriptions
                    .notify(&delivered.tenant, |resource| {
                        changes(&delivered.event, resource)
                    })
                    .await;
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::warn!(
                    skipped,
                    "MCP subscriptions fell behind the webhook intake; events skipped"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Whether a verified event (the `verify-webhook-delivery` answer) changes
/// a subscribed resource. Only the event's own repository is touched; in it,
/// the repository itself by any event, a pull request by its events, a
/// pipeline and its steps' logs by that pipeline's, a file at a branch by a
/// push to the branch.
pub fn changes(event: &Value, resource: &Subscribed<'_>) -> bool {
    // A URI's parts are params for the tool: a number-like one (an id, a
    // numeric slug) is a JSON number there.
    let param = |name: &str| match &resource.params[name] {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    };
    let Some((workspace, slug)) = event["repository"].as_str().and_then(|r| r.split_once('/'))
    else {
        return false;
    };
    // Slugs and workspace ids are case-insensitive in Bitbucket's URLs.
    if !param("workspace").eq_ignore_ascii_case(workspace)
        || !param("repo_slug").eq_ignore_ascii_case(slug)
    {
        return false;
    }
    match resource.template {
        "repository" => true,
        "pull-request" => event["pull_request"]["id"]
            .as_u64()
            .is_some_and(|id| param("id") == id.to_string()),
        "pipeline" | "step-log" => event["pipeline"]["uuid"]
            .as_str()
            .is_some_and(|uuid| same_uuid(uuid, &param("pipeline_uuid"))),
        "file" => event["push_changes"].as_array().is_some_and(|changes| {
            changes
                .iter()
                .any(|change| change["ref_name"].as_str() == Some(param("revision").as_str()))
        }),
        _ => false,
    }
}

/// Bitbucket writes uuids in braces; a URI may carry them with or without.
fn same_uuid(a: &str, b: &str) -> bool {
    let bare = |uuid: &str| {
        uuid.trim_start_matches('{')
            .trim_end_matches('}')
            .to_ascii_lowercase()
    };
    !a.is_empty() && bare(a) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribed(template: &str, params: Value) -> bool {
        let event = json!({
            "event_key": "pullrequest:comment_created",
            "repository": "atom-labs/bitbucket-plugin",
            "pull_request": { "id": 4 },
            "pipeline": { "uuid": "{0F0E-AB}" },
            "push_changes": [{ "ref_name": "main" }],
        });
        changes(
            &event,
            &Subscribed {
                template,
                params: &params,
            },
        )
    }

    #[test]
    fn an_event_changes_only_what_it_is_about_in_its_repository() {
        let repo = json!({ "workspace": "atom-labs", "repo_slug": "bitbucket-plugin" });
        let with = |extra: Value| {
            let mut params = repo.clone();
            params
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            params
        };
        assert!(subscribed("repository", repo.clone()));
        assert!(subscribed(
            "repository",
            json!({ "workspace": "Atom-Labs", "repo_slug": "bitbucket-plugin" })
        ));
        assert!(!subscribed(
            "repository",
            json!({ "workspace": "atom-labs", "repo_slug": "other" })
        ));
        // As the URI's parts are filled in: a number-like part is a number.
        assert!(subscribed("pull-request", with(json!({ "id": 4 }))));
        assert!(!subscribed("pull-request", with(json!({ "id": 41 }))));
        assert!(subscribed(
            "pipeline",
            with(json!({ "pipeline_uuid": "0f0e-ab" }))
        ));
        assert!(subscribed(
            "step-log",
            with(json!({ "pipeline_uuid": "{0F0E-AB}", "step_uuid": "{1}" }))
        ));
        assert!(!subscribed(
            "pipeline",
            with(json!({ "pipeline_uuid": "{0F0E-AC}" }))
        ));
        assert!(subscribed(
            "file",
            with(json!({ "revision": "main", "path": "README.md" }))
        ));
        assert!(!subscribed(
            "file",
            with(json!({ "revision": "develop", "path": "README.md" }))
        ));
        assert!(!subscribed("unknown", repo));
    }
}
