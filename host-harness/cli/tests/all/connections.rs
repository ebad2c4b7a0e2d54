//! What one client or one tenant can hold of the gateway's connections: a
//! client that never reads its answers, a client opening more connections
//! than its share, a tenant opening more event streams than its share.
//! Other clients stay served throughout. A second client is a second
//! loopback address (Linux routes all of 127.0.0.0/8 to lo).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use fake_bitbucket::FakeBitbucket;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::common::{Gateway, answer};

const ONE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// Longer than any bound the gateway applies by default: what did not
/// happen by then is not going to.
const GENEROUS: Duration = Duration::from_secs(60);

fn address(gateway: &Gateway) -> SocketAddr {
    gateway.base.trim_start_matches("http://").parse().unwrap()
}

/// A connection from `from`, with a receive window small enough that
/// answers it does not read back up onto the gateway.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(to).await.unwrap()
}

/// `GET /healthz` from `from` on a fresh connection: what came back before
/// the gateway closed it (nothing, if it was refused unserved).
async fn healthz_from(from: Ipv4Addr, to: SocketAddr) -> String {
    let mut stream = connect_from(from, to).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n\r\n");
    // A refused connection may be reset before or after the request is out.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(GENEROUS, stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer and no close from the gateway");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the gateway closed `stream`, found without reading from it: a
/// write to a connection the peer closed fails.
async fn closed_by_gateway(stream: TcpStream, to: SocketAddr) -> bool {
    let nudge = format!("GET /healthz HTTP/1.1\r\nHost: {to}\r\n\r\n");
    for _ in 0..GENEROUS.as_millis() / 250 {
        match stream.try_write(nudge.as_bytes()) {
            Err(error) if error.kind() != std::io::ErrorKind::WouldBlock => return true,
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_never_read_are_cut_off_and_others_are_served() {
    // Few slots, so the test's load stays small beside other tests.
    const SLOTS: usize = 4;
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &["--max-connections", &SLOTS.to_string()]).await;
    let to = address(&gateway);
    let document = reqwest::get(gateway.url("/openapi.json"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Enough answers that they cannot all wait in socket buffers (the
    // sender's grows to a few MiB at most; the receiver's is 4 KiB).
    let answers = ((8 << 20) / document.len()).clamp(40, 4000);
    let request = format!("GET /openapi.json HTTP/1.1\r\nHost: {to}\r\n\r\n").repeat(answers);

    let mut stalled = Vec::new();
    for _ in 0..SLOTS + SLOTS / 2 {
        let mut stream = connect_from(ONE, to).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        stalled.push(stream);
    }

    let served = healthz_from(OTHER, to).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");

    let mut closing: JoinSet<bool> = stalled
        .into_iter()
        .map(|stream| closed_by_gateway(stream, to))
        .collect();
    while let Some(closed) = closing.join_next().await {
        assert!(
            closed.unwrap(),
            "a client that never read is still connected"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_over_its_connection_cap_is_refused_and_others_are_served() {
    const PER_CLIENT: usize = 32; // serve's default
    const OVER: usize = 8;
    let fake = FakeBitbucket::start().await.unwrap();
    // Connections that send nothing stay open as long as headers may take.
    let gateway = Gateway::start(&fake, &["--header-timeout-secs", "600"]).await;
    let to = address(&gateway);

    let (ended, mut ends) = tokio::sync::mpsc::unbounded_channel();
    let mut held = JoinSet::new();
    for _ in 0..PER_CLIENT + OVER {
        let mut stream = connect_from(ONE, to).await;
        let ended = ended.clone();
        held.spawn(async move {
            let _ = stream.read(&mut [0; 64]).await;
            let _ = ended.send(());
        });
    }
    for _ in 0..OVER {
        let closed = tokio::time::timeout(GENEROUS, ends.recv()).await;
        assert!(
            matches!(closed, Ok(Some(()))),
            "connections over the client's cap were left open"
        );
    }

    let refused = healthz_from(ONE, to).await;
    assert!(
        !refused.starts_with("HTTP/1.1 200"),
        "a client at its cap was served on yet another connection"
    );
    let served = healthz_from(OTHER, to).await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    held.abort_all();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_over_its_event_stream_cap_gets_429_and_others_stream() {
    const PER_TENANT: usize = 4; // serve's default
    let fake = FakeBitbucket::start().await.unwrap();
    let gateway = Gateway::start(&fake, &[]).await;
    let listen = |key: String| {
        // A client of its own: one connection per stream.
        reqwest::Client::new()
            .get(gateway.url("/bitbucket/events"))
            .bearer_auth(key)
            .send()
    };

    let mut open = Vec::new();
    for _ in 0..PER_TENANT {
        let stream = listen(gateway.acme_key.clone()).await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        open.push(stream);
    }
    for _ in 0..2 {
        let refused = listen(gateway.acme_key.clone()).await.unwrap();
        // Checked before the body is read: an opened stream never ends.
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let (_, headers, body) = answer(refused).await;
        assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        assert!(headers.contains_key("retry-after"));
    }
    let other = listen(gateway.globex_key.clone()).await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    drop(open);
}
