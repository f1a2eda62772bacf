//! The session model: a transcript replayed into the units the client sent (command lines,
//! SASL responses, message content), each with the server's answer and the protocol state
//! the client was in when it sent it. Every session check judges this model, so that none of
//! them re-reads the transcript its own way.
//!
//! The replay works for both kinds of transcript this project writes: the server's, where a
//! reply always follows the line it answers, and the harness client's, where a pipelined
//! group's lines come first and their replies after. Replies are matched to units in order
//! (RFC 2920 §3.1: "by counting each separate response"), and each unit's state is the state
//! after the replies to every earlier unit.

use std::cell::OnceCell;
use std::collections::VecDeque;
use std::ops::Range;
use std::rc::Rc;

use smtp_protocol::command::{Command, CommandError};
use smtp_protocol::data::ContentReport;
use smtp_protocol::extension::Extensions;
use smtp_protocol::params::MailParam;
use smtp_protocol::session::Transfer;
use smtp_protocol::transcript::{unescape, CloseReason, Event, Transcript, TRUNCATION_MARK};

use crate::session::core::EnvelopeAt;

/// A reply (or raw octets) the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    /// The transcript entry it was recorded in.
    pub entry: usize,
    pub at_us: u64,
    /// The reply code; `None` for octets that are not a reply (a scenario's raw bytes).
    pub code: Option<u16>,
    /// Each line's text after the code and its separator.
    pub lines: Vec<String>,
    /// The octets as sent, for raw server output.
    pub raw: Vec<u8>,
}

impl ServerReply {
    /// The first digit of the code.
    pub fn class(&self) -> Option<u16> {
        self.code.map(|c| c / 100)
    }

    /// 2yz or 3yz.
    pub fn is_positive(&self) -> bool {
        matches!(self.class(), Some(2 | 3))
    }

    /// 2yz.
    pub fn is_success(&self) -> bool {
        self.class() == Some(2)
    }

    /// 4yz.
    pub fn is_transient(&self) -> bool {
        self.class() == Some(4)
    }

    /// 5yz.
    pub fn is_permanent(&self) -> bool {
        self.class() == Some(5)
    }

    pub fn is(&self, code: u16) -> bool {
        self.code == Some(code)
    }

    /// The lines joined with a space.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

/// Splits a server event's text into replies: lines with the same code, `-` after the code on
/// all but the last. Lines that are not replies become a reply without a code. A reply left
/// unfinished at the end of the text is returned too (see [`ReplyAssembler`] for replies
/// written in pieces).
pub fn parse_replies(entry: usize, at_us: u64, text: &str) -> Vec<ServerReply> {
    let mut assembler = ReplyAssembler::default();
    let mut replies = assembler.push(entry, at_us, text);
    replies.extend(assembler.flush());
    replies
}

/// Puts replies together across server writes: a scenario may write a multi-line reply in
/// pieces, with pauses between them (a slow greeting), and the reply is one reply.
#[derive(Debug, Default)]
pub struct ReplyAssembler {
    current: Option<ServerReply>,
}

impl ReplyAssembler {
    /// The replies completed by this write's text.
    pub fn push(&mut self, entry: usize, at_us: u64, text: &str) -> Vec<ServerReply> {
        let mut replies = Vec::new();
        for line in crlf_lines(text) {
            let bytes = line.as_bytes();
            let code = match bytes {
                [a, b, c, ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
                    Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
                }
                _ => None,
            };
            let continued = code.is_some() && bytes.get(3) == Some(&b'-');
            let rest = match code {
                Some(_) if bytes.len() > 3 => line[4..].to_owned(),
                Some(_) => String::new(),
                None => line.to_owned(),
            };
            // A line with another code ends what was pending, finished or not.
            if self.current.as_ref().is_some_and(|c| c.code != code) {
                replies.extend(self.current.take());
            }
            let reply = self.current.get_or_insert_with(|| ServerReply {
                entry,
                at_us,
                code,
                lines: Vec::new(),
                raw: Vec::new(),
            });
            reply.lines.push(rest);
            if !continued {
                replies.extend(self.current.take());
            }
        }
        replies
    }

