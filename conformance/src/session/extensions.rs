//! Checks of sections A.7–A.13: the SMTP service extensions a client uses. PIPELINING
//! (RFC 2920) is in [`super::pipelining`], CHUNKING/BDAT and BINARYMIME (RFC 3030) in [`super::chunking`],
//! the MAIL and RCPT parameters of SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531,
//! RFC 6532) and DSN (RFC 3461) in [`super::params`]; the enhanced status codes (RFC 2034, RFC 3463)
//! are here, with the helpers the submodules share. Every judge of these sections is listed
//! in [`JUDGES`] below.

use std::ops::Range;

use super::{chunking, params, pipelining};
use smtp_protocol::transcript::CloseReason;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::model::{SessionModel, Unit};

/// The judges of sections A.7–A.13.
pub static JUDGES: &[Judge] = &[
    // A.7 PIPELINING
    Judge {
        id: "C-2920-ONLY-IF-ADVERTISED",
        looks_at: "every command sent before the server had answered the one before it: the \
                   client must already have seen PIPELINING in the EHLO reply",
        example: "MAIL FROM:<a@example.com> and RCPT TO:<b@example.org> in one write to a \
                  server that did not advertise PIPELINING",
        run: Run::Session(pipelining::only_if_advertised),
    },
    Judge {
        id: "C-2920-LAST-IN-GROUP",
        looks_at: "pipelined commands: nothing may follow EHLO, DATA, VRFY, EXPN, TURN, QUIT, \
                   NOOP, STARTTLS or AUTH (but AUTH PLAIN/EXTERNAL with an initial response) \
                   before its reply",
        example: "EHLO client.example and MAIL FROM:<a@example.com> in one write",
        run: Run::Session(pipelining::last_in_group),
    },
    Judge {
        id: "C-2920-CHECK-ALL-STATUSES",
        looks_at: "a DATA answered 354 although no RCPT (or the MAIL) was accepted: the client \
                   must send an empty message (the lone dot), not the message",
        example: "RCPT refused with 550, DATA answered 354, then the whole message",
        run: Run::Session(pipelining::check_all_statuses),
    },
    // A.8 CHUNKING / BINARYMIME
    Judge {
        id: "C-3030-ONLY-IF-ADVERTISED",
        looks_at: "every BDAT command: the EHLO reply must have advertised CHUNKING",
        example: "BDAT 120 LAST to a server whose EHLO reply has no CHUNKING",
        run: Run::Session(chunking::only_if_advertised),
    },
    Judge {
        id: "C-3030-SYNTAX",
        looks_at: "every BDAT line: exactly `BDAT <digits>` or `BDAT <digits> LAST`",
        example: "BDAT 0x10 LAST",
        run: Run::Session(chunking::syntax),
    },
    Judge {
        id: "C-3030-EXACT-SIZE",
        looks_at: "the line after each BDAT chunk: it must be a command, not left-over message \
                   text (a chunk size that was too small); a chunk that never arrives in full \
                   is a warning",
        example: "BDAT 10 LAST followed by 14 octets: the last four arrive as a command line",
        run: Run::Session(chunking::exact_size),
    },
    Judge {
        id: "C-3030-CANONICAL-CRLF",
        looks_at: "messages sent with BDAT: header sections and text/* parts must end their \
                   lines with CRLF, not a bare LF",
        example: "BDAT chunk `Subject: x\\n\\nhello\\n`",
        run: Run::Message(chunking::canonical_crlf),
    },
    Judge {
        id: "C-3030-NO-MIX-WITH-DATA",
        looks_at: "DATA commands: none in a transaction that already sent a BDAT chunk",
        example: "BDAT 100 followed by DATA in the same transaction",
        run: Run::Session(chunking::no_mix_with_data),
    },
    Judge {
        id: "C-3030-NOTHING-AFTER-LAST",
        looks_at: "BDAT commands after a BDAT LAST chunk: a new MAIL (or RSET) must come first",
        example: "BDAT 10 LAST followed by BDAT 5",
        run: Run::Session(chunking::nothing_after_last),
    },
    Judge {
        id: "C-3030-STOP-ON-ERROR",
        looks_at: "BDAT commands after a chunk was answered 4yz or 5yz: only those already in \
                   flight (pipelined before the reply) are allowed",
        example: "chunk answered 554, then BDAT 100 LAST after the client read the reply",
        run: Run::Session(chunking::stop_on_error),
    },
    Judge {
        id: "C-3030-RSET-AFTER-FAILURE",
        looks_at: "the first command the client sends after reading a failed BDAT's reply: it \
                   must be RSET (or QUIT)",
        example: "chunk answered 452, then MAIL FROM:<a@example.com>",
        run: Run::Session(chunking::rset_after_failure),
    },
    Judge {
        id: "C-3030-BINARYMIME-RULES",
        looks_at: "BODY=BINARYMIME (advertised, and only with BDAT) and binary content (NUL \
                   octets, lines over 998 octets), which needs BODY=BINARYMIME",
        example: "MAIL FROM:<a@example.com> BODY=BINARYMIME followed by DATA",
        run: Run::Session(chunking::binarymime_rules),
    },
    // A.9 SIZE
    Judge {
        id: "C-1870-ONLY-IF-ADVERTISED",
        looks_at: "SIZE= on MAIL: the EHLO reply must have advertised SIZE",
        example: "MAIL FROM:<a@example.com> SIZE=1000 after an EHLO reply without SIZE",
        run: Run::Session(params::size_only_if_advertised),
    },
    Judge {
        id: "C-1870-SYNTAX",
        looks_at: "SIZE= on MAIL: one parameter, 1 to 20 digits",
        example: "MAIL FROM:<a@example.com> SIZE=10k",
        run: Run::Session(params::size_syntax),
    },
    Judge {
        id: "C-1870-DECLARED-SIZE",
        looks_at: "the SIZE= declared on MAIL against the octets of the message sent (smaller \
                   is allowed but reported)",
        example: "SIZE=100 on MAIL, then a message of 2,000 octets",
        run: Run::Session(params::declared_size_check),
    },
    Judge {
        id: "C-1870-RESPECT-FIXED-MAX",
        looks_at: "messages larger than the SIZE limit of the EHLO reply: the client must not \
                   send them",
        example: "EHLO reply `SIZE 1000`, then a 5,000-octet message",
        run: Run::Session(params::respect_fixed_max),
    },
    Judge {
        id: "C-1870-552-ACTION",
        looks_at: "what the client sends after MAIL was answered 552: RSET or QUIT",
        example: "MAIL answered 552, then MAIL FROM:<a@example.com> again",
        run: Run::Session(params::after_552),
    },
    Judge {
        id: "C-1870-452-ACTION",
        looks_at: "what the client sends after MAIL was answered 452: RSET or QUIT",
        example: "MAIL answered 452, then RCPT TO:<b@example.org>",
        run: Run::Session(params::after_452),
    },
    Judge {
        id: "C-1870-SIZE-ZERO-OR-ABSENT",
        looks_at: "sessions whose EHLO reply had `SIZE 0` or a bare `SIZE`: a client that ends \
                   the session without trying MAIL may have read it as a zero limit (warning)",
        example: "EHLO reply `SIZE 0`, then QUIT",
        run: Run::Session(params::size_zero_or_absent),
    },
    // A.10 8BITMIME
    Judge {
        id: "C-6152-NO-8BIT-WITHOUT-EXT",
        looks_at: "messages with octets above 127 sent to a server that did not advertise \
                   8BITMIME",
        example: "a UTF-8 body sent after an EHLO reply without 8BITMIME",
        run: Run::Session(params::no_8bit_without_ext),
    },
    Judge {
        id: "C-6152-BODY-PARAM-REQUIRED",
        looks_at: "messages with octets above 127: their MAIL must carry BODY=8BITMIME (or \
                   BINARYMIME, or SMTPUTF8)",
        example: "MAIL FROM:<a@example.com> then a body with `caf\\xc3\\xa9`",
        run: Run::Session(params::body_param_required),
    },
    Judge {
        id: "C-6152-BODY-SYNTAX",
        looks_at: "BODY= on MAIL: one parameter, with 7BIT, 8BITMIME or BINARYMIME",
        example: "MAIL FROM:<a@example.com> BODY=8BIT",
        run: Run::Session(params::body_syntax),
    },
    Judge {
        id: "C-6152-MIME-LABELLED",
        looks_at: "messages sent with BODY=8BITMIME: octets above 127 only in a MIME message, \
                   in parts labelled 8bit or binary",
        example: "BODY=8BITMIME and a body with `caf\\xc3\\xa9` but no MIME-Version field",
        run: Run::Message(params::mime_labelled),
    },
    // A.11 SMTPUTF8
    Judge {
        id: "C-6531-ONLY-IF-ADVERTISED",
        looks_at: "MAIL and RCPT lines with non-ASCII addresses or the SMTPUTF8 parameter: the \
                   EHLO reply must have advertised SMTPUTF8",
        example: "RCPT TO:<us\\xc3\\xa9r@example.org> to a server without SMTPUTF8",
        run: Run::Session(params::smtputf8_only_if_advertised),
    },
    Judge {
        id: "C-6531-MAIL-PARAM-REQUIRED",
        looks_at: "the header fields of the message and of every part and embedded message: \
                   octets above 127 need SMTPUTF8 on MAIL",
        example: "`Subject: caf\\xc3\\xa9` in a message whose MAIL had no SMTPUTF8",
        run: Run::Message(params::smtputf8_param_required),
    },
    Judge {
        id: "C-6531-PARAM-NO-VALUE",
        looks_at: "the SMTPUTF8 parameter of MAIL: it takes no value",
        example: "MAIL FROM:<a@example.com> SMTPUTF8=YES",
        run: Run::Session(params::smtputf8_no_value),
    },
    Judge {
        id: "C-6531-PARAM-NOT-GRATUITOUS",
        looks_at: "MAIL with SMTPUTF8 whose addresses and message are all ASCII: the parameter \
                   was not needed",
        example: "MAIL FROM:<a@example.com> SMTPUTF8 for an all-ASCII message",
        run: Run::Session(params::smtputf8_not_gratuitous),
    },
    Judge {
        id: "C-6531-EHLO-ASCII",
        looks_at: "the EHLO argument: ASCII only (an A-label, not a U-label)",
        example: "EHLO b\\xc3\\xbccher.example",
        run: Run::Session(params::ehlo_ascii),
    },
    Judge {
        id: "C-6531-IGNORE-KEYWORD-PARAMS",
        looks_at: "sessions whose EHLO reply had `SMTPUTF8` with parameters: a client must \
                   still see the extension, and put SMTPUTF8 on a MAIL with non-ASCII addresses",
        example: "EHLO reply `SMTPUTF8 future`, then MAIL FROM:<us\\xc3\\xa9r@example.com> \
                  without SMTPUTF8",
        run: Run::Session(params::ignore_keyword_params),
    },
    Judge {
        id: "C-6531-8BIT-BODY-PARAM",
        looks_at: "messages sent with SMTPUTF8 whose body has octets above 127: BODY=8BITMIME \
                   (or BINARYMIME) is expected too (warning)",
        example: "MAIL FROM:<a@example.com> SMTPUTF8 and a UTF-8 body, no BODY=8BITMIME",
        run: Run::Message(params::utf8_body_param),
    },
    Judge {
        id: "C-6532-UTF8-WELLFORMED",
        looks_at: "the header fields of a message sent with SMTPUTF8: well-formed UTF-8",
        example: "`Subject: \\xc3\\x28` with SMTPUTF8",
        run: Run::Message(params::utf8_wellformed),
    },
    // A.12 DSN
    Judge {
        id: "C-3461-ONLY-IF-ADVERTISED",
        looks_at: "RET= and ENVID= on MAIL, NOTIFY= and ORCPT= on RCPT: the EHLO reply must \
                   have advertised DSN",
        example: "RCPT TO:<b@example.org> NOTIFY=FAILURE to a server without DSN",
        run: Run::Session(params::dsn_only_if_advertised),
    },
    Judge {
        id: "C-3461-NOTIFY-SYNTAX",
        looks_at: "NOTIFY= on RCPT: NEVER alone, or a comma list of SUCCESS, FAILURE, DELAY",
        example: "RCPT TO:<b@example.org> NOTIFY=NEVER,FAILURE",
        run: Run::Session(params::notify_syntax),
    },
    Judge {
        id: "C-3461-ORCPT-SYNTAX",
        looks_at: "ORCPT= on RCPT: a registered address type, `;`, an address of printable \
                   ASCII, 500 characters at most",
        example: "RCPT TO:<b@example.org> ORCPT=b@example.org",
        run: Run::Session(params::orcpt_syntax),
    },
    Judge {
        id: "C-3461-ORCPT-MATCHES-RCPT",
        looks_at: "ORCPT=rfc822; on RCPT in an authenticated (submission) session: the decoded \
                   address must be the RCPT's",
        example: "RCPT TO:<b@example.org> ORCPT=rfc822;c@example.org after AUTH",
        run: Run::Session(params::orcpt_matches_rcpt),
    },
    Judge {
        id: "C-3461-XTEXT",
        looks_at: "the xtext of ORCPT= and ENVID=: `+` only before two upper-case hex digits, \
                   no `=`, nothing outside printable ASCII",
        example: "RCPT TO:<a+tag@example.org> ORCPT=rfc822;a+tag@example.org",
        run: Run::Session(params::xtext),
    },
    Judge {
        id: "C-3461-RET-SYNTAX",
        looks_at: "RET= on MAIL: FULL or HDRS",
        example: "MAIL FROM:<a@example.com> RET=HEADERS",
        run: Run::Session(params::ret_syntax),
    },
    Judge {
        id: "C-3461-ENVID-SYNTAX",
        looks_at: "ENVID= on MAIL: a value of printable ASCII, 100 characters at most",
        example: "MAIL FROM:<a@example.com> ENVID=",
        run: Run::Session(params::envid_syntax),
    },
    Judge {
        id: "C-3461-NO-DUPLICATES",
        looks_at: "RET and ENVID at most once on MAIL, NOTIFY and ORCPT at most once on RCPT",
        example: "RCPT TO:<b@example.org> NOTIFY=FAILURE NOTIFY=DELAY",
        run: Run::Session(params::dsn_no_duplicates),
    },
    // A.13 enhanced status codes
    Judge {
        id: "C-2034-TOLERATE-UNREQUESTED",
        looks_at: "replies to MAIL and RCPT with an enhanced status code the client did not ask \
                   for (after HELO, or without ENHANCEDSTATUSCODES): the client must go on as \
                   the reply code says",
        example: "after HELO, MAIL answered `250 2.1.0 OK`, then RSET at once",
        run: Run::Session(tolerate_unrequested),
    },
    Judge {
        id: "C-3463-REPLY-CODE-WINS",
        looks_at: "replies to MAIL and RCPT whose enhanced code has another class than the reply \
                   code: the client acts on the reply code (a `550 4.x.x` is not retried)",
        example: "RCPT answered `550 4.2.2 mailbox full`, then the same RCPT again",
        run: Run::Session(reply_code_wins),
    },
    Judge {
        id: "C-3463-PARSE-SYNTAX",
        looks_at: "replies to MAIL and RCPT with three-digit sub-codes or extra spaces around \
                   the enhanced code: the client must go on as the reply code says",
        example: "MAIL answered `250 2.1.000  OK`, then the connection dropped",
        run: Run::Session(parse_syntax),
    },
];

