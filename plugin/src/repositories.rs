//! Repositories of a workspace: `GET /repositories/{workspace}[/{repo_slug}]`.
//!
//! The cross-workspace `GET /repositories` was removed in 2026 (CHANGE-2770).

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{Links, Named};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{ListRepositoriesRequest, RepoRef, RepoRole, Repository, RepositoryPage};

#[derive(Deserialize)]
pub struct ApiRepository {
    uuid: Option<String>,
    slug: Option<String>,
    name: Option<String>,
    full_name: Option<String>,
    description: Option<String>,
    is_private: Option<bool>,
    mainbranch: Option<Named>,
    language: Option<String>,
    size: Option<u64>,
    has_issues: Option<bool>,
    created_on: Option<String>,
    updated_on: Option<String>,
    project: Option<ApiProject>,
    workspace: Option<Slugged>,
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Slugged {
    slug: Option<String>,
}

#[derive(Deserialize)]
struct ApiProject {
    key: Option<String>,
}

impl ApiRepository {
    pub fn into_repository(self) -> Repository {
        let full_name = self.full_name.unwrap_or_default();
        let (owner, tail) = full_name
            .split_once('/')
            .unwrap_or(("", full_name.as_str()));
        let clone_https = self
            .links
            .as_ref()
            .and_then(|l| l.clone.as_ref())
            .and_then(|c| c.iter().find(|h| h.name.as_deref() == Some("https")))
            .and_then(|h| h.href.clone());
        Repository {
            uuid: self.uuid.unwrap_or_default(),
            slug: self.slug.unwrap_or_else(|| tail.to_owned()),
            name: self.name.unwrap_or_else(|| tail.to_owned()),
            workspace: self
                .workspace
                .and_then(|w| w.slug)
                .unwrap_or_else(|| owner.to_owned()),
            project_key: self.project.and_then(|p| p.key),
            description: self.description.unwrap_or_default(),
            is_private: self.is_private.unwrap_or(true),
            main_branch: self.mainbranch.and_then(|b| b.name),
            language: self.language.filter(|l| !l.is_empty()),
            size_bytes: self.size,
            has_issues: self.has_issues,
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
            clone_https,
            full_name,
        }
    }
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListRepositoriesRequest,
) -> Result<RepositoryPage, Error> {
    let endpoint =
        Endpoint::get(ApiPath::new("repositories").param("workspace", &request.workspace)?)
            .query_opt("role", request.role.map(RepoRole::wire_name));
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        Listing::new("repositories", &["role"]),
        ApiRepository::into_repository,
    )?;
    Ok(RepositoryPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: RepoRef) -> Result<Repository, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    let repository: ApiRepository = upstream.json(&Endpoint::get(path))?;
    Ok(repository.into_repository())
}
