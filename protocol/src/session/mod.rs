//! The server session: a state machine fed with inputs (octets from the client, "message
//! stored", "timer fired", "peer closed") that returns actions (write these octets, store this
//! message, wait, close). It never reads a socket or a clock: the runtime passes the time
//! since the session started with every input, and carries out every action.
//!
//! Call order: create with [`Session::new`] (the greeting is queued), then loop: take every
//! action with [`Session::poll_action`] and carry it out (a `Store` or `Wait` must be answered
//! with [`Session::message_stored`] or [`Session::resume`] before anything else happens); when
//! there is none, read from the socket with [`Session::timeout`] and feed the result to
//! [`Session::receive`], [`Session::peer_closed`] or [`Session::timed_out`].

mod auth;
mod commands;
mod config;
mod policy;
mod transaction;

use std::collections::VecDeque;
use std::time::Duration;

pub use config::{
    AuthConfig, AuthUser, BareLineEnds, ExtensionToggles, PipeliningMode, SessionConfig,
};
pub use policy::{CloseMode, DecisionPoint, DefaultPolicy, Policy, Response, SessionView, Step};
pub use transaction::{ReceivedMessage, Recipient, StoreError, Transaction, Transfer};

use crate::command::Command;
use crate::data::{ChunkReader, ContentReport, DataDecoder};
use crate::extension::Extensions;
use crate::framing::{Framed, LineEnding, LineFramer};
use crate::reply::{EnhancedCode, Reply};
use crate::transcript::{CloseReason, Event, LineMeta, Transcript};

/// What the runtime must do next.
#[derive(Debug)]
#[must_use = "every action must be carried out, or the session stalls"]
pub enum Action {
    /// Write these octets to the client.
    Send(Vec<u8>),
    /// Store this message, then call [`Session::message_stored`]. Nothing is acknowledged to
    /// the client before that call.
    Store(Box<ReceivedMessage>),
    /// Wait this long, then call [`Session::resume`].
    Wait(Duration),
    /// Begin the TLS handshake on the connection (the 220 was sent), then call
    /// [`Session::tls_established`] or [`Session::tls_failed`].
    StartTls,
    /// Close the connection this way; the session is over.
    Close(CloseMode),
    /// Start a timer: `after` from now, call [`Session::timer_fired`] with `id`, and go on
    /// reading and carrying out actions meanwhile (nothing waits for it). Timers of a
    /// session that closed are dropped. Set by [`Step::After`].
    SetTimer { id: u64, after: Duration },
}

/// Where the session is connected, as the runtime describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub peer: String,
    pub local: String,
    /// Set when TLS was negotiated before the session began (implicit TLS, RFC 8314 §3.3).
    pub tls: Option<TlsDetails>,
    /// Random text for this session (CRAM-MD5 challenges, SCRAM nonces): the session makes
    /// no randomness itself. Printable ASCII without commas.
    pub random: String,
    /// Seconds since the Unix epoch at the start, for CRAM-MD5's challenge.
    pub unix_time: u64,
    /// The listener's name, recorded in the transcript (`smtp`, `submission`, `smtps`).
    pub listener: Option<String>,
}

/// What the runtime tells the session about a TLS handshake that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsDetails {
    pub version: String,
    pub cipher: String,
    pub sni: Option<String>,
}

/// The client's EHLO/HELO and what the server advertised in answer.
#[derive(Debug, Clone)]
struct Hello {
    domain: String,
    esmtp: bool,
    extensions: Extensions,
}

/// A BDAT chunk being read. Every BDAT whose size can be read is followed by that many
/// octets, which are read (and discarded when the BDAT is refused) before any command
/// again (RFC 3030 §2): otherwise the chunk's octets would run as commands.
#[derive(Debug)]
struct Chunk {
    /// The BDAT command, or why its line did not parse (`BDAT 6 FINAL`).
    command: Result<Command, crate::command::CommandError>,
    line: Vec<u8>,
    size: u64,
    last: bool,
    remaining: u64,
    /// The reply owed after the chunk when it is refused (its octets are discarded).
    refusal: Option<Reply>,
}

#[derive(Debug)]
enum Phase {
    Command,
    Data(Box<DataDecoder>),
    Chunk(Chunk),
    Sasl(Box<auth::SaslState>),
    Closed,
}

/// Work queued behind the current response's steps.
#[derive(Debug)]
enum Pending {
    Step(Step),
    /// One octet of a trickled step (recorded in the transcript as a whole already).
    Octet(u8),
    /// Write what is buffered (the reply may not wait for later ones, RFC 2920 §3.2).
    Flush,
    Close(CloseReason, CloseMode),
    /// Hand the connection to TLS (after the 220 is written).
    StartTls,
}

