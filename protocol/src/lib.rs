//! Pure SMTP: the wire types, framing, content decoding, the server session state machine and
//! the transcript. No I/O, no clock, no randomness, no async runtime: everything here is
//! driven by the caller with octets and time offsets, and can be tested without sockets.
//!
//! Layout:
//! - [`address`], [`params`], [`command`], [`reply`], [`extension`]: wire types that parse and
//!   print, each the inverse of the other;
//! - [`framing`]: command lines out of a byte stream, with hard limits;
//! - [`data`]: the DATA decoder and the BDAT chunk reader, with what they observed;
//!   [`outgoing`]: its inverse, content made ready for DATA or BDAT;
//! - [`sasl`]: the SASL mechanisms of SMTP AUTH (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER,
//!   SCRAM-SHA-1, SCRAM-SHA-256), server and client side, with strict base64;
//! - [`session`]: the server side of a session, as inputs in and actions out, with a
//!   [`session::Policy`] deciding every reply (the default follows RFC 5321);
//! - [`transcript`]: what happened, in order, for both the server and the client side.

pub mod address;
pub mod command;
pub mod data;
pub mod extension;
pub mod framing;
pub mod outgoing;
pub mod params;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod transcript;

pub use address::{ForwardPath, Mailbox, Path, ReversePath};
pub use command::{Command, CommandError, Verb};
pub use reply::{EnhancedCode, Reply, ReplyCode};
pub use transcript::Transcript;
