//! Where the spinner test component was built. Depending on this crate
//! builds it (see `build.rs`), so tests need no extra step.

use std::path::Path;

/// The spinner's `.wasm`, built with the `component` profile.
pub fn component_path() -> &'static Path {
    Path::new(env!("ATOM_SPINNER_COMPONENT"))
}