/// Findings kept per judge and session (the report keeps eight anyway).
const MAX_FINDINGS: usize = 8;

/// [`Outcome::judged`], keeping the first [`MAX_FINDINGS`] findings.
pub(crate) fn judged(
    applicable: bool,
    why: impl Into<std::borrow::Cow<'static, str>>,
    mut findings: Vec<Finding>,
) -> Outcome {
    findings.truncate(MAX_FINDINGS);
    Outcome::judged(applicable, why, findings)
}

/// One ESMTP parameter of a MAIL or RCPT line, as the client wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawParam<'a> {
    pub keyword: &'a [u8],
    /// What follows the `=`; `None` without one.
    pub value: Option<&'a [u8]>,
}

impl RawParam<'_> {
    /// Whether the keyword is `keyword` (case-insensitive, RFC 5321 §2.4).
    pub fn is(&self, keyword: &str) -> bool {
        self.keyword.eq_ignore_ascii_case(keyword.as_bytes())
    }

    /// The value, upper case, as text.
    pub fn value_upper(&self) -> Option<String> {
        self.value
            .map(|v| String::from_utf8_lossy(v).to_ascii_uppercase())
    }
}

/// The path of a `MAIL FROM:` or `RCPT TO:` line as written (angle brackets included), and
/// the parameters after it. The protocol parser refuses malformed values, so the checks of
/// parameter syntax read the line itself. `None` when the line has no `FROM:`/`TO:`.
pub(crate) fn split_envelope_line(raw: &[u8]) -> Option<(&[u8], Vec<RawParam<'_>>)> {
    let space = raw.iter().position(|&b| b == b' ')?;
    let rest = &raw[space + 1..];
    let colon = rest.iter().position(|&b| b == b':')?;
    let label = &rest[..colon];
    if !(label.eq_ignore_ascii_case(b"FROM") || label.eq_ignore_ascii_case(b"TO")) {
        return None;
    }
    let mut rest = &rest[colon + 1..];
    while let Some((b' ', tail)) = rest.split_first() {
        rest = tail;
    }
    let end = if rest.first() == Some(&b'<') {
        path_end(rest)
    } else {
        rest.iter().position(|&b| b == b' ').unwrap_or(rest.len())
    };
    let (path, tail) = rest.split_at(end);
    let params = tail
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(eq) => RawParam {
                keyword: &p[..eq],
                value: Some(&p[eq + 1..]),
            },
            None => RawParam {
                keyword: p,
                value: None,
            },
        })
        .collect();
    Some((path, params))
}

