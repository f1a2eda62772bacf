//! A client connection that starts in plain TCP and may become TLS (STARTTLS), or is TLS
//! from the first octet (implicit TLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use smtp_protocol::session::{CloseMode, TlsDetails};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::tls::TlsInfo;

/// How long a client may take to complete a TLS handshake, unless configured otherwise
/// (`--tls-handshake-timeout`): a real client needs a round trip or two, so a client that has
/// not finished after this long is stalling and must not hold a connection slot.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum Connection {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a handshake is under way or after it failed.
    Gone,
}

impl Connection {
    /// Runs the server side of a TLS handshake on a plain connection, bounded by `timeout`.
    pub async fn start_tls(
        &mut self,
        acceptor: &TlsAcceptor,
        timeout: Duration,
    ) -> Result<TlsDetails, String> {
        let Connection::Plain(tcp) = std::mem::replace(self, Connection::Gone) else {
            return Err("the connection is not plain TCP".to_owned());
        };
        let tls = accept(tcp, acceptor, timeout).await?;
        let details = details_of(&tls);
        *self = Connection::Tls(Box::new(tls));
        Ok(details)
    }

    /// Closes the connection: with a TLS close_notify unless told otherwise, then a FIN.
    pub async fn close(&mut self, mode: CloseMode) {
        let _ = match (self, mode) {
            (Connection::Plain(tcp), _) => tcp.shutdown().await,
            (Connection::Tls(tls), CloseMode::Graceful) => tls.shutdown().await,
            // Shut the TCP stream under the TLS layer: no close_notify is ever sent.
            (Connection::Tls(tls), CloseMode::WithoutCloseNotify) => {
                tls.get_mut().0.shutdown().await
            }
            (Connection::Gone, _) => Ok(()),
        };
    }
}

/// The handshake of implicit TLS, or of STARTTLS, bounded by `timeout` (the listener's TLS
/// handshake timeout, [`HANDSHAKE_TIMEOUT`] by default).
pub async fn accept(
    tcp: TcpStream,
    acceptor: &TlsAcceptor,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>, String> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no handshake within {timeout:?}")),
    }
}

pub fn details_of(tls: &TlsStream<TcpStream>) -> TlsDetails {
    match TlsInfo::from_connection(tls.get_ref().1) {
        Some(info) => TlsDetails {
            version: info.version,
            cipher: info.cipher_suite,
            sni: info.sni,
        },
        None => TlsDetails {
            version: "unknown".to_owned(),
            cipher: "unknown".to_owned(),
            sni: None,
        },
    }
}

/// Octets read per system call; commands and pipelined groups fit easily.
const READ_BUFFER: usize = 8 * 1024;

thread_local! {
    /// The read buffer of every plain connection served on this thread. A plain connection
    /// waits for readiness holding no buffer, then reads into this one and hands the octets
    /// on before anything else runs on the thread, so an idle connection costs no buffer
    /// (ci/bench.sh row I: 10,000 idle connections).
    static PLAIN_READ_BUFFER: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(vec![0; READ_BUFFER]);
}

/// What [`Connection::read_ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Octets, given to the caller's function.
    Data,
    /// The peer closed its side.
    Closed,
    /// Nothing after all (readiness can be spurious): wait again.
    Nothing,
}

/// The read side of a [`Connection`]: a TLS connection needs a buffer of its own (rustls
/// decrypts into it while waiting), made at its first read; a plain one uses the thread's.
#[derive(Debug)]
pub struct ReadState {
    tls_buffer: Vec<u8>,
    /// Octets waiting in `tls_buffer`, or `None` after end of stream.
    tls_filled: Option<usize>,
}

impl Default for ReadState {
    fn default() -> ReadState {
        ReadState {
            tls_buffer: Vec::new(),
            tls_filled: Some(0),
        }
    }
}

impl Connection {
    /// Waits until [`Connection::read_ready`] has something to give: readiness for plain
    /// TCP, the next decrypted octets for TLS. Cancel-safe (for `select!`): octets are only
    /// taken in the poll that completes it.
    pub async fn ready(&mut self, state: &mut ReadState) -> io::Result<()> {
        match self {
            // poll_read_ready keeps one waker slot per direction, as poll_read does (the
            // `readable()` future queues a waiter per call).
            Connection::Plain(tcp) => std::future::poll_fn(|cx| tcp.poll_read_ready(cx)).await,
            Connection::Tls(tls) => {
                if state.tls_filled != Some(0) {
                    return Ok(());
                }
                if state.tls_buffer.is_empty() {
                    state.tls_buffer = vec![0; READ_BUFFER];
                }
                let tls = tls.as_mut();
                let buffer = &mut state.tls_buffer;
                let n = std::future::poll_fn(|cx| {
                    let mut read = ReadBuf::new(buffer);
                    match Pin::new(&mut *tls).poll_read(cx, &mut read) {
                        Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
                        Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
                        Poll::Pending => Poll::Pending,
                    }
                })
                .await?;
                state.tls_filled = (n > 0).then_some(n);
                Ok(())
            }
            Connection::Gone => Err(gone()),
        }
    }

    /// Reads what [`Connection::ready`] waited for and gives the octets to `take`, without
    /// waiting.
    pub fn read_ready(
        &mut self,
        state: &mut ReadState,
        take: impl FnOnce(&[u8]),
    ) -> io::Result<ReadOutcome> {
        match self {
            Connection::Plain(tcp) => PLAIN_READ_BUFFER.with_borrow_mut(|buffer| {
                let mut read = None;
                let result = tcp.try_io(Interest::READABLE, || {
                    let n = tcp.try_read(buffer)?;
                    read = Some(n);
                    // A short read drained the socket: answering "would block" makes tokio
                    // clear the readiness it saw before this read (as its own poll_read does
                    // after a short read), so the next wait sleeps at once instead of costing a
                    // recv that finds nothing. Readiness that came after is kept.
                    if n > 0 && n < buffer.len() {
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        Ok(n)
                    }
                });
                match (read, result) {
                    (Some(0), _) => Ok(ReadOutcome::Closed),
                    (Some(n), _) => {
                        take(&buffer[..n]);
                        Ok(ReadOutcome::Data)
                    }
                    (None, Err(error)) if error.kind() != io::ErrorKind::WouldBlock => Err(error),
                    (None, _) => Ok(ReadOutcome::Nothing),
                }
            }),
            Connection::Tls(_) => match state.tls_filled {
                None => Ok(ReadOutcome::Closed),
                Some(0) => Ok(ReadOutcome::Nothing),
                Some(n) => {
                    state.tls_filled = Some(0);
                    take(&state.tls_buffer[..n]);
                    Ok(ReadOutcome::Data)
                }
            },
            Connection::Gone => Err(gone()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Connection::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            Connection::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Connection::Plain(tcp) => Pin::new(tcp).poll_write(cx, data),
            Connection::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, data),
            Connection::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Connection::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Connection::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Connection::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Connection::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            Connection::Gone => Poll::Ready(Ok(())),
        }
    }
}
