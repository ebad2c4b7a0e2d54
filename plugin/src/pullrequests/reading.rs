//! What a reviewer reads of a pull request: its commits, activity, diff,
//! diffstat and patch, and the pull requests waiting for the caller's review.
//!
//! Bitbucket answers a pull request's `diff`, `diffstat` and `patch` with a
//! 302 to the repository's `diff`/`diffstat`/`patch` of its commits; the
//! transport follows it (GETs only, the token only within the API). The
//! spec gives those pull request endpoints no query parameters, so a diff
//! that asks Bitbucket for context lines, paths or whitespace handling, and
//! every diffstat (whose pages take `page` and `pagelen`), is asked of the
//! repository instead: `R/diff/{source}..{destination}` or
//! `R/diffstat/{source}..{destination}` with `topic=true` (the pull
//! request's own three-dot diff), after reading the pull request for its
//! two commits.

use serde::Deserialize;

use super::{ApiComment, ApiPullRequest, PULL_REQUESTS, fetch, pull_request, pull_requests};
use crate::diffs::{self, ApiDiffstat, asks_upstream, diff_endpoint, fetch_diff, patch_budget};
use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::{ApiAccount, ApiCommit};
use crate::page::{self, Listing};
use crate::path::ApiPath;
use crate::reconcile::bbql_text;
use crate::types::{
    Activity, ActivityKind, ActivityPage, BoundedText, CommitPage, Diff, DiffstatPage,
    ListAwaitingReviewRequest, ListPullRequestActivityRequest, ListPullRequestCommitsRequest,
    PullRequest, PullRequestDiffRequest, PullRequestDiffstatRequest, PullRequestPage,
    PullRequestPatchRequest,
};
use crate::users;
use crate::wire::NoParams;

/// Listings the spec gives no filter or sort.
const fn plain(tag: &'static str) -> Listing {
    Listing {
        filter: false,
        sort: false,
        ..Listing::new(tag, &[])
    }
}

const COMMITS: Listing = plain("pullrequest-commits");
const ACTIVITY: Listing = plain("pullrequest-activity");
/// The repository's diffstat listing, under the pull request's own tag.
pub const DIFFSTAT: Listing = Listing {
    tag: "pullrequest-diffstat",
    ..diffs::DIFFSTAT
};

pub fn commits(
    upstream: &dyn Upstream,
    request: ListPullRequestCommitsRequest,
) -> Result<CommitPage, Error> {
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?.literal("commits");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        COMMITS,
        ApiCommit::into_commit,
    )?;
    Ok(CommitPage { items, next_cursor })
}

/// One activity entry: one of `update`, `approval`, `changes_requested` or
/// `comment` (others, such as tasks on the internal endpoint, are skipped).
#[derive(Deserialize)]
struct ApiActivity {
    update: Option<ApiUpdate>,
    approval: Option<ApiReview>,
    changes_requested: Option<ApiReview>,
    comment: Option<ApiComment>,
}

#[derive(Deserialize)]
struct ApiUpdate {
    state: Option<String>,
    date: Option<String>,
    author: Option<ApiAccount>,
}

#[derive(Deserialize)]
struct ApiReview {
    date: Option<String>,
    user: Option<ApiAccount>,
}

impl ApiActivity {
    fn into_activity(self) -> Option<Activity> {
        let review = |kind, review: ApiReview| Activity {
            kind,
            user: review.user.map(ApiAccount::into_ref),
            date: review.date,
            state: None,
            comment: None,
        };
        if let Some(update) = self.update {
            return Some(Activity {
                kind: ActivityKind::Update,
                user: update.author.map(ApiAccount::into_ref),
                date: update.date,
                state: update.state.map(|s| s.to_ascii_lowercase()),
                comment: None,
            });
        }
        if let Some(approval) = self.approval {
            return Some(review(ActivityKind::Approval, approval));
        }
        if let Some(changes) = self.changes_requested {
            return Some(review(ActivityKind::ChangesRequested, changes));
        }
        let comment = self.comment?.into_comment();
        Some(Activity {
            kind: ActivityKind::Comment,
            user: comment.author.clone(),
            date: comment.created_on.clone(),
            state: None,
            comment: Some(comment),
        })
    }
}

pub fn activity(
    upstream: &dyn Upstream,
    request: ListPullRequestActivityRequest,
) -> Result<ActivityPage, Error> {
    let path =
        pull_request(&request.workspace, &request.repo_slug, request.id)?.literal("activity");
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path),
        request.page.as_ref(),
        ACTIVITY,
        ApiActivity::into_activity,
    )?;
    Ok(ActivityPage {
        items: items.into_iter().flatten().collect(),
        next_cursor,
    })
}

/// Whether the caller (`me`) already approved or requested changes.
fn reviewed_by(pr: &PullRequest, me: &str) -> bool {
    pr.participants.iter().any(|p| {
        p.user.uuid.as_deref() == Some(me)
            && (p.approved || p.state.as_deref() == Some("changes_requested"))
    })
}

