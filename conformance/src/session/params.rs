//! Checks of sections A.9–A.12: the MAIL and RCPT parameters and the content rules of SIZE
//! (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531, with RFC 6532 headers) and DSN
//! (RFC 3461). Parameter syntax is read from the line as written (the protocol parser
//! refuses malformed values); content facts come from the decoder's report, or from the
//! message itself for the checks that need its header fields or MIME structure.

use smtp_protocol::command::Command;
use smtp_protocol::data::ContentReport;
use smtp_protocol::extension::{Extension, Extensions};
use smtp_protocol::params::{Body, MailParam};

use super::extensions::{first_after_reply, raw_params, RawParam};
use crate::check::{Finding, Outcome};
use crate::message::model::MessageModel;
use crate::model::{SessionModel, Unit};

// Shared helpers.

/// The MAIL command units.
fn mails<'m>(model: &'m SessionModel<'_>) -> impl Iterator<Item = &'m Unit> + 'm {
    model.units.iter().filter(|u| u.verb() == "MAIL")
}

/// The RCPT command units.
fn rcpts<'m>(model: &'m SessionModel<'_>) -> impl Iterator<Item = &'m Unit> + 'm {
    model.units.iter().filter(|u| u.verb() == "RCPT")
}

/// The units that carry a whole message (DATA content, or the last BDAT chunk) with the
/// decoder's report.
fn messages<'m>(
    model: &'m SessionModel<'_>,
) -> impl Iterator<Item = (&'m Unit, &'m ContentReport)> + 'm {
    model
        .units
        .iter()
        .filter_map(|u| u.content().and_then(|c| c.report.as_ref()).map(|r| (u, r)))
}

/// The parameters of the transaction a unit belongs to (empty outside one).
fn transaction_params(unit: &Unit) -> &[MailParam] {
    unit.state
        .transaction
        .as_ref()
        .map_or(&[], |t| t.params.as_slice())
}

/// The parameters named `keyword` of a MAIL or RCPT unit, as written.
fn params_named<'u>(unit: &'u Unit, keyword: &str) -> Vec<RawParam<'u>> {
    raw_params(unit)
        .into_iter()
        .filter(|p| p.is(keyword))
        .collect()
}

/// Judges every parameter named `keyword` on the units of `verb`: `problem` says what is
/// wrong with one (its value as written); `repeated` flags a second one.
fn judge_param(
    model: &SessionModel<'_>,
    verb: &str,
    keyword: &str,
    problem: impl Fn(Option<&[u8]>) -> Option<String>,
) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in model.units.iter().filter(|u| u.verb() == verb) {
        for param in params_named(unit, keyword) {
            seen = true;
            if let Some(detail) = problem(param.value) {
                findings.push(Finding::at_entry(unit.entry, unit.evidence(), detail));
            }
        }
    }
    super::extensions::judged(
        seen,
        format!("no {verb} command had a {keyword} parameter"),
        findings,
    )
}

/// The offset of the first octet above 127 in `range` of `content`.
fn first_8bit(content: &[u8], range: std::ops::Range<usize>) -> Option<usize> {
    let start = range.start;
    // A vectorised ASCII test first (see `find_high`): nearly every header is ASCII.
    crate::message::rfc5322::find_high(content.get(range)?).map(|i| start + i)
}

/// A few octets around `at`, for evidence.
fn around(content: &[u8], at: usize) -> &[u8] {
    let start = at.saturating_sub(16);
    let end = at.saturating_add(16).min(content.len());
    content.get(start..end).unwrap_or_default()
}

/// Whether `unit`'s line has octets above 127.
fn line_is_ascii(unit: &Unit) -> bool {
    unit.line().is_none_or(|l| l.raw.is_ascii())
}

/// The RCPT units that follow the MAIL unit `mail`, up to the end of that envelope.
fn envelope_rcpts<'m>(
    model: &'m SessionModel<'_>,
    mail: usize,
) -> impl Iterator<Item = &'m Unit> + 'm {
    model
        .after(mail)
        .iter()
        .take_while(|u| {
            u.content().is_none() && !matches!(u.verb(), "MAIL" | "RSET" | "EHLO" | "HELO")
        })
        .filter(|u| u.verb() == "RCPT")
}

// A.9 SIZE (RFC 1870).

/// RFC 1870 §4 (the extended MAIL only "when supported by the server") and RFC 5321
/// §4.1.1.3 (no parameters of an extension the server did not offer).
pub fn size_only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in mails(model).filter(|u| !params_named(u, "SIZE").is_empty()) {
        seen = true;
        if !unit.state.hello.offers("SIZE") {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "SIZE= on MAIL although the server had not advertised SIZE",
            ));
        }
    }
    super::extensions::judged(seen, "no MAIL command had a SIZE parameter", findings)
}

/// RFC 1870 §3 `size-value ::= 1*20DIGIT`; §6 "Only one SIZE parameter may be specified".
pub fn size_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in mails(model) {
        let sizes = params_named(unit, "SIZE");
        seen |= !sizes.is_empty();
        if sizes.len() > 1 {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "more than one SIZE parameter on one MAIL",
            ));
        }
        for size in &sizes {
            let problem = match size.value {
                None | Some([]) => Some("SIZE needs a value"),
                Some(v) if !v.iter().all(u8::is_ascii_digit) => {
                    Some("the SIZE value must be decimal digits only")
                }
                Some(v) if v.len() > 20 => Some("the SIZE value has more than 20 digits"),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                findings.push(Finding::at_entry(unit.entry, unit.evidence(), problem));
            }
        }
    }
    super::extensions::judged(seen, "no MAIL command had a SIZE parameter", findings)
}

/// The SIZE= declared on the MAIL of the transaction `unit` belongs to.
fn declared_size(unit: &Unit) -> Option<u64> {
    transaction_params(unit).iter().find_map(|p| match p {
        MailParam::Size(n) => Some(*n),
        _ => None,
    })
}

/// RFC 1870 §5 (the size counts octets with CRLF pairs, without dot-stuffing), §6 (the
/// declaration "should" usually be larger than the message) and §6.3 (a smaller one is
/// permitted): a smaller declaration is reported as a warning, with the usual cause.
pub fn declared_size_check(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for (unit, report) in messages(model) {
        let Some(declared) = declared_size(unit) else {
            continue;
        };
        seen = true;
        if declared < report.octets {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                format!(
                    "SIZE={declared} was declared but the message has {} octets (allowed, but \
                     a size counted before line ends became CRLF or before encoding is the \
                     usual cause)",
                    report.octets
                ),
            ));
        }
    }
    super::extensions::judged(
        seen,
        "no message was sent in a transaction with SIZE= on its MAIL",
        findings,
    )
}

