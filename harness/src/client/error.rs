//! Why a client operation failed. A refusal by the server is data ([`ClientError::Rejected`]
//! carries the reply); the other variants are the connection, TLS or the client's own rules.

use std::time::Duration;

use smtp_protocol::reply::{Reply, ReplyError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no reply within {after:?} while waiting for {waiting_for}")]
    Timeout {
        waiting_for: &'static str,
        after: Duration,
    },
    #[error("the server closed the connection while the client waited for {0}")]
    Closed(&'static str),
    #[error("malformed reply {raw:?}: {error}")]
    BadReply { raw: String, error: ReplyError },
    #[error("{command} refused: {}", reply.to_string().trim_end())]
    Rejected { command: String, reply: Reply },
    #[error("TLS is required but the server does not offer STARTTLS")]
    StartTlsUnavailable,
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    #[error("no AUTH mechanism in common with the server (it offers: {offered})")]
    NoMechanism { offered: String },
    #[error("{0} sends the password readably: not without TLS (RFC 4954 §4)")]
    PlaintextWithoutTls(smtp_protocol::sasl::Mechanism),
    #[error("SASL: {0}")]
    Sasl(#[from] smtp_protocol::sasl::ClientError),
    #[error("the message needs {0}, which the server does not offer")]
    MissingExtension(&'static str),
    #[error("{what} need SMTPUTF8 (RFC 6531), which the server does not offer")]
    Smtputf8Required { what: String },
    #[error("the message ({size} octets) exceeds the server's SIZE {limit}")]
    TooBig { size: u64, limit: u64 },
    #[error("invalid address {address:?}: {error}")]
    Address {
        address: String,
        error: smtp_protocol::address::AddressError,
    },
    #[error("no recipient given")]
    NoRecipients,
    #[error("cannot build the message: {0}")]
    Message(#[from] crate::message::MessageError),
}

impl ClientError {
    /// The server's reply, when the failure is a refusal.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Rejected { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// Whether the session can still say QUIT: the server refused something, or the client
    /// stopped by its own rules (a message too big for SIZE, a missing extension); not when
    /// the connection broke, timed out or TLS failed. RFC 5321 §4.1.1.10: the client MUST NOT
    /// close the channel before it has sent QUIT.
    pub fn session_usable(&self) -> bool {
        match self {
            ClientError::Rejected { reply, .. } => reply.code.get() != 421,
            ClientError::StartTlsUnavailable
            | ClientError::NoMechanism { .. }
            | ClientError::PlaintextWithoutTls(_)
            | ClientError::MissingExtension(_)
            | ClientError::Smtputf8Required { .. }
            | ClientError::TooBig { .. }
            | ClientError::Address { .. }
            | ClientError::NoRecipients
            | ClientError::Message(_) => true,
            _ => false,
        }
    }

    /// Transient (4xx) refusals and lost connections are worth another try later, or with
    /// another MX (RFC 5321 §4.2.5, §5.1).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Rejected { reply, .. } => reply.code.class() == 4,
            ClientError::Connect { .. }
            | ClientError::Io(_)
            | ClientError::Timeout { .. }
            | ClientError::Closed(_) => true,
            _ => false,
        }
    }
}
