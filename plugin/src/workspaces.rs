//! Workspaces of the current user: `GET /user/workspaces`; a workspace's
//! members: `GET /workspaces/{workspace}/members`.
//!
//! `GET /workspaces` was removed in 2026 (CHANGE-2770); its replacement
//! answers `workspace_access` wrappers that are unwrapped here.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Links};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{
    ListWorkspaceMembersRequest, ListWorkspacesRequest, Workspace, WorkspaceMemberPage,
    WorkspacePage,
};

#[derive(Deserialize)]
struct WorkspaceAccess {
    administrator: Option<bool>,
    workspace: ApiWorkspace,
}

#[derive(Deserialize)]
struct ApiWorkspace {
    uuid: Option<String>,
    slug: Option<String>,
    name: Option<String>,
    is_private: Option<bool>,
    created_on: Option<String>,
    links: Option<Links>,
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListWorkspacesRequest,
) -> Result<WorkspacePage, Error> {
    let endpoint = Endpoint::get(ApiPath::new("user/workspaces")).query_opt(
        "administrator",
        request.administrator.map(|a| a.to_string()),
    );
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        Listing::new("workspaces", &["administrator"]),
        |access: WorkspaceAccess| {
            let workspace = access.workspace;
            let slug = workspace.slug.unwrap_or_default();
            Workspace {
                uuid: workspace.uuid.unwrap_or_default(),
                name: workspace.name.unwrap_or_else(|| slug.clone()),
                slug,
                is_private: workspace.is_private,
                administrator: access.administrator,
                created_on: workspace.created_on,
                web_url: Links::html(&workspace.links),
            }
        },
    )?;
    Ok(WorkspacePage { items, next_cursor })
}

#[derive(Deserialize)]
struct ApiMembership {
    user: Option<ApiAccount>,
}

/// The spec names no `q` or `sort` for members.
const MEMBERS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("members", &[])
};

pub fn members(
    upstream: &dyn Upstream,
    request: ListWorkspaceMembersRequest,
) -> Result<WorkspaceMemberPage, Error> {
    let path = ApiPath::new("workspaces")
        .param("workspace", &request.workspace)?
        .literal("members");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        MEMBERS,
        |membership: ApiMembership| {
            membership
                .user
                .map_or_else(ApiAccount::unknown, ApiAccount::into_ref)
        },
    )?;
    Ok(WorkspaceMemberPage { items, next_cursor })
}
