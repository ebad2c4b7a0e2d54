//! The one way the component talks to Bitbucket: an `Endpoint` (method, path,
//! query, body) kept apart from the `Client` that authenticates, sends it over
//! wasi:http, caps the answer, retries what is safe to retry and maps
//! failures into the contract's error variant.

use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use waki::ErrorCode;

use std::cell::{Cell, RefCell};

use crate::config::Config;
use crate::error::Error;
use crate::path::ApiPath;
use crate::types::{Credential, CredentialSecret, LogLevel};
use crate::{auth, host, wasi_http};

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const MAX_REDIRECTS: usize = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// Only these are retried: a create or a trigger (POST) never is, since a
    /// lost answer does not mean the upstream did not act.
    fn idempotent(self) -> bool {
        !matches!(self, Method::Post)
    }

    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    fn to_waki(self) -> waki::Method {
        match self {
            Method::Get => waki::Method::Get,
            Method::Post => waki::Method::Post,
            Method::Put => waki::Method::Put,
            Method::Delete => waki::Method::Delete,
        }
    }
}

/// One upstream request, described without sending it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub method: Method,
    pub path: ApiPath,
    query: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Endpoint {
    pub fn new(method: Method, path: ApiPath) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn get(path: ApiPath) -> Self {
        Self::new(Method::Get, path)
    }

    pub fn post(path: ApiPath) -> Self {
        Self::new(Method::Post, path)
    }

    pub fn put(path: ApiPath) -> Self {
        Self::new(Method::Put, path)
    }

    pub fn delete(path: ApiPath) -> Self {
        Self::new(Method::Delete, path)
    }

    /// An extra request header (`range`, a different `accept`...).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn query(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        self.query.push_str(key);
        self.query.push('=');
        self.query
            .extend(utf8_percent_encode(value.as_ref(), QUERY_VALUE));
        self
    }

    pub fn query_opt(self, key: &str, value: Option<impl AsRef<str>>) -> Self {
        match value {
            Some(value) => self.query(key, value),
            None => self,
        }
    }

    /// Replaces the whole query with one Bitbucket produced (a `next` link).
    pub fn with_raw_query(mut self, query: String) -> Self {
        self.query = query;
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn query_string(&self) -> &str {
        &self.query
    }
}

/// A successful (2xx) upstream answer.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    headers: waki::header::HeaderMap,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::unavailable(
                format!("Bitbucket answered JSON this component does not understand: {e}"),
                Some(self.status),
            )
        })
    }
}

pub struct Client {
    config: Config,
    /// The credential in use; replaced when an OAuth token is refreshed.
    credential: RefCell<Credential>,
    /// Requests that left for Bitbucket, retries and redirects included.
    sent: Cell<u32>,
}