/// The parameters of a MAIL or RCPT unit as written (empty for other units).
pub(crate) fn raw_params(unit: &Unit) -> Vec<RawParam<'_>> {
    let Some(command) = unit.command() else {
        return Vec::new();
    };
    let raw = &command.line.raw;
    let split = command.raw_params.get_or_init(|| {
        split_envelope_line(raw).map(|(_, params)| {
            // Positions in the line, for the unit to keep (see `CommandLine::raw_params`).
            let at = |part: &[u8]| crate::model::span_in(raw, part);
            params
                .iter()
                .map(|p| (at(p.keyword), p.value.map(at)))
                .collect()
        })
    });
    let part = |range: &Range<usize>| raw.get(range.clone()).unwrap_or(&[]);
    split
        .iter()
        .flatten()
        .map(|(keyword, value)| RawParam {
            keyword: part(keyword),
            value: value.as_ref().map(part),
        })
        .collect()
}

/// The end of a `<...>` path: after its closing bracket (quoted strings skipped).
fn path_end(text: &[u8]) -> usize {
    let mut quoted = false;
    let mut i = 1;
    while let Some(&b) = text.get(i) {
        match b {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return i + 1,
            _ => {}
        }
        i += 1;
    }
    text.len()
}

/// The index of the first unit the client sent after it had read the reply to unit `index`:
/// the units pipelined right after it were already in flight.
pub(crate) fn first_after_reply(model: &SessionModel<'_>, index: usize) -> usize {
    let in_flight = model
        .after(index)
        .iter()
        .take_while(|u| u.pipelined)
        .count();
    index + 1 + in_flight
}

