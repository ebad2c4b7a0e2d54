//! Explicit permissions on a repository:
//! `R/permissions-config/{users,groups}` (read).

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::ApiAccount;
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{RepoPageRequest, RepositoryPermission, RepositoryPermissionPage};

#[derive(Deserialize)]
struct ApiPermission {
    permission: Option<String>,
    user: Option<ApiAccount>,
    group: Option<ApiGroup>,
}

#[derive(Deserialize)]
struct ApiGroup {
    slug: Option<String>,
    name: Option<String>,
}

impl ApiPermission {
    fn into_permission(self) -> RepositoryPermission {
        let (group_slug, group_name) = self.group.map_or((None, None), |g| (g.slug, g.name));
        RepositoryPermission {
            permission: self.permission.unwrap_or_default(),
            user: self.user.map(ApiAccount::into_ref),
            group_slug,
            group_name,
        }
    }
}

/// `users` or `groups`.
fn permissions(
    upstream: &dyn Upstream,
    request: RepoPageRequest,
    whose: &'static str,
) -> Result<RepositoryPermissionPage, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?
        .literal("permissions-config")
        .literal(whose);
    // The spec names no `q` or `sort` for either listing.
    let tag = if whose == "users" {
        "user-permissions"
    } else {
        "group-permissions"
    };
    let listing = Listing {
        filter: false,
        sort: false,
        ..Listing::new(tag, &[])
    };
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        listing,
        ApiPermission::into_permission,
    )?;
    Ok(RepositoryPermissionPage { items, next_cursor })
}

pub fn users(
    upstream: &dyn Upstream,
    request: RepoPageRequest,
) -> Result<RepositoryPermissionPage, Error> {
    permissions(upstream, request, "users")
}

pub fn groups(
    upstream: &dyn Upstream,
    request: RepoPageRequest,
) -> Result<RepositoryPermissionPage, Error> {
    permissions(upstream, request, "groups")
}
