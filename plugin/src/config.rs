//! Per-connection settings, read from the host's non-secret configuration.

use std::time::Duration;

use url::Url;

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

impl Default for Config {
    fn default() -> Self {
        Self {
            api_base_url: DEFAULT_API_BASE_URL.to_owned(),
            oauth_base_url: DEFAULT_OAUTH_BASE_URL.to_owned(),
            max_attempts: 3,
            retry_base: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 8 << 20,
            refresh_margin: Duration::from_secs(300),
            merge_poll_interval: Duration::from_secs(1),
            merge_poll_attempts: 30,
        }
    }
}

impl Config {
    pub fn from_host() -> Result<Self, Error> {
        let default = Self::default();
        let millis = |key: &str, default: Duration, max: u64| {
            number(key, default.as_millis() as u64, 0, max).map(Duration::from_millis)
        };
        Ok(Self {
            api_base_url: base_url("api-base-url", &default.api_base_url)?,
            oauth_base_url: base_url("oauth-base-url", &default.oauth_base_url)?,
            max_attempts: number("max-attempts", default.max_attempts.into(), 1, 10)? as u32,
            retry_base: millis("retry-base-ms", default.retry_base, 60_000)?,
            max_retry_wait: millis("max-retry-wait-ms", default.max_retry_wait, 600_000)?,
            connect_timeout: Duration::from_millis(number(
                "connect-timeout-ms",
                default.connect_timeout.as_millis() as u64,
                1,
                600_000,
            )?),
            max_response_bytes: number(
                "max-response-bytes",
                default.max_response_bytes as u64,
                1024,
                256 << 20,
            )? as usize,
            refresh_margin: Duration::from_secs(number(
                "refresh-margin-secs",
                default.refresh_margin.as_secs(),
                0,
                3_600,
            )?),
            merge_poll_interval: millis("merge-poll-ms", default.merge_poll_interval, 60_000)?,
            merge_poll_attempts: number(
                "merge-poll-attempts",
                default.merge_poll_attempts.into(),
                1,
                600,
            )? as u32,
        })
    }
}

fn base_url(key: &str, default: &str) -> Result<String, Error> {
    let value = host::config(key).unwrap_or_else(|| default.to_owned());
    let trimmed = value.trim().trim_end_matches('/');
    match Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(trimmed.to_owned())
        }
        _ => Err(Error::config(key, "must be an http(s) URL")),
    }
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
