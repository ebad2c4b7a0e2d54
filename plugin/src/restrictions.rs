//! Branch restrictions: `R/branch-restrictions[/{id}]` (read).

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::ApiAccount;
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{
    BranchRestriction, BranchRestrictionPage, BranchRestrictionRef, ListBranchRestrictionsRequest,
};

#[derive(Deserialize)]
struct ApiRestriction {
    id: Option<u64>,
    kind: Option<String>,
    branch_match_kind: Option<String>,
    pattern: Option<String>,
    branch_type: Option<String>,
    value: Option<u32>,
    #[serde(default)]
    users: Vec<ApiAccount>,
    #[serde(default)]
    groups: Vec<ApiGroup>,
}

#[derive(Deserialize)]
struct ApiGroup {
    slug: Option<String>,
}

impl ApiRestriction {
    fn into_restriction(self) -> BranchRestriction {
        BranchRestriction {
            id: self.id.unwrap_or_default(),
            kind: self.kind.unwrap_or_default(),
            branch_match_kind: self.branch_match_kind,
            pattern: self.pattern.filter(|p| !p.is_empty()),
            branch_type: self.branch_type,
            value: self.value,
            users: self.users.into_iter().map(ApiAccount::into_ref).collect(),
            groups: self.groups.into_iter().filter_map(|g| g.slug).collect(),
        }
    }
}

/// The spec gives restrictions `kind` and `pattern` filters, no BBQL.
const RESTRICTIONS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("branch-restrictions", &["kind", "pattern"])
};

fn restrictions(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("branch-restrictions"))
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListBranchRestrictionsRequest,
) -> Result<BranchRestrictionPage, Error> {
    let endpoint = Endpoint::get(restrictions(&request.workspace, &request.repo_slug)?)
        .query_opt("kind", request.kind.clone())
        .query_opt("pattern", request.pattern.clone());
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        RESTRICTIONS,
        ApiRestriction::into_restriction,
    )?;
    Ok(BranchRestrictionPage { items, next_cursor })
}

pub fn get(
    upstream: &dyn Upstream,
    request: BranchRestrictionRef,
) -> Result<BranchRestriction, Error> {
    let path = restrictions(&request.workspace, &request.repo_slug)?
        .param("id", &request.id.to_string())?;
    let found: ApiRestriction = upstream.json(&Endpoint::get(path))?;
    Ok(found.into_restriction())
}
