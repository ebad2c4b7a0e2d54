//! Code search: `GET /workspaces/{workspace}/search/code`. Bitbucket
//! deprecates it from 2026-11-01 and can repeat a hit across pages
//! (BCLOUD-23644): the cursor remembers the previous page's hits so a repeat
//! is dropped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{Hashed, RepositoryName, required};
use crate::page::{self, Listing, Paginated};
use crate::path::ApiPath;
use crate::quote::quote;
use crate::types::{
    CodeSearchHit, CodeSearchPage, PageRequest, SearchCodeRequest, SearchLine, SearchSegment,
};

const SEARCH: Listing = Listing {
    filter: false,
    sort: false,
    ..Listing::new("search", &["search_query"])
};

#[derive(Deserialize)]
struct ApiHit {
    content_match_count: Option<u32>,
    #[serde(default)]
    content_matches: Vec<ApiContentMatch>,
    file: Option<ApiFile>,
}

#[derive(Deserialize)]
struct ApiContentMatch {
    #[serde(default)]
    lines: Vec<ApiLine>,
}

#[derive(Deserialize)]
struct ApiLine {
    line: Option<u32>,
    #[serde(default)]
    segments: Vec<ApiSegment>,
}

#[derive(Deserialize)]
struct ApiSegment {
    text: Option<String>,
    #[serde(rename = "match")]
    is_match: Option<bool>,
}

#[derive(Deserialize)]
struct ApiFile {
    path: Option<String>,
    commit: Option<ApiFileCommit>,
}

#[derive(Deserialize)]
struct ApiFileCommit {
    #[serde(flatten)]
    hashed: Hashed,
    repository: Option<RepositoryName>,
}

#[derive(Deserialize)]
struct SearchPage {
    #[serde(flatten)]
    page: Paginated<ApiHit>,
    query_substituted: Option<bool>,
}

/// What our cursor carries: Bitbucket's page cursor and short fingerprints of
/// the hits already returned on the previous page.
#[derive(Serialize, Deserialize)]
struct Cursor {
    next: String,
    seen: Vec<String>,
}

impl ApiHit {
    fn into_hit(self) -> CodeSearchHit {
        let (path, commit, repository) = match self.file {
            Some(file) => {
                let (commit, repository) = match file.commit {
                    Some(c) => (c.hashed.hash, c.repository.and_then(|r| r.full_name)),
                    None => (None, None),
                };
                (file.path.unwrap_or_default(), commit, repository)
            }
            None => (String::new(), None, None),
        };
        let lines = self
            .content_matches
            .into_iter()
            .flat_map(|m| m.lines)
            .map(|l| SearchLine {
                line: l.line.unwrap_or_default(),
                segments: l
                    .segments
                    .into_iter()
                    .map(|s| SearchSegment {
                        text: s.text.unwrap_or_default(),
                        is_match: s.is_match.unwrap_or(false),
                    })
                    .collect(),
            })
            .collect();
        CodeSearchHit {
            repository,
            path,
            commit,
            match_count: self.content_match_count.unwrap_or(0),
            lines,
        }
    }
}

/// Short and stable: enough to spot the repeat of a neighbour.
fn fingerprint(hit: &CodeSearchHit) -> String {
    let key = format!(
        "{}\u{0}{}\u{0}{}",
        hit.repository.as_deref().unwrap_or(""),
        hit.path,
        hit.commit.as_deref().unwrap_or("")
    );
    hex::encode(&Sha256::digest(key)[..8])
}

fn decode(cursor: &str) -> Result<Cursor, Error> {
    let invalid = || Error::validation("page.cursor", "is not a cursor this component issued");
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

fn encode(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub fn search(
    upstream: &dyn Upstream,
    request: SearchCodeRequest,
) -> Result<CodeSearchPage, Error> {
    let query = required("query", &request.query)?;
    let wanted = request
        .page
        .as_ref()
        .and_then(|page| page.pages)
        .unwrap_or(1);
    if !(1..=page::MAX_PAGES_PER_CALL).contains(&wanted) {
        return Err(Error::validation(
            "page.pages",
            format!("must be from 1 to {}", page::MAX_PAGES_PER_CALL),
        ));
    }
    let (page_request, seen) = match request.page.as_ref().and_then(|p| p.cursor.as_deref()) {
        Some(cursor) => {
            let cursor = decode(cursor)?;
            let page = PageRequest {
                cursor: Some(cursor.next),
                ..request.page.clone().unwrap_or_else(page::first_page)
            };
            (Some(page), cursor.seen)
        }
        None => (request.page.clone(), Vec::new()),
    };
    let path = ApiPath::new("workspaces")
        .param("workspace", &request.workspace)?
        .literal("search/code");
    let endpoint = page::apply(
        Endpoint::get(path).query("search_query", query),
        page_request.as_ref(),
        SEARCH,
    )?;
    // A cursor replaces the whole query; Bitbucket's `next` keeps search_query.
    let answer: SearchPage = upstream.json(&endpoint).map_err(|error| match error {
        Error::NotFound(mut info) if info.message.contains("not enabled") => {
            info.message = format!(
                "code search is not enabled for workspace '{}': a workspace admin turns it on at https://bitbucket.org/search (Bitbucket said: {})",
                quote(&request.workspace),
                info.message
            );
            Error::NotFound(info)
        }
        other => other,
    })?;
    let next = page::next_cursor(&endpoint, &answer.page, SEARCH);
    let items: Vec<CodeSearchHit> = answer
        .page
        .values
        .into_iter()
        .map(ApiHit::into_hit)
        .filter(|hit| !seen.contains(&fingerprint(hit)))
        .collect();
    let next_cursor = next.map(|next| {
        encode(&Cursor {
            next,
            seen: items.iter().map(fingerprint).collect(),
        })
    });
    Ok(CodeSearchPage {
        items,
        query_substituted: answer.query_substituted,
        next_cursor,
    })
}
