//! HTTP exchanges over wasi:http, with waki's bindings and response type:
//! the request as given, the answer read up to a cap, transport failures
//! mapped into the contract's error and marked by whether the request may
//! have reached the server. Several requests can be pending at once
//! (`start`, `ready`, `Pending::finish`). Nothing here knows about
//! credentials.
//!
//! waki's own `send` checks the body stream once more after writing the last
//! byte; when the host has already handed the whole body over and released
//! the stream (a fast server on another thread), that check fails with
//! `StreamError::Closed` and a request that went through is reported as
//! failed. A lost answer to a POST must never look like a failure, so the
//! body is written here: every byte accounted for, and only a stream that
//! closes before the last byte is an error.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use http::Method;
use url::Url;
use waki::ErrorCode;
use waki::bindings::wasi::http::outgoing_handler;
use waki::bindings::wasi::http::types::{
    Fields, FutureIncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use waki::bindings::wasi::io::poll;

use crate::endpoint::Response;
use crate::error::Error;

/// How one exchange is bounded.
pub struct Limits {
    pub connect_timeout: Duration,
    pub max_response_bytes: usize,
}

/// An exchange that failed, and whether Bitbucket may have acted on it: a
/// request that never left (refused, unresolvable, denied by the sandbox)
/// cannot have, one whose answer was lost on the way back may have.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    pub may_have_reached: bool,
}

impl Failed {
    fn before_sending(error: Error) -> Self {
        Self {
            error,
            may_have_reached: false,
        }
    }

    fn answer_lost(error: Error) -> Self {
        Self {
            error,
            may_have_reached: true,
        }
    }
}

/// A request on its way: its answer is collected with [`Pending::finish`],
/// and several can wait together with [`ready`].
pub struct Pending {
    response: FutureIncomingResponse,
    url: Url,
    max_response_bytes: usize,
}

/// Sends one request and reads the whole answer, whatever its status.
pub fn exchange(
    method: &Method,
    url: &Url,
    headers: &[(&str, Vec<u8>)],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Response, Failed> {
    start(method, url, headers, body, limits)?.finish()
}

/// Hands the request to the host and writes its body; the answer is not
/// waited for.
pub fn start(
    method: &Method,
    url: &Url,
    headers: &[(&str, Vec<u8>)],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Pending, Failed> {
    let (request, options) = build(method, url, headers, limits.connect_timeout)
        .map_err(|e| Failed::before_sending(transport_error(&e, url)))?;
    let outgoing = request
        .body()
        .map_err(|()| Failed::before_sending(Error::internal("request body unavailable")))?;
    let response = outgoing_handler::handle(request, Some(options))
        .map_err(|code| Failed::before_sending(transport_error(&anyhow::Error::from(code), url)))?;
    // A body that cannot be written whole fails the request itself: the
    // host's answer then names why (the connection closed, a short body),
    // which says more than the closed stream does.
    let _ = write_body(&outgoing, body.unwrap_or_default());
    // After the last byte the host may be done with the body already.
    let _ = OutgoingBody::finish(outgoing, None);
    Ok(Pending {
        response,
        url: url.clone(),
        max_response_bytes: limits.max_response_bytes,
    })
}

/// Positions in `pending` whose answer (or failure) has arrived; waits
/// until there is at least one.
pub fn ready(pending: &[&Pending]) -> Vec<usize> {
    let pollables: Vec<_> = pending.iter().map(|p| p.response.subscribe()).collect();
    let refs: Vec<_> = pollables.iter().collect();
    poll::poll(&refs).into_iter().map(|i| i as usize).collect()
}

impl Pending {
    /// Waits for the answer and reads it whole.
    pub fn finish(self) -> Result<Response, Failed> {
        let response = self.incoming().map_err(|e| {
            // Only a failure the host names is known to precede sending.
            let known_unsent = e.downcast_ref::<ErrorCode>().is_some_and(never_left);
            let error = transport_error(&e, &self.url);
            match known_unsent {
                true => Failed::before_sending(error),
                false => Failed::answer_lost(error),
            }
        })?;
        let status = response.status_code();
        let headers = response.headers().clone();
        let body = read_capped(&response, self.max_response_bytes, &self.url)?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn incoming(&self) -> anyhow::Result<waki::Response> {
        let incoming = match self.response.get() {
            Some(result) => result,
            None => {
                self.response.subscribe().block();
                self.response.get().context("the response never arrived")?
            }
        };
        match incoming.map_err(|()| anyhow!("response already taken"))? {
            Ok(incoming) => waki::Response::try_from(incoming),
            Err(code) => Err(code.into()),
        }
    }
}

/// `scheme://host[:port]` of a URL: what errors and logs may name.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Failures that happen before a byte of the request reaches the server:
/// no name, no route, no connection, no TLS session, or the host refused.
/// Everything else (a reset, a timeout waiting for the answer, a cut
/// answer) may have come after Bitbucket acted.
fn never_left(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            // The connect (and TLS handshake) timeout: no request yet.
            | ErrorCode::ConnectionTimeout
            | ErrorCode::ConnectionLimitReached
            | ErrorCode::TlsProtocolError
            | ErrorCode::TlsCertificateError
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestMethodInvalid
            | ErrorCode::HttpRequestUriInvalid
            | ErrorCode::HttpRequestUriTooLong
            | ErrorCode::HttpRequestHeaderSectionSize(_)
            | ErrorCode::HttpRequestHeaderSize(_)
            | ErrorCode::ConfigurationError
    )
}

fn wasi_method(method: &Method) -> WasiMethod {
    match *method {
        Method::GET => WasiMethod::Get,
        Method::POST => WasiMethod::Post,
        Method::PUT => WasiMethod::Put,
        Method::DELETE => WasiMethod::Delete,
        Method::PATCH => WasiMethod::Patch,
        Method::HEAD => WasiMethod::Head,
        _ => WasiMethod::Other(method.as_str().to_owned()),
    }
}

fn build(
    method: &Method,
    url: &Url,
    headers: &[(&str, Vec<u8>)],
    connect_timeout: Duration,
) -> anyhow::Result<(OutgoingRequest, RequestOptions)> {
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(&(*name).to_owned(), value)
            .map_err(|e| anyhow!("header {name} refused: {e:?}"))?;
    }
    let request = OutgoingRequest::new(fields);
    request
        .set_method(&wasi_method(method))
        .map_err(|()| anyhow!("method refused"))?;
    let scheme = if url.scheme() == "http" {
        Scheme::Http
    } else {
        Scheme::Https
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| anyhow!("scheme refused"))?;
    let host = url.host_str().context("URL without a host")?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    request
        .set_authority(Some(&authority))
        .map_err(|()| anyhow!("authority refused"))?;
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| anyhow!("path refused"))?;
    let options = RequestOptions::new();
    options
        .set_connect_timeout(Some(connect_timeout.as_nanos() as u64))
        .map_err(|()| anyhow!("connect timeout refused"))?;
    Ok((request, options))
}

