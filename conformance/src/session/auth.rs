//! Checks of section A.5 (RFC 4954 SMTP AUTH), and the AUTH exchanges they (and the SASL
//! checks of section A.6) read: each AUTH command with the lines the client sent after its
//! 334 challenges.

use base64::Engine as _;
use smtp_protocol::address::Mailbox;
use smtp_protocol::command::CommandError;
use smtp_protocol::sasl;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::model::{ServerReply, SessionModel, Unit, UnitKind};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-4954-ONLY-IF-ADVERTISED",
        looks_at: "every AUTH command: the current EHLO reply must have listed the AUTH keyword",
        example: "AUTH PLAIN AGEAYg== after an EHLO reply without AUTH (or after HELO)",
        run: Run::Session(only_if_advertised),
    },
    Judge {
        id: "C-4954-MECH-ADVERTISED",
        looks_at: "every AUTH command: its mechanism must be one the current EHLO reply listed",
        example: "AUTH CRAM-MD5 when the server advertised AUTH PLAIN LOGIN",
        run: Run::Session(mech_advertised),
    },
    Judge {
        id: "C-4954-NOT-BEFORE-EHLO",
        looks_at: "every AUTH command: an EHLO must have been accepted since the session (or TLS) began",
        example: "AUTH LOGIN as the first command after the TLS handshake",
        run: Run::Session(not_before_ehlo),
    },
    Judge {
        id: "C-4954-NOT-IN-TRANSACTION",
        looks_at: "every AUTH command: none may come between an accepted MAIL and the end of its message (or RSET)",
        example: "MAIL FROM:<a@example.com>, then AUTH PLAIN ...",
        run: Run::Session(not_in_transaction),
    },
    Judge {
        id: "C-4954-NO-REAUTH",
        looks_at: "AUTH commands after an exchange that ended with 235 (even across STARTTLS)",
        example: "a second AUTH PLAIN after 235 Authentication successful",
        run: Run::Session(no_reauth),
    },
    Judge {
        id: "C-4954-IR-ENCODING",
        looks_at: "the initial response on AUTH lines: strict base64, or a single \"=\" for an empty one",
        example: "AUTH EXTERNAL  (a trailing space instead of \"=\"), or AUTH PLAIN AGEA Yg==",
        run: Run::Session(ir_encoding),
    },
    Judge {
        id: "C-4954-IR-LENGTH",
        looks_at: "AUTH lines with an initial response: at most 512 octets with CRLF",
        example: "AUTH XOAUTH2 <a 1,200-character token> on one line",
        run: Run::Session(ir_length),
    },
    Judge {
        id: "C-4954-IR-SERVER-FIRST",
        looks_at: "AUTH lines naming a mechanism where the server speaks first (CRAM-MD5; LOGIN is a warning): no initial response",
        example: "AUTH CRAM-MD5 dGltIGI5MTNh...",
        run: Run::Session(ir_server_first),
    },
    Judge {
        id: "C-4954-B64-STRICT",
        looks_at: "every line sent after a 334: \"*\", empty, or strict base64 (no spaces, \"=\" only at the end, not wrapped over lines)",
        example: "dGVz dA== (a space), or a response wrapped at 76 characters",
        run: Run::Session(b64_strict),
    },
    Judge {
        id: "C-4954-CANCEL-ON-BAD-CHALLENGE",
        looks_at: "the answer to a 334 whose text is not valid base64: exactly \"*\"",
        example: "S: 334 not*base64! then C: dXNlcg==",
        run: Run::Session(cancel_on_bad_challenge),
    },
    Judge {
        id: "C-4954-CANCEL-SYNTAX",
        looks_at: "lines sent to cancel an AUTH exchange: exactly \"*\", nothing else on the line",
        example: "\"* \" or CANCEL in answer to a 334",
        run: Run::Session(cancel_syntax),
    },
    Judge {
        id: "C-4954-EMPTY-CHALLENGE",
        looks_at: "the answer to an empty challenge (\"334 \" or \"334\"): the mechanism's response, not a cancel or silence",
        example: "S: 334 then the client cancels with * or never answers",
        run: Run::Session(empty_challenge),
    },
    Judge {
        id: "C-4954-LONG-CHALLENGE",
        looks_at: "the answer to a challenge longer than an SMTP reply line (512 octets): a response, not a cancel or silence",
        example: "S: 334 <12,000 octets of base64> and the client drops the connection",
        run: Run::Session(long_challenge),
    },
    Judge {
        id: "C-4954-535-HANDLING",
        looks_at: "AUTH exchanges after a 535: the same credentials must not be sent again unchanged in the session",
        example: "AUTH PLAIN AGEAYg== answered 535, then AUTH PLAIN AGEAYg== again",
        run: Run::Session(handling_535),
    },
    Judge {
        id: "C-4954-534-HANDLING",
        looks_at: "AUTH commands after a 534 (mechanism too weak): another mechanism, not the same one again",
        example: "AUTH CRAM-MD5 answered 534, then AUTH CRAM-MD5 again",
        run: Run::Session(handling_534),
    },
    Judge {
        id: "C-4954-538-HANDLING",
        looks_at: "AUTH commands after a 538 (encryption required): not the same mechanism again without TLS",
        example: "AUTH PLAIN answered 538, then AUTH PLAIN again in the clear",
        run: Run::Session(handling_538),
    },
    Judge {
        id: "C-4954-PIPELINE-LAST",
        looks_at: "what the client sent after an AUTH line (or a response) before its reply: nothing, except after AUTH PLAIN or EXTERNAL with an initial response",
        example: "AUTH LOGIN and the user name in one write, before the 334",
        run: Run::Session(pipeline_last),
    },
    Judge {
        id: "C-4954-PLAIN-REQUIRES-VERIFIED-TLS",
        looks_at: "AUTH PLAIN after the server presented a certificate that fails verification (expired, wrong host, self-signed)",
        example: "AUTH PLAIN AGEAYg== after a handshake with an expired certificate",
        run: Run::Session(plain_requires_verified_tls),
    },
    Judge {
        id: "C-4954-AUTH-PARAM",
        looks_at: "the AUTH= parameter of MAIL: only when AUTH is advertised, valid xtext (upper-case +HH) of a mailbox or <>",
        example: "MAIL FROM:<a@example.com> AUTH=a=b@example.com",
        run: Run::Session(auth_param),
    },
    Judge {
        id: "C-4954-NO-PLAINTEXT-MECH-IN-CLEAR",
        looks_at: "AUTH PLAIN (a warning) and AUTH LOGIN (a failure) on a connection without TLS",
        example: "AUTH LOGIN on port 25 before STARTTLS",
        run: Run::Session(no_plaintext_mech_in_clear),
    },
];

