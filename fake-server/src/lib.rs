//! A scriptable fake SMTP server and local mail sink.
//!
//! By default it is a correct RFC 5321 server that accepts every sender and recipient and
//! keeps what it receives, with a transcript of every session. Embed it in a test with
//! [`Server::builder`], or run it with the `fake-smtp` command.
//!
//! # In a test
//!
//! A scenario plays a provider's behaviour to the client under test; the session's
//! transcript shows what the client did. This example is README's (a test keeps them the
//! same): Gmail's two-line `535` to AUTH, which Gmail offers only after STARTTLS, so the
//! plain listener offers STARTTLS here, with a CA made in memory for this server.
//!
//! ```
//! # use std::error::Error;
//! # use std::net::SocketAddr;
//! # /// The client under test: lettre, over STARTTLS, with a user name and password.
//! # async fn my_client_sends(address: SocketAddr, ca_pem: &str) -> Result<(), Box<dyn Error>> {
//! #     use lettre::transport::smtp::authentication::Credentials;
//! #     use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
//! #     use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
//! #     let tls = TlsParameters::builder("localhost".to_owned())
//! #         .add_root_certificate(Certificate::from_pem(ca_pem.as_bytes())?)
//! #         .build_rustls()?;
//! #     let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
//! #         .port(address.port())
//! #         .tls(Tls::Required(tls))
//! #         .credentials(Credentials::new("me@gmail.com".into(), "wrong".into()))
//! #         .timeout(Some(std::time::Duration::from_secs(10)))
//! #         .build();
//! #     let email = Message::builder()
//! #         .from("me@gmail.com".parse()?)
//! #         .to("you@example.org".parse()?)
//! #         .subject("hi")
//! #         .body("hi\n".to_owned())?;
//! #     transport.send(email).await?;
//! #     Ok(())
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn Error>> {
//! use std::time::Duration;
//!
//! let server = fake_server::Server::builder()
//!     .smtp("127.0.0.1:0".parse()?)
//!     .scenario(fake_server::Scenario::load("providers/gmail/multiline-535")?)
//!     .start()
//!     .await?;
//! // Point the client under test at server.smtp_addr(), trusting server.ca_cert_pem() (the
//! // scenario offers STARTTLS, as Gmail does; the CA is made in memory for this server).
//! let sent = my_client_sends(server.smtp_addr(), server.ca_cert_pem().unwrap()).await;
//! assert!(sent.is_err()); // the 535 must reach the caller
//! // A session is listed once it has ended: wait for it (for a message's own session,
//! // server.wait_for_session_of(&message, timeout)).
//! let sessions = server.wait_for_sessions(1, Duration::from_secs(5)).await;
//! println!("{}", sessions[0].transcript); // C:/S: lines, the two-line 535 among them
//! server.shutdown().await;
//! # let transcript = sessions[0].transcript.render(false);
//! # assert!(transcript.contains("Ready to start TLS\n** TLS established"), "{transcript}");
//! # assert!(transcript.contains("S: 535-5.7.8 Username and Password not accepted. Learn more at\nS: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials"), "{transcript}");
//! # Ok(())
//! # }
//! ```
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

pub mod civil;
pub mod duration;
pub mod error;
pub mod events;
pub mod expect;
pub mod mailbox;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod server;
pub mod text;
pub mod tls;
pub mod web;

/// Locks a mutex whatever happened to its last holder: the server's shared state (the
/// mailbox, the after-reply queue, the web sink's events) stays usable after a panic in one
/// task, which is a bug to report, not a reason to stop serving.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub use error::{ServerError, SessionTimeout, WaitTimeout};
pub use events::ServerEvent;
pub use mailbox::{Attachment, ParsedMessage, SessionRecord, StoredMessage, Summary};
pub use runtime::connection::{DefaultPolicyFactory, PolicyFactory};
pub use scenario::{Scenario, ScenarioError};
pub use server::{ListenerKind, ListenerSpec, Server, ServerBuilder};
pub use smtp_protocol::session::{BareLineEnds, SessionConfig};
