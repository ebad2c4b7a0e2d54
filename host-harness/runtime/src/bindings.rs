//! Host-side bindings of the generic contract, `atom:integration`, the only
//! WIT package the host knows. The component's WASI imports are served by
//! wasmtime-wasi and wasmtime-wasi-http; an integration's own typed exports
//! (Bitbucket's `atom:bitbucket`) are none of the host's business.

#[allow(unsafe_code)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../../wit/integration@0.8.0",
        world: "atom:integration/plugin",
        // A credential the store holds but cannot open, or a store or
        // shared state that does not answer, fails the call (a trap with
        // the store's message) rather than looking like none.
        imports: {
            "atom:integration/host.get-credential": async | trappable,
            "atom:integration/host.lock-credential": async | trappable,
            "atom:integration/host.save-auth-state": async | trappable,
            "atom:integration/host.take-auth-state": async | trappable,
            default: async,
        },
        exports: { default: async },
        // For the sealed store's format and the error records' details only:
        // what the host writes as JSON is spelled out in `wire`.
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub use generated::Plugin;

/// The `types` interface: records only, but the component imports it, so
/// the linker needs an (empty) implementation.
pub(crate) use generated::atom::integration::types::Host as TypesHost;

/// The contract version this host loads; a component built against another
/// is refused at load with both versions named.
pub const CONTRACT_VERSION: &str = "0.8.0";

/// The generic contract's records and error variant.
pub mod contract {
    pub use super::generated::atom::integration::types::*;
    pub use super::generated::exports::atom::integration::integration::{
        Complexity, IntegrationInfo, Operation, OperationFacts, RateLimitHint,
    };
}

/// The imported `host` interface's records.
pub mod host_types {
    pub use super::generated::atom::integration::host::{
        ApiToken, Credential, CredentialSecret, Host, LogLevel, OauthClient, OauthTokens,
        ReplaceError,
    };
}
