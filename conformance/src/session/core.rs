//! Checks of section A.1 (RFC 5321, the client side): session opening, EHLO/HELO, command
//! syntax and line discipline, transaction order and reply handling, RSET/QUIT, DATA content.
//!
//! The envelope checks read MAIL and RCPT lines as written (the protocol parser is strict,
//! but it tolerates what RFC 5321 asks a server to tolerate, such as two spaces between
//! parameters), so the line is taken apart here again: see [`Envelope`].

use std::collections::HashMap;
use std::ops::Range;

use smtp_protocol::address::{is_valid_ehlo_domain, ForwardPath, ReversePath};
use smtp_protocol::command::{Command, CommandError};
use smtp_protocol::data::ContentReport;
use smtp_protocol::extension::Extension;
use smtp_protocol::params::{Body, MailParam, ParamError};
use smtp_protocol::session::Transfer;
use smtp_protocol::transcript::{unescape, CloseReason, Entry, Event};

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::message::model::MessageModel;
use crate::message::rfc5322::any_octet;
use crate::model::{Content, ServerReply, SessionModel, Unit};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    // ---- session opening ----
    Judge {
        id: "C-5321-GREETING-WAIT",
        looks_at: "the client's first command: it must not arrive before the server has \
                   finished its greeting",
        example: "EHLO sent one second into a greeting delayed by three",
        run: Run::Session(greeting_wait),
    },
    Judge {
        id: "C-5321-GREETING-MULTILINE",
        looks_at: "a multi-line 220 greeting: the first command must come after its last line",
        example: "EHLO after `220-first line`, before `220 last line`",
        run: Run::Session(greeting_multiline),
    },
    Judge {
        id: "C-5321-GREETING-554",
        looks_at: "what the client does after a 554 greeting: QUIT is expected, no other \
                   command and no silent close",
        example: "`554 No SMTP service here`, then EHLO",
        run: Run::Session(greeting_554),
    },
    Judge {
        id: "C-5321-421-STOP",
        looks_at: "everything the client sent after the server said 421 (greeting, reply or \
                   timeout): only QUIT may follow",
        example: "`421 closing` to MAIL, then RCPT",
        run: Run::Session(stop_after_421),
    },
    Judge {
        id: "C-5321-EHLO-BEFORE-MAIL",
        looks_at:
            "every MAIL: an EHLO or HELO must have been accepted since the session (or TLS) began",
        example: "MAIL FROM:<a@example.com> as the first command",
        run: Run::Session(ehlo_before_mail),
    },
    // ---- EHLO / HELO ----
    Judge {
        id: "C-5321-EHLO-PREFERRED",
        looks_at: "the first greeting command of the session (and after TLS): EHLO, not HELO",
        example: "HELO client.example as the first command",
        run: Run::Session(ehlo_preferred),
    },
    Judge {
        id: "C-5321-HELO-FALLBACK",
        looks_at: "the command after an EHLO answered 500 or 502 (HELO expected), and HELO \
                   retried after a 550 or 554 refusal",
        example: "EHLO answered `502 Command not implemented`, then QUIT",
        run: Run::Session(helo_fallback),
    },
    Judge {
        id: "C-5321-HELO-NO-EXT",
        looks_at: "commands in a HELO session: no MAIL/RCPT parameters, no AUTH, STARTTLS or \
                   BDAT, no pipelining",
        example: "HELO client.example, then MAIL FROM:<a@example.com> SIZE=100",
        run: Run::Session(helo_no_ext),
    },
    Judge {
        id: "C-5321-EHLO-ARG-SYNTAX",
        looks_at: "the EHLO/HELO argument: a domain of letters, digits and hyphens, or an \
                   address literal in brackets (EHLO only)",
        example: "EHLO DESKTOP_AB12, or EHLO 192.0.2.1",
        run: Run::Session(ehlo_arg_syntax),
    },
    Judge {
        id: "C-5321-EHLO-FQDN",
        looks_at: "the EHLO/HELO argument: a fully qualified name or an address literal, with \
                   nothing after it",
        example: "EHLO localhost",
        run: Run::Session(ehlo_fqdn),
    },
    Judge {
        id: "C-5321-EHLO-RESET-AWARE",
        looks_at: "RCPT, DATA and BDAT after an EHLO sent in the middle of a transaction (which \
                   resets it): a new MAIL must come first",
        example: "MAIL, RCPT, EHLO, then DATA",
        run: Run::Session(ehlo_reset_aware),
    },
    Judge {
        id: "C-5321-EXT-KEYWORD-CASE",
        looks_at: "EHLO replies that spell known keywords in lower or mixed case, and whether \
                   the client then acted as if they were missing",
        example: "`250-starttls` advertised, then AUTH PLAIN in the clear",
        run: Run::Session(ext_keyword_case),
    },
    Judge {
        id: "C-5321-EXT-UNKNOWN-IGNORED",
        looks_at: "EHLO replies with keywords the client cannot know: it must go on as usual, \
                   not fall back to HELO or give up",
        example: "`250-X-FOO bar` advertised, then HELO",
        run: Run::Session(ext_unknown_ignored),
    },
    // ---- command lines ----
    Judge {
        id: "C-5321-LINE-CRLF",
        looks_at: "how every command line (and AUTH response) ends: CRLF only",
        example: "QUIT ended with a bare LF",
        run: Run::Session(line_crlf),
    },
    Judge {
        id: "C-5321-NO-BARE-CR-LF",
        looks_at: "every octet the client sent (command lines, AUTH responses, message \
                   content): CR and LF only as a CRLF pair",
        example: "a message body with `\\n` line ends",
        run: Run::Session(no_bare_cr_lf),
    },
    Judge {
        id: "C-5321-CMD-LINE-512",
        looks_at: "the length of every command line, CRLF included: 512 octets plus the \
                   allowance of the extensions the command uses",
        example: "a 700-octet RCPT line",
        run: Run::Session(cmd_line_512),
    },
    Judge {
        id: "C-5321-NO-PARAMS-RSET-DATA-QUIT",
        looks_at: "RSET, DATA and QUIT lines: nothing after the verb",
        example: "QUIT now",
        run: Run::Session(no_params_rset_data_quit),
    },
    Judge {
        id: "C-5321-MAIL-SYNTAX",
        looks_at: "MAIL lines as written: `MAIL FROM:<path>`, no space around the colon, \
                   parameters after single spaces",
        example: "MAIL FROM: <a@example.com>",
        run: Run::Session(mail_syntax),
    },
    Judge {
        id: "C-5321-RCPT-SYNTAX",
        looks_at: "RCPT lines as written: `RCPT TO:<path>`, no space around the colon, one \
                   path, parameters after single spaces",
        example: "RCPT TO:\"Bob\" <b@example.org>",
        run: Run::Session(rcpt_syntax),
    },
    Judge {
        id: "C-5321-PATH-SYNTAX",
        looks_at: "the paths of MAIL and RCPT: a valid local part (dot-string or quoted \
                   string), `@`, and a domain or address literal",
        example: "RCPT TO:<a..b@example.org>",
        run: Run::Session(path_syntax),
    },
    Judge {
        id: "C-5321-NULL-PATH-SYNTAX",
        looks_at: "MAIL lines without a sender: the null path is written `<>`",
        example: "MAIL FROM:",
        run: Run::Session(null_path_syntax),
    },
    Judge {
        id: "C-5321-NO-SOURCE-ROUTE",
        looks_at: "the paths of MAIL and RCPT: no source route (`@host,@host:`)",
        example: "RCPT TO:<@a.example,@b.example:u@d.example>",
        run: Run::Session(no_source_route),
    },
    Judge {
        id: "C-5321-PATH-LIMITS",
        looks_at: "the lengths in MAIL and RCPT paths: local part 64, domain 255, path 256 \
                   octets",
        example: "a 70-octet local part",
        run: Run::Session(path_limits),
    },
    Judge {
        id: "C-5321-ASCII-ENVELOPE",
        looks_at: "every command line: US-ASCII without control characters, unless SMTPUTF8 \
                   was offered and used",
        example: "RCPT TO:<jörg@example.org> without SMTPUTF8",
        run: Run::Session(ascii_envelope),
    },
    Judge {
        id: "C-5321-FQDN-ENVELOPE",
        looks_at: "the mailboxes of MAIL and RCPT: qualified with a domain (except \
                   `<Postmaster>`)",
        example: "RCPT TO:<bob>",
        run: Run::Session(fqdn_envelope),
    },
    Judge {
        id: "C-5321-PARAMS-ADVERTISED",
        looks_at: "MAIL and RCPT parameters: each must belong to an extension the last EHLO \
                   reply advertised",
        example: "MAIL FROM:<a@example.com> BODY=8BITMIME to a server without 8BITMIME",
        run: Run::Session(params_advertised),
    },
    // ---- transactions and replies ----
    Judge {
        id: "C-5321-TXN-ORDER",
        looks_at: "the order MAIL, RCPT, DATA: no RCPT without an open transaction, no \
                   DATA/BDAT without an accepted recipient (unless pipelined)",
        example: "RCPT TO:<b@example.org> before any MAIL",
        run: Run::Session(txn_order),
    },
    Judge {
        id: "C-5321-NO-NESTED-MAIL",
        looks_at: "every MAIL: no transaction may be open (ended by the message, RSET or EHLO)",
        example: "MAIL, all RCPTs refused, then MAIL again without RSET",
        run: Run::Session(no_nested_mail),
    },
    Judge {
        id: "C-5321-NO-DATA-WITHOUT-354",
        looks_at: "message content: only after a 354 (not before it, not after a refusal of \
                   DATA)",
        example: "DATA answered 554, then the message text",
        run: Run::Session(no_data_without_354),
    },
    Judge {
        id: "C-5321-5YZ-NO-REPEAT",
        looks_at: "command lines answered 5yz: the same line must not be sent again in the \
                   same situation",
        example: "RCPT TO:<x@example.org> answered 550, then the same RCPT again",
        run: Run::Session(no_repeat_after_5yz),
    },
    Judge {
        id: "C-5321-CODE-FIRST-DIGIT",
        looks_at: "replies with codes RFC 5321 does not list for the command: the client must \
                   act on the first digit",
        example: "RCPT answered `258 ok`, then RSET instead of DATA",
        run: Run::Session(code_first_digit),
    },
    Judge {
        id: "C-5321-251-OK",
        looks_at: "RCPTs answered 251 (will forward): the client goes on as after 250",
        example: "the only RCPT answered 251, then QUIT without DATA",
        run: Run::Session(rcpt_251_ok),
    },
    Judge {
        id: "C-5321-CODE-NOT-TEXT",
        looks_at: "replies with empty, numeric or misleading text: the client must act on the \
                   code only",
        example: "MAIL answered `250 Error`, then RSET",
        run: Run::Session(code_not_text),
    },
    Judge {
        id: "C-5321-MULTILINE-REPLY",
        looks_at: "multi-line replies (other than EHLO's): the next command must wait for the \
                   last line unless pipelining allows it",
        example: "RCPT sent after `250-first`, before `250 last`, without PIPELINING",
        run: Run::Session(multiline_reply),
    },
    Judge {
        id: "C-5321-OUT-OF-RANGE-CODE",
        looks_at: "replies whose code starts with a digit other than 2 to 5: RSET or QUIT \
                   should follow",
        example: "MAIL answered `699 x`, then RCPT",
        run: Run::Session(out_of_range_code),
    },
    Judge {
        id: "C-5321-RCPT-LIMIT-452",
        looks_at: "RCPTs answered 452 (too many recipients): no more RCPTs in that transaction, \
                   and the accepted recipients still get DATA",
        example: "RCPT answered 452, then more RCPTs in the same transaction",
        run: Run::Session(rcpt_limit_452),
    },
    // ---- RSET, QUIT ----
    Judge {
        id: "C-5321-RSET-SYNTAX",
        looks_at: "RSET lines: the verb alone",
        example: "RSET now",
        run: Run::Session(rset_syntax),
    },
    Judge {
        id: "C-5321-QUIT-LAST",
        looks_at: "how the session ended: with QUIT, unless the server said 421, closed first \
                   or TLS failed",
        example: "the client closes the connection after the message's 250",
        run: Run::Session(quit_last),
    },
    Judge {
        id: "C-5321-QUIT-WAIT-221",
        looks_at: "QUIT: the client waits for the 221 before it closes",
        example: "QUIT, then the connection closed before the 221",
        run: Run::Session(quit_wait_221),
    },
    Judge {
        id: "C-5321-NOTHING-AFTER-QUIT",
        looks_at: "everything after QUIT: nothing may follow it",
        example: "QUIT followed by NOOP",
        run: Run::Session(nothing_after_quit),
    },
    // ---- timeouts ----
    Judge {
        id: "C-5321-TIMEOUT-MINIMUMS",
        looks_at: "delayed replies to the greeting, MAIL, RCPT, DATA and the end of data: a \
                   client that sends QUIT or RSET before the reply gave up within the RFC \
                   minimum",
        example: "MAIL answered after 30 s, QUIT sent after 10 s",
        run: Run::Session(timeout_minimums),
    },
    // ---- DATA content ----
    Judge {
        id: "C-5321-EOD-EXACT",
        looks_at: "after every 354: the content must end with CRLF . CRLF",
        example: "354, a message, then the client closes without the final `.` line",
        run: Run::Session(eod_exact),
    },
    Judge {
        id: "C-5321-DOT-STUFFING",
        looks_at: "what follows the end of data: message text read as commands means a lone \
                   `.` line was not dot-stuffed",
        example: "a body line `.` sent as is, the rest of the body then read as commands",
        run: Run::Session(dot_stuffing),
    },
    Judge {
        id: "C-5321-SMUGGLE-EOD",
        looks_at: "DATA content: no end-of-data look-alikes made with a bare CR or LF",
        example: "`\\n.\\n` inside the message",
        run: Run::Session(smuggle_eod),
    },
    Judge {
        id: "C-5321-TEXT-LINE-1000",
        looks_at: "the longest line of every message: at most 1000 octets with CRLF",
        example: "a single-line 5000-octet HTML body",
        run: Run::Session(text_line_1000),
    },
    Judge {
        id: "C-5321-8BIT-NEGOTIATED",
        looks_at: "messages with octets over 127: MAIL must have carried BODY=8BITMIME, \
                   BODY=BINARYMIME or SMTPUTF8, offered by the server",
        example: "a UTF-8 body sent with a plain MAIL FROM",
        run: Run::Session(eight_bit_negotiated),
    },
    Judge {
        id: "C-5321-NULL-PATH-USE",
        looks_at: "messages sent with MAIL FROM:<>: only delivery or disposition notifications (multipart/report) should be",
        example: "MAIL FROM:<> for an ordinary text/plain message",
        run: Run::Message(null_path_use),
    },
    Judge {
        id: "C-5321-CONTROL-CHARS",
        looks_at: "the message's octets: no control characters other than tab, CR and LF",
        example: "an ESC (0x1B) in the Subject",
        run: Run::Message(control_chars),
    },
    Judge {
        id: "C-5321-NONEMPTY-CONTENT",
        looks_at: "every message: not empty",
        example: "DATA, 354, then `.` at once",
        run: Run::Session(nonempty_content),
    },
];

/// Findings kept per judge and session (the report keeps eight anyway).
const MAX_FINDINGS: usize = 8;

fn keep(findings: &mut Vec<Finding>, finding: Finding) {
    if findings.len() < MAX_FINDINGS {
        findings.push(finding);
    }
}

fn at(unit: &Unit, detail: impl Into<std::borrow::Cow<'static, str>>) -> Finding {
    Finding::at_entry(unit.entry, unit.evidence(), detail)
}

/// The client ended the session itself (or let it time out) rather than the server.
fn client_went_away(model: &SessionModel<'_>) -> bool {
    matches!(
        model.closed_by(),
        Some(CloseReason::PeerClosed | CloseReason::Timeout | CloseReason::Error)
    )
}

/// The first unit after `index` that the client sent after reading the reply to `index`
/// (pipelined units were sent before the reply before them).
fn first_reaction<'m>(model: &'m SessionModel<'_>, index: usize) -> Option<&'m Unit> {
    model.after(index).iter().find(|u| !u.pipelined)
}

/// The next command unit after `index`, skipping the verbs in `skip`.
fn next_command<'m>(model: &'m SessionModel<'_>, index: usize, skip: &[&str]) -> Option<&'m Unit> {
    model
        .after(index)
        .iter()
        .find(|u| u.command().is_some() && !skip.contains(&u.verb()))
}

/// The MAIL unit of the transaction a unit was sent in.
fn transaction_of(unit: &Unit) -> Option<usize> {
    unit.state.transaction.as_ref().map(|t| t.mail)
}

