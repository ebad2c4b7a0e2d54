//! Deployment environments and deployments, read only:
//! `R/environments[/{environment_uuid}]`, `R/deployments[/{deployment_uuid}]`.
//!
//! The spec declares no query parameter on either listing (no `q`, no
//! `sort`, no environment filter), so only `page`/`pagelen` are sent; the
//! `environment` filter of `list-deployments` is applied here, page by page.
//! A deployment names its environment by uuid only, so its name comes from
//! one listing of the repository's environments.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, ApiCommit, Named, optional};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::pipelines::braced;
use crate::types::{
    Deployment, DeploymentPage, DeploymentRef, DeploymentRelease, Environment, EnvironmentPage,
    EnvironmentRef, ListDeploymentsRequest, ListEnvironmentsRequest, PageRequest,
};

/// Neither listing takes `q` or `sort` (the spec names no query parameter).
const ENVIRONMENTS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("environments", &[])
};
const DEPLOYMENTS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("deployments", &[])
};

/// Pages of environments read to name deployments' environments: 500
/// environments, far more than a repository has.
const ENVIRONMENT_PAGES: u32 = 5;

#[derive(Deserialize)]
struct ApiEnvironmentType {
    name: Option<String>,
    rank: Option<u32>,
}

#[derive(Deserialize)]
struct ApiEnvironment {
    uuid: Option<String>,
    name: Option<String>,
    slug: Option<String>,
    environment_type: Option<ApiEnvironmentType>,
    rank: Option<u32>,
    hidden: Option<bool>,
    lock: Option<Named>,
}

impl ApiEnvironment {
    fn into_environment(self) -> Environment {
        let (kind, kind_rank) = match self.environment_type {
            Some(t) => (t.name, t.rank),
            None => (None, None),
        };
        Environment {
            uuid: self.uuid.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            slug: self.slug,
            environment_type: kind,
            rank: self.rank.or(kind_rank),
            hidden: self.hidden,
            lock: self.lock.and_then(|l| l.name),
        }
    }
}

#[derive(Deserialize)]
struct ApiState {
    name: Option<String>,
    status: Option<Named>,
    deployer: Option<ApiAccount>,
    start_date: Option<String>,
    completion_date: Option<String>,
}

#[derive(Deserialize)]
struct ApiUuid {
    uuid: Option<String>,
}

#[derive(Deserialize)]
struct ApiRelease {
    uuid: Option<String>,
    name: Option<String>,
    url: Option<String>,
    commit: Option<ApiCommit>,
    created_on: Option<String>,
    /// Not in the spec: the run that made the release, as live answers it.
    pipeline: Option<ApiUuid>,
}

impl ApiRelease {
    fn into_release(self) -> DeploymentRelease {
        let build_number = build_number(self.name.as_deref(), self.url.as_deref());
        DeploymentRelease {
            uuid: self.uuid,
            name: self.name,
            commit_hash: self.commit.and_then(|c| c.hash),
            pipeline_uuid: self.pipeline.and_then(|p| p.uuid),
            build_number,
            created_on: self.created_on,
            web_url: self.url,
        }
    }
}

/// The run's build number: the release's name (`12` or `#12`), else the
/// last segment of its link (`…/pipelines/results/12`).
fn build_number(name: Option<&str>, url: Option<&str>) -> Option<u64> {
    let from_name = name.and_then(|n| n.trim().trim_start_matches('#').parse().ok());
    from_name.or_else(|| {
        let url = url?.split(['?', '#']).next()?;
        let url = url.trim_end_matches('/');
        url.contains("/results/")
            .then(|| url.rsplit('/').next()?.parse().ok())
            .flatten()
    })
}

#[derive(Deserialize)]
struct ApiDeployment {
    uuid: Option<String>,
    state: Option<ApiState>,
    environment: Option<ApiUuid>,
    release: Option<ApiRelease>,
}

impl ApiDeployment {
    fn into_deployment(self, environments: &[Environment]) -> Deployment {
        let environment_uuid = self.environment.and_then(|e| e.uuid).unwrap_or_default();
        let environment_name = environments
            .iter()
            .find(|e| e.uuid == environment_uuid)
            .map(|e| e.name.clone());
        let state = self.state;
        let (state_name, status_name, deployer, started_on, completed_on) = match state {
            Some(s) => (
                s.name.unwrap_or_default(),
                s.status.and_then(|s| s.name),
                s.deployer.map(ApiAccount::into_ref),
                s.start_date,
                s.completion_date,
            ),
            None => (String::new(), None, None, None, None),
        };
        Deployment {
            uuid: self.uuid.unwrap_or_default(),
            state_name,
            status_name,
            environment_uuid,
            environment_name,
            release: self.release.map(ApiRelease::into_release),
            deployer,
            started_on,
            completed_on,
        }
    }
}

