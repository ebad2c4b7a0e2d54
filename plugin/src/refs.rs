//! Where a new branch or tag starts: Bitbucket's create calls take a commit
//! hash only, so a branch or tag name is first read to its head.

use serde::Deserialize;

use crate::endpoint::{Endpoint, Upstream};
use crate::error::Error;
use crate::model::Hashed;
use crate::path::ApiPath;

/// Git accepts an abbreviated object name of at least four hex digits;
/// Bitbucket's refs API wants one it can resolve on its own, and short ones
/// collide in large repositories.
const SHORTEST_HASH: usize = 7;
const LONGEST_HASH: usize = 64;

#[derive(Deserialize)]
struct ApiRef {
    target: Option<Hashed>,
}

/// `target` as a commit hash: itself when it looks like one, else the head
/// of the branch, or failing that the tag, of that name.
pub fn resolve_target(
    upstream: &dyn Upstream,
    workspace: &str,
    repo_slug: &str,
    target: &str,
) -> Result<String, Error> {
    let target = target.trim();
    if target.is_empty() {
        return Err(Error::validation(
            "target",
            "name a commit hash, a branch or a tag",
        ));
    }
    if looks_like_hash(target) {
        return Ok(target.to_ascii_lowercase());
    }
    let repository = ApiPath::repository(workspace, repo_slug)?;
    for kind in ["refs/branches", "refs/tags"] {
        let path = repository.clone().literal(kind).param("target", target)?;
        match upstream.json::<ApiRef>(&Endpoint::get(path)) {
            Ok(found) => {
                return found.target.and_then(|t| t.hash).ok_or_else(|| {
                    Error::unavailable("Bitbucket answered a ref without its commit", None)
                });
            }
            Err(Error::NotFound(_)) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(Error::validation(
        "target",
        format!(
            "'{}' is neither a commit hash nor a branch or tag of this repository",
            crate::quote::quote(target)
        ),
    ))
}

fn looks_like_hash(text: &str) -> bool {
    (SHORTEST_HASH..=LONGEST_HASH).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A new ref's name without `prefix` (`refs/heads/`, `refs/tags/`),
/// refused when nothing is left.
pub fn new_ref_name<'a>(name: &'a str, prefix: &str) -> Result<&'a str, Error> {
    let name = name.trim().trim_start_matches(prefix);
    if name.is_empty() {
        return Err(Error::validation("name", "must not be empty"));
    }
    Ok(name)
}

/// After a create whose answer was lost, the ref `read` back is this call's
/// only when it points at the asked commit: Bitbucket refuses to create a
/// ref that exists, so one at another commit was someone else's.
pub fn made_here<T>(
    read: Result<T, Error>,
    hash_of: impl FnOnce(&T) -> &str,
    wanted: &str,
) -> Result<Option<T>, Error> {
    match read {
        Ok(found) if points_at(hash_of(&found), wanted) => Ok(Some(found)),
        Ok(_) | Err(Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

fn points_at(found: &str, wanted: &str) -> bool {
    !wanted.is_empty() && found.to_ascii_lowercase().starts_with(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_of_a_hash_length_is_a_hash() {
        assert!(looks_like_hash("4f2c1ab"));
        assert!(looks_like_hash(&"a".repeat(40)));
        assert!(!looks_like_hash("4f2c1a"), "too short to be unambiguous");
        assert!(!looks_like_hash("main"));
        assert!(!looks_like_hash("release/1.0"));
        assert!(points_at("4F2C1AB99", "4f2c1ab"));
        assert!(!points_at("4f2c1ab", ""));
    }
}
