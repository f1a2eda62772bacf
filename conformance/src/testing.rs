//! A small language for writing sessions in tests, and assertions on one check's result.
//! Not part of the API (hidden from the docs); public so that the crate's integration tests
//! and the other crates' tests can use it.
//!
//! One event per line, in the transcript's own notation:
//!
//! ```text
//! S: 220 mx.example ESMTP          a reply line; consecutive S: lines are one server write
//! S(raw): \x00\x00                 raw server octets (escaped as in transcripts)
//! C: EHLO client.example           a client line (escaped: \r \n \t \\ \xNN)
//! C+: RCPT TO:<b@example.org>      ... sent before the previous answer (pipelined)
//! C~: NOOP                         ... ended with a bare LF
//! C+~: NOOP                        ... both
//! D: Subject: x\r\n\r\nbody\r\n    DATA content as sent (dot-stuffed), without the final ".\r\n"
//! D+: ...                          ... sent before the 354
//! B: octets                        a BDAT chunk, exactly as sent
//! ** TLS                           TLS established (implicit when before the greeting)
//! ** stored ID                     the message was stored
//! ** closed quit                   the session ended (quit, peer-closed, timeout, policy, error, shutdown)
//! ** any other text                a note
//! !! C-ID: text                    a note with a check ID (an observation)
//! @ 2.5                            the time (seconds since the start) of the next events
//! # comment                        ignored, as are empty lines
//! ```

use std::time::Duration;

use smtp_protocol::data::{ChunkReader, DataDecoder};
use smtp_protocol::params::Body;
use smtp_protocol::session::Transfer;
use smtp_protocol::transcript::{unescape, CloseReason, Event, LineMeta, Transcript};

use crate::check::{Outcome, Status};
use crate::judges::{self, Run};
use crate::message::model::{MessageInput, MessageModel};
use crate::model::SessionModel;