/// Open pull requests naming the caller as a reviewer: `GET /user` for the
/// caller's uuid, then `q=state="OPEN" AND reviewers.uuid="{uuid}"` (joined
/// with the caller's own `page.q`). Unless `include_reviewed`, those the
/// caller already approved or requested changes on are left out, so a page
/// may hold fewer items than its size.
pub fn awaiting_review(
    upstream: &dyn Upstream,
    request: ListAwaitingReviewRequest,
) -> Result<PullRequestPage, Error> {
    let me = users::current(upstream, NoParams {})?.uuid;
    if me.is_empty() {
        return Err(Error::unavailable(
            "Bitbucket did not say who the current user is",
            None,
        ));
    }
    let filter = format!("state=\"OPEN\" AND reviewers.uuid={}", bbql_text(&me));
    let mut page = request.page.clone().unwrap_or_else(page::first_page);
    if page.cursor.is_none() {
        page.q = Some(
            match page.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                Some(q) => format!("({q}) AND {filter}"),
                None => filter,
            },
        );
    }
    let endpoint = Endpoint::get(pull_requests(&request.workspace, &request.repo_slug)?);
    let (items, next_cursor) = page::fetch(
        upstream,
        endpoint,
        Some(&page),
        PULL_REQUESTS,
        ApiPullRequest::into_pull_request,
    )?;
    let include_reviewed = request.include_reviewed.unwrap_or(false);
    Ok(PullRequestPage {
        items: items
            .into_iter()
            .filter(|pr| include_reviewed || !reviewed_by(pr, &me))
            .collect(),
        next_cursor,
    })
}

/// `{source}..{destination}` of a pull request, as the repository's diff
/// takes it (new first).
pub fn commit_spec(pr: &PullRequest) -> Result<String, Error> {
    match (&pr.source_commit, &pr.destination_commit) {
        (Some(source), Some(destination)) => Ok(format!("{source}..{destination}")),
        _ => Err(Error::unavailable(
            "Bitbucket answered the pull request without its source and destination commits",
            None,
        )),
    }
}

/// The repository's `diff` or `diffstat` of a pull request's commits
/// (three-dot with `topic=true`).
pub fn repository_diff_path(
    workspace: &str,
    repo_slug: &str,
    kind: &str,
    pr: &PullRequest,
) -> Result<ApiPath, Error> {
    ApiPath::repository(workspace, repo_slug)?
        .literal(kind)
        .param("spec", &commit_spec(pr)?)
}

pub fn diff(upstream: &dyn Upstream, request: PullRequestDiffRequest) -> Result<Diff, Error> {
    let pr_path = pull_request(&request.workspace, &request.repo_slug, request.id)?;
    let options = request.options.as_ref();
    // Options are refused, by name, before anything is sent.
    let (endpoint, budget) = diff_endpoint(pr_path.clone().literal("diff"), options, "options.")?;
    if !asks_upstream(options) {
        let endpoint = Endpoint::get(pr_path.literal("diff")).header("accept", "text/plain");
        return fetch_diff(upstream, &endpoint, budget);
    }
    drop(endpoint);
    let pr = fetch(upstream, pr_path)?;
    let path = repository_diff_path(&request.workspace, &request.repo_slug, "diff", &pr)?;
    let (endpoint, budget) = diff_endpoint(path, options, "options.")?;
    fetch_diff(upstream, &endpoint.query("topic", "true"), budget)
}

pub fn diffstat(
    upstream: &dyn Upstream,
    request: PullRequestDiffstatRequest,
) -> Result<DiffstatPage, Error> {
    let pr = fetch(
        upstream,
        pull_request(&request.workspace, &request.repo_slug, request.id)?,
    )?;
    let path = repository_diff_path(&request.workspace, &request.repo_slug, "diffstat", &pr)?;
    let (items, next_cursor) = page::fetch(
        upstream,
        Endpoint::get(path).query("topic", "true"),
        request.page.as_ref(),
        DIFFSTAT,
        ApiDiffstat::into_entry,
    )?;
    Ok(DiffstatPage { items, next_cursor })
}

