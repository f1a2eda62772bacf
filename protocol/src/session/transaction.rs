//! The mail transaction (RFC 5321 §3.3): what MAIL and RCPT gathered, reset by RSET, EHLO and
//! the end of data; and the message handed to the runtime for storage.

use serde::{Deserialize, Serialize};

use crate::address::{ForwardPath, ReversePath};
use crate::data::ContentReport;
use crate::params::{Body, MailParam, RcptParam};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub forward_path: ForwardPath,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<RcptParam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub reverse_path: ReversePath,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<MailParam>,
    pub recipients: Vec<Recipient>,
}

impl Transaction {
    pub fn body(&self) -> Option<Body> {
        self.params.iter().find_map(|p| match p {
            MailParam::Body(body) => Some(*body),
            _ => None,
        })
    }

    /// The SIZE the client declared (RFC 1870), if any.
    pub fn size(&self) -> Option<u64> {
        self.params.iter().find_map(|p| match p {
            MailParam::Size(size) => Some(*size),
            _ => None,
        })
    }

    pub fn smtputf8(&self) -> bool {
        self.params.contains(&MailParam::SmtpUtf8)
    }
}

/// How the content came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transfer {
    Data,
    Bdat,
}

/// A message the session accepted, handed to the runtime to store before any 250 is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// The EHLO/HELO argument.
    pub helo: Option<String>,
    /// True when EHLO (not HELO) opened the session: the trace says ESMTP, not SMTP.
    pub esmtp: bool,
    /// Whether the message came under TLS (the trace says ESMTPS).
    pub tls: bool,
    /// The authenticated user (the trace says ESMTPA).
    pub authenticated: Option<String>,
    pub transaction: Transaction,
    pub transfer: Transfer,
    #[serde(skip)]
    pub content: Vec<u8>,
    pub report: ContentReport,
}

/// Why the runtime could not store a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("local error in processing: {0}")]
    Local(String),
    #[error("insufficient storage")]
    Full,
}
