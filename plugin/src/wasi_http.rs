//! One HTTP exchange over wasi:http, with waki's bindings and response type:
//! the request as given, the answer read up to a cap, transport failures
//! mapped into the contract's error. Nothing here knows about credentials.
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
    Fields, Method as WasiMethod, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};

use crate::endpoint::Response;
use crate::error::Error;

/// How one exchange is bounded.
pub struct Limits {
    pub connect_timeout: Duration,
    pub max_response_bytes: usize,
}

/// Sends one request and reads the whole answer, whatever its status.
pub fn exchange(
    method: &Method,
    url: &Url,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
    limits: &Limits,
) -> Result<Response, Error> {
    let response = send(method, url, headers, body, limits.connect_timeout)
        .map_err(|e| transport_error(&e, url))?;
    let status = response.status_code();
    let headers = response.headers().clone();
    let body = read_capped(&response, limits.max_response_bytes, url)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// `scheme://host[:port]` of a URL: what errors and logs may name.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
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

fn send(
    method: &Method,
    url: &Url,
    headers: &[(&str, &[u8])],
    body: Option<&[u8]>,
    connect_timeout: Duration,
) -> anyhow::Result<waki::Response> {
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(&(*name).to_owned(), &value.to_vec())
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
    let outgoing = request
        .body()
        .map_err(|()| anyhow!("request body unavailable"))?;
    let options = RequestOptions::new();
    options
        .set_connect_timeout(Some(connect_timeout.as_nanos() as u64))
        .map_err(|()| anyhow!("connect timeout refused"))?;

    let pending = outgoing_handler::handle(request, Some(options))?;
    write_body(&outgoing, body.unwrap_or_default())?;
    // After the last byte the host may be done with the body already.
    let _ = OutgoingBody::finish(outgoing, None);

    let incoming = match pending.get() {
        Some(result) => result,
        None => {
            pending.subscribe().block();
            pending.get().context("the response never arrived")?
        }
    };
    let incoming = incoming.map_err(|()| anyhow!("response already taken"))??;
    waki::Response::try_from(incoming)
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

fn read_capped(response: &waki::Response, cap: usize, url: &Url) -> Result<Vec<u8>, Error> {
    // The same request gets the same answer: retrying cannot help.
    let too_large = || {
        Error::unavailable_for_good(
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
