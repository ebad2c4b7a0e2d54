//! `atom-harness`: run an ATOM integration component from the command line.

mod auth_cli;
mod cli;
#[cfg(feature = "demo")]
mod demo;
#[cfg(feature = "demo")]
mod demo_page;
mod output;
mod paging;
mod serve;
mod setup;
mod tenants_cli;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    init_logs();
    match cli::run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs on stderr, as text, or as one JSON object per line with the
/// call's span fields (request id, tenant, operation, agent) when
/// `ATOM_LOG_FORMAT=json`. `RUST_LOG` filters (default `warn`).
fn init_logs() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::env::var("ATOM_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
}