fn is_space(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

fn trim_end_space(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(0, |i| i + 1);
    bytes.get(..end).unwrap_or(&[])
}

/// The verb (the leading letters) and what follows it, as written.
fn split_verb(raw: &[u8]) -> (&[u8], &[u8]) {
    let len = raw.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    raw.split_at(len)
}

/// Whether the words after the verb include `word` (case-insensitive).
fn has_word(raw: &[u8], word: &str) -> bool {
    raw.split(|&b| b == b' ')
        .skip(1)
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

// ---------------------------------------------------------------------------------------
// Session opening
// ---------------------------------------------------------------------------------------

/// RFC 5321 §4.3.1: the client SHOULD wait for the greeting. The server marks a unit
/// `pipelined` when it arrived while the greeting was still being written (or delayed).
fn greeting_wait(model: &SessionModel<'_>) -> Outcome {
    let Some(greeting) = &model.greeting else {
        return Outcome::not_applicable("the server sent no greeting");
    };
    let Some(first) = model.units.first() else {
        return Outcome::not_applicable("the client sent nothing after the greeting");
    };
    let mut findings = Vec::new();
    if first.pipelined {
        let code = greeting.code.map_or_else(String::new, |c| format!("{c} "));
        findings.push(at(
            first,
            format!("sent before the server had finished its {code}greeting"),
        ));
    }
    Outcome::from_findings(findings)
}

/// A greeting is multi-line when its reply has several lines, or when it was written in
/// several pieces (the model then keeps the first piece as the greeting and the rest as
/// unsolicited replies before any unit).
fn greeting_is_multiline(model: &SessionModel<'_>) -> bool {
    let Some(greeting) = &model.greeting else {
        return false;
    };
    greeting.lines.len() > 1
        || model
            .unsolicited
            .iter()
            .any(|u| u.after.is_none() && u.reply.code.is_some() && u.reply.code == greeting.code)
}

/// RFC 5321 §4.2, §4.2.1: a multi-line greeting is one reply; the client answers its last
/// line.
fn greeting_multiline(model: &SessionModel<'_>) -> Outcome {
    if model.greeting.is_none() {
        return Outcome::not_applicable("the server sent no greeting");
    }
    if !greeting_is_multiline(model) {
        return Outcome::not_applicable("the greeting was a single line");
    }
    let Some(first) = model.units.first() else {
        return Outcome::not_applicable("the client sent nothing after the greeting");
    };
    let mut findings = Vec::new();
    if first.pipelined {
        findings.push(at(
            first,
            "sent before the last line of the multi-line greeting",
        ));
    }
    Outcome::from_findings(findings)
}

/// RFC 5321 §3.1, §4.1.4: after a 554 greeting the server waits for QUIT; the client should
/// send it (the checklist makes every deviation a warning).
fn greeting_554(model: &SessionModel<'_>) -> Outcome {
    if model.greeting.as_ref().and_then(|g| g.code) != Some(554) {
        return Outcome::not_applicable("the greeting was not 554");
    }
    let mut findings = Vec::new();
    let mut quit = false;
    for unit in &model.units {
        if unit.verb() == "QUIT" {
            quit = true;
            break;
        }
        keep(
            &mut findings,
            at(
                unit,
                "sent after a 554 greeting: only QUIT is expected (RFC 5321 §3.1)",
            )
            .warn(),
        );
    }
    if !quit {
        match model.closed_by() {
            Some(CloseReason::PeerClosed | CloseReason::Error) => keep(
                &mut findings,
                Finding::in_session(
                    "the client closed the connection after the 554 greeting without QUIT",
                )
                .warn(),
            ),
            Some(CloseReason::Timeout) => keep(
                &mut findings,
                Finding::in_session(
                    "the client neither sent QUIT nor closed after the 554 greeting",
                )
                .warn(),
            ),
            Some(_) if model.units.is_empty() => {
                return Outcome::not_applicable(
                    "the server closed the connection before the client answered its 554 greeting",
                )
            }
            None if findings.is_empty() => {
                return Outcome::not_applicable("the session had not ended")
            }
            _ => {}
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 5321 §3.8: a 421 means the server is closing; nothing but QUIT may follow. Units sent
/// before the 421 arrived (pipelined) are not the client's fault.
fn stop_after_421(model: &SessionModel<'_>) -> Outcome {
    let said_421 = model.greeting.as_ref().is_some_and(|g| g.is(421))
        || model
            .units
            .iter()
            .any(|u| u.reply.as_ref().is_some_and(|r| r.is(421)))
        || model.unsolicited.iter().any(|u| u.reply.is(421));
    if !said_421 {
        return Outcome::not_applicable("the server never answered 421");
    }
    let mut findings = Vec::new();
    for unit in &model.units {
        if unit.state.closing && !unit.pipelined && unit.verb() != "QUIT" {
            keep(
                &mut findings,
                at(unit, "sent after the server's 421: only QUIT may follow"),
            );
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 5321 §4.1.1.1, §4.1.4: no MAIL before an accepted EHLO or HELO in the current
/// protocol state (a TLS handshake resets it, RFC 3207 §4.2).
fn ehlo_before_mail(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut mails = 0;
    for (unit, _) in model.commands() {
        if !matches!(unit.parsed(), Some(Command::Mail { .. })) {
            continue;
        }
        mails += 1;
        if unit.state.hello.is_none() {
            let detail = if unit.state.tls {
                "MAIL after the TLS handshake without a new EHLO"
            } else {
                "MAIL before any accepted EHLO or HELO"
            };
            findings.push(Finding::at_entry(unit.entry, unit.evidence(), detail));
        }
    }
    Outcome::judged(mails > 0, "the client sent no MAIL command", findings)
}

// ---------------------------------------------------------------------------------------
// EHLO / HELO
// ---------------------------------------------------------------------------------------

fn is_hello(unit: &Unit) -> bool {
    matches!(unit.verb(), "EHLO" | "HELO")
}

/// RFC 5321 §4.1.1.1, §2.2.1: start with EHLO. Judged on the first greeting command of the
/// session and of the TLS session after STARTTLS.
fn ehlo_preferred(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut hellos = 0;
    let mut phase: Option<bool> = None;
    for (unit, _) in model.commands() {
        if !is_hello(unit) {
            continue;
        }
        hellos += 1;
        if phase == Some(unit.state.tls) {
            continue;
        }
        phase = Some(unit.state.tls);
        if unit.verb() == "HELO" {
            keep(&mut findings, at(unit, "HELO without trying EHLO first"));
        }
    }
    Outcome::judged(hellos > 0, "the client sent no EHLO or HELO", findings)
}

/// RFC 5321 §3.2: after 500/502 to EHLO the client falls back to HELO; after a policy
/// refusal (550, 554) a blind HELO retry is not a fallback (checklist, derived).
fn helo_fallback(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for (unit, _) in model.commands() {
        if unit.verb() != "EHLO" {
            continue;
        }
        let Some(code) = unit.reply_code() else {
            continue;
        };
        match code {
            500 | 502 => {
                applicable = true;
                match next_command(model, unit.index, &["NOOP", "RSET"]) {
                    Some(next) if next.verb() == "HELO" => {}
                    Some(next) => keep(
                        &mut findings,
                        at(
                            next,
                            format!(
                                "{} instead of HELO after EHLO was answered {code}",
                                printable_verb(next)
                            ),
                        ),
                    ),
                    None if model.close.is_some() => keep(
                        &mut findings,
                        at(
                            unit,
                            format!("EHLO was answered {code} and the client gave up instead of sending HELO"),
                        ),
                    ),
                    None => {}
                }
            }
            550 | 554 => {
                applicable = true;
                if let Some(next) = first_reaction(model, unit.index) {
                    if next.verb() == "HELO" {
                        keep(
                            &mut findings,
                            at(
                                next,
                                format!("HELO retried after EHLO was refused with {code} (a refusal, not an old server)"),
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Outcome::judged(
        applicable,
        "no EHLO was answered 500, 502, 550 or 554",
        findings,
    )
}

fn printable_verb(unit: &Unit) -> String {
    match unit.verb() {
        "" => "a line that is not a command".to_owned(),
        verb => verb.to_owned(),
    }
}

/// RFC 5321 §3.2, §4.1.1.3, §4.3.1: a HELO session has no extensions: no parameters, no
/// extension verbs, no pipelining.
fn helo_no_ext(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        if !unit.state.hello.is_helo() || unit.command().is_none() {
            continue;
        }
        applicable = true;
        let verb = unit.verb();
        let detail = if matches!(verb, "AUTH" | "STARTTLS" | "BDAT") {
            Some(format!(
                "{verb} in a HELO session: no extension was negotiated"
            ))
        } else if envelope(unit).is_some_and(|e| !e.params.is_empty()) {
            Some(format!(
                "{verb} with parameters in a HELO session: no extension was negotiated"
            ))
        } else if unit.pipelined {
            Some(
                "sent before the previous reply in a HELO session (pipelining needs EHLO)"
                    .to_owned(),
            )
        } else {
            None
        };
        if let Some(detail) = detail {
            keep(&mut findings, at(unit, detail));
        }
    }
    Outcome::judged(
        applicable,
        "the client sent nothing after an accepted HELO",
        findings,
    )
}

/// The argument of an EHLO or HELO line.
struct HelloArgument<'a> {
    /// The first word after the verb (empty when there is none).
    domain: &'a [u8],
    /// More than one space before it.
    extra_space: bool,
    /// Words after it.
    trailing: bool,
}

fn hello_argument(raw: &[u8]) -> HelloArgument<'_> {
    let (_, rest) = split_verb(raw);
    let rest = trim_end_space(rest);
    let after_separator = if rest.first() == Some(&b' ') {
        rest.get(1..).unwrap_or(&[])
    } else {
        rest
    };
    let start = after_separator
        .iter()
        .position(|&b| b != b' ')
        .unwrap_or(after_separator.len());
    let word = after_separator.get(start..).unwrap_or(&[]);
    let end = word.iter().position(|&b| b == b' ').unwrap_or(word.len());
    HelloArgument {
        domain: word.get(..end).unwrap_or(&[]),
        extra_space: start > 0,
        trailing: end < word.len(),
    }
}

fn looks_like_ipv4(domain: &str) -> bool {
    domain
        .split('.')
        .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()))
}

/// What is wrong with an EHLO/HELO argument (RFC 5321 §4.1.1.1, §4.1.2, §4.1.3).
fn hello_domain_problem(verb: &str, domain: &[u8]) -> Option<&'static str> {
    if domain.is_empty() {
        return Some("no domain after the verb");
    }
    let Ok(domain) = std::str::from_utf8(domain) else {
        return Some("octets that are not text in the domain");
    };
    if !domain.is_ascii() {
        return Some(
            "non-ASCII characters in the domain: only letters, digits and hyphens are allowed",
        );
    }
    if let Some(inner) = domain.strip_prefix('[') {
        if verb == "HELO" {
            return Some("HELO takes a domain, not an address literal");
        }
        if is_valid_ehlo_domain(domain) {
            return None;
        }
        let tagged = inner
            .get(..5)
            .is_some_and(|t| t.eq_ignore_ascii_case("IPv6:"));
        return Some(if inner.contains(':') && !tagged {
            "an IPv6 address literal needs the IPv6: tag, as in [IPv6:2001:db8::1]"
        } else {
            "an invalid address literal"
        });
    }
    if domain.contains(':') {
        return Some("an IPv6 address must be written as an address literal, [IPv6:...]");
    }
    if looks_like_ipv4(domain) {
        return Some(
            "an IP address must be written as an address literal in brackets, as in [192.0.2.1]",
        );
    }
    if domain.contains('_') {
        return Some("an underscore is not allowed in a domain name");
    }
    if !is_valid_ehlo_domain(domain) {
        return Some(
            "not a valid domain name (letters, digits and hyphens in dot-separated labels)",
        );
    }
    None
}

/// RFC 5321 §4.1.1.1 grammar: `"EHLO" SP ( Domain / address-literal )`,
/// `"HELO" SP Domain`, and §4.1.2: only letters, digits and hyphens in labels.
fn ehlo_arg_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut hellos = 0;
    for (unit, command) in model.commands() {
        if !is_hello(unit) {
            continue;
        }
        hellos += 1;
        let argument = hello_argument(&command.line.raw);
        let problem = if argument.extra_space {
            Some("more than one space between the verb and the domain")
        } else {
            hello_domain_problem(unit.verb(), argument.domain)
        };
        if let Some(problem) = problem {
            keep(&mut findings, at(unit, problem));
        }
    }
    Outcome::judged(hellos > 0, "the client sent no EHLO or HELO", findings)
}

/// Names that are not primary host names in the DNS (RFC 6761, RFC 8375 and common
/// private conventions).
const LOCAL_SUFFIXES: [&str; 9] = [
    "localhost",
    "localdomain",
    "local",
    "lan",
    "internal",
    "intranet",
    "home",
    "corp",
    "home.arpa",
];

fn fqdn_problem(domain: &str) -> Option<&'static str> {
    if domain.starts_with('[') || looks_like_ipv4(domain) {
        return None;
    }
    let lower = domain.to_ascii_lowercase();
    if !lower.contains('.') {
        return Some("not a fully qualified domain name: an address literal should be used when no name is known");
    }
    let local = LOCAL_SUFFIXES.iter().any(|suffix| {
        lower
            .strip_suffix(suffix)
            .is_some_and(|head| head.ends_with('.'))
    });
    local.then_some("a local name, not the host's primary name in the DNS")
}

/// RFC 5321 §4.1.4: the EHLO argument is the primary host name, else an address literal;
/// §4.1.1.1: nothing after it.
fn ehlo_fqdn(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut hellos = 0;
    for (unit, command) in model.commands() {
        if !is_hello(unit) {
            continue;
        }
        let argument = hello_argument(&command.line.raw);
        let Ok(domain) = std::str::from_utf8(argument.domain) else {
            continue;
        };
        if domain.is_empty() {
            continue;
        }
        hellos += 1;
        if let Some(problem) = fqdn_problem(domain) {
            keep(&mut findings, at(unit, problem));
        } else if argument.trailing {
            keep(&mut findings, at(unit, "more words after the domain"));
        }
    }
    Outcome::judged(
        hellos > 0,
        "the client sent no EHLO or HELO with an argument",
        findings,
    )
}

/// RFC 5321 §4.1.4: an EHLO resets the state as RSET does; the transaction is gone.
fn ehlo_reset_aware(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let mut reset_by: Option<usize> = None;
    for unit in &model.units {
        match unit.verb() {
            "EHLO" | "HELO"
                if unit.reply.as_ref().is_some_and(ServerReply::is_success)
                    && unit.state.transaction.is_some() =>
            {
                applicable = true;
                reset_by = Some(unit.entry);
            }
            "MAIL" => reset_by = None,
            "RCPT" | "DATA" | "BDAT" => {
                if let Some(entry) = reset_by {
                    keep(
                        &mut findings,
                        at(
                            unit,
                            format!("{} after the EHLO of entry {entry} reset the transaction: a new MAIL must come first", unit.verb()),
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    Outcome::judged(
        applicable,
        "the client sent no EHLO or HELO during a transaction",
        findings,
    )
}

/// The keywords of an EHLO reply that are known extensions spelled in other than upper
/// case, as written.
fn odd_case_keywords(reply: &ServerReply) -> Vec<(String, Extension)> {
    reply
        .lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let keyword = line.split(' ').next().unwrap_or("");
            let extension = Extension::parse(line);
            let known = !matches!(extension, Extension::Other { .. });
            (known && keyword != keyword.to_ascii_uppercase())
                .then(|| (keyword.to_owned(), extension))
        })
        .collect()
}

/// RFC 5321 §4.1.1.1: EHLO keywords are case-insensitive. Visible failures: falling back to
/// HELO, plaintext AUTH although STARTTLS was offered, or quitting at once.
fn ext_keyword_case(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for (unit, _) in model.commands() {
        let Some(reply) = unit.reply.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        if unit.verb() != "EHLO" {
            continue;
        }
        let odd = odd_case_keywords(reply);
        if odd.is_empty() {
            continue;
        }
        applicable = true;
        let starttls = odd
            .iter()
            .find(|(_, e)| *e == Extension::StartTls)
            .map(|(k, _)| k.clone());
        let spelled = odd
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(next) = first_reaction(model, unit.index) {
            match next.verb() {
                "HELO" => keep(
                    &mut findings,
                    at(
                        next,
                        format!("fell back to HELO after an EHLO reply with keywords spelled {spelled}"),
                    ),
                ),
                "QUIT" => keep(
                    &mut findings,
                    at(
                        next,
                        format!("quit right after an EHLO reply with keywords spelled {spelled}: were they recognised?"),
                    )
                    .warn(),
                ),
                _ => {}
            }
        }
        let Some(starttls) = starttls else {
            continue;
        };
        // In the same protocol state (until TLS, a new EHLO or STARTTLS itself).
        for later in model.after(unit.index) {
            if later.state.tls != unit.state.tls || is_hello(later) || later.verb() == "STARTTLS" {
                break;
            }
            if later.verb() == "AUTH" {
                keep(
                    &mut findings,
                    at(
                        later,
                        format!("AUTH in the clear although STARTTLS was offered as `{starttls}`"),
                    ),
                );
                break;
            }
        }
    }
    Outcome::judged(
        applicable,
        "no EHLO reply spelled a known keyword in lower or mixed case",
        findings,
    )
}

/// RFC 5321 §2.2.2, §4.1.1.1: unknown keywords are ignored. Visible failures: HELO after a
/// positive EHLO reply (fail), or going away without even QUIT (warn). A QUIT right after
/// EHLO is not judged: a connection test looks the same.
fn ext_unknown_ignored(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for (unit, _) in model.commands() {
        if unit.verb() != "EHLO" {
            continue;
        }
        let Some(reply) = unit.reply.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        let unknown: Vec<&str> = reply
            .lines
            .iter()
            .skip(1)
            .filter(|line| matches!(Extension::parse(line), Extension::Other { .. }))
            .map(|line| line.split(' ').next().unwrap_or(""))
            .collect();
        if unknown.is_empty() {
            continue;
        }
        applicable = true;
        let unknown = unknown.join(", ");
        match first_reaction(model, unit.index) {
            Some(next) if next.verb() == "HELO" => keep(
                &mut findings,
                at(
                    next,
                    format!("fell back to HELO after an EHLO reply with the unknown keywords {unknown}"),
                ),
            ),
            None if client_went_away(model) => keep(
                &mut findings,
                at(
                    unit,
                    format!("the client went away after an EHLO reply with the unknown keywords {unknown}"),
                )
                .warn(),
            ),
            _ => {}
        }
    }
    Outcome::judged(
        applicable,
        "no EHLO reply advertised an unknown keyword",
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// Command lines
// ---------------------------------------------------------------------------------------

/// RFC 5321 §2.3.8: CRLF is the only line terminator.
fn line_crlf(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut lines = 0;
    for unit in &model.units {
        let Some(line) = unit.line() else {
            continue;
        };
        lines += 1;
        if line.bare_lf {
            keep(
                &mut findings,
                at(unit, "the line ended with a bare LF instead of CRLF"),
            );
        } else if line.raw.contains(&b'\r') {
            keep(
                &mut findings,
                at(unit, "a CR inside the line: a CR alone does not end a line"),
            );
        }
    }
    Outcome::judged(lines > 0, "the client sent no command line", findings)
}

/// The transaction a content unit belongs to declared BODY=BINARYMIME (RFC 3030 §3: any
/// octets, so bare CR and LF are no fault there).
fn is_binarymime(unit: &Unit) -> bool {
    unit.state
        .transaction
        .as_ref()
        .is_some_and(|t| t.params.contains(&MailParam::Body(Body::BinaryMime)))
}

/// RFC 5321 §2.3.8: CR and LF only together, in every octet the client sends.
fn no_bare_cr_lf(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut looked = 0;
    for unit in &model.units {
        if let Some(line) = unit.line() {
            looked += 1;
            if line.bare_lf {
                keep(&mut findings, at(unit, "a bare LF ended the line"));
            } else if line.raw.contains(&b'\r') {
                keep(&mut findings, at(unit, "a bare CR inside the line"));
            }
        } else if let Some(report) = unit.content().and_then(|c| c.report.as_ref()) {
            if is_binarymime(unit) {
                continue;
            }
            looked += 1;
            if report.has_bare_line_ends() {
                keep(
                    &mut findings,
                    at(
                        unit,
                        format!(
                            "{} bare CR and {} bare LF in the message content",
                            report.bare_cr, report.bare_lf
                        ),
                    ),
                );
            }
        }
    }
    Outcome::judged(looked > 0, "the client sent nothing to look at", findings)
}

/// The octets a command line may have, CRLF included (RFC 5321 §4.5.3.1.4), with the
/// increments of the extensions it uses: SIZE +26 (RFC 1870 §3), AUTH= +500 (RFC 4954 §3),
/// BODY=BINARYMIME +16 (RFC 3030 §3), SMTPUTF8 +10 (RFC 6531 §3.1).
fn line_allowance(unit: &Unit, truncated: bool) -> u64 {
    let mut allowance = 512;
    let Some(envelope) = envelope(unit) else {
        return allowance;
    };
    if truncated {
        // The parameters were cut off: allow every increment the server offered.
        let hello = &unit.state.hello;
        for (keyword, extra) in [
            ("SIZE", 26),
            ("AUTH", 500),
            ("BINARYMIME", 16),
            ("SMTPUTF8", 10),
        ] {
            if hello.offers(keyword) {
                allowance += extra;
            }
        }
        return allowance;
    }
    for word in &envelope.params {
        let upper = String::from_utf8_lossy(word).to_ascii_uppercase();
        let keyword = upper.split('=').next().unwrap_or("");
        allowance += match keyword {
            "SIZE" => 26,
            "AUTH" => 500,
            "BODY" if upper == "BODY=BINARYMIME" => 16,
            "SMTPUTF8" => 10,
            _ => 0,
        };
    }
    allowance
}

/// RFC 5321 §4.5.3.1.4: at most 512 octets per command line, plus extension allowances.
fn cmd_line_512(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut lines = 0;
    for (unit, command) in model.commands() {
        lines += 1;
        let line = &command.line;
        let allowance = line_allowance(unit, line.truncated);
        if line.octets > allowance {
            keep(
                &mut findings,
                at(
                    unit,
                    format!(
                        "a command line of {} octets (allowed: {allowance})",
                        line.octets
                    ),
                ),
            );
        }
    }
    Outcome::judged(lines > 0, "the client sent no command line", findings)
}

/// The lines whose verb is one of `verbs` and that have something after it: trailing white
/// space is a warning (RFC 5321 §4.1.1 asks receivers to tolerate it), anything else the
/// check's level.
fn no_argument_findings(model: &SessionModel<'_>, verbs: &[&str]) -> (usize, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut seen = 0;
    for (unit, command) in model.commands() {
        let (verb, rest) = split_verb(&command.line.raw);
        // The verb is ASCII letters: compared without an upper-case copy of each line's.
        let Some(verb) = verbs
            .iter()
            .find(|v| v.as_bytes().eq_ignore_ascii_case(verb))
        else {
            continue;
        };
        seen += 1;
        if rest.is_empty() {
            continue;
        }
        let finding = if rest.iter().all(is_space) {
            at(unit, format!("white space after {verb}")).warn()
        } else {
            at(unit, format!("{verb} takes no parameters"))
        };
        keep(&mut findings, finding);
    }
    (seen, findings)
}

/// RFC 5321 §4.1.1: RSET, DATA and QUIT take no parameters.
fn no_params_rset_data_quit(model: &SessionModel<'_>) -> Outcome {
    let (seen, findings) = no_argument_findings(model, &["RSET", "DATA", "QUIT"]);
    Outcome::judged(seen > 0, "the client sent no RSET, DATA or QUIT", findings)
}

// ---------------------------------------------------------------------------------------
// MAIL and RCPT lines
// ---------------------------------------------------------------------------------------

/// How the path of a MAIL or RCPT line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathForm<'a> {
    /// The line did not get as far as the path (no `FROM:`).
    Unread,
    /// Nothing after the colon.
    Missing,
    /// A word that is not in angle brackets.
    Bare(&'a [u8]),
    /// `<...>`, brackets included.
    Bracketed(&'a [u8]),
    /// `<` without its `>`.
    Unclosed,
}

/// A MAIL or RCPT line taken apart as written (RFC 5321 §4.1.1.2, §4.1.1.3, §3.3).
struct Envelope<'a> {
    is_mail: bool,
    /// What is wrong with the line around the path (the MAIL-/RCPT-SYNTAX checks).
    problems: Vec<&'static str>,
    /// White space at the end of the line.
    trailing_space: bool,
    path: PathForm<'a>,
    /// The parameter words.
    params: Vec<&'a [u8]>,
}

impl Envelope<'_> {
    /// The path without its angle brackets.
    fn inner(&self) -> Option<&[u8]> {
        match self.path {
            PathForm::Bracketed(path) => path.get(1..path.len().saturating_sub(1)),
            _ => None,
        }
    }
}

fn envelope(unit: &Unit) -> Option<Envelope<'_>> {
    let command = unit.command()?;
    let raw = &command.line.raw;
    let at = command.envelope.get_or_init(|| {
        let is_mail = match command.verb.as_str() {
            "MAIL" => true,
            "RCPT" => false,
            _ => return None,
        };
        Some(EnvelopeAt::of(raw, &parse_envelope(raw, is_mail)))
    });
    at.as_ref().map(|at| at.read(raw))
}

/// An [`Envelope`] kept in its unit as positions in the line: parsed once a unit instead of
/// once for each of the dozen checks that read it (the session's judging spent more on
/// parsing MAIL and RCPT lines again than on anything else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvelopeAt {
    is_mail: bool,
    problems: Vec<&'static str>,
    trailing_space: bool,
    path: PathAt,
    params: Vec<Range<usize>>,
}

/// [`PathForm`] as positions in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathAt {
    Unread,
    Missing,
    Bare(Range<usize>),
    Bracketed(Range<usize>),
    Unclosed,
}

impl EnvelopeAt {
    fn of(raw: &[u8], e: &Envelope<'_>) -> EnvelopeAt {
        // Every slice of an Envelope is a part of `raw`.
        let at = |part: &[u8]| crate::model::span_in(raw, part);
        EnvelopeAt {
            is_mail: e.is_mail,
            problems: e.problems.clone(),
            trailing_space: e.trailing_space,
            path: match e.path {
                PathForm::Unread => PathAt::Unread,
                PathForm::Missing => PathAt::Missing,
                PathForm::Bare(word) => PathAt::Bare(at(word)),
                PathForm::Bracketed(path) => PathAt::Bracketed(at(path)),
                PathForm::Unclosed => PathAt::Unclosed,
            },
            params: e.params.iter().map(|p| at(p)).collect(),
        }
    }

    fn read<'a>(&self, raw: &'a [u8]) -> Envelope<'a> {
        let part = |range: &Range<usize>| raw.get(range.clone()).unwrap_or(&[]);
        Envelope {
            is_mail: self.is_mail,
            problems: self.problems.clone(),
            trailing_space: self.trailing_space,
            path: match &self.path {
                PathAt::Unread => PathForm::Unread,
                PathAt::Missing => PathForm::Missing,
                PathAt::Bare(range) => PathForm::Bare(part(range)),
                PathAt::Bracketed(range) => PathForm::Bracketed(part(range)),
                PathAt::Unclosed => PathForm::Unclosed,
            },
            params: self.params.iter().map(part).collect(),
        }
    }
}

fn leading_spaces(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|&&b| b == b' ').count()
}

/// The index of the `>` that closes the path starting at `path[0] == '<'`, skipping quoted
/// strings (a quoted local part may hold `>`).
fn closing_bracket(path: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in path.iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b'>' && !quoted {
            return Some(i);
        }
    }
    None
}

fn parse_envelope(raw: &[u8], is_mail: bool) -> Envelope<'_> {
    let keyword: &[u8] = if is_mail { b"FROM" } else { b"TO" };
    let mut e = Envelope {
        is_mail,
        problems: Vec::new(),
        trailing_space: false,
        path: PathForm::Unread,
        params: Vec::new(),
    };
    let mut rest = raw.get(4..).unwrap_or(&[]);
    let spaces = leading_spaces(rest);
    if spaces != 1 {
        e.problems.push("exactly one space must follow the verb");
    }
    rest = rest.get(spaces..).unwrap_or(&[]);
    let has_keyword = rest
        .get(..keyword.len())
        .is_some_and(|k| k.eq_ignore_ascii_case(keyword));
    if !has_keyword {
        e.problems.push(if is_mail {
            "MAIL must be followed by FROM:"
        } else {
            "RCPT must be followed by TO:"
        });
        return e;
    }
    rest = rest.get(keyword.len()..).unwrap_or(&[]);
    let spaces = leading_spaces(rest);
    if spaces > 0 {
        e.problems.push("a space before the colon");
        rest = rest.get(spaces..).unwrap_or(&[]);
    }
    if rest.first() != Some(&b':') {
        e.problems.push("no colon after FROM or TO");
        return e;
    }
    rest = rest.get(1..).unwrap_or(&[]);
    let spaces = leading_spaces(rest);
    if spaces > 0 {
        e.problems
            .push("a space after the colon (RFC 5321 §3.3 allows none)");
        rest = rest.get(spaces..).unwrap_or(&[]);
    }
    let after = if rest.first() == Some(&b'<') {
        // With unbalanced quotes, the last `>` ends the path (whose syntax check then fails).
        let end = closing_bracket(rest).or_else(|| rest.iter().rposition(|&b| b == b'>'));
        match end {
            Some(end) => {
                e.path = PathForm::Bracketed(rest.get(..=end).unwrap_or(&[]));
                rest.get(end + 1..).unwrap_or(&[])
            }
            None => {
                e.path = PathForm::Unclosed;
                e.problems.push("the path has no closing `>`");
                return e;
            }
        }
    } else {
        let rest = trim_end_space(rest);
        if rest.is_empty() {
            e.path = PathForm::Missing;
            e.problems.push(if is_mail {
                "no path after FROM: (the null path is written <>)"
            } else {
                "no path after TO:"
            });
        } else {
            let word = rest.split(|&b| b == b' ').next().unwrap_or(&[]);
            e.path = PathForm::Bare(word);
            e.problems.push(if rest.contains(&b'<') {
                "text before the path: the path alone, in angle brackets, must follow the colon"
            } else {
                "the address is not in angle brackets"
            });
        }
        return e;
    };
    let trimmed = trim_end_space(after);
    e.trailing_space = trimmed.len() < after.len();
    if trimmed.is_empty() {
        return e;
    }
    if trimmed.first() != Some(&b' ') {
        e.problems.push(if trimmed.first() == Some(&b',') {
            "a list of paths: each RCPT takes one"
        } else {
            "characters right after the path: parameters need a space before them"
        });
        return e;
    }
    let mut double = false;
    for word in trimmed.get(1..).unwrap_or(&[]).split(|&b| b == b' ') {
        if word.is_empty() {
            double = true;
        } else {
            e.params.push(word);
        }
    }
    if double {
        e.problems.push("more than one space between parameters");
    }
    e
}

/// MAIL-SYNTAX and RCPT-SYNTAX: the framing of the line around the path.
fn envelope_syntax(model: &SessionModel<'_>, is_mail: bool) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit).filter(|e| e.is_mail == is_mail) else {
            continue;
        };
        seen += 1;
        if let Some(problem) = e.problems.first() {
            keep(&mut findings, at(unit, *problem));
            continue;
        }
        // The parameters' own grammar: `esmtp-keyword ["=" esmtp-value]` (§4.1.2).
        if let Some(Err(CommandError::Parameter {
            error: ParamError::Malformed(word),
            ..
        })) = unit.command().map(|c| &c.parsed)
        {
            keep(
                &mut findings,
                at(unit, format!("a malformed parameter: {word}")),
            );
            continue;
        }
        if e.trailing_space {
            keep(
                &mut findings,
                at(unit, "white space at the end of the line").warn(),
            );
        }
    }
    let why = if is_mail {
        "the client sent no MAIL command"
    } else {
        "the client sent no RCPT command"
    };
    Outcome::judged(seen > 0, why, findings)
}

/// RFC 5321 §4.1.1.2, §3.3: `"MAIL FROM:" Reverse-path [SP Mail-parameters]`.
fn mail_syntax(model: &SessionModel<'_>) -> Outcome {
    envelope_syntax(model, true)
}

/// RFC 5321 §4.1.1.3, §3.3: `"RCPT TO:" Forward-path [SP Rcpt-parameters]`.
fn rcpt_syntax(model: &SessionModel<'_>) -> Outcome {
    envelope_syntax(model, false)
}

/// What is wrong with a bracketed path, by RFC 5321 §4.1.2 (UTF-8 is left to the
/// ASCII-ENVELOPE check).
fn path_problem(e: &Envelope<'_>) -> Option<String> {
    let PathForm::Bracketed(path) = e.path else {
        return None;
    };
    let inner = e.inner().unwrap_or(&[]);
    if inner.is_empty() {
        return (!e.is_mail).then(|| "an empty path: RCPT needs a mailbox".to_owned());
    }
    if inner.iter().all(is_space) {
        // MAIL FROM:< > is the null-path check's.
        return (!e.is_mail).then(|| "spaces instead of a mailbox".to_owned());
    }
    let text = String::from_utf8_lossy(path);
    let parsed = if e.is_mail {
        ReversePath::parse_prefix(&text).map(|(_, rest)| rest.is_empty())
    } else {
        ForwardPath::parse_prefix(&text).map(|(_, rest)| rest.is_empty())
    };
    match parsed {
        Ok(true) => None,
        Ok(false) => Some("characters after the mailbox inside the brackets".to_owned()),
        Err(error) => Some(format!("an invalid path: {error}")),
    }
}

/// RFC 5321 §4.1.2: `Path = "<" [ A-d-l ":" ] Mailbox ">"` and the mailbox grammar.
fn path_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit) else {
            continue;
        };
        if !matches!(e.path, PathForm::Bracketed(_)) {
            continue;
        }
        seen += 1;
        if let Some(problem) = path_problem(&e) {
            keep(&mut findings, at(unit, problem));
        }
    }
    Outcome::judged(
        seen > 0,
        "the client sent no MAIL or RCPT with a path in angle brackets",
        findings,
    )
}

