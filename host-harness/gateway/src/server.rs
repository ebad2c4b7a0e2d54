//! Accepting connections: a cap on how many are open, overall and from one
//! client, a deadline for each request's headers that also closes idle
//! keep-alive connections, one for a write that makes no progress, TLS when
//! the operator gives a certificate, and a shutdown that lets calls in flight
//! finish.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Limits on connections, validated by whoever builds them.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 client's
    /// /64); more are closed as they are accepted, so one client cannot take
    /// every slot.
    pub max_connections_per_client: usize,
    /// Time to send a request's headers, and to start the next request on a
    /// kept-alive connection: a silent or dribbling client is cut off after it.
    pub header_timeout: Duration,
    /// Time a response write may make no progress: a client that does not
    /// read what it asked for is cut off after it.
    pub write_timeout: Duration,
    /// Time calls in flight get to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            max_connections_per_client: 32,
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A TLS acceptor from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the certificate chain {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not form a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits up to
/// the grace period for open requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let clients = Held::new(limits.max_connections_per_client);
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let mut permit = None;
    loop {
        let slot = match permit.take() {
            Some(slot) => slot,
            None => tokio::select! {
                slot = open.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                () = &mut shutdown => break,
            },
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or a reset before accept: not fatal.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    permit = Some(slot);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over its cap, a client's connection is closed unserved and the
        // slot waits for the next one.
        let Some(client) = clients.take(client_of(peer.ip())) else {
            tracing::debug!(client = %peer.ip(), "closed a connection over the per-client cap");
            drop(stream);
            permit = Some(slot);
            continue;
        };
        let held = (slot, client);
        let stream = WriteDeadline::new(stream, limits.write_timeout);
        let service = TowerToHyperService::new(app.clone());
        match &tls {
            None => {
                let connection =
                    graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = connection.await;
                    drop(held);
                });
            }
            Some(acceptor) => {
                let (acceptor, http, watcher) =
                    (acceptor.clone(), http.clone(), graceful.watcher());
                let handshake_deadline = limits.header_timeout;
                tokio::spawn(async move {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_deadline, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let _ = watcher
                        .watch(http.serve_connection(TokioIo::new(stream), service))
                        .await;
                    drop(held);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("calls still running after the shutdown grace period were cut off");
    }
    Ok(())
}

/// How many of something each key holds open, under one cap for every key:
/// connections per client here, event streams per tenant in `bitbucket`.
pub(crate) struct Held<K: Eq + Hash + Clone> {
    cap: usize,
    open: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Eq + Hash + Clone> Clone for Held<K> {
    fn clone(&self) -> Self {
        Self {
            cap: self.cap,
            open: self.open.clone(),
        }
    }
}

/// One of a key's, counted until it is dropped.
pub(crate) struct HeldSlot<K: Eq + Hash + Clone> {
    held: Held<K>,
    key: K,
}

impl<K: Eq + Hash + Clone> Held<K> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// A slot for `key`, unless it holds its cap already.
    pub(crate) fn take(&self, key: K) -> Option<HeldSlot<K>> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key.clone()).or_default();
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(HeldSlot {
            held: self.clone(),
            key,
        })
    }
}

impl<K: Eq + Hash + Clone> Drop for HeldSlot<K> {
    fn drop(&mut self) {
        let mut open = self.held.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            // Forgotten at zero, so the map holds only keys with something open.
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Who a connection counts against: an IPv4 address, or an IPv6 address's
/// /64, which one subscriber usually holds whole.
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((v6.to_bits() & !u128::from(u64::MAX)).into()),
        },
    }
}

/// A connection whose writes fail once one has made no progress for the
/// timeout: hyper has no write deadline, and a client that never reads
/// would otherwise hold its connection, and what is queued for it, forever.
struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    /// Armed while a write waits on the client, cleared by any progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        Self {
            stream,
            timeout,
            stalled: None,
        }
    }

    /// Runs one write step, timing how long the client leaves it pending.
    fn progress<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        step: impl FnOnce(Pin<&mut TcpStream>, &mut TaskContext<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Poll::Ready(result) = step(Pin::new(&mut self.stream), cx) {
            self.stalled = None;
            return Poll::Ready(result);
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for the write timeout",
        )))
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .progress(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .progress(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        self.get_mut().progress(cx, AsyncWrite::poll_flush)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        self.get_mut().progress(cx, AsyncWrite::poll_shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_its_ipv4_address_or_its_ipv6_slash_64() {
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        assert_eq!(client_of(v6("2001:db8:1:2:aaaa::1")), v6("2001:db8:1:2::"));
        assert_eq!(
            client_of(v6("::ffff:192.0.2.7")),
            IpAddr::V4("192.0.2.7".parse().unwrap())
        );
    }

    #[test]
    fn a_key_over_its_cap_is_refused_until_one_of_its_slots_closes() {
        let clients = Held::new(2);
        let (first, _second) = (clients.take("a").unwrap(), clients.take("a").unwrap());
        assert!(clients.take("a").is_none());
        assert!(clients.take("b").is_some());
        drop(first);
        assert!(clients.take("a").is_some());
    }
}
