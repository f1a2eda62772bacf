//! The harness: a reference SMTP client that walks submission, relay, TLS and AUTH flows
//! against any server, records both sides' transcripts, and snapshots them.
//!
//! Layout:
//! - [`client`]: the reference client (tokio + tokio-rustls over [`smtp_protocol`]);
//! - [`flows`]: submission, relay, TLS and AUTH, each returning an outcome and the client's
//!   transcript;
//! - [`redact`]: what varies between runs, masked for comparisons;
//! - `main.rs`: the `smtp-harness probe` command.

pub mod client;
pub mod flows;
pub mod redact;

pub mod dns;

pub use smtp_protocol::Transcript;