/// RFC 5321 §4.1.2: `Reverse-path = Path / "<>"`.
fn null_path_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut mails = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit).filter(|e| e.is_mail) else {
            continue;
        };
        mails += 1;
        let inner = e.inner().unwrap_or(&[]);
        if e.path == PathForm::Missing {
            keep(
                &mut findings,
                at(unit, "no path after FROM: the null path is written <>"),
            );
        } else if !inner.is_empty() && inner.iter().all(is_space) {
            keep(
                &mut findings,
                at(
                    unit,
                    "spaces inside <>: the null path is written <> with nothing in it",
                ),
            );
        }
    }
    Outcome::judged(mails > 0, "the client sent no MAIL command", findings)
}

/// RFC 5321 §4.1.1.3, §4.1.2: source routes SHOULD NOT be generated.
fn no_source_route(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit) else {
            continue;
        };
        let Some(inner) = e.inner() else {
            continue;
        };
        seen += 1;
        if inner.first() == Some(&b'@') {
            keep(&mut findings, at(unit, "a source route in the path"));
        }
    }
    Outcome::judged(
        seen > 0,
        "the client sent no MAIL or RCPT with a path in angle brackets",
        findings,
    )
}

/// RFC 5321 §4.5.3.1.1–3: local part 64, domain 255, path 256 octets (brackets included).
fn path_limits(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit) else {
            continue;
        };
        let PathForm::Bracketed(path) = e.path else {
            continue;
        };
        seen += 1;
        if path.len() <= 64 {
            // Within every limit: neither the local part nor the domain can be longer than
            // the path as written (unquoting only shortens it).
            continue;
        }
        let text = String::from_utf8_lossy(path);
        let mailbox = if e.is_mail {
            ReversePath::parse_prefix(&text)
                .ok()
                .and_then(|(p, _)| p.mailbox().cloned())
        } else {
            ForwardPath::parse_prefix(&text)
                .ok()
                .and_then(|(p, _)| p.mailbox().cloned())
        };
        let mut problems = Vec::new();
        if path.len() > 256 {
            problems.push(format!("a path of {} octets (limit 256)", path.len()));
        }
        if let Some(mailbox) = mailbox {
            if mailbox.local_part().len() > 64 {
                problems.push(format!(
                    "a local part of {} octets (limit 64)",
                    mailbox.local_part().len()
                ));
            }
            if mailbox.domain().len() > 255 {
                problems.push(format!(
                    "a domain of {} octets (limit 255)",
                    mailbox.domain().len()
                ));
            }
        }
        if !problems.is_empty() {
            keep(&mut findings, at(unit, problems.join("; ")));
        }
    }
    Outcome::judged(
        seen > 0,
        "the client sent no MAIL or RCPT with a path in angle brackets",
        findings,
    )
}

