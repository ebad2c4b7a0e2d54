//! A repository's downloads: `R/downloads` (read).

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, Href};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{Download, DownloadPage, RepoPageRequest};

#[derive(Deserialize)]
struct ApiDownload {
    name: Option<String>,
    size: Option<u64>,
    downloads: Option<u64>,
    created_on: Option<String>,
    user: Option<ApiAccount>,
    links: Option<SelfLink>,
}

#[derive(Deserialize)]
struct SelfLink {
    #[serde(rename = "self")]
    this: Option<Href>,
}

/// The spec names no `q` or `sort` for downloads.
const DOWNLOADS: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("downloads", &[])
};

pub fn list(upstream: &dyn Upstream, request: RepoPageRequest) -> Result<DownloadPage, Error> {
    let path = ApiPath::repository(&request.workspace, &request.repo_slug)?.literal("downloads");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        DOWNLOADS,
        |found: ApiDownload| Download {
            name: found.name.unwrap_or_default(),
            size_bytes: found.size,
            downloads: found.downloads,
            created_on: found.created_on,
            uploader: found.user.map(ApiAccount::into_ref),
            url: found.links.and_then(|l| l.this).and_then(|h| h.href),
        },
    )?;
    Ok(DownloadPage { items, next_cursor })
}