fn environments_path(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("environments"))
}

fn deployments_path(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("deployments"))
}

pub fn list_environments(
    upstream: &dyn Upstream,
    request: ListEnvironmentsRequest,
) -> Result<EnvironmentPage, Error> {
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(environments_path(&request.workspace, &request.repo_slug)?),
        request.page.as_ref(),
        ENVIRONMENTS,
        ApiEnvironment::into_environment,
    )?;
    Ok(EnvironmentPage { items, next_cursor })
}

pub fn get_environment(
    upstream: &dyn Upstream,
    request: EnvironmentRef,
) -> Result<Environment, Error> {
    let path = environments_path(&request.workspace, &request.repo_slug)?
        .param("environment_uuid", &braced(&request.environment_uuid))?;
    let environment: ApiEnvironment = upstream.json(&Endpoint::get(path))?;
    Ok(environment.into_environment())
}

/// Every environment of the repository, for naming deployments'.
fn all_environments(
    upstream: &dyn Upstream,
    workspace: &str,
    repo_slug: &str,
) -> Result<Vec<Environment>, Error> {
    let pages = PageRequest {
        size: Some(page::MAX_PAGE_SIZE),
        pages: Some(ENVIRONMENT_PAGES),
        ..page::first_page()
    };
    let (items, _) = page::fetch(
        upstream,
        Endpoint::get(environments_path(workspace, repo_slug)?),
        Some(&pages),
        ENVIRONMENTS,
        ApiEnvironment::into_environment,
    )?;
    Ok(items)
}

/// The uuid `filter` names among `environments`: a name or slug (any
/// case), or a uuid with or without braces.
fn resolve(filter: &str, environments: &[Environment]) -> Result<String, Error> {
    let uuid = braced(filter);
    environments
        .iter()
        .find(|e| {
            e.uuid == uuid
                || e.name.eq_ignore_ascii_case(filter)
                || e.slug
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(filter))
        })
        .map(|e| e.uuid.clone())
        .ok_or_else(|| {
            Error::validation(
                "environment",
                "names no environment of this repository (give its name, slug or uuid)",
            )
        })
}

pub fn list_deployments(
    upstream: &dyn Upstream,
    request: ListDeploymentsRequest,
) -> Result<DeploymentPage, Error> {
    let (workspace, repo_slug) = (&request.workspace, &request.repo_slug);
    let filter = optional("environment", request.environment.as_deref())?;
    let path = deployments_path(workspace, repo_slug)?;
    // Names are a courtesy without a filter: a failed lookup leaves them out.
    let environments = match filter {
        Some(_) => all_environments(upstream, workspace, repo_slug)?,
        None => all_environments(upstream, workspace, repo_slug).unwrap_or_default(),
    };
    let wanted = filter.map(|f| resolve(f, &environments)).transpose()?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        DEPLOYMENTS,
        |d: ApiDeployment| d.into_deployment(&environments),
    )?;
    let items = items
        .into_iter()
        .filter(|d| wanted.as_ref().is_none_or(|w| &d.environment_uuid == w))
        .collect();
    Ok(DeploymentPage { items, next_cursor })
}

