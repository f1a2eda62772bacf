//! The harness: a reference SMTP client that walks submission, relay, TLS and AUTH flows
//! against any server, records both sides' transcripts, and snapshots them.
//!
//! Layout:
//! - [`client`]: the reference client (tokio + tokio-rustls over [`smtp_protocol`]);
//! - [`flows`]: submission, relay, TLS and AUTH, each returning an outcome and the client's
//!   transcript;
//! - [`message`]: the message shapes the client sends, rendered per server (8-bit
//!   downgrade, encoded-words, RFC 2231);
//! - [`redact`]: what varies between runs, masked for comparisons;
//! - `main.rs`: the `smtp-harness probe` command.

pub mod client;
pub mod flows;
pub mod message;
pub mod redact;

pub mod dns;

pub use smtp_protocol::Transcript;