/// The fixed maximum of the EHLO reply in force at `unit` (0, "no limit", is `None`).
fn size_limit(unit: &Unit) -> Option<u64> {
    unit.state
        .hello
        .extensions()
        .and_then(Extensions::size)
        .filter(|&n| n > 0)
}

/// RFC 1870 §4: a message larger than the advertised limit "will be rejected"; §7: a client
/// compares its size with the EHLO SIZE value before sending.
pub fn respect_fixed_max(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    // A MAIL declaring more than the limit: the client knew, and must not go on.
    let mut applicable = mails(model).any(|u| {
        let declared = match u.parsed() {
            Some(Command::Mail { params, .. }) => params.iter().find_map(|p| match p {
                MailParam::Size(n) => Some(*n),
                _ => None,
            }),
            _ => None,
        };
        matches!((declared, size_limit(u)), (Some(d), Some(limit)) if d > limit)
    });
    // Octets sent per transaction: (its MAIL, octets so far, the last content unit).
    let mut sent: Vec<(usize, u64, &Unit)> = Vec::new();
    for (unit, content) in model.contents() {
        let Some(transaction) = &unit.state.transaction else {
            continue;
        };
        match sent.last_mut() {
            Some((mail, total, last)) if *mail == transaction.mail => {
                *total += content.octets;
                *last = unit;
            }
            _ => sent.push((transaction.mail, content.octets, unit)),
        }
    }
    for (_, total, last) in sent {
        let Some(limit) = size_limit(last) else {
            continue;
        };
        if total > limit {
            applicable = true;
            findings.push(Finding::at_entry(
                last.entry,
                last.evidence(),
                format!(
                    "a message of {total} octets sent although the server's SIZE limit is \
                     {limit}"
                ),
            ));
        }
    }
    super::extensions::judged(
        applicable,
        "no message larger than the advertised SIZE limit was declared or sent",
        findings,
    )
}

/// RFC 1870 §6.2: after 552 (or 452) to MAIL the client "should immediately send either a
/// RSET command … or a QUIT command". Commands pipelined before the reply were in flight.
fn after_refused_mail(model: &SessionModel<'_>, code: u16) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in mails(model).filter(|u| u.reply_code() == Some(code)) {
        seen = true;
        let next_index = first_after_reply(model, unit.index);
        let in_flight = model
            .units
            .get(unit.index + 1..next_index)
            .unwrap_or_default();
        if in_flight
            .iter()
            .any(|u| matches!(u.verb(), "RSET" | "QUIT"))
        {
            continue;
        }
        let Some(next) = model.units.get(next_index) else {
            continue;
        };
        if !matches!(next.verb(), "RSET" | "QUIT") {
            let what = if next.verb().is_empty() {
                "more input"
            } else {
                next.verb()
            };
            findings.push(Finding::at_entry(
                next.entry,
                next.evidence(),
                format!("{what} after MAIL was answered {code}: RSET or QUIT should come next"),
            ));
        }
    }
    super::extensions::judged(
        seen,
        format!("no MAIL command was answered {code}"),
        findings,
    )
}

pub fn after_552(model: &SessionModel<'_>) -> Outcome {
    after_refused_mail(model, 552)
}

pub fn after_452(model: &SessionModel<'_>) -> Outcome {
    after_refused_mail(model, 452)
}

/// RFC 1870 §3: `SIZE 0` means no fixed maximum, and a bare `SIZE` says nothing about one.
/// A client that reads either as a zero limit refuses to send: after such an EHLO reply it
/// ends the session without MAIL (or AUTH, or STARTTLS). A client may also have had nothing
/// to send, so this is a warning.
pub fn size_zero_or_absent(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in model.units.iter().filter(|u| u.verb() == "EHLO") {
        let Some(reply) = unit.reply.as_ref().filter(|r| r.is_success()) else {
            continue;
        };
        if Extensions::from_ehlo_lines(&reply.lines).size() != Some(0) {
            continue;
        }
        seen = true;
        let segment: Vec<&Unit> = model
            .after(unit.index)
            .iter()
            .take_while(|u| !u.state.tls_fresh && !matches!(u.verb(), "EHLO" | "HELO"))
            .collect();
        let session_went_on = segment.len() < model.after(unit.index).len();
        let tried = segment
            .iter()
            .any(|u| matches!(u.verb(), "MAIL" | "AUTH" | "STARTTLS"));
        if !tried && !session_went_on {
            findings.push(
                Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    "the session ended without any MAIL after an EHLO reply with `SIZE 0` or a \
                     bare `SIZE`: the client may have read it as a zero size limit",
                )
                .warn(),
            );
        }
    }
    super::extensions::judged(
        seen,
        "no EHLO reply advertised `SIZE 0` or a bare `SIZE`",
        findings,
    )
}

// A.10 8BITMIME (RFC 6152).

/// Whether the transaction of `unit` declared a body type that allows octets above 127.
fn declares_8bit_body(unit: &Unit) -> bool {
    transaction_params(unit)
        .iter()
        .any(|p| matches!(p, MailParam::Body(Body::EightBitMime | Body::BinaryMime)))
}

/// RFC 6152 §3: without 8BITMIME the client "must not, under any circumstances, attempt to
/// transfer a content that contains characters outside of the US-ASCII octet range"; RFC
/// 5321 §2.4 likewise. A BODY=BINARYMIME transaction to a server that offers BINARYMIME is
/// left to C-3030-BINARYMIME-RULES.
pub fn no_8bit_without_ext(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for (unit, report) in messages(model) {
        if unit.state.hello.offers("8BITMIME") {
            continue;
        }
        seen = true;
        let binary = unit.state.hello.offers("BINARYMIME")
            && transaction_params(unit).contains(&MailParam::Body(Body::BinaryMime));
        if report.eight_bit && !binary {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "the message has octets above 127 although the server had not advertised \
                 8BITMIME",
            ));
        }
    }
    super::extensions::judged(
        seen,
        "every message went to a server that advertised 8BITMIME",
        findings,
    )
}

/// RFC 6152 §3: the client issues the extended MAIL (BODY=8BITMIME) to send 8-bit content;
/// RFC 5321 §2.4: 8-bit content needs the extension negotiated. SMTPUTF8 counts too (see
/// C-6531-8BIT-BODY-PARAM).
pub fn body_param_required(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for (unit, report) in messages(model) {
        if !unit.state.hello.offers("8BITMIME") || unit.state.transaction.is_none() {
            continue;
        }
        seen = true;
        let negotiated =
            declares_8bit_body(unit) || transaction_params(unit).contains(&MailParam::SmtpUtf8);
        if report.eight_bit && !negotiated {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "the message has octets above 127 but its MAIL had no BODY=8BITMIME",
            ));
        }
    }
    super::extensions::judged(
        seen,
        "no message was sent to a server that advertised 8BITMIME",
        findings,
    )
}

