//! Per-connection settings, read from the host's non-secret configuration.

use std::time::Duration;

use crate::error::Error;
use crate::host;

pub const DEFAULT_API_BASE_URL: &str = "https://api.bitbucket.org/2.0";
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://bitbucket.org";

#[derive(Clone, Debug)]
pub struct Config {
    /// `https://api.bitbucket.org/2.0`, without a trailing slash.
    pub api_base_url: String,
    pub oauth_base_url: String,
    /// Attempts for an idempotent request, the first included.
    pub max_attempts: u32,
    pub retry_base: Duration,
    /// Longest wait a `Retry-After` may ask for before we give up instead.
    pub max_retry_wait: Duration,
    pub connect_timeout: Duration,
    pub max_response_bytes: usize,
    /// An OAuth access token this close to expiry is refreshed before use.
    pub refresh_margin: Duration,
    /// How often and how many times an asynchronous merge is polled.
    pub merge_poll_interval: Duration,
    pub merge_poll_attempts: u32,
}

impl Config {
    pub fn from_host() -> Result<Self, Error> {
        Ok(Self {
            api_base_url: base_url("api-base-url", DEFAULT_API_BASE_URL)?,
            oauth_base_url: base_url("oauth-base-url", DEFAULT_OAUTH_BASE_URL)?,
            max_attempts: number("max-attempts", 3, 1, 10)? as u32,
            retry_base: Duration::from_millis(number("retry-base-ms", 500, 0, 60_000)?),
            max_retry_wait: Duration::from_millis(number("max-retry-wait-ms", 30_000, 0, 600_000)?),
            connect_timeout: Duration::from_millis(number(
                "connect-timeout-ms",
                10_000,
                1,
                600_000,
            )?),
            max_response_bytes: number("max-response-bytes", 8 << 20, 1024, 256 << 20)? as usize,
            refresh_margin: Duration::from_secs(number("refresh-margin-secs", 300, 0, 3_600)?),
            merge_poll_interval: Duration::from_millis(number("merge-poll-ms", 1_000, 0, 60_000)?),
            merge_poll_attempts: number("merge-poll-attempts", 30, 1, 600)? as u32,
        })
    }
}

fn base_url(key: &str, default: &str) -> Result<String, Error> {
    let value = host::config(key).unwrap_or_else(|| default.to_owned());
    let trimmed = value.trim().trim_end_matches('/');
    if !(trimmed.starts_with("https://") || trimmed.starts_with("http://")) {
        return Err(Error::config(key, "must be an http(s) URL"));
    }
    Ok(trimmed.to_owned())
}

fn number(key: &str, default: u64, min: u64, max: u64) -> Result<u64, Error> {
    let Some(raw) = host::config(key) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(Error::config(
            key,
            &format!("must be a whole number from {min} to {max}"),
        )),
    }
}