    /// A reply still unfinished (its last line never came).
    pub fn flush(&mut self) -> Option<ServerReply> {
        self.current.take()
    }
}

/// `text.split("\r\n")`, found with a search for LF: the searcher `split` sets up for a
/// two-octet pattern cost more than the short replies it splits (every reply of every
/// session is split here).
fn crlf_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut from = 0;
        let bytes = current.as_bytes();
        while let Some(lf) = bytes.get(from..).and_then(|b| memchr::memchr(b'\n', b)) {
            let lf = from + lf;
            if lf > 0 && bytes.get(lf - 1) == Some(&b'\r') {
                // CR and LF are ASCII: both ends are character boundaries.
                rest = current.get(lf + 1..);
                return current.get(..lf - 1);
            }
            from = lf + 1;
        }
        rest = None;
        Some(current)
    })
}

/// What the client had said hello with, as the server accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Hello {
    #[default]
    None,
    Helo {
        domain: String,
    },
    Ehlo {
        domain: String,
        /// What the 250 reply advertised.
        extensions: Rc<Extensions>,
    },
}

impl Hello {
    /// The advertised extensions, after an accepted EHLO.
    pub fn extensions(&self) -> Option<&Extensions> {
        match self {
            Hello::Ehlo { extensions, .. } => Some(extensions),
            _ => None,
        }
    }

    /// Whether the current EHLO reply advertised `keyword` (case-insensitive).
    pub fn offers(&self, keyword: &str) -> bool {
        self.extensions().is_some_and(|e| e.has(keyword))
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Hello::None)
    }

    pub fn is_ehlo(&self) -> bool {
        matches!(self, Hello::Ehlo { .. })
    }

    pub fn is_helo(&self) -> bool {
        matches!(self, Hello::Helo { .. })
    }
}

/// A mail transaction in progress (after an accepted MAIL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The unit of the MAIL command.
    pub mail: usize,
    pub params: Vec<MailParam>,
    /// RCPTs accepted and refused so far.
    pub accepted: u32,
    pub refused: u32,
    /// DATA was answered 354.
    pub data: bool,
    /// A BDAT chunk was sent (accepted or not).
    pub bdat: bool,
}

/// An AUTH exchange in progress (the last answer was 334).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslProgress {
    pub mechanism: String,
    /// The unit of the AUTH command.
    pub auth: usize,
    /// Responses sent so far.
    pub step: u32,
    /// The text of the last 334 challenge.
    pub challenge: String,
}

/// The protocol state when a unit arrived: what the server had accepted and said before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The greeting's code.
    pub greeting: Option<u16>,
    pub hello: Hello,
    /// TLS is up (implicit, or after STARTTLS).
    pub tls: bool,
    /// TLS came up and no unit was sent since (the first unit after the handshake sees it).
    pub tls_fresh: bool,
    /// STARTTLS was answered 220 and no handshake followed (yet).
    pub starttls_accepted: bool,
    pub authenticated: bool,
    /// AUTH exchanges that ended with a non-2yz reply.
    pub auth_failures: u32,
    pub sasl: Option<SaslProgress>,
    pub transaction: Option<Transaction>,
    /// A BDAT failed in the transaction: only RSET clears it (RFC 3030 §2).
    pub bdat_failed: bool,
    /// QUIT was sent.
    pub quit_sent: bool,
    /// The server said 421 (it is closing the connection).
    pub closing: bool,
    /// The code of the reply to the previous unit.
    pub last_code: Option<u16>,
    /// Units sent before this one.
    pub units: u32,
    /// Messages the server accepted so far.
    pub messages: u32,
}

