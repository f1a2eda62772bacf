//! Checks of section A.8 (RFC 3030 CHUNKING/BDAT and BINARYMIME, the client side): BDAT only
//! when advertised and well formed, exact chunk sizes, canonical line ends, no DATA in a BDAT
//! transaction, nothing after LAST, what to do after a failed chunk, and binary content.

use smtp_protocol::command::{Command, CommandError};
use smtp_protocol::params::{Body, MailParam};
use smtp_protocol::session::Transfer;

use super::extensions::raw_params;
use crate::check::{Finding, Outcome};
use crate::message::model::MessageModel;
use crate::model::{CommandLine, SessionModel, Unit};

/// A BDAT chunk's unit.
fn is_chunk(unit: &Unit) -> bool {
    unit.content().is_some_and(|c| c.transfer == Transfer::Bdat)
}

/// A chunk answered 4yz or 5yz.
fn is_failed_chunk(unit: &Unit) -> bool {
    is_chunk(unit) && unit.reply.as_ref().is_some_and(|r| !r.is_positive())
}

/// A unit that begins a new transaction or session state (a failed or finished BDAT
/// transaction is behind it): MAIL, RSET, EHLO, HELO, or the first unit after TLS.
fn starts_afresh(unit: &Unit) -> bool {
    unit.state.tls_fresh || matches!(unit.verb(), "MAIL" | "RSET" | "EHLO" | "HELO")
}

/// RFC 3030 §2: "send the BDAT only to systems that have declared their capability".
pub fn only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut bdats = 0;
    for (unit, _) in model.commands().filter(|(u, _)| u.verb() == "BDAT") {
        bdats += 1;
        if !unit.state.hello.offers("CHUNKING") {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "BDAT sent although the server had not advertised CHUNKING",
            ));
        }
    }
    super::extensions::judged(bdats > 0, "the client sent no BDAT command", findings)
}

/// What is wrong with a BDAT line against RFC 3030 §2:
/// `bdat-cmd ::= "BDAT" SP chunk-size [ SP end-marker ] CR LF`, `chunk-size ::= 1*DIGIT`,
/// `end-marker ::= "LAST"` (literals case-insensitive).
fn bdat_syntax_problem(raw: &[u8]) -> Option<&'static str> {
    let Some(rest) = raw.get(4..).and_then(|r| r.strip_prefix(b" ")) else {
        return Some("BDAT needs a space and a chunk size");
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Some("the chunk size must be decimal digits only");
    }
    let tail = &rest[digits..];
    if tail.is_empty() || tail.eq_ignore_ascii_case(b" LAST") {
        return None;
    }
    let trimmed = tail.trim_ascii_end();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case(b" LAST") {
        Some("white space at the end of the BDAT line")
    } else {
        Some("only a single space and LAST may follow the chunk size")
    }
}

pub fn syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut bdats = 0;
    for (unit, command) in model.commands().filter(|(u, _)| u.verb() == "BDAT") {
        bdats += 1;
        if let Some(problem) = bdat_syntax_problem(&command.line.raw) {
            findings.push(Finding::at_entry(unit.entry, unit.evidence(), problem));
        }
    }
    super::extensions::judged(bdats > 0, "the client sent no BDAT command", findings)
}

/// How sure it is that a line after a chunk is left-over message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leftover {
    /// It cannot be a command: empty, control octets, or a first word no verb looks like.
    Certain,
    /// An unknown word: message text, or a command the server does not know.
    Possible,
}

/// Whether a line that follows a chunk reads as message text rather than a command.
fn leftover_text(line: &CommandLine, following: Option<&Unit>) -> Option<Leftover> {
    let not_a_command = |c: &CommandLine| {
        matches!(
            c.parsed,
            Err(CommandError::Empty
                | CommandError::InvalidCharacter
                | CommandError::UnknownVerb(_))
        )
    };
    match &line.parsed {
        Err(CommandError::Empty | CommandError::InvalidCharacter) => Some(Leftover::Certain),
        Err(CommandError::UnknownVerb(_)) => {
            let word_like = !line.verb.is_empty()
                && line
                    .verb
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let more_text = following.and_then(Unit::command).is_some_and(not_a_command);
            Some(if word_like && !more_text {
                Leftover::Possible
            } else {
                Leftover::Certain
            })
        }
        _ => None,
    }
}

