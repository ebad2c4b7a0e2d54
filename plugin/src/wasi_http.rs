//! One HTTP exchange over wasi:http, with waki's bindings and response type.
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
use waki::bindings::wasi::http::outgoing_handler;
use waki::bindings::wasi::http::types::{
    Fields, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use waki::{Method, Response};

pub fn send(
    method: Method,
    url: &str,
    headers: &[(String, Vec<u8>)],
    body: Option<&[u8]>,
    connect_timeout: Duration,
) -> anyhow::Result<Response> {
    let uri: http::Uri = url.parse().with_context(|| format!("invalid URL {url}"))?;
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value)
            .map_err(|e| anyhow!("header {name} refused: {e:?}"))?;
    }
    let request = OutgoingRequest::new(fields);
    request
        .set_method(&method)
        .map_err(|()| anyhow!("method refused"))?;
    let scheme = if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
        Scheme::Http
    } else {
        Scheme::Https
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| anyhow!("scheme refused"))?;
    let authority = uri.authority().context("URL without a host")?.as_str();
    request
        .set_authority(Some(authority))
        .map_err(|()| anyhow!("authority refused"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    request
        .set_path_with_query(Some(path))
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
    Response::try_from(incoming)
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
