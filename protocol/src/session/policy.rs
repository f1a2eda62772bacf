//! The policy: who decides each reply. The session computes what RFC 5321 and its extensions
//! say (the default) and asks the policy, which may keep it or answer with any sequence of
//! steps. The default policy keeps every default; a scenario is just another policy.

use std::time::Duration;

use crate::command::{Command, CommandError};
use crate::data::ContentReport;
use crate::reply::{Reply, ReplyCode};

use super::transaction::Transaction;

/// A moment where the server answers.
#[derive(Debug)]
pub enum DecisionPoint<'a> {
    /// The connection is open; the greeting is due.
    Greeting,
    /// A command line that parsed, and the line as received.
    Command {
        command: &'a Command,
        line: &'a [u8],
    },
    /// A command line that did not parse.
    InvalidCommand {
        line: &'a [u8],
        error: &'a CommandError,
    },
    /// A command line over the limit.
    LineTooLong,
    /// An AUTH exchange ended (the default is 235, or the failure's reply).
    AuthResult {
        mechanism: crate::sasl::Mechanism,
        success: bool,
    },
    /// The end of message content (DATA's final dot, or BDAT LAST).
    EndOfData {
        content: &'a [u8],
        report: &'a ContentReport,
    },
}

/// What the policy can see of the session.
#[derive(Debug)]
pub struct SessionView<'a> {
    pub peer: &'a str,
    /// The EHLO/HELO argument, once given.
    pub helo: Option<&'a str>,
    pub transaction: Option<&'a Transaction>,
    /// Messages accepted so far on this connection.
    pub messages: u32,
    /// Commands received so far on this connection, this one included.
    pub commands: u32,
    /// Whether TLS is active.
    pub tls: bool,
    /// The authenticated user, once AUTH succeeded.
    pub user: Option<&'a str>,
}

/// How the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloseMode {
    /// With a TLS close_notify when TLS is up, then a TCP FIN.
    #[default]
    Graceful,
    /// Without the TLS close_notify (a truncation, as some servers do after 221).
    WithoutCloseNotify,
}

/// One thing to do in answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Reply(Reply),
    /// A reply given as its exact wire octets (every line ending in CRLF), for reply text
    /// that is not UTF-8 (QQ's GBK `535`): written as they are, and read as a reply (its
    /// code decides like [`Step::Reply`]'s).
    ReplyOctets(Vec<u8>),
    /// Octets written exactly as given.
    Raw(Vec<u8>),
    /// Wait before the next step.
    Delay(Duration),
    /// Octets written one at a time with a pause between them (a tarpit).
    Trickle {
        bytes: Vec<u8>,
        gap: Duration,
    },
    /// Close the connection (after writing what came before).
    Close(CloseMode),
    /// Keep the connection open after a `421` in the same response: without it, a `421`
    /// reply closes the session (RFC 5321 §3.8). Writes nothing.
    KeepOpen,
    /// Run `steps` this long from now without holding up the session: it goes on reading
    /// and answering meanwhile. The session asks the runtime for a timer
    /// ([`Action::SetTimer`](super::Action::SetTimer)) and runs the steps when told it
    /// fired ([`Session::timer_fired`](super::Session::timer_fired)); a session closed by
    /// then drops them. Writes nothing now, and is not part of this response's reply.
    After {
        delay: Duration,
        steps: Vec<Step>,
    },
}

impl Step {
    /// The reply this step writes, if it writes one (a trickled reply included).
    pub fn reply(&self) -> Option<Reply> {
        match self {
            Step::Reply(reply) => Some(reply.clone()),
            Step::ReplyOctets(bytes) | Step::Trickle { bytes, .. } => {
                Reply::parse(&String::from_utf8_lossy(bytes)).ok()
            }
            _ => None,
        }
    }
}

/// The answer to a decision point: steps run in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub steps: Vec<Step>,
}

impl Response {
    pub fn reply(reply: Reply) -> Response {
        Response {
            steps: vec![Step::Reply(reply)],
        }
    }

    /// The first reply (written at once or trickled).
    pub fn primary_reply(&self) -> Option<Reply> {
        self.steps.iter().find_map(Step::reply)
    }

    /// Everything the steps write, read as one reply: a reply a scenario writes in pieces
    /// (raw lines, then a final reply line) is still one reply to the client.
    pub fn written_reply(&self) -> Option<Reply> {
        let mut bytes = Vec::new();
        for step in &self.steps {
            match step {
                Step::Reply(reply) => reply.write_to(&mut bytes),
                Step::ReplyOctets(raw) | Step::Raw(raw) | Step::Trickle { bytes: raw, .. } => {
                    bytes.extend_from_slice(raw)
                }
                Step::Delay(_) | Step::Close(_) | Step::KeepOpen | Step::After { .. } => {}
            }
        }
        Reply::parse(&String::from_utf8_lossy(&bytes)).ok()
    }

    /// The code of the first reply: whether the command counts as accepted (2xx, 3xx) and its
    /// state change happens. A response with no reply (raw octets, a close) accepts nothing.
    pub fn primary_code(&self) -> Option<ReplyCode> {
        // Not through `primary_reply`: asked for every command, and a clone costs allocations.
        self.steps.iter().find_map(|step| match step {
            Step::Reply(reply) => Some(reply.code),
            other => other.reply().map(|reply| reply.code),
        })
    }

    pub fn is_positive(&self) -> bool {
        self.primary_code().is_some_and(ReplyCode::is_positive)
    }
}

pub trait Policy: Send {
    /// Answers a decision point; `default` is the standards-correct reply.
    fn decide(
        &mut self,
        session: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response;
}

/// Keeps every default: a correct RFC 5321 server.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPolicy;

impl Policy for DefaultPolicy {
    fn decide(&mut self, _: &SessionView<'_>, _: &DecisionPoint<'_>, default: Reply) -> Response {
        Response::reply(default)
    }
}

impl<P: Policy + ?Sized> Policy for Box<P> {
    fn decide(
        &mut self,
        session: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        (**self).decide(session, point, default)
    }
}
