//! The harness: a reference SMTP client that walks submission, relay, TLS and AUTH flows and
//! snapshots both sides' transcripts.
//!
//! Not built yet (it is the harness issue). It will depend on [`smtp_protocol`] for the wire
//! types and the transcript, as the fake server does, and on the fake server only in tests.

pub mod dns;

pub use smtp_protocol::Transcript;
