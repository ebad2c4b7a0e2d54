//! Branches: `R/refs/branches[/{name}]`.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiCommit, Links};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{Branch, BranchPage, BranchRef, ListBranchesRequest};

#[derive(Deserialize)]
struct ApiBranch {
    name: Option<String>,
    target: Option<ApiCommit>,
    #[serde(default)]
    merge_strategies: Vec<String>,
    default_merge_strategy: Option<String>,
    links: Option<Links>,
}

impl ApiBranch {
    fn into_branch(self) -> Branch {
        let web_url = Links::html(&self.links);
        let target = self.target.map(ApiCommit::into_commit);
        Branch {
            name: self.name.unwrap_or_default(),
            target_hash: target.as_ref().map(|c| c.hash.clone()).unwrap_or_default(),
            target_date: target.as_ref().and_then(|c| c.date.clone()),
            target_message: target.as_ref().map(|c| c.message.clone()),
            target_author: target.and_then(|c| c.author_raw),
            merge_strategies: self.merge_strategies,
            default_merge_strategy: self.default_merge_strategy,
            web_url,
        }
    }
}

pub fn list(upstream: &dyn Upstream, request: ListBranchesRequest) -> Result<BranchPage, Error> {
    let path =
        ApiPath::repository(&request.workspace, &request.repo_slug)?.literal("refs/branches");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        Listing::new("branches", &[]),
        ApiBranch::into_branch,
    )?;
    Ok(BranchPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: BranchRef) -> Result<Branch, Error> {
    let name = request.name.trim().trim_start_matches("refs/heads/");
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?
        .literal("refs/branches")
        .param("name", name)?;
    let branch: ApiBranch = upstream.json(&Endpoint::get(path))?;
    Ok(branch.into_branch())
}