pub fn get_deployment(
    upstream: &dyn Upstream,
    request: DeploymentRef,
) -> Result<Deployment, Error> {
    let path = deployments_path(&request.workspace, &request.repo_slug)?
        .param("deployment_uuid", &braced(&request.deployment_uuid))?;
    let deployment: ApiDeployment = upstream.json(&Endpoint::get(path))?;
    let environments =
        all_environments(upstream, &request.workspace, &request.repo_slug).unwrap_or_default();
    Ok(deployment.into_deployment(&environments))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    fn environments() -> serde_json::Value {
        json!({"pagelen": 100, "values": [
            {"uuid": "{e0}", "name": "Test", "slug": "test",
             "environment_type": {"name": "Test", "rank": 0}, "rank": 0},
            {"uuid": "{e1}", "name": "Staging", "slug": "staging",
             "environment_type": {"name": "Staging", "rank": 1}, "rank": 1,
             "lock": {"name": "OPEN"}},
        ]})
    }

    fn deployment(uuid: &str, environment: &str, state: serde_json::Value) -> serde_json::Value {
        json!({"uuid": uuid, "environment": {"uuid": environment}, "state": state,
               "release": {"name": "12", "commit": {"hash": "abc"},
                           "url": "https://bitbucket.org/w/r/pipelines/results/12",
                           "pipeline": {"uuid": "{run}"}}})
    }

    fn deployments() -> serde_json::Value {
        json!({"pagelen": 10, "values": [
            deployment("{d2}", "{e1}", json!({"name": "IN_PROGRESS", "start_date": "2026-11-01T10:00:00Z"})),
            deployment("{d1}", "{e0}", json!({"name": "COMPLETED",
                "status": {"name": "FAILED"}, "completion_date": "2026-11-01T09:00:00Z"})),
        ]})
    }

    fn request(environment: Option<&str>) -> ListDeploymentsRequest {
        ListDeploymentsRequest {
            workspace: "w".into(),
            repo_slug: "r".into(),
            environment: environment.map(str::to_owned),
            page: None,
        }
    }

    #[test]
    fn the_environment_filter_takes_a_name_a_slug_or_a_uuid() {
        for filter in ["Staging", "staging", "STAGING", "{e1}", "e1"] {
            let script = Script::new().ok(environments()).ok(deployments());
            let page = list_deployments(&script, request(Some(filter))).unwrap();
            let uuids: Vec<&str> = page.items.iter().map(|d| d.uuid.as_str()).collect();
            assert_eq!(uuids, ["{d2}"], "{filter}");
            assert_eq!(page.items[0].environment_name.as_deref(), Some("Staging"));
            // No query parameter the spec does not declare.
            let sent = script.sent.borrow();
            assert_eq!(sent[1].path.as_str(), "/repositories/w/r/deployments");
            assert!(
                !sent[1].query_string().contains("environment"),
                "{}",
                sent[1].query_string()
            );
        }
        let script = Script::new().ok(environments());
        let Err(Error::Validation(e)) = list_deployments(&script, request(Some("Prod"))) else {
            panic!("an unknown environment is refused");
        };
        assert_eq!(e.field, "environment");
    }

    #[test]
    fn states_statuses_and_releases_map() {
        let script = Script::new().ok(environments()).ok(deployments());
        let page = list_deployments(&script, request(None)).unwrap();
        let [running, failed] = &page.items[..] else {
            panic!("two deployments");
        };
        assert_eq!(running.state_name, "IN_PROGRESS");
        assert_eq!(running.status_name, None);
        assert_eq!(running.started_on.as_deref(), Some("2026-11-01T10:00:00Z"));
        assert_eq!(failed.state_name, "COMPLETED");
        assert_eq!(failed.status_name.as_deref(), Some("FAILED"));
        assert_eq!(failed.environment_name.as_deref(), Some("Test"));
        let release = failed.release.as_ref().unwrap();
        assert_eq!(release.build_number, Some(12));
        assert_eq!(release.pipeline_uuid.as_deref(), Some("{run}"));
        assert_eq!(release.commit_hash.as_deref(), Some("abc"));
    }

    #[test]
    fn without_a_filter_a_failed_environment_lookup_only_loses_names() {
        let script = Script::new()
            .answer(Err(Error::unavailable("down", Some(503))))
            .ok(deployments());
        let page = list_deployments(&script, request(None)).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].environment_name, None);
    }

    #[test]
    fn build_numbers_come_from_the_name_or_the_link() {
        assert_eq!(build_number(Some("#7"), None), Some(7));
        assert_eq!(
            build_number(Some("release"), Some("https://x/w/r/pipelines/results/9/")),
            Some(9)
        );
        assert_eq!(build_number(Some("release"), Some("https://x/w/r")), None);
    }

    #[test]
    fn uuids_travel_braced_and_encoded() {
        let script = Script::new().ok(json!({"uuid": "{e1}", "name": "Staging"}));
        let request = EnvironmentRef {
            workspace: "w".into(),
            repo_slug: "r".into(),
            environment_uuid: "e1".into(),
        };
        assert_eq!(get_environment(&script, request).unwrap().name, "Staging");
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/w/r/environments/%7Be1%7D"
        );
    }
}
