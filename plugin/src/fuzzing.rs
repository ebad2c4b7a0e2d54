//! Native entry points for the fuzz targets in `fuzz/` and for the smoke
//! test that replays their corpora under `cargo test`. Each takes raw bytes
//! and must return without panicking, whatever they hold; outcomes are
//! dropped. Operations that read the host (credentials, OAuth state) stop
//! after their params are parsed: natively there is no host to call.

use std::cell::Cell;
use std::time::Duration;

use crate::catalog::{OPERATION_NAMES, execute_on};
use crate::config::Config;
use crate::endpoint::{Endpoint, Response, Upstream};
use crate::error::Error;
use crate::types::WebhookDelivery;

/// Operations whose function calls the host before or instead of Bitbucket.
const HOST_BOUND: [&str; 4] = ["health", "auth_start", "auth_complete", "auth_refresh"];

/// Answers a bounded number of requests with one canned upstream answer.
struct Canned<'a> {
    config: Config,
    status: u16,
    body: &'a [u8],
    headers: http::HeaderMap,
    sent: Cell<u32>,
}

/// More than any operation sends for one call, fewer than a fuzzer's patience.
const MAX_REQUESTS: u32 = 12;

impl<'a> Canned<'a> {
    fn new(status: u16, body: &'a [u8]) -> Self {
        let config = Config {
            // Merges are polled; a fuzzer must not sleep between polls.
            merge_poll_interval: Duration::ZERO,
            merge_poll_attempts: 3,
            retry_base: Duration::ZERO,
            ..Config::default()
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/json"),
        );
        Self {
            config,
            status,
            body,
            headers,
            sent: Cell::new(0),
        }
    }
}

impl Upstream for Canned<'_> {
    fn send(&self, _: &Endpoint) -> Result<Response, Error> {
        self.sent.set(self.sent.get() + 1);
        if self.sent.get() > MAX_REQUESTS {
            return Err(Error::internal("fuzzing: no more canned answers"));
        }
        if (200..300).contains(&self.status) {
            Ok(Response {
                status: self.status,
                headers: self.headers.clone(),
                body: self.body.to_vec(),
            })
        } else {
            Err(Error::from_upstream(self.status, self.body, Some(1)))
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn requests_sent(&self) -> u32 {
        self.sent.get()
    }
}

/// Every operation's Rust name (`list_repositories`).
pub fn operation_names() -> &'static [&'static str] {
    OPERATION_NAMES
}

