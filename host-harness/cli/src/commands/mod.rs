//! One file per command family; `cli` parses the command line and
//! dispatches here.

pub mod auth;
#[cfg(feature = "demo")]
pub mod demo;
pub mod serve;
pub mod tenants;
