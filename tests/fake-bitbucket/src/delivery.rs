//! Webhook deliveries: after each answer, the events it raised are POSTed
//! to the subscribed hooks' (loopback) URLs the way Bitbucket sends them,
//! signed when the hook has a secret, and recorded in the world.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::Request;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::world::{Delivery, HookSubject};
use crate::{Shared, lock};

/// Bitbucket gives a receiver ten seconds.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `sha256=<lower-case hex HMAC-SHA256(secret, body)>`: `X-Hub-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The host of an http(s) URL, lower case, IPv6 without brackets; None
/// for anything else (other schemes, credentials in the authority).
fn host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    Some(host.to_ascii_lowercase())
}

/// Whether `url`'s host is this machine: 127.0.0.0/8, localhost or [::1].
pub fn is_loopback(url: &str) -> bool {
    match host(url).as_deref() {
        Some("localhost") => true,
        Some(host) => host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Whether `url` points inside a network rather than at the internet, the
/// addresses Bitbucket refuses as webhook targets: loopback, private,
/// link-local, shared (CGNAT), unspecified and unique-local ranges, and
/// `localhost`. Names other than that are taken as public: Bitbucket
/// resolves them, the fake does not look names up.
pub fn is_internal(url: &str) -> bool {
    let Some(host) = host(url) else {
        return false;
    };
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        Ok(IpAddr::V6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        Err(_) => false,
    }
}

/// Sends every queued event to every active hook that subscribes to it,
/// each in its own task so no answer waits on a receiver.
pub fn flush(world: &Shared) {
    let jobs: Vec<(String, String, Option<String>, String, String, String)> = {
        let mut guard = lock(world);
        let events = std::mem::take(&mut guard.outbox);
        let mut jobs = Vec::new();
        for event in events {
            let workspace = event.repo.split('/').next().unwrap_or_default().to_owned();
            let body = event.payload.to_string();
            let hooks: Vec<_> = guard
                .hooks
                .iter()
                .filter(|h| h.active && h.events.iter().any(|e| e == event.key))
                .filter(|h| match &h.subject {
                    HookSubject::Repository(full_name) => *full_name == event.repo,
                    HookSubject::Workspace(slug) => *slug == workspace,
                })
                .map(|h| (h.uuid.clone(), h.url.clone(), h.secret.clone()))
                .collect();
            for (uuid, url, secret) in hooks {
                let request_uuid = guard.fresh_uuid().trim_matches(['{', '}']).to_owned();
                jobs.push((
                    uuid,
                    url,
                    secret,
                    event.key.to_owned(),
                    body.clone(),
                    request_uuid,
                ));
            }
        }
        jobs
    };
    for (hook_uuid, url, secret, key, body, request_uuid) in jobs {
        let world = world.clone();
        tokio::spawn(async move {
            let mut headers = vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), "Bitbucket-Webhooks/2.0".to_owned()),
                ("x-event-key".to_owned(), key.clone()),
                ("x-hook-uuid".to_owned(), hook_uuid.clone()),
                ("x-request-uuid".to_owned(), request_uuid),
                ("x-attempt-number".to_owned(), "1".to_owned()),
            ];
            if let Some(secret) = &secret {
                headers.push((
                    "x-hub-signature".to_owned(),
                    signature(secret, body.as_bytes()),
                ));
            }
            let (status, error) = send(&url, &headers, &body).await;
            lock(&world).deliveries.push(Delivery {
                hook_uuid,
                event_key: key,
                url,
                headers,
                body,
                status,
                error,
            });
        });
    }
}

async fn send(
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> (Option<u16>, Option<String>) {
    // Checked again here: nothing leaves the machine, whatever got stored.
    if !is_loopback(url) {
        return (
            None,
            Some("not sent: the fake delivers to loopback receivers only".into()),
        );
    }
    let mut request = Request::post(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match request.body(Full::new(Bytes::from(body.to_owned()))) {
        Ok(request) => request,
        Err(error) => return (None, Some(error.to_string())),
    };
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    match tokio::time::timeout(TIMEOUT, client.request(request)).await {
        Ok(Ok(response)) => (Some(response.status().as_u16()), None),
        Ok(Err(error)) => (None, Some(error.to_string())),
        Err(_) => (None, Some("timed out after 10 s".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn only_loopback_urls_are_deliverable() {
        assert!(is_loopback("http://127.0.0.1:8080/hook"));
        assert!(is_loopback("http://127.5.0.1/hook"));
        assert!(is_loopback("https://localhost/hook"));
        assert!(is_loopback("http://LOCALHOST:9/x?y=1"));
        assert!(is_loopback("http://[::1]:8080/"));
        assert!(!is_loopback("http://10.0.0.1/hook"));
        assert!(!is_loopback("https://example.com/hook"));
        assert!(!is_loopback("http://127.0.0.1.example.com/"));
        assert!(!is_loopback("http://user@example.com@127.0.0.1/"));
        assert!(!is_loopback("ftp://127.0.0.1/"));
    }

    #[test]
    fn internal_addresses_are_those_bitbucket_refuses() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://localhost/hook",
            "http://[::1]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:10.0.0.1]/",
        ] {
            assert!(is_internal(url), "{url}");
        }
        for url in [
            "https://example.com/hook",
            "https://203.0.113.7/hook",
            "http://172.32.0.1/",
            "https://[2001:db8::1]/",
        ] {
            assert!(!is_internal(url), "{url}");
        }
    }
}
