//! `pullrequest` and its `participant`s.

use serde_json::{Value, json};

use super::{account, rendered, summary_named};
use crate::clock::stamp;
use crate::world::{Participant, PrState, PullRequest, World};

/// The `participant` definition.
pub fn participant(world: &World, p: &Participant) -> Value {
    json!({
        "type": "participant",
        "user": account(world, &p.user),
        "role": if p.reviewer { "REVIEWER" } else { "PARTICIPANT" },
        "approved": p.approved,
        "state": p.state.map(|s| s.as_str()),
        "participated_on": p.participated_on.map(stamp),
    })
}

/// The `pullrequest` definition.
pub fn pullrequest(world: &World, pr: &PullRequest) -> Value {
    let base = &world.base_url;
    let repo = &pr.repo;
    let api = format!("{base}/2.0/repositories/{repo}/pullrequests/{}", pr.id);
    let open = pr.state == PrState::Open;
    let endpoint = |name: &str, stored: &str| {
        let live = world.branch_in(repo, name);
        let hash = match live {
            Some(b) if open => b.target.clone(),
            _ => stored.to_owned(),
        };
        let mut branch = json!({ "name": name });
        if let Some(b) = live {
            branch["merge_strategies"] = json!(b.merge_strategies);
            branch["default_merge_strategy"] = json!(b.default_merge_strategy);
        }
        json!({
            "branch": branch,
            "commit": { "hash": short(&hash) },
            "repository": summary_named(world, repo),
        })
    };
    json!({
        "type": "pullrequest",
        "id": pr.id,
        "title": pr.title,
        "description": pr.description,
        "summary": rendered(&pr.description),
        "rendered": {
            "title": rendered(&pr.title),
            "description": rendered(&pr.description),
            "reason": rendered(&pr.reason),
        },
        "state": pr.state.as_str(),
        "draft": pr.draft,
        "queued": pr.queued,
        "author": account(world, &pr.author),
        "source": endpoint(&pr.source_branch, &pr.source_commit),
        "destination": endpoint(&pr.destination_branch, &pr.destination_commit),
        "merge_commit": pr.merge_commit.as_deref().map(|h| json!({ "hash": short(h) })),
        "close_source_branch": pr.close_source_branch,
        "comment_count": pr.comment_count(),
        "task_count": pr.task_count(),
        "reviewers": pr.reviewers.iter().map(|r| account(world, r)).collect::<Vec<_>>(),
        "participants": pr.participants.iter().map(|p| participant(world, p)).collect::<Vec<_>>(),
        "closed_by": pr.closed_by.as_deref().map(|u| account(world, u)),
        "reason": pr.reason,
        "created_on": stamp(pr.created_on),
        "updated_on": stamp(pr.updated_on),
        "links": {
            "self": { "href": api },
            "html": { "href": format!("{base}/{repo}/pull-requests/{}", pr.id) },
            "commits": { "href": format!("{api}/commits") },
            "approve": { "href": format!("{api}/approve") },
            "diff": { "href": format!("{api}/diff") },
            "diffstat": { "href": format!("{api}/diffstat") },
            "comments": { "href": format!("{api}/comments") },
            "activity": { "href": format!("{api}/activity") },
            "merge": { "href": format!("{api}/merge") },
            "decline": { "href": format!("{api}/decline") }
        }
    })
}

/// Pull request endpoints carry the 12-character short hash, as Bitbucket's do.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
