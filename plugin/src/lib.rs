//! Bitbucket Cloud for ATOM, as a WebAssembly component.
//!
//! One module per Bitbucket area (`repositories`, `pullrequests`, ...), each
//! with its upstream JSON models and its operations. Transport, credentials,
//! pagination and error mapping are written once in `transport`, `page` and
//! `error`; `catalog` ties every operation to its typed export and to
//! `execute`, so both run the same function.

// Generated glue is the only unsafe code in the crate.
#[allow(unsafe_code, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "guest",
        // The request and result records double as `execute`'s JSON and
        // the source of its JSON Schemas, so the two cannot drift apart.
        additional_derives: [serde::Serialize, serde::Deserialize, schemars::JsonSchema],
    });

    // Exported symbols are named like `atom:integration/…#execute`, which a
    // native linker refuses; natively the crate only runs its unit tests.
    #[cfg(target_arch = "wasm32")]
    use super::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

mod auth;
mod catalog;
mod config;
mod error;
mod health;
mod host;
mod model;
mod page;
mod path;
mod schema;
mod transport;
mod types;
mod wasi_http;

mod analytics;
mod branches;
mod commits;
mod issues;
mod pipelines;
mod pullrequests;
mod repositories;
mod search;
mod users;
mod webhooks;
mod workspaces;

struct Component;
