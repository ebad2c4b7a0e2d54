//! Branches: `R/refs/branches[/{name}]`.

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiCommit, Links};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::reconcile::reconcile;
use crate::refs::{made_here, new_ref_name, resolve_target};
use crate::types::{Branch, BranchPage, BranchRef, CreateBranchRequest, ListBranchesRequest};

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

/// `R/refs/branches/{name}`, the name without `refs/heads/`.
fn branch_path(workspace: &str, repo_slug: &str, name: &str) -> Result<ApiPath, Error> {
    ApiPath::repository(workspace, repo_slug)?
        .literal("refs/branches")
        .param("name", name.trim().trim_start_matches("refs/heads/"))
}

pub fn get(upstream: &dyn Upstream, request: BranchRef) -> Result<Branch, Error> {
    let path = branch_path(&request.workspace, &request.repo_slug, &request.name)?;
    let branch: ApiBranch = upstream.json(&Endpoint::get(path))?;
    Ok(branch.into_branch())
}

/// `POST R/refs/branches` body.
#[derive(Serialize)]
pub struct RefBody<'a> {
    pub name: &'a str,
    pub target: HashBody<'a>,
}

#[derive(Serialize)]
pub struct HashBody<'a> {
    pub hash: &'a str,
}

pub fn create(upstream: &dyn Upstream, request: CreateBranchRequest) -> Result<Branch, Error> {
    let name = new_ref_name(&request.name, "refs/heads/")?;
    let (workspace, repo_slug) = (&request.workspace, &request.repo_slug);
    let hash = resolve_target(upstream, workspace, repo_slug, &request.target)?;
    let path = ApiPath::repository(workspace, repo_slug)?.literal("refs/branches");
    let body = RefBody {
        name,
        target: HashBody { hash: &hash },
    };
    let created = upstream
        .json::<ApiBranch>(&Endpoint::post(path).json(&body)?)
        .map(ApiBranch::into_branch);
    reconcile(created, || {
        let reference = BranchRef {
            workspace: workspace.clone(),
            repo_slug: repo_slug.clone(),
            name: name.to_owned(),
        };
        made_here(get(upstream, reference), |b| &b.target_hash, &hash)
    })
}

pub fn delete(upstream: &dyn Upstream, request: BranchRef) -> Result<BranchRef, Error> {
    let path = branch_path(&request.workspace, &request.repo_slug, &request.name)?;
    upstream.send(&Endpoint::delete(path))?;
    Ok(request)
}
