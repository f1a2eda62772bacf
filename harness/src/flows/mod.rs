//! Flows: complete walks through a kind of SMTP use, each returning an outcome and the
//! client's transcripts (one per session). Against fake-smtp the server's transcripts can be
//! put beside them; against any other server the client's side alone tells the story.

mod auth;
mod relay;
mod submission;
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use smtp_protocol::sasl::Credentials;
use smtp_protocol::Transcript;

use crate::client::{
    Client, ClientConfig, ClientError, Delivery, Envelope, Timeouts, TlsMode, Trust,
};
use crate::message::{render, Shape};

pub use auth::auth;
pub use relay::{relay, relay_to_domain, RelayTarget};
pub use submission::{submission, submission_implicit};
pub use tls::{tls_opportunistic, tls_required};

/// The flows there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FlowKind {
    /// Port 587 style: STARTTLS (required), AUTH, one message.
    Submission,
    /// Port 465 style: TLS from the first octet, AUTH, one message.
    SubmissionImplicit,
    /// Port 25 style: MX resolution, no AUTH, opportunistic STARTTLS, fallback to the next MX.
    Relay,
    /// STARTTLS when offered, else in the clear; one message.
    TlsOpportunistic,
    /// STARTTLS or stop: refuses a server that does not offer it or answers 454.
    TlsRequired,
    /// AUTH with every mechanism both sides have: the right secret, a wrong one, a cancel.
    Auth,
}

impl FlowKind {
    pub const ALL: [FlowKind; 6] = [
        FlowKind::Submission,
        FlowKind::SubmissionImplicit,
        FlowKind::Relay,
        FlowKind::TlsOpportunistic,
        FlowKind::TlsRequired,
        FlowKind::Auth,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FlowKind::Submission => "submission",
            FlowKind::SubmissionImplicit => "submission-implicit",
            FlowKind::Relay => "relay",
            FlowKind::TlsOpportunistic => "tls-opportunistic",
            FlowKind::TlsRequired => "tls-required",
            FlowKind::Auth => "auth",
        }
    }
}

/// Where a flow goes and how it proves who it talks to.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    pub trust: Trust,
    /// The name the certificate must carry (default: the address).
    pub server_name: Option<String>,
    /// A password (PLAIN, LOGIN, CRAM-MD5, SCRAM).
    pub credentials: Option<Credentials>,
    /// A bearer token (XOAUTH2, OAUTHBEARER), for the AUTH flow.
    pub bearer: Option<Credentials>,
    pub envelope: Envelope,
    pub timeouts: Timeouts,
    /// What the flows send (default: [`MESSAGE`]).
    pub message: Outbound,
}

/// The message a flow sends.
#[derive(Debug, Clone, Default)]
pub enum Outbound {
    /// [`MESSAGE`], as it is.
    #[default]
    Default,
    /// A shape of the corpus, rendered for each server after its EHLO reply.
    Shape(&'static Shape),
    /// A user's own message (`--message-file`), sent as it is (line ends made CRLF).
    File(std::sync::Arc<Vec<u8>>),
}

impl Target {
    pub fn new(address: SocketAddr) -> Target {
        Target {
            address,
            trust: Trust::default(),
            server_name: None,
            credentials: None,
            bearer: None,
            envelope: Envelope {
                from: "harness@test.example".to_owned(),
                to: vec!["recipient@test.example".to_owned()],
                dsn: None,
            },
            timeouts: Timeouts::default(),
            message: Outbound::Default,
        }
    }

    /// Sends `shape`; a shape with envelope addresses of its own (UTF-8 mailboxes) uses them.
    pub fn with_shape(mut self, shape: &'static Shape) -> Target {
        if let Some((from, to)) = shape.envelope {
            self.envelope.from = from.to_owned();
            self.envelope.to = to.iter().map(|t| (*t).to_owned()).collect();
        }
        self.message = Outbound::Shape(shape);
        self
    }

    /// Sends the target's message on a session that is ready for MAIL.
    async fn send(&self, client: &mut Client) -> Result<Delivery, ClientError> {
        match &self.message {
            Outbound::Default => client.send(&self.envelope, MESSAGE).await,
            Outbound::File(content) => client.send(&self.envelope, content).await,
            Outbound::Shape(shape) => {
                client.note(format!("message: {} ({})", shape.name, shape.summary));
                let rendered = render(&(shape.build)(), client.offered())?;
                client.send_rendered(&self.envelope, &rendered).await
            }
        }
    }

    fn client_config(&self, tls: TlsMode) -> ClientConfig {
        ClientConfig {
            tls,
            trust: self.trust.clone(),
            server_name: self.server_name.clone(),
            timeouts: self.timeouts,
            ..ClientConfig::default()
        }
    }

    /// Connects with `tls`; a failure is recorded in `outcome` as the `connect` step.
    async fn connect(&self, tls: TlsMode, outcome: &mut FlowOutcome) -> Option<Client> {
        match Client::connect(self.address, self.client_config(tls)).await {
            Ok(client) => Some(client),
            Err(error) => {
                outcome.failed("connect", &error);
                None
            }
        }
    }
}

/// What a flow did.
#[derive(Debug, Clone, Serialize)]
pub struct FlowOutcome {
    pub flow: FlowKind,
    /// Whether the flow ended as a careful client would want: delivered, or stopped for the
    /// right reason (without TLS for `tls-required`; a null MX for `relay`).
    pub success: bool,
    /// One line per step that matters, e.g. `delivered: 250 2.0.0 OK`.
    pub summary: Vec<String>,
    /// The client's transcript of each session, in order.
    #[serde(skip)]
    pub sessions: Vec<Transcript>,
}

impl FlowOutcome {
    fn new(flow: FlowKind) -> FlowOutcome {
        FlowOutcome {
            flow,
            success: false,
            summary: Vec::new(),
            sessions: Vec::new(),
        }
    }

    fn step(&mut self, line: impl Into<String>) {
        self.summary.push(line.into());
    }

    fn failed(&mut self, what: &str, error: &ClientError) {
        self.summary.push(format!("{what} failed: {error}"));
    }

    /// The outcome and the client's transcripts as text (`with_times` adds time offsets).
    pub fn render(&self, with_times: bool) -> String {
        let mut text = format!(
            "flow: {}
success: {}
outcome:
",
            self.flow.name(),
            self.success
        );
        for step in &self.summary {
            text.push_str(&format!("  - {step}\n"));
        }
        for (i, transcript) in self.sessions.iter().enumerate() {
            text.push_str(&format!("\n=== client, session {} ===\n", i + 1));
            text.push_str(&transcript.render(with_times));
        }
        text
    }
}

/// The message every flow sends: fixed headers, so transcripts compare across runs, and a
/// line that must be dot-stuffed.
pub const MESSAGE: &[u8] = b"From: Harness <harness@test.example>\r\n\
To: <recipient@test.example>\r\n\
Subject: smtp-harness flow\r\n\
Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n\
Message-ID: <flow@harness.test.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
This message was sent by smtp-harness.\r\n\
.This line starts with a dot.\r\n";

/// A short timeout for flows against servers expected to answer at once (used by tests on
/// the paused clock, where it costs nothing).
pub const QUICK: Duration = Duration::from_secs(30);
