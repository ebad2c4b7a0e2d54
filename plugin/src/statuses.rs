//! Build statuses: `R/commit/{commit}/statuses`,
//! `R/pullrequests/{id}/statuses` and `POST R/commit/{commit}/statuses/build`.

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{optional, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{
    BuildState, BuildStatus, BuildStatusPage, ListCommitStatusesRequest,
    ListPullRequestStatusesRequest, ReportBuildStatusRequest,
};

pub const COMMIT_STATUSES: Listing = Listing::new("commit-statuses", &["refname"]);
pub const PULL_REQUEST_STATUSES: Listing = Listing::new("pullrequest-statuses", &[]);

/// `commitstatus`
#[derive(Deserialize)]
pub struct ApiStatus {
    key: Option<String>,
    state: Option<String>,
    name: Option<String>,
    description: Option<String>,
    url: Option<String>,
    refname: Option<String>,
    commit: Option<crate::model::Hashed>,
    links: Option<StatusLinks>,
    created_on: Option<String>,
    updated_on: Option<String>,
}

#[derive(Deserialize)]
struct StatusLinks {
    commit: Option<crate::model::Href>,
}

impl ApiStatus {
    pub fn into_status(self) -> BuildStatus {
        // The spec's status names its commit only by link (`…/commit/{hash}`).
        let commit = self.commit.and_then(|c| c.hash).or_else(|| {
            let href = self.links?.commit?.href?;
            let hash = href
                .split(['?', '#'])
                .next()?
                .trim_end_matches('/')
                .rsplit('/')
                .next()?;
            (!hash.is_empty()).then(|| hash.to_owned())
        });
        BuildStatus {
            key: self.key.unwrap_or_default(),
            state: state_from_api(self.state.as_deref()),
            name: self.name.filter(|n| !n.is_empty()),
            description: self.description.filter(|d| !d.is_empty()),
            url: self.url.unwrap_or_default(),
            refname: self.refname.filter(|r| !r.is_empty()),
            commit,
            created_on: self.created_on,
            updated_on: self.updated_on,
        }
    }
}

fn state_from_api(state: Option<&str>) -> BuildState {
    match state {
        Some("SUCCESSFUL") => BuildState::Successful,
        Some("FAILED") => BuildState::Failed,
        Some("STOPPED") => BuildState::Stopped,
        _ => BuildState::InProgress,
    }
}

fn state_to_api(state: BuildState) -> &'static str {
    match state {
        BuildState::InProgress => "INPROGRESS",
        BuildState::Successful => "SUCCESSFUL",
        BuildState::Failed => "FAILED",
        BuildState::Stopped => "STOPPED",
    }
}

/// `R/commit/{commit}/statuses`
pub fn commit_statuses_path(
    workspace: &str,
    repo_slug: &str,
    commit: &str,
) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?
        .literal("commit")
        .param("commit", commit)?
        .literal("statuses"))
}

pub fn list_for_commit(
    upstream: &dyn Upstream,
    request: ListCommitStatusesRequest,
) -> Result<BuildStatusPage, Error> {
    let path = commit_statuses_path(&request.workspace, &request.repo_slug, &request.commit)?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        COMMIT_STATUSES,
        ApiStatus::into_status,
    )?;
    Ok(BuildStatusPage { items, next_cursor })
}

pub fn list_for_pull_request(
    upstream: &dyn Upstream,
    request: ListPullRequestStatusesRequest,
) -> Result<BuildStatusPage, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?
        .literal("pullrequests")
        .param("id", &request.id.to_string())?
        .literal("statuses");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        PULL_REQUEST_STATUSES,
        ApiStatus::into_status,
    )?;
    Ok(BuildStatusPage { items, next_cursor })
}

#[derive(Serialize)]
struct StatusBody<'a> {
    key: &'a str,
    state: &'static str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refname: Option<&'a str>,
}

/// Reports a status. It is keyed (commit + key), so a second report with
/// the same key updates the first: the POST is idempotent in effect, but
/// like every POST it is never retried by the transport.
pub fn report(
    upstream: &dyn Upstream,
    request: ReportBuildStatusRequest,
) -> Result<BuildStatus, Error> {
    let body = StatusBody {
        key: required("key", &request.key)?,
        state: state_to_api(request.state),
        url: required("url", &request.url)?,
        name: optional("name", request.name.as_deref())?,
        description: request
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty()),
        refname: optional("refname", request.refname.as_deref())?,
    };
    let path = commit_statuses_path(&request.workspace, &request.repo_slug, &request.commit)?
        .literal("build");
    let status: ApiStatus = upstream.json(&Endpoint::post(path).json(&body)?)?;
    Ok(status.into_status())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    #[test]
    fn report_sends_bitbuckets_state_names_and_reads_the_commit_from_its_link() {
        let script = Script::new().ok(json!({
            "type": "build", "key": "ci-unit", "state": "INPROGRESS", "url": "https://ci/1",
            "links": {"commit": {"href": "https://api.bitbucket.org/2.0/repositories/acme/api/commit/abc123"}}
        }));
        let status = report(
            &script,
            ReportBuildStatusRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                commit: "abc123".into(),
                key: "ci-unit".into(),
                state: BuildState::InProgress,
                url: "https://ci/1".into(),
                name: Some("Unit tests".into()),
                description: None,
                refname: Some("main".into()),
            },
        )
        .unwrap();
        assert_eq!(status.state, BuildState::InProgress);
        assert_eq!(status.commit.as_deref(), Some("abc123"));
        let sent = script.sent.borrow();
        assert_eq!(sent[0].method, http::Method::POST);
        assert_eq!(
            sent[0].path.as_str(),
            "/repositories/acme/api/commit/abc123/statuses/build"
        );
        assert_eq!(
            script.body(0),
            json!({"key": "ci-unit", "state": "INPROGRESS", "url": "https://ci/1", "name": "Unit tests", "refname": "main"})
        );
    }

    #[test]
    fn listings_page_statuses() {
        let script = Script::new()
            .ok(json!({"values": [{"key": "k", "state": "FAILED", "url": "u"}], "pagelen": 50}))
            .ok(json!({"values": [{"key": "k", "state": "SUCCESSFUL", "url": "u"}]}));
        let page = list_for_commit(
            &script,
            ListCommitStatusesRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                commit: "abc".into(),
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].state, BuildState::Failed);
        let page = list_for_pull_request(
            &script,
            ListPullRequestStatusesRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items[0].state, BuildState::Successful);
        assert_eq!(
            script.sent.borrow()[1].path.as_str(),
            "/repositories/acme/api/pullrequests/4/statuses"
        );
    }
}