/// RFC 6152 §2 `body-value = "7BIT" / "8BITMIME"` (RFC 3030 §3 adds "BINARYMIME"), and "Only
/// one BODY parameter may be used in a single MAIL command" (§3).
pub fn body_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in mails(model) {
        let bodies = params_named(unit, "BODY");
        seen |= !bodies.is_empty();
        if bodies.len() > 1 {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "more than one BODY parameter on one MAIL",
            ));
        }
        for body in &bodies {
            let problem = match body.value_upper().as_deref() {
                None | Some("") => Some("BODY needs a value".to_owned()),
                Some("7BIT" | "8BITMIME" | "BINARYMIME") => None,
                Some(_) => Some(format!(
                    "BODY={} is not 7BIT, 8BITMIME or BINARYMIME",
                    String::from_utf8_lossy(body.value.unwrap_or_default())
                )),
            };
            if let Some(problem) = problem {
                findings.push(Finding::at_entry(unit.entry, unit.evidence(), problem));
            }
        }
    }
    super::extensions::judged(seen, "no MAIL command had a BODY parameter", findings)
}

/// RFC 5321 §2.4: "8BITMIME MUST NOT be requested by senders for material with the high bit
/// on that is not in MIME format with an appropriate content-transfer encoding". Octets above
/// 127 may sit only in the bodies of parts labelled 8bit or binary, in a MIME message.
pub fn mime_labelled(model: &MessageModel<'_>) -> Outcome {
    if model.input.body != Some(Body::EightBitMime) {
        return Outcome::not_applicable("the message was not sent with BODY=8BITMIME");
    }
    let content = model.content();
    let mime = model.is_mime();
    let mut findings = Vec::new();
    for entity in &model.entities {
        if findings.len() >= 5 {
            break;
        }
        if !entity.children.is_empty() || entity.truncated {
            continue;
        }
        let Some(at) = first_8bit(content, entity.body.clone()) else {
            continue;
        };
        if !mime {
            findings.push(Finding::in_message(
                at,
                around(content, at),
                "octets above 127 with BODY=8BITMIME in a message that is not MIME (no \
                 MIME-Version field)",
            ));
            break;
        }
        let label = match entity.encoding.as_deref() {
            None => "no Content-Transfer-Encoding (7bit)",
            Some("7bit") => "Content-Transfer-Encoding: 7bit",
            Some("quoted-printable") => "Content-Transfer-Encoding: quoted-printable",
            Some("base64") => "Content-Transfer-Encoding: base64",
            // 8bit, binary, or an encoding this check does not know.
            Some(_) => continue,
        };
        findings.push(Finding::in_message(
            at,
            around(content, at),
            format!("octets above 127 in a part with {label}: it must be labelled 8bit"),
        ));
    }
    Outcome::from_findings(findings)
}

// A.11 SMTPUTF8 (RFC 6531, RFC 6532).

/// RFC 6531 §3.2: without SMTPUTF8 offered, the client "MUST NOT transmit an
/// internationalized email address"; RFC 5321 §4.1.1.3: no SMTPUTF8 parameter either. (UTF-8
/// header fields need the SMTPUTF8 parameter, C-6531-MAIL-PARAM-REQUIRED, which needs the
/// extension, this check.)
pub fn smtputf8_only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in model
        .units
        .iter()
        .filter(|u| matches!(u.verb(), "MAIL" | "RCPT"))
    {
        if unit.state.hello.offers("SMTPUTF8") {
            continue;
        }
        seen = true;
        let detail = if !line_is_ascii(unit) {
            format!(
                "non-ASCII octets in {} although the server had not advertised SMTPUTF8",
                unit.verb()
            )
        } else if !params_named(unit, "SMTPUTF8").is_empty() && unit.verb() == "MAIL" {
            "the SMTPUTF8 parameter although the server had not advertised SMTPUTF8".to_owned()
        } else {
            continue;
        };
        findings.push(Finding::at_entry(unit.entry, unit.evidence(), detail));
    }
    super::extensions::judged(
        seen,
        "every MAIL and RCPT went to a server that advertised SMTPUTF8",
        findings,
    )
}

