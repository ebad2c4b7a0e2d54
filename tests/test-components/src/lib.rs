//! Where the test components were built. Depending on this crate builds
//! them (see `build.rs`), so tests need no extra step.

use std::path::Path;

/// The misbehaving spinner (`spin` never returns, `echo` does).
pub fn spinner() -> &'static Path {
    Path::new(env!("ATOM_SPINNER_COMPONENT"))
}

/// A second, minimal integration that knows nothing of Bitbucket: it shows
/// the host loads any component of the generic contract unchanged.
pub fn hello() -> &'static Path {
    Path::new(env!("ATOM_HELLO_COMPONENT"))
}
