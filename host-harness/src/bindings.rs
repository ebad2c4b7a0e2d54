//! Host-side bindings of the contract. The component's WASI imports are
//! served by wasmtime-wasi and wasmtime-wasi-http, so only the `guest` world
//! (our host interface and the exported integration) is generated here.

#[allow(unsafe_code)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "guest",
        // A credential the store holds but cannot open fails the call
        // (a trap with the store's message) rather than looking like none.
        imports: {
            "atom:integration/host.get-credential": async | trappable,
            "atom:integration/host.lock-credential": async | trappable,
            default: async,
        },
        exports: { default: async },
        // For the sealed store's format and the error records' details only:
        // what the host writes as JSON is spelled out in `wire`.
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub use generated::{Guest, GuestPre};

/// The exported `integration` interface's records and error variant.
pub mod contract {
    pub use super::generated::exports::atom::integration::integration::*;
}

/// The imported `host` interface's records.
pub mod host_types {
    pub use super::generated::atom::integration::host::{
        ApiToken, Credential, CredentialSecret, Host, LogLevel, OauthClient, OauthTokens,
        ReplaceError, add_to_linker,
    };
}
