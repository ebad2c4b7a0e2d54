//! The component's `Upstream`: sends an `Endpoint` to Bitbucket over
//! wasi:http with the session's credential, follows redirects (the token
//! only ever goes to URLs under `api-base-url`), retries what is safe to
//! retry, refreshes an OAuth token Bitbucket refuses, and logs every attempt
//! without a header or a token.

use std::cell::{Cell, OnceCell};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use http::Method;
use url::Url;

use crate::config::Config;
use crate::endpoint::{Endpoint, Response, Upstream};
use crate::error::Error;
use crate::host;
use crate::quote;
use crate::session::Session;
use crate::types::LogLevel;
use crate::wasi_http::{self, Limits};

const MAX_REDIRECTS: usize = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Longest path a log line carries.
const MAX_LOGGED_PATH: usize = 512;
const USER_AGENT: &str = concat!("atom-bitbucket/", env!("CARGO_PKG_VERSION"));

pub struct Client {
    config: Config,
    /// Opened at the first request: operations that never reach Bitbucket,
    /// or refuse their params first, never read the credential.
    session: OnceCell<Session>,
    sent: Cell<u32>,
}

impl Client {
    /// A client for the current tenant's connection settings.
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            config: Config::from_host()?,
            session: OnceCell::new(),
            sent: Cell::new(0),
        })
    }

    fn session(&self) -> Result<&Session, Error> {
        if let Some(session) = self.session.get() {
            return Ok(session);
        }
        let session = Session::open(&self.config)?;
        Ok(self.session.get_or_init(|| session))
    }

    fn send_with_retries(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = self.send_following_redirects(endpoint);
            let elapsed_ms = started.elapsed().as_millis().to_string();
            let (error, retry_after) = match outcome {
                Ok(response) if response.status < 300 => {
                    log_request(
                        LogLevel::Debug,
                        endpoint,
                        attempt,
                        response.status.to_string(),
                        elapsed_ms,
                    );
                    return Ok(response);
                }
                Ok(response) => {
                    let retry_after = response
                        .header("retry-after")
                        .and_then(|v| retry_after_seconds(v, crate::session::unix_now()));
                    (
                        Error::from_upstream(response.status, &response.body, retry_after),
                        retry_after,
                    )
                }
                Err(error) => (error, None),
            };
            // A refusal (4xx) is the caller's business; only what may pass is a warning.
            let level = if error.retryable() {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            let outcome = error
                .upstream_status()
                .map_or_else(|| error.code().to_owned(), |s| s.to_string());
            log_request(level, endpoint, attempt, outcome, elapsed_ms);

            let wait = backoff(&self.config, attempt, retry_after);
            // A create or a trigger (POST) is never retried: a lost answer
            // does not mean Bitbucket did not act.
            let worth_retrying = endpoint.method.is_idempotent()
                && error.retryable()
                && attempt < self.config.max_attempts
                && wait <= self.config.max_retry_wait;
            if !worth_retrying {
                return Err(error);
            }
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn send_following_redirects(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        let api = Url::parse(&format!("{}/", self.config.api_base_url))
            .map_err(|_| Error::config("api-base-url", "must be an http(s) URL"))?;
        let mut url = api
            .join(&format!(
                "{}{}",
                endpoint.path.as_str().trim_start_matches('/'),
                query_suffix(endpoint.query_string())
            ))
            .map_err(|_| Error::validation("path", "does not make a valid URL"))?;
        let mut send_credentials = true;
        for _ in 0..=MAX_REDIRECTS {
            let response = self.send_once(endpoint, &url, send_credentials)?;
            let location = response.header("location");
            match (response.status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) if endpoint.method == Method::GET => {
                    url = url.join(location).map_err(|_| {
                        Error::unavailable("Bitbucket redirected to an invalid URL", None)
                    })?;
                    // Log storage and other redirect targets never see the token.
                    send_credentials = within(&url, &api);
                }
                _ => return Ok(response),
            }
        }
        Err(Error::unavailable(
            "Bitbucket redirected too many times",
            None,
        ))
    }

    fn send_once(
        &self,
        endpoint: &Endpoint,
        url: &Url,
        send_credentials: bool,
    ) -> Result<Response, Error> {
        let mut headers: Vec<(&str, &[u8])> = vec![("user-agent", USER_AGENT.as_bytes())];
        if !endpoint.headers().any(|(name, _)| name == "accept") {
            headers.push(("accept", b"application/json"));
        }
        headers.extend(
            endpoint
                .headers()
                .map(|(name, value)| (name, value.as_bytes())),
        );
        let authorization = match send_credentials {
            true => Some(self.session()?.authorization()),
            false => None,
        };
        if let Some(value) = &authorization {
            headers.push(("authorization", value.as_bytes()));
        }
        let body = match endpoint.body() {
            Some(body) => {
                headers.push(("content-type", b"application/json"));
                Some(body)
            }
            None if matches!(endpoint.method, Method::POST | Method::PUT) => Some(&[][..]),
            None => None,
        };
        // Bitbucket wants a length, not a chunked body.
        let length = body.map(|b| b.len().to_string());
        if let Some(length) = &length {
            headers.push(("content-length", length.as_bytes()));
        }
        self.sent.set(self.sent.get() + 1);
        let limits = Limits {
            connect_timeout: self.config.connect_timeout,
            max_response_bytes: self.config.max_response_bytes,
        };
        wasi_http::exchange(&endpoint.method, url, &headers, body, &limits)
    }
}