/// SMTPUTF8 is in use for this line: offered by the server, and on the line or on the
/// transaction's MAIL (RFC 6531 §3.4).
fn smtputf8_in_use(unit: &Unit, raw: &[u8]) -> bool {
    unit.state.hello.offers("SMTPUTF8")
        && (has_word(raw, "SMTPUTF8")
            || unit
                .state
                .transaction
                .as_ref()
                .is_some_and(|t| t.params.contains(&MailParam::SmtpUtf8)))
}

/// RFC 5321 §2.4, §4.1.2: US-ASCII only in commands, no control characters.
fn ascii_envelope(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut lines = 0;
    for (unit, command) in model.commands() {
        lines += 1;
        let raw = &command.line.raw;
        // A CR is a line-discipline fault (C-5321-LINE-CRLF), not a character set one.
        if let Some(&control) = raw.iter().find(|&&b| (b < 0x20 && b != b'\r') || b == 0x7f) {
            keep(
                &mut findings,
                at(
                    unit,
                    format!("a control character (0x{control:02X}) in a command line"),
                ),
            );
        } else if !raw.is_ascii() && !smtputf8_in_use(unit, raw) {
            keep(
                &mut findings,
                at(unit, "non-ASCII octets in a command line without SMTPUTF8"),
            );
        }
    }
    Outcome::judged(lines > 0, "the client sent no command line", findings)
}

/// The last `@` outside a quoted string.
fn domain_separator(inner: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    let mut last = None;
    for (i, &b) in inner.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b'@' && !quoted {
            last = Some(i);
        }
    }
    last
}

/// RFC 5321 §2.3.5: no local nicknames or unqualified names (bare Postmaster excepted in
/// RCPT); a single-label domain is legal but suspicious.
fn fqdn_envelope(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit) else {
            continue;
        };
        let Some(mut inner) = e.inner() else {
            continue;
        };
        if inner.first() == Some(&b'@') {
            // Past the source route.
            let colon = inner.iter().position(|&b| b == b':');
            inner = colon.and_then(|c| inner.get(c + 1..)).unwrap_or(&[]);
        }
        if inner.is_empty() || inner.iter().all(is_space) {
            continue;
        }
        seen += 1;
        if !e.is_mail && inner.eq_ignore_ascii_case(b"postmaster") {
            continue;
        }
        match domain_separator(inner) {
            None => keep(
                &mut findings,
                at(unit, "an unqualified name: the mailbox has no domain"),
            ),
            Some(i) => {
                let domain = inner.get(i + 1..).unwrap_or(&[]);
                if !domain.is_empty() && domain.first() != Some(&b'[') && !domain.contains(&b'.') {
                    keep(
                        &mut findings,
                        at(unit, "a single-label domain (legal, but rarely meant)").warn(),
                    );
                }
            }
        }
    }
    Outcome::judged(
        seen > 0,
        "the client sent no MAIL or RCPT with a mailbox",
        findings,
    )
}

/// The extensions any of which makes a parameter legal (RFC 5321 §4.1.1.3: only those of
/// extensions the server offered).
fn extensions_for(is_mail: bool, word: &[u8]) -> (String, Vec<String>) {
    let upper = String::from_utf8_lossy(word).to_ascii_uppercase();
    let (keyword, value) = match upper.split_once('=') {
        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
        None => (upper.clone(), None),
    };
    let names: Vec<&str> = match (is_mail, keyword.as_str()) {
        (true, "SIZE") => vec!["SIZE"],
        (true, "BODY") => match value.as_deref() {
            Some("8BITMIME") => vec!["8BITMIME"],
            Some("BINARYMIME") => vec!["BINARYMIME"],
            _ => vec!["8BITMIME", "BINARYMIME"],
        },
        (true, "SMTPUTF8") => vec!["SMTPUTF8"],
        (true, "RET" | "ENVID") | (false, "NOTIFY" | "ORCPT") => vec!["DSN"],
        (true, "AUTH") => vec!["AUTH"],
        (true, "BY") => vec!["DELIVERBY"],
        (true, "HOLDFOR" | "HOLDUNTIL") => vec!["FUTURERELEASE"],
        (_, "MT-PRIORITY") => vec!["MT-PRIORITY"],
        (true, "REQUIRETLS") => vec!["REQUIRETLS"],
        (false, "RRVS") => vec!["RRVS"],
        _ => vec![keyword.as_str()],
    };
    let names = names.into_iter().map(str::to_owned).collect();
    (keyword, names)
}

/// RFC 5321 §4.1.1.3, §3.3: parameters only for extensions the server offered.
fn params_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for unit in &model.units {
        let Some(e) = envelope(unit) else {
            continue;
        };
        seen += 1;
        for word in &e.params {
            let (keyword, needs) = extensions_for(e.is_mail, word);
            if needs.iter().any(|n| unit.state.hello.offers(n)) {
                continue;
            }
            let detail = if unit.state.hello.is_ehlo() {
                format!(
                    "{keyword} although the EHLO reply did not offer {}",
                    needs.join(" or ")
                )
            } else {
                format!("{keyword} without an EHLO reply that offered it")
            };
            keep(&mut findings, at(unit, detail));
            break;
        }
    }
    Outcome::judged(
        seen > 0,
        "the client sent no MAIL or RCPT command",
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// Transactions and replies
// ---------------------------------------------------------------------------------------

/// A unit pipelined after a MAIL in the same group: the client could not yet know whether
/// MAIL was accepted (RFC 2920 §3.1 allows this).
fn pipelined_after_mail(model: &SessionModel<'_>, unit: &Unit) -> bool {
    let mut i = unit.index;
    while model.units.get(i).is_some_and(|u| u.pipelined) && i > 0 {
        i -= 1;
        if model.units.get(i).is_some_and(|u| u.verb() == "MAIL") {
            return true;
        }
    }
    false
}

/// RFC 5321 §3.3, §4.1.4: MAIL, then RCPT, then DATA.
fn txn_order(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = 0;
    for (unit, _) in model.commands() {
        let verb = unit.verb();
        if !matches!(verb, "RCPT" | "DATA" | "BDAT") {
            continue;
        }
        seen += 1;
        let detail = match &unit.state.transaction {
            None if pipelined_after_mail(model, unit) => None,
            None if unit.state.messages > 0 && verb == "RCPT" => Some(
                "RCPT with no open transaction (a new MAIL is needed after the end of data)"
                    .to_owned(),
            ),
            None => Some(format!(
                "{verb} with no open mail transaction (no accepted MAIL)"
            )),
            Some(t) if verb != "RCPT" && t.accepted == 0 && !unit.pipelined && !t.bdat => {
                Some(format!("{verb} although no recipient was accepted"))
            }
            Some(_) => None,
        };
        if let Some(detail) = detail {
            keep(&mut findings, at(unit, detail));
        }
    }
    Outcome::judged(seen > 0, "the client sent no RCPT, DATA or BDAT", findings)
}

/// RFC 5321 §4.1.4: no MAIL inside an open transaction.
fn no_nested_mail(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut mails = 0;
    for (unit, _) in model.commands() {
        if unit.verb() != "MAIL" {
            continue;
        }
        mails += 1;
        if let Some(t) = &unit.state.transaction {
            let opened = model.units.get(t.mail).map_or(0, |u| u.entry);
            keep(
                &mut findings,
                at(
                    unit,
                    format!("MAIL while the transaction opened at entry {opened} was still open (no end of data, RSET or EHLO)"),
                ),
            );
        }
    }
    Outcome::judged(mails > 0, "the client sent no MAIL command", findings)
}

/// A command line that did not parse as a command at all: message text, most likely.
fn looks_like_text(unit: &Unit) -> bool {
    matches!(
        unit.command().map(|c| &c.parsed),
        Some(Err(
            CommandError::UnknownVerb(_) | CommandError::InvalidCharacter
        ))
    )
}

/// A first word that could be a command someone made up: upper-case letters and digits.
fn looks_like_verb(unit: &Unit) -> bool {
    let verb = unit.verb();
    !verb.is_empty()
        && unit
            .line()
            .and_then(|l| l.raw.split(|&b| b == b' ').next())
            .is_some_and(|w| {
                w.iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'-')
            })
}

/// RFC 5321 §3.3: message data only after 354.
fn no_data_without_354(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut datas = 0;
    for unit in &model.units {
        if unit.verb() == "DATA" {
            datas += 1;
            let refused = unit.reply_code().filter(|&c| c != 354);
            if let (Some(code), Some(next)) = (refused, model.next(unit.index)) {
                if looks_like_text(next) {
                    keep(
                        &mut findings,
                        at(
                            next,
                            format!("what looks like message text after DATA was answered {code}"),
                        ),
                    );
                }
            }
            continue;
        }
        let Some(content) = unit.content() else {
            continue;
        };
        if content.transfer != Transfer::Data {
            continue;
        }
        let data = unit
            .index
            .checked_sub(1)
            .and_then(|i| model.units.get(i))
            .filter(|d| d.verb() == "DATA");
        let answer = data.and_then(Unit::reply_code);
        if answer.is_some_and(|c| c != 354) {
            keep(
                &mut findings,
                at(
                    unit,
                    format!(
                        "message content after DATA was answered {}",
                        answer.unwrap_or(0)
                    ),
                ),
            );
        } else if unit.pipelined {
            keep(
                &mut findings,
                at(unit, "message content sent before the 354"),
            );
        }
    }
    Outcome::judged(datas > 0, "the client sent no DATA command", findings)
}

/// What makes two sends of the same line "the same request": the state that a reply could
/// depend on (RFC 5321 §4.2.1 "in the same sequence").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RequestKey {
    line: Vec<u8>,
    tls: bool,
    authenticated: bool,
    hello: u8,
    in_transaction: bool,
}

fn request_key(unit: &Unit, raw: &[u8]) -> RequestKey {
    RequestKey {
        line: raw.to_vec(),
        tls: unit.state.tls,
        authenticated: unit.state.authenticated,
        hello: match unit.state.hello {
            crate::model::Hello::None => 0,
            crate::model::Hello::Helo { .. } => 1,
            crate::model::Hello::Ehlo { .. } => 2,
        },
        in_transaction: unit.state.transaction.is_some(),
    }
}

/// RFC 5321 §4.2.1: after 5yz the client SHOULD NOT repeat the exact request.
fn no_repeat_after_5yz(model: &SessionModel<'_>) -> Outcome {
    // waited[i]: units up to and including i that were sent after a reply was read.
    let mut waited = Vec::with_capacity(model.units.len());
    let mut count = 0usize;
    for unit in &model.units {
        if !unit.pipelined {
            count += 1;
        }
        waited.push(count);
    }
    let mut refused: HashMap<RequestKey, usize> = HashMap::new();
    let mut findings = Vec::new();
    let mut applicable = false;
    for (unit, command) in model.commands() {
        if !matches!(
            unit.verb(),
            "MAIL" | "RCPT" | "EHLO" | "HELO" | "VRFY" | "EXPN" | "AUTH"
        ) {
            continue;
        }
        let key = request_key(unit, &command.line.raw);
        if let Some(&first) = refused.get(&key) {
            let read_reply = waited.get(unit.index).copied().unwrap_or(0)
                > waited.get(first).copied().unwrap_or(0);
            if read_reply {
                let entry = model.units.get(first).map_or(0, |u| u.entry);
                keep(
                    &mut findings,
                    at(
                        unit,
                        format!(
                            "the same command as entry {entry}, which was refused with a 5yz reply"
                        ),
                    ),
                );
            }
            continue;
        }
        if unit.reply.as_ref().is_some_and(ServerReply::is_permanent) {
            applicable = true;
            refused.insert(key, unit.index);
        }
    }
    Outcome::judged(
        applicable,
        "no command was refused with a 5yz reply",
        findings,
    )
}

/// Whether the client acted as if a positive reply to `unit` had been a failure. `plain`
/// tells replies the check is not about (to other RCPTs of the transaction) from those it
/// is about.
fn misread_positive(
    model: &SessionModel<'_>,
    unit: &Unit,
    plain: &dyn Fn(&Unit) -> bool,
) -> Option<Finding> {
    let code = unit.reply_code().unwrap_or(0);
    match unit.verb() {
        "MAIL" => {
            for later in model.after(unit.index) {
                if later.verb() == "RCPT" {
                    return None;
                }
                if !later.pipelined {
                    return matches!(later.verb(), "RSET" | "QUIT" | "MAIL" | "EHLO" | "HELO")
                        .then(|| {
                            at(
                                later,
                                format!("{} right after MAIL was accepted with {code}: the reply was taken as a failure", later.verb()),
                            )
                        });
                }
            }
            client_went_away(model).then(|| {
                at(
                    unit,
                    format!("the client went away after MAIL was accepted with {code}"),
                )
            })
        }
        "RCPT" => {
            let mail = transaction_of(unit)?;
            let in_transaction = |u: &&Unit| transaction_of(u) == Some(mail);
            let first = mail + 1;
            let before = model.units.get(first..unit.index).unwrap_or(&[]);
            let after: Vec<&Unit> = model
                .after(unit.index)
                .iter()
                .take_while(|u| in_transaction(u))
                .collect();
            if after.iter().any(|u| matches!(u.verb(), "DATA" | "BDAT")) {
                return None;
            }
            let accepted_plainly = before.iter().chain(after.iter().copied()).any(|u| {
                u.verb() == "RCPT" && u.reply.as_ref().is_some_and(ServerReply::is_success) && plain(u)
            });
            let ended = after.len() < model.after(unit.index).len() || model.close.is_some();
            if accepted_plainly || model.end.closing || !ended {
                return None;
            }
            Some(at(
                unit,
                format!("no DATA followed although this RCPT was accepted with {code}: the reply was taken as a failure"),
            ))
        }
        "DATA" => match model.next(unit.index) {
            Some(next) if next.content().is_some() => None,
            Some(next) if !next.pipelined => Some(at(
                next,
                format!("a command instead of the message after DATA was answered {code}"),
            )),
            Some(_) => None,
            None => client_went_away(model).then(|| {
                at(
                    unit,
                    format!("the client went away after DATA was answered {code}"),
                )
            }),
        },
        "EHLO" => first_reaction(model, unit.index)
            .filter(|next| next.verb() == "HELO")
            .map(|next| {
                at(
                    next,
                    format!("HELO after EHLO was accepted with {code}: the reply was taken as a failure"),
                )
            }),
        _ => None,
    }
}

