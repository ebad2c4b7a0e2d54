//! The generic route families: `/v1` (the contract as it is), `/atom/v1`
//! (ATOM's `IntegrationService`), `/mcp` (the Model Context Protocol), and
//! `/operator/v1` (the tenant registry, for ATOM's backend).

pub mod atom;
pub mod mcp;
pub mod operator;
pub mod v1;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;

/// The caller's `X-Request-Id` when it is a plain token, else a fresh one.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(fresh_request_id)
}

/// 16 hex digits, unique within the process and, from a random start,
/// across processes: an id to correlate by, not a secret, so one system
/// call at start instead of one per request.
fn fresh_request_id() -> String {
    static START: OnceLock<u64> = OnceLock::new();
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let start = *START.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    format!(
        "{:016x}",
        start.wrapping_add(ISSUED.fetch_add(1, Ordering::Relaxed))
    )
}

/// Now, as RFC 3339 text, for the health answers' timestamps.
pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
