//! The transports: stdio for `atom-harness mcp`, Streamable HTTP for the
//! gateway's `/mcp`, and the Origin and Host check MCP asks of HTTP servers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri, header};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::backend::Backend;
use crate::server::McpServer;

/// Serve one MCP session over this process's stdin and stdout until the
/// client closes it. Logs must go to stderr: stdout carries the protocol.
pub async fn serve_stdio<B: Backend>(
    server: McpServer<B>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

/// The Streamable HTTP service the gateway mounts at `/mcp`, behind its own
/// authentication: `factory` makes the server of each new session (usually
/// [`McpServer::per_request`]). Sessions live in memory (one gateway
/// process). rmcp's own Host and Origin checks are set from `policy` too,
/// as a second line behind [`check_origin_and_host`].
pub fn streamable_http_service<B, F>(
    factory: F,
    policy: &OriginPolicy,
) -> StreamableHttpService<McpServer<B>, LocalSessionManager>
where
    B: Backend,
    F: Fn() -> McpServer<B> + Send + Sync + 'static,
{
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(policy.allowed_hosts.clone())
        .with_allowed_origins(policy.rmcp_origins())
        .enforce_origin_validation();
    StreamableHttpService::new(
        move || Ok(factory()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// `/mcp` as an axum router, the Origin and Host check applied; the gateway
/// adds its authentication as an outer layer and merges it.
pub fn router<B, F>(factory: F, policy: OriginPolicy) -> axum::Router
where
    B: Backend,
    F: Fn() -> McpServer<B> + Send + Sync + 'static,
{
    let service = streamable_http_service(factory, &policy);
    axum::Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            check_origin_and_host,
        ))
}

/// Which `Host` and `Origin` values an HTTP MCP endpoint answers.
///
/// The MCP specification (transports, "Security Warning"): servers MUST
/// validate `Origin` to prevent DNS rebinding, and local servers should bind
/// to loopback. A browser page on `evil.example` whose name was rebound to
/// 127.0.0.1 still sends `Host: evil.example` and `Origin:
/// http://evil.example`: both are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    /// `Host` values answered: `name` (any port) or `name:port`. Empty
    /// allows any host (not recommended).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values answered besides loopback ones: `scheme://host` or
    /// `scheme://host:port` (an absent port is the scheme's default);
    /// `null` allows `Origin: null`. A request without `Origin` (every
    /// non-browser client) passes.
    pub allowed_origins: Vec<String>,
    /// Answer `http(s)://localhost`, `127.0.0.1` and `[::1]` origins on any
    /// port (a local web client).
    pub allow_loopback_origins: bool,
}

const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl Default for OriginPolicy {
    /// Loopback only: the hosts and origins of a server on 127.0.0.1.
    fn default() -> Self {
        Self {
            allowed_hosts: LOOPBACK.iter().map(|host| (*host).to_owned()).collect(),
            allowed_origins: Vec::new(),
            allow_loopback_origins: true,
        }
    }
}

impl OriginPolicy {
    /// Whether a request with these headers may be answered; the reason when
    /// not.
    pub fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), String> {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| uri.authority().map(|authority| authority.to_string()));
        if !self.allowed_hosts.is_empty() {
            let Some(host) = host else {
                return Err("the request names no Host".into());
            };
            let Some((name, port)) = parse_authority(&host) else {
                return Err("the Host header is not a host name".into());
            };
            let allowed = self.allowed_hosts.iter().any(|allowed| {
                parse_authority(allowed).is_some_and(|(allowed_name, allowed_port)| {
                    allowed_name == name && allowed_port.is_none_or(|p| Some(p) == port)
                })
            });
            if !allowed {
                return Err(format!("Host {name} is not served here"));
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin
            .to_str()
            .map_err(|_| "the Origin header is not text".to_owned())?;
        if origin.trim().eq_ignore_ascii_case("null") {
            return if self
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case("null"))
            {
                Ok(())
            } else {
                Err("Origin null is not allowed".into())
            };
        }
        let Some(parsed) = parse_origin(origin) else {
            return Err("the Origin header is not an origin".into());
        };
        let loopback = self.allow_loopback_origins
            && matches!(parsed.0.as_str(), "http" | "https")
            && LOOPBACK.contains(&parsed.1.as_str());
        if loopback
            || self
                .allowed_origins
                .iter()
                .filter_map(|allowed| parse_origin(allowed))
                .any(|allowed| allowed == parsed)
        {
            Ok(())
        } else {
            Err(format!("Origin {origin} is not allowed"))
        }
    }

    /// The same origins in rmcp's syntax (`:*` for any port).
    fn rmcp_origins(&self) -> Vec<String> {
        let mut origins = self.allowed_origins.clone();
        if self.allow_loopback_origins {
            for scheme in ["http", "https"] {
                for host in ["localhost", "127.0.0.1", "[::1]"] {
                    origins.push(format!("{scheme}://{host}:*"));
                }
            }
        }
        origins
    }
}

/// An authority's host, lowercase and without IPv6 brackets, and its port.
fn parse_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    // A bare IPv6 address (`::1`, as allow-lists write it) has no port.
    if authority.matches(':').count() > 1 && !authority.starts_with('[') {
        return Some((authority.to_ascii_lowercase(), None));
    }
    let authority = http::uri::Authority::try_from(authority).ok()?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some((host, authority.port_u16()))
}

/// An origin as (scheme, host, port), the port defaulted by the scheme.
fn parse_origin(origin: &str) -> Option<(String, String, Option<u16>)> {
    let uri = Uri::try_from(origin.trim()).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let (host, port) = parse_authority(uri.authority()?.as_str())?;
    let port = port.or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    Some((scheme, host, port))
}

/// The axum middleware of [`OriginPolicy`]: a request with a foreign
/// `Origin` or `Host` is answered 403 before any MCP processing.
///
/// ```text
/// router.layer(axum::middleware::from_fn_with_state(Arc::new(policy), check_origin_and_host))
/// ```
pub async fn check_origin_and_host(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match policy.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(%reason, "MCP request refused by the Origin and Host check");
            (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": { "code": "forbidden_origin", "message": reason, "retryable": false }
                })),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn loopback_by_default_and_listed_origins_exactly() {
        let uri = Uri::from_static("/mcp");
        let policy = OriginPolicy::default();
        assert!(policy.check(&uri, &headers("127.0.0.1:8080", None)).is_ok());
        assert!(
            policy
                .check(&uri, &headers("[::1]:8080", Some("http://[::1]:3000")))
                .is_ok()
        );
        assert!(
            policy
                .check(&uri, &headers("localhost", Some("https://localhost")))
                .is_ok()
        );
        assert!(policy.check(&uri, &headers("evil.example", None)).is_err());
        assert!(
            policy
                .check(&uri, &headers("localhost", Some("http://evil.example")))
                .is_err()
        );
        assert!(
            policy
                .check(&uri, &headers("localhost", Some("null")))
                .is_err()
        );

        let policy = OriginPolicy {
            allowed_hosts: vec!["atom.example.com".into()],
            allowed_origins: vec!["https://app.example.com".into()],
            allow_loopback_origins: false,
        };
        let ok = headers("atom.example.com", Some("https://app.example.com:443"));
        assert!(policy.check(&uri, &ok).is_ok());
        let wrong_port = headers("atom.example.com", Some("https://app.example.com:8443"));
        assert!(policy.check(&uri, &wrong_port).is_err());
        let loopback = headers("atom.example.com", Some("http://localhost:3000"));
        assert!(policy.check(&uri, &loopback).is_err());
    }
}
