//! The component's `Upstream`: sends an `Endpoint` to Bitbucket over
//! wasi:http with the session's credential, follows redirects (the token
//! only ever goes to URLs under `api-base-url`), retries what is safe to
//! retry, refreshes an OAuth token Bitbucket refuses, and logs every attempt
//! without a header or a token. A write (POST, PUT, PATCH, DELETE) whose
//! answer does not prove Bitbucket did nothing — the answer was lost, cut
//! short, late, or a 5xx / 555 — comes back `outcome-unknown`, never retried
//! and never retryable; only a 4xx (429 included) proves it was not done.
//! Batches of GETs go out concurrently, a bounded number at a time.

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
/// The longest wait once Bitbucket said the credential is near its limit.
const MAX_BACKOFF_NEAR_LIMIT: Duration = Duration::from_secs(16);
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
    /// Bitbucket answered `X-RateLimit-NearLimit: true` during this call
    /// (only access tokens get the header): retries wait longer.
    near_limit: Cell<bool>,
}

impl Client {
    /// A client for the current tenant's connection settings.
    pub fn new() -> Result<Self, Error> {
        Ok(Self {
            config: Config::from_host()?,
            session: OnceCell::new(),
            sent: Cell::new(0),
            near_limit: Cell::new(false),
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
            if let Ok(response) = &outcome {
                self.note_near_limit(response);
            }
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
                    let error = Error::from_upstream(response.status, &response.body, retry_after);
                    (
                        answered_write(endpoint, response.status, error),
                        retry_after,
                    )
                }
                Err(error) => (error, None),
            };
            // A refusal (4xx) is the caller's business; only what may pass,
            // and a write that may or may not have happened, is a warning.
            let level = if error.retryable() || matches!(error, Error::OutcomeUnknown(_)) {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            let outcome = error
                .upstream_status()
                .map_or_else(|| error.code().to_owned(), |s| s.to_string());
            log_request(level, endpoint, attempt, outcome, elapsed_ms);

            let wait = backoff(
                self.config.retry_base,
                attempt,
                retry_after,
                self.near_limit.get(),
                random(attempt),
            );
            // A create or a trigger (POST) is never retried, on a 5xx or a
            // 429 either: a lost answer does not mean Bitbucket did not act,
            // and a 429 is the caller's to retry (it proves nothing was done).
            // A PUT or DELETE is retried on a 429 only: a 5xx to any write is
            // `outcome-unknown`, which is never retryable.
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

    /// `X-RateLimit-NearLimit: true` (sent to access tokens only) is a
    /// slow-down signal: it is logged once per call, and every later retry
    /// of the call waits longer (see [`backoff`]). Successes are not paced:
    /// a call is a handful of requests, and the hour's budget is Bitbucket's
    /// to enforce with a 429.
    fn note_near_limit(&self, response: &Response) {
        let near = response
            .header("x-ratelimit-nearlimit")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if near && !self.near_limit.replace(true) {
            let limit = response.header("x-ratelimit-limit").unwrap_or("unknown");
            let resource = response.header("x-ratelimit-resource").unwrap_or("unknown");
            host::log(
                LogLevel::Warn,
                "bitbucket rate limit nearly reached; retries back off longer",
                &[
                    ("limit_per_hour", quote::bounded(limit, 32)),
                    ("resource", quote::bounded(resource, 64)),
                ],
            );
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
                headers.push(("content-type", endpoint.content_type().as_bytes().to_vec()));
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

/// Whether `method` may change something upstream.
pub fn is_write(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The exchange's outcome as the contract's error. A write that may have
/// reached Bitbucket (its answer lost, cut short or late, or a 5xx whose
/// body could not be read) is `outcome-unknown`: the caller must never take
/// it for a failure and send it again.
fn settle(endpoint: &Endpoint, outcome: Result<Response, Failed>) -> Result<Response, Error> {
    outcome.map_err(|failed| {
        let server_trouble = failed.error.upstream_status().is_some_and(|s| s >= 500);
        if is_write(&endpoint.method) && (failed.may_have_reached || server_trouble) {
            Error::outcome_unknown(failed.error.message())
        } else {
            failed.error
        }
    })
}

/// A write's non-success answer: a 5xx (555, Bitbucket's edge timeout,
/// among them) does not prove Bitbucket did not act — creates, merges and
/// triggers have been seen to exist afterwards (API-NOTES §8b) — so it is
/// `outcome-unknown`. A 4xx (429 included) is a refusal: nothing was done,
/// and the mapped error stands.
fn answered_write(endpoint: &Endpoint, status: u16, error: Error) -> Error {
    if is_write(&endpoint.method) && status >= 500 {
        Error::outcome_unknown_answered(status, error.message())
    } else {
        error
    }
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

/// Random bits for a backoff's jitter: the std hasher's keys come from the
/// host's random source.
fn random(attempt: u32) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(attempt)
}

/// How long to wait before attempt `attempt + 1`. `Retry-After` is honoured
/// when Bitbucket sends it (it usually does not). Otherwise exponential from
/// `base`, bounded, with full jitter (`random` picks the point). Once the
/// credential is near its limit the ceiling doubles (bounded higher) and the
/// jitter only covers its upper half, so no retry goes out almost at once.
fn backoff(
    base: Duration,
    attempt: u32,
    retry_after: Option<u32>,
    near_limit: bool,
    random: u64,
) -> Duration {
    if let Some(seconds) = retry_after {
        return Duration::from_secs(u64::from(seconds));
    }
    let ceiling = base.saturating_mul(1 << attempt.min(10));
    let fraction = (random % 1000) as f64 / 1000.0;
    if near_limit {
        let ceiling = ceiling.saturating_mul(2).min(MAX_BACKOFF_NEAR_LIMIT);
        ceiling / 2 + (ceiling / 2).mul_f64(fraction)
    } else {
        ceiling.min(MAX_BACKOFF).mul_f64(fraction)
    }
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
    fn backoff_grows_with_jitter_and_lengthens_near_the_limit() {
        let base = Duration::from_millis(100);
        // Full jitter: anywhere from zero to the ceiling (base × 2^attempt).
        assert_eq!(backoff(base, 1, None, false, 0), Duration::ZERO);
        assert_eq!(
            backoff(base, 1, None, false, 999),
            Duration::from_millis(199) + Duration::from_micros(800)
        );
        assert_eq!(
            backoff(base, 3, None, false, 500),
            Duration::from_millis(400)
        );
        // Bounded.
        assert_eq!(backoff(base, 10, None, false, 500), MAX_BACKOFF / 2);
        // Near the limit: never less than the ordinary ceiling, bounded higher.
        assert_eq!(backoff(base, 1, None, true, 0), Duration::from_millis(200));
        assert!(backoff(base, 1, None, true, 999) < Duration::from_millis(400));
        assert_eq!(backoff(base, 10, None, true, 0), MAX_BACKOFF_NEAR_LIMIT / 2);
        assert!(backoff(base, 10, None, true, 999) <= MAX_BACKOFF_NEAR_LIMIT);
        // Retry-After, when sent, wins.
        assert_eq!(backoff(base, 1, Some(3), true, 0), Duration::from_secs(3));
    }

    #[test]
    fn a_write_answered_5xx_or_555_is_an_unknown_outcome_and_a_4xx_stands() {
        let post = Endpoint::post(crate::path::ApiPath::new("repositories/a/b/pipelines"));
        let get = Endpoint::get(crate::path::ApiPath::new("repositories/a/b/pipelines"));
        let delete = Endpoint::delete(crate::path::ApiPath::new("repositories/a/b/hooks/x"));
        for status in [500, 502, 503, 504, 555] {
            for write in [&post, &delete] {
                let error = answered_write(write, status, Error::from_upstream(status, b"", None));
                assert_eq!(error.code(), "outcome_unknown", "{status}");
                assert!(!error.retryable(), "{status}");
                assert_eq!(error.upstream_status(), Some(status));
            }
            let read = answered_write(&get, status, Error::from_upstream(status, b"", None));
            assert!(read.retryable(), "a read stays retryable: {status}");
        }
        for status in [400, 403, 404, 409, 429] {
            let error = answered_write(&post, status, Error::from_upstream(status, b"", None));
            assert_ne!(error.code(), "outcome_unknown", "{status}");
        }
        let limited = answered_write(&post, 429, Error::from_upstream(429, b"", None));
        assert!(limited.retryable(), "a 429 proves nothing was done");
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