impl Client {
    /// A client for the current tenant: its settings and its stored
    /// credential, refreshed first when it is an OAuth token about to expire.
    pub fn connect() -> Result<Self, Error> {
        let config = Config::from_host()?;
        let mut credential = host::credential().ok_or_else(|| {
            Error::auth_invalid("no credential is stored for this connection: add an access token, an API token or log in with OAuth")
        })?;
        if auth::expiring(&credential.secret, config.refresh_margin) {
            credential = auth::refresh_after(&config, credential.version)?;
        }
        Ok(Self {
            config,
            credential: RefCell::new(credential),
            sent: Cell::new(0),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many requests this client has sent to Bitbucket so far.
    pub fn requests_sent(&self) -> u32 {
        self.sent.get()
    }

    pub fn json<T: DeserializeOwned>(&self, endpoint: &Endpoint) -> Result<T, Error> {
        self.send(endpoint)?.json()
    }

    /// Sends `endpoint`, following redirects and retrying idempotent requests
    /// on 429, 5xx and transport failures with jittered exponential backoff.
    /// An OAuth token Bitbucket refuses (401) is refreshed once and the
    /// request sent again: a 401 means Bitbucket did not act on it.
    pub fn send(&self, endpoint: &Endpoint) -> Result<Response, Error> {
        match self.send_with_retries(endpoint) {
            Err(Error::AuthInvalid(info)) if info.status == Some(401) && self.is_oauth() => {
                let seen = self.credential.borrow().version;
                let fresh = auth::refresh_after(&self.config, seen)?;
                *self.credential.borrow_mut() = fresh;
                self.send_with_retries(endpoint)
            }
            other => other,
        }
    }

    fn is_oauth(&self) -> bool {
        matches!(self.credential.borrow().secret, CredentialSecret::Oauth(_))
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
                        .and_then(|v| v.trim().parse::<u32>().ok());
                    (
                        Error::from_upstream(response.status, &response.body, retry_after),
                        retry_after,
                    )
                }
                Err(error) => (error, None),
            };
            let status = match &error {
                Error::UpstreamUnavailable(e) | Error::Timeout(e) => {
                    e.status.map(|s| s.to_string())
                }
                _ => None,
            };
            // A refusal (4xx) is the caller's business; only what may pass is a warning.
            let level = if error.retryable() {
                LogLevel::Warn
            } else {
                LogLevel::Info
            };
            log_request(
                level,
                endpoint,
                attempt,
                status.unwrap_or_else(|| error_kind(&error).to_owned()),
                elapsed_ms,
            );

            let wait = backoff(&self.config, attempt, retry_after);
            let worth_retrying = endpoint.method.idempotent()
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
        let mut url = self.url(endpoint);
        let mut send_credentials = true;
        for _ in 0..=MAX_REDIRECTS {
            let response = self.send_once(endpoint, &url, send_credentials)?;
            let location = response.location();
            match (response.status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) if endpoint.method == Method::Get => {
                    url = resolve(&url, &location);
                    // Log storage and other redirect targets never see the token.
                    send_credentials = within_api(&url, &self.config.api_base_url);
                }
                _ => return Ok(response),
            }
        }
        Err(Error::unavailable(
            "Bitbucket redirected too many times",
            None,
        ))
    }

    fn url(&self, endpoint: &Endpoint) -> String {
        let mut url = format!("{}{}", self.config.api_base_url, endpoint.path.as_str());
        if !endpoint.query.is_empty() {
            url.push('?');
            url.push_str(&endpoint.query);
        }
        url
    }

    fn send_once(
        &self,
        endpoint: &Endpoint,
        url: &str,
        send_credentials: bool,
    ) -> Result<Response, Error> {
        let accept = endpoint
            .headers
            .iter()
            .find(|(name, _)| *name == "accept")
            .map_or("application/json", |(_, value)| value.as_str());
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("accept".into(), accept.as_bytes().to_vec()),
            (
                "user-agent".into(),
                concat!("atom-bitbucket/", env!("CARGO_PKG_VERSION")).into(),
            ),
        ];
        for (name, value) in endpoint
            .headers
            .iter()
            .filter(|(name, _)| *name != "accept")
        {
            headers.push(((*name).into(), value.as_bytes().to_vec()));
        }
        if send_credentials {
            headers.push((
                "authorization".into(),
                authorization(&self.credential.borrow().secret).into_bytes(),
            ));
        }
        let body = match &endpoint.body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).map_err(|e| {
                    Error::internal(format!("could not encode the request body: {e}"))
                })?;
                headers.push(("content-type".into(), b"application/json".to_vec()));
                Some(bytes)
            }
            None if matches!(endpoint.method, Method::Post | Method::Put) => Some(Vec::new()),
            None => None,
        };
        if let Some(bytes) = &body {
            // Bitbucket wants a length, not a chunked body.
            headers.push((
                "content-length".into(),
                bytes.len().to_string().into_bytes(),
            ));
        }
        self.sent.set(self.sent.get() + 1);
        let response = wasi_http::send(
            endpoint.method.to_waki(),
            url,
            &headers,
            body.as_deref(),
            self.config.connect_timeout,
        )
        .map_err(|e| transport_error(&e, url))?;
        let status = response.status_code();
        let headers = response.headers().clone();
        let body = read_capped(&response, self.config.max_response_bytes, url)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

impl Response {
    fn location(&self) -> Option<String> {
        self.header("location").map(str::to_owned)
    }
}