/// Builds a transcript from the test language above. Panics on a line it does not know
/// (a mistake in a test).
pub fn transcript(script: &str) -> Transcript {
    let mut t = Transcript::new();
    let mut now = Duration::ZERO;
    let tick = Duration::from_millis(1);
    t.push(
        now,
        Event::Connected {
            peer: "127.0.0.1:40000".to_owned(),
            local: "127.0.0.1:25".to_owned(),
            listener: None,
        },
    );
    let mut server: Vec<String> = Vec::new();
    let mut chunks: Option<ChunkReader> = None;
    let mut last_bdat_last = false;
    let flush = |t: &mut Transcript, server: &mut Vec<String>, now: Duration| {
        if !server.is_empty() {
            t.push(
                now,
                Event::Server {
                    text: server.join("\r\n"),
                },
            );
            server.clear();
        }
    };
    for raw_line in script.lines() {
        let line = raw_line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(text) = line.strip_prefix("S: ").or(line.strip_prefix("S:")) {
            server.push(text.to_owned());
            continue;
        }
        flush(&mut t, &mut server, now);
        now += tick;
        if let Some(time) = line.strip_prefix("@ ") {
            let seconds: f64 = time.trim().parse().expect("@ takes seconds");
            now = Duration::from_secs_f64(seconds);
        } else if let Some(bytes) = line.strip_prefix("S(raw): ") {
            t.push(
                now,
                Event::ServerRaw {
                    bytes: bytes.to_owned(),
                },
            );
        } else if let Some((flags, text)) = client_line(line) {
            let raw = unescape(text);
            let upper = String::from_utf8_lossy(&raw).to_ascii_uppercase();
            if upper.starts_with("BDAT ") {
                last_bdat_last = upper.trim_end().ends_with(" LAST");
            }
            let meta = LineMeta {
                pipelined: flags.contains('+'),
                bare_lf: flags.contains('~'),
                octets: None,
            };
            t.client_line(now, &raw, meta);
        } else if let Some((pipelined, wire)) = line
            .strip_prefix("D: ")
            .map(|w| (false, w))
            .or_else(|| line.strip_prefix("D+: ").map(|w| (true, w)))
        {
            let mut wire = unescape(wire);
            wire.extend_from_slice(b".\r\n");
            let mut decoder = DataDecoder::new(u64::MAX, 1000);
            let _ = decoder.feed(&wire);
            let (_, report) = decoder.finish();
            t.content(now, &report, pipelined);
        } else if let Some(chunk) = line.strip_prefix("B: ") {
            let octets = unescape(chunk);
            let reader = chunks.get_or_insert_with(|| ChunkReader::new(u64::MAX, 1000));
            reader.start_chunk(octets.len() as u64);
            let _ = reader.feed(&octets);
            t.push(
                now,
                Event::Content {
                    octets: octets.len() as u64,
                    summary: format!("{} octets of BDAT chunk", octets.len()),
                    pipelined: true,
                    report: None,
                },
            );
            if last_bdat_last {
                if let Some(reader) = chunks.take() {
                    let (_, report) = reader.finish();
                    t.attach_report(&report);
                }
            }
        } else if let Some(text) = line.strip_prefix("!! ") {
            let (check, text) = text.split_once(": ").expect("!! C-ID: text");
            t.note(now, Some(check), text);
        } else if let Some(text) = line.strip_prefix("** ") {
            if text == "TLS" {
                t.push(
                    now,
                    Event::TlsEstablished {
                        version: "TLSv1.3".to_owned(),
                        cipher: "TLS13_AES_128_GCM_SHA256".to_owned(),
                        sni: None,
                    },
                );
            } else if let Some(id) = text.strip_prefix("stored ") {
                t.push(now, Event::Stored { id: id.to_owned() });
            } else if let Some(reason) = text.strip_prefix("closed ") {
                let reason = match reason {
                    "quit" => CloseReason::Quit,
                    "peer-closed" => CloseReason::PeerClosed,
                    "timeout" => CloseReason::Timeout,
                    "policy" => CloseReason::Policy,
                    "shutdown" => CloseReason::Shutdown,
                    "error" => CloseReason::Error,
                    other => panic!("unknown close reason {other}"),
                };
                t.push(now, Event::Closed { reason });
            } else {
                t.note(now, None, text);
            }
        } else {
            panic!("test transcript: cannot read {raw_line:?}");
        }
    }
    flush(&mut t, &mut server, now);
    t
}

/// `C:`, `C+:`, `C~:`, `C+~:` lines: the flags and the text.
fn client_line(line: &str) -> Option<(&str, &str)> {
    let (head, text) = line.split_once(": ").or_else(|| {
        // `C:` with an empty line after it.
        line.strip_suffix(':').map(|head| (head, ""))
    })?;
    let flags = head.strip_prefix('C')?;
    flags
        .chars()
        .all(|c| c == '+' || c == '~')
        .then_some((flags, text))
}

/// Runs one session check over a test session.
pub fn session_outcome(id: &str, script: &str) -> Outcome {
    let t = transcript(script);
    let model = SessionModel::build(&t);
    match judges::of(id).map(|j| j.run) {
        Some(Run::Session(run)) => run(&model),
        Some(Run::Message(_)) => panic!("{id} is a message check"),
        None => panic!("{id} has no judge"),
    }
}

/// A message for a test: plain DATA, no BODY, no SMTPUTF8 unless set.
#[derive(Debug, Clone, Copy)]
pub struct TestMessage<'a> {
    pub input: MessageInput<'a>,
}

/// A message for a test.
pub fn message(content: &[u8]) -> TestMessage<'_> {
    TestMessage {
        input: MessageInput {
            content,
            id: Some("TEST"),
            transfer: Transfer::Data,
            body: None,
            smtputf8: false,
            null_sender: false,
            recipients: &[],
        },
    }
}

impl<'a> TestMessage<'a> {
    pub fn smtputf8(mut self) -> Self {
        self.input.smtputf8 = true;
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.input.body = Some(body);
        self
    }