// ---------------------------------------------------------------------------------------
// AUTH exchanges, shared with the SASL checks (section A.6).

/// One AUTH command and the lines the client sent after its 334 challenges.
#[derive(Debug)]
pub(crate) struct Exchange<'m> {
    pub auth: &'m Unit,
    /// The mechanism in upper case, as read from the line.
    pub mechanism: String,
    /// The initial response as written after the mechanism (possibly empty, or with spaces).
    pub initial: Option<&'m [u8]>,
    /// The SASL lines, in order.
    pub responses: Vec<&'m Unit>,
}

/// One step of an exchange, in order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Turn<'m> {
    /// What the client sent: the initial response (from the AUTH unit) or a response line.
    Client { unit: &'m Unit, text: &'m [u8] },
    /// A 334 challenge.
    Challenge(&'m ServerReply),
}

impl<'m> Exchange<'m> {
    pub fn is(&self, mechanism: &str) -> bool {
        self.mechanism == mechanism
    }

    /// The initial response, when there is one: a trailing space with nothing after it is
    /// not one (C-4954-IR-ENCODING judges it), so that the mechanism checks read the line
    /// as the server does.
    pub fn initial_response(&self) -> Option<&'m [u8]> {
        self.initial.filter(|text| !text.is_empty())
    }

    /// The AUTH unit, then the responses.
    pub fn units(&self) -> impl Iterator<Item = &'m Unit> + '_ {
        std::iter::once(self.auth).chain(self.responses.iter().copied())
    }

    /// The last unit of the exchange (the one whose reply ends it, or the one left unanswered).
    pub fn last(&self) -> &'m Unit {
        self.responses.last().copied().unwrap_or(self.auth)
    }

    /// The reply that ended the exchange (anything but 334).
    pub fn outcome(&self) -> Option<&'m ServerReply> {
        self.last().reply.as_ref().filter(|r| !r.is(334))
    }

    /// The outcome's code.
    pub fn outcome_code(&self) -> Option<u16> {
        self.outcome().and_then(|r| r.code)
    }

    /// Each 334 challenge with the line that answered it (`None`: the client never did).
    pub fn challenges(&self) -> Vec<(&'m ServerReply, Option<&'m Unit>)> {
        let mut out = Vec::new();
        for (i, unit) in self.units().enumerate() {
            if let Some(reply) = unit.reply.as_ref().filter(|r| r.is(334)) {
                out.push((reply, self.responses.get(i).copied()));
            }
        }
        out
    }

    /// The exchange in order: initial response, challenges, responses.
    pub fn turns(&self) -> Vec<Turn<'m>> {
        let mut turns = Vec::new();
        if let Some(text) = self.initial_response() {
            turns.push(Turn::Client {
                unit: self.auth,
                text,
            });
        }
        for unit in self.units() {
            if let UnitKind::Sasl(sasl) = &unit.kind {
                turns.push(Turn::Client {
                    unit,
                    text: &sasl.line.raw,
                });
            }
            if let Some(reply) = unit.reply.as_ref().filter(|r| r.is(334)) {
                turns.push(Turn::Challenge(reply));
            }
        }
        turns
    }
}

/// The AUTH commands of a session with their responses.
pub(crate) fn exchanges<'m>(model: &'m SessionModel<'_>) -> Vec<Exchange<'m>> {
    let mut out: Vec<Exchange<'m>> = Vec::new();
    if !model.auth_sent {
        return out;
    }
    for unit in &model.units {
        match &unit.kind {
            UnitKind::Command(c) if c.verb == "AUTH" => {
                let (mechanism, initial) = split_auth_line(&c.line.raw);
                out.push(Exchange {
                    auth: unit,
                    mechanism,
                    initial,
                    responses: Vec::new(),
                });
            }
            UnitKind::Sasl(sasl) => {
                if let Some(exchange) = out.last_mut().filter(|e| e.auth.index == sasl.auth) {
                    exchange.responses.push(unit);
                }
            }
            _ => {}
        }
    }
    out
}

/// `AUTH mechanism [SP initial-response]`, read from the raw line: the command parser trims
/// trailing spaces and refuses spaces inside the response, which these checks must see.
fn split_auth_line(raw: &[u8]) -> (String, Option<&[u8]>) {
    let rest = raw.get(5..).unwrap_or(&[]);
    let (mechanism, initial) = match rest.iter().position(|&b| b == b' ') {
        Some(space) => (&rest[..space], rest.get(space + 1..)),
        None => (rest, None),
    };
    (
        String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial,
    )
}

