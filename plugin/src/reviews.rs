//! The review bundle: a pull request with everything a reviewer reads of it,
//! in one call and within one diff budget, every cut said.
//!
//! Requests: `GET R/pullrequests/{id}`, then at once (`send_all`: GETs go
//! out a few at a time) the first page of its diffstat, its diff, the
//! source head's build statuses (`R/commit/{hash}/statuses`), its tasks and
//! its comments; then the further pages of each listing, within a bound per
//! listing. With `context` the diff is the repository's three-dot diff of
//! the pull request's commits (`R/diff/{source}..{destination}?context=…&
//! topic=true`), since the pull request's own diff takes no parameters.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

use crate::diffs::{self, ApiDiffstat, Budget, MAX_CONTEXT};
use crate::endpoint::{Endpoint, Response, Upstream, answer_of};
use crate::error::Error;
use crate::page::{self, Listing, Paginated};
use crate::pullrequests::reading::{self, DIFFSTAT};
use crate::pullrequests::tasks::{ApiTask, TASKS, tasks_path};
use crate::pullrequests::{ApiComment, COMMENTS, fetch, pull_request};
use crate::statuses::{ApiStatus, COMMIT_STATUSES, commit_statuses_path};
use crate::types::{
    BundleCut, CommentThread, FileDiff, PageRequest, PullRequestComment, ReviewBundle,
    ReviewBundleRequest, TaskState,
};

/// The diff budget when the caller names none.
pub const DEFAULT_BUNDLE_BYTES: u32 = 128 * 1024;

/// Most pages (of 100) read of each listing.
const DIFFSTAT_PAGES: u32 = 20;
const COMMENT_PAGES: u32 = 20;
const TASK_PAGES: u32 = 10;
const STATUS_PAGES: u32 = 5;

/// A listing's items and what was left of it.
struct Listed<T> {
    items: Vec<T>,
    cut: Option<BundleCut>,
}

/// The first page of `listing` at `endpoint`, a hundred items a page.
fn first_page(endpoint: Endpoint, listing: Listing) -> Result<Endpoint, Error> {
    let size = PageRequest {
        size: Some(page::MAX_PAGE_SIZE),
        ..page::first_page()
    };
    page::apply(endpoint, Some(&size), listing)
}

/// A listing from its first page's `answer` on: the pages after it, up to
/// `max_pages` in all; a listing longer than that is cut and the cut said
/// (`part`), with the items left out when Bitbucket gave the total.
fn rest_of<T: DeserializeOwned, U>(
    upstream: &dyn Upstream,
    endpoint: &Endpoint,
    answer: Result<Response, Error>,
    listing: Listing,
    (part, max_pages): (&str, u32),
    mut map: impl FnMut(T) -> U,
) -> Result<Listed<U>, Error> {
    let first: Paginated<T> = answer_of(endpoint, &answer?)?;
    let total = first.size;
    let mut next = page::next_cursor(endpoint, &first, listing);
    let mut items: Vec<U> = first.values.into_iter().map(&mut map).collect();
    let mut fetched = 1;
    while let Some(cursor) = next.take() {
        if fetched >= max_pages {
            next = Some(cursor);
            break;
        }
        let pages = (max_pages - fetched).min(page::MAX_PAGES_PER_CALL);
        let request = PageRequest {
            cursor: Some(cursor),
            pages: Some(pages),
            ..page::first_page()
        };
        let base = Endpoint::get(endpoint.path.clone());
        let (more, after) = page::fetch(upstream, base, Some(&request), listing, &mut map)?;
        items.extend(more);
        fetched += pages;
        next = after;
    }
    let cut = next.map(|_| BundleCut {
        part: part.to_owned(),
        path: None,
        truncated_bytes: 0,
        omitted_items: total
            .map(|total| total.saturating_sub(items.len() as u64))
            .unwrap_or(0)
            .try_into()
            .unwrap_or(u32::MAX),
        reason: format!(
            "only the first {max_pages} pages ({} items) were read{}",
            items.len(),
            if total.is_some() {
                ""
            } else {
                "; Bitbucket did not say how many more there are"
            }
        ),
    });
    Ok(Listed { items, cut })
}