/// RFC 3030 §2: BDAT's argument is "the exact length of the data segment in octets";
/// "Correct byte counting is essential." After the announced octets the next line must be a
/// command: message text there means the size was too small. A size too large swallows
/// what follows and the session stalls until the timeout (a warning: the client may have
/// stalled for another reason).
pub fn exact_size(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut chunks = 0;
    for unit in &model.units {
        if is_chunk(unit) {
            chunks += 1;
            let Some(next) = model.next(unit.index) else {
                continue;
            };
            let Some(line) = next.command() else {
                continue;
            };
            match leftover_text(line, model.next(next.index)) {
                Some(Leftover::Certain) => findings.push(Finding::at_entry(
                    next.entry,
                    next.evidence(),
                    "message text right after a BDAT chunk: the chunk size was smaller than \
                     the octets sent",
                )),
                Some(Leftover::Possible) => findings.push(
                    Finding::at_entry(
                        next.entry,
                        next.evidence(),
                        "an unknown command right after a BDAT chunk: perhaps message text left \
                         over by a chunk size that was too small",
                    )
                    .warn(),
                ),
                None => {}
            }
        } else if matches!(unit.parsed(), Some(Command::Bdat { .. }))
            && model.next(unit.index).is_none()
            && model.closed_by() == Some(smtp_protocol::transcript::CloseReason::Timeout)
        {
            chunks += 1;
            findings.push(
                Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    "the announced chunk never arrived in full before the timeout: the chunk \
                     size may be larger than the octets sent",
                )
                .warn(),
            );
        }
    }
    super::extensions::judged(chunks > 0, "the client sent no BDAT chunk", findings)
}

/// The first bare LF (not after a CR) in `range` of `content`.
fn first_bare_lf(content: &[u8], range: std::ops::Range<usize>) -> Option<usize> {
    let start = range.start;
    let slice = content.get(range)?;
    slice
        .iter()
        .enumerate()
        .find(|&(i, &b)| {
            b == b'\n'
                && (if i == 0 {
                    start == 0 || content.get(start - 1) != Some(&b'\r')
                } else {
                    slice[i - 1] != b'\r'
                })
        })
        .map(|(i, _)| start + i)
}

/// RFC 3030 §2: "text messages sent with the BDAT command MUST be sent in the canonical MIME
/// format with lines delimited with a <CR><LF>"; §3: "text/* MUST be sent with <CR><LF>
/// terminated lines". Header sections are text in every message; bodies of other types
/// (binary parts under BINARYMIME) may hold any octets.
pub fn canonical_crlf(model: &MessageModel<'_>) -> Outcome {
    if model.input.transfer != Transfer::Bdat {
        return Outcome::not_applicable("the message was sent with DATA, not BDAT");
    }
    let content = model.content();
    let mut findings = Vec::new();
    for (index, entity) in model.entities.iter().enumerate() {
        if findings.len() >= 5 {
            break;
        }
        if let Some(at) = first_bare_lf(content, entity.start..entity.body.start) {
            findings.push(Finding::in_message(
                at,
                content.get(at.saturating_sub(20)..=at).unwrap_or_default(),
                "a header line ends with a bare LF instead of CRLF",
            ));
        }
        let leaf = entity.children.is_empty() && !entity.truncated;
        let (media_type, subtype) = entity.effective_type(model.in_digest(index));
        if leaf && media_type == "text" {
            if let Some(at) = first_bare_lf(content, entity.body.clone()) {
                findings.push(Finding::in_message(
                    at,
                    content.get(at.saturating_sub(20)..=at).unwrap_or_default(),
                    format!("a line of a text/{subtype} body ends with a bare LF instead of CRLF"),
                ));
            }
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 3030 §2: "DATA and BDAT commands cannot be used in the same transaction."
pub fn no_mix_with_data(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut used_bdat = false;
    let mut chunk_in_transaction = false;
    for unit in &model.units {
        if starts_afresh(unit) {
            chunk_in_transaction = false;
        }
        if is_chunk(unit) {
            used_bdat = true;
            chunk_in_transaction = true;
            let ended = unit.content().is_some_and(|c| c.last_chunk)
                && unit.reply.as_ref().is_some_and(|r| r.is_positive());
            if ended {
                chunk_in_transaction = false;
            }
        } else if chunk_in_transaction && matches!(unit.parsed(), Some(Command::Data)) {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "DATA in a transaction that already sent a BDAT chunk",
            ));
        }
    }
    super::extensions::judged(used_bdat, "the client sent no BDAT chunk", findings)
}

/// RFC 3030 §2: "Any BDAT command sent after the BDAT LAST is illegal".
pub fn nothing_after_last(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut lasts = 0;
    let mut after_last = false;
    for unit in &model.units {
        if starts_afresh(unit) {
            after_last = false;
        }
        if unit.content().is_some_and(|c| c.last_chunk) {
            lasts += 1;
            after_last = true;
        } else if after_last && unit.verb() == "BDAT" {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "BDAT after the BDAT LAST chunk of the transaction, without a new MAIL",
            ));
        }
    }
    super::extensions::judged(lasts > 0, "the client sent no BDAT LAST chunk", findings)
}