/// The session ended without QUIT: the client closed, or stopped talking until the timeout.
pub(crate) fn ended_abruptly(model: &SessionModel<'_>) -> bool {
    !model.end.quit_sent
        && matches!(
            model.closed_by(),
            Some(CloseReason::PeerClosed | CloseReason::Error | CloseReason::Timeout)
        )
}

// A.13: enhanced status codes.

/// An enhanced status code at the start of a reply line's text (RFC 3463 §2:
/// `class "." subject "." detail`, each sub-code 1 to 3 digits; RFC 2034 §3: followed by one
/// or more spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Enhanced {
    pub class: u16,
    pub subject_digits: usize,
    pub detail_digits: usize,
    /// Spaces between the reply code's separator and the enhanced code.
    pub spaces_before: usize,
    /// Spaces after the enhanced code (0 when the line ends with it).
    pub spaces_after: usize,
}

impl Enhanced {
    /// A form a naive parser may choke on: three-digit sub-codes, or more than one space.
    fn is_unusual(&self) -> bool {
        self.subject_digits == 3
            || self.detail_digits == 3
            || self.spaces_before > 0
            || self.spaces_after > 1
    }
}

/// Reads the enhanced status code at the start of `text` (a reply line after its code).
pub(crate) fn enhanced_code(text: &str) -> Option<Enhanced> {
    let bytes = text.as_bytes();
    let count = |from: usize, want: fn(&u8) -> bool| {
        bytes
            .get(from..)
            .map_or(0, |rest| rest.iter().take_while(|b| want(b)).count())
    };
    let spaces_before = count(0, |&b| b == b' ');
    let mut at = spaces_before;
    let class = match bytes.get(at) {
        Some(&b @ (b'2' | b'4' | b'5')) => u16::from(b - b'0'),
        _ => return None,
    };
    at += 1;
    let mut sub_codes = [0usize; 2];
    for digits in &mut sub_codes {
        if bytes.get(at) != Some(&b'.') {
            return None;
        }
        at += 1;
        *digits = count(at, u8::is_ascii_digit);
        if !(1..=3).contains(digits) {
            return None;
        }
        at += *digits;
    }
    let spaces_after = count(at, |&b| b == b' ');
    if spaces_after == 0 && at < bytes.len() {
        return None;
    }
    Some(Enhanced {
        class,
        subject_digits: sub_codes[0],
        detail_digits: sub_codes[1],
        spaces_before,
        spaces_after,
    })
}