/// RFC 6531 §3.4: UTF-8 in the message's header fields "at any level within its MIME
/// structure" (§3.2) needs the SMTPUTF8 parameter on MAIL. The envelope half of the rule
/// (UTF-8 addresses) is C-6531-ONLY-IF-ADVERTISED's and C-6531-IGNORE-KEYWORD-PARAMS's where
/// the session shows it.
pub fn smtputf8_param_required(model: &MessageModel<'_>) -> Outcome {
    if model.input.smtputf8 {
        return Outcome::Pass;
    }
    let content = model.content();
    let mut findings = Vec::new();
    for entity in &model.entities {
        if findings.len() >= 5 {
            break;
        }
        let first = entity
            .fields
            .iter()
            .find_map(|f| first_8bit(content, f.span.clone()));
        if let Some(at) = first {
            let whose = if entity.depth == 0 {
                "the message's header"
            } else {
                "the header of a part or embedded message"
            };
            findings.push(Finding::in_message(
                at,
                around(content, at),
                format!("octets above 127 in {whose} but MAIL had no SMTPUTF8 parameter"),
            ));
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 6531 §3.4: the SMTPUTF8 parameter "MUST not accept a value".
pub fn smtputf8_no_value(model: &SessionModel<'_>) -> Outcome {
    judge_param(model, "MAIL", "SMTPUTF8", |value| {
        value.map(|_| "the SMTPUTF8 parameter takes no value".to_owned())
    })
}

/// RFC 6531 §3.4: a client that knows neither envelope nor message needs SMTPUTF8 "SHOULD NOT
/// supply the SMTPUTF8 parameter". Certain only when the envelope and the whole message are
/// ASCII; a message with octets above 127 may need it for its header fields.
pub fn smtputf8_not_gratuitous(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for (unit, report) in messages(model) {
        let Some(transaction) = &unit.state.transaction else {
            continue;
        };
        let Some(mail) = model.units.get(transaction.mail) else {
            continue;
        };
        if params_named(mail, "SMTPUTF8").is_empty() {
            continue;
        }
        seen = true;
        let envelope_ascii = line_is_ascii(mail)
            && model
                .units
                .get(transaction.mail + 1..unit.index)
                .unwrap_or_default()
                .iter()
                .filter(|u| u.verb() == "RCPT")
                .all(line_is_ascii);
        if envelope_ascii && !report.eight_bit {
            findings.push(Finding::at_entry(
                mail.entry,
                mail.evidence(),
                "SMTPUTF8 on MAIL, but the addresses and the whole message are ASCII",
            ));
        }
    }
    super::extensions::judged(
        seen,
        "no message was sent with the SMTPUTF8 parameter",
        findings,
    )
}

/// RFC 6531 §3.7.1: "the SMTPUTF8-aware SMTP client MUST send only ASCII (LDH label or
/// A-label) domains in the EHLO command".
pub fn ehlo_ascii(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in model.units.iter().filter(|u| u.verb() == "EHLO") {
        seen = true;
        if !line_is_ascii(unit) {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                "non-ASCII octets in the EHLO domain: use its A-label (xn--...)",
            ));
        }
    }
    super::extensions::judged(seen, "the client sent no EHLO", findings)
}

/// Whether the EHLO reply in force at `unit` had SMTPUTF8 with parameters.
fn smtputf8_with_params(unit: &Unit) -> bool {
    unit.state.hello.extensions().is_some_and(|e| {
        e.0.iter().any(|x| {
            matches!(x, Extension::Other { keyword, params }
                if keyword.eq_ignore_ascii_case("SMTPUTF8") && !params.is_empty())
        })
    })
}

/// RFC 6531 §3.1 item 3: the client "MUST ignore any parameters if they appear for this
/// keyword": the extension is still offered, and a MAIL with non-ASCII addresses still
/// carries the SMTPUTF8 parameter.
pub fn ignore_keyword_params(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for mail in mails(model).filter(|u| smtputf8_with_params(u)) {
        seen = true;
        let needs =
            !line_is_ascii(mail) || envelope_rcpts(model, mail.index).any(|u| !line_is_ascii(u));
        if needs && params_named(mail, "SMTPUTF8").is_empty() {
            findings.push(Finding::at_entry(
                mail.entry,
                mail.evidence(),
                "non-ASCII addresses without the SMTPUTF8 parameter: the client did not see \
                 SMTPUTF8 advertised with a parameter",
            ));
        }
    }
    super::extensions::judged(
        seen,
        "no MAIL was sent after an EHLO reply with parameters on SMTPUTF8",
        findings,
    )
}

/// RFC 6531 §3.6: SMTPUTF8 is used "with the BODY=8BITMIME parameter" or BINARYMIME when
/// the body needs it. Whether SMTPUTF8 alone negotiates an 8-bit body is not settled: a
/// warning.
pub fn utf8_body_param(model: &MessageModel<'_>) -> Outcome {
    if !model.input.smtputf8 {
        return Outcome::not_applicable("the message was not sent with SMTPUTF8");
    }
    if matches!(
        model.input.body,
        Some(Body::EightBitMime | Body::BinaryMime)
    ) {
        return Outcome::Pass;
    }
    let content = model.content();
    let first = model
        .entities
        .iter()
        .filter(|e| e.children.is_empty() && !e.truncated)
        .find_map(|e| first_8bit(content, e.body.clone()));
    let findings = first
        .map(|at| {
            Finding::in_message(
                at,
                around(content, at),
                "a body with octets above 127 sent with SMTPUTF8 but without BODY=8BITMIME",
            )
        })
        .into_iter()
        .collect();
    Outcome::from_findings(findings)
}

/// RFC 6532 §3.1 (UTF-8 as RFC 3629 defines it): header fields of a message sent with
/// SMTPUTF8 must be well-formed UTF-8.
pub fn utf8_wellformed(model: &MessageModel<'_>) -> Outcome {
    if !model.input.smtputf8 {
        return Outcome::not_applicable("the message was not sent with SMTPUTF8");
    }
    let content = model.content();
    let mut findings = Vec::new();
    'entities: for entity in &model.entities {
        for field in &entity.fields {
            let Some(octets) = content.get(field.span.clone()) else {
                continue;
            };
            if let Err(error) = std::str::from_utf8(octets) {
                let at = field.span.start + error.valid_up_to();
                findings.push(Finding::in_message(
                    at,
                    around(content, at),
                    "malformed UTF-8 in a header field",
                ));
                if findings.len() >= 5 {
                    break 'entities;
                }
            }
        }
    }
    Outcome::from_findings(findings)
}

// A.12 DSN (RFC 3461).

/// The DSN parameters: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT.
fn dsn_params<'u>(unit: &'u Unit) -> Vec<RawParam<'u>> {
    let keywords: &[&str] = match unit.verb() {
        "MAIL" => &["RET", "ENVID"],
        "RCPT" => &["NOTIFY", "ORCPT"],
        _ => &[],
    };
    raw_params(unit)
        .into_iter()
        .filter(|p| keywords.iter().any(|k| p.is(k)))
        .collect()
}

/// RFC 5321 §4.1.1.3: no parameters of an extension the server did not offer.
pub fn dsn_only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in &model.units {
        let Some(param) = dsn_params(unit).into_iter().next() else {
            continue;
        };
        seen = true;
        if !unit.state.hello.offers("DSN") {
            findings.push(Finding::at_entry(
                unit.entry,
                unit.evidence(),
                format!(
                    "{}= although the server had not advertised DSN",
                    String::from_utf8_lossy(param.keyword).to_ascii_uppercase()
                ),
            ));
        }
    }
    super::extensions::judged(seen, "the client sent no DSN parameter", findings)
}

/// RFC 3461 §4.1: NOTIFY "MUST have an associated esmtp-value": `"NEVER" / 1#notify-list-element`
/// with elements SUCCESS, FAILURE, DELAY; "the NEVER keyword MUST appear by itself".
fn notify_problem(value: Option<&[u8]>) -> Option<String> {
    let value = match value {
        None | Some([]) => return Some("NOTIFY needs a value".to_owned()),
        Some(v) => String::from_utf8_lossy(v).to_ascii_uppercase(),
    };
    let elements: Vec<&str> = value.split(',').collect();
    if elements.iter().any(|e| e.is_empty()) {
        return Some("an empty element in the NOTIFY list (a stray comma or space?)".to_owned());
    }
    if elements.len() > 1 && elements.contains(&"NEVER") {
        return Some("NEVER must appear alone in NOTIFY".to_owned());
    }
    elements
        .iter()
        .find(|e| !matches!(**e, "NEVER" | "SUCCESS" | "FAILURE" | "DELAY"))
        .map(|e| format!("{e} is not a NOTIFY keyword (SUCCESS, FAILURE, DELAY or NEVER)"))
}

pub fn notify_syntax(model: &SessionModel<'_>) -> Outcome {
    judge_param(model, "RCPT", "NOTIFY", notify_problem)
}