/// RFC 3030 §2: after a 4yz or 5yz reply to a chunk "the sender-SMTP MUST NOT send any
/// additional BDAT segments". BDATs pipelined before the client could read the reply are in
/// flight already; once it sent a unit without pipelining it had read every earlier reply.
pub fn stop_on_error(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut failures = 0;
    // Within a failed transaction: whether the client has read the failure since.
    let mut failed: Option<bool> = None;
    for unit in &model.units {
        if starts_afresh(unit) {
            failed = None;
        }
        if let Some(read) = failed.as_mut() {
            if unit.command().is_some() && !unit.pipelined {
                *read = true;
            }
            if *read && unit.verb() == "BDAT" {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    "BDAT sent after the client had read the failure reply to an earlier chunk",
                ));
                // One finding per failed transaction.
                failed = None;
                continue;
            }
        }
        if is_failed_chunk(unit) {
            failures += 1;
            failed.get_or_insert(false);
        }
    }
    super::extensions::judged(
        failures > 0,
        "no BDAT chunk was answered 4yz or 5yz",
        findings,
    )
}

/// RFC 3030 §2: "The resulting state from a failed BDAT command is indeterminate. A RSET
/// command MUST be issued to clear the transaction before additional commands may be sent."
/// QUIT ends the session and is accepted too. Commands already in flight (pipelined) and
/// further BDATs (C-3030-STOP-ON-ERROR's) are not judged here.
pub fn rset_after_failure(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let mut judged = false;
    for unit in &model.units {
        if !unit.state.bdat_failed {
            judged = false;
            continue;
        }
        applicable = true;
        if judged || unit.pipelined || unit.command().is_none() || unit.verb() == "BDAT" {
            continue;
        }
        judged = true;
        if !matches!(unit.verb(), "RSET" | "QUIT") {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                format!(
                    "{} after a failed BDAT: the client must send RSET first",
                    unit.verb()
                ),
            ));
        }
    }
    super::extensions::judged(
        applicable,
        "no BDAT chunk of a transaction was answered 4yz or 5yz",
        findings,
    )
}

/// Whether the transaction `unit` belongs to was opened with BODY=BINARYMIME.
fn binarymime_transaction(unit: &Unit) -> bool {
    unit.state
        .transaction
        .as_ref()
        .is_some_and(|t| t.params.contains(&MailParam::Body(Body::BinaryMime)))
}

