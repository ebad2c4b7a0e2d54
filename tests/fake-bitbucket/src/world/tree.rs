//! File trees: every commit carries the whole tree it records, path →
//! contents. Contents are shared (`Arc<[u8]>`), so a commit that changes two
//! files costs two new blobs and a map of pointers, not a copy of the repository.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// One file's bytes, shared by every tree that holds them unchanged.
pub type Blob = Arc<[u8]>;

/// A commit's files: full path (no leading slash) → contents. Directories
/// are implied by the paths, as in git.
pub type Tree = BTreeMap<String, Blob>;

/// Git's heuristic: a NUL byte in the first 8,000 bytes makes a file binary.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8_000).any(|b| *b == 0)
}

/// A stable 40-digit object id for a blob (diff `index` lines, ETags).
pub fn blob_id(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex::encode(hasher.finalize())[..40].to_owned()
}

/// A three-way merge of whole files: a path changed on one side only takes
/// that side; changed on both, the incoming side (`theirs`) wins, as a
/// resolved conflict would. Good enough for a fake that never conflicts.
pub fn merge(base: &Tree, ours: &Tree, theirs: &Tree) -> Tree {
    let mut merged = ours.clone();
    let paths = base.keys().chain(theirs.keys());
    for path in paths {
        let b = base.get(path);
        let t = theirs.get(path);
        if b == t {
            continue;
        }
        match t {
            Some(blob) => {
                merged.insert(path.clone(), blob.clone());
            }
            None => {
                merged.remove(path);
            }
        }
    }
    merged
}

/// Whether `path` names a directory of `tree` (some file lives below it).
pub fn is_dir(tree: &Tree, path: &str) -> bool {
    let prefix = if path.is_empty() {
        return !tree.is_empty();
    } else {
        format!("{}/", path.trim_end_matches('/'))
    };
    tree.range(prefix.clone()..)
        .next()
        .is_some_and(|(p, _)| p.starts_with(&prefix))
}

/// What a directory holds, `depth` levels down (1 = its own entries):
/// (path, Some(blob)) for files, (path, None) for directories, directories
/// first at each level as `git ls-tree` orders them by name.
pub fn list(tree: &Tree, dir: &str, depth: usize) -> Vec<(String, Option<Blob>)> {
    let dir = dir.trim_matches('/');
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut dirs: BTreeMap<String, ()> = BTreeMap::new();
    let mut files: Vec<(String, Blob)> = Vec::new();
    for (path, blob) in tree.range(prefix.clone()..) {
        let Some(rest) = path.strip_prefix(&prefix) else {
            break;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        // Every directory on the way down, up to `depth` levels.
        for level in 1..parts.len().min(depth + 1) {
            dirs.insert(format!("{prefix}{}", parts[..level].join("/")), ());
        }
        if parts.len() <= depth {
            files.push((path.clone(), blob.clone()));
        }
    }
    // Breadth first: shallower entries before deeper ones, as Bitbucket's
    // max_depth walk answers them.
    let mut entries: Vec<(String, Option<Blob>)> = dirs
        .into_keys()
        .map(|d| (d, None))
        .chain(files.into_iter().map(|(p, b)| (p, Some(b))))
        .collect();
    entries.sort_by(|a, b| {
        let depth = |p: &str| p.matches('/').count();
        depth(&a.0)
            .cmp(&depth(&b.0))
            .then(a.1.is_some().cmp(&b.1.is_some()))
            .then(a.0.cmp(&b.0))
    });
    entries
}