/// Decodes xtext (RFC 3461 §4): `+XX` gives the octet; anything else is kept as it is.
fn decode_xtext(value: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        let pair = (value.get(i + 1).copied(), value.get(i + 2).copied());
        match (b, pair) {
            (b'+', (Some(h), Some(l))) if hex(h).is_some() && hex(l).is_some() => {
                let octet = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(octet).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Printable US-ASCII ("graphic and white space", RFC 3461 §4.2, §4.4).
fn printable(text: &[u8]) -> bool {
    text.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// The address types registered for DSN (IANA "Address Types": rfc822, x400, UTF-8).
const ADDRESS_TYPES: [&str; 3] = ["rfc822", "x400", "utf-8"];

/// RFC 3461 §4.2: `ORCPT=addr-type ";" xtext`, a registered type, 500 characters at most,
/// printable US-ASCII before encoding. (UTF-8 addresses, RFC 6533, have their own encoding.)
fn orcpt_problem(value: Option<&[u8]>) -> Option<String> {
    let value = match value {
        None | Some([]) => return Some("ORCPT needs a value".to_owned()),
        Some(v) => v,
    };
    if "ORCPT=".len() + value.len() > 500 {
        return Some("the ORCPT parameter is longer than 500 characters".to_owned());
    }
    let Some(semicolon) = value.iter().position(|&b| b == b';') else {
        return Some(
            "ORCPT needs an address type and `;` before the address (rfc822;...)".to_owned(),
        );
    };
    let (addr_type, address) = (&value[..semicolon], &value[semicolon + 1..]);
    let registered = ADDRESS_TYPES
        .iter()
        .any(|t| addr_type.eq_ignore_ascii_case(t.as_bytes()));
    if !registered {
        return Some(format!(
            "{} is not a registered address type (rfc822, x400, utf-8)",
            String::from_utf8_lossy(addr_type)
        ));
    }
    if address.is_empty() {
        return Some("ORCPT has no address after its type".to_owned());
    }
    if !addr_type.eq_ignore_ascii_case(b"utf-8") && !printable(&decode_xtext(address)) {
        return Some("the ORCPT address has characters outside printable ASCII".to_owned());
    }
    None
}

pub fn orcpt_syntax(model: &SessionModel<'_>) -> Outcome {
    judge_param(model, "RCPT", "ORCPT", orcpt_problem)
}

/// Whether the decoded ORCPT address is the RCPT's mailbox (local part exact, domain in any
/// case).
fn same_address(orcpt: &[u8], forward_path: &smtp_protocol::ForwardPath) -> bool {
    match forward_path.mailbox() {
        Some(mailbox) => match orcpt.iter().rposition(|&b| b == b'@') {
            Some(at) => {
                orcpt[..at] == *mailbox.local_part().as_bytes()
                    && orcpt[at + 1..].eq_ignore_ascii_case(mailbox.domain().as_bytes())
            }
            None => false,
        },
        None => orcpt.eq_ignore_ascii_case(b"postmaster"),
    }
}

/// RFC 3461 §4.2: "When initially submitting a message via SMTP, if the ORCPT parameter is
/// used, it MUST contain the same address as the RCPT TO address". Initial submission is a
/// session on a submission listener when the transcript names it, else an authenticated
/// session (submission listeners require AUTH, RFC 6409 §4.3); a relay passes on the ORCPT it
/// received and is not judged.
pub fn orcpt_matches_rcpt(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    let submission = model.is_submission();
    for unit in rcpts(model).filter(|u| submission.unwrap_or(u.state.authenticated)) {
        let Some(Command::Rcpt { forward_path, .. }) = unit.parsed() else {
            continue;
        };
        for orcpt in params_named(unit, "ORCPT") {
            let Some(value) = orcpt.value else {
                continue;
            };
            let Some(address) = value
                .get(..7)
                .filter(|t| t.eq_ignore_ascii_case(b"rfc822;"))
                .and_then(|_| value.get(7..))
            else {
                continue;
            };
            seen = true;
            if !same_address(&decode_xtext(address), forward_path) {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    "the ORCPT address differs from the RCPT address in a submission",
                ));
            }
        }
    }
    super::extensions::judged(
        seen,
        "no RCPT had ORCPT=rfc822; in an authenticated (submission) session",
        findings,
    )
}

/// What is wrong with `value` as xtext (RFC 3461 §4): `xchar` is printable ASCII but `+` and
/// `=`; `hexchar` is `+` and two upper-case hex digits.
fn xtext_problem(value: &[u8]) -> Option<&'static str> {
    let upper_hex =
        |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b));
    let any_hex = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b'+' if upper_hex(value.get(i + 1)) && upper_hex(value.get(i + 2)) => i += 3,
            b'+' if any_hex(value.get(i + 1)) && any_hex(value.get(i + 2)) => return Some(
                "`+` before lower-case hex digits: an escape must use upper case, and a raw `+` \
                     is +2B",
            ),
            b'+' => return Some("a `+` that does not start a +XX escape (a raw `+` is +2B)"),
            b'=' => return Some("a raw `=` (it must be encoded as +3D)"),
            b'!'..=b'~' => i += 1,
            _ => return Some("a character outside printable ASCII (it must be encoded as +XX)"),
        }
    }
    None
}

/// RFC 3461 §4: ORCPT's address and ENVID are xtext; characters outside `xchar` "must be
/// encoded as hexchar".
pub fn xtext(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in &model.units {
        for param in dsn_params(unit) {
            let Some(value) = param.value else {
                continue;
            };
            let text = if param.is("ENVID") {
                value
            } else if param.is("ORCPT") {
                match value.iter().position(|&b| b == b';') {
                    // RFC 6533 UTF-8 addresses have their own encoding.
                    Some(s) if !value[..s].eq_ignore_ascii_case(b"utf-8") => &value[s + 1..],
                    _ => continue,
                }
            } else {
                continue;
            };
            seen = true;
            if let Some(problem) = xtext_problem(text) {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    format!(
                        "{} is not valid xtext: {problem}",
                        String::from_utf8_lossy(param.keyword).to_ascii_uppercase()
                    ),
                ));
            }
        }
    }
    super::extensions::judged(
        seen,
        "the client sent no ORCPT or ENVID parameter",
        findings,
    )
}

/// RFC 3461 §4.3: RET "MUST have an associated esmtp-value", FULL or HDRS.
pub fn ret_syntax(model: &SessionModel<'_>) -> Outcome {
    judge_param(model, "MAIL", "RET", |value| match value {
        None | Some([]) => Some("RET needs a value (FULL or HDRS)".to_owned()),
        Some(v) if v.eq_ignore_ascii_case(b"FULL") || v.eq_ignore_ascii_case(b"HDRS") => None,
        Some(v) => Some(format!(
            "RET={} is not FULL or HDRS",
            String::from_utf8_lossy(v)
        )),
    })
}