impl Upstream for Client {
    /// Sends `endpoint`, following redirects and retrying idempotent requests
    /// on 429, 5xx and transport failures with jittered exponential backoff.
    /// An OAuth token Bitbucket refuses (401) is refreshed once and the
    /// request sent again: a 401 means Bitbucket did not act on it.
    fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        match self.send_with_retries(endpoint) {
            Err(Error::AuthInvalid(info))
                if info.status == Some(401) && self.session()?.is_oauth() =>
            {
                self.session()?.refresh(&self.config)?;
                self.send_with_retries(endpoint)
            }
            other => other,
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }

    fn requests_sent(&self) -> u32 {
        self.sent.get()
    }
}

fn query_suffix(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    }
}

/// Whether `url` is below `base` (same origin, path under it): only there
/// does the token go.
fn within(url: &Url, base: &Url) -> bool {
    url.origin() == base.origin() && url.path().starts_with(base.path())
}

/// `Retry-After` as seconds (`120`) or as an HTTP date
/// (`Wed, 21 Oct 2026 07:28:00 GMT`), counted from `now` (unix seconds); a
/// date already past means now.
fn retry_after_seconds(value: &str, now: u64) -> Option<u32> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(u32::try_from(at.saturating_sub(now)).unwrap_or(u32::MAX))
}

fn backoff(config: &Config, attempt: u32, retry_after: Option<u32>) -> Duration {
    if let Some(seconds) = retry_after {
        return Duration::from_secs(u64::from(seconds));
    }
    let ceiling = config
        .retry_base
        .saturating_mul(1 << attempt.min(10))
        .min(MAX_BACKOFF);
    // Full jitter; the std hasher's keys come from the host's random source.
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    ceiling.mul_f64((random % 1000) as f64 / 1000.0)
}

fn log_request(
    level: LogLevel,
    endpoint: &Endpoint,
    attempt: u32,
    outcome: String,
    elapsed_ms: String,
) {
    host::log(
        level,
        "bitbucket request",
        &[
            ("method", endpoint.method.as_str().to_owned()),
            // Caller segments are bounded before a request is built; this
            // keeps a log line short whatever reaches it.
            (
                "path",
                quote::bounded(endpoint.path.as_str(), MAX_LOGGED_PATH),
            ),
            ("attempt", attempt.to_string()),
            ("outcome", outcome),
            ("elapsed_ms", elapsed_ms),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        // 1 000 000 000 s after the epoch is Sun, 09 Sep 2001 01:46:40 GMT.
        let now = 1_000_000_000;
        assert_eq!(retry_after_seconds(" 30 ", now), Some(30));
        assert_eq!(
            retry_after_seconds("Sun, 09 Sep 2001 01:47:40 GMT", now),
            Some(60)
        );
        assert_eq!(
            retry_after_seconds("Sun, 09 Sep 2001 01:40:00 GMT", now),
            Some(0),
            "past: now"
        );
        assert_eq!(retry_after_seconds("soon", now), None);
    }

    #[test]
    fn redirects_outside_the_api_get_no_token() {
        let api = Url::parse("https://api.bitbucket.org/2.0/").unwrap();
        let url = |s: &str| Url::parse(s).unwrap();
        assert!(within(&url("https://api.bitbucket.org/2.0/x"), &api));
        assert!(!within(&url("https://logs.example.net/2.0/x"), &api));
        assert!(!within(
            &url("https://api.bitbucket.org/log-storage/x"),
            &api
        ));
        assert!(!within(&url("https://api.bitbucket.org/2.0evil/x"), &api));
        assert!(!within(&url("http://api.bitbucket.org/2.0/x"), &api));
        assert_eq!(
            url("https://api.bitbucket.org/2.0/a/b")
                .join("/c")
                .unwrap()
                .as_str(),
            "https://api.bitbucket.org/c"
        );
    }
}
