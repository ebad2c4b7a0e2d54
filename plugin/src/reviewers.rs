//! Default reviewers: `R/default-reviewers` (the repository's own) and
//! `R/effective-default-reviewers` (with the project's).

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::ApiAccount;
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::types::{DefaultReviewer, DefaultReviewerPage, ListDefaultReviewersRequest};

#[derive(Deserialize)]
struct ApiEffective {
    reviewer_type: Option<String>,
    user: Option<ApiAccount>,
}

/// The spec names no `q` or `sort` for either listing.
const fn reviewers(tag: &'static str) -> Listing {
    Listing {
        filter: false,
        sort: false,
        ..Listing::new(tag, &[])
    }
}

pub fn list(
    upstream: &dyn Upstream,
    request: ListDefaultReviewersRequest,
) -> Result<DefaultReviewerPage, Error> {
    let repository = ApiPath::repository(&request.workspace, &request.repo_slug)?;
    let page = request.page.as_ref();
    let (items, next_cursor) = if request.effective.unwrap_or(false) {
        page::fetch(
            upstream,
            Endpoint::get(repository.literal("effective-default-reviewers")),
            page,
            reviewers("effective-default-reviewers"),
            |found: ApiEffective| DefaultReviewer {
                reviewer: found
                    .user
                    .map_or_else(ApiAccount::unknown, ApiAccount::into_ref),
                reviewer_type: found.reviewer_type.unwrap_or_default(),
            },
        )?
    } else {
        page::fetch(
            upstream,
            Endpoint::get(repository.literal("default-reviewers")),
            page,
            reviewers("default-reviewers"),
            |user: ApiAccount| DefaultReviewer {
                reviewer: user.into_ref(),
                reviewer_type: "repository".to_owned(),
            },
        )?
    };
    Ok(DefaultReviewerPage { items, next_cursor })
}