/// A line as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The octets without the terminator (only the start, when `truncated`).
    pub raw: Vec<u8>,
    /// The full length with its terminator.
    pub octets: u64,
    pub bare_lf: bool,
    /// Only the start of the line was kept in the transcript.
    pub truncated: bool,
}

/// A command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub line: Line,
    pub parsed: Result<Command, CommandError>,
    /// The first word in upper case (also for lines that did not parse).
    pub verb: String,
    /// A MAIL or RCPT line taken apart as written, on first use: a dozen checks read it.
    pub(crate) envelope: OnceCell<Option<EnvelopeAt>>,
    /// The ESMTP parameters of a MAIL or RCPT line as written, as positions in the line
    /// (keyword, value), on first use: the parameter checks each read them.
    pub(crate) raw_params: OnceCell<Option<RawParamsAt>>,
}

/// See [`CommandLine::raw_params`].
pub(crate) type RawParamsAt = Vec<(Range<usize>, Option<Range<usize>>)>;

/// Where `part`, a slice of `line`, lies in it: how the caches of [`CommandLine`] keep what a
/// parse found without borrowing the line they sit beside.
pub(crate) fn span_in(line: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
    start..start + part.len()
}

/// A line sent during an AUTH exchange (a response, or `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslLine {
    pub line: Line,
    pub mechanism: String,
    /// 1 for the first response after AUTH.
    pub step: u32,
    /// The text of the 334 it answers.
    pub challenge: String,
    /// The unit of the AUTH command.
    pub auth: usize,
}

/// Message content: a DATA message, or one BDAT chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub octets: u64,
    pub transfer: Transfer,
    /// A BDAT chunk announced with LAST.
    pub last_chunk: bool,
    /// The decoder's report on the whole message (DATA, or the last BDAT chunk).
    pub report: Option<ContentReport>,
    /// The queue id it was stored under.
    pub stored: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitKind {
    Command(CommandLine),
    Sasl(SaslLine),
    Content(Content),
}

/// One thing the client sent, with the answer it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Position in [`SessionModel::units`].
    pub index: usize,
    /// The transcript entry it was recorded in.
    pub entry: usize,
    pub at_us: u64,
    /// It arrived before the server had answered what came before it.
    pub pipelined: bool,
    pub kind: UnitKind,
    /// The server's answer (a BDAT command is answered after its chunk: the chunk's unit
    /// holds the reply).
    pub reply: Option<ServerReply>,
    /// The state when it arrived.
    pub state: State,
}

impl Unit {
    pub fn command(&self) -> Option<&CommandLine> {
        match &self.kind {
            UnitKind::Command(command) => Some(command),
            _ => None,
        }
    }

    /// The parsed command, for command lines that parsed.
    pub fn parsed(&self) -> Option<&Command> {
        self.command().and_then(|c| c.parsed.as_ref().ok())
    }

    pub fn sasl(&self) -> Option<&SaslLine> {
        match &self.kind {
            UnitKind::Sasl(sasl) => Some(sasl),
            _ => None,
        }
    }

    pub fn content(&self) -> Option<&Content> {
        match &self.kind {
            UnitKind::Content(content) => Some(content),
            _ => None,
        }
    }

    /// The line, for commands and SASL responses.
    pub fn line(&self) -> Option<&Line> {
        match &self.kind {
            UnitKind::Command(c) => Some(&c.line),
            UnitKind::Sasl(s) => Some(&s.line),
            UnitKind::Content(_) => None,
        }
    }

    /// The command's verb in upper case (`""` for other units).
    pub fn verb(&self) -> &str {
        self.command().map_or("", |c| c.verb.as_str())
    }

    pub fn reply_code(&self) -> Option<u16> {
        self.reply.as_ref().and_then(|r| r.code)
    }

