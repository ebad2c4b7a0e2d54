//! End-to-end: the built Bitbucket component in the host's sandbox, against
//! the fake Bitbucket over real HTTP on loopback. One test binary, one
//! module per area (wasmtime links once).

mod ambiguous_writes;
mod analytics;
mod auth;
mod battery;
mod commits_src;
mod connections;
mod contract;
mod deployments;
mod errors;
mod governance;
mod insights;
mod issues;
mod listing;
mod manage;
mod pipelines;
mod projects;
mod pullrequests;
mod reading;
mod refs;
mod sandbox;
mod search;
mod webhooks;
mod wire;
