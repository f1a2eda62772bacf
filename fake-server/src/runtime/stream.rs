//! A client connection that starts in plain TCP and may become TLS (STARTTLS), or is TLS
//! from the first octet (implicit TLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use smtp_protocol::session::{CloseMode, TlsDetails};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
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
