//! The outbound HTTP policy: only allowlisted hosts, with timeouts the guest
//! cannot lift.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiHttpHooks};

use crate::upstream_client::UpstreamClient;

/// Hosts a component may reach: `host` (any port) or `host:port`.
#[derive(Clone, Debug)]
pub struct Allowlist {
    entries: Arc<[String]>,
}

impl Allowlist {
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let entries: Vec<String> = entries
            .into_iter()
            .map(|e| e.as_ref().trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        Self {
            entries: entries.into(),
        }
    }

    pub fn permits(&self, host: &str, port: u16) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let with_port = format!("{host}:{port}");
        self.entries
            .iter()
            .any(|entry| *entry == host || *entry == with_port)
    }
}

/// Requests components made and were refused, all tenants together.
#[derive(Clone, Debug, Default)]
pub struct OutboundStats {
    pub sent: Counter,
    pub denied: Counter,
}

/// The `wasi:http` hooks of one store.
pub struct OutboundPolicy {
    pub allowlist: Allowlist,
    /// Upper bound on waiting for a response's first byte and between bytes.
    pub io_timeout: Duration,
    pub stats: OutboundStats,
    /// The tenant's own count, which its upstream budget is charged from.
    pub tenant_sent: Arc<AtomicU64>,
    /// Shared by every store of the sandbox: connections are reused.
    pub client: UpstreamClient,
}

type BoxedIo = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        _fut: BoxedIo,
    ) -> Box<
        dyn Future<
                Output = Result<(http::Response<wasmtime_wasi_http::WasiBody>, BoxedIo), HttpError>,
            > + Send,
    > {
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let permitted = uri
            .host()
            .is_some_and(|host| self.allowlist.permits(host, port));
        if !permitted {
            self.stats.denied.inc();
            tracing::warn!(host = ?uri.host(), port, "outbound request denied by the allowlist");
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        self.stats.sent.inc();
        self.tenant_sent.fetch_add(1, Ordering::Relaxed);
        let options = bounded(options, self.io_timeout);
        let client = self.client.clone();
        Box::new(async move {
            let response = client.send(request, options).await?;
            // The pool drives the connection; nothing is left for the guest to await.
            Ok((response, Box::new(async { Ok(()) }) as BoxedIo))
        })
    }
}

/// The guest's own timeouts, never longer than the host's.
fn bounded(options: Option<RequestOptions>, ceiling: Duration) -> RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |t: Option<Duration>| Some(t.map_or(ceiling, |t| t.min(ceiling)));
    RequestOptions {
        connect_timeout: cap(options.connect_timeout),
        first_byte_timeout: cap(options.first_byte_timeout),
        between_bytes_timeout: cap(options.between_bytes_timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_or_without_port() {
        let allow = Allowlist::new(["api.bitbucket.org", "127.0.0.1:8080"]);
        assert!(allow.permits("API.bitbucket.org", 443));
        assert!(allow.permits("127.0.0.1", 8080));
        assert!(!allow.permits("127.0.0.1", 8081));
        assert!(!allow.permits("api.bitbucket.org.evil.example", 443));
        assert!(!allow.permits("bitbucket.org", 443));
    }
}
