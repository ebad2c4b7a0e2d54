//! Just enough git: commits with parents, the paths they touched and the
//! whole tree they record, branches and tags pointing at them, revisions
//! resolved the way Bitbucket does.

use std::collections::HashSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::World;
use super::tree::Tree;

#[derive(Clone, Debug)]
pub struct Commit {
    /// The repository's full name, `workspace/slug`.
    pub repo: String,
    /// 40 lower-case hex digits.
    pub hash: String,
    pub message: String,
    /// The author's account uuid, when the e-mail matches a Bitbucket user.
    pub author: Option<String>,
    /// `Name <e-mail>` as git recorded it.
    pub author_raw: String,
    pub date: u64,
    pub parents: Vec<String>,
    /// Files the commit changed (so that `path=` filters work).
    pub paths: Vec<String>,
    /// Every file as of this commit (shared with the commits that did not
    /// change it).
    pub tree: Arc<Tree>,
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub repo: String,
    pub name: String,
    /// The head commit's full hash.
    pub target: String,
    pub merge_strategies: Vec<String>,
    pub default_merge_strategy: String,
}

#[derive(Clone, Debug)]
pub struct Tag {
    pub repo: String,
    pub name: String,
    /// The tagged commit's full hash.
    pub target: String,
    /// `None` for a lightweight tag, which is only a name for the commit.
    pub annotation: Option<Annotation>,
}

/// What an annotated tag records besides its commit.
#[derive(Clone, Debug)]
pub struct Annotation {
    pub message: String,
    /// The tagger's account uuid, when the e-mail matches a Bitbucket user.
    pub tagger: Option<String>,
    /// `Name <e-mail>` as git recorded it.
    pub tagger_raw: String,
    pub date: u64,
}

/// Every strategy Bitbucket knows, in the order it lists them.
pub const MERGE_STRATEGIES: [&str; 6] = [
    "merge_commit",
    "squash",
    "fast_forward",
    "squash_fast_forward",
    "rebase_fast_forward",
    "rebase_merge",
];

/// A deterministic commit hash: the same seed gives the same history.
pub fn commit_hash(repo: &str, n: u64, message: &str) -> String {
    let digest = Sha256::digest(format!("{repo}\n{n}\n{message}").as_bytes());
    hex::encode(digest)[..40].to_owned()
}

/// What a revision named.
pub enum Resolved {
    Found(String),
    Ambiguous,
    Missing,
}

impl World {
    /// A branch by workspace slug, repository slug and name.
    pub fn branch(&self, workspace: &str, repo: &str, name: &str) -> Option<&Branch> {
        self.branch_in(&format!("{workspace}/{repo}"), name)
    }

    /// A commit by workspace slug, repository slug and full or short hash.
    pub fn commit(&self, workspace: &str, repo: &str, hash: &str) -> Option<&Commit> {
        match self.resolve_hash(&format!("{workspace}/{repo}"), hash) {
            Resolved::Found(full) => self.commit_in(&format!("{workspace}/{repo}"), &full),
            _ => None,
        }
    }

    pub(crate) fn branch_in(&self, repo: &str, name: &str) -> Option<&Branch> {
        self.branches
            .iter()
            .find(|b| b.repo == repo && b.name == name)
    }

    /// A tag by workspace slug, repository slug and name.
    pub fn tag(&self, workspace: &str, repo: &str, name: &str) -> Option<&Tag> {
        self.tag_in(&format!("{workspace}/{repo}"), name)
    }

    pub(crate) fn tag_in(&self, repo: &str, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.repo == repo && t.name == name)
    }

    pub(crate) fn commit_in(&self, repo: &str, hash: &str) -> Option<&Commit> {
        self.commits
            .iter()
            .find(|c| c.repo == repo && c.hash == hash)
    }

    /// A full hash from a full or unambiguous short one (at least 7 digits).
    pub(crate) fn resolve_hash(&self, repo: &str, prefix: &str) -> Resolved {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 7 || prefix.len() > 40 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Resolved::Missing;
        }
        let mut hits = self
            .commits
            .iter()
            .filter(|c| c.repo == repo && c.hash.starts_with(&prefix));
        match (hits.next(), hits.next()) {
            (Some(c), None) => Resolved::Found(c.hash.clone()),
            (Some(_), Some(_)) => Resolved::Ambiguous,
            _ => Resolved::Missing,
        }
    }

    /// A branch name, a tag name or a hash, as `include`, `exclude` and
    /// `{revision}` take (a tag's `links.commits` names the tag).
    pub(crate) fn resolve(&self, repo: &str, revision: &str) -> Option<String> {
        let name = revision.strip_prefix("refs/heads/").unwrap_or(revision);
        if let Some(branch) = self.branch_in(repo, name) {
            return Some(branch.target.clone());
        }
        let name = revision.strip_prefix("refs/tags/").unwrap_or(revision);
        if let Some(tag) = self.tag_in(repo, name) {
            return Some(tag.target.clone());
        }
        match self.resolve_hash(repo, revision) {
            Resolved::Found(hash) => Some(hash),
            _ => None,
        }
    }

    /// The heads and everything they descend from.
    pub(crate) fn reachable(&self, repo: &str, heads: &[String]) -> HashSet<String> {
        let mut seen = HashSet::new();
        let mut stack: Vec<String> = heads.to_vec();
        while let Some(hash) = stack.pop() {
            if !seen.insert(hash.clone()) {
                continue;
            }
            if let Some(commit) = self.commit_in(repo, &hash) {
                stack.extend(commit.parents.iter().cloned());
            }
        }
        seen
    }

    /// The newest commit both `a` and `b` descend from (`git merge-base`).
    pub(crate) fn merge_base(&self, repo: &str, a: &str, b: &str) -> Option<String> {
        let from_a = self.reachable(repo, &[a.to_owned()]);
        let from_b = self.reachable(repo, &[b.to_owned()]);
        self.commits
            .iter()
            .filter(|c| c.repo == repo && from_a.contains(&c.hash) && from_b.contains(&c.hash))
            .max_by_key(|c| {
                (
                    c.date,
                    self.reachable(repo, std::slice::from_ref(&c.hash)).len(),
                )
            })
            .map(|c| c.hash.clone())
    }

    /// The tree a commit records (empty for an unknown hash).
    pub(crate) fn tree_at(&self, repo: &str, hash: &str) -> Arc<Tree> {
        self.commit_in(repo, hash)
            .map(|c| c.tree.clone())
            .unwrap_or_default()
    }

    pub(crate) fn is_ancestor(&self, repo: &str, ancestor: &str, of: &str) -> bool {
        self.reachable(repo, &[of.to_owned()]).contains(ancestor)
    }

    /// Records a commit and answers its hash.
    pub(crate) fn add_commit(&mut self, mut commit: Commit) -> String {
        self.counter += 1;
        commit.hash = commit_hash(&commit.repo, 1_000_000 + self.counter, &commit.message);
        let hash = commit.hash.clone();
        self.commits.push(commit);
        hash
    }
}