/// Comments grouped into threads by parent, oldest first; only threads
/// whose first comment is neither resolved nor deleted. Replies hang off
/// their thread's first comment whatever their depth; deleted ones are left
/// out.
pub fn unresolved_threads(comments: Vec<PullRequestComment>) -> Vec<CommentThread> {
    let parents: HashMap<u64, Option<u64>> = comments.iter().map(|c| (c.id, c.parent_id)).collect();
    let count = comments.len();
    let root_of = |id: u64| {
        let mut at = id;
        // Bounded: a parent loop in a bad answer ends here.
        for _ in 0..count {
            match parents.get(&at).copied().flatten() {
                Some(parent) if parents.contains_key(&parent) => at = parent,
                _ => break,
            }
        }
        at
    };
    let mut threads: Vec<CommentThread> = Vec::new();
    let mut replies: HashMap<u64, Vec<PullRequestComment>> = HashMap::new();
    for comment in comments {
        let root = root_of(comment.id);
        if root == comment.id {
            threads.push(CommentThread {
                comment,
                replies: Vec::new(),
            });
        } else if !comment.deleted {
            replies.entry(root).or_default().push(comment);
        }
    }
    threads.retain(|t| t.comment.resolution.is_none() && !t.comment.deleted);
    threads.sort_by_key(|t| (t.comment.created_on.clone(), t.comment.id));
    for thread in &mut threads {
        let mut mine = replies.remove(&thread.comment.id).unwrap_or_default();
        mine.sort_by_key(|c| (c.created_on.clone(), c.id));
        thread.replies = mine;
    }
    threads
}

/// The cuts the diff budget made, one per file.
fn diff_cuts(files: &[FileDiff]) -> Vec<BundleCut> {
    files
        .iter()
        .filter(|f| f.truncated_bytes > 0)
        .map(|f| {
            let (part, reason) = if f.patch.is_some() {
                ("diff", "cut after its last whole line within the budget")
            } else {
                (
                    "files",
                    "left out: the budget left had no room for a whole line of it",
                )
            };
            BundleCut {
                part: part.to_owned(),
                path: f.new_path.clone().or_else(|| f.old_path.clone()),
                truncated_bytes: f.truncated_bytes,
                omitted_items: 0,
                reason: reason.to_owned(),
            }
        })
        .collect()
}

