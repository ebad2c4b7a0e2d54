//! What a request must look like before anything else looks at it: a `Host`
//! the operator named (so a rebound DNS name cannot reach us), and for
//! anything that changes state, JSON and no foreign `Origin` (so no other web
//! page can make a logged-in browser act for its user).

use axum::http::{HeaderMap, Method, header};

use crate::error::GatewayError;

/// Host names the gateway answers to; ports are not part of the check.
#[derive(Clone, Debug)]
pub struct HostAllowlist {
    names: Vec<String>,
}

impl HostAllowlist {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) -> Self {
        Self {
            names: names
                .into_iter()
                .map(|n| n.as_ref().trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    /// Loopback under the names browsers and tools use for it.
    pub fn loopback() -> Self {
        Self::new(["127.0.0.1", "localhost", "[::1]"])
    }

    fn allows(&self, authority: &str) -> bool {
        let host = host_of(authority);
        self.names.contains(&host)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// `Host: example.org:8443` → `example.org`; `[::1]:80` → `[::1]`.
fn host_of(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    let host = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, _)) => format!("[{inside}]"),
            None => authority.clone(),
        },
        None => authority
            .split_once(':')
            .map_or(authority.clone(), |(host, _)| host.to_owned()),
    };
    host.trim_end_matches('.').to_owned()
}

/// Checks every request against the host allowlist and, for state-changing
/// methods, the content type and the origin.
pub fn check(
    hosts: &HostAllowlist,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), GatewayError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if !hosts.allows(host) {
        return Err(GatewayError::Misdirected(
            "this gateway does not answer to that Host name".into(),
        ));
    }
    if is_safe(method) {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(scheme, authority)| {
                matches!(scheme, "http" | "https") && hosts.allows(authority)
            });
        if !allowed {
            return Err(cross_site());
        }
    }
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site.eq_ignore_ascii_case("cross-site"))
    {
        return Err(cross_site());
    }
    // A DELETE carries no body to mistype; the origin checks above cover it.
    if *method == Method::DELETE {
        return Ok(());
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(GatewayError::UnsupportedMediaType(
            "a request that changes anything must be Content-Type: application/json".into(),
        ));
    }
    Ok(())
}

fn cross_site() -> GatewayError {
    GatewayError::Forbidden("cross-site requests are refused".into())
}

pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn hosts_and_origins_are_matched_by_name() {
        let hosts = HostAllowlist::new(["atom.example", "127.0.0.1", "[::1]"]);
        let get = Method::GET;
        let post = Method::POST;
        assert!(check(&hosts, &get, &headers(&[("host", "ATOM.example:8443")])).is_ok());
        assert!(check(&hosts, &get, &headers(&[("host", "[::1]:80")])).is_ok());
        assert!(check(&hosts, &get, &headers(&[("host", "evil.example")])).is_err());
        assert!(check(&hosts, &get, &headers(&[])).is_err());
        let json = ("content-type", "application/json; charset=utf-8");
        assert!(check(&hosts, &post, &headers(&[("host", "127.0.0.1:1"), json])).is_ok());
        assert!(
            check(
                &hosts,
                &post,
                &headers(&[
                    ("host", "127.0.0.1"),
                    json,
                    ("origin", "https://atom.example")
                ])
            )
            .is_ok()
        );
        for refused in [
            headers(&[
                ("host", "127.0.0.1"),
                json,
                ("origin", "https://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1"), json, ("origin", "null")]),
            headers(&[
                ("host", "127.0.0.1"),
                json,
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[("host", "127.0.0.1"), ("content-type", "text/plain")]),
            headers(&[("host", "127.0.0.1")]),
        ] {
            assert!(check(&hosts, &post, &refused).is_err(), "{refused:?}");
        }
    }
}
