//! Where the Bitbucket component was built. Depending on this crate builds
//! it (see `build.rs`), so `cargo test` and `cargo run` need no extra step.

use std::path::Path;

/// The component's `.wasm`, built with the `component` (size) profile.
pub fn component_path() -> &'static Path {
    Path::new(env!("ATOM_BITBUCKET_COMPONENT"))
}
