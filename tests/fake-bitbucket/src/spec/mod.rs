//! Atlassian's spec, enforced: every request the fake receives and every
//! answer it sends is checked against `spec/openapi.json`, and each
//! departure is recorded as a [`Violation`] in the world. The fake's own
//! tests, and every test that starts one, fail on them (see
//! `FakeBitbucket`'s `Drop`). The known gaps between spec and live API are
//! in [`overrides`].

mod check;
mod convert;
mod document;
mod layer;
pub mod overrides;
mod scopes;

use std::fmt;

pub(crate) use layer::{Injected, RawContent, validate};
pub(crate) use scopes::enforce as enforce_scopes;

/// One way a request or an answer departs from the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub method: String,
    /// The request's path, as received.
    pub path: String,
    /// `request` or `response`: whose fault it is (the caller's or the fake's).
    pub side: &'static str,
    /// Where: `status`, `query parameter q`, `body/values/0/type`, …
    pub at: String,
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({}) {}: {}",
            self.method, self.path, self.side, self.at, self.what
        )
    }
}