    /// Accepted for these envelope recipients.
    pub fn recipients(mut self, recipients: &'a [smtp_protocol::session::Recipient]) -> Self {
        self.input.recipients = recipients;
        self
    }

    /// Sent with `MAIL FROM:<>`.
    pub fn null_sender(mut self) -> Self {
        self.input.null_sender = true;
        self
    }

    pub fn bdat(mut self) -> Self {
        self.input.transfer = Transfer::Bdat;
        self
    }

    /// Runs one message check over this message.
    pub fn outcome(&self, id: &str) -> Outcome {
        let model = MessageModel::build(self.input);
        match judges::of(id).map(|j| j.run) {
            Some(Run::Message(run)) => run(&model),
            Some(Run::Session(_)) => panic!("{id} is a session check"),
            None => panic!("{id} has no judge"),
        }
    }
}

/// The status an outcome gives the check `id`.
pub fn status(id: &str, outcome: &Outcome) -> Status {
    let info = crate::info(id).unwrap_or_else(|| panic!("{id} is not in the catalogue"));
    match outcome {
        Outcome::Pass => Status::Pass,
        Outcome::NotApplicable(_) => Status::NotApplicable,
        Outcome::Violations(findings) => findings
            .iter()
            .map(|f| f.status(info.level))
            .max()
            .unwrap_or(Status::Pass),
    }
}

fn expect(id: &str, outcome: Outcome, want: Status, what: &str) -> Outcome {
    let got = status(id, &outcome);
    assert_eq!(got, want, "{id} on {what}: {outcome:#?}");
    outcome
}

/// Asserts that session check `id` passes on `script`.
pub fn pass(id: &str, script: &str) -> Outcome {
    expect(id, session_outcome(id, script), Status::Pass, script)
}

/// Asserts that session check `id` fails on `script`.
pub fn fail(id: &str, script: &str) -> Outcome {
    expect(id, session_outcome(id, script), Status::Fail, script)
}

/// Asserts that session check `id` warns on `script`.
pub fn warn(id: &str, script: &str) -> Outcome {
    expect(id, session_outcome(id, script), Status::Warn, script)
}

/// Asserts that session check `id` does not apply to `script`.
pub fn not_applicable(id: &str, script: &str) -> Outcome {
    expect(
        id,
        session_outcome(id, script),
        Status::NotApplicable,
        script,
    )
}

/// Asserts the status of message check `id` on `message`.
pub fn message_status(id: &str, message: TestMessage<'_>, want: Status) -> Outcome {
    let what = String::from_utf8_lossy(message.input.content).into_owned();
    expect(id, message.outcome(id), want, &what)
}

