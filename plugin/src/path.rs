//! Upstream paths: every caller-supplied segment percent-encoded, so a slug,
//! a `{uuid}` or a branch name with `/` stays one segment and can never
//! climb out of the endpoint it was meant for.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Everything but RFC 3986 unreserved characters is encoded, in path
/// segments and query values alike.
pub const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path below the API base URL, built segment by segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiPath(String);

impl ApiPath {
    /// Literal segments written by us (`repositories`, `refs`, ...).
    pub fn new(literal: &str) -> Self {
        Self(format!("/{}", literal.trim_matches('/')))
    }

    /// A segment that came from a caller: encoded, and refused when empty or a
    /// dot-segment. `field` names the parameter in the error.
    pub fn param(mut self, field: &str, value: &str) -> Result<Self, Error> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::validation(field, "must not be empty"));
        }
        if value == "." || value == ".." {
            return Err(Error::validation(field, "is not a valid name"));
        }
        self.0.push('/');
        self.0.extend(utf8_percent_encode(value, UNRESERVED));
        Ok(self)
    }

    pub fn literal(mut self, literal: &str) -> Self {
        self.0.push('/');
        self.0.push_str(literal.trim_matches('/'));
        self
    }

    /// The path with a `/` at its end (Bitbucket's root directory listing).
    pub fn with_trailing_slash(mut self) -> Self {
        if !self.0.ends_with('/') {
            self.0.push('/');
        }
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `/repositories/{workspace}/{repo_slug}`
    pub fn repository(workspace: &str, repo_slug: &str) -> Result<Self, Error> {
        Self::new("repositories")
            .param("workspace", workspace)?
            .param("repo_slug", repo_slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_slashes_and_spaces_are_encoded_within_one_segment() {
        let path = ApiPath::repository("{4f2c-11}", "my repo")
            .unwrap()
            .literal("refs/branches")
            .param("name", "feature/login?x=1#y")
            .unwrap();
        assert_eq!(
            path.as_str(),
            "/repositories/%7B4f2c-11%7D/my%20repo/refs/branches/feature%2Flogin%3Fx%3D1%23y"
        );
    }

    #[test]
    fn empty_and_dot_segments_name_the_field() {
        let Err(Error::Validation(e)) = ApiPath::new("repositories").param("workspace", "  ")
        else {
            panic!("empty workspace must be refused");
        };
        assert_eq!(e.field, "workspace");
        assert!(
            ApiPath::new("repositories")
                .param("repo_slug", "..")
                .is_err()
        );
    }
}