/// RFC 3030 §3: "BINARYMIME cannot be used with the DATA command"; "a BODY=BINARYMIME
/// parameter and value MUST be added"; without BINARYMIME advertised "the sender-SMTP MUST
/// NOT, under any circumstances, send binary data". Binary data (RFC 2045 §2.9) is content
/// with NUL octets or lines over 998 octets, which neither 7bit nor 8bit data allows (§2.7,
/// §2.8).
pub fn binarymime_rules(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        let declares_binary = unit.verb() == "MAIL"
            && raw_params(unit)
                .iter()
                .any(|p| p.is("BODY") && p.value_upper().as_deref() == Some("BINARYMIME"));
        if declares_binary {
            applicable = true;
            if !unit.state.hello.offers("BINARYMIME") {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    "BODY=BINARYMIME although the server had not advertised BINARYMIME",
                ));
            }
        }
        if matches!(unit.parsed(), Some(Command::Data)) && binarymime_transaction(unit) {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "DATA in a BODY=BINARYMIME transaction: BINARYMIME content needs BDAT",
            ));
        }
        let Some(report) = unit.content().and_then(|c| c.report.as_ref()) else {
            continue;
        };
        applicable = true;
        let binary = if report.nul {
            Some("NUL octets".to_owned())
        } else if report.longest_line > 998 {
            Some(format!("a line of {} octets", report.longest_line))
        } else {
            None
        };
        if let Some(what) = binary {
            if unit.state.transaction.is_some() && !binarymime_transaction(unit) {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    format!("binary content ({what}) in a transaction without BODY=BINARYMIME"),
                ));
            }
        }
    }
    super::extensions::judged(
        applicable,
        "the client sent no message and no BODY=BINARYMIME",
        findings,
    )
}

#[cfg(test)]
mod tests {
    use crate::check::Status;
    use crate::testing::*;

    const CHUNKING: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-PIPELINING\n\
                            S: 250-BINARYMIME\nS: 250 CHUNKING\n";
    const ENVELOPE: &str =
        "C: MAIL FROM:<a@b.example>\nS: 250 ok\nC: RCPT TO:<c@d.example>\nS: 250 ok\n";

    fn session(body: &str) -> String {
        format!("{CHUNKING}{ENVELOPE}{body}\nC: QUIT\nS: 221 bye\n** closed quit")
    }

    #[test]
    fn only_if_advertised() {
        let id = "C-3030-ONLY-IF-ADVERTISED";
        pass(id, &session("C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok"));
        fail(
            id,
            &format!(
                "S: 220 mx\nC: EHLO c.example\nS: 250 mx\n{ENVELOPE}C: BDAT 3 LAST\nB: x\\r\\n\n\
                 S: 250 ok"
            ),
        );
        not_applicable(id, &simple_session(&["CHUNKING"], "", "x\\r\\n"));
    }

    #[test]
    fn syntax() {
        let id = "C-3030-SYNTAX";
        pass(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 250 ok\nC: bdat 3 last\nB: y\\r\\n\nS: 250 ok"),
        );
        for bad in [
            "BDAT 0x3 LAST",
            "BDAT 3 LAST ",
            "BDAT  3 LAST",
            "BDAT 3 FINAL",
        ] {
            fail(id, &session(&format!("C: {bad}\nS: 501 syntax")));
        }
        not_applicable(id, &simple_session(&["CHUNKING"], "", "x\\r\\n"));
    }

    #[test]
    fn exact_size() {
        let id = "C-3030-EXACT-SIZE";
        pass(id, &session("C: BDAT 5 LAST\nB: ab\\r\\n\\r\\n\nS: 250 ok"));
        // Too small: the rest of the message arrives as lines.
        fail(
            id,
            &session(
                "C: BDAT 3 LAST\nB: Sub\nS: 250 ok\nC: ject: x\nS: 500 unknown\nC: \nS: 500 no",
            ),
        );
        fail(
            id,
            &session("C: BDAT 3 LAST\nB: a\\r\\n\nS: 250 ok\nC: \nS: 500 no"),
        );
        // A single unknown word: perhaps text, perhaps an unknown command.
        warn(
            id,
            &session("C: BDAT 3 LAST\nB: a\\r\\n\nS: 250 ok\nC: hello\nS: 500 no"),
        );
        // Too large: the session stalls.
        warn(
            id,
            &format!("{CHUNKING}{ENVELOPE}C: BDAT 300 LAST\nS: 421 timeout\n** closed timeout"),
        );
        not_applicable(id, &simple_session(&["CHUNKING"], "", "x\\r\\n"));
    }

