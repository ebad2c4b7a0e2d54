//! The raw connection under hyper, for the faults no HTTP response can
//! express: a reset before any byte, and a body cut short of its
//! `Content-Length`. The layer arms a [`Connection`] while the route runs;
//! the next bytes hyper writes on it are then cut.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// What happens to the next answer written on a connection.
#[derive(Clone, Copy, Debug, Default)]
enum Cut {
    #[default]
    None,
    /// Abort with RST before writing anything.
    Reset,
    /// Let the head through (up to its blank line) and `body` more bytes,
    /// then close. `matched` counts the `\r\n\r\n` bytes seen so far.
    Truncate { matched: u8, body: usize },
    /// The allowed bytes are out: every further write fails, so hyper drops
    /// the connection and the kernel closes it after what was sent.
    Closed,
}

/// A handle on one accepted connection, reachable from a request as
/// `ConnectInfo<Connection>`.
#[derive(Clone, Debug, Default)]
pub struct Connection(Arc<Mutex<Cut>>);

impl Connection {
    fn cut(&self) -> std::sync::MutexGuard<'_, Cut> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn reset(&self) {
        *self.cut() = Cut::Reset;
    }

    /// The next answer's head goes out whole, then `body` bytes of its body.
    pub(crate) fn truncate_after(&self, body: usize) {
        *self.cut() = Cut::Truncate { matched: 0, body };
    }
}

/// A TCP listener whose connections can be cut by the fault layer.
pub struct FaultListener(pub TcpListener);

impl Listener for FaultListener {
    type Io = FaultIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let io = FaultIo {
            stream,
            connection: Connection::default(),
        };
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for Connection {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.io().connection.clone()
    }
}

pub struct FaultIo {
    stream: TcpStream,
    connection: Connection,
}

impl FaultIo {
    /// How many of `buf`'s bytes may go out, advancing the cut over them.
    fn allowance(cut: &Cut, buf: &[u8]) -> usize {
        match *cut {
            Cut::None => buf.len(),
            Cut::Reset | Cut::Closed => 0,
            Cut::Truncate { mut matched, body } => {
                for (i, byte) in buf.iter().enumerate() {
                    if matched == 4 {
                        return (i + body).min(buf.len());
                    }
                    matched = advance(matched, *byte);
                }
                buf.len()
            }
        }
    }
}

/// Progress through `\r\n\r\n` after one more byte.
fn advance(matched: u8, byte: u8) -> u8 {
    let expected = b"\r\n\r\n"[matched as usize];
    if byte == expected {
        matched + 1
    } else if byte == b'\r' {
        1
    } else {
        0
    }
}

/// The cut after `written` bytes of `buf` went out.
fn after_write(cut: Cut, written: &[u8]) -> Cut {
    match cut {
        Cut::Truncate {
            mut matched,
            mut body,
        } => {
            for byte in written {
                if matched == 4 {
                    body -= 1;
                } else {
                    matched = advance(matched, *byte);
                }
            }
            if matched == 4 && body == 0 {
                Cut::Closed
            } else {
                Cut::Truncate { matched, body }
            }
        }
        other => other,
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if matches!(*self.connection.cut(), Cut::Reset) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let cut = *self.connection.cut();
        match cut {
            Cut::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = self.stream.set_zero_linger();
                return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
            }
            Cut::Closed => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            _ => {}
        }
        let allowed = Self::allowance(&cut, buf);
        if allowed == 0 {
            *self.connection.cut() = Cut::Closed;
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        match Pin::new(&mut self.stream).poll_write(cx, &buf[..allowed]) {
            Poll::Ready(Ok(written)) => {
                let next = after_write(cut, &buf[..written]);
                *self.connection.cut() = next;
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncation_passes_the_head_and_the_allowed_body_bytes() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789";
        let head = answer.len() - 10;
        let cut = Cut::Truncate {
            matched: 0,
            body: 4,
        };
        assert_eq!(FaultIo::allowance(&cut, answer), head + 4);
        assert!(matches!(after_write(cut, &answer[..head + 4]), Cut::Closed));
        // Written in two pieces, split inside the blank line.
        let first = after_write(cut, &answer[..head - 2]);
        assert_eq!(FaultIo::allowance(&first, &answer[head - 2..]), 6);
    }
}
