//! A scriptable fake SMTP server and local mail sink.
//!
//! By default it is a correct RFC 5321 server that accepts every sender and recipient and
//! keeps what it receives, with a transcript of every session. Embed it in a test with
//! [`Server::builder`], or run it with the `fake-smtp` command.
//!
//! Layout:
//! - [`server`]: the public handle (start, addresses, messages, transcripts, shutdown);
//! - [`runtime`]: listeners, the connection driver (the only code touching sockets and the
//!   clock), limits and shutdown;
//! - [`scenario`]: YAML scenarios that script the server's behaviour, and the built-in
//!   library;
//! - [`mailbox`]: captured messages in memory and, optionally, in a Maildir;
//! - [`tls`]: the local CA, server certificates (good and deliberately bad) and the rustls
//!   configuration STARTTLS and implicit TLS use;
//! - [`events`]: the machine-readable events `--json` prints;
//! - [`report`]: run reports (text, JSON, JUnit XML, HTML) built from finished sessions;
//! - `cli` and `main.rs`: the command line, converted at once into the types above.

pub mod duration;
pub mod error;
pub mod events;
pub mod expect;
pub mod mailbox;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod server;
pub mod tls;

pub use error::{ServerError, WaitTimeout};
pub use events::ServerEvent;
pub use mailbox::{SessionRecord, StoredMessage, Summary};
pub use runtime::connection::{DefaultPolicyFactory, PolicyFactory};
pub use scenario::{Scenario, ScenarioError};
pub use server::{ListenerKind, ListenerSpec, Server, ServerBuilder};
pub use smtp_protocol::session::{BareLineEnds, SessionConfig};
