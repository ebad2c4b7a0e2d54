//! Commits: `R/commits?include&exclude&path` and `R/commit/{commit}`.

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiCommit, required};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{Commit, CommitPage, CommitRef, ListCommitsRequest};

/// Commits page by Bitbucket's own cursor and take neither BBQL nor sort.
const COMMITS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("commits", &["include", "exclude", "path"])
};

pub fn list(upstream: &dyn Upstream, request: ListCommitsRequest) -> Result<CommitPage, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?.literal("commits");
    let mut endpoint = Endpoint::get(path);
    for (field, refs) in [("include", &request.include), ("exclude", &request.exclude)] {
        for (i, reference) in refs.iter().flatten().enumerate() {
            endpoint = endpoint.query(field, required(&format!("{field}[{i}]"), reference)?);
        }
    }
    let endpoint = endpoint.query_opt(
        "path",
        request
            .path
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty()),
    );
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        request.page.as_ref(),
        COMMITS,
        ApiCommit::into_commit,
    )?;
    Ok(CommitPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: CommitRef) -> Result<Commit, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?
        .literal("commit")
        .param("commit", &request.commit)?;
    let commit: ApiCommit = upstream.json(&Endpoint::get(path))?;
    Ok(commit.into_commit())
}