pub fn bundle(
    upstream: &dyn Upstream,
    request: ReviewBundleRequest,
) -> Result<ReviewBundle, Error> {
    let budget = Budget::of(
        request.max_bytes,
        request.max_file_bytes,
        DEFAULT_BUNDLE_BYTES,
        |max| (max / 4).max(1),
        "",
    )?;
    if request.context.is_some_and(|c| c > MAX_CONTEXT) {
        return Err(Error::validation(
            "context",
            format!("must be from 0 to {MAX_CONTEXT} lines"),
        ));
    }
    let (workspace, repo_slug) = (&request.workspace, &request.repo_slug);
    let pr_path = pull_request(workspace, repo_slug, request.id)?;
    let pr = fetch(upstream, pr_path.clone())?;

    let diff = match request.context {
        None => Endpoint::get(pr_path.clone().literal("diff")),
        Some(context) => Endpoint::get(reading::repository_diff_path(
            workspace, repo_slug, "diff", &pr,
        )?)
        .query("context", context.to_string())
        .query("topic", "true"),
    }
    .header("accept", "text/plain");
    let diffstat = first_page(
        Endpoint::get(reading::repository_diff_path(
            workspace, repo_slug, "diffstat", &pr,
        )?)
        .query("topic", "true"),
        DIFFSTAT,
    )?;
    let tasks = first_page(
        Endpoint::get(tasks_path(workspace, repo_slug, request.id)?),
        TASKS,
    )?;
    let comments = first_page(Endpoint::get(pr_path.literal("comments")), COMMENTS)?;
    let statuses = pr
        .source_commit
        .as_deref()
        .map(|hash| {
            first_page(
                Endpoint::get(commit_statuses_path(workspace, repo_slug, hash)?),
                COMMIT_STATUSES,
            )
        })
        .transpose()?;
    let mut batch = vec![diffstat.clone(), diff, tasks.clone(), comments.clone()];
    batch.extend(statuses.clone());
    let mut answers = upstream.send_all(&batch).into_iter();
    let mut answer = || {
        answers
            .next()
            .unwrap_or_else(|| Err(Error::internal("an answer is missing")))
    };
    let (diffstat_answer, diff_answer, tasks_answer, comments_answer) =
        (answer(), answer(), answer(), answer());
    let statuses_answer = statuses.as_ref().map(|_| answer());

    let mut cuts = Vec::new();
    let diffstat = rest_of(
        upstream,
        &diffstat,
        diffstat_answer,
        DIFFSTAT,
        ("diffstat", DIFFSTAT_PAGES),
        ApiDiffstat::into_entry,
    )?;
    cuts.extend(diffstat.cut);

    let files = match diff_answer {
        Ok(response) => diffs::within_budget(diffs::parse(&response.body), budget).files,
        // Larger than the response cap: the same request would fail again.
        Err(Error::UpstreamUnavailable(info)) if !info.retryable => {
            cuts.push(BundleCut {
                part: "files".to_owned(),
                path: None,
                truncated_bytes: 0,
                omitted_items: diffstat.items.len().try_into().unwrap_or(u32::MAX),
                reason: format!("the diff could not be read whole: {}", info.message),
            });
            Vec::new()
        }
        Err(other) => return Err(other),
    };
    cuts.extend(diff_cuts(&files));
    let diff_bytes = files
        .iter()
        .filter(|f| !f.binary)
        .map(|f| f.size - f.truncated_bytes)
        .sum();

    let statuses = match (statuses, statuses_answer) {
        (Some(endpoint), Some(answer)) => {
            let listed = rest_of(
                upstream,
                &endpoint,
                answer,
                COMMIT_STATUSES,
                ("statuses", STATUS_PAGES),
                ApiStatus::into_status,
            )?;
            cuts.extend(listed.cut);
            listed.items
        }
        _ => Vec::new(),
    };
    let tasks = rest_of(
        upstream,
        &tasks,
        tasks_answer,
        TASKS,
        ("tasks", TASK_PAGES),
        ApiTask::into_task,
    )?;
    cuts.extend(tasks.cut);
    let comments = rest_of(
        upstream,
        &comments,
        comments_answer,
        COMMENTS,
        ("comments", COMMENT_PAGES),
        ApiComment::into_comment,
    )?;
    cuts.extend(comments.cut);

    Ok(ReviewBundle {
        pull_request: pr,
        diffstat: diffstat.items,
        files,
        statuses,
        open_tasks: tasks
            .items
            .into_iter()
            .filter(|t| t.state == TaskState::Unresolved)
            .collect(),
        unresolved_threads: unresolved_threads(comments.items),
        max_bytes: budget.max_bytes as u32,
        diff_bytes,
        cuts,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::script::Script;

    fn pr() -> serde_json::Value {
        json!({"id": 4, "title": "Big change", "state": "OPEN",
               "source": {"branch": {"name": "feature/x"}, "commit": {"hash": "aaa111"}},
               "destination": {"branch": {"name": "main"}, "commit": {"hash": "bbb222"}}})
    }

    fn big_diff(files: usize, lines: usize) -> String {
        let mut text = String::new();
        for f in 0..files {
            text.push_str(&format!("diff --git a/src/f{f}.rs b/src/f{f}.rs\n--- a/src/f{f}.rs\n+++ b/src/f{f}.rs\n@@ -1,{lines} +1,{lines} @@\n"));
            for l in 0..lines {
                text.push_str(&format!("+line {l} of file {f}\n"));
            }
        }
        text
    }

    fn text(body: String) -> Result<Response, Error> {
        Ok(Response {
            status: 200,
            body: body.into_bytes(),
            ..Response::default()
        })
    }

    fn next(path: &str, page: u32) -> String {
        format!(
            "https://api.bitbucket.org/2.0/repositories/acme/api/{path}?pagelen=100&page={page}"
        )
    }

    fn request() -> ReviewBundleRequest {
        ReviewBundleRequest {
            workspace: "acme".into(),
            repo_slug: "api".into(),
            id: 4,
            max_bytes: Some(8 * 1024),
            max_file_bytes: None,
            context: None,
        }
    }

    #[test]
    fn a_large_pull_request_stays_within_budget_and_names_every_cut() {
        let diffstat_page = |n: u32| {
            let values: Vec<_> = (0..100)
                .map(|i| {
                    json!({"status": "modified", "lines_added": 1, "lines_removed": 0,
                                 "new": {"path": format!("src/f{}.rs", n * 100 + i)}})
                })
                .collect();
            json!({"values": values, "size": 2500, "page": n, "pagelen": 100,
                   "next": next("pullrequests/4/diffstat", n + 1)})
        };
        let mut script = Script::new()
            .ok(pr())
            // The batch: diffstat, diff, tasks, comments, statuses.
            .ok(diffstat_page(1))
            .answer(text(big_diff(40, 150)))
            .ok(json!({"values": [
                {"id": 1, "content": {"raw": "open"}, "state": "UNRESOLVED"},
                {"id": 2, "content": {"raw": "done"}, "state": "RESOLVED"}
            ]}))
            .ok(json!({"values": [
                {"id": 10, "content": {"raw": "root"}, "created_on": "2026-01-01T00:00:00Z"},
                {"id": 11, "content": {"raw": "reply"}, "parent": {"id": 10}, "created_on": "2026-01-02T00:00:00Z"},
                {"id": 12, "content": {"raw": "reply to reply"}, "parent": {"id": 11}, "created_on": "2026-01-03T00:00:00Z"},
                {"id": 20, "content": {"raw": "resolved root"}, "resolution": {"created_on": "x"}},
                {"id": 21, "content": {"raw": "its reply"}, "parent": {"id": 20}},
                {"id": 30, "content": {"raw": ""}, "deleted": true},
                {"id": 40, "content": {"raw": "inline"}, "inline": {"path": "src/f1.rs", "to": 3}, "created_on": "2026-01-04T00:00:00Z"}
            ]}))
            .ok(json!({"values": [{"key": "ci", "state": "FAILED", "url": "https://ci"}]}));
        // Diffstat pages 2 to 20 (asked for together once the total is known).
        for n in 2..=20 {
            script = script.ok(diffstat_page(n));
        }
        let bundle = bundle(&script, request()).unwrap();

        // Within budget: per file a quarter of it, in all the budget.
        assert_eq!(bundle.max_bytes, 8 * 1024);
        assert!(bundle.diff_bytes <= 8 * 1024, "{}", bundle.diff_bytes);
        for file in &bundle.files {
            assert!(file.patch.as_ref().map_or(0, String::len) <= 2048);
        }
        assert_eq!(bundle.files.len(), 40, "every file is named");
        // Every file cut or left out is named, with its bytes.
        let cut_paths: Vec<&str> = bundle
            .cuts
            .iter()
            .filter_map(|c| c.path.as_deref())
            .collect();
        let truncated: Vec<&str> = bundle
            .files
            .iter()
            .filter(|f| f.truncated_bytes > 0)
            .map(|f| f.new_path.as_deref().unwrap())
            .collect();
        assert_eq!(cut_paths, truncated);
        assert_eq!(
            truncated.len(),
            40,
            "each file is over a quarter of the budget"
        );
        assert!(
            bundle.cuts.iter().any(|c| c.part == "files"),
            "later files are left out"
        );
        let cut_bytes: u64 = bundle.cuts.iter().map(|c| c.truncated_bytes).sum();
        let whole: u64 = bundle.files.iter().map(|f| f.size).sum();
        assert_eq!(cut_bytes + bundle.diff_bytes, whole);
        // The diffstat is cut at 20 pages and says how many were left out.
        assert_eq!(bundle.diffstat.len(), 2000);
        let diffstat_cut = bundle.cuts.iter().find(|c| c.part == "diffstat").unwrap();
        assert_eq!(diffstat_cut.omitted_items, 500);
        // Open tasks, unresolved threads with their nested replies, statuses.
        assert_eq!(bundle.open_tasks.len(), 1);
        let roots: Vec<u64> = bundle
            .unresolved_threads
            .iter()
            .map(|t| t.comment.id)
            .collect();
        assert_eq!(roots, [10, 40]);
        let replies: Vec<u64> = bundle.unresolved_threads[0]
            .replies
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(replies, [11, 12]);
        assert_eq!(bundle.statuses.len(), 1);

        let sent = script.sent.borrow();
        assert_eq!(
            sent[1].path.as_str(),
            "/repositories/acme/api/diffstat/aaa111..bbb222"
        );
        assert_eq!(sent[1].query_string(), "topic=true&pagelen=100");
        assert_eq!(
            sent[2].path.as_str(),
            "/repositories/acme/api/pullrequests/4/diff"
        );
        assert_eq!(
            sent[3].path.as_str(),
            "/repositories/acme/api/pullrequests/4/tasks"
        );
        assert_eq!(
            sent[4].path.as_str(),
            "/repositories/acme/api/pullrequests/4/comments"
        );
        assert_eq!(
            sent[5].path.as_str(),
            "/repositories/acme/api/commit/aaa111/statuses"
        );
        assert_eq!(
            sent.len(),
            6 + 19,
            "nothing past the twentieth diffstat page"
        );
    }

    #[test]
    fn a_small_pull_request_is_whole() {
        let script = Script::new()
            .ok(pr())
            .ok(json!({"values": [{"status": "modified", "new": {"path": "src/f0.rs"}, "old": {"path": "src/f0.rs"}}]}))
            .answer(text(big_diff(1, 3)))
            .ok(json!({"values": []}))
            .ok(json!({"values": []}))
            .ok(json!({"values": []}));
        let bundle = bundle(
            &script,
            ReviewBundleRequest {
                max_bytes: None,
                ..request()
            },
        )
        .unwrap();
        assert!(bundle.cuts.is_empty());
        assert_eq!(bundle.max_bytes, DEFAULT_BUNDLE_BYTES);
        assert_eq!(bundle.files[0].truncated_bytes, 0);
    }

    #[test]
    fn context_reads_the_repositorys_three_dot_diff() {
        let script = Script::new()
            .ok(pr())
            .ok(json!({"values": []}))
            .answer(text(String::new()))
            .ok(json!({"values": []}))
            .ok(json!({"values": []}))
            .ok(json!({"values": []}));
        bundle(
            &script,
            ReviewBundleRequest {
                context: Some(0),
                ..request()
            },
        )
        .unwrap();
        let sent = script.sent.borrow();
        assert_eq!(
            sent[2].path.as_str(),
            "/repositories/acme/api/diff/aaa111..bbb222"
        );
        assert_eq!(sent[2].query_string(), "context=0&topic=true");
    }
}