/// RFC 3461 §4.4: ENVID "MUST have an associated esmtp-value", "MAY be up to 100 characters",
/// printable US-ASCII before encoding. (Its xtext encoding is C-3461-XTEXT's.)
pub fn envid_syntax(model: &SessionModel<'_>) -> Outcome {
    judge_param(model, "MAIL", "ENVID", |value| match value {
        None | Some([]) => Some("ENVID needs a value".to_owned()),
        Some(v) if v.len() > 100 => Some(format!("ENVID has {} characters (100 at most)", v.len())),
        Some(v) if !printable(&decode_xtext(v)) => {
            Some("ENVID has characters outside printable ASCII".to_owned())
        }
        Some(_) => None,
    })
}

/// RFC 3461 §4.5: RET and ENVID at most once on MAIL, NOTIFY and ORCPT at most once on RCPT.
pub fn dsn_no_duplicates(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut seen = false;
    for unit in &model.units {
        let params = dsn_params(unit);
        seen |= !params.is_empty();
        for keyword in ["RET", "ENVID", "NOTIFY", "ORCPT"] {
            if params.iter().filter(|p| p.is(keyword)).count() > 1 {
                findings.push(Finding::at_entry(
                    unit.entry,
                    unit.evidence(),
                    format!("{keyword} given more than once"),
                ));
            }
        }
    }
    super::extensions::judged(seen, "the client sent no DSN parameter", findings)
}

#[cfg(test)]
mod tests {
    use smtp_protocol::params::Body;

    use crate::check::Status;
    use crate::testing::*;

    /// A session with one message: EHLO advertising `extensions`, MAIL with `mail` params,
    /// RCPT with `rcpt` params, and `content` sent with DATA.
    fn envelope(extensions: &[&str], mail: &str, rcpt: &str, content: &str) -> String {
        simple_session(extensions, mail, content).replace(
            "RCPT TO:<b@mx.example>",
            &format!("RCPT TO:<b@mx.example>{rcpt}"),
        )
    }

