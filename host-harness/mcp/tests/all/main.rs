//! The MCP server from outside, one test binary: tools as a client sees
//! them over an in-memory duplex, and the HTTP side as the gateway mounts it.

mod streamable_http;
mod tools;