/// Decodes with the standard alphabet (padding required), as RFC 4954 encodes; `None` when
/// that fails. Strictness is judged separately (C-4954-B64-STRICT).
pub(crate) fn decode_lenient(text: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// An initial response decoded: `=` is the empty response (RFC 4954 §4).
pub(crate) fn decode_initial(text: &[u8]) -> Option<Vec<u8>> {
    if text == b"=" {
        Some(Vec::new())
    } else {
        decode_lenient(text)
    }
}

/// A 334 challenge's text, decoded strictly; `None` when it is not valid base64.
pub(crate) fn decode_challenge(reply: &ServerReply) -> Option<Vec<u8>> {
    sasl::decode(reply.text().as_bytes()).ok()
}

/// A challenge carrying an OAuth error (RFC 7628 §3.2.2, Google's XOAUTH2 page): base64 of a
/// JSON object with a `status` member.
pub(crate) fn is_oauth_error_challenge(reply: &ServerReply) -> bool {
    let Some(decoded) = decode_lenient(reply.text().as_bytes()) else {
        return false;
    };
    let text = String::from_utf8_lossy(&decoded);
    let text = text.trim();
    text.starts_with('{') && text.contains("\"status\"")
}

/// How the session ended, for a detail saying the client never answered.
pub(crate) fn silence(model: &SessionModel<'_>) -> &'static str {
    use smtp_protocol::transcript::CloseReason;
    match model.closed_by() {
        Some(CloseReason::Timeout) => "the client never answered and the session timed out",
        Some(CloseReason::PeerClosed) => "the client closed the connection instead of answering",
        _ => "the client never answered",
    }
}

/// The evidence of a turn: its unit's line.
pub(crate) fn at_unit(unit: &Unit, detail: impl Into<std::borrow::Cow<'static, str>>) -> Finding {
    Finding::at_entry(unit.entry, unit.evidence(), detail)
}

/// At a server reply (a challenge), quoting its text.
pub(crate) fn at_reply(
    reply: &ServerReply,
    detail: impl Into<std::borrow::Cow<'static, str>>,
) -> Finding {
    let text = format!("{} {}", reply.code.unwrap_or(0), reply.text());
    Finding::at_entry(reply.entry, text.as_bytes(), detail)
}

/// The mechanisms where the server speaks first (RFC 4422 §5; LOGIN by its draft §2.1).
fn is_server_first(mechanism: &str) -> bool {
    matches!(mechanism, "CRAM-MD5" | "LOGIN")
}

/// The mechanisms whose first message must not be empty.
fn needs_client_data(mechanism: &str) -> bool {
    matches!(mechanism, "PLAIN" | "LOGIN" | "XOAUTH2" | "OAUTHBEARER")
        || mechanism.starts_with("SCRAM-")
}

/// A challenge longer than an SMTP reply line may be ("334 " + text + CRLF over 512 octets).
const LONG_CHALLENGE: usize = 512 - 6;

// ---------------------------------------------------------------------------------------
// The judges.

/// RFC 4954 §3: AUTH exists only as an EHLO-advertised extension.
fn only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut findings = Vec::new();
    for ex in &all {
        let hello = &ex.auth.state.hello;
        if hello.offers("AUTH") {
            continue;
        }
        let detail = if hello.is_helo() {
            "AUTH after HELO: only an EHLO reply can advertise AUTH"
        } else if hello.is_none() && ex.auth.state.tls {
            "AUTH after the TLS handshake without a new EHLO: the earlier AUTH offer no longer holds"
        } else if hello.is_none() {
            "AUTH before any accepted EHLO"
        } else {
            "AUTH although the current EHLO reply did not list AUTH"
        };
        findings.push(at_unit(ex.auth, detail));
    }
    Outcome::judged(!all.is_empty(), "the client sent no AUTH command", findings)
}

/// RFC 4954 §3 item 3, §4: the mechanism must be one the server listed.
fn mech_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        let Some(extensions) = ex.auth.state.hello.extensions() else {
            continue;
        };
        if !extensions.has("AUTH") {
            continue;
        }
        judged += 1;
        let offered = extensions.auth_mechanisms();
        if !offered
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&ex.mechanism))
        {
            findings.push(at_unit(
                ex.auth,
                format!(
                    "{} is not among the advertised mechanisms ({})",
                    ex.mechanism,
                    offered.join(" ")
                ),
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no AUTH command while AUTH was advertised",
        findings,
    )
}

/// RFC 4954 §3 and RFC 3207 §4.2: no AUTH before an EHLO in the current protocol state.
fn not_before_ehlo(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut findings = Vec::new();
    for ex in &all {
        let state = &ex.auth.state;
        if !state.hello.is_none() {
            continue;
        }
        let detail = if state.units == 0 {
            "AUTH as the first command of the session"
        } else if state.tls_fresh {
            "AUTH as the first command after the TLS handshake, before a new EHLO"
        } else {
            "AUTH before any accepted EHLO"
        };
        findings.push(at_unit(ex.auth, detail));
    }
    Outcome::judged(!all.is_empty(), "the client sent no AUTH command", findings)
}

/// RFC 4954 §4: "The AUTH command is not permitted during a mail transaction."
fn not_in_transaction(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let findings = all
        .iter()
        .filter(|ex| ex.auth.state.transaction.is_some())
        .map(|ex| {
            at_unit(
                ex.auth,
                "AUTH inside a mail transaction (after an accepted MAIL)",
            )
        })
        .collect();
    Outcome::judged(!all.is_empty(), "the client sent no AUTH command", findings)
}

/// RFC 4954 §4: "After an AUTH command has been successfully completed, no more AUTH commands
/// may be issued in the same session." The model forgets authentication at a TLS handshake;
/// this rule does not, so the 235s are counted here.
fn no_reauth(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut succeeded = false;
    let mut findings = Vec::new();
    for ex in &all {
        if succeeded || ex.auth.state.authenticated {
            findings.push(at_unit(
                ex.auth,
                "AUTH after an earlier AUTH in this session succeeded (235)",
            ));
        }
        if ex.outcome_code() == Some(235) {
            succeeded = true;
        }
    }
    Outcome::judged(!all.is_empty(), "the client sent no AUTH command", findings)
}

/// RFC 4954 §4 and §8: `initial-response = base64 / "="`.
fn ir_encoding(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        let Some(initial) = ex.initial else {
            continue;
        };
        if ex.auth.line().is_some_and(|l| l.truncated) {
            continue;
        }
        judged += 1;
        let problem = if initial.is_empty() {
            Some("a space but no initial response: an empty one must be sent as \"=\"".to_owned())
        } else if initial == b"=" {
            None
        } else if initial.iter().any(|b| b.is_ascii_whitespace()) {
            Some("the initial response contains white space".to_owned())
        } else {
            sasl::decode(initial)
                .err()
                .map(|e| format!("the initial response is not valid base64: {e}"))
        };
        if let Some(problem) = problem {
            findings.push(at_unit(ex.auth, problem));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no AUTH command with an initial response",
        findings,
    )
}

/// RFC 4954 §4: an initial response that would make the line exceed 512 octets MUST NOT be
/// used (RFC 5321 §4.5.3.1.4).
fn ir_length(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        let (Some(_), Some(line)) = (ex.initial_response(), ex.auth.line()) else {
            continue;
        };
        judged += 1;
        if line.octets > 512 {
            findings.push(at_unit(
                ex.auth,
                format!(
                    "the AUTH line with its initial response is {} octets, over the 512-octet limit: send AUTH alone and the response after the 334",
                    line.octets
                ),
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no AUTH command with an initial response",
        findings,
    )
}

/// RFC 4954 §4: no initial response with a mechanism where the server speaks first.
fn ir_server_first(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        if !is_server_first(&ex.mechanism) {
            continue;
        }
        judged += 1;
        if ex.initial_response().is_none() {
            continue;
        }
        let finding = if ex.is("LOGIN") {
            // draft-murchison-sasl-login §2.1: "The client expects the server to issue a
            // challenge." A deviation from the draft, reported as a warning.
            at_unit(
                ex.auth,
                "an initial response with LOGIN, where the server sends the first challenge",
            )
            .warn()
        } else {
            at_unit(
                ex.auth,
                format!(
                    "an initial response with {}, where the server speaks first",
                    ex.mechanism
                ),
            )
        };
        findings.push(finding);
    }
    Outcome::judged(
        judged > 0,
        "the client used no mechanism where the server speaks first (CRAM-MD5, LOGIN)",
        findings,
    )
}

/// Whether a line looks like the rest of a base64 response wrapped onto a new line.
fn looks_like_continuation(unit: &Unit) -> bool {
    let Some(line) = unit.line() else {
        return false;
    };
    let base64ish = !line.raw.is_empty()
        && line
            .raw
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    let unknown_command = match &unit.kind {
        UnitKind::Command(c) => matches!(c.parsed, Err(CommandError::UnknownVerb(_))),
        UnitKind::Sasl(_) => true,
        UnitKind::Content(_) => false,
    };
    base64ish && unknown_command
}

/// Lines of an exchange long enough to have been wrapped (MIME wraps at 76), followed by a
/// base64 line the client sent before the server's answer.
pub(crate) fn wrapped_lines<'m>(model: &'m SessionModel<'_>, ex: &Exchange<'m>) -> Vec<&'m Unit> {
    let mut out = Vec::new();
    for unit in ex.units() {
        let text_len = if unit.index == ex.auth.index {
            ex.initial.map_or(0, <[u8]>::len)
        } else {
            unit.line().map_or(0, |l| l.raw.len())
        };
        if text_len < 60 {
            continue;
        }
        if let Some(next) = model.next(unit.index) {
            if next.pipelined && looks_like_continuation(next) {
                out.push(next);
            }
        }
    }
    out
}

