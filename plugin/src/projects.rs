//! A workspace's projects: `/workspaces/{workspace}/projects[/{key}]`.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::Links;
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{ListProjectsRequest, Project, ProjectPage, ProjectRef};

#[derive(Deserialize)]
struct ApiProject {
    key: Option<String>,
    uuid: Option<String>,
    name: Option<String>,
    description: Option<String>,
    is_private: Option<bool>,
    has_publicly_visible_repos: Option<bool>,
    created_on: Option<String>,
    updated_on: Option<String>,
    links: Option<Links>,
}

impl ApiProject {
    fn into_project(self) -> Project {
        Project {
            key: self.key.unwrap_or_default(),
            uuid: self.uuid.unwrap_or_default(),
            name: self.name.unwrap_or_default(),
            description: self.description.filter(|d| !d.is_empty()),
            is_private: self.is_private.unwrap_or(true),
            has_publicly_visible_repos: self.has_publicly_visible_repos.unwrap_or(false),
            created_on: self.created_on,
            updated_on: self.updated_on,
            web_url: Links::html(&self.links),
        }
    }
}

/// The spec names no `q` or `sort` for a workspace's projects.
const PROJECTS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("projects", &[])
};

fn projects(workspace: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::new("workspaces")
        .param("workspace", workspace)?
        .literal("projects"))
}

pub fn list(upstream: &dyn Upstream, request: ListProjectsRequest) -> Result<ProjectPage, Error> {
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(projects(&request.workspace)?),
        request.page.as_ref(),
        PROJECTS,
        ApiProject::into_project,
    )?;
    Ok(ProjectPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: ProjectRef) -> Result<Project, Error> {
    let path = projects(&request.workspace)?.param("key", &request.key)?;
    let project: ApiProject = upstream.json(&Endpoint::get(path))?;
    Ok(project.into_project())
}
