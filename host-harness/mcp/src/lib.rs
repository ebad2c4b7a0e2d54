//! The Model Context Protocol face of an ATOM integration: every operation as
//! one typed, annotated MCP tool, over stdio and Streamable HTTP, on the
//! official Rust SDK (rmcp).
//!
//! The host implements [`Backend`] (the CLI over a sandbox and one tenant,
//! the gateway over a tenant's API key) and hands it to [`McpServer`]; this
//! crate knows no host crate and no integration.

mod backend;
mod prompts;
mod resources;
mod server;
mod subscriptions;
mod transport;

pub use backend::{Backend, CallError, ToolSpec};
pub use prompts::PromptTemplate;
pub use resources::ResourceTemplate;
pub use server::{LISTING_HINT, McpServer, ServerOptions, TenantBackend};
pub use subscriptions::{SUBSCRIPTIONS_PER_SESSION, Subscribed, Subscriptions};
pub use transport::{
    OriginPolicy, check_origin_and_host, router, serve_stdio, streamable_http_service,
};

/// The rmcp this crate is built on, for hosts that need its types.
pub use rmcp;
