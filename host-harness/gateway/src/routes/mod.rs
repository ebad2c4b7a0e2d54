//! The generic route families: `/v1` (the contract as it is), `/atom/v1`
//! (ATOM's `IntegrationService`), `/mcp` (the Model Context Protocol), and
//! `/operator/v1` (the tenant registry, for ATOM's backend).

pub mod atom;
pub mod mcp;
pub mod operator;
pub mod v1;

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
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            let _ = getrandom::fill(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}

/// Now, as RFC 3339 text, for the health answers' timestamps.
pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
