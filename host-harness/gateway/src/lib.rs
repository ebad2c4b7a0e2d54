//! The HTTP gateway: the contract over HTTP for hosts that do not embed
//! Wasmtime. One sandbox, the tenants an operator registered; every answer
//! is the component's JSON or `{"error": {...}}` with the HTTP status of
//! its code ([`error`]).
//!
//! Every route needs a caller: `Authorization: Bearer <tenant API key>`, or
//! the session cookie such a key opened (`POST /v1/session`) plus, on
//! anything that changes state, the session's `X-CSRF-Token`.
//!
//! - `GET  /v1/capabilities`, `GET /v1/operations`
//! - `POST /v1/operations/{operation}`: the key's tenant, the params as the body
//! - `POST /v1/tenants/{tenant}/operations/{operation}`: the same, where the
//!   named tenant must be the key's
//! - `POST|GET|DELETE /v1/session`: open (with a key), read, close a browser session
//! - `/atom/v1/…`: ATOM's `IntegrationService` contract (see [`routes::atom`])
//! - `/mcp`: the operations as MCP tools over Streamable HTTP, for a bearer
//!   key's tenant (see [`routes::mcp`])
//! - `/operator/v1/…`: the tenant registry for ATOM's backend, with the
//!   operator's token (see [`routes::operator`])
//! - `/bitbucket/…`: the routes of ATOM's original integration, its OAuth
//!   connection, webhooks and page (see [`bitbucket`]), the only module that
//!   knows Bitbucket
//!
//! [`router`] assembles them; [`state::Gateway`] is what every handler shares.

mod admission;
mod auth;
mod bitbucket;
mod budget;
mod cache;
mod calls;
mod config;
mod error;
mod metrics;
mod openapi;
mod probes;
mod router;
mod routes;
mod server;
mod shared;
mod state;

pub use admission::AdmissionLimits;
pub use auth::directory::KeyVerifier;
pub use auth::guard::HostAllowlist;
pub use bitbucket::charts;
pub use bitbucket::{mcp_prompts, mcp_resources, webhook_secret_id};
pub use config::GatewayConfig;
pub use router::router;
pub use routes::mcp::tool_spec as mcp_tool_spec;
pub use routes::operator::Operator;
pub use server::{ServerLimits, serve, tls_acceptor};
pub use shared::Shared;