#[derive(Debug)]
enum Awaiting {
    /// A `Store` was issued; these steps answer it once it succeeds.
    Store(Vec<Step>),
    Wait,
    TlsHandshake,
}

/// Whether these steps say `421` (RFC 5321 §3.8: the server is closing) without closing
/// themselves or keeping the connection open on purpose. Only replies count: `raw` octets
/// are written as given and not read as a reply.
fn closes_after_421(steps: &[Step]) -> bool {
    let says_421 = steps.iter().any(|step| match step {
        Step::Reply(reply) => reply.code.get() == 421,
        Step::ReplyOctets(bytes) | Step::Trickle { bytes, .. } => bytes.starts_with(b"421"),
        _ => false,
    });
    says_421
        && !steps
            .iter()
            .any(|step| matches!(step, Step::Close(_) | Step::KeepOpen))
}

/// Fills in `{queue-id}` (known once the message is stored) in what a step writes.
fn with_queue_id(step: Step, id: &str) -> Step {
    match step {
        Step::Reply(mut reply) => {
            for line in &mut reply.lines {
                // Only the ASCII placeholder is replaced, so the line stays UTF-8.
                if let Some(filled) =
                    fill_queue_id(line.as_bytes(), id).and_then(|f| String::from_utf8(f).ok())
                {
                    *line = filled;
                }
            }
            Step::Reply(reply)
        }
        Step::ReplyOctets(bytes) => Step::ReplyOctets(fill_queue_id(&bytes, id).unwrap_or(bytes)),
        Step::Trickle { bytes, gap } => Step::Trickle {
            bytes: fill_queue_id(&bytes, id).unwrap_or(bytes),
            gap,
        },
        Step::After { delay, steps } => Step::After {
            delay,
            steps: steps.into_iter().map(|s| with_queue_id(s, id)).collect(),
        },
        other => other,
    }
}