fn write_body(outgoing: &OutgoingBody, body: &[u8]) -> anyhow::Result<()> {
    if body.is_empty() {
        return Ok(());
    }
    let stream = outgoing
        .write()
        .map_err(|()| anyhow!("request body stream unavailable"))?;
    let ready = stream.subscribe();
    let mut sent = 0;
    while sent < body.len() {
        ready.block();
        let permit = match stream.check_write() {
            Ok(permit) => permit as usize,
            Err(e) => bail!(
                "the connection closed after {sent} of {} body bytes: {e:?}",
                body.len()
            ),
        };
        let chunk = permit.min(body.len() - sent);
        if chunk == 0 {
            continue;
        }
        stream.write(&body[sent..sent + chunk]).map_err(|e| {
            anyhow!(
                "the connection closed after {sent} of {} body bytes: {e:?}",
                body.len()
            )
        })?;
        sent += chunk;
    }
    let _ = stream.flush();
    Ok(())
}

fn read_capped(response: &waki::Response, cap: usize, url: &Url) -> Result<Vec<u8>, Failed> {
    // The same request gets the same answer: retrying cannot help.
    let status = response.status_code();
    let too_large = || Failed {
        error: Error::unavailable_for_good(
            format!(
                "Bitbucket's answer is larger than the {cap}-byte response cap (setting max-response-bytes)"
            ),
            Some(status),
        ),
        // A success that cannot be read is a write done and its answer lost.
        may_have_reached: (200..300).contains(&status),
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
        // The answer started: whatever was asked was received.
        .map_err(|e| Failed::answer_lost(transport_error(&e, url)))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport_error(error: &anyhow::Error, url: &Url) -> Error {
    let origin = origin(url);
    match error.downcast_ref::<ErrorCode>() {
        Some(ErrorCode::HttpRequestDenied) => Error::sandbox_denied(&origin),
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