    /// The octets to quote as evidence: the line, or a summary of content.
    pub fn evidence(&self) -> Vec<u8> {
        match &self.kind {
            UnitKind::Command(c) => c.line.raw.clone(),
            UnitKind::Sasl(s) => s.line.raw.clone(),
            UnitKind::Content(c) => format!("<{} octets of content>", c.octets).into_bytes(),
        }
    }
}

/// A note the session wrote with a check ID: an observation the transcript's lines cannot
/// show by themselves (octets discarded after STARTTLS, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub entry: usize,
    pub check: String,
    pub text: String,
}

/// A reply no unit asked for (a timeout's or a shutdown's 421), after unit `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolicited {
    pub after: Option<usize>,
    pub reply: ServerReply,
}

/// A session, replayed.
#[derive(Debug, Clone)]
pub struct SessionModel<'t> {
    pub transcript: &'t Transcript,
    /// The listener the session came in on (`smtp`, `submission`, `smtps`), when recorded.
    pub listener: Option<String>,
    pub units: Vec<Unit>,
    pub greeting: Option<ServerReply>,
    pub unsolicited: Vec<Unsolicited>,
    /// TLS came up before the greeting (RFC 8314 implicit TLS).
    pub implicit_tls: bool,
    /// The transcript entry of a failed TLS handshake.
    pub tls_failed: Option<usize>,
    pub close: Option<(usize, CloseReason)>,
    pub observations: Vec<Observation>,
    /// Transcript entries left out of a very long session (checks judge what was kept).
    pub omitted: u64,
    /// The state after the last unit and its reply.
    pub end: State,
    /// Some command line is an AUTH: without one, the thirty AUTH and SASL checks need not
    /// walk the units to find out.
    pub(crate) auth_sent: bool,
}

/// The logical order of what happened, as pass 1 gathers it.
enum Step {
    Unit(usize),
    Tls,
    Greeting,
    Unsolicited(usize),
}