/// The enhanced code of the reply to a MAIL or RCPT unit.
fn envelope_reply_code(unit: &Unit) -> Option<(u16, Enhanced)> {
    if !matches!(unit.verb(), "MAIL" | "RCPT") {
        return None;
    }
    let reply = unit.reply.as_ref()?;
    let enhanced = enhanced_code(reply.lines.first()?)?;
    Some((reply.class()?, enhanced))
}

/// Whether the client's next move shows that it misread the reply to the MAIL or RCPT unit
/// `index` (RFC 5321 §4.2: it acts on the reply code): it dropped the connection or gave up
/// after a success, repeated a command that succeeded, or went on after a refusal as if it
/// had succeeded. The sentence says which.
fn misreading(model: &SessionModel<'_>, index: usize) -> Option<&'static str> {
    let unit = model.units.get(index)?;
    let reply = unit.reply.as_ref()?;
    let next_index = first_after_reply(model, index);
    let next = model.units.get(next_index);
    let verb = unit.verb();
    if reply.is_success() {
        let Some(next) = next else {
            let last_unit = index + 1 == model.units.len();
            return (last_unit && ended_abruptly(model))
                .then_some("the client dropped the connection after this command was accepted");
        };
        if next.line().map(|l| &l.raw) == unit.line().map(|l| &l.raw) {
            return Some("the client sent the same command again although it was accepted");
        }
        if verb == "MAIL" && next_index == index + 1 && matches!(next.verb(), "RSET" | "QUIT") {
            return Some("the client abandoned the transaction right after its MAIL was accepted");
        }
        return None;
    }
    let next = next?;
    match verb {
        "MAIL" if next_index == index + 1 && matches!(next.verb(), "RCPT" | "DATA" | "BDAT") => {
            Some("the client went on with the transaction although its MAIL was refused")
        }
        "RCPT"
            if matches!(next.verb(), "DATA" | "BDAT")
                && next
                    .state
                    .transaction
                    .as_ref()
                    .is_some_and(|t| t.accepted == 0) =>
        {
            Some("the client went on to the message although no recipient was accepted")
        }
        _ => None,
    }
}

/// Judges the client's reaction to every MAIL/RCPT reply that `provokes` selects.
fn judge_reactions(
    model: &SessionModel<'_>,
    provokes: impl Fn(&Unit, u16, Enhanced) -> bool,
    why: &'static str,
    what: &str,
) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        let Some((class, enhanced)) = envelope_reply_code(unit) else {
            continue;
        };
        if !provokes(unit, class, enhanced) {
            continue;
        }
        applicable = true;
        if let Some(detail) = misreading(model, unit.index) {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                format!("{detail} (the reply had {what})"),
            ));
        }
    }
    judged(applicable, why, findings)
}