/// Whether the client acted as if a negative reply to `unit` had been a success.
fn misread_negative(model: &SessionModel<'_>, unit: &Unit) -> Option<Finding> {
    let code = unit.reply_code().unwrap_or(0);
    match unit.verb() {
        "MAIL" => first_reaction(model, unit.index)
            .filter(|next| next.verb() == "RCPT")
            .map(|next| {
                at(
                    next,
                    format!(
                        "RCPT after MAIL was refused with {code}: the reply was taken as a success"
                    ),
                )
            }),
        "RCPT" => {
            let mail = transaction_of(unit)?;
            model
                .after(unit.index)
                .iter()
                .take_while(|u| transaction_of(u) == Some(mail))
                .find(|u| {
                    matches!(u.verb(), "DATA" | "BDAT")
                        && !u.pipelined
                        && u.state.transaction.as_ref().is_some_and(|t| t.accepted == 0)
                })
                .map(|data| {
                    at(
                        data,
                        format!("{} although every RCPT was refused (one with {code}): the reply was taken as a success", data.verb()),
                    )
                })
        }
        "DATA" => model
            .next(unit.index)
            .filter(|next| next.content().is_some())
            .map(|next| {
                at(
                    next,
                    format!("message content after DATA was refused with {code}"),
                )
            }),
        _ => None,
    }
}

/// Whether the client misread the reply to `unit`, by its first digit.
fn misread(
    model: &SessionModel<'_>,
    unit: &Unit,
    plain: &dyn Fn(&Unit) -> bool,
) -> Option<Finding> {
    match unit.reply.as_ref()?.class()? {
        2 | 3 => misread_positive(model, unit, plain),
        4 | 5 => misread_negative(model, unit),
        _ => None,
    }
}

/// The negative codes RFC 5321 §4.2.2–§4.2.3 and the common extensions use.
const KNOWN_NEGATIVE: [u16; 26] = [
    421, 432, 450, 451, 452, 454, 455, 458, 500, 501, 502, 503, 504, 521, 523, 530, 534, 535, 538,
    550, 551, 552, 553, 554, 555, 556,
];

/// A code RFC 5321 §4.3.2 does not list for the command.
fn unlisted(verb: &str, code: u16) -> bool {
    match (code / 100, verb) {
        (2, "RCPT") => !matches!(code, 250 | 251),
        (2, "MAIL" | "EHLO" | "HELO") => code != 250,
        (3, "DATA") => code != 354,
        (4 | 5, "MAIL" | "RCPT" | "DATA" | "EHLO" | "HELO") => !KNOWN_NEGATIVE.contains(&code),
        _ => false,
    }
}

fn judged_verb(unit: &Unit) -> bool {
    matches!(unit.verb(), "MAIL" | "RCPT" | "DATA" | "EHLO" | "HELO")
}

/// RFC 5321 §4.2, §4.3.2: unknown codes are read by their first digit.
fn code_first_digit(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let plain = |u: &Unit| u.reply_code().is_some_and(|c| !unlisted(u.verb(), c));
    for unit in &model.units {
        let Some(code) = unit.reply_code() else {
            continue;
        };
        if !judged_verb(unit) || !unlisted(unit.verb(), code) {
            continue;
        }
        applicable = true;
        if let Some(finding) = misread(model, unit, &plain) {
            keep(&mut findings, finding);
        }
    }
    Outcome::judged(
        applicable,
        "no MAIL, RCPT, DATA or EHLO was answered with a code RFC 5321 does not list for it",
        findings,
    )
}

/// RFC 5321 §4.3.2: 251 is a success for RCPT.
fn rcpt_251_ok(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let plain = |u: &Unit| u.reply_code() != Some(251);
    for unit in &model.units {
        if unit.verb() != "RCPT" || unit.reply_code() != Some(251) {
            continue;
        }
        applicable = true;
        if let Some(finding) = misread_positive(model, unit, &plain) {
            keep(&mut findings, finding);
        }
    }
    Outcome::judged(applicable, "no RCPT was answered 251", findings)
}

/// The text of a reply line after an enhanced status code (RFC 3463 `class.subject.detail`).
fn after_enhanced_code(text: &str) -> &str {
    let text = text.trim_start();
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = 0;
    let enhanced = first.split('.').all(|p| {
        parts += 1;
        !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())
    }) && parts == 3;
    if enhanced {
        rest
    } else {
        text
    }
}

/// Words that say the opposite of a positive code, or of a negative one.
const FAILURE_WORDS: [&str; 6] = ["error", "fail", "reject", "denied", "refused", "invalid"];

/// Whether `text` holds one of [`FAILURE_WORDS`], in any case.
fn has_failure_word(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|at| {
        // Only where a word can start: the words begin with d, e, f, i or r.
        matches!(bytes[at] | 0x20, b'd' | b'e' | b'f' | b'i' | b'r')
            && FAILURE_WORDS.iter().any(|word| {
                bytes
                    .get(at..at + word.len())
                    .is_some_and(|here| here.eq_ignore_ascii_case(word.as_bytes()))
            })
    })
}

/// A reply whose text a client might act on instead of the code (RFC 5321 §4.2): empty,
/// starting with digits, or saying the opposite of the code.
fn odd_text(unit: &Unit, reply: &ServerReply) -> bool {
    let lines = if unit.verb() == "EHLO" {
        reply.lines.get(..1).unwrap_or(&[])
    } else {
        &reply.lines[..]
    };
    let bare_or_numeric = lines.iter().any(|line| {
        let text = after_enhanced_code(line).trim();
        text.is_empty() || text.starts_with(|c: char| c.is_ascii_digit())
    });
    let misleading = if reply.is_positive() {
        // Line by line, without a lower-case copy of the text: no word spans the space that
        // joins two lines, and most replies are positive (this ran for every reply).
        reply.lines.iter().any(|line| has_failure_word(line))
    } else {
        let text = reply.text().to_ascii_lowercase();
        let first = after_enhanced_code(&text)
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        first == "ok" || text.contains("accepted") || text.contains("success")
    };
    bare_or_numeric || misleading
}

/// RFC 5321 §4.2: the client acts on the code, not the text.
fn code_not_text(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let plain = |u: &Unit| u.reply.as_ref().is_some_and(|r| !odd_text(u, r));
    for unit in &model.units {
        let Some(reply) = &unit.reply else {
            continue;
        };
        if !judged_verb(unit) || reply.code.is_none() || !odd_text(unit, reply) {
            continue;
        }
        applicable = true;
        if let Some(finding) = misread(model, unit, &plain) {
            keep(&mut findings, finding);
        }
    }
    Outcome::judged(
        applicable,
        "no reply to MAIL, RCPT, DATA or EHLO had empty, numeric or misleading text",
        findings,
    )
}

/// Whether a reply line is a continuation line (`ddd-`).
fn is_continuation(line: &[u8]) -> bool {
    line.len() >= 4 && line.iter().take(3).all(u8::is_ascii_digit) && line.get(3) == Some(&b'-')
}

/// What follows the last CR LF of `text` (all of it without one): `rsplit("\r\n").next()`
/// without the two-octet searcher, which cost more than the short replies it searched.
fn last_crlf_line(text: &[u8]) -> &[u8] {
    let mut end = text.len();
    while let Some(lf) = memchr::memrchr(b'\n', text.get(..end).unwrap_or(&[])) {
        if lf > 0 && text.get(lf - 1) == Some(&b'\r') {
            return text.get(lf + 1..).unwrap_or(&[]);
        }
        end = lf;
    }
    text
}

/// Whether the server wrote a reply in pieces between two transcript entries: a write that
/// ended with a continuation line.
fn reply_written_in_pieces(entries: &[&Entry], from: usize, to: usize) -> bool {
    entries
        .get(from + 1..to)
        .unwrap_or(&[])
        .iter()
        .any(|entry| match &entry.event {
            Event::Server { text } => is_continuation(last_crlf_line(text.as_bytes())),
            Event::ServerRaw { bytes } => {
                let raw = unescape(bytes);
                let raw = raw.strip_suffix(b"\r\n").unwrap_or(&raw);
                let last = raw.rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
                is_continuation(last)
            }
            _ => false,
        })
}

/// Whether RFC 2920 lets `next` be sent before the reply to `unit`.
fn may_pipeline_after(unit: &Unit, next: &Unit) -> bool {
    next.state.hello.offers("PIPELINING")
        && (unit.content().is_some() || matches!(unit.verb(), "MAIL" | "RCPT" | "RSET"))
}

/// RFC 5321 §4.2, §4.2.1: a multi-line reply is one reply; the next command waits for its
/// last line (unless pipelining allows it to go earlier). Judged on replies the server wrote
/// in pieces, with pauses (the active scenario): a command that arrived during a pause was
/// sent before the last line.
fn multiline_reply(model: &SessionModel<'_>) -> Outcome {
    let entries: Vec<&Entry> = model.transcript.entries().collect();
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        // EHLO replies are multi-line in nearly every session; pipelining after EHLO is
        // judged by the PIPELINING checks.
        if unit.verb() == "EHLO" || unit.sasl().is_some() {
            continue;
        }
        let Some(next) = model.next(unit.index) else {
            continue;
        };
        let in_pieces = reply_written_in_pieces(&entries, unit.entry, next.entry);
        let multiline = in_pieces || unit.reply.as_ref().is_some_and(|r| r.lines.len() > 1);
        if !multiline {
            continue;
        }
        applicable = true;
        // Only a reply written in pieces shows that the client read part of it: after a
        // reply written at once, a pipelined command was sent before any of it (a fault
        // the pipelining checks judge).
        if in_pieces && next.pipelined && !may_pipeline_after(unit, next) {
            keep(
                &mut findings,
                at(
                    next,
                    "sent before the last line of the multi-line reply to what came before it",
                ),
            );
        }
    }
    Outcome::judged(
        applicable,
        "no multi-line reply (other than to EHLO) came before another command",
        findings,
    )
}

fn out_of_range(code: u16) -> bool {
    !(200..600).contains(&code)
}

/// RFC 5321 §4.2: an out-of-range code SHOULD be taken as a fatal error: RSET or QUIT.
fn out_of_range_code(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    if let Some(code) = model.greeting.as_ref().and_then(|g| g.code) {
        if out_of_range(code) {
            applicable = true;
            if let Some(first) = model.units.first() {
                if first.verb() != "QUIT" {
                    keep(
                        &mut findings,
                        at(
                            first,
                            format!(
                                "{} after a {code} greeting: QUIT was expected",
                                printable_verb(first)
                            ),
                        ),
                    );
                }
            }
        }
    }
    for unit in &model.units {
        let Some(code) = unit.reply_code().filter(|&c| out_of_range(c)) else {
            continue;
        };
        applicable = true;
        if let Some(next) = first_reaction(model, unit.index) {
            if !matches!(next.verb(), "RSET" | "QUIT") {
                keep(
                    &mut findings,
                    at(
                        next,
                        format!(
                            "{} after an out-of-range {code} reply: RSET or QUIT was expected",
                            printable_verb(next)
                        ),
                    ),
                );
            }
        }
    }
    Outcome::judged(
        applicable,
        "the server sent no reply code outside 2yz to 5yz",
        findings,
    )
}

/// A refusal of RCPT for too many recipients: 452 (RFC 5321 §4.5.3.1.10), or 552 with the
/// enhanced code 5.5.3 or saying so.
fn too_many_recipients(reply: &ServerReply) -> bool {
    reply.is(452)
        || (reply.is(552) && {
            let text = reply.text().to_ascii_lowercase();
            text.contains("5.5.3") || text.contains("too many recipients")
        })
}