impl<'t> SessionModel<'t> {
    /// Replays a transcript.
    pub fn build(transcript: &'t Transcript) -> SessionModel<'t> {
        let mut model = SessionModel {
            transcript,
            listener: None,
            units: Vec::new(),
            greeting: None,
            unsolicited: Vec::new(),
            implicit_tls: false,
            tls_failed: None,
            close: None,
            observations: Vec::new(),
            omitted: transcript.omitted(),
            end: State::default(),
            auth_sent: false,
        };
        let steps = model.gather();
        model.replay(&steps);
        model
    }

    /// Pass 1: units, replies matched to them in order, and the order of events.
    fn gather(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut waiting: VecDeque<usize> = VecDeque::new();
        // Whether the last answer to an AUTH exchange was 334, so the next line responds.
        let mut sasl: Option<(String, usize, u32, String)> = None;
        let mut assembler = ReplyAssembler::default();
        for (entry, item) in self.transcript.entries().enumerate() {
            let at_us = item.at_us;
            if !matches!(item.event, Event::Server { .. } | Event::Note { .. }) {
                // Anything else between the pieces ends an unfinished reply.
                if let Some(reply) = assembler.flush() {
                    self.assign(reply, &mut waiting, &mut steps, &mut sasl);
                }
            }
            match &item.event {
                Event::Connected { listener, .. } => self.listener.clone_from(listener),
                Event::TlsEstablished { .. } => {
                    if self.units.is_empty() && self.greeting.is_none() {
                        self.implicit_tls = true;
                    }
                    steps.push(Step::Tls);
                }
                Event::Client { line, meta } => {
                    let mut text = line.as_str();
                    let truncated = meta.octets.is_some();
                    if truncated {
                        if let Some(cut) = text.rfind(TRUNCATION_MARK) {
                            text = &text[..cut];
                        }
                    }
                    let raw = unescape(text);
                    let terminator = if meta.bare_lf { 1 } else { 2 };
                    let line = Line {
                        octets: meta.octets.unwrap_or(raw.len() as u64) + terminator,
                        raw,
                        bare_lf: meta.bare_lf,
                        truncated,
                    };
                    let index = self.units.len();
                    let kind = match &mut sasl {
                        Some((mechanism, auth, step, challenge)) => {
                            *step += 1;
                            UnitKind::Sasl(SaslLine {
                                line,
                                mechanism: mechanism.clone(),
                                step: *step,
                                challenge: challenge.clone(),
                                auth: *auth,
                            })
                        }
                        None => {
                            let verb = line
                                .raw
                                .split(|&b| b == b' ')
                                .next()
                                .map(|w| match std::str::from_utf8(w) {
                                    Ok(word) => word.to_ascii_uppercase(),
                                    Err(_) => String::from_utf8_lossy(w).to_ascii_uppercase(),
                                })
                                .unwrap_or_default();
                            self.auth_sent |= verb == "AUTH";
                            UnitKind::Command(CommandLine {
                                parsed: Command::parse(&line.raw),
                                line,
                                verb,
                                envelope: OnceCell::new(),
                                raw_params: OnceCell::new(),
                            })
                        }
                    };
                    self.units.push(Unit {
                        index,
                        entry,
                        at_us,
                        pipelined: meta.pipelined,
                        kind,
                        reply: None,
                        state: State::default(),
                    });
                    waiting.push_back(index);
                    steps.push(Step::Unit(index));
                }
                Event::Content {
                    octets,
                    pipelined,
                    report,
                    ..
                } => {
                    // A BDAT line is answered after its chunk: the chunk takes its place.
                    let bdat = self.units.last().and_then(|u| match u.parsed() {
                        Some(Command::Bdat { last, .. }) if u.reply.is_none() => {
                            Some((u.index, *last))
                        }
                        _ => None,
                    });
                    if let Some((bdat_unit, _)) = bdat {
                        waiting.retain(|&u| u != bdat_unit);
                    }
                    let index = self.units.len();
                    self.units.push(Unit {
                        index,
                        entry,
                        at_us,
                        pipelined: *pipelined,
                        kind: UnitKind::Content(Content {
                            octets: *octets,
                            transfer: if bdat.is_some() {
                                Transfer::Bdat
                            } else {
                                Transfer::Data
                            },
                            last_chunk: bdat.is_some_and(|(_, last)| last),
                            report: report.as_deref().cloned(),
                            stored: None,
                        }),
                        reply: None,
                        state: State::default(),
                    });
                    waiting.push_back(index);
                    steps.push(Step::Unit(index));
                }
                Event::Server { text } => {
                    for reply in assembler.push(entry, at_us, text) {
                        self.assign(reply, &mut waiting, &mut steps, &mut sasl);
                    }
                }
                Event::ServerRaw { bytes } => {
                    let raw = unescape(bytes);
                    let reply = ServerReply {
                        entry,
                        at_us,
                        code: None,
                        lines: Vec::new(),
                        raw,
                    };
                    self.assign(reply, &mut waiting, &mut steps, &mut sasl);
                }
                Event::Note {
                    check: Some(check),
                    text,
                } => self.observations.push(Observation {
                    entry,
                    check: check.clone(),
                    text: text.clone(),
                }),
                Event::Note { check: None, text } => {
                    if text.starts_with("TLS handshake failed") {
                        self.tls_failed = Some(entry);
                    }
                }
                Event::Stored { id } => {
                    if let Some(content) =
                        self.units.iter_mut().rev().find_map(|u| match &mut u.kind {
                            UnitKind::Content(c) => Some(c),
                            _ => None,
                        })
                    {
                        content.stored = Some(id.clone());
                    }
                }
                Event::Closed { reason } => self.close = Some((entry, *reason)),
            }
        }
        if let Some(reply) = assembler.flush() {
            self.assign(reply, &mut waiting, &mut steps, &mut sasl);
        }
        steps
    }

    fn assign(
        &mut self,
        reply: ServerReply,
        waiting: &mut VecDeque<usize>,
        steps: &mut Vec<Step>,
        sasl: &mut Option<(String, usize, u32, String)>,
    ) {
        match waiting.pop_front() {
            Some(index) => {
                let unit = &mut self.units[index];
                // Track AUTH exchanges here already: whether the next line is a response.
                let challenged = reply.code == Some(334);
                match (&unit.kind, challenged) {
                    (UnitKind::Command(c), true) if c.verb == "AUTH" => {
                        let mechanism = match &c.parsed {
                            Ok(Command::Auth { mechanism, .. }) => mechanism.to_ascii_uppercase(),
                            _ => String::new(),
                        };
                        *sasl = Some((mechanism, index, 0, reply.text()));
                    }
                    (UnitKind::Sasl(_), true) => {
                        if let Some(progress) = sasl.as_mut() {
                            progress.3 = reply.text();
                        }
                    }
                    (UnitKind::Command(c), false) if c.verb == "AUTH" => *sasl = None,
                    (UnitKind::Sasl(_), false) => *sasl = None,
                    _ => {}
                }
                unit.reply = Some(reply);
            }
            None if self.greeting.is_none() && self.units.is_empty() => {
                self.greeting = Some(reply);
                steps.push(Step::Greeting);
            }
            None => {
                self.unsolicited.push(Unsolicited {
                    after: self.units.len().checked_sub(1),
                    reply,
                });
                steps.push(Step::Unsolicited(self.unsolicited.len() - 1));
            }
        }
    }

    /// Pass 2: each unit's state, in logical order.
    fn replay(&mut self, steps: &[Step]) {
        let mut state = State::default();
        for step in steps {
            match step {
                Step::Greeting => {
                    state.greeting = self.greeting.as_ref().and_then(|g| g.code);
                    if state.greeting == Some(421) {
                        state.closing = true;
                    }
                }
                Step::Tls => {
                    // RFC 3207 §4.2: the protocol starts over once TLS is up.
                    state.tls = true;
                    state.tls_fresh = true;
                    state.starttls_accepted = false;
                    state.hello = Hello::None;
                    state.authenticated = false;
                    state.sasl = None;
                    state.transaction = None;
                    state.bdat_failed = false;
                }
                Step::Unsolicited(i) => {
                    if self.unsolicited[*i].reply.code == Some(421) {
                        state.closing = true;
                    }
                }
                Step::Unit(index) => {
                    self.units[*index].state = state.clone();
                    state.units += 1;
                    state.tls_fresh = false;
                    let unit = &self.units[*index];
                    apply(&mut state, unit);
                }
            }
        }
        self.end = state;
    }

    /// The units that are command lines, with their commands.
    pub fn commands(&self) -> impl Iterator<Item = (&Unit, &CommandLine)> {
        self.units
            .iter()
            .filter_map(|u| u.command().map(|c| (u, c)))
    }

    /// The units after `index`.
    pub fn after(&self, index: usize) -> &[Unit] {
        self.units.get(index + 1..).unwrap_or(&[])
    }

    /// The unit after `index`, if any.
    pub fn next(&self, index: usize) -> Option<&Unit> {
        self.units.get(index + 1)
    }

    /// The units that carry message content.
    pub fn contents(&self) -> impl Iterator<Item = (&Unit, &Content)> {
        self.units
            .iter()
            .filter_map(|u| u.content().map(|c| (u, c)))
    }

    /// Whether the session came in on a submission listener (RFC 6409: 587, or 465 with
    /// implicit TLS): `None` when the transcript does not say.
    pub fn is_submission(&self) -> Option<bool> {
        self.listener
            .as_deref()
            .map(|l| matches!(l, "submission" | "smtps"))
    }

    /// How the session ended, when the transcript records it.
    pub fn closed_by(&self) -> Option<CloseReason> {
        self.close.map(|(_, reason)| reason)
    }
}

/// The state change a unit and its reply make.
fn apply(state: &mut State, unit: &Unit) {
    let reply = unit.reply.as_ref();
    let code = reply.and_then(|r| r.code);
    state.last_code = code;
    if code == Some(421) {
        state.closing = true;
    }
    let positive = reply.is_some_and(ServerReply::is_positive);
    match &unit.kind {
        UnitKind::Command(command) => {
            if command.verb == "QUIT" {
                state.quit_sent = true;
            }
            let Ok(parsed) = &command.parsed else {
                return;
            };
            match parsed {
                Command::Ehlo { domain } if positive => {
                    let lines = reply.map(|r| r.lines.clone()).unwrap_or_default();
                    state.hello = Hello::Ehlo {
                        domain: domain.clone(),
                        extensions: Rc::new(Extensions::from_ehlo_lines(&lines)),
                    };
                    state.transaction = None;
                    state.bdat_failed = false;
                }
                Command::Helo { domain } if positive => {
                    state.hello = Hello::Helo {
                        domain: domain.clone(),
                    };
                    state.transaction = None;
                    state.bdat_failed = false;
                }
                Command::Mail { params, .. } if positive => {
                    state.transaction = Some(Transaction {
                        mail: unit.index,
                        params: params.clone(),
                        accepted: 0,
                        refused: 0,
                        data: false,
                        bdat: false,
                    });
                }
                Command::Rcpt { .. } => {
                    if let Some(transaction) = &mut state.transaction {
                        if positive {
                            transaction.accepted += 1;
                        } else if reply.is_some() {
                            transaction.refused += 1;
                        }
                    }
                }
                Command::Data if code == Some(354) => {
                    if let Some(transaction) = &mut state.transaction {
                        transaction.data = true;
                    }
                }
                Command::Rset if positive => {
                    state.transaction = None;
                    state.bdat_failed = false;
                }
                Command::StartTls if code == Some(220) => state.starttls_accepted = true,
                Command::Auth { mechanism, .. } => match code {
                    Some(334) => {
                        state.sasl = Some(SaslProgress {
                            mechanism: mechanism.to_ascii_uppercase(),
                            auth: unit.index,
                            step: 0,
                            challenge: reply.map(ServerReply::text).unwrap_or_default(),
                        });
                    }
                    Some(235) => state.authenticated = true,
                    Some(_) => state.auth_failures += 1,
                    None => {}
                },
                _ => {}
            }
        }
        UnitKind::Sasl(_) => match code {
            Some(334) => {
                if let Some(progress) = &mut state.sasl {
                    progress.step += 1;
                    progress.challenge = reply.map(ServerReply::text).unwrap_or_default();
                }
            }
            Some(235) => {
                state.sasl = None;
                state.authenticated = true;
            }
            _ => {
                state.sasl = None;
                state.auth_failures += 1;
            }
        },
        UnitKind::Content(content) => {
            if let Some(transaction) = &mut state.transaction {
                if content.transfer == Transfer::Bdat {
                    transaction.bdat = true;
                }
            }
            let ends = content.transfer == Transfer::Data || content.last_chunk || !positive;
            if content.transfer == Transfer::Bdat && !positive && state.transaction.is_some() {
                state.bdat_failed = true;
            }
            if ends {
                if positive && state.transaction.is_some() {
                    state.messages += 1;
                }
                state.transaction = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crlf_lines_splits_as_str_split_does() {
        let texts = [
            "",
            "250 ok",
            "250 ok\r\n",
            "\r\n",
            "\r\n\r\n",
            "250-a\r\n250 b",
            "250-a\n250 b\r250 c\r\n\n\r",
            "\n\r\n\r",
            "é\r\nü\r\n",
            "\r\r\n\n\n",
        ];
        for text in texts {
            let ours: Vec<&str> = super::crlf_lines(text).collect();
            let std: Vec<&str> = text.split("\r\n").collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }
}
