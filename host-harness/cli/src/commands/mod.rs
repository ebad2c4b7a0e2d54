//! One file per command family; `cli` parses the command line and
//! dispatches here.

pub mod auth;
pub mod call;
#[cfg(feature = "demo")]
pub mod demo;
pub mod discover;
pub mod insights;
pub mod keys;
pub mod mcp;
pub mod merge_waits;
pub mod serve;
pub mod tenants;
