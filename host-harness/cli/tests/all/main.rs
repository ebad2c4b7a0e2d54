//! `atom-harness` from outside: the CLI, and the gateway it serves over real
//! HTTP against the fake Bitbucket. One test binary (wasmtime links once).

mod cli;
mod common;
mod connections;
mod deployment;
mod gateway;
mod mcp;
mod merge_when_green;
mod page;
mod seed_routes;
mod upstream_protection;
mod webhook_intake;
