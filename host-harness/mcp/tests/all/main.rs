//! The MCP server from outside, one test binary: tools as a client sees
//! them over an in-memory duplex, what they are told unasked (progress,
//! resource updates), and the HTTP side as the gateway mounts it.

mod notifications;
mod streamable_http;
mod tools;