pub fn patch(
    upstream: &dyn Upstream,
    request: PullRequestPatchRequest,
) -> Result<BoundedText, Error> {
    let max = patch_budget(request.max_bytes)?;
    let path = pull_request(&request.workspace, &request.repo_slug, request.id)?.literal("patch");
    let response = upstream.send(&Endpoint::get(path).header("accept", "text/plain"))?;
    Ok(diffs::patch_of(&response, max))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::Response;
    use crate::endpoint::script::Script;
    use crate::types::DiffOptions;

    fn pr(id: u64, participants: serde_json::Value) -> serde_json::Value {
        json!({"id": id, "title": "t", "state": "OPEN",
               "source": {"branch": {"name": "f"}, "commit": {"hash": "aaa"}},
               "destination": {"branch": {"name": "main"}, "commit": {"hash": "bbb"}},
               "participants": participants})
    }

    #[test]
    fn awaiting_review_asks_for_the_callers_open_reviews_and_drops_the_reviewed() {
        let me = json!({"uuid": "{me}", "display_name": "Me"});
        let script = Script::new().ok(me).ok(json!({"values": [
            pr(1, json!([{"user": {"uuid": "{me}"}, "role": "REVIEWER", "approved": false}])),
            pr(2, json!([{"user": {"uuid": "{me}"}, "role": "REVIEWER", "approved": true}])),
            pr(3, json!([{"user": {"uuid": "{me}"}, "role": "REVIEWER", "approved": false, "state": "changes_requested"}])),
            pr(4, json!([{"user": {"uuid": "{other}"}, "role": "REVIEWER", "approved": true}]))
        ]}));
        let page = awaiting_review(
            &script,
            ListAwaitingReviewRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                include_reviewed: None,
                page: None,
            },
        )
        .unwrap();
        let ids: Vec<u64> = page.items.iter().map(|p| p.id).collect();
        assert_eq!(ids, [1, 4]);
        let sent = script.sent.borrow();
        assert_eq!(sent[0].path.as_str(), "/user");
        assert_eq!(sent[1].path.as_str(), "/repositories/acme/api/pullrequests");
        assert_eq!(
            sent[1].query_string(),
            "pagelen=50&q=state%3D%22OPEN%22%20AND%20reviewers.uuid%3D%22%7Bme%7D%22"
        );
    }

    #[test]
    fn activity_entries_are_typed_and_unknown_ones_skipped() {
        let script = Script::new().ok(json!({"values": [
            {"update": {"state": "OPEN", "date": "d1", "author": {"display_name": "Ada"}}},
            {"approval": {"date": "d2", "user": {"display_name": "Bob"}}},
            {"changes_requested": {"date": "d3", "user": {"display_name": "Cy"}}},
            {"comment": {"id": 5, "content": {"raw": "hi"}, "user": {"display_name": "Di"}, "created_on": "d4"}},
            {"task": {"id": 1}}
        ]}));
        let page = activity(
            &script,
            ListPullRequestActivityRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                page: None,
            },
        )
        .unwrap();
        let kinds: Vec<ActivityKind> = page.items.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                ActivityKind::Update,
                ActivityKind::Approval,
                ActivityKind::ChangesRequested,
                ActivityKind::Comment
            ]
        );
        assert_eq!(page.items[0].state.as_deref(), Some("open"));
        assert_eq!(page.items[3].comment.as_ref().unwrap().id, 5);
        assert_eq!(page.items[3].date.as_deref(), Some("d4"));
    }

    fn text(body: &str) -> Result<Response, Error> {
        Ok(Response {
            status: 200,
            body: body.as_bytes().to_vec(),
            ..Response::default()
        })
    }

    fn diff_request(options: Option<DiffOptions>) -> PullRequestDiffRequest {
        PullRequestDiffRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
            options,
        }
    }

    #[test]
    fn a_plain_diff_goes_to_the_pull_request_and_options_to_its_commits() {
        let body = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
        let script = Script::new().answer(text(body));
        let diff = super::diff(&script, diff_request(None)).unwrap();
        assert_eq!(diff.files.len(), 1);
        assert_eq!(
            script.sent.borrow()[0].path.as_str(),
            "/repositories/acme/api/pullrequests/4/diff"
        );
        assert_eq!(script.sent.borrow()[0].query_string(), "");

        let script = Script::new().ok(pr(4, json!([]))).answer(text(body));
        let options = DiffOptions {
            max_bytes: None,
            max_file_bytes: None,
            paths: None,
            context: Some(10),
            ignore_whitespace: None,
        };
        super::diff(&script, diff_request(Some(options))).unwrap();
        let sent = script.sent.borrow();
        assert_eq!(
            sent[1].path.as_str(),
            "/repositories/acme/api/diff/aaa..bbb"
        );
        assert_eq!(sent[1].query_string(), "context=10&topic=true");
    }

    #[test]
    fn patch_is_bounded_and_diffstat_paged() {
        let script = Script::new().answer(text(&"x\n".repeat(1000)));
        let patch = super::patch(
            &script,
            PullRequestPatchRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                max_bytes: Some(1024),
            },
        )
        .unwrap();
        assert_eq!(
            (patch.size, patch.truncated_bytes, patch.text.len()),
            (2000, 976, 1024)
        );
        let script = Script::new().ok(pr(4, json!([]))).ok(
            json!({"values": [{"status": "modified", "new": {"path": "x"}, "old": {"path": "x"}}]}),
        );
        let page = diffstat(
            &script,
            PullRequestDiffstatRequest {
                workspace: "acme".into(),
                repo_slug: "api".into(),
                id: 4,
                page: None,
            },
        )
        .unwrap();
        assert_eq!(page.items.len(), 1);
        // The pull request's own diffstat takes no paging parameters in
        // the spec: its commits' diffstat does.
        let sent = script.sent.borrow();
        assert_eq!(
            sent[0].path.as_str(),
            "/repositories/acme/api/pullrequests/4"
        );
        assert_eq!(
            sent[1].path.as_str(),
            "/repositories/acme/api/diffstat/aaa..bbb"
        );
        assert_eq!(sent[1].query_string(), "topic=true&pagelen=50");
    }
}