/// RFC 5321 §4.5.3.1.8, §4.5.3.1.10: after "too many recipients", send the message to the
/// accepted ones and the rest in a new transaction.
fn rcpt_limit_452(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let mut judged_transactions = Vec::new();
    for unit in &model.units {
        if unit.verb() != "RCPT" || !unit.reply.as_ref().is_some_and(too_many_recipients) {
            continue;
        }
        applicable = true;
        let Some(mail) = transaction_of(unit) else {
            continue;
        };
        if judged_transactions.contains(&mail) {
            continue;
        }
        judged_transactions.push(mail);
        let accepted = unit.state.transaction.as_ref().map_or(0, |t| t.accepted);
        let code = unit.reply_code().unwrap_or(0);
        let rest: Vec<&Unit> = model
            .after(unit.index)
            .iter()
            .take_while(|u| transaction_of(u) == Some(mail))
            .collect();
        if let Some(more) = rest.iter().find(|u| u.verb() == "RCPT" && !u.pipelined) {
            keep(
                &mut findings,
                at(
                    more,
                    format!("another RCPT in the transaction after {code}: the rest belong in a new transaction"),
                ),
            );
        }
        let sent_data = rest.iter().any(|u| matches!(u.verb(), "DATA" | "BDAT"));
        let ended = rest.len() < model.after(unit.index).len() || model.close.is_some();
        if accepted > 0 && !sent_data && ended && !model.end.closing {
            keep(
                &mut findings,
                at(
                    unit,
                    format!("after {code}, the {accepted} recipients already accepted got no DATA"),
                ),
            );
        }
    }
    Outcome::judged(
        applicable,
        "no RCPT was refused for too many recipients",
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// RSET, QUIT
// ---------------------------------------------------------------------------------------

/// RFC 5321 §4.1.1.5: `rset = "RSET" CRLF`.
fn rset_syntax(model: &SessionModel<'_>) -> Outcome {
    let (seen, findings) = no_argument_findings(model, &["RSET"]);
    Outcome::judged(seen > 0, "the client sent no RSET", findings)
}

/// RFC 5321 §4.1.4, §4.1.1.10: the last command is QUIT, and the client does not close
/// before sending it.
fn quit_last(model: &SessionModel<'_>) -> Outcome {
    let Some((entry, reason)) = model.close else {
        return Outcome::not_applicable("the session had not ended");
    };
    if model.end.quit_sent {
        return Outcome::Pass;
    }
    if model.end.closing {
        return Outcome::not_applicable("the server said 421 and closed the connection");
    }
    if model.tls_failed.is_some() {
        return Outcome::not_applicable("a failed TLS handshake ended the session");
    }
    match reason {
        CloseReason::PeerClosed => Outcome::Violations(vec![Finding::at_entry(
            entry,
            "",
            "the client closed the connection without sending QUIT",
        )]),
        CloseReason::Error => Outcome::Violations(vec![Finding::at_entry(
            entry,
            "",
            "the connection broke before any QUIT (a reset by the client, or a network failure)",
        )
        .warn()]),
        _ => Outcome::not_applicable("the server closed the connection first"),
    }
}

/// RFC 5321 §4.1.1.10: after QUIT, the client SHOULD wait for the reply.
fn quit_wait_221(model: &SessionModel<'_>) -> Outcome {
    let Some(quit) = model.units.iter().find(|u| u.verb() == "QUIT") else {
        return Outcome::not_applicable("the client sent no QUIT");
    };
    let Some((entry, reason)) = model.close else {
        return Outcome::not_applicable("the session had not ended");
    };
    let mut findings = Vec::new();
    if quit.reply.is_none()
        && entry > quit.entry
        && matches!(reason, CloseReason::PeerClosed | CloseReason::Error)
    {
        findings.push(at(quit, "the client closed the connection before the 221"));
    }
    Outcome::from_findings(findings)
}

/// RFC 5321 §4.1.4 and RFC 2920 §3.1: QUIT is the last thing the client sends.
fn nothing_after_quit(model: &SessionModel<'_>) -> Outcome {
    if !model.units.iter().any(|u| u.verb() == "QUIT") {
        return Outcome::not_applicable("the client sent no QUIT");
    }
    let mut findings = Vec::new();
    for unit in model.units.iter().filter(|u| u.state.quit_sent) {
        keep(&mut findings, at(unit, "sent after QUIT"));
    }
    Outcome::from_findings(findings)
}

// ---------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------

/// A reply at least this late is a delayed one (the scenario's doing, not the network's).
const DELAYED_US: u64 = 1_000_000;

const MINUTE_US: u64 = 60_000_000;

/// RFC 5321 §4.5.3.2.2–6: the minimum time a client waits for the reply to `unit`.
fn minimum_wait_us(unit: &Unit) -> Option<u64> {
    if unit.content().is_some_and(|c| c.transfer == Transfer::Data) {
        return Some(10 * MINUTE_US);
    }
    match unit.verb() {
        "MAIL" | "RCPT" => Some(5 * MINUTE_US),
        "DATA" => Some(2 * MINUTE_US),
        _ => None,
    }
}

fn gave_up(next: &Unit) -> bool {
    next.pipelined && matches!(next.verb(), "QUIT" | "RSET")
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// RFC 5321 §4.5.3.2: per-command timeouts of at least the listed minimums. Visible when a
/// reply was delayed and the client sent QUIT or RSET while it waited for it.
fn timeout_minimums(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    let start = model.transcript.entries().next().map_or(0, |e| e.at_us);
    if let (Some(greeting), Some(first)) = (&model.greeting, model.units.first()) {
        let waited = greeting.at_us.saturating_sub(start);
        if waited >= DELAYED_US {
            applicable = true;
            // §4.5.3.2.1: five minutes for the greeting.
            if gave_up(first) && waited < 5 * MINUTE_US {
                keep(
                    &mut findings,
                    at(
                        first,
                        format!("{} sent while the greeting was delayed ({:.1} s, less than the 5 minutes a client should wait)", first.verb(), seconds(waited)),
                    ),
                );
            }
        }
    }
    for unit in &model.units {
        let (Some(reply), Some(minimum)) = (&unit.reply, minimum_wait_us(unit)) else {
            continue;
        };
        let waited = reply.at_us.saturating_sub(unit.at_us);
        if waited < DELAYED_US {
            continue;
        }
        applicable = true;
        let Some(next) = model.next(unit.index) else {
            continue;
        };
        if gave_up(next) && waited < minimum {
            let what = if unit.content().is_some() {
                "the end of data".to_owned()
            } else {
                unit.verb().to_owned()
            };
            keep(
                &mut findings,
                at(
                    next,
                    format!(
                        "{} sent while the reply to {what} was delayed ({:.1} s, less than the {} minutes a client should wait)",
                        next.verb(),
                        seconds(waited),
                        minimum / MINUTE_US
                    ),
                ),
            );
        }
    }
    Outcome::judged(
        applicable,
        "no reply to the greeting, MAIL, RCPT, DATA or the end of data was delayed",
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// DATA content
// ---------------------------------------------------------------------------------------

/// RFC 5321 §4.1.1.4: the data end with CRLF . CRLF. Visible when the session ends after a
/// 354 without the content having ended.
fn eod_exact(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        if unit.verb() != "DATA" || unit.reply_code() != Some(354) {
            continue;
        }
        applicable = true;
        match model.next(unit.index) {
            Some(next) if next.content().is_some() => {}
            Some(next) if model.omitted == 0 => keep(
                &mut findings,
                at(next, "a command line after 354 instead of the message"),
            ),
            Some(_) => {}
            None if client_went_away(model) => keep(
                &mut findings,
                at(
                    unit,
                    "the session ended after 354 without the end-of-data line <CRLF>.<CRLF>",
                ),
            ),
            None => {}
        }
    }
    Outcome::judged(applicable, "no DATA was answered 354", findings)
}

/// RFC 5321 §4.5.2: lines starting with `.` are stuffed. Passively visible when message text
/// follows the end of data: a lone `.` line ended the message early.
fn dot_stuffing(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut messages = 0;
    for (unit, content) in model.contents() {
        if content.transfer != Transfer::Data {
            continue;
        }
        messages += 1;
        let text_after = model
            .next(unit.index)
            .filter(|n| looks_like_text(n) && (n.pipelined || !looks_like_verb(n)));
        if let Some(next) = text_after {
            keep(
                &mut findings,
                at(
                    next,
                    "message text after the end of data: a line holding only `.` was probably not dot-stuffed",
                ),
            );
        }
    }
    Outcome::judged(messages > 0, "the client sent no DATA content", findings)
}

/// The DATA messages and BDAT transfers with their decoder reports.
fn reports<'m>(
    model: &'m SessionModel<'_>,
) -> impl Iterator<Item = (&'m Unit, &'m Content, &'m ContentReport)> {
    model
        .contents()
        .filter_map(|(unit, content)| content.report.as_ref().map(|r| (unit, content, r)))
}

/// RFC 5321 §2.3.8, §4.1.1.4: no end-of-data look-alikes built from bare CR or LF.
fn smuggle_eod(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut messages = 0;
    for (unit, content, report) in reports(model) {
        if content.transfer != Transfer::Data {
            continue;
        }
        messages += 1;
        for lookalike in &report.lookalikes {
            keep(
                &mut findings,
                Finding::at_entry(
                    unit.entry,
                    lookalike.kind.as_str(),
                    format!(
                        "end-of-data look-alike {} at octet {} of the content",
                        lookalike.kind.as_str(),
                        lookalike.offset
                    ),
                ),
            );
        }
    }
    Outcome::judged(messages > 0, "the client sent no DATA content", findings)
}

/// RFC 5321 §4.5.3.1.6: text lines of at most 1000 octets with CRLF (998 without), not
/// counting a stuffing dot.
fn text_line_1000(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut messages = 0;
    for (unit, content, report) in reports(model) {
        if is_binarymime(unit) {
            continue;
        }
        messages += 1;
        // The decoder counts a stuffing dot in the line's length; allow for one.
        let stuffed = u64::from(content.transfer == Transfer::Data && report.unstuffed_dots > 0);
        if report.longest_line > 998 + stuffed {
            keep(
                &mut findings,
                at(
                    unit,
                    format!(
                        "{} lines over 1000 octets with CRLF (the longest has {} octets before its CRLF)",
                        report.long_lines.max(1),
                        report.longest_line
                    ),
                ),
            );
        }
    }
    Outcome::judged(messages > 0, "the client sent no text message", findings)
}

/// RFC 5321 §2.4: 8-bit octets only after negotiating 8BITMIME, BINARYMIME or SMTPUTF8.
fn eight_bit_allowed(unit: &Unit, content: &Content) -> bool {
    let Some(transaction) = &unit.state.transaction else {
        return false;
    };
    let hello = &unit.state.hello;
    transaction.params.iter().any(|p| match p {
        MailParam::Body(Body::EightBitMime) => hello.offers("8BITMIME"),
        MailParam::Body(Body::BinaryMime) => {
            hello.offers("BINARYMIME") && content.transfer == Transfer::Bdat
        }
        MailParam::SmtpUtf8 => hello.offers("SMTPUTF8"),
        _ => false,
    })
}

fn eight_bit_negotiated(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut messages = 0;
    for (unit, content, report) in reports(model) {
        messages += 1;
        if report.eight_bit && !eight_bit_allowed(unit, content) {
            keep(
                &mut findings,
                at(
                    unit,
                    "octets over 127 in the message without BODY=8BITMIME, BODY=BINARYMIME or SMTPUTF8 offered and used",
                ),
            );
        }
    }
    Outcome::judged(messages > 0, "the client sent no message", findings)
}

/// RFC 5321 §4.1.1.4: the "no mail data" case does not conform.
fn nonempty_content(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut messages = 0;
    for (unit, _, report) in reports(model) {
        messages += 1;
        // RFC 2920 §3.1: when no RCPT was accepted (or MAIL was refused) and DATA was
        // nevertheless answered 354, the client "should send a single dot": an empty
        // message is then the right thing, not a fault.
        let nothing_to_send = unit
            .state
            .transaction
            .as_ref()
            .is_none_or(|t| t.accepted == 0);
        if report.octets == 0 && !nothing_to_send {
            keep(&mut findings, at(unit, "an empty message"));
        }
    }
    Outcome::judged(messages > 0, "the client sent no message", findings)
}

/// Control characters RFC 5321 §4.1.1.4 asks to avoid: all but SP, HT, CR and LF.
/// Written without branches, so that [`any_octet`] can test a block at once.
fn is_control(b: u8) -> bool {
    ((b < 0x20) & (b != b'\t') & (b != b'\r') & (b != b'\n')) | (b == 0x7f)
}

/// Control characters shown by name in findings.
fn control_name(b: u8) -> &'static str {
    match b {
        0x00 => "NUL",
        0x07 => "BEL",
        0x08 => "BS",
        0x0b => "VT",
        0x0c => "FF",
        0x1b => "ESC",
        0x7f => "DEL",
        _ => "control character",
    }
}

/// Findings listed one by one per message; the rest are counted.
const CONTROL_FINDINGS: usize = 5;

/// RFC 5321 §4.1.1.4: control characters other than SP, HT, CR and LF SHOULD be avoided.
/// With BODY=BINARYMIME the bodies may be binary: only the header sections are read.
fn control_chars(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    if content.is_empty() {
        return Outcome::not_applicable("the message is empty");
    }
    let ranges: Vec<std::ops::Range<usize>> = if model.input.body == Some(Body::BinaryMime) {
        model
            .entities
            .iter()
            .map(|e| e.start..e.body.start.max(e.start))
            .collect()
    } else {
        std::iter::once(0..content.len()).collect()
    };
    let mut findings = Vec::new();
    let mut count = 0u64;
    for range in ranges {
        let start = range.start;
        let octets = content.get(range).unwrap_or(&[]);
        // Nearly every message has none: a vectorised pass first, the octet-by-octet loop
        // only when there is one.
        let clean = !any_octet(octets, is_control);
        if clean {
            continue;
        }
        for (i, &b) in octets.iter().enumerate() {
            if !is_control(b) {
                continue;
            }
            count += 1;
            if findings.len() < CONTROL_FINDINGS {
                findings.push(Finding::in_message(
                    start + i,
                    [b],
                    format!("{} (0x{b:02X}) in the message", control_name(b)),
                ));
            }
        }
    }
    if count > CONTROL_FINDINGS as u64 {
        findings.push(Finding::in_session(format!(
            "{count} control characters in the message in all"
        )));
    }
    Outcome::from_findings(findings)
}

/// RFC 5321 §4.5.5: only messages a Standards-Track RFC requires to have a null reverse path
/// (delivery status notifications, RFC 3464; disposition notifications, RFC 8098) SHOULD be
/// sent with one: a top-level multipart/report of report-type delivery-status or
/// disposition-notification.
fn null_path_use(model: &MessageModel<'_>) -> Outcome {
    if !model.input.null_sender {
        return Outcome::not_applicable("the message had a sender (MAIL FROM was not <>)");
    }
    let notification = model.root().content_type.as_ref().is_some_and(|ct| {
        ct.is("multipart", "report")
            && ct.parameter("report-type").is_some_and(|t| {
                t.eq_ignore_ascii_case("delivery-status")
                    || t.eq_ignore_ascii_case("disposition-notification")
            })
    });
    if notification {
        return Outcome::Pass;
    }
    let shown = model
        .root()
        .field(model.content(), "Content-Type")
        .map_or(&b"(no Content-Type)"[..], |f| f.value(model.content()));
    Outcome::Violations(vec![Finding::in_message(
        model.root().start,
        shown,
        "a null sender (MAIL FROM:<>) on a message that is not a delivery or disposition notification",
    )])
}

#[cfg(test)]
mod tests {
    use smtp_protocol::params::Body;

    use crate::check::Status;
    use crate::testing::*;

    const HELLO: &str = "S: 220 mx.example ESMTP\nC: EHLO client.example\nS: 250 mx.example\n";

    #[test]
    fn the_last_crlf_line_is_what_rsplit_gives() {
        for text in [
            "",
            "250 a",
            "250-a\r\n250 b",
            "250-a\r\n",
            "a\nb",
            "a\r\nb\nc",
            "\r\n\r\n",
        ] {
            let expected = text.rsplit("\r\n").next().unwrap_or_default();
            assert_eq!(
                super::last_crlf_line(text.as_bytes()),
                expected.as_bytes(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn failure_words_are_found_as_a_lower_case_copy_finds_them() {
        let texts = [
            "",
            "OK",
            "2.1.0 Sender <a@b> OK",
            "Error",
            "ERRORS ahead",
            "no eRrOr",
            "err or",
            "failed",
            "FAI",
            "rejected, then REFUSED",
            "Access DENIED",
            "invalid",
            "invali",
            "Ünïcode déniéd",
            "Ünïcode denied",
            "\u{130}nvalid",
            "défaillance fail",
        ];
        for text in texts {
            let lower = text.to_ascii_lowercase();
            let expected = super::FAILURE_WORDS.iter().any(|w| lower.contains(w));
            assert_eq!(super::has_failure_word(text), expected, "{text:?}");
        }
    }

    /// A session from the greeting to EHLO with `extensions`, then `rest`.
    fn after_ehlo(extensions: &[&str], rest: &str) -> String {
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
        script.push_str(rest);
        script
    }

    fn plain() -> String {
        simple_session(&[], "", "Subject: x\\r\\n\\r\\nhi\\r\\n")
    }

    /// Ordinary sessions of well-behaved clients: no judge of this section may complain.
    #[test]
    fn clean_sessions_pass_every_check() {
        let pipelined = "S: 220 mx.example ESMTP\nC: EHLO client.example\nS: 250-mx.example\n\
             S: 250-PIPELINING\nS: 250-SIZE 1000000\nS: 250-8BITMIME\nS: 250 ENHANCEDSTATUSCODES\n\
             C: MAIL FROM:<a@client.example> SIZE=30 BODY=8BITMIME\nC+: RCPT TO:<b@mx.example>\n\
             C+: RCPT TO:<c@mx.example>\nC+: DATA\nS: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\n\
             S: 550 5.1.1 no such user\nS: 354 go ahead\nD: Subject: x\\r\\n\\r\\nh\\xc3\\xa9\\r\\n..dot\\r\\n\n\
             S: 250 2.0.0 queued\n** stored Q\nC: QUIT\nS: 221 2.0.0 bye\n** closed quit";
        let tls_auth = "S: 220 mx.example ESMTP\nC: EHLO client.example\nS: 250-mx.example\n\
             S: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\nC: EHLO client.example\n\
             S: 250-mx.example\nS: 250 AUTH PLAIN LOGIN\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n\
             C: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok\n\
             C: MAIL FROM:<a@client.example> AUTH=<>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\n\
             S: 250 ok\nC: DATA\nS: 354 go\nD: Subject: x\\r\\n\\r\\nhi\\r\\n\nS: 250 ok\n\
             C: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye\n** closed quit";
        let bdat = "S: 220 mx.example ESMTP\nC: EHLO [192.0.2.7]\nS: 250-mx.example\n\
             S: 250-CHUNKING\nS: 250-BINARYMIME\nS: 250 PIPELINING\n\
             C: MAIL FROM:<> BODY=BINARYMIME\nS: 250 ok\nC: RCPT TO:<Postmaster>\nS: 251 will forward\n\
             C: BDAT 5\nB: ab\\r\\nc\nS: 250 5 octets\nC: BDAT 3 LAST\nB: \\x00\\n\\r\nS: 250 queued\n\
             C: QUIT\nS: 221 bye\n** closed quit";
        for script in [
            plain(),
            pipelined.to_owned(),
            tls_auth.to_owned(),
            bdat.to_owned(),
        ] {
            for judge in super::JUDGES {
                if let crate::judges::Run::Session(_) = judge.run {
                    let outcome = session_outcome(judge.id, &script);
                    let status = crate::testing::status(judge.id, &outcome);
                    assert!(
                        matches!(status, Status::Pass | Status::NotApplicable),
                        "{} on {script}: {outcome:#?}",
                        judge.id
                    );
                }
            }
        }
    }

    #[test]
    fn ehlo_before_mail() {
        let id = "C-5321-EHLO-BEFORE-MAIL";
        pass(id, &plain());
        fail(
            id,
            "S: 220 mx\nC: MAIL FROM:<a@b.example>\nS: 503 5.5.1 EHLO first",
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: MAIL FROM:<a@b.example>\nS: 503 5.5.1 EHLO first",
        );
        // A refused EHLO does not count.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 550 no\nC: MAIL FROM:<a@b.example>\nS: 503 no",
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
    }

    #[test]
    fn greeting_wait() {
        let id = "C-5321-GREETING-WAIT";
        pass(id, &plain());
        warn(
            id,
            "@ 3\nS: 220 mx.example ESMTP\nC+: EHLO client.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
        not_applicable(id, "S: 220 mx.example ESMTP\n** closed peer-closed");
    }

    #[test]
    fn greeting_multiline() {
        let id = "C-5321-GREETING-MULTILINE";
        // One write with three lines.
        pass(
            id,
            "S: 220-mx.example\nS: 220-more\nS: 220 ready\nC: EHLO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
        // Three writes, as the slow-greeting scenario sends them.
        fail(
            id,
            "S: 220-mx.example line 1\n@ 1\nS: 220-line 2\n@ 2\nS: 220 ready\nC+: EHLO c.example\nS: 250 mx",
        );
        pass(
            id,
            "S: 220-mx.example line 1\n@ 1\nS: 220-line 2\n@ 2\nS: 220 ready\nC: EHLO c.example\nS: 250 mx",
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn greeting_554() {
        let id = "C-5321-GREETING-554";
        pass(
            id,
            "S: 554 mx No SMTP service here\nC: QUIT\nS: 221 bye\n** closed quit",
        );
        warn(
            id,
            "S: 554 mx No SMTP service here\nC: EHLO c.example\nS: 503 bad sequence\nC: QUIT\nS: 221 bye",
        );
        warn(id, "S: 554 mx No SMTP service here\n** closed peer-closed");
        not_applicable(id, &plain());
    }

    #[test]
    fn stop_after_421() {
        let id = "C-5321-421-STOP";
        pass(id, "S: 421 mx busy\nC: QUIT\nS: 221 bye");
        fail(id, "S: 421 mx busy\nC: EHLO c.example\nS: 421 busy");
        fail(
            id,
            &after_ehlo(
                &[],
                "C: MAIL FROM:<a@c.example>\nS: 421 4.7.0 closing\nC: RCPT TO:<b@mx.example>\nS: 421 closing",
            ),
        );
        // Pipelined before the 421 arrived: not the client's fault.
        pass(
            id,
            &after_ehlo(
                &["PIPELINING"],
                "C: MAIL FROM:<a@c.example>\nC+: RCPT TO:<b@mx.example>\nS: 421 4.7.0 closing\nS: 421 closing",
            ),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn ehlo_preferred() {
        let id = "C-5321-EHLO-PREFERRED";
        pass(id, &plain());
        // HELO after a refused EHLO is the fallback, not a preference.
        pass(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 502 no\nC: HELO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
        warn(
            id,
            "S: 220 mx\nC: HELO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
        not_applicable(id, "S: 220 mx\nC: QUIT\nS: 221 bye");
    }

    #[test]
    fn helo_fallback() {
        let id = "C-5321-HELO-FALLBACK";
        pass(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 500 Syntax error, command unrecognized\nC: HELO c.example\nS: 250 mx",
        );
        warn(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 502 Command not implemented\nC: QUIT\nS: 221 bye\n** closed quit",
        );
        warn(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 502 Command not implemented\n** closed peer-closed",
        );
        warn(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 554 5.7.1 go away\nC: HELO c.example\nS: 554 go away",
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn helo_no_ext() {
        let id = "C-5321-HELO-NO-EXT";
        let helo = "S: 220 mx\nC: HELO c.example\nS: 250 mx\n";
        pass(
            id,
            &format!("{helo}C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        fail(
            id,
            &format!("{helo}C: MAIL FROM:<a@c.example> SIZE=100\nS: 555 no"),
        );
        fail(id, &format!("{helo}C: STARTTLS\nS: 502 no"));
        fail(
            id,
            &format!("{helo}C: MAIL FROM:<a@c.example>\nC+: RCPT TO:<b@mx.example>\nS: 250 ok\nS: 250 ok"),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn ehlo_arg_syntax() {
        let id = "C-5321-EHLO-ARG-SYNTAX";
        pass(id, &plain());
        pass(id, "S: 220 mx\nC: EHLO [192.0.2.1]\nS: 250 mx");
        pass(id, "S: 220 mx\nC: EHLO [IPv6:2001:db8::1]\nS: 250 mx");
        for bad in [
            "EHLO",
            "EHLO ",
            "EHLO DESKTOP_AB12",
            "EHLO 192.0.2.1",
            "HELO [192.0.2.1]",
            "EHLO [2001:db8::1]",
            "EHLO host.example.",
            "EHLO  two.spaces.example",
            "EHLO h\\xc3\\xb6st.example",
        ] {
            fail(id, &format!("S: 220 mx\nC: {bad}\nS: 501 bad"));
        }
        not_applicable(id, "S: 220 mx\nC: QUIT\nS: 221 bye");
    }

    #[test]
    fn ehlo_fqdn() {
        let id = "C-5321-EHLO-FQDN";
        pass(id, &plain());
        pass(id, "S: 220 mx\nC: EHLO [192.0.2.1]\nS: 250 mx");
        warn(id, "S: 220 mx\nC: EHLO localhost\nS: 250 mx");
        warn(id, "S: 220 mx\nC: EHLO localhost.localdomain\nS: 250 mx");
        warn(id, "S: 220 mx\nC: EHLO box.home.arpa\nS: 250 mx");
        warn(id, "S: 220 mx\nC: EHLO c.example (my client)\nS: 250 mx");
        not_applicable(id, "S: 220 mx\nC: EHLO\nS: 501 bad");
    }

    #[test]
    fn ehlo_reset_aware() {
        let id = "C-5321-EHLO-RESET-AWARE";
        let open = "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 250 ok\n\
                    C: EHLO client.example\nS: 250 mx.example\n";
        fail(id, &after_ehlo(&[], &format!("{open}C: DATA\nS: 503 no")));
        pass(
            id,
            &after_ehlo(
                &[],
                &format!("{open}C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 250 ok"),
            ),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn ext_keyword_case() {
        let id = "C-5321-EXT-KEYWORD-CASE";
        let odd = ["starttls", "Auth PLAIN login", "pipelining"];
        pass(
            id,
            &after_ehlo(
                &odd,
                "C: STARTTLS\nS: 220 go\n** TLS\nC: EHLO client.example\nS: 250 mx",
            ),
        );
        fail(id, &after_ehlo(&odd, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        fail(id, &after_ehlo(&odd, "C: HELO client.example\nS: 250 mx"));
        warn(id, &after_ehlo(&odd, "C: QUIT\nS: 221 bye"));
        not_applicable(
            id,
            &after_ehlo(&["STARTTLS", "PIPELINING"], "C: QUIT\nS: 221 bye"),
        );
    }

    #[test]
    fn ext_unknown_ignored() {
        let id = "C-5321-EXT-UNKNOWN-IGNORED";
        let odd = ["X-FOO bar", "FUTUREEXT a b c", "PIPELINING"];
        pass(
            id,
            &after_ehlo(&odd, "C: MAIL FROM:<a@c.example>\nS: 250 ok"),
        );
        fail(id, &after_ehlo(&odd, "C: HELO client.example\nS: 250 mx"));
        pass(id, &after_ehlo(&odd, "C: QUIT\nS: 221 bye"));
        warn(id, &after_ehlo(&odd, "** closed peer-closed"));
        not_applicable(id, &plain());
    }

    #[test]
    fn line_crlf() {
        let id = "C-5321-LINE-CRLF";
        pass(id, &plain());
        fail(id, &format!("{HELLO}C~: QUIT\nS: 221 bye"));
        fail(id, &format!("{HELLO}C: NOOP\\rQUIT\nS: 500 what"));
        not_applicable(id, "S: 220 mx\n** closed peer-closed");
    }

    #[test]
    fn no_bare_cr_lf() {
        let id = "C-5321-NO-BARE-CR-LF";
        pass(id, &plain());
        fail(id, &simple_session(&[], "", "Subject: x\\n\\nhi\\r\\n"));
        fail(
            id,
            &simple_session(&[], "", "Subject: x\\r\\n\\r\\nh\\ri\\r\\n"),
        );
        fail(id, &format!("{HELLO}C~: QUIT\nS: 221 bye"));
        not_applicable(id, "S: 220 mx\n** closed peer-closed");
    }

    #[test]
    fn cmd_line_512() {
        let id = "C-5321-CMD-LINE-512";
        pass(id, &plain());
        let long = "a".repeat(500);
        fail_or_warn(
            id,
            &format!("{HELLO}C: RCPT TO:<{long}@mx.example>\nS: 500 too long"),
            Status::Warn,
        );
        // SIZE and SMTPUTF8 add 36 octets to the allowance.
        let local = "a".repeat(480);
        let line = format!("MAIL FROM:<{local}@c.example> SIZE=1000 SMTPUTF8");
        assert!(line.len() + 2 > 512 && line.len() + 2 <= 548);
        pass(
            id,
            &after_ehlo(&["SIZE", "SMTPUTF8"], &format!("C: {line}\nS: 250 ok")),
        );
        not_applicable(id, "S: 220 mx\n** closed peer-closed");
    }

    fn fail_or_warn(id: &str, script: &str, want: Status) {
        match want {
            Status::Warn => {
                warn(id, script);
            }
            _ => {
                fail(id, script);
            }
        }
    }

    #[test]
    fn no_params_rset_data_quit() {
        let id = "C-5321-NO-PARAMS-RSET-DATA-QUIT";
        pass(id, &plain());
        fail(id, &format!("{HELLO}C: QUIT now\nS: 501 no"));
        fail(id, &format!("{HELLO}C: RSET all\nS: 501 no"));
        warn(id, &format!("{HELLO}C: QUIT \nS: 221 bye"));
        not_applicable(id, "S: 220 mx\n** closed peer-closed");
    }

    #[test]
    fn mail_syntax() {
        let id = "C-5321-MAIL-SYNTAX";
        pass(id, &plain());
        pass(
            id,
            &after_ehlo(&["SIZE"], "C: mail from:<a@c.example> SIZE=10\nS: 250 ok"),
        );
        for bad in [
            "MAIL FROM: <a@c.example>",
            "MAIL FROM:a@c.example",
            "MAIL FROM:\"Name\" <a@c.example>",
            "MAIL FROM:<a@c.example>  SIZE=1",
            "MAIL FROM:",
            "MAIL FROM :<a@c.example>",
            "MAIL  FROM:<a@c.example>",
            "MAIL FROM:<a@c.example>SIZE=1",
            "MAIL FROM:<a@c.example",
            "MAIL TO:<a@c.example>",
        ] {
            fail(id, &after_ehlo(&["SIZE"], &format!("C: {bad}\nS: 501 bad")));
        }
        warn(
            id,
            &after_ehlo(&[], "C: MAIL FROM:<a@c.example> \nS: 250 ok"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn rcpt_syntax() {
        let id = "C-5321-RCPT-SYNTAX";
        pass(id, &plain());
        pass(id, &format!("{HELLO}C: RCPT TO:<Postmaster>\nS: 503 no"));
        for bad in [
            "RCPT TO: <b@mx.example>",
            "RCPT TO:\"Bob\" <b@mx.example>",
            "RCPT TO:<b@mx.example>,<c@mx.example>",
            "RCPT TO:b@mx.example",
            "RCPT TO:<b@mx.example> NOTIFY==x",
        ] {
            fail(id, &format!("{HELLO}C: {bad}\nS: 501 bad"));
        }
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn path_syntax() {
        let id = "C-5321-PATH-SYNTAX";
        pass(id, &plain());
        pass(id, &format!("{HELLO}C: MAIL FROM:<>\nS: 250 ok"));
        pass(
            id,
            &format!("{HELLO}C: MAIL FROM:<\"a>b\"@c.example>\nS: 250 ok"),
        );
        for bad in [
            "MAIL FROM:<user@>",
            "MAIL FROM:<@dom.example>",
            "RCPT TO:<a..b@x.example>",
            "RCPT TO:<.a@x.example>",
            "RCPT TO:<a.@x.example>",
            "RCPT TO:<a b@x.example>",
            "RCPT TO:<\"unbalanced@x.example>",
            "RCPT TO:<>",
            "RCPT TO:<u@under_score.example>",
        ] {
            fail(id, &format!("{HELLO}C: {bad}\nS: 501 bad"));
        }
        not_applicable(id, &format!("{HELLO}C: MAIL FROM:a@c.example\nS: 501 bad"));
    }

    #[test]
    fn null_path_syntax() {
        let id = "C-5321-NULL-PATH-SYNTAX";
        pass(id, &format!("{HELLO}C: MAIL FROM:<>\nS: 250 ok"));
        pass(id, &plain());
        fail(id, &format!("{HELLO}C: MAIL FROM:\nS: 501 bad"));
        fail(id, &format!("{HELLO}C: MAIL FROM:< >\nS: 501 bad"));
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn no_source_route() {
        let id = "C-5321-NO-SOURCE-ROUTE";
        pass(id, &plain());
        warn(
            id,
            &format!("{HELLO}C: RCPT TO:<@a.example,@b.example:u@d.example>\nS: 503 no"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn path_limits() {
        let id = "C-5321-PATH-LIMITS";
        pass(id, &plain());
        let local = "a".repeat(70);
        warn(
            id,
            &format!("{HELLO}C: MAIL FROM:<{local}@c.example>\nS: 250 ok"),
        );
        let label = "d".repeat(63);
        let domain = format!("{label}.{label}.{label}.{label}.example");
        assert!(domain.len() > 255);
        warn(id, &format!("{HELLO}C: MAIL FROM:<a@{domain}>\nS: 250 ok"));
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn ascii_envelope() {
        let id = "C-5321-ASCII-ENVELOPE";
        pass(id, &plain());
        fail(
            id,
            &format!("{HELLO}C: RCPT TO:<j\\xc3\\xb6rg@mx.example>\nS: 553 no"),
        );
        fail(id, &format!("{HELLO}C: NOOP \\x1b\nS: 250 ok"));
        // SMTPUTF8 offered and used.
        pass(
            id,
            &after_ehlo(
                &["SMTPUTF8"],
                "C: MAIL FROM:<j\\xc3\\xb6rg@c.example> SMTPUTF8\nS: 250 ok\n\
                 C: RCPT TO:<j\\xc3\\xb6rg@mx.example>\nS: 250 ok",
            ),
        );
        // Used but not offered.
        fail(
            id,
            &after_ehlo(
                &[],
                "C: MAIL FROM:<j\\xc3\\xb6rg@c.example> SMTPUTF8\nS: 555 no",
            ),
        );
        not_applicable(id, "S: 220 mx\n** closed peer-closed");
    }

    #[test]
    fn fqdn_envelope() {
        let id = "C-5321-FQDN-ENVELOPE";
        pass(id, &plain());
        pass(id, &format!("{HELLO}C: RCPT TO:<postmaster>\nS: 503 no"));
        fail(id, &format!("{HELLO}C: RCPT TO:<bob>\nS: 550 no"));
        fail(id, &format!("{HELLO}C: MAIL FROM:<postmaster>\nS: 550 no"));
        warn(id, &format!("{HELLO}C: RCPT TO:<bob@localhost>\nS: 550 no"));
        not_applicable(id, &format!("{HELLO}C: MAIL FROM:<>\nS: 250 ok"));
    }

    #[test]
    fn params_advertised() {
        let id = "C-5321-PARAMS-ADVERTISED";
        pass(id, &plain());
        pass(
            id,
            &after_ehlo(
                &["SIZE", "8BITMIME", "DSN"],
                "C: MAIL FROM:<a@c.example> SIZE=10 BODY=8BITMIME RET=HDRS\nS: 250 ok\n\
                 C: RCPT TO:<b@mx.example> NOTIFY=NEVER\nS: 250 ok",
            ),
        );
        fail(
            id,
            &after_ehlo(&[], "C: MAIL FROM:<a@c.example> SIZE=10\nS: 555 no"),
        );
        fail(
            id,
            &after_ehlo(
                &["SIZE"],
                "C: MAIL FROM:<a@c.example> BODY=8BITMIME\nS: 555 no",
            ),
        );
        fail(
            id,
            &after_ehlo(
                &["SIZE"],
                "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example> NOTIFY=NEVER\nS: 555 no",
            ),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn txn_order() {
        let id = "C-5321-TXN-ORDER";
        pass(id, &plain());
        fail(id, &format!("{HELLO}C: RCPT TO:<b@mx.example>\nS: 503 no"));
        fail(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: DATA\nS: 503 no"),
        );
        fail(
            id,
            &format!(
                "{HELLO}C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 550 no\nC: DATA\nS: 554 no"
            ),
        );
        // RCPT after the end of data without a new MAIL.
        let done = simple_session(&[], "", "Subject: x\\r\\n\\r\\nhi\\r\\n")
            .replace("C: QUIT", "C: RCPT TO:<c@mx.example>\nS: 503 no\nC: QUIT");
        fail(id, &done);
        // Pipelined after a MAIL that was refused: allowed by RFC 2920.
        pass(
            id,
            &after_ehlo(
                &["PIPELINING"],
                "C: MAIL FROM:<a@c.example>\nC+: RCPT TO:<b@mx.example>\nC+: DATA\nS: 550 no\nS: 503 no\nS: 503 no",
            ),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn no_nested_mail() {
        let id = "C-5321-NO-NESTED-MAIL";
        pass(id, &plain());
        fail(
            id,
            &format!(
                "{HELLO}C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 550 no\n\
                 C: MAIL FROM:<a@c.example>\nS: 503 nested"
            ),
        );
        // After a refused MAIL no transaction is open.
        pass(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 550 no\nC: MAIL FROM:<d@c.example>\nS: 250 ok"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn no_data_without_354() {
        let id = "C-5321-NO-DATA-WITHOUT-354";
        pass(id, &plain());
        let txn = "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 250 ok\n";
        fail(
            id,
            &format!("{HELLO}{txn}C: DATA\nS: 554 no\nC: Subject: x\nS: 500 what"),
        );
        fail(
            id,
            &format!(
                "{HELLO}{txn}C: DATA\nS: 354 go\nD+: Subject: x\\r\\n\\r\\nhi\\r\\n\nS: 250 ok"
            ),
        );
        pass(
            id,
            &format!("{HELLO}{txn}C: DATA\nS: 451 later\nC: RSET\nS: 250 ok"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn no_repeat_after_5yz() {
        let id = "C-5321-5YZ-NO-REPEAT";
        let txn = "C: MAIL FROM:<a@c.example>\nS: 250 ok\n";
        pass(
            id,
            &format!("{HELLO}{txn}C: RCPT TO:<x@mx.example>\nS: 550 no\nC: RCPT TO:<y@mx.example>\nS: 250 ok"),
        );
        warn(
            id,
            &format!("{HELLO}{txn}C: RCPT TO:<x@mx.example>\nS: 550 no\nC: RCPT TO:<x@mx.example>\nS: 550 no"),
        );
        // After authenticating, the same MAIL is a new request.
        pass(
            id,
            &after_ehlo(
                &["AUTH PLAIN"],
                "C: MAIL FROM:<a@c.example>\nS: 530 5.7.0 authentication required\n\
                 C: AUTH PLAIN AGEAYg==\nS: 235 ok\nC: MAIL FROM:<a@c.example>\nS: 250 ok",
            ),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn code_first_digit() {
        let id = "C-5321-CODE-FIRST-DIGIT";
        let mail = "C: MAIL FROM:<a@c.example>\nS: 250 ok\n";
        pass(
            id,
            &format!(
                "{HELLO}{mail}C: RCPT TO:<b@mx.example>\nS: 258 fine\nC: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 ok\nC: QUIT\nS: 221 bye"
            ),
        );
        fail(
            id,
            &format!("{HELLO}{mail}C: RCPT TO:<b@mx.example>\nS: 258 fine\nC: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        fail(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 299 fine\nC: QUIT\nS: 221 bye"),
        );
        fail(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 559 no\nC: RCPT TO:<b@mx.example>\nS: 503 no"),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn rcpt_251_ok() {
        let id = "C-5321-251-OK";
        let mail = "C: MAIL FROM:<a@c.example>\nS: 250 ok\n";
        let forward = "C: RCPT TO:<b@mx.example>\nS: 251 User not local; will forward to <b@elsewhere.example>\n";
        pass(
            id,
            &format!("{HELLO}{mail}{forward}C: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        fail(
            id,
            &format!("{HELLO}{mail}{forward}C: QUIT\nS: 221 bye\n** closed quit"),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn code_not_text() {
        let id = "C-5321-CODE-NOT-TEXT";
        pass(
            id,
            &format!(
                "{HELLO}C: MAIL FROM:<a@c.example>\nS: 250\nC: RCPT TO:<b@mx.example>\nS: 250 ok"
            ),
        );
        fail(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 250 Error\nC: RSET\nS: 250 ok"),
        );
        fail(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 250-234 Text beginning with numbers\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        // Enhanced status codes are not "text beginning with digits".
        not_applicable(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 250 2.1.0 Ok\nC: QUIT\nS: 221 bye"),
        );
    }

    #[test]
    fn multiline_reply() {
        let id = "C-5321-MULTILINE-REPLY";
        let mail = "C: MAIL FROM:<a@c.example>\n";
        pass(
            id,
            &format!(
                "{HELLO}{mail}S: 250-first\nS: 250 last\nC: RCPT TO:<b@mx.example>\nS: 250 ok"
            ),
        );
        // Written in two pieces, and the RCPT arrived between them.
        fail(
            id,
            &format!("{HELLO}{mail}S: 250-first\n@ 2\nS: 250 last\nC+: RCPT TO:<b@mx.example>\nS: 250 ok"),
        );
        // A 354 in pieces, and the content before its last line.
        let txn = "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 250 ok\n";
        fail(
            id,
            &format!("{HELLO}{txn}C: DATA\nS: 354-go\n@ 2\nS: 354 on\nD+: x\\r\\n\nS: 250 ok"),
        );
        // With PIPELINING, RCPT may follow MAIL at once.
        pass(
            id,
            &after_ehlo(
                &["PIPELINING"],
                "C: MAIL FROM:<a@c.example>\nS: 250-first\n@ 2\nS: 250 last\nC+: RCPT TO:<b@mx.example>\nS: 250 ok",
            ),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn out_of_range_code() {
        let id = "C-5321-OUT-OF-RANGE-CODE";
        pass(
            id,
            &format!("{HELLO}C: MAIL FROM:<a@c.example>\nS: 699 x\nC: RSET\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        warn(
            id,
            &format!(
                "{HELLO}C: MAIL FROM:<a@c.example>\nS: 199 x\nC: RCPT TO:<b@mx.example>\nS: 250 ok"
            ),
        );
        warn(id, "S: 699 x\nC: EHLO c.example\nS: 250 mx");
        not_applicable(id, &plain());
    }

    #[test]
    fn rcpt_limit_452() {
        let id = "C-5321-RCPT-LIMIT-452";
        let start =
            "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b1@mx.example>\nS: 250 ok\n\
                     C: RCPT TO:<b2@mx.example>\nS: 452 4.5.3 Too many recipients\n";
        pass(
            id,
            &format!(
                "{HELLO}{start}C: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 ok\n\
                 C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b2@mx.example>\nS: 250 ok\nC: QUIT\nS: 221 bye"
            ),
        );
        warn(
            id,
            &format!("{HELLO}{start}C: RCPT TO:<b3@mx.example>\nS: 452 4.5.3 Too many recipients"),
        );
        warn(
            id,
            &format!("{HELLO}{start}C: QUIT\nS: 221 bye\n** closed quit"),
        );
        not_applicable(id, &plain());
    }

    #[test]
    fn rset_syntax() {
        let id = "C-5321-RSET-SYNTAX";
        pass(id, &format!("{HELLO}C: RSET\nS: 250 ok"));
        fail(id, &format!("{HELLO}C: RSET now\nS: 501 no"));
        warn(id, &format!("{HELLO}C: RSET \nS: 250 ok"));
        not_applicable(id, &plain());
    }

    #[test]
    fn quit_last() {
        let id = "C-5321-QUIT-LAST";
        pass(id, &plain());
        fail(id, &format!("{HELLO}** closed peer-closed"));
        warn(id, &format!("{HELLO}** closed error"));
        not_applicable(
            id,
            &format!("{HELLO}S: 421 4.4.2 timeout\n** closed timeout"),
        );
        not_applicable(id, HELLO);
    }

    #[test]
    fn quit_wait_221() {
        let id = "C-5321-QUIT-WAIT-221";
        pass(id, &plain());
        warn(id, &format!("{HELLO}C: QUIT\n** closed peer-closed"));
        not_applicable(id, &format!("{HELLO}** closed peer-closed"));
    }

    #[test]
    fn nothing_after_quit() {
        let id = "C-5321-NOTHING-AFTER-QUIT";
        pass(id, &plain());
        fail(id, &format!("{HELLO}C: QUIT\nC+: NOOP\nS: 221 bye"));
        not_applicable(id, &format!("{HELLO}** closed peer-closed"));
    }

    #[test]
    fn timeout_minimums() {
        let id = "C-5321-TIMEOUT-MINIMUMS";
        let mail = "C: MAIL FROM:<a@c.example>\n";
        warn(
            id,
            &format!("{HELLO}{mail}@ 30\nS: 250 ok\nC+: QUIT\nS: 221 bye"),
        );
        // Waited for the delayed reply.
        pass(
            id,
            &format!("{HELLO}{mail}@ 30\nS: 250 ok\nC: QUIT\nS: 221 bye"),
        );
        // Gave up only after the minimum.
        pass(
            id,
            &format!("{HELLO}{mail}@ 400\nS: 250 ok\nC+: QUIT\nS: 221 bye"),
        );
        warn(id, "@ 20\nS: 220 mx\nC+: QUIT\nS: 221 bye");
        not_applicable(id, &plain());
    }

    #[test]
    fn eod_exact() {
        let id = "C-5321-EOD-EXACT";
        pass(id, &plain());
        let txn = "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mx.example>\nS: 250 ok\n";
        fail(
            id,
            &format!("{HELLO}{txn}C: DATA\nS: 354 go\n** connection closed during a transaction; nothing stored\n** closed peer-closed"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn dot_stuffing() {
        let id = "C-5321-DOT-STUFFING";
        pass(id, &plain());
        let premature = simple_session(&[], "", "Subject: x\\r\\n\\r\\nfirst\\r\\n").replace(
            "C: QUIT",
            "C+: rest of the body\nS: 500 5.5.2 what\nC: QUIT",
        );
        fail(id, &premature);
        // A made-up command sent after the reply is no sign of a premature end.
        let vendor = simple_session(&[], "", "Subject: x\\r\\n\\r\\nfirst\\r\\n")
            .replace("C: QUIT", "C: XFOO\nS: 500 5.5.2 what\nC: QUIT");
        pass(id, &vendor);
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn smuggle_eod() {
        let id = "C-5321-SMUGGLE-EOD";
        pass(id, &plain());
        fail(
            id,
            &simple_session(
                &[],
                "",
                "Subject: x\\r\\n\\r\\nhi\\n.\\nMAIL FROM:<x@y.example>\\r\\n",
            ),
        );
        fail(
            id,
            &simple_session(&[], "", "Subject: x\\r\\n\\r\\nhi\\r\\n.\\nmore\\r\\n"),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn text_line_1000() {
        let id = "C-5321-TEXT-LINE-1000";
        pass(id, &plain());
        let ok = "a".repeat(998);
        pass(
            id,
            &simple_session(&[], "", &format!("Subject: x\\r\\n\\r\\n{ok}\\r\\n")),
        );
        let long = "a".repeat(999);
        warn(
            id,
            &simple_session(&[], "", &format!("Subject: x\\r\\n\\r\\n{long}\\r\\n")),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn eight_bit_negotiated() {
        let id = "C-5321-8BIT-NEGOTIATED";
        let body = "Subject: x\\r\\n\\r\\nh\\xc3\\xa9\\r\\n";
        pass(id, &plain());
        pass(id, &simple_session(&["8BITMIME"], "BODY=8BITMIME", body));
        pass(id, &simple_session(&["SMTPUTF8"], "SMTPUTF8", body));
        fail(id, &simple_session(&[], "", body));
        // BODY=8BITMIME without the server offering it.
        fail(id, &simple_session(&[], "BODY=8BITMIME", body));
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn null_path_use() {
        let id = "C-5321-NULL-PATH-USE";
        let report = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\nfailed\r\n--b--\r\n";
        message_status(id, message(report).null_sender(), Status::Pass);
        message_status(
            id,
            message(b"Subject: hi\r\n\r\nhello\r\n").null_sender(),
            Status::Warn,
        );
        message_status(
            id,
            message(b"Subject: hi\r\n\r\nhello\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn control_chars() {
        let id = "C-5321-CONTROL-CHARS";
        message_status(
            id,
            message(b"Subject: x\r\n\r\nhi\tthere\r\n"),
            Status::Pass,
        );
        let outcome = message_status(
            id,
            message(b"Subject: \x1b[1mx\r\n\r\nhi\x00\r\n"),
            Status::Warn,
        );
        assert_eq!(outcome.findings().len(), 2);
        let many = [b'\x07'; 20];
        let outcome = message_status(id, message(&many), Status::Warn);
        assert_eq!(outcome.findings().len(), 6);
        // A binary body with BINARYMIME: only the header is read.
        message_status(
            id,
            message(b"Subject: x\r\n\r\n\x00\x01\x02")
                .body(Body::BinaryMime)
                .bdat(),
            Status::Pass,
        );
        message_status(id, message(b""), Status::NotApplicable);
    }

    #[test]
    fn nonempty_content() {
        let id = "C-5321-NONEMPTY-CONTENT";
        pass(id, &plain());
        fail(id, &simple_session(&[], "", ""));
        // Every RCPT refused and DATA answered 354 anyway: the single dot is what RFC 2920
        // §3.1 asks for.
        pass(
            id,
            &format!(
                "{HELLO}C: MAIL FROM:<a@b.example>\nS: 250 ok\nC+: RCPT TO:<c@d.example>\nS: 550 no\n\
                 C+: DATA\nS: 354 go\nD: \nS: 554 no valid recipients\nC: QUIT\nS: 221 bye"
            ),
        );
        not_applicable(id, &format!("{HELLO}C: QUIT\nS: 221 bye"));
    }

    /// One step of a random session: a client line (verb, tail, pipelined, bare LF), a server
    /// reply (code index, continuation), content, TLS or a close.
    #[derive(Debug, Clone)]
    enum Step {
        Line(usize, Vec<u8>, bool, bool),
        Reply(usize, bool),
        Content(Vec<u8>, bool),
        Tls,
        Close,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        let tail = proptest::collection::vec(
            proptest::sample::select(b"aZ0:<>@.\"\\ ,[]-=_\xc3\xa9\x00\r\tFROMTO".to_vec()),
            0..40,
        );
        let body = proptest::collection::vec(
            proptest::sample::select(b"ab.\r\n\x00\x1b\xff ".to_vec()),
            0..60,
        );
        prop_oneof![
            (0usize..VERBS.len(), tail, any::<bool>(), any::<bool>())
                .prop_map(|(v, t, p, l)| Step::Line(v, t, p, l)),
            (0usize..CODES.len(), any::<bool>()).prop_map(|(c, more)| Step::Reply(c, more)),
            (body, any::<bool>()).prop_map(|(b, p)| Step::Content(b, p)),
            Just(Step::Tls),
            Just(Step::Close),
        ]
    }

    const VERBS: [&str; 12] = [
        "EHLO ",
        "HELO ",
        "MAIL FROM:",
        "RCPT TO:",
        "DATA",
        "RSET",
        "QUIT",
        "BDAT ",
        "AUTH ",
        "NOOP",
        "STARTTLS",
        "",
    ];
    const CODES: [&str; 14] = [
        "220", "221", "250", "251", "258", "334", "354", "421", "452", "500", "550", "554", "699",
        "199",
    ];

    fn random_transcript(steps: &[Step]) -> smtp_protocol::transcript::Transcript {
        use smtp_protocol::data::DataDecoder;
        use smtp_protocol::transcript::{CloseReason, Event, LineMeta, Transcript};
        use std::time::Duration;
        let mut t = Transcript::new();
        for (i, step) in steps.iter().enumerate() {
            let at = Duration::from_millis(i as u64 * 700);
            match step {
                Step::Line(verb, tail, pipelined, bare_lf) => {
                    let mut line = VERBS[*verb].as_bytes().to_vec();
                    line.extend_from_slice(tail);
                    let meta = LineMeta {
                        pipelined: *pipelined,
                        bare_lf: *bare_lf,
                        octets: None,
                    };
                    t.client_line(at, &line, meta);
                }
                Step::Reply(code, more) => {
                    let code = CODES[*code];
                    let text = if *more {
                        format!("{code}-first\r\n{code} 2.0.0 last\r\n")
                    } else {
                        format!("{code} x\r\n")
                    };
                    t.server_bytes(at, text.as_bytes());
                }
                Step::Content(body, pipelined) => {
                    let mut wire = body.clone();
                    wire.extend_from_slice(b"\r\n.\r\n");
                    let mut decoder = DataDecoder::new(u64::MAX, 1000);
                    let _ = decoder.feed(&wire);
                    let (_, report) = decoder.finish();
                    t.content(at, &report, *pipelined);
                }
                Step::Tls => t.push(
                    at,
                    Event::TlsEstablished {
                        version: "TLSv1.3".to_owned(),
                        cipher: "x".to_owned(),
                        sni: None,
                    },
                ),
                Step::Close => t.push(
                    at,
                    Event::Closed {
                        reason: CloseReason::PeerClosed,
                    },
                ),
            }
        }
        t
    }

    proptest::proptest! {
        #[test]
        fn any_session_is_judged_without_panic(
            steps in proptest::collection::vec(step(), 0..40),
        ) {
            let t = random_transcript(&steps);
            let model = crate::model::SessionModel::build(&t);
            for judge in super::JUDGES {
                if let crate::judges::Run::Session(run) = judge.run {
                    let _ = run(&model);
                }
            }
        }

        #[test]
        fn any_message_is_judged_without_panic(
            content in proptest::collection::vec(
                proptest::sample::select(b"ab:\r\n\x00\x1b\x7f\t ".to_vec()),
                0..200,
            ),
            binary in proptest::bool::ANY,
        ) {
            let input = if binary {
                message(&content).body(Body::BinaryMime).bdat()
            } else {
                message(&content)
            };
            let _ = input.outcome("C-5321-CONTROL-CHARS");
        }
    }
}