/// `text` with every `{queue-id}` replaced by `id`; `None` when it has none. The searcher
/// is built once: `str::contains` and `str::replace` built one a call, about 700
/// instructions of the reply to each message (callgrind, ci/bench/instructions.sh).
fn fill_queue_id(text: &[u8], id: &str) -> Option<Vec<u8>> {
    const PLACEHOLDER: &str = "{queue-id}";
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    let finder = FINDER.get_or_init(|| memchr::memmem::Finder::new(PLACEHOLDER));
    let first = finder.find(text)?;
    let mut out = Vec::with_capacity(text.len() + id.len());
    let mut rest = text;
    let mut at = Some(first);
    while let Some(found) = at {
        out.extend_from_slice(&rest[..found]);
        out.extend_from_slice(id.as_bytes());
        rest = &rest[found + PLACEHOLDER.len()..];
        at = finder.find(rest);
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// Replies that RFC 2920 §3.2 lets a server hold back while more pipelined commands follow.
fn is_bufferable(command: &Command) -> bool {
    matches!(
        command,
        Command::Rset | Command::Mail { .. } | Command::Rcpt { .. }
    )
}

/// One SMTP server session. `P` decides the replies (see [`Policy`]).
#[derive(Debug)]
pub struct Session<P: Policy = DefaultPolicy> {
    config: std::sync::Arc<SessionConfig>,
    policy: P,
    peer: PeerInfo,
    now: Duration,
    transcript: Transcript,
    input: Vec<u8>,
    framer: LineFramer,
    phase: Phase,
    /// The DATA decoder of the last message, kept with its buffer for the next one.
    spare_decoder: Option<Box<DataDecoder>>,
    hello: Option<Hello>,
    transaction: Option<Transaction>,
    bdat: Option<Box<ChunkReader>>,
    /// A BDAT failed inside a transaction: only RSET (or EHLO/HELO) clears it (RFC 3030 §2).
    bdat_failed: bool,
    /// The greeting refused service (554): every command but QUIT gets 503 (RFC 5321 §3.1).
    refused: bool,
    /// TLS is up (implicit, or after STARTTLS).
    tls: Option<TlsDetails>,
    /// Who authenticated (AUTH succeeded).
    user: Option<String>,
    /// The user an exchange in progress claims to be.
    pending_user: Option<String>,
    pending: VecDeque<Pending>,
    awaiting: Option<Awaiting>,
    out: Vec<u8>,
    actions: VecDeque<Action>,
    peer_eof: bool,
    commands: u32,
    messages: u32,
    noted_bare_lf: bool,
    noted_bare_cr: bool,
    /// The first `early_until` octets of `input` arrived before the server had answered what
    /// came before them (see [`LineMeta::pipelined`]).
    early_until: usize,
    /// Whether the unit of input being processed now began early.
    unit_early: bool,
    /// Whether the content being received began early (set at its first octet).
    content_early: Option<bool>,
    /// Steps waiting for their timer ([`Step::After`]): id, delay, steps.
    timers: Vec<(u64, Duration, Vec<Step>)>,
    next_timer: u64,
}

impl<P: Policy> Session<P> {
    /// Starts a session; the greeting is decided at once and queued.
    pub fn new(
        config: std::sync::Arc<SessionConfig>,
        policy: P,
        peer: PeerInfo,
        now: Duration,
    ) -> Session<P> {
        let framer = LineFramer::new(config.command_line_limit);
        let mut session = Session {
            config,
            policy,
            now,
            transcript: Transcript::new(),
            input: Vec::new(),
            framer,
            phase: Phase::Command,
            hello: None,
            transaction: None,
            bdat: None,
            spare_decoder: None,
            bdat_failed: false,
            refused: false,
            tls: None,
            user: None,
            pending_user: None,
            pending: VecDeque::new(),
            awaiting: None,
            out: Vec::new(),
            actions: VecDeque::new(),
            peer_eof: false,
            commands: 0,
            messages: 0,
            noted_bare_lf: false,
            noted_bare_cr: false,
            early_until: 0,
            unit_early: false,
            content_early: None,
            timers: Vec::new(),
            next_timer: 0,
            peer,
        };
        session.transcript.push(
            now,
            Event::Connected {
                peer: session.peer.peer.clone(),
                local: session.peer.local.clone(),
                listener: session.peer.listener.clone(),
            },
        );
        if let Some(tls) = session.peer.tls.clone() {
            session.record_tls(&tls);
            session.tls = Some(tls);
        }
        let default = Reply::new(
            220,
            None,
            [
                &*session.config.hostname,
                " ",
                &*session.config.greeting_text,
            ]
            .concat(),
        );
        let response = session.ask(&DecisionPoint::Greeting, default);
        match response.primary_code().map(|c| c.get()) {
            Some(554) => session.refused = true,
            Some(code) if !(200..300).contains(&code) => {
                // 421 and other refusals: the server closes after saying so.
                session.queue_response(response.steps, true);
                session
                    .pending
                    .push_back(Pending::Close(CloseReason::Policy, CloseMode::Graceful));
                session.run();
                return session;
            }
            _ => {}
        }
        session.queue_response(response.steps, true);
        session.run();
        session
    }

    /// The next thing the runtime must do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Octets from the client.
    pub fn receive(&mut self, now: Duration, bytes: &[u8]) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.awaiting.is_some() || !self.pending.is_empty() {
            // The server still owes an answer (a delayed reply, the greeting): whatever the
            // client sends now, it sends without waiting for it.
            self.early_until = self.input.len() + bytes.len();
        }
        self.input.extend_from_slice(bytes);
        self.run();
    }

    /// Octets received and not yet processed (the runtime stops reading past a bound while
    /// the session waits).
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// The client closed its side. Input already received is still processed and answered
    /// (a half-closed client may be reading); then the session closes. A transaction that
    /// was not finished is dropped, a finished one is kept (S-5321-PEER-CLOSE).
    pub fn peer_closed(&mut self, now: Duration) {
        self.now = now;
        self.peer_eof = true;
        self.run();
    }

    /// The connection broke (a read or write failed): nothing more can be said to the client,
    /// so the session ends at once and an unfinished transaction is dropped.
    pub fn connection_lost(&mut self, now: Duration, error: &str) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.transcript
            .note(now, None, format!("connection lost: {error}"));
        self.out.clear();
        self.close(CloseReason::Error);
        // Nothing can be written any more: keep only the Close.
        self.actions.retain(|a| matches!(a, Action::Close(_)));
    }

    /// No input within [`Session::timeout`]: `421 4.4.2` and close (S-5321-SERVER-TIMEOUT).
    pub fn timed_out(&mut self, now: Duration) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        let reply = self.reply(
            421,
            (4, 4, 2),
            format!("{} Timeout, closing connection", self.config.hostname),
        );
        self.abort_with(reply, CloseReason::Timeout);
    }

    /// The server is shutting down: `421 4.3.2` and close (S-5321-SHUTDOWN).
    pub fn shutdown(&mut self, now: Duration) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        let reply = self.reply(
            421,
            (4, 3, 2),
            format!("{} Service shutting down", self.config.hostname),
        );
        self.abort_with(reply, CloseReason::Shutdown);
    }

    /// The answer to [`Action::Store`]: the id it was stored under, or why it was not.
    pub fn message_stored(&mut self, now: Duration, result: Result<String, StoreError>) {
        self.now = now;
        let Some(Awaiting::Store(steps)) = self.awaiting.take() else {
            return;
        };
        match result {
            Ok(id) => {
                self.messages += 1;
                let steps = steps
                    .into_iter()
                    .map(|step| with_queue_id(step, &id))
                    .collect();
                self.transcript.push(now, Event::Stored { id });
                self.queue_response(steps, true);
            }
            Err(error) => {
                let reply = match error {
                    StoreError::Full => self.reply(452, (4, 3, 1), "Insufficient system storage"),
                    StoreError::Local(_) => self.reply(
                        451,
                        (4, 3, 0),
                        "Requested action aborted: local error in processing",
                    ),
                };
                self.transcript
                    .note(now, None, format!("message not stored: {error}"));
                self.queue_response(vec![Step::Reply(reply)], true);
            }
        }
        self.run();
    }

    /// Hands back the buffer of an [`Action::Send`] once written, so that its memory is
    /// reused for the next replies instead of allocated again.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.out.is_empty() && self.out.capacity() < buffer.capacity() {
            buffer.clear();
            self.out = buffer;
        }
    }

    /// The answer to [`Action::StartTls`]: the handshake succeeded. The session starts over
    /// (RFC 3207 §4.2): the client must say EHLO again, and what it said before is forgotten.
    pub fn tls_established(&mut self, now: Duration, details: TlsDetails) {
        self.now = now;
        if !matches!(self.awaiting, Some(Awaiting::TlsHandshake)) {
            return;
        }
        self.awaiting = None;
        self.record_tls(&details);
        self.tls = Some(details);
        self.hello = None;
        self.user = None;
        self.transaction = None;
        self.bdat = None;
        self.bdat_failed = false;
        self.framer.set_max_line(self.config.command_line_limit);
        self.run();
    }

    /// The answer to [`Action::StartTls`]: the handshake failed; the connection is unusable.
    pub fn tls_failed(&mut self, now: Duration, error: &str) {
        self.now = now;
        if !matches!(self.awaiting, Some(Awaiting::TlsHandshake)) {
            return;
        }
        self.awaiting = None;
        self.transcript
            .note(now, None, format!("TLS handshake failed: {error}"));
        self.close(CloseReason::Error);
        self.actions.retain(|a| matches!(a, Action::Close(_)));
    }

    fn record_tls(&mut self, details: &TlsDetails) {
        self.transcript.push(
            self.now,
            Event::TlsEstablished {
                version: details.version.clone(),
                cipher: details.cipher.clone(),
                sni: details.sni.clone(),
            },
        );
    }

    /// Records what the runtime knows and the session cannot see, for the conformance checks
    /// (e.g. that the certificate just presented was deliberately invalid).
    pub fn observe(&mut self, now: Duration, check: &str, text: &str) {
        self.transcript.note(now, Some(check), text);
    }

    /// Whether TLS is up.
    pub fn tls(&self) -> Option<&TlsDetails> {
        self.tls.as_ref()
    }

    /// The authenticated user, once AUTH succeeded.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The answer to [`Action::SetTimer`]: its time came. The steps it was set for run now,
    /// after whatever the session is doing (a reply being written, a delay) is done.
    pub fn timer_fired(&mut self, now: Duration, id: u64) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        let Some(index) = self.timers.iter().position(|(timer, _, _)| *timer == id) else {
            return;
        };
        let (_, delay, steps) = self.timers.remove(index);
        self.transcript.note(
            now,
            None,
            format!("the server writes unprompted ({delay:?} after it was scheduled)"),
        );
        self.queue_response(steps, true);
        self.run();
    }

    /// The answer to [`Action::Wait`].
    pub fn resume(&mut self, now: Duration) {
        self.now = now;
        if matches!(self.awaiting, Some(Awaiting::Wait)) {
            self.awaiting = None;
        }
        self.run();
    }

    /// How long to wait for the next input before calling [`Session::timed_out`].
    pub fn timeout(&self) -> Duration {
        match self.phase {
            Phase::Data(_) | Phase::Chunk(_) => self.config.data_timeout,
            _ => self.config.command_timeout,
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// True while message content is being received (DATA, or a BDAT chunk): the runtime
    /// applies the data timeout and the minimum data rate then.
    pub fn in_transfer(&self) -> bool {
        matches!(self.phase, Phase::Data(_) | Phase::Chunk(_))
    }

    /// True between transactions with nothing in flight: a good moment to shut down.
    pub fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Command)
            && self.transaction.is_none()
            && self.input.is_empty()
            && self.pending.is_empty()
            && self.awaiting.is_none()
    }

    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    pub fn into_transcript(self) -> Transcript {
        let mut transcript = self.transcript;
        transcript.settle();
        transcript
    }

    /// Messages accepted (stored and acknowledged) on this connection.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    // ---- the engine -------------------------------------------------------------------

    /// Runs queued steps and input until the session must wait for the runtime or the client.
    fn run(&mut self) {
        // The input is consumed by offset and compacted once at the end: draining it after
        // every command would move the rest of a pipelined group again and again.
        let mut input = std::mem::take(&mut self.input);
        let mut offset = 0;
        loop {
            if matches!(self.phase, Phase::Closed) || self.awaiting.is_some() {
                break;
            }
            if let Some(pending) = self.pending.pop_front() {
                if matches!(
                    pending,
                    Pending::Step(Step::Close(_)) | Pending::Close(_, _)
                ) && !matches!(pending, Pending::Close(CloseReason::Quit, _))
                {
                    offset += self.record_unread(&input[offset..], offset);
                }
                self.run_pending(pending);
                continue;
            }
            self.unit_early = offset < self.early_until;
            let (consumed, progressed) = self.process_input(&input[offset..]);
            offset += consumed;
            if progressed && offset < input.len() {
                // A unit was complete and more followed in the same batch: what follows
                // arrived before the server's answer to it.
                self.early_until = input.len();
            }
            if !progressed {
                break;
            }
        }
        input.drain(..offset);
        self.early_until = self.early_until.saturating_sub(offset);
        if matches!(self.awaiting, Some(Awaiting::TlsHandshake)) && !input.is_empty() {
            // RFC 3207 §6: what came in the clear after STARTTLS must not be executed once
            // TLS is up (the command-injection defence, S-3207-DISCARD-PIPELINED-PLAINTEXT).
            self.transcript.note(
                self.now,
                Some("C-3207-LAST-IN-GROUP"),
                format!(
                    "{} octets sent after STARTTLS, before the handshake, were discarded",
                    input.len()
                ),
            );
            input.clear();
        }
        // Nothing can have been appended meanwhile: input only arrives through `receive`.
        self.input = input;
        if self.awaiting.is_none()
            && self.pending.is_empty()
            && self.peer_eof
            && !matches!(self.phase, Phase::Closed)
        {
            if self.transaction.is_some() || !matches!(self.phase, Phase::Command) {
                self.transcript.note(
                    self.now,
                    None,
                    "connection closed during a transaction; nothing stored",
                );
            }
            self.close(CloseReason::PeerClosed);
        }
        self.flush();
    }

    fn run_pending(&mut self, pending: Pending) {
        match pending {
            Pending::Step(Step::Reply(reply)) => {
                let start = self.out.len();
                reply.write_to(&mut self.out);
                self.transcript.server_bytes(self.now, &self.out[start..]);
            }
            Pending::Step(Step::Raw(bytes) | Step::ReplyOctets(bytes)) => {
                self.transcript.server_bytes(self.now, &bytes);
                self.out.extend_from_slice(&bytes);
            }
            Pending::Step(Step::Delay(duration)) => {
                self.flush();
                self.awaiting = Some(Awaiting::Wait);
                self.actions.push_back(Action::Wait(duration));
            }
            Pending::Step(Step::Trickle { bytes, gap }) => {
                self.transcript.server_bytes(self.now, &bytes);
                self.transcript.note(
                    self.now,
                    None,
                    format!("the last {} octets trickled, {gap:?} apart", bytes.len()),
                );
                let last = bytes.len().saturating_sub(1);
                let mut octets = VecDeque::with_capacity(bytes.len() * 3);
                for (i, octet) in bytes.into_iter().enumerate() {
                    octets.push_back(Pending::Octet(octet));
                    octets.push_back(Pending::Flush);
                    if i < last {
                        octets.push_back(Pending::Step(Step::Delay(gap)));
                    }
                }
                // They go before whatever was queued after the trickle.
                while let Some(pending) = octets.pop_back() {
                    self.pending.push_front(pending);
                }
            }
            Pending::Octet(octet) => self.out.push(octet),
            Pending::Step(Step::Close(mode)) => self.close_with(CloseReason::Policy, mode),
            Pending::Step(Step::KeepOpen) => {}
            Pending::Step(Step::After { delay, steps }) => {
                // What came before is written first: the timer counts from there.
                self.flush();
                let id = self.next_timer;
                self.next_timer += 1;
                self.timers.push((id, delay, steps));
                self.actions
                    .push_back(Action::SetTimer { id, after: delay });
            }
            Pending::Flush => self.flush(),
            Pending::Close(reason, mode) => self.close_with(reason, mode),
            Pending::StartTls => {
                self.flush();
                self.awaiting = Some(Awaiting::TlsHandshake);
                self.actions.push_back(Action::StartTls);
            }
        }
    }

    /// The server closes while octets the client already sent are unread: they are not
    /// executed and get no reply, but the transcript records them as the client's lines
    /// (what a client sent after a `421` is what C-5321-421-STOP judges). Returns the octets
    /// used up (all of them).
    fn record_unread(&mut self, input: &[u8], offset: usize) -> usize {
        if input.is_empty() || matches!(self.phase, Phase::Data(_) | Phase::Chunk(_)) {
            return 0;
        }
        let mut used = 0;
        let mut lines = 0;
        while used < input.len() {
            self.unit_early = offset + used < self.early_until;
            match self.framer.next_line(&input[used..]) {
                Framed::NeedMore => break,
                Framed::Line {
                    line,
                    ending,
                    consumed,
                } => {
                    let meta = self.line_meta(ending);
                    self.transcript.client_line(self.now, line, meta);
                    lines += 1;
                    used += consumed;
                }
                Framed::TooLong { consumed, .. } => {
                    let meta = LineMeta {
                        octets: Some(consumed as u64),
                        ..self.line_meta(LineEnding::CrLf)
                    };
                    let shown = &input[used..used + consumed.min(64)];
                    self.transcript.client_line(self.now, shown, meta);
                    lines += 1;
                    used += consumed;
                }
                Framed::Skipped { consumed, .. } => used += consumed,
            }
        }
        let partial = input.len() - used;
        let lines_text = if lines == 1 {
            "1 line".to_owned()
        } else {
            format!("{lines} lines")
        };
        let text = match (lines, partial) {
            (_, 0) => format!("closed with {lines_text} from the client unread"),
            (0, _) => format!("closed with {partial} octets from the client unread (no line end)"),
            _ => format!(
                "closed with {lines_text} and {partial} octets (no line end) from the client unread"
            ),
        };
        self.transcript.note(self.now, None, text);
        input.len()
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            self.actions
                .push_back(Action::Send(std::mem::take(&mut self.out)));
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.close_with(reason, CloseMode::Graceful);
    }

    fn close_with(&mut self, reason: CloseReason, mode: CloseMode) {
        self.transcript.push(self.now, Event::Closed { reason });
        if mode == CloseMode::WithoutCloseNotify {
            self.transcript
                .note(self.now, None, "closed without a TLS close_notify");
        }
        self.pending.clear();
        self.flush();
        self.phase = Phase::Closed;
        self.actions.push_back(Action::Close(mode));
    }

    /// Sends `reply` now, whatever was going on, and closes.
    fn abort_with(&mut self, reply: Reply, reason: CloseReason) {
        self.pending.clear();
        self.awaiting = None;
        self.pending.push_back(Pending::Step(Step::Reply(reply)));
        self.pending
            .push_back(Pending::Close(reason, CloseMode::Graceful));
        self.run();
    }

    /// Queues a response's steps. A `421` reply means the server closes (RFC 5321 §3.8): after
    /// one, the session closes unless the response closes itself or keeps the connection
    /// open on purpose ([`Step::KeepOpen`]).
    fn queue_response(&mut self, steps: Vec<Step>, flush: bool) {
        let closes_after = closes_after_421(&steps);
        self.pending.extend(steps.into_iter().map(Pending::Step));
        if flush || closes_after {
            self.pending.push_back(Pending::Flush);
        }
        if closes_after {
            self.pending
                .push_back(Pending::Close(CloseReason::Policy, CloseMode::Graceful));
        }
    }

    /// Handles one unit of input: returns the octets consumed, and false when more input is
    /// needed.
    fn process_input(&mut self, input: &[u8]) -> (usize, bool) {
        match self.phase {
            Phase::Command => self.process_command_input(input),
            Phase::Data(_) => self.process_data_input(input),
            Phase::Chunk(_) => self.process_chunk_input(input),
            Phase::Sasl(_) => self.process_sasl_input(input),
            Phase::Closed => (input.len(), false),
        }
    }

    fn process_command_input(&mut self, input: &[u8]) -> (usize, bool) {
        match self.framer.next_line(input) {
            Framed::NeedMore => (0, false),
            Framed::Line {
                line,
                ending,
                consumed,
            } => {
                let pipelined = input.len() > consumed;
                match self.config.pipelining {
                    PipeliningMode::Refuse if pipelined => {
                        let meta = self.line_meta(ending);
                        self.transcript.client_line(self.now, line, meta);
                        self.transcript.note(
                            self.now,
                            None,
                            "more commands arrived before the reply: pipelining refused",
                        );
                        let reply = self.reply(554, (5, 5, 0), "Pipelining not supported");
                        self.queue_response(vec![Step::Reply(reply)], true);
                        self.pending
                            .push_back(Pending::Close(CloseReason::Policy, CloseMode::Graceful));
                        (input.len(), true)
                    }
                    PipeliningMode::DropInput if pipelined => {
                        self.handle_line(line, ending);
                        self.transcript.note(
                            self.now,
                            None,
                            format!(
                                "{} pipelined octets discarded (drop-pipelined-input)",
                                input.len() - consumed
                            ),
                        );
                        // The data phase may have begun: content sent early is lost too.
                        (input.len(), true)
                    }
                    _ => {
                        self.handle_line(line, ending);
                        (consumed, true)
                    }
                }
            }
            Framed::TooLong { consumed, complete } => {
                let shown = &input[..consumed.min(64)];
                let meta = LineMeta {
                    octets: Some(consumed as u64),
                    ..self.line_meta(LineEnding::CrLf)
                };
                self.transcript.client_line(self.now, shown, meta);
                self.transcript.note(
                    self.now,
                    Some("C-5321-CMD-LINE-512"),
                    format!(
                        "command line over {} octets{}",
                        self.framer.max_line(),
                        if complete { "" } else { "; skipped to its end" }
                    ),
                );
                self.commands += 1;
                // RFC 4954 §6: an AUTH line too long for the server gets 500 5.5.6.
                let auth = shown.len() > 5 && shown[..5].eq_ignore_ascii_case(b"AUTH ");
                let default = self.line_too_long(auth);
                let response = self.ask(&DecisionPoint::LineTooLong, default);
                self.respond(response, commands::Effect::None, true);
                (consumed, true)
            }
            Framed::Skipped { consumed, .. } => (consumed, true),
        }
    }

    fn process_sasl_input(&mut self, input: &[u8]) -> (usize, bool) {
        match self.framer.next_line(input) {
            Framed::NeedMore => (0, false),
            Framed::Line {
                line,
                ending,
                consumed,
            } => {
                self.handle_sasl_line(line, ending);
                (consumed, true)
            }
            Framed::TooLong { consumed, .. } => {
                let meta = LineMeta {
                    octets: Some(consumed as u64),
                    ..self.line_meta(LineEnding::CrLf)
                };
                self.transcript
                    .client_line(self.now, &input[..consumed.min(64)], meta);
                self.sasl_line_too_long();
                (consumed, true)
            }
            Framed::Skipped { consumed, .. } => (consumed, true),
        }
    }

    /// How the line being processed came: early or not, and its terminator.
    fn line_meta(&self, ending: LineEnding) -> LineMeta {
        LineMeta {
            pipelined: self.unit_early,
            bare_lf: ending == LineEnding::BareLf,
            octets: None,
        }
    }

    /// Notes whether content begins early, at its first octet.
    fn mark_content_start(&mut self, input: &[u8]) {
        if self.content_early.is_none() && !input.is_empty() {
            self.content_early = Some(self.unit_early);
        }
    }

    fn process_data_input(&mut self, input: &[u8]) -> (usize, bool) {
        self.mark_content_start(input);
        let Phase::Data(decoder) = &mut self.phase else {
            return (0, false);
        };
        let consumed = decoder.feed(input);
        if !decoder.is_done() {
            return (consumed, false);
        }
        let Phase::Data(decoder) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return (consumed, true);
        };
        let mut decoder = decoder;
        let oversized = decoder.is_oversized();
        let (content, report) = decoder.take();
        self.spare_decoder = Some(decoder);
        self.end_of_message(content, report, oversized, Transfer::Data);
        (consumed, true)
    }

    fn process_chunk_input(&mut self, input: &[u8]) -> (usize, bool) {
        self.mark_content_start(input);
        let Phase::Chunk(chunk) = &mut self.phase else {
            return (0, false);
        };
        let take = input
            .len()
            .min(usize::try_from(chunk.remaining).unwrap_or(usize::MAX));
        let consumed = match (&chunk.refusal, self.bdat.as_mut()) {
            (None, Some(reader)) => reader.feed(&input[..take]),
            _ => take,
        };
        chunk.remaining -= consumed as u64;
        if chunk.remaining > 0 {
            return (consumed, false);
        }
        let Phase::Chunk(chunk) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return (consumed, true);
        };
        self.end_of_chunk(chunk);
        (consumed, true)
    }

    /// Asks the policy, giving it a view of the session.
    fn ask(&mut self, point: &DecisionPoint<'_>, default: Reply) -> Response {
        let view = SessionView {
            peer: &self.peer.peer,
            helo: self.hello.as_ref().map(|h| h.domain.as_str()),
            transaction: self.transaction.as_ref(),
            messages: self.messages,
            commands: self.commands,
            tls: self.tls.is_some(),
            user: self.user.as_deref(),
        };
        self.policy.decide(&view, point, default)
    }

    /// A reply with the enhanced code when ENHANCEDSTATUSCODES is on (RFC 2034 §4).
    fn reply(&self, code: u16, enhanced: (u8, u16, u16), text: impl Into<String>) -> Reply {
        let enhanced = self
            .config
            .extensions
            .enhanced_status_codes
            .then(|| EnhancedCode::new(enhanced.0, enhanced.1, enhanced.2));
        Reply::new(code, enhanced, text)
    }

    fn end_of_message(
        &mut self,
        content: Vec<u8>,
        report: ContentReport,
        oversized: bool,
        transfer: Transfer,
    ) {
        match transfer {
            Transfer::Data => {
                let early = self.content_early.take().unwrap_or(false);
                self.transcript.content(self.now, &report, early);
            }
            // The last chunk's event is already recorded: it gets the whole message's report.
            Transfer::Bdat => self.transcript.attach_report(&report),
        }
        self.note_content(&report);
        self.bdat = None;
        let default = if oversized {
            self.reply(
                552,
                (5, 3, 4),
                "Message size exceeds fixed maximum message size",
            )
        } else if self.config.bare_line_ends.refuses(&report) {
            self.reply(
                554,
                (5, 5, 2),
                "Message contains bare CR or LF (SMTP smuggling protection)",
            )
        } else {
            self.reply(250, (2, 0, 0), "OK queued as {queue-id}")
        };
        let response = self.ask(
            &DecisionPoint::EndOfData {
                content: &content,
                report: &report,
            },
            default,
        );
        // Taken only now: the policy sees the envelope at the end of data too.
        let transaction = self.transaction.take();
        match transaction {
            Some(transaction) if response.is_positive() && !oversized => {
                let message = ReceivedMessage {
                    tls: self.tls.is_some(),
                    authenticated: self.user.clone(),
                    helo: self.hello.as_ref().map(|h| h.domain.clone()),
                    esmtp: self.hello.as_ref().is_some_and(|h| h.esmtp),
                    transaction,
                    transfer,
                    content,
                    report,
                };
                self.flush();
                self.awaiting = Some(Awaiting::Store(response.steps));
                self.actions.push_back(Action::Store(Box::new(message)));
            }
            _ => self.queue_response(response.steps, true),
        }
    }

    fn note_content(&mut self, report: &ContentReport) {
        let now = self.now;
        if report.has_bare_line_ends() {
            self.transcript.note(
                now,
                Some("C-5321-NO-BARE-CR-LF"),
                format!(
                    "{} bare CR and {} bare LF in the content",
                    report.bare_cr, report.bare_lf
                ),
            );
        }
        for lookalike in &report.lookalikes {
            self.transcript.note(
                now,
                Some("C-5321-SMUGGLE-EOD"),
                format!(
                    "end-of-data look-alike {} at octet {}",
                    lookalike.kind.as_str(),
                    lookalike.offset
                ),
            );
        }
        if report.long_lines > 0 {
            self.transcript.note(
                now,
                Some("C-5321-TEXT-LINE-1000"),
                format!(
                    "{} lines over {} octets (longest {})",
                    report.long_lines, self.config.text_line_limit, report.longest_line
                ),
            );
        }
        let declared_8bit = self
            .transaction
            .as_ref()
            .and_then(Transaction::body)
            .is_some_and(|body| body != crate::params::Body::SevenBit);
        if report.eight_bit && !declared_8bit {
            self.transcript.note(
                now,
                Some("C-5321-8BIT-NEGOTIATED"),
                "8-bit content without BODY=8BITMIME",
            );
        }
    }
}

#[cfg(test)]
mod tests;
