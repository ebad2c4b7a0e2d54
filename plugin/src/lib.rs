//! Bitbucket Cloud for ATOM, as a WebAssembly component.
//!
//! One module per Bitbucket area (`repositories`, `pullrequests`, ...), each
//! with its upstream JSON models and its operations. Every area reaches
//! Bitbucket through the `Upstream` seam of `transport`; credentials and
//! refresh live in `session`, pagination in `page`, error mapping in `error`
//! and the JSON wire format in `wire`. `catalog` ties every operation to its
//! typed export and to `execute`, so both run the same function.

// Generated glue is the only unsafe code in the crate.
#[allow(unsafe_code, unsafe_op_in_unsafe_fn)]
mod bindings {
    /// The bindings, with `$derives` on the records that travel as JSON.
    macro_rules! bindings_deriving {
        ($($derives:tt)*) => {
            wit_bindgen::generate!({
                // The generic contract and Bitbucket's typed functions, each
                // frozen in its version's folder.
                path: ["../wit/integration@0.8.0", "../wit/bitbucket@0.8.0"],
                world: "atom:bitbucket/bitbucket@0.8.0",
                generate_all,
                additional_derives: $($derives)*,
                // Enums get their JSON names from `wire::enums`; the host's
                // records never travel as JSON in the guest.
                additional_derives_ignore: [
                    "auth-kind", "complexity", "health-status", "repo-role", "pull-request-state",
                    "participant-role", "merge-strategy", "run-status", "issue-state", "issue-kind",
                    "issue-priority", "webhook-event-category", "file-change", "tree-entry-kind",
                    "build-state", "activity-kind", "task-state", "merge-verdict", "merge-blocker",
                    "oauth-tokens", "api-token", "credential-secret", "credential", "replace-error",
                    "oauth-client", "log-level", "band", "deployment-source", "attention-signal",
                    "left-out-reason",
                ],
            });
        };
    }

    // The request and result records double as `execute`'s JSON and the
    // source of its JSON Schemas, so the two cannot drift apart. The schemas
    // are rendered by a native test into `schemas/` (see `wire::schemas`):
    // schemars in the guest cost 210 KB of the component and rebuilt every
    // schema on each call.
    #[cfg(test)]
    bindings_deriving!([serde::Serialize, serde::Deserialize, schemars::JsonSchema]);
    #[cfg(not(test))]
    bindings_deriving!([serde::Serialize, serde::Deserialize]);

    // Exported symbols are named like `atom:integration/…#execute`, which a
    // native linker refuses; natively the crate only runs its unit tests.
    #[cfg(target_arch = "wasm32")]
    use crate::catalog::Component;
    #[cfg(target_arch = "wasm32")]
    export!(Component);
}

mod bounds;
mod catalog;
mod commit_files;
mod config;
mod endpoint;
mod error;
mod fan_out;
mod host;
mod model;
mod page;
mod path;
mod quote;
mod reconcile;
mod refs;
mod restrictions;
mod reviewers;
mod session;
mod transport;
mod types;
mod wasi_http;
mod wire;

// Entry points for the fuzz targets and their native smoke test; not an API,
// and not in the component (it only adds size there).
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;

mod analytics;
mod auth;
mod branches;
mod commits;
mod deployments;
mod diffs;
mod downloads;
mod health;
mod insights;
mod issues;
mod permissions;
mod pipelines;
mod projects;
mod pullrequests;
mod repositories;
mod reviews;
mod search;
mod source;
mod statuses;
mod tags;
mod users;
mod variables;
mod webhooks;
mod workspaces;