/// RFC 2034 §4, §5: servers send enhanced codes whether or not the client asked; a client
/// must read such replies as it reads any other.
fn tolerate_unrequested(model: &SessionModel<'_>) -> Outcome {
    judge_reactions(
        model,
        |unit, _, _| !unit.state.hello.offers("ENHANCEDSTATUSCODES"),
        "no reply to MAIL or RCPT carried an enhanced status code the client had not asked for",
        "an enhanced status code the client had not asked for",
    )
}

/// RFC 3463 §2 grammar (sub-codes of up to three digits) and RFC 2034 §3 ("one or more
/// spaces"): a client's parser must not choke on `5.7.123` or on extra spaces.
fn parse_syntax(model: &SessionModel<'_>) -> Outcome {
    judge_reactions(
        model,
        |_, _, enhanced| enhanced.is_unusual(),
        "no reply to MAIL or RCPT had a three-digit sub-code or extra spaces around its \
         enhanced status code",
        "a three-digit sub-code or extra spaces around its enhanced status code",
    )
}

/// RFC 5321 §4.2: the client acts on the reply code alone. A 5yz with a 4.x.x enhanced code
/// is a permanent refusal: retrying it in the same transaction treats it as transient. A 2yz
/// with a 4.x.x or 5.x.x code is a success.
fn reply_code_wins(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        let Some((class, enhanced)) = envelope_reply_code(unit) else {
            continue;
        };
        let detail = match (class, enhanced.class) {
            (5, 4) => {
                applicable = true;
                retried_in_transaction(model, unit.index)
            }
            (2, 4 | 5) => {
                applicable = true;
                misreading(model, unit.index)
            }
            _ => continue,
        };
        if let Some(detail) = detail {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                format!("{detail} (the reply code and its enhanced code disagree)"),
            ));
        }
    }
    judged(
        applicable,
        "no reply to MAIL or RCPT had an enhanced code of another class than its reply code \
         (5yz with 4.x.x, or 2yz with 4.x.x or 5.x.x)",
        findings,
    )
}

