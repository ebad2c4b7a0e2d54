//! `commit`, in full and as a reference.

use serde_json::{Value, json};

use super::{account, rendered, summary_named};
use crate::clock::git_date;
use crate::world::{Commit, World};

/// The `commit` definition.
pub fn commit(world: &World, c: &Commit) -> Value {
    let base = &world.base_url;
    let repo = &c.repo;
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|hash| {
            json!({
                "type": "commit",
                "hash": hash,
                "links": {
                    "self": { "href": format!("{base}/2.0/repositories/{repo}/commit/{hash}") },
                    "html": { "href": format!("{base}/{repo}/commits/{hash}") }
                }
            })
        })
        .collect();
    let api = format!("{base}/2.0/repositories/{repo}");
    let hash = &c.hash;
    json!({
        "type": "commit",
        "hash": hash,
        "date": git_date(c.date),
        "author": author(world, &c.author_raw, c.author.as_deref()),
        "message": c.message,
        "summary": rendered(&c.message),
        "rendered": { "message": rendered(&c.message) },
        "parents": parents,
        "repository": summary_named(world, repo),
        "participants": [],
        "links": {
            "self": { "href": format!("{api}/commit/{hash}") },
            "html": { "href": format!("{base}/{repo}/commits/{hash}") },
            "comments": { "href": format!("{api}/commit/{hash}/comments") },
            "patch": { "href": format!("{api}/patch/{hash}") },
            "diff": { "href": format!("{api}/diff/{hash}") },
            "approve": { "href": format!("{api}/commit/{hash}/approve") },
            "statuses": { "href": format!("{api}/commit/{hash}/statuses") }
        }
    })
}

/// An `author` (a commit's, a tag's tagger): what git recorded, and the
/// account when the e-mail matches one.
pub fn author(world: &World, raw: &str, user: Option<&str>) -> Value {
    let mut author = json!({ "type": "author", "raw": raw });
    if let Some(user) = user {
        author["user"] = account(world, user);
    }
    author
}

/// A commit as pull requests and pipelines point at one: the hash
/// (shortened to 12 digits, as Bitbucket's pull requests show it) and links.
pub fn reference(world: &World, repo: &str, hash: &str, short: bool) -> Value {
    let base = &world.base_url;
    let shown = if short && hash.len() > 12 {
        &hash[..12]
    } else {
        hash
    };
    json!({
        "type": "commit",
        "hash": shown,
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{repo}/commit/{shown}") },
            "html": { "href": format!("{base}/{repo}/commits/{shown}") }
        }
    })
}
