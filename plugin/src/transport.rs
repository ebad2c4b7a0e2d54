//! The component's `Upstream`: sends an `Endpoint` to Bitbucket over
//! wasi:http with the session's credential, follows redirects (the token
//! only ever goes to URLs under `api-base-url`), retries what is safe to
//! retry, refreshes an OAuth token Bitbucket refuses, and logs every attempt
//! without a header or a token. A write that is not idempotent and whose
//! answer was lost comes back `outcome-unknown`, never retryable. Batches of
//! GETs go out concurrently, a bounded number at a time.

use std::cell::{Cell, OnceCell};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use http::Method;
use url::Url;

use crate::config::Config;
use crate::endpoint::{Endpoint, Response, Upstream};
use crate::error::Error;
use crate::fan_out::{self, Started};
use crate::host;
use crate::quote;
use crate::session::Session;
use crate::types::LogLevel;
use crate::wasi_http::{self, Failed, Limits, Pending};

const MAX_REDIRECTS: usize = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Longest path a log line carries.
const MAX_LOGGED_PATH: usize = 512;
const USER_AGENT: &str = concat!("atom-bitbucket/", env!("CARGO_PKG_VERSION"));
/// Requests of one call in flight at once. Bitbucket counts a tenant's
/// requests per hour, not per connection, so this does not change the
/// budget; it bounds the burst (and Bitbucket's per-second throttling) while
/// still overlapping the round trips that dominate a fan-out.
pub const MAX_IN_FLIGHT: usize = 4;

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

    /// Sends `endpoint` with retries and redirects; a refused OAuth token is
    /// refreshed, unless `refreshed` says it already was for this batch, and
    /// the request sent once more. `first` is the first exchange when it was
    /// already made (in a batch).
    fn send_refreshing(
        &self,
        endpoint: &Endpoint,
        first: Option<Hop>,
        refreshed: &Cell<bool>,
    ) -> Result<Response, Error> {
        match self.send_with_retries(endpoint, first) {
            Err(Error::AuthInvalid(info))
                if info.status == Some(401) && self.session()?.is_oauth() =>
            {
                if !refreshed.replace(true) {
                    self.session()?.refresh(&self.config)?;
                }
                self.send_with_retries(endpoint, None)
            }
            other => other,
        }
    }

    fn send_with_retries(
        &self,
        endpoint: &Endpoint,
        mut first: Option<Hop>,
    ) -> Result<Response, Error> {
        let mut attempt = 1;
        loop {
            let first_hop = first.take();
            // A hop made ahead of time counts towards this attempt's time.
            let started = first_hop
                .as_ref()
                .and_then(|hop| Instant::now().checked_sub(hop.elapsed))
                .unwrap_or_else(Instant::now);
            let outcome = self.send_following_redirects(endpoint, first_hop.map(|hop| hop.outcome));
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
            // A create or a trigger (POST) is never retried, on a 5xx or a
            // 429 either: a lost answer does not mean Bitbucket did not act.
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

    /// The API's base and `endpoint`'s URL under it.
    fn urls(&self, endpoint: &Endpoint) -> Result<(Url, Url), Error> {
        let api = Url::parse(&format!("{}/", self.config.api_base_url))
            .map_err(|_| Error::config("api-base-url", "must be an http(s) URL"))?;
        let url = api
            .join(&format!(
                "{}{}",
                endpoint.path.as_str().trim_start_matches('/'),
                query_suffix(endpoint.query_string())
            ))
            .map_err(|_| Error::validation("path", "does not make a valid URL"))?;
        Ok((api, url))
    }

    fn send_following_redirects(
        &self,
        endpoint: &Endpoint,
        mut first: Option<Result<Response, Error>>,
    ) -> Result<Response, Error> {
        let (api, mut url) = self.urls(endpoint)?;
        let mut send_credentials = true;
        for _ in 0..=MAX_REDIRECTS {
            let response = match first.take() {
                Some(outcome) => outcome?,
                None => self.send_once(endpoint, &url, send_credentials)?,
            };
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

    /// The request's headers, the session's credential among them when
    /// `send_credentials`, and its body; counts it as sent.
    fn prepare<'e>(
        &self,
        endpoint: &'e Endpoint,
        send_credentials: bool,
    ) -> Result<(Headers, Option<&'e [u8]>), Error> {
        let mut headers: Vec<(&str, Vec<u8>)> = vec![("user-agent", USER_AGENT.into())];
        if !endpoint.headers().any(|(name, _)| name == "accept") {
            headers.push(("accept", b"application/json".to_vec()));
        }
        headers.extend(
            endpoint
                .headers()
                .map(|(name, value)| (name, value.as_bytes().to_vec())),
        );
        if send_credentials {
            headers.push(("authorization", self.session()?.authorization().into()));
        }
        let body = match endpoint.body() {
            Some(body) => {
                headers.push(("content-type", b"application/json".to_vec()));
                Some(body)
            }
            None if matches!(endpoint.method, Method::POST | Method::PUT) => Some(&[][..]),
            None => None,
        };
        // Bitbucket wants a length, not a chunked body.
        if let Some(body) = body {
            headers.push(("content-length", body.len().to_string().into()));
        }
        self.sent.set(self.sent.get() + 1);
        Ok((headers, body))
    }

    fn limits(&self) -> Limits {
        Limits {
            connect_timeout: self.config.connect_timeout,
            max_response_bytes: self.config.max_response_bytes,
        }
    }

    fn send_once(
        &self,
        endpoint: &Endpoint,
        url: &Url,
        send_credentials: bool,
    ) -> Result<Response, Error> {
        let (headers, body) = self.prepare(endpoint, send_credentials)?;
        let outcome = wasi_http::exchange(&endpoint.method, url, &headers, body, &self.limits());
        settle(endpoint, outcome)
    }

    /// The first exchange of every endpoint, at most [`MAX_IN_FLIGHT`]
    /// pending at once, in the endpoints' order.
    fn first_hops(&self, endpoints: &[Endpoint]) -> Vec<Hop> {
        fan_out::in_order(
            endpoints.len(),
            MAX_IN_FLIGHT,
            |i| {
                let sent = Instant::now();
                match self.start(&endpoints[i]) {
                    Ok(pending) => Started::Pending((pending, sent)),
                    Err(error) => Started::Done(Hop {
                        outcome: Err(error),
                        elapsed: sent.elapsed(),
                    }),
                }
            },
            |waiting| {
                let pending: Vec<&Pending> = waiting.iter().map(|(p, _)| p).collect();
                wasi_http::ready(&pending)
            },
            |i, (pending, sent)| Hop {
                outcome: settle(&endpoints[i], pending.finish()),
                elapsed: sent.elapsed(),
            },
        )
    }

    fn start(&self, endpoint: &Endpoint) -> Result<Pending, Error> {
        let (_, url) = self.urls(endpoint)?;
        let (headers, body) = self.prepare(endpoint, true)?;
        wasi_http::start(&endpoint.method, &url, &headers, body, &self.limits())
            .map_err(|failed| failed.error)
    }
}

/// A request's header names and values.
type Headers = Vec<(&'static str, Vec<u8>)>;

/// One exchange made ahead of the retry loop, and how long it took.
struct Hop {
    outcome: Result<Response, Error>,
    elapsed: Duration,
}

/// The exchange's outcome as the contract's error. A write that is not
/// idempotent and may have reached Bitbucket is `outcome-unknown`: the
/// caller must never take it for a failure and send it again.
fn settle(endpoint: &Endpoint, outcome: Result<Response, Failed>) -> Result<Response, Error> {
    outcome.map_err(|failed| {
        if failed.may_have_reached && !endpoint.method.is_idempotent() {
            Error::outcome_unknown(failed.error.message())
        } else {
            failed.error
        }
    })
}

impl Upstream for Client {
    /// Sends `endpoint`, following redirects and retrying idempotent requests
    /// on 429, 5xx and transport failures with jittered exponential backoff.
    /// An OAuth token Bitbucket refuses (401) is refreshed once and the
    /// request sent again: a 401 means Bitbucket did not act on it.
    fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        self.send_refreshing(endpoint, None, &Cell::new(false))
    }

    /// GETs go out together, at most [`MAX_IN_FLIGHT`] at once; each then
    /// gets the redirects, retries and refresh a single `send` would. Any
    /// other method is sent on its own, in turn.
    fn send_all(&self, endpoints: &[Endpoint]) -> Vec<Result<Response, Error>> {
        if !endpoints.iter().all(|e| e.method == Method::GET) {
            return endpoints.iter().map(|e| self.send(e)).collect();
        }
        // The credential is read (and refreshed if due) once, before the
        // requests that share it go out.
        if let Err(error) = self.session() {
            return endpoints.iter().map(|_| Err(error.clone())).collect();
        }
        let hops = self.first_hops(endpoints);
        // Requests that went out together with a token Bitbucket refused
        // share one refresh.
        let refreshed = Cell::new(false);
        endpoints
            .iter()
            .zip(hops)
            .map(|(endpoint, hop)| self.send_refreshing(endpoint, Some(hop), &refreshed))
            .collect()
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
