//! `ref`: what branches, tags and the changes of a push have in common.

use serde_json::{Value, json};

use super::commit;
use crate::world::World;

/// Which of the two kinds of ref Bitbucket serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Branch,
    Tag,
}

/// How Bitbucket names a kind of ref.
pub struct Names {
    /// The ref's `type`, and the word error messages use.
    pub word: &'static str,
    /// The word starting a sentence.
    pub title: &'static str,
    /// What git files the name under, which a caller may leave on it.
    pub prefix: &'static str,
    /// The collection under `R/refs/`.
    pub collection: &'static str,
}

impl RefKind {
    pub fn names(self) -> Names {
        let (word, title, prefix, collection) = match self {
            RefKind::Branch => ("branch", "Branch", "refs/heads/", "branches"),
            RefKind::Tag => ("tag", "Tag", "refs/tags/", "tags"),
        };
        Names {
            word,
            title,
            prefix,
            collection,
        }
    }
}

/// The `ref` definition: the name, the commit it points at (in full; `null`
/// if the commit is unknown) and its links. Branches and tags add their own
/// fields to it.
pub fn git_ref(world: &World, kind: RefKind, repo: &str, name: &str, target: &str) -> Value {
    let base = &world.base_url;
    // The web UI shows a branch on its own page and a tag in the commit list.
    let html = match kind {
        RefKind::Branch => format!("{base}/{repo}/branch/{name}"),
        RefKind::Tag => format!("{base}/{repo}/commits/tag/{name}"),
    };
    let Names {
        word, collection, ..
    } = kind.names();
    json!({
        "type": word,
        "name": name,
        "target": world
            .commit_in(repo, target)
            .map(|c| commit(world, c))
            .unwrap_or(Value::Null),
        "links": {
            "self": { "href": format!("{base}/2.0/repositories/{repo}/refs/{collection}/{name}") },
            "commits": { "href": format!("{base}/2.0/repositories/{repo}/commits/{name}") },
            "html": { "href": html }
        }
    })
}