    #[test]
    fn canonical_crlf() {
        let id = "C-3030-CANONICAL-CRLF";
        message_status(
            id,
            message(b"Subject: x\r\n\r\nhi\r\n").bdat(),
            Status::Pass,
        );
        message_status(
            id,
            message(b"Subject: x\r\n\r\nhi\nthere\r\n").bdat(),
            Status::Fail,
        );
        message_status(id, message(b"Subject: x\n\r\nhi\r\n").bdat(), Status::Fail);
        // A binary part may hold bare LFs.
        let mixed = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                      --b\r\nContent-Type: application/octet-stream\r\n\
                      Content-Transfer-Encoding: binary\r\n\r\n\x00\n\x01\r\n--b--\r\n";
        message_status(id, message(mixed).bdat(), Status::Pass);
        message_status(
            id,
            message(b"Subject: x\r\n\r\nhi\nthere\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn no_mix_with_data() {
        let id = "C-3030-NO-MIX-WITH-DATA";
        pass(
            id,
            &session(
                "C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok\nC: MAIL FROM:<a@b.example>\nS: 250 ok\n\
                 C: RCPT TO:<c@d.example>\nS: 250 ok\nC: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 250 ok\nC: DATA\nS: 503 no"),
        );
        not_applicable(id, &simple_session(&["CHUNKING"], "", "x\\r\\n"));
    }

    #[test]
    fn nothing_after_last() {
        let id = "C-3030-NOTHING-AFTER-LAST";
        pass(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 250 ok\nC: BDAT 3 LAST\nB: y\\r\\n\nS: 250 ok"),
        );
        fail(
            id,
            &session("C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok\nC: BDAT 3\nB: y\\r\\n\nS: 503 no"),
        );
        not_applicable(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 250 ok\nC: RSET\nS: 250 ok"),
        );
    }

    #[test]
    fn stop_on_error() {
        let id = "C-3030-STOP-ON-ERROR";
        // The second BDAT was in flight when the failure came.
        pass(
            id,
            &session(
                "C: BDAT 3\nB: x\\r\\n\nS: 554 no\nC+: BDAT 3 LAST\nB: y\\r\\n\nS: 503 no\n\
                 C: RSET\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 452 full\nC: BDAT 3 LAST\nB: y\\r\\n\nS: 503 no"),
        );
        fail(
            id,
            &session(
                "C: BDAT 3\nB: x\\r\\n\nS: 452 full\nC: NOOP\nS: 250 ok\n\
                 C+: BDAT 3 LAST\nB: y\\r\\n\nS: 503 no",
            ),
        );
        not_applicable(id, &session("C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok"));
    }

    #[test]
    fn rset_after_failure() {
        let id = "C-3030-RSET-AFTER-FAILURE";
        pass(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 554 no\nC: RSET\nS: 250 ok"),
        );
        pass(id, &session("C: BDAT 3 LAST\nB: x\\r\\n\nS: 554 no"));
        fail(
            id,
            &session("C: BDAT 3\nB: x\\r\\n\nS: 452 full\nC: MAIL FROM:<a@b.example>\nS: 503 no"),
        );
        not_applicable(id, &session("C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok"));
    }

    #[test]
    fn binarymime_rules() {
        let id = "C-3030-BINARYMIME-RULES";
        let binary = "C: MAIL FROM:<a@b.example> BODY=BINARYMIME\nS: 250 ok\n\
                      C: RCPT TO:<c@d.example>\nS: 250 ok\n";
        pass(
            id,
            &format!("{CHUNKING}{binary}C: BDAT 3 LAST\nB: \\x00\\r\\n\nS: 250 ok"),
        );
        fail(id, &format!("{CHUNKING}{binary}C: DATA\nS: 503 no"));
        fail(
            id,
            &format!(
                "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 CHUNKING\n{binary}\
                 C: BDAT 3 LAST\nB: \\x00\\r\\n\nS: 250 ok"
            ),
        );
        fail(id, &session("C: BDAT 3 LAST\nB: \\x00\\r\\n\nS: 250 ok"));
        let long = "x".repeat(1200);
        fail(id, &simple_session(&[], "", &format!("{long}\\r\\n")));
        pass(id, &simple_session(&[], "", "x\\r\\n"));
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
    }
}