/// Whether the refused MAIL or RCPT unit `index` was sent again before the transaction ended.
fn retried_in_transaction(model: &SessionModel<'_>, index: usize) -> Option<&'static str> {
    let unit = model.units.get(index)?;
    let line = &unit.command()?.line.raw;
    if unit.verb() == "MAIL" {
        let next = model.units.get(first_after_reply(model, index))?;
        return (next.command().map(|c| &c.line.raw) == Some(line))
            .then_some("the client sent the refused MAIL again as if the refusal were transient");
    }
    let path = split_envelope_line(line).map(|(path, _)| path)?;
    model
        .after(index)
        .iter()
        .take_while(|u| {
            u.content().is_none() && !matches!(u.verb(), "MAIL" | "RSET" | "EHLO" | "HELO")
        })
        .filter(|u| u.verb() == "RCPT")
        .any(|u| {
            u.command()
                .and_then(|c| split_envelope_line(&c.line.raw))
                .is_some_and(|(other, _)| other == path)
        })
        .then_some(
            "the client sent the refused RCPT again in the same transaction as if the refusal \
             were transient",
        )
}

#[cfg(test)]
mod tests {
    use super::enhanced_code;
    use crate::testing::*;

    const HELO: &str = "S: 220 mx\nC: HELO c.example\nS: 250 mx\n";
    const EHLO_ESC: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 ENHANCEDSTATUSCODES\n";

    /// A session after `hello`: MAIL and RCPT answered with `mail` and `rcpt`, then `rest`.
    fn session(hello: &str, mail: &str, rcpt: &str, rest: &str) -> String {
        format!(
            "{hello}C: MAIL FROM:<a@b.example>\nS: {mail}\nC: RCPT TO:<c@d.example>\nS: {rcpt}\n\
             {rest}"
        )
    }

    const DELIVER: &str = "C: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 2.0.0 ok\nC: QUIT\n\
                           S: 221 2.0.0 bye\n** closed quit";

    #[test]
    fn odd_sessions_and_messages_do_not_panic() {
        use crate::judges::Run;
        use crate::message::model::MessageModel;
        use crate::model::SessionModel;
        let scripts = [
            "",
            "S: 220 mx",
            "C: BDAT 5 LAST\nB: ab",
            "S: 220 mx\nC: MAIL FROM:\nC+: RCPT TO:<\nC+: \nS: 250 2.\nS: 250  \nS: 550 5.5.1234",
            "S: 220 mx\nC: EHLO x\nS: 250-x\nS: 250 SIZE 0\nC: MAIL FROM:<a> SIZE= BODY ORCPT=;\n\
             S: 552 no\nC: RCPT TO:<b> NOTIFY=, ORCPT=rfc822;+ ORCPT=utf-8;\\xff\nS: 250 5.1.1\n\
             C: DATA\nS: 354 go\nD: \\x00\\xff\\r\nS: 250 ok\n** closed timeout",
            "S: 220 mx\nC: AUTH PLAIN\nS: 334 \nC+: x\nS: 235 ok\nC: BDAT\nS: 501 no\n** closed peer-closed",
        ];
        let messages: [&[u8]; 4] = [
            b"",
            b"\n\n\xff",
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\xc3\n--b--",
            b"Subject: \xe9\nContent-Type: message/rfc822\n\nFrom: \xff\n",
        ];
        for judge in super::JUDGES {
            match judge.run {
                Run::Session(run) => {
                    for script in scripts {
                        let t = transcript(script);
                        let _ = run(&SessionModel::build(&t));
                    }
                }
                Run::Message(run) => {
                    for content in messages {
                        for test in [message(content), message(content).smtputf8().bdat()] {
                            let _ = run(&MessageModel::build(test.input));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn enhanced_codes_are_read() {
        let code = enhanced_code("2.1.0 ok").expect("code");
        assert_eq!(
            (code.class, code.subject_digits, code.detail_digits),
            (2, 1, 1)
        );
        assert_eq!((code.spaces_before, code.spaces_after), (0, 1));
        let odd = enhanced_code(" 5.7.123  no").expect("code");
        assert_eq!(
            (odd.detail_digits, odd.spaces_before, odd.spaces_after),
            (3, 1, 2)
        );
        assert!(enhanced_code("5.1.1").is_some());
        for not_a_code in [
            "ok",
            "3.1.1 x",
            "5.1 x",
            "5.1.1234 x",
            "5.1.1x",
            "5..1 x",
            "",
        ] {
            assert!(enhanced_code(not_a_code).is_none(), "{not_a_code}");
        }
    }

    #[test]
    fn tolerate_unrequested() {
        let id = "C-2034-TOLERATE-UNREQUESTED";
        pass(id, &session(HELO, "250 2.1.0 ok", "250 2.1.5 ok", DELIVER));
        fail(
            id,
            &format!("{HELO}C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 ok\nC: RSET\nS: 250 2.0.0 ok"),
        );
        fail(
            id,
            &format!("{HELO}C: MAIL FROM:<a@b.example>\nS: 250 2.1.0 ok\n** closed peer-closed"),
        );
        fail(
            id,
            &session(
                HELO,
                "250 2.1.0 ok",
                "250 2.1.5 ok",
                "C: RCPT TO:<c@d.example>\nS: 250 ok",
            ),
        );
        fail(
            id,
            &format!(
                "{HELO}C: MAIL FROM:<a@b.example>\nS: 550 5.7.1 no\nC: RCPT TO:<c@d.example>\n\
                 S: 503 5.5.1 no"
            ),
        );
        // Asked for with EHLO, or no enhanced codes at all.
        not_applicable(
            id,
            &session(EHLO_ESC, "250 2.1.0 ok", "250 2.1.5 ok", DELIVER),
        );
        not_applicable(id, &session(HELO, "250 ok", "250 ok", DELIVER));
    }

    #[test]
    fn parse_syntax() {
        let id = "C-3463-PARSE-SYNTAX";
        pass(
            id,
            &session(EHLO_ESC, "250 2.1.000  ok", "250 2.1.5 ok", DELIVER),
        );
        fail(
            id,
            &session(
                EHLO_ESC,
                "250 2.1.0 ok",
                "550 5.1.123 no such user",
                "C: DATA\nS: 503 no",
            ),
        );
        fail(
            id,
            &format!(
                "{EHLO_ESC}C: MAIL FROM:<a@b.example>\nS: 250  2.1.0 ok\n** closed peer-closed"
            ),
        );
        not_applicable(
            id,
            &session(EHLO_ESC, "250 2.1.0 ok", "250 2.1.5 ok", DELIVER),
        );
    }

    #[test]
    fn reply_code_wins() {
        let id = "C-3463-REPLY-CODE-WINS";
        pass(
            id,
            &session(
                EHLO_ESC,
                "250 2.1.0 ok",
                "550 4.2.2 mailbox full",
                "C: RCPT TO:<e@d.example>\nS: 250 2.1.5 ok\nC: DATA\nS: 354 go\nD: x\\r\\n\n\
                 S: 250 2.0.0 ok\nC: QUIT\nS: 221 bye",
            ),
        );
        fail(
            id,
            &session(
                EHLO_ESC,
                "250 2.1.0 ok",
                "550 4.2.2 mailbox full",
                "C: RCPT TO:<c@d.example>\nS: 550 4.2.2 mailbox full",
            ),
        );
        fail(
            id,
            &format!(
                "{EHLO_ESC}C: MAIL FROM:<a@b.example>\nS: 550 4.7.0 try later\n\
                 C: MAIL FROM:<a@b.example>\nS: 550 4.7.0 try later"
            ),
        );
        fail(
            id,
            &format!("{EHLO_ESC}C: MAIL FROM:<a@b.example>\nS: 250 5.0.0 odd\nC: QUIT\nS: 221 bye"),
        );
        not_applicable(
            id,
            &session(EHLO_ESC, "250 2.1.0 ok", "550 5.1.1 no", DELIVER),
        );
    }
}