/// Sends a token request (form body) as the `oauth2` crate built it: once,
/// never retried (a refresh token is single use), never logged.
pub fn send_form(
    config: &Config,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, Error> {
    let url = request.uri().to_string();
    let method = match *request.method() {
        http::Method::GET => waki::Method::Get,
        _ => waki::Method::Post,
    };
    let body = request.body().clone();
    let mut headers: Vec<(String, Vec<u8>)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.push(("content-length".into(), body.len().to_string().into_bytes()));
    let response = wasi_http::send(method, &url, &headers, Some(&body), config.connect_timeout)
        .map_err(|e| transport_error(&e, &url))?;
    let status = response.status_code();
    let headers = response.headers().clone();
    let body = read_capped(&response, config.max_response_bytes, &url)?;
    host::log(
        LogLevel::Debug,
        "oauth token request",
        &[("status", status.to_string())],
    );
    let mut answer = http::Response::new(body);
    *answer.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *answer.headers_mut() = headers;
    Ok(answer)
}

fn authorization(secret: &CredentialSecret) -> String {
    match secret {
        CredentialSecret::Oauth(tokens) => format!("Bearer {}", tokens.access_token),
        CredentialSecret::AccessToken(token) => format!("Bearer {token}"),
        CredentialSecret::ApiToken(api) => {
            let pair = format!("{}:{}", api.email, api.token);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
    }
}

fn read_capped(response: &waki::Response, cap: usize, url: &str) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::unavailable(
            format!(
                "Bitbucket's answer is larger than the {cap}-byte response cap (setting max-response-bytes)"
            ),
            Some(response.status_code()),
        )
    };
    let declared = response
        .header("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > cap) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = response
        .chunk(64 * 1024)
        .map_err(|e| transport_error(&e, url))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(error: &anyhow::Error, url: &str) -> Error {
    let origin = origin(url);
    match error.downcast_ref::<ErrorCode>() {
        Some(ErrorCode::HttpRequestDenied) => Error::sandbox_denied(origin),
        Some(
            ErrorCode::DnsTimeout
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionReadTimeout
            | ErrorCode::ConnectionWriteTimeout
            | ErrorCode::HttpResponseTimeout,
        ) => Error::timeout(format!("{origin} did not answer in time")),
        Some(code) => Error::unavailable(format!("could not reach {origin}: {code:?}"), None),
        None => Error::unavailable(format!("could not reach {origin}: {error}"), None),
    }
}

/// `scheme://host[:port]` of a URL: what errors and logs may name.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// Whether `url` is below the API base URL: only there does the token go.
fn within_api(url: &str, base: &str) -> bool {
    url.len() > base.len()
        && url[..base.len()].eq_ignore_ascii_case(base)
        && url.as_bytes()[base.len()] == b'/'
}

fn resolve(current: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{}{location}", origin(current))
    } else {
        let dir = current.rfind('/').map_or(current, |i| &current[..=i]);
        format!("{dir}{location}")
    }
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

fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::AuthExpired(_) => "auth-expired",
        Error::AuthInvalid(_) => "auth-invalid",
        Error::PermissionDenied(_) => "permission-denied",
        Error::NotFound(_) => "not-found",
        Error::Validation(_) => "validation",
        Error::Conflict(_) => "conflict",
        Error::RateLimited(_) => "rate-limited",
        Error::UpstreamUnavailable(_) => "upstream-unavailable",
        Error::Timeout(_) => "timeout",
        Error::RetiredUpstream(_) => "retired-upstream",
        Error::Internal(_) => "internal",
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
            ("path", endpoint.path.as_str().to_owned()),
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
    fn query_values_are_encoded() {
        let endpoint = Endpoint::get(ApiPath::new("repositories/acme"))
            .query("q", r#"name ~ "api" AND is_private = true"#)
            .query("sort", "-updated_on");
        assert_eq!(
            endpoint.query_string(),
            "q=name%20~%20%22api%22%20AND%20is_private%20%3D%20true&sort=-updated_on"
        );
    }

    #[test]
    fn redirects_outside_the_api_get_no_token() {
        let api = "https://api.bitbucket.org/2.0";
        assert!(within_api("https://api.bitbucket.org/2.0/x", api));
        assert!(!within_api("https://logs.example.net/x", api));
        assert!(!within_api("https://api.bitbucket.org/log-storage/x", api));
        assert!(!within_api("https://api.bitbucket.org/2.0evil/x", api));
        assert_eq!(
            resolve("https://api.bitbucket.org/2.0/a/b", "/c"),
            "https://api.bitbucket.org/c"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/2.0/user"),
            "http://127.0.0.1:8080"
        );
    }
}