/// A plain session around one message, for session tests that only care about one part:
/// greeting, EHLO with the given extensions, MAIL, RCPT, DATA, the content, QUIT.
pub fn simple_session(extensions: &[&str], mail_params: &str, content: &str) -> String {
    let mut script = String::from("S: 220 mx.example ESMTP\nC: EHLO client.example\n");
    if extensions.is_empty() {
        script.push_str("S: 250 mx.example\n");
    } else {
        script.push_str("S: 250-mx.example\n");
        for (i, ext) in extensions.iter().enumerate() {
            let sep = if i + 1 == extensions.len() { ' ' } else { '-' };
            script.push_str(&format!("S: 250{sep}{ext}\n"));
        }
    }
    let params = if mail_params.is_empty() {
        String::new()
    } else {
        format!(" {mail_params}")
    };
    script.push_str(&format!(
        "C: MAIL FROM:<a@client.example>{params}\nS: 250 2.1.0 OK\n\
         C: RCPT TO:<b@mx.example>\nS: 250 2.1.5 OK\nC: DATA\nS: 354 go ahead\n\
         D: {content}\nS: 250 2.0.0 OK queued as X\n** stored X\nC: QUIT\nS: 221 2.0.0 bye\n** closed quit\n"
    ));
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UnitKind;

    #[test]
    fn the_language_builds_what_it_says() {
        let t = transcript(
            "S: 220 mx\nC: EHLO x.example\nS: 250-mx\nS: 250 PIPELINING\n\
             C: MAIL FROM:<a@b.example>\nC+: RCPT TO:<c@d.example>\nS: 250 ok\nS: 250 ok\n\
             C: DATA\nS: 354 go\nD: Subject: x\\r\\n\\r\\nbody\\r\\n\nS: 250 queued\n** stored Q1\n\
             C~: QUIT\nS: 221 bye\n** closed quit",
        );
        let model = SessionModel::build(&t);
        assert_eq!(model.units.len(), 6);
        assert!(model.units[2].pipelined);
        assert!(model.units[5].line().expect("line").bare_lf);
        // The harness-style order (two lines, then two replies) is matched in order.
        assert_eq!(model.units[1].reply_code(), Some(250));
        assert_eq!(model.units[2].reply_code(), Some(250));
        assert_eq!(
            model.units[2].state.transaction.as_ref().map(|t| t.mail),
            Some(1)
        );
        let UnitKind::Content(content) = &model.units[4].kind else {
            panic!("content")
        };
        assert_eq!(content.stored.as_deref(), Some("Q1"));
        assert_eq!(content.report.as_ref().map(|r| r.octets), Some(20));
        assert!(model.units[1].state.hello.offers("pipelining"));
        assert_eq!(model.end.messages, 1);
    }

    #[test]
    fn tls_resets_the_state_and_sasl_lines_are_told_apart() {
        let t = transcript(
            "S: 220 mx\nC: EHLO x.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: EHLO x.example\nS: 250-mx\nS: 250 AUTH LOGIN\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n\
             C: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok\nC: MAIL FROM:<a@b.example>\nS: 250 ok",
        );
        let model = SessionModel::build(&t);
        assert!(!model.implicit_tls);
        assert!(model.units[2].state.tls_fresh && model.units[2].state.hello.is_none());
        let sasl = model.units[4].sasl().expect("a response");
        assert_eq!((sasl.mechanism.as_str(), sasl.step), ("LOGIN", 1));
        assert_eq!(model.units[5].sasl().expect("a response").step, 2);
        assert!(model.units[6].state.authenticated);
        assert_eq!(model.units[6].verb(), "MAIL");
    }

    #[test]
    fn a_reply_written_in_pieces_is_one_reply() {
        let t = transcript(
            "S: 220-mx first
@ 1
** paused
S: 220-mx second
@ 2
S: 220 mx ready
             C: EHLO x.example
S: 250 mx",
        );
        let model = SessionModel::build(&t);
        let greeting = model.greeting.as_ref().expect("greeting");
        assert_eq!(greeting.lines.len(), 3, "{greeting:?}");
        assert!(model.unsolicited.is_empty());
        assert_eq!(model.units[0].reply_code(), Some(250));
    }

    #[test]
    fn bdat_chunks_carry_the_reply_and_the_report() {
        let t = transcript(
            "S: 220 mx\nC: EHLO x.example\nS: 250-mx\nS: 250 CHUNKING\nC: MAIL FROM:<a@b.example>\nS: 250 ok\n\
             C: RCPT TO:<c@d.example>\nS: 250 ok\nC: BDAT 5\nB: ab\\r\\nc\nS: 250 5 octets\n\
             C: BDAT 3 LAST\nB: d\\r\\n\nS: 250 queued",
        );
        let model = SessionModel::build(&t);
        let chunk = model.units[4].content().expect("chunk");
        assert_eq!(chunk.transfer, Transfer::Bdat);
        assert!(model.units[3].reply.is_none());
        assert_eq!(model.units[4].reply_code(), Some(250));
        let last = model.units[6].content().expect("last chunk");
        assert!(last.last_chunk);
        assert_eq!(last.report.as_ref().map(|r| r.octets), Some(8));
        assert_eq!(model.end.messages, 1);
    }
}
