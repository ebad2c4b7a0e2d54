//! Tags: `R/refs/tags[/{name}]`.

use serde::{Deserialize, Serialize};

use crate::branches::HashBody;
use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAuthor, ApiCommit, Links};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::reconcile::reconcile;
use crate::refs::{made_here, new_ref_name, resolve_target};
use crate::types::{CreateTagRequest, ListTagsRequest, Tag, TagPage, TagRef};

#[derive(Deserialize)]
struct ApiTag {
    name: Option<String>,
    target: Option<ApiCommit>,
    /// Set on annotated tags only.
    message: Option<String>,
    tagger: Option<ApiAuthor>,
    date: Option<String>,
    links: Option<Links>,
}

impl ApiTag {
    fn into_tag(self) -> Tag {
        let target = self.target.map(ApiCommit::into_commit);
        Tag {
            name: self.name.unwrap_or_default(),
            target_hash: target.as_ref().map(|c| c.hash.clone()).unwrap_or_default(),
            target_date: target.as_ref().and_then(|c| c.date.clone()),
            target_message: target.map(|c| c.message),
            message: self.message.filter(|m| !m.is_empty()),
            tagger: self.tagger.and_then(|t| t.raw),
            date: self.date,
            web_url: Links::html(&self.links),
        }
    }
}

fn tags(workspace: &str, repo_slug: &str) -> Result<ApiPath, Error> {
    Ok(ApiPath::repository(workspace, repo_slug)?.literal("refs/tags"))
}

/// `R/refs/tags/{name}`, the name without `refs/tags/`.
fn tag_path(request: &TagRef) -> Result<ApiPath, Error> {
    tags(&request.workspace, &request.repo_slug)?
        .param("name", request.name.trim().trim_start_matches("refs/tags/"))
}

pub fn list(upstream: &dyn Upstream, request: ListTagsRequest) -> Result<TagPage, Error> {
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(tags(&request.workspace, &request.repo_slug)?),
        request.page.as_ref(),
        Listing::new("tags", &[]),
        ApiTag::into_tag,
    )?;
    Ok(TagPage { items, next_cursor })
}

pub fn get(upstream: &dyn Upstream, request: TagRef) -> Result<Tag, Error> {
    let tag: ApiTag = upstream.json(&Endpoint::get(tag_path(&request)?))?;
    Ok(tag.into_tag())
}

#[derive(Serialize)]
struct TagBody<'a> {
    name: &'a str,
    target: HashBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

pub fn create(upstream: &dyn Upstream, request: CreateTagRequest) -> Result<Tag, Error> {
    let name = new_ref_name(&request.name, "refs/tags/")?;
    let (workspace, repo_slug) = (&request.workspace, &request.repo_slug);
    let hash = resolve_target(upstream, workspace, repo_slug, &request.target)?;
    let body = TagBody {
        name,
        target: HashBody { hash: &hash },
        message: request.message.as_deref().filter(|m| !m.trim().is_empty()),
    };
    let endpoint = Endpoint::post(tags(workspace, repo_slug)?).json(&body)?;
    let created = upstream.json::<ApiTag>(&endpoint).map(ApiTag::into_tag);
    reconcile(created, || {
        let reference = TagRef {
            workspace: workspace.clone(),
            repo_slug: repo_slug.clone(),
            name: name.to_owned(),
        };
        made_here(get(upstream, reference), |t| &t.target_hash, &hash)
    })
}

pub fn delete(upstream: &dyn Upstream, request: TagRef) -> Result<TagRef, Error> {
    upstream.send(&Endpoint::delete(tag_path(&request)?))?;
    Ok(request)
}
