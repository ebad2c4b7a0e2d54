//! The one HTTP client every store's outgoing requests go through: keep-alive
//! connections pooled per origin and shared by all tenants and calls, so a
//! listing of a hundred pages opens one connection instead of a hundred.
//!
//! A pooled connection carries bytes, not state: each request brings its own
//! headers (the guest's, nothing added but `Host`), the client has no cookie
//! jar and no default headers, so nothing of one tenant's request reaches
//! another's.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How long an unused connection stays open: Bitbucket's edge keeps them
/// for about a minute; closing first avoids writing into a closing socket.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per origin: enough for a guest's concurrent fan-out
/// and several calls at once, few enough to stay a good neighbour.
const MAX_IDLE_PER_ORIGIN: usize = 32;

/// A shared, pooling HTTP/1.1 client (TLS with the Mozilla roots, as
/// wasmtime-wasi-http's own sender).
#[derive(Clone)]
pub struct UpstreamClient {
    client: Client<HttpsConnector<HttpConnector>, WasiBody>,
}

impl UpstreamClient {
    /// `connect_timeout` bounds every connection attempt; it is the host's
    /// ceiling, the guest's own shorter timeouts apply per request.
    pub fn new(connect_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let https = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(MAX_IDLE_PER_ORIGIN)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Self { client }
    }

    /// Sends `request` within `options`' timeouts.
    pub async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: RequestOptions,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        let ceiling = |t: Option<Duration>| t.unwrap_or(Duration::from_secs(600));
        let until_headers = ceiling(options.connect_timeout) + ceiling(options.first_byte_timeout);
        let response = tokio::time::timeout(until_headers, self.client.request(request))
            .await
            // Past the connect, a request may have been written: reported as
            // a read timeout, which the guest treats as "may have happened".
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(request_error)?;
        let between_bytes = ceiling(options.between_bytes_timeout).max(Duration::from_nanos(1));
        Ok(response.map(|incoming| {
            BetweenBytesTimeout {
                inner: incoming,
                limit: between_bytes,
                timer: Box::pin(tokio::time::sleep(between_bytes)),
            }
            .boxed_unsync()
        }))
    }
}

/// The wasi:http code of a failed exchange. A connect failure means nothing
/// was sent; anything later may have reached the server.
fn request_error(error: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    if error.is_connect() {
        let mut cause = error.source();
        let mut timed_out = false;
        while let Some(inner) = cause {
            timed_out |= inner
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
            cause = inner.source();
        }
        return if timed_out {
            HttpError::ConnectionTimeout
        } else {
            HttpError::ConnectionRefused
        };
    }
    match error
        .source()
        .and_then(|e| e.downcast_ref::<hyper::Error>())
    {
        Some(hyper) if hyper.is_incomplete_message() => HttpError::HttpResponseIncomplete,
        Some(_) | None => HttpError::ConnectionTerminated,
    }
}

/// A response body that fails when no byte arrives for `limit`.
struct BetweenBytesTimeout {
    inner: hyper::body::Incoming,
    limit: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Body for BetweenBytesTimeout {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + self.limit;
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(if error.is_timeout() {
                HttpError::HttpResponseTimeout
            } else if error.is_incomplete_message() {
                HttpError::HttpResponseIncomplete
            } else {
                HttpError::from(error)
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
