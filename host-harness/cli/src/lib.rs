//! The `atom-harness` command line, as a library so the binary stays one
//! line and the workspace's tests can name the crate (and its features).

mod cli;
mod commands;
#[cfg(feature = "demo")]
mod demo_page;
mod output;
mod paging;
mod setup;

pub use cli::run;

/// Logs on stderr, as text, or as one JSON object per line with the
/// call's span fields (request id, tenant, operation, agent) when
/// `ATOM_LOG_FORMAT=json`. `RUST_LOG` filters (default `warn`).
pub fn init_logs() {
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