    #[test]
    fn envelope_lines_split() {
        use crate::session::extensions::split_envelope_line;
        let (path, params) =
            split_envelope_line(b"MAIL FROM:<\"a >b\"@x.example> SIZE=10 SMTPUTF8").expect("mail");
        assert_eq!(path, b"<\"a >b\"@x.example>");
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].value, Some(&b"10"[..]));
        assert_eq!(params[1].value, None);
        assert!(split_envelope_line(b"MAIL <a@b>").is_none());
        let (path, params) =
            split_envelope_line(b"RCPT TO: <b@x.example> NOTIFY=NEVER").expect("rcpt");
        assert_eq!((path, params.len()), (&b"<b@x.example>"[..], 1));
    }

    #[test]
    fn size_only_if_advertised() {
        let id = "C-1870-ONLY-IF-ADVERTISED";
        pass(id, &simple_session(&["SIZE 1000"], "SIZE=20", "x\\r\\n"));
        fail(id, &simple_session(&["8BITMIME"], "SIZE=20", "x\\r\\n"));
        not_applicable(id, &simple_session(&["SIZE 1000"], "", "x\\r\\n"));
    }

    #[test]
    fn size_syntax() {
        let id = "C-1870-SYNTAX";
        pass(id, &simple_session(&["SIZE"], "SIZE=00020", "x\\r\\n"));
        for bad in [
            "SIZE=",
            "SIZE",
            "SIZE=-1",
            "SIZE=10k",
            "SIZE=123456789012345678901",
            "SIZE=1 SIZE=2",
        ] {
            fail(id, &simple_session(&["SIZE"], bad, "x\\r\\n"));
        }
        not_applicable(id, &simple_session(&["SIZE"], "", "x\\r\\n"));
    }

    #[test]
    fn declared_size() {
        let id = "C-1870-DECLARED-SIZE";
        // "x\r\n" is 3 octets.
        pass(id, &simple_session(&["SIZE"], "SIZE=3", "x\\r\\n"));
        pass(id, &simple_session(&["SIZE"], "SIZE=100", "x\\r\\n"));
        warn(id, &simple_session(&["SIZE"], "SIZE=2", "x\\r\\n"));
        not_applicable(id, &simple_session(&["SIZE"], "", "x\\r\\n"));
    }

    #[test]
    fn respect_fixed_max() {
        let id = "C-1870-RESPECT-FIXED-MAX";
        let big = "y".repeat(40);
        warn(
            id,
            &simple_session(&["SIZE 20"], "", &format!("{big}\\r\\n")),
        );
        // Declared too big and stopped at the 552.
        pass(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 SIZE 20\n\
             C: MAIL FROM:<a@b.example> SIZE=42\nS: 552 5.3.4 too big\nC: QUIT\nS: 221 bye",
        );
        // No limit (0) or a small message.
        not_applicable(
            id,
            &simple_session(&["SIZE 0"], "", &format!("{big}\\r\\n")),
        );
        not_applicable(id, &simple_session(&["SIZE 20"], "", "x\\r\\n"));
    }

    #[test]
    fn after_552_and_452() {
        for (id, code) in [("C-1870-552-ACTION", 552), ("C-1870-452-ACTION", 452)] {
            let head = format!(
                "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 SIZE 20\n\
                 C: MAIL FROM:<a@b.example> SIZE=42\nS: {code} no\n"
            );
            pass(id, &format!("{head}C: QUIT\nS: 221 bye"));
            // Pipelined commands were in flight; the client then reset.
            pass(
                id,
                &format!("{head}C+: RCPT TO:<c@d.example>\nS: 503 no\nC: RSET\nS: 250 ok"),
            );
            warn(
                id,
                &format!("{head}C: MAIL FROM:<a@b.example> SIZE=42\nS: {code} no"),
            );
            not_applicable(id, &simple_session(&["SIZE"], "", "x\\r\\n"));
        }
    }

    #[test]
    fn size_zero_or_absent() {
        let id = "C-1870-SIZE-ZERO-OR-ABSENT";
        pass(id, &simple_session(&["SIZE 0"], "", "x\\r\\n"));
        pass(id, &simple_session(&["SIZE"], "", "x\\r\\n"));
        warn(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 SIZE 0\nC: QUIT\nS: 221 bye\n\
             ** closed quit",
        );
        not_applicable(id, &simple_session(&["SIZE 1000"], "", "x\\r\\n"));
    }

    #[test]
    fn no_8bit_without_ext() {
        let id = "C-6152-NO-8BIT-WITHOUT-EXT";
        pass(id, &simple_session(&["SIZE"], "", "caf=C3=A9\\r\\n"));
        fail(id, &simple_session(&["SIZE"], "", "caf\\xc3\\xa9\\r\\n"));
        not_applicable(
            id,
            &simple_session(&["8BITMIME"], "BODY=8BITMIME", "caf\\xc3\\xa9\\r\\n"),
        );
    }

    #[test]
    fn body_param_required() {
        let id = "C-6152-BODY-PARAM-REQUIRED";
        pass(
            id,
            &simple_session(&["8BITMIME"], "BODY=8BITMIME", "caf\\xc3\\xa9\\r\\n"),
        );
        pass(
            id,
            &simple_session(&["8BITMIME", "SMTPUTF8"], "SMTPUTF8", "caf\\xc3\\xa9\\r\\n"),
        );
        pass(id, &simple_session(&["8BITMIME"], "", "cafe\\r\\n"));
        fail(
            id,
            &simple_session(&["8BITMIME"], "", "caf\\xc3\\xa9\\r\\n"),
        );
        not_applicable(id, &simple_session(&[], "", "caf\\xc3\\xa9\\r\\n"));
    }

    #[test]
    fn body_syntax() {
        let id = "C-6152-BODY-SYNTAX";
        pass(
            id,
            &simple_session(&["8BITMIME"], "body=8bitmime", "x\\r\\n"),
        );
        pass(id, &simple_session(&["8BITMIME"], "BODY=7BIT", "x\\r\\n"));
        for bad in [
            "BODY=8BIT",
            "BODY=8bit-mime",
            "BODY",
            "BODY=7BIT BODY=8BITMIME",
        ] {
            fail(id, &simple_session(&["8BITMIME"], bad, "x\\r\\n"));
        }
        not_applicable(id, &simple_session(&["8BITMIME"], "", "x\\r\\n"));
    }

    #[test]
    fn mime_labelled() {
        let id = "C-6152-MIME-LABELLED";
        let good = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
                     Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n";
        message_status(id, message(good).body(Body::EightBitMime), Status::Pass);
        let unlabelled = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                           caf\xc3\xa9\r\n";
        message_status(
            id,
            message(unlabelled).body(Body::EightBitMime),
            Status::Fail,
        );
        let not_mime = b"Subject: x\r\n\r\ncaf\xc3\xa9\r\n";
        message_status(id, message(not_mime).body(Body::EightBitMime), Status::Fail);
        let multipart = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
                          --b\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n\
                          --b\r\nContent-Transfer-Encoding: 7bit\r\n\r\nna\xc3\xafve\r\n--b--\r\n";
        message_status(
            id,
            message(multipart).body(Body::EightBitMime),
            Status::Fail,
        );
        message_status(id, message(good), Status::NotApplicable);
    }

    #[test]
    fn smtputf8_only_if_advertised() {
        let id = "C-6531-ONLY-IF-ADVERTISED";
        pass(id, &simple_session(&["8BITMIME"], "", "x\\r\\n"));
        fail(id, &simple_session(&["8BITMIME"], "SMTPUTF8", "x\\r\\n"));
        fail(
            id,
            &simple_session(&["8BITMIME"], "", "x\\r\\n")
                .replace("<b@mx.example>", "<us\\xc3\\xa9r@mx.example>"),
        );
        not_applicable(
            id,
            &simple_session(&["8BITMIME", "SMTPUTF8"], "SMTPUTF8", "x\\r\\n"),
        );
    }

    #[test]
    fn smtputf8_param_required() {
        let id = "C-6531-MAIL-PARAM-REQUIRED";
        let utf8_subject = b"Subject: caf\xc3\xa9\r\n\r\nhi\r\n";
        message_status(id, message(utf8_subject).smtputf8(), Status::Pass);
        message_status(
            id,
            message(b"Subject: cafe\r\n\r\ncaf\xc3\xa9\r\n"),
            Status::Pass,
        );
        message_status(id, message(utf8_subject), Status::Fail);
        let nested = b"MIME-Version: 1.0\r\nContent-Type: message/global\r\n\r\n\
                       From: J\xc3\xb6rg <j@x.example>\r\n\r\nhi\r\n";
        message_status(id, message(nested), Status::Fail);
    }

    #[test]
    fn smtputf8_no_value() {
        let id = "C-6531-PARAM-NO-VALUE";
        let ext = ["8BITMIME", "SMTPUTF8"];
        pass(id, &simple_session(&ext, "SMTPUTF8", "x\\r\\n"));
        fail(id, &simple_session(&ext, "SMTPUTF8=YES", "x\\r\\n"));
        not_applicable(id, &simple_session(&ext, "", "x\\r\\n"));
    }

    #[test]
    fn smtputf8_not_gratuitous() {
        let id = "C-6531-PARAM-NOT-GRATUITOUS";
        let ext = ["8BITMIME", "SMTPUTF8"];
        warn(
            id,
            &simple_session(&ext, "SMTPUTF8", "Subject: x\\r\\n\\r\\nhi\\r\\n"),
        );
        pass(
            id,
            &simple_session(
                &ext,
                "SMTPUTF8",
                "Subject: caf\\xc3\\xa9\\r\\n\\r\\nhi\\r\\n",
            ),
        );
        pass(
            id,
            &simple_session(&ext, "SMTPUTF8", "x\\r\\n")
                .replace("<b@mx.example>", "<us\\xc3\\xa9r@mx.example>"),
        );
        not_applicable(id, &simple_session(&ext, "", "x\\r\\n"));
    }

    #[test]
    fn ehlo_ascii() {
        let id = "C-6531-EHLO-ASCII";
        pass(id, &simple_session(&["SMTPUTF8"], "", "x\\r\\n"));
        fail(
            id,
            &simple_session(&["SMTPUTF8"], "", "x\\r\\n")
                .replace("EHLO client.example", "EHLO b\\xc3\\xbccher.example"),
        );
        not_applicable(
            id,
            "S: 220 mx\nC: HELO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
    }

    #[test]
    fn ignore_keyword_params() {
        let id = "C-6531-IGNORE-KEYWORD-PARAMS";
        let ext = ["8BITMIME", "SMTPUTF8 future-param"];
        let utf8 = |params: &str| {
            simple_session(&ext, params, "x\\r\\n")
                .replace("<b@mx.example>", "<us\\xc3\\xa9r@mx.example>")
        };
        pass(id, &utf8("SMTPUTF8"));
        fail(id, &utf8(""));
        not_applicable(
            id,
            &simple_session(&["8BITMIME", "SMTPUTF8"], "", "x\\r\\n"),
        );
    }

    #[test]
    fn utf8_body_param() {
        let id = "C-6531-8BIT-BODY-PARAM";
        let body = b"Subject: x\r\n\r\ncaf\xc3\xa9\r\n";
        message_status(
            id,
            message(body).smtputf8().body(Body::EightBitMime),
            Status::Pass,
        );
        message_status(
            id,
            message(b"Subject: caf\xc3\xa9\r\n\r\nhi\r\n").smtputf8(),
            Status::Pass,
        );
        message_status(id, message(body).smtputf8(), Status::Warn);
        message_status(id, message(body), Status::NotApplicable);
    }

    #[test]
    fn utf8_wellformed() {
        let id = "C-6532-UTF8-WELLFORMED";
        message_status(
            id,
            message(b"Subject: caf\xc3\xa9\r\n\r\nhi\r\n").smtputf8(),
            Status::Pass,
        );
        message_status(
            id,
            message(b"Subject: \xc3\x28\r\n\r\nhi\r\n").smtputf8(),
            Status::Fail,
        );
        message_status(
            id,
            message(b"Subject: caf\xe9\r\n\r\nhi\r\n").smtputf8(),
            Status::Fail,
        );
        message_status(
            id,
            message(b"Subject: \xc3\x28\r\n\r\nhi\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn dsn_only_if_advertised() {
        let id = "C-3461-ONLY-IF-ADVERTISED";
        pass(
            id,
            &envelope(&["DSN"], "RET=HDRS", " NOTIFY=FAILURE", "x\\r\\n"),
        );
        fail(id, &envelope(&["SIZE"], "", " NOTIFY=FAILURE", "x\\r\\n"));
        fail(id, &envelope(&["SIZE"], "ENVID=abc", "", "x\\r\\n"));
        not_applicable(id, &envelope(&["DSN"], "", "", "x\\r\\n"));
    }

    #[test]
    fn notify_syntax() {
        let id = "C-3461-NOTIFY-SYNTAX";
        pass(
            id,
            &envelope(&["DSN"], "", " NOTIFY=success,FAILURE,DELAY", "x\\r\\n"),
        );
        pass(id, &envelope(&["DSN"], "", " NOTIFY=NEVER", "x\\r\\n"));
        for bad in [
            " NOTIFY=NEVER,FAILURE",
            " NOTIFY=",
            " NOTIFY",
            " NOTIFY=SUCCESS, FAILURE",
            " NOTIFY=ALWAYS",
        ] {
            fail(id, &envelope(&["DSN"], "", bad, "x\\r\\n"));
        }
        not_applicable(id, &envelope(&["DSN"], "RET=FULL", "", "x\\r\\n"));
    }

    #[test]
    fn orcpt_syntax() {
        let id = "C-3461-ORCPT-SYNTAX";
        pass(
            id,
            &envelope(&["DSN"], "", " ORCPT=rfc822;b@mx.example", "x\\r\\n"),
        );
        pass(
            id,
            &envelope(
                &["DSN"],
                "",
                " ORCPT=UTF-8;us\\xc3\\xa9r@mx.example",
                "x\\r\\n",
            ),
        );
        let long = format!(" ORCPT=rfc822;{}@mx.example", "b".repeat(500));
        for bad in [
            " ORCPT=b@mx.example",
            " ORCPT=smtp;b@mx.example",
            " ORCPT=rfc822;",
            " ORCPT=rfc822;b+01@mx.example",
            long.as_str(),
        ] {
            fail(id, &envelope(&["DSN"], "", bad, "x\\r\\n"));
        }
        not_applicable(id, &envelope(&["DSN"], "", "", "x\\r\\n"));
    }

    #[test]
    fn orcpt_matches_rcpt() {
        let id = "C-3461-ORCPT-MATCHES-RCPT";
        let authed = |orcpt: &str| {
            envelope(&["DSN", "AUTH PLAIN"], "", orcpt, "x\\r\\n")
                .replace("C: MAIL", "C: AUTH PLAIN AGEAYg==\nS: 235 ok\nC: MAIL")
        };
        pass(id, &authed(" ORCPT=rfc822;b@MX.example"));
        fail(id, &authed(" ORCPT=rfc822;c@mx.example"));
        fail(id, &authed(" ORCPT=rfc822;B@mx.example"));
        // A relay (not authenticated) may pass on another address.
        not_applicable(
            id,
            &envelope(&["DSN"], "", " ORCPT=rfc822;c@mx.example", "x\\r\\n"),
        );
    }

    #[test]
    fn xtext() {
        let id = "C-3461-XTEXT";
        pass(
            id,
            &envelope(
                &["DSN"],
                "ENVID=Q+2B1",
                " ORCPT=rfc822;b+2Btag@mx.example",
                "x\\r\\n",
            ),
        );
        for (mail, rcpt) in [
            ("", " ORCPT=rfc822;b+tag@mx.example"),
            ("", " ORCPT=rfc822;b+2btag@mx.example"),
            ("ENVID=a=b", ""),
            ("ENVID=caf\\xc3\\xa9", ""),
        ] {
            fail(id, &envelope(&["DSN"], mail, rcpt, "x\\r\\n"));
        }
        not_applicable(id, &envelope(&["DSN"], "RET=FULL", "", "x\\r\\n"));
    }

    #[test]
    fn ret_syntax() {
        let id = "C-3461-RET-SYNTAX";
        pass(id, &envelope(&["DSN"], "RET=hdrs", "", "x\\r\\n"));
        for bad in ["RET", "RET=", "RET=HEADERS"] {
            fail(id, &envelope(&["DSN"], bad, "", "x\\r\\n"));
        }
        not_applicable(id, &envelope(&["DSN"], "", "", "x\\r\\n"));
    }

    #[test]
    fn envid_syntax() {
        let id = "C-3461-ENVID-SYNTAX";
        pass(id, &envelope(&["DSN"], "ENVID=QQ314159", "", "x\\r\\n"));
        let long = format!("ENVID={}", "q".repeat(101));
        for bad in ["ENVID", "ENVID=", long.as_str(), "ENVID=a+01b"] {
            fail(id, &envelope(&["DSN"], bad, "", "x\\r\\n"));
        }
        not_applicable(id, &envelope(&["DSN"], "", "", "x\\r\\n"));
    }

    #[test]
    fn dsn_no_duplicates() {
        let id = "C-3461-NO-DUPLICATES";
        pass(
            id,
            &envelope(
                &["DSN"],
                "RET=FULL ENVID=x",
                " NOTIFY=NEVER ORCPT=rfc822;b@mx.example",
                "x\\r\\n",
            ),
        );
        fail(id, &envelope(&["DSN"], "RET=FULL RET=HDRS", "", "x\\r\\n"));
        fail(
            id,
            &envelope(&["DSN"], "", " NOTIFY=FAILURE NOTIFY=DELAY", "x\\r\\n"),
        );
        not_applicable(id, &envelope(&["DSN"], "", "", "x\\r\\n"));
    }
}