/// RFC 4954 §4 and §8: every response is strict base64 (or `*`, or empty).
fn b64_strict(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in &all {
        for unit in &ex.responses {
            let Some(line) = unit.line() else { continue };
            if line.truncated {
                continue;
            }
            judged += 1;
            if line.raw == b"*" || line.raw.is_empty() {
                continue;
            }
            if let Err(error) = sasl::decode(&line.raw) {
                findings.push(at_unit(
                    unit,
                    format!("the response is not strict base64: {error}"),
                ));
            }
        }
        for next in wrapped_lines(model, ex) {
            judged += 1;
            findings.push(at_unit(
                next,
                "a base64 line sent before the server answered the previous one: the response was wrapped over several lines",
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no line in answer to a 334 challenge",
        findings,
    )
}

/// RFC 4954 §4: "If the client cannot BASE64 decode any of the server's challenges, it MUST
/// cancel the authentication using the "*" response."
fn cancel_on_bad_challenge(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        for (challenge, answer) in ex.challenges() {
            if decode_challenge(challenge).is_some() {
                continue;
            }
            judged += 1;
            match answer {
                Some(unit) if unit.line().is_some_and(|l| l.raw == b"*") => {}
                Some(unit) => findings.push(at_unit(
                    unit,
                    "the challenge was not valid base64, and the client answered it instead of cancelling with \"*\"",
                )),
                None => findings.push(at_reply(
                    challenge,
                    format!(
                        "the challenge was not valid base64 and {} (it must cancel with \"*\")",
                        silence(model)
                    ),
                )),
            }
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no challenge that fails to decode",
        findings,
    )
}

/// A line meant as a cancel but not exactly `*`.
fn malformed_cancel(raw: &[u8]) -> bool {
    let trimmed = raw.trim_ascii();
    raw != b"*"
        && (raw.first() == Some(&b'*')
            || trimmed == b"*"
            || trimmed.eq_ignore_ascii_case(b"cancel")
            || trimmed.eq_ignore_ascii_case(b"abort"))
}

/// RFC 4954 §8: `cancel-response = "*"`.
fn cancel_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for unit in &model.units {
        let UnitKind::Sasl(sasl) = &unit.kind else {
            continue;
        };
        if sasl.line.raw == b"*" {
            judged += 1;
        } else if malformed_cancel(&sasl.line.raw) {
            judged += 1;
            findings.push(at_unit(
                unit,
                "a cancel must be a line with a single \"*\" and nothing else",
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client never cancelled an AUTH exchange",
        findings,
    )
}

/// RFC 4954 §4: "334 " (or "334") is an empty challenge; the client answers it.
fn empty_challenge(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        for (challenge, answer) in ex.challenges() {
            if !challenge.text().is_empty() {
                continue;
            }
            judged += 1;
            let Some(unit) = answer else {
                findings.push(at_reply(
                    challenge,
                    format!("after the empty challenge {}", silence(model)),
                ));
                continue;
            };
            let raw = unit.line().map_or(&[][..], |l| &l.raw[..]);
            if raw == b"*" {
                // A cancel is allowed at any step (RFC 4954 §4), so the client did read the
                // empty challenge; only a warning: it may not have known what to send.
                findings.push(
                    at_unit(
                        unit,
                        "the client cancelled at an empty challenge instead of sending its response",
                    )
                    .warn(),
                );
            } else if raw.is_empty()
                && needs_client_data(&ex.mechanism)
                && ex.responses.first().is_some_and(|r| r.index == unit.index)
            {
                findings.push(at_unit(
                    unit,
                    format!(
                        "an empty line in answer to the empty challenge: {} needs the client's message here",
                        ex.mechanism
                    ),
                ));
            }
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no empty 334 challenge",
        findings,
    )
}

/// RFC 4954 §4: clients "MUST be able to handle the maximum encoded size of challenges".
fn long_challenge(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        for (challenge, answer) in ex.challenges() {
            if challenge.text().len() <= LONG_CHALLENGE {
                continue;
            }
            judged += 1;
            let Some(unit) = answer else {
                findings.push(at_reply(
                    challenge,
                    format!(
                        "after a {}-octet challenge {}",
                        challenge.text().len(),
                        silence(model)
                    ),
                ));
                continue;
            };
            let cancelled = unit.line().is_some_and(|l| l.raw == b"*");
            let justified = decode_challenge(challenge).is_none()
                || crate::session::sasl::cancel_is_justified(&ex, challenge);
            if cancelled && !justified {
                findings.push(at_unit(
                    unit,
                    format!(
                        "the client gave up (\"*\") at a valid {}-octet challenge",
                        challenge.text().len()
                    ),
                ));
            }
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no challenge longer than 512 octets",
        findings,
    )
}

/// What a client sent in an exchange (mechanism, initial response, responses), to compare
/// attempts.
type Credentials<'m> = (String, Option<&'m [u8]>, Vec<&'m [u8]>);

/// What a client sent in an exchange, to compare attempts.
fn credentials<'m>(ex: &Exchange<'m>) -> Credentials<'m> {
    let responses = ex
        .responses
        .iter()
        .filter_map(|u| u.line().map(|l| &l.raw[..]))
        .collect();
    (ex.mechanism.clone(), ex.initial, responses)
}

/// RFC 4954 §6 (535 5.7.8): "the client SHOULD ask the user to supply new credentials". The
/// wire part: identical credentials re-sent after a 535 in the same session.
fn handling_535(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut rejected: Vec<Credentials<'_>> = Vec::new();
    let mut findings = Vec::new();
    for ex in &all {
        let sent = credentials(ex);
        let has_data = sent.1.is_some() || !sent.2.is_empty();
        if has_data && rejected.contains(&sent) {
            findings.push(at_unit(
                ex.auth,
                "the same credentials again after they were refused with 535",
            ));
        }
        if ex.outcome_code() == Some(535) {
            rejected.push(sent);
        }
    }
    let applicable = all.iter().any(|ex| ex.outcome_code() == Some(535));
    Outcome::judged(
        applicable,
        "no AUTH exchange was refused with 535",
        findings,
    )
}

/// RFC 4954 §6 (534 5.7.9): "The client SHOULD retry with a new authentication mechanism."
fn handling_534(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut too_weak: Vec<&str> = Vec::new();
    let mut findings = Vec::new();
    for ex in &all {
        if too_weak.contains(&ex.mechanism.as_str()) {
            findings.push(at_unit(
                ex.auth,
                format!(
                    "{} again after the server said it is too weak (534)",
                    ex.mechanism
                ),
            ));
        }
        if ex.outcome_code() == Some(534) {
            too_weak.push(&ex.mechanism);
        }
    }
    Outcome::judged(
        !too_weak.is_empty(),
        "no AUTH exchange was refused with 534",
        findings,
    )
}

/// RFC 4954 §6 (538 5.7.11, encryption required): a permanent refusal; the same mechanism
/// again without TLS treats it as if it were transient.
fn handling_538(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut needs_tls: Vec<&str> = Vec::new();
    let mut seen = false;
    let mut findings = Vec::new();
    for ex in &all {
        if ex.auth.state.tls {
            needs_tls.clear();
        } else if needs_tls.contains(&ex.mechanism.as_str()) {
            findings.push(at_unit(
                ex.auth,
                format!(
                    "{} again without TLS after 538 (encryption required)",
                    ex.mechanism
                ),
            ));
        }
        if ex.outcome_code() == Some(538) {
            seen = true;
            needs_tls.push(&ex.mechanism);
        }
    }
    Outcome::judged(seen, "no AUTH exchange was refused with 538", findings)
}

/// RFC 4954 §4: AUTH "MUST be the last command in a pipelined group", except an AUTH with an
/// initial response for a one-round-trip mechanism (PLAIN, EXTERNAL).
fn pipeline_last(model: &SessionModel<'_>) -> Outcome {
    let all = exchanges(model);
    let mut findings = Vec::new();
    for ex in &all {
        let exception = ex.initial_response().is_some() && (ex.is("PLAIN") || ex.is("EXTERNAL"));
        for unit in ex.units() {
            if exception && unit.index == ex.auth.index {
                continue;
            }
            let Some(next) = model.next(unit.index).filter(|n| n.pipelined) else {
                continue;
            };
            let what = if unit.index == ex.auth.index {
                "the AUTH line"
            } else {
                "an AUTH response"
            };
            findings.push(at_unit(
                next,
                format!("sent after {what} before the server had answered it"),
            ));
        }
    }
    Outcome::judged(!all.is_empty(), "the client sent no AUTH command", findings)
}

/// RFC 4954 §14: no PLAIN when the certificate failed verification.
fn plain_requires_verified_tls(model: &SessionModel<'_>) -> Outcome {
    let Some(bad) = crate::session::tls::bad_certificate(model) else {
        return Outcome::not_applicable("the server presented no invalid certificate");
    };
    let findings = exchanges(model)
        .iter()
        .filter(|ex| ex.is("PLAIN") && ex.auth.entry > bad.entry)
        .map(|ex| {
            at_unit(
                ex.auth,
                format!(
                    "AUTH PLAIN although the server's certificate could not be verified ({})",
                    bad.text
                ),
            )
        })
        .collect();
    Outcome::judged(true, "", findings)
}

/// The ESMTP parameters of a MAIL line, read from the raw octets (a bad AUTH= makes the
/// command parser fail, and this check must still see it).
fn mail_params(raw: &[u8]) -> Vec<&[u8]> {
    let Some(colon) = raw.iter().position(|&b| b == b':') else {
        return Vec::new();
    };
    let mut rest = &raw[colon + 1..];
    while let [b' ', tail @ ..] = rest {
        rest = tail;
    }
    let path_end = if rest.first() == Some(&b'<') {
        closing_angle(rest).map_or(rest.len(), |i| i + 1)
    } else {
        rest.iter().position(|&b| b == b' ').unwrap_or(rest.len())
    };
    rest.get(path_end..)
        .unwrap_or(&[])
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

/// The `>` closing a path, outside quoted strings.
fn closing_angle(path: &[u8]) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in path.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Decodes `xtext` (RFC 4954 §8: `xchar = %x21-2A / %x2C-3C / %x3E-7E`, `hexchar = "+"
/// HEXDIG HEXDIG`). Returns the decoded octets and whether lower-case hex was used.
fn decode_xtext(value: &[u8]) -> Result<(Vec<u8>, bool), &'static str> {
    let mut out = Vec::with_capacity(value.len());
    let mut lower = false;
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b'+' => {
                let (Some(&h), Some(&l)) = (value.get(i + 1), value.get(i + 2)) else {
                    return Err("a '+' not followed by two hex digits");
                };
                let (Some(hi), Some(lo)) = ((h as char).to_digit(16), (l as char).to_digit(16))
                else {
                    return Err("a '+' not followed by two hex digits");
                };
                lower |= h.is_ascii_lowercase() || l.is_ascii_lowercase();
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'=' => return Err("a raw '=' (it must be written +3D)"),
            0x21..=0x7e => {
                out.push(b);
                i += 1;
            }
            _ => return Err("a character outside xtext (space, control or non-ASCII)"),
        }
    }
    Ok((out, lower))
}

/// RFC 4954 §5 and §8: `AUTH=` on MAIL.
fn auth_param(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (unit, command) in model.commands() {
        if command.verb != "MAIL" {
            continue;
        }
        for param in mail_params(&command.line.raw) {
            let Some(value) = param
                .get(..5)
                .filter(|k| k.eq_ignore_ascii_case(b"AUTH="))
                .and(param.get(5..))
            else {
                continue;
            };
            judged += 1;
            if !unit.state.hello.offers("AUTH") {
                findings.push(at_unit(
                    unit,
                    "AUTH= on MAIL although the server did not advertise AUTH",
                ));
            }
            if value == b"<>" {
                continue;
            }
            match decode_xtext(value) {
                Err(problem) => {
                    findings.push(at_unit(unit, format!("the AUTH= value has {problem}")))
                }
                Ok((decoded, lower)) => {
                    let text = String::from_utf8_lossy(&decoded);
                    if value.is_empty() || (text != "<>" && Mailbox::parse(&text).is_err()) {
                        findings.push(at_unit(
                            unit,
                            "the AUTH= value does not decode to a mailbox or <>",
                        ));
                    }
                    if lower {
                        findings.push(
                            at_unit(
                                unit,
                                "the AUTH= value uses lower-case hex after '+' (RFC 3461 wants upper case)",
                            )
                            .warn(),
                        );
                    }
                }
            }
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no MAIL with an AUTH= parameter",
        findings,
    )
}

/// RFC 4616 §5 (PLAIN: SHOULD NOT) and draft-murchison-sasl-login §1 (LOGIN: MUST NOT)
/// without a security layer.
fn no_plaintext_mech_in_clear(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        if !(ex.is("PLAIN") || ex.is("LOGIN")) {
            continue;
        }
        judged += 1;
        if ex.auth.state.tls {
            continue;
        }
        findings.push(if ex.is("LOGIN") {
            at_unit(ex.auth, "AUTH LOGIN on a connection without TLS").fail()
        } else {
            at_unit(ex.auth, "AUTH PLAIN on a connection without TLS").warn()
        });
    }
    Outcome::judged(
        judged > 0,
        "the client used neither PLAIN nor LOGIN",
        findings,
    )
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    const EHLO_AUTH: &str =
        "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN CRAM-MD5\n";
    const TLS_AUTH: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
        C: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER SCRAM-SHA-256\n";

    fn session(prefix: &str, rest: &str) -> String {
        format!("{prefix}{rest}")
    }

    #[test]
    fn only_if_advertised() {
        let id = "C-4954-ONLY-IF-ADVERTISED";
        pass(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: AUTH PLAIN AGEAYg==\nS: 503 no",
        );
        fail(
            id,
            "S: 220 mx\nC: HELO c.example\nS: 250 mx\nC: AUTH PLAIN AGEAYg==\nS: 503 no",
        );
        not_applicable(id, &session(EHLO_AUTH, "C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn mech_advertised() {
        let id = "C-4954-MECH-ADVERTISED";
        pass(id, &session(EHLO_AUTH, "C: AUTH plain AGEAYg==\nS: 235 ok"));
        fail(
            id,
            &session(EHLO_AUTH, "C: AUTH XOAUTH2 AGEAYg==\nS: 504 no"),
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: AUTH PLAIN AGEAYg==\nS: 503 no",
        );
    }

    #[test]
    fn not_before_ehlo() {
        let id = "C-4954-NOT-BEFORE-EHLO";
        pass(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        fail(id, "S: 220 mx\nC: AUTH PLAIN AGEAYg==\nS: 503 no");
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: AUTH PLAIN AGEAYg==\nS: 503 no",
        );
        not_applicable(id, EHLO_AUTH);
    }

    #[test]
    fn not_in_transaction() {
        let id = "C-4954-NOT-IN-TRANSACTION";
        pass(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: AUTH PLAIN AGEAYg==\nS: 503 no",
            ),
        );
        not_applicable(id, EHLO_AUTH);
    }

    #[test]
    fn no_reauth() {
        let id = "C-4954-NO-REAUTH";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH PLAIN AGEAYg==\nS: 535 no\nC: AUTH PLAIN AGEAYw==\nS: 235 ok",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH PLAIN AGEAYg==\nS: 235 ok\nC: AUTH LOGIN\nS: 503 no",
            ),
        );
        // A TLS handshake in between does not make a second AUTH right.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-STARTTLS\nS: 250 AUTH PLAIN\n\
             C: AUTH PLAIN AGEAYg==\nS: 235 ok\nC: STARTTLS\nS: 220 go\n** TLS\nC: EHLO c.example\n\
             S: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AGEAYg==\nS: 503 no",
        );
        not_applicable(id, EHLO_AUTH);
    }

    #[test]
    fn ir_encoding() {
        let id = "C-4954-IR-ENCODING";
        pass(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        pass(id, &session(EHLO_AUTH, "C: AUTH EXTERNAL =\nS: 235 ok"));
        fail(id, &session(EHLO_AUTH, "C: AUTH EXTERNAL \nS: 501 no"));
        fail(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN AGEA Yg==\nS: 501 no"),
        );
        fail(id, &session(EHLO_AUTH, "C: AUTH PLAIN AG=AYg==\nS: 501 no"));
        not_applicable(
            id,
            &session(EHLO_AUTH, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6"),
        );
    }

    #[test]
    fn ir_length() {
        let id = "C-4954-IR-LENGTH";
        pass(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        let long = format!("C: AUTH PLAIN {}\nS: 500 too long", "QUFB".repeat(130));
        fail(id, &session(EHLO_AUTH, &long));
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334 "));
    }

    #[test]
    fn ir_server_first() {
        let id = "C-4954-IR-SERVER-FIRST";
        pass(
            id,
            &session(EHLO_AUTH, "C: AUTH CRAM-MD5\nS: 334 PDEyMz4=\nC: dGltIDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw\nS: 235 ok"),
        );
        fail(id, &session(EHLO_AUTH, "C: AUTH CRAM-MD5 dGlt\nS: 501 no"));
        warn(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok",
            ),
        );
        // A trailing space is not an initial response (C-4954-IR-ENCODING judges it).
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH CRAM-MD5 \nS: 334 PDEyMz4=\nC: *\nS: 501 no",
            ),
        );
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn b64_strict() {
        let id = "C-4954-B64-STRICT";
        pass(
            id,
            &session(EHLO_AUTH, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok"),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNl cg==\nS: 535 no",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXN=lcg=\nS: 535 no",
            ),
        );
        // A response wrapped at 76 characters: the rest arrives as a pipelined line.
        let wrapped = format!(
            "C: AUTH PLAIN\nS: 334 \nC: {}\nS: 535 no\nC+: QUFB\nS: 500 unknown",
            "QUFB".repeat(19)
        );
        fail(id, &session(EHLO_AUTH, &wrapped));
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn cancel_on_bad_challenge() {
        let id = "C-4954-CANCEL-ON-BAD-CHALLENGE";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 not*base64!\nC: *\nS: 501 cancelled",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 not*base64!\nC: dXNlcg==\nS: 535 no",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 not*base64!\n** closed timeout",
            ),
        );
        not_applicable(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 cancelled",
            ),
        );
    }

    #[test]
    fn cancel_syntax() {
        let id = "C-4954-CANCEL-SYNTAX";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 cancelled",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: * \nS: 501 no",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: CANCEL\nS: 501 no",
            ),
        );
        not_applicable(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 535 no",
            ),
        );
    }

    #[test]
    fn empty_challenge() {
        let id = "C-4954-EMPTY-CHALLENGE";
        pass(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334 \nC: AGEAYg==\nS: 235 ok"),
        );
        pass(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334\nC: AGEAYg==\nS: 235 ok"),
        );
        warn(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334 \nC: *\nS: 501 cancelled"),
        );
        fail(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334 \nC:\nS: 535 no"),
        );
        fail(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN\nS: 334 \n** closed peer-closed"),
        );
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn long_challenge() {
        let id = "C-4954-LONG-CHALLENGE";
        let long = "QUFB".repeat(3000);
        pass(
            id,
            &session(EHLO_AUTH, &format!("C: AUTH LOGIN\nS: 334 {long}\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 235 ok")),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                &format!("C: AUTH LOGIN\nS: 334 {long}\nC: *\nS: 501 cancelled"),
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                &format!("C: AUTH LOGIN\nS: 334 {long}\n** closed peer-closed"),
            ),
        );
        not_applicable(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 cancelled",
            ),
        );
    }

    #[test]
    fn handling_535() {
        let id = "C-4954-535-HANDLING";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH PLAIN AGEAYg==\nS: 535 no\nC: AUTH PLAIN AGEAYw==\nS: 235 ok",
            ),
        );
        warn(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH PLAIN AGEAYg==\nS: 535 no\nC: AUTH PLAIN AGEAYg==\nS: 535 no",
            ),
        );
        warn(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 535 no\n\
                 C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dXNlcg==\nS: 334 UGFzc3dvcmQ6\nC: cGFzcw==\nS: 535 no",
            ),
        );
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn handling_534() {
        let id = "C-4954-534-HANDLING";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH CRAM-MD5\nS: 534 too weak\nC: AUTH PLAIN AGEAYg==\nS: 235 ok",
            ),
        );
        warn(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH CRAM-MD5\nS: 534 too weak\nC: AUTH CRAM-MD5\nS: 534 too weak",
            ),
        );
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn handling_538() {
        let id = "C-4954-538-HANDLING";
        pass(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-STARTTLS\nS: 250 AUTH PLAIN\n\
             C: AUTH PLAIN AGEAYg==\nS: 538 encryption required\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AGEAYg==\nS: 235 ok",
        );
        warn(
            id,
            &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 538 encryption required\nC: AUTH PLAIN AGEAYg==\nS: 538 encryption required"),
        );
        not_applicable(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn pipeline_last() {
        let id = "C-4954-PIPELINE-LAST";
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH PLAIN AGEAYg==\nC+: MAIL FROM:<a@c.example>\nS: 235 ok\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nC+: dXNlcg==\nS: 334 VXNlcm5hbWU6\nS: 334 UGFzc3dvcmQ6",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH XOAUTH2 dXNlcj1h\nC+: MAIL FROM:<a@c.example>\nS: 235 ok\nS: 250 ok",
            ),
        );
        not_applicable(id, EHLO_AUTH);
    }

    #[test]
    fn plain_requires_verified_tls() {
        let id = "C-4954-PLAIN-REQUIRES-VERIFIED-TLS";
        let bad = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
                   !! C-8314-CERT-VALIDATION: certificate presented: expired\n";
        pass(id, &format!("{bad}C: QUIT\nS: 221 bye"));
        fail(
            id,
            &format!("{bad}C: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AGEAYg==\nS: 235 ok"),
        );
        not_applicable(id, &session(TLS_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
    }

    #[test]
    fn auth_param() {
        let id = "C-4954-AUTH-PARAM";
        pass(
            id,
            &session(EHLO_AUTH, "C: MAIL FROM:<a@c.example> AUTH=<>\nS: 250 ok"),
        );
        pass(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example> AUTH=a+2Bb@c.example\nS: 250 ok",
            ),
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: MAIL FROM:<a@c.example> AUTH=<>\nS: 250 ok",
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example> AUTH=a=b@c.example\nS: 501 no",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example> AUTH=a+b@c.example\nS: 501 no",
            ),
        );
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example> AUTH=nobody\nS: 501 no",
            ),
        );
        warn(
            id,
            &session(
                EHLO_AUTH,
                "C: MAIL FROM:<a@c.example> AUTH=a+2bb@c.example\nS: 250 ok",
            ),
        );
        not_applicable(
            id,
            &session(EHLO_AUTH, "C: MAIL FROM:<a@c.example>\nS: 250 ok"),
        );
    }

    #[test]
    fn no_plaintext_mech_in_clear() {
        let id = "C-4954-NO-PLAINTEXT-MECH-IN-CLEAR";
        pass(id, &session(TLS_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        warn(id, &session(EHLO_AUTH, "C: AUTH PLAIN AGEAYg==\nS: 235 ok"));
        fail(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 no",
            ),
        );
        not_applicable(
            id,
            &session(
                EHLO_AUTH,
                "C: AUTH CRAM-MD5\nS: 334 PDEyMz4=\nC: *\nS: 501 no",
            ),
        );
    }

    #[test]
    fn odd_sessions_do_not_panic() {
        let odd = [
            "C: AUTH\nS: 501 no",
            "C: AUTH \nS: 501 no",
            "C: AUTH  \nS: 501 no",
            "C: AUTH SCRAM-SHA-1 \\xff\\xfe\nS: 334 \\xff\nC: \\x00\nS: 334 =\nC: =\nS: 334 dj0=\n",
            "C: AUTH SCRAM-SHA-256\nS: 334 \nC: bixuPeOAgCxyPQ==\nS: 334 cj3igqws\nC: Yz1,\nS: 334 dj3igqw=\nC:\nS: 235 v=\\xe2",
            "C: AUTH OAUTHBEARER AQ==\nS: 334 e30=\nC: AQ==\nS: 535 no",
            "C: AUTH XOAUTH2 =\nS: 334 eyJzdGF0dXMi\nC:\nS: 535 no",
            "C: AUTH LOGIN =\nS: 334\nC: *\nS: 501 no",
            "C: MAIL FROM:<a@b.example> AUTH=+\nS: 501 no",
            "C: MAIL FROM:<a@b.example> AUTH=+4\nS: 501 no",
            "C: MAIL FROM:\\xff AUTH=\\xc3\nS: 501 no",
            "C: MAIL FROM:<\"a>\\\\\" AUTH=<>\nS: 501 no",
            "C: STARTTLS x\nS: 220 go\nS(raw): \\xff\\r\\n250 AUTH\n** TLS\nC: AUTH\nS: 503 no",
        ];
        let judges = super::JUDGES
            .iter()
            .chain(crate::session::sasl::JUDGES)
            .chain(crate::session::tls::JUDGES);
        let judges: Vec<_> = judges.collect();
        for body in odd {
            let script = format!("{EHLO_AUTH}{body}");
            for judge in &judges {
                let _ = session_outcome(judge.id, &script);
            }
        }
    }
}