/// Params every operation accepts, so upstream answers reach its parsing.
pub fn sample_params(operation: &str) -> &'static str {
    match operation {
        "auth_complete" => r#"{"code":"c0de","state":"st4te"}"#,
        "list_workspaces" => r#"{"page":{"size":10}}"#,
        "list_repositories" => r#"{"workspace":"acme","role":"member","page":{"size":10}}"#,
        "get_repository" => r#"{"workspace":"acme","repo_slug":"api-service-00"}"#,
        "list_branches" => r#"{"workspace":"acme","repo_slug":"api-service-00"}"#,
        "get_branch" | "delete_branch" | "get_tag" | "delete_tag" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","name":"feature/x"}"#
        }
        "create_branch" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","name":"feature/x","target":"main"}"#
        }
        "create_tag" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","name":"v1.0","target":"4f2c1ab","message":"m"}"#
        }
        "list_tags" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","page":{"q":"name ~ \"v\""}}"#
        }
        "list_projects" | "list_workspace_members" => r#"{"workspace":"acme","page":{"size":10}}"#,
        "create_repository" => {
            r#"{"workspace":"acme","repo_slug":"new-repo","is_private":true,"project_key":"PLAT","description":"d"}"#
        }
        "update_repository" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","description":"d","is_private":false}"#
        }
        "delete_repository" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","confirm_full_name":"acme/api-service-00"}"#
        }
        "list_downloads"
        | "list_repository_user_permissions"
        | "list_repository_group_permissions" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","page":{"size":10}}"#
        }
        "list_branch_restrictions" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","kind":"push","pattern":"main"}"#
        }
        "get_branch_restriction" => r#"{"workspace":"acme","repo_slug":"api-service-00","id":1}"#,
        "list_default_reviewers" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","effective":true}"#
        }
        "update_issue_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"comment_id":2,"content":"c"}"#
        }
        "delete_issue_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"comment_id":2}"#
        }
        "list_issue_comments" => r#"{"workspace":"acme","repo_slug":"api-service-00","id":1}"#,
        "create_issue_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"content":"c"}"#
        }
        "list_environments" => r#"{"workspace":"acme","repo_slug":"api-service-00"}"#,
        "get_environment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","environment_uuid":"{1}"}"#
        }
        "list_deployments" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","environment":"Staging"}"#
        }
        "get_deployment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","deployment_uuid":"{1}"}"#
        }
        "list_repository_variables" => r#"{"workspace":"acme","repo_slug":"api-service-00"}"#,
        "create_repository_variable" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","key":"K","value":"v","secured":true}"#
        }
        "update_repository_variable" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","variable_uuid":"{1}","value":"v"}"#
        }
        "delete_repository_variable" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","variable_uuid":"{1}"}"#
        }
        "get_project" => r#"{"workspace":"acme","key":"ATOM"}"#,
        "list_commits" => r#"{"workspace":"acme","repo_slug":"api-service-00","include":["main"]}"#,
        "get_commit" => r#"{"workspace":"acme","repo_slug":"api-service-00","commit":"abc123"}"#,
        "list_pull_requests" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","states":["open","merged"]}"#
        }
        "create_pull_request" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","title":"T","source_branch":"feature/x"}"#
        }
        "update_pull_request" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"title":"T2"}"#
        }
        "merge_pull_request" | "merge_pull_request_if_green" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"strategy":"squash"}"#
        }
        "get_pull_request"
        | "approve_pull_request"
        | "unapprove_pull_request"
        | "request_changes"
        | "remove_change_request"
        | "decline_pull_request"
        | "list_pull_request_comments" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1}"#
        }
        "create_pull_request_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"content":"LGTM"}"#
        }
        "list_pipelines" | "list_webhooks" | "list_issues" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00"}"#
        }
        "get_pipeline" | "stop_pipeline" | "list_pipeline_steps" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","pipeline_uuid":"{0f0e}"}"#
        }
        "get_step_log" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","pipeline_uuid":"{0f0e}","step_uuid":"{5}"}"#
        }
        "trigger_pipeline" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","branch":"main","variables":[{"key":"A","value":"1"}]}"#
        }
        "get_issue" => r#"{"workspace":"acme","repo_slug":"api-service-00","id":1}"#,
        "create_issue" => r#"{"workspace":"acme","repo_slug":"api-service-00","title":"Bug"}"#,
        "update_issue" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"state":"resolved"}"#
        }
        "search_code" => r#"{"workspace":"acme","query":"fn main"}"#,
        "create_webhook" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","url":"https://example.com/hook","events":["repo:push"]}"#
        }
        "delete_webhook" => r#"{"workspace":"acme","repo_slug":"api-service-00","uuid":"{1}"}"#,
        "verify_webhook_delivery" => r#"{"headers":[["X-Event-Key","repo:push"]],"body":"{}"}"#,
        "analytics_summary" => r#"{"workspace":"acme","pipeline_runs":5}"#,
        "delivery_insights" => {
            r#"{"workspace":"acme","weeks":4,"until":"2026-11-23T00:00:00Z","max_requests":40}"#
        }
        "get_file" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","revision":"main","path":"src/lib.rs"}"#
        }
        "commit_files" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","branch":"main","message":"m","files":[{"path":"docs/x.md","content":"x"}],"deletions":["old.md"]}"#
        }
        "list_directory" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","revision":"main","path":"src"}"#
        }
        "list_file_history" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","revision":"main","path":"README.md"}"#
        }
        "get_diff" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","spec":"feature/x..main","options":{"max_bytes":4096}}"#
        }
        "get_diffstat" | "get_patch" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","spec":"feature/x..main"}"#
        }
        "list_commit_statuses" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","commit":"abc123"}"#
        }
        "report_build_status" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","commit":"abc123","key":"ci","state":"in_progress","url":"https://ci.example/1"}"#
        }
        "list_pull_request_statuses"
        | "publish_pending_comments"
        | "list_pull_request_commits"
        | "list_pull_request_activity"
        | "get_pull_request_diff"
        | "get_pull_request_diffstat"
        | "get_pull_request_patch"
        | "list_pull_request_tasks"
        | "get_review_bundle" => r#"{"workspace":"acme","repo_slug":"api-service-00","id":1}"#,
        "update_pull_request_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"comment_id":2,"content":"Edited"}"#
        }
        "delete_pull_request_comment"
        | "resolve_pull_request_comment"
        | "reopen_pull_request_comment" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"comment_id":2}"#
        }
        "list_pull_requests_awaiting_review" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","include_reviewed":true}"#
        }
        "create_pull_request_task" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"content":"Add a test"}"#
        }
        "update_pull_request_task" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"task_id":3,"state":"resolved"}"#
        }
        "delete_pull_request_task" => {
            r#"{"workspace":"acme","repo_slug":"api-service-00","id":1,"task_id":3}"#
        }
        _ => "{}",
    }
}

