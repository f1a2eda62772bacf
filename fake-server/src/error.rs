//! Errors that stop the server from doing its job (exit code 2 on the command line).

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address} ({listener}): {source}")]
    Bind {
        listener: String,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::mailbox::maildir::MaildirError),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("TLS set-up failed: {0}")]
    TlsTask(String),
    #[error("cannot start the thread that judges and records sessions: {0}")]
    Thread(std::io::Error),
    #[error("cannot start the web sink's thread: {0}")]
    WebThread(std::io::Error),
}

/// [`crate::Server::wait_for_messages`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {wanted} messages ({got} arrived)")]
pub struct WaitTimeout {
    pub wanted: u64,
    pub got: u64,
    pub waited: std::time::Duration,
}

/// [`crate::Server::wait_for_session_of`] gave up: the client kept its session open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timed out after {waited:?} waiting for session {session} to end (the client keeps it open)"
)]
pub struct SessionTimeout {
    pub session: u64,
    pub waited: std::time::Duration,
}
