//! A Wasmtime host for ATOM integration components.
//!
//! It knows the `atom:integration` contract, not any one upstream: it compiles
//! a component once, gives every call a fresh sandboxed `Store` for one tenant
//! (no filesystem, no environment, outbound HTTP only to allowlisted hosts,
//! capped memory, a deadline) and serves the host interface the component
//! imports (credentials, configuration, OAuth state, logs).

mod auth_states;
mod bindings;
pub mod compiled;
mod credential_lock;
mod failure;
mod host_impl;
mod limits;
mod outbound;
mod remembered_credentials;
mod sandbox;
mod tenant;
mod upstream_client;

pub mod params;
pub mod wire;

pub use auth_states::{AuthStates, BoxFuture, MemoryAuthStates};
pub use bindings::{CONTRACT_VERSION, contract, host_types};
pub use failure::{Failure, Limit, StoreDown};
pub use limits::{InstanceAllocation, Limits};
pub use outbound::{Allowlist, OutboundStats};
pub use remembered_credentials::RememberedCredentials;
pub use sandbox::{HostState, Sandbox};
pub use tenant::{
    CredentialStore, MemoryCredentialStore, OauthClient, RefreshLeases, StoreError, Tenant,
    unix_now,
};