/// The operation a fuzz input names, or one picked from its bytes.
fn pick_operation(name: &[u8]) -> &'static str {
    let name = String::from_utf8_lossy(name);
    let name = name.trim();
    OPERATION_NAMES
        .iter()
        .copied()
        .find(|known| *known == name)
        .unwrap_or_else(|| {
            let sum = name
                .bytes()
                .fold(0usize, |sum, b| sum.wrapping_add(b.into()));
            OPERATION_NAMES[sum % OPERATION_NAMES.len()]
        })
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[]),
    }
}

/// Target `upstream_answer`: `"<operation> <status>\n<body>"`. The body is
/// mapped as an error answer, and given as the answer to every request the
/// operation sends with its sample params.
pub fn upstream_answer(data: &[u8]) {
    let (header, body) = split_line(data);
    let header = String::from_utf8_lossy(header);
    let mut words = header.split_whitespace();
    let operation = pick_operation(words.next().unwrap_or_default().as_bytes());
    let status = words.next().and_then(|s| s.parse().ok()).unwrap_or(200u16);
    let retry_after = words.next().and_then(|s| s.parse().ok());
    let error = Error::from_upstream(status, body, retry_after);
    let _ = (error.code(), error.message(), error.retryable());
    let cursor = String::from_utf8_lossy(body);
    for listing in [
        crate::page::Listing::new("repositories", &["role"]),
        crate::page::Listing::new("commits", &["include", "exclude", "path"]),
    ] {
        let _ = crate::page::decode_cursor(&cursor, listing);
    }
    if HOST_BOUND.contains(&operation) {
        return;
    }
    let _ = execute_on(operation, sample_params(operation), || {
        Ok(Canned::new(status, body))
    });
}

/// Target `webhook`: header lines `Name: value`, a blank line, the body.
/// Two pseudo-headers steer it: `x-fuzz-secret` is the webhook's secret, and
/// `x-fuzz-sign` adds the body's correct signature under that secret so the
/// parser behind the check is reached too.
pub fn webhook(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut headers = Vec::new();
    let mut secret = None;
    let mut sign = false;
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "x-fuzz-secret" => secret = Some(value.trim().to_owned()),
            "x-fuzz-sign" => sign = true,
            _ => headers.push((name.to_owned(), value.to_owned())),
        }
    }
    if let (true, Some(secret)) = (sign, secret.as_deref()) {
        headers.push((
            "X-Hub-Signature".to_owned(),
            signature(secret, body.as_bytes()),
        ));
    }
    let delivery = WebhookDelivery {
        headers,
        body: body.to_owned(),
        secret,
    };
    let _ = crate::webhooks::verify(&Canned::new(500, b""), delivery);
}

fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Target `execute_params`: `"<operation>\n<params JSON>"`, run as
/// `execute` runs it; every request it then sends is refused with a 503.
pub fn execute_params(data: &[u8]) {
    let (name, params) = split_line(data);
    let operation = pick_operation(name);
    let params = String::from_utf8_lossy(params);
    if HOST_BOUND.contains(&operation) {
        let _ = execute_on(operation, &params, || {
            Err::<Canned, _>(Error::internal("fuzzing: no host"))
        });
        return;
    }
    let _ = execute_on(operation, &params, || Ok(Canned::new(503, b"")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_sample_params_it_accepts() {
        for operation in OPERATION_NAMES {
            let refused = execute_on(operation, sample_params(operation), || {
                Err::<Canned, _>(Error::internal("stop after parsing"))
            });
            match refused {
                Err(Error::Internal(_)) => {}
                // Operations without an upstream answer from their params alone.
                Ok(_) if *operation == "verify_webhook_delivery" => {}
                other => panic!(
                    "{operation}: {:?}",
                    other.err().map(|e| e.message().to_owned())
                ),
            }
        }
    }

    #[test]
    fn a_seed_answer_reaches_the_operations_parsing() {
        let seed = include_bytes!("../../fuzz/corpus/upstream_answer/01-get_repository");
        let (_, body) = split_line(seed);
        let answer = execute_on("get_repository", sample_params("get_repository"), || {
            Ok(Canned::new(200, body))
        });
        assert!(answer.unwrap().contains("bitbucket-plugin"));
    }
}
