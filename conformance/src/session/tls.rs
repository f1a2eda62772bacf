//! Checks of section A.2–A.4 (RFC 3207 STARTTLS, RFC 8314 implicit TLS, RFC 6409 submission).

use smtp_protocol::command::Command;
use smtp_protocol::extension::Extensions;
use smtp_protocol::params::{Body, MailParam, RcptParam};
use smtp_protocol::transcript::{CloseReason, Event};

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::model::{parse_replies, Observation, SessionModel, Unit};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-3207-ONLY-IF-ADVERTISED",
        looks_at: "every STARTTLS: the current EHLO reply must have listed STARTTLS",
        example: "STARTTLS after HELO, or after an EHLO reply without STARTTLS",
        run: Run::Session(only_if_advertised),
    },
    Judge {
        id: "C-3207-NO-ARGS",
        looks_at: "every STARTTLS line: the bare verb, nothing after it",
        example: "STARTTLS TLSv1.3",
        run: Run::Session(no_args),
    },
    Judge {
        id: "C-3207-LAST-IN-GROUP",
        looks_at: "octets the client sent after STARTTLS before the server's reply (in any case, PIPELINING or not)",
        example: "STARTTLS\\r\\nEHLO client.example\\r\\n in one write",
        run: Run::Session(last_in_group),
    },
    Judge {
        id: "C-3207-TLS-IMMEDIATELY",
        looks_at: "what follows a 220 to STARTTLS: the TLS handshake (or a close), not a plaintext command",
        example: "S: 220 Ready to start TLS, then C: EHLO client.example in the clear",
        run: Run::Session(tls_immediately),
    },
    Judge {
        id: "C-3207-REEHLO",
        looks_at: "the first command after a STARTTLS handshake: EHLO (a warning otherwise; MAIL before it is a failure)",
        example: "MAIL FROM:<a@example.com> right after the TLS handshake",
        run: Run::Session(reehlo),
    },
    Judge {
        id: "C-3207-DISCARD-KNOWLEDGE",
        looks_at: "commands after a STARTTLS handshake using what only the pre-TLS EHLO offered (pipelining, an AUTH mechanism, BODY, SMTPUTF8, SIZE, DSN, BDAT)",
        example: "AUTH PLAIN after TLS when only the pre-TLS EHLO listed PLAIN",
        run: Run::Session(discard_knowledge),
    },
    Judge {
        id: "C-3207-RESPONSE-INJECTION",
        looks_at: "after plaintext lines injected behind the 220 to STARTTLS: the client waits for the real EHLO reply and ignores the injected capabilities",
        example: "S: 220 go\\r\\n250 AUTH PLAIN (injected), then AUTH PLAIN sent before the real EHLO reply",
        run: Run::Session(response_injection),
    },
    Judge {
        id: "C-3207-NO-DOUBLE-STARTTLS",
        looks_at: "every STARTTLS: none once TLS is active (after STARTTLS, or on an implicit-TLS port)",
        example: "STARTTLS on port 465",
        run: Run::Session(no_double_starttls),
    },
    Judge {
        id: "C-3207-454-DECISION",
        looks_at: "what follows 454 to STARTTLS: the client decides (goes on or quits) rather than waiting until the server times out",
        example: "S: 454 TLS not available, then silence until the timeout",
        run: Run::Session(decision_454),
    },
    Judge {
        id: "C-3207-QUIT-IF-INSUFFICIENT",
        looks_at: "after a STARTTLS handshake with a certificate the client should reject: QUIT or close, not AUTH or MAIL",
        example: "AUTH PLAIN after STARTTLS with an expired certificate",
        run: Run::Session(quit_if_insufficient),
    },
    Judge {
        id: "C-8314-IMPLICIT-TLS-FIRST-BYTES",
        looks_at: "on an implicit-TLS connection: the client's first octets are a TLS handshake (not plaintext, not silence)",
        example: "EHLO client.example sent in the clear to port 465",
        run: Run::Session(implicit_tls_first_bytes),
    },
    Judge {
        id: "C-8314-CERT-VALIDATION",
        looks_at: "after the server presented an invalid certificate (expired, wrong host, self-signed): no credentials (AUTH) and no mail (MAIL)",
        example: "AUTH LOGIN after a handshake with a self-signed certificate",
        run: Run::Session(cert_validation),
    },
    Judge {
        id: "C-8314-INVALID-CERT-NOT-CONFIDENTIAL",
        looks_at: "after a certificate that cannot be validated: the session is not treated as confidential (no AUTH, no MAIL)",
        example: "MAIL FROM:<a@example.com> after a handshake with a wrong-host certificate",
        run: Run::Session(invalid_cert_not_confidential),
    },
    Judge {
        id: "C-8314-TLS-VERSION",
        looks_at: "the negotiated TLS version (or a handshake refused because the client offered nothing newer): TLS 1.2 or later",
        example: "TLS established: TLSv1.1",
        run: Run::Session(tls_version),
    },
    Judge {
        id: "C-6409-AUTH-WHEN-REQUIRED",
        looks_at: "MAIL commands after a 530 (authentication required) to MAIL: none again without authenticating first",
        example: "MAIL answered 530, then MAIL again without AUTH",
        run: Run::Session(auth_when_required),
    },
    Judge {
        id: "C-6409-FQDN",
        looks_at: "on submission sessions (the submission listeners; else port 587/465, implicit TLS, or AUTH used): envelope domains fully qualified",
        example: "MAIL FROM:<user@localhost> after AUTH",
        run: Run::Session(fqdn),
    },
    Judge {
        id: "C-6409-NO-ETRN-ATRN",
        looks_at: "on submission sessions (the submission listeners; else port 587/465, implicit TLS, or AUTH used): no ETRN or ATRN",
        example: "ETRN example.com on port 587",
        run: Run::Session(no_etrn_atrn),
    },
];

// ---------------------------------------------------------------------------------------
// Shared readings.

/// The observation the server writes after a handshake with a deliberately invalid
/// certificate (`certificate presented: expired`, `wrong-host`, `self-signed`).
pub(crate) fn bad_certificate<'m>(model: &'m SessionModel<'_>) -> Option<&'m Observation> {
    model.observations.iter().find(|o| {
        o.check == "C-8314-CERT-VALIDATION" && o.text.starts_with("certificate presented")
    })
}

/// The STARTTLS commands.
fn starttls_units<'m>(model: &'m SessionModel<'_>) -> impl Iterator<Item = &'m Unit> {
    model.units.iter().filter(|u| u.verb() == "STARTTLS")
}

/// The transcript entries where TLS came up, with the version.
fn handshakes<'m>(model: &'m SessionModel<'_>) -> Vec<(usize, &'m str)> {
    model
        .transcript
        .entries()
        .enumerate()
        .filter_map(|(i, e)| match &e.event {
            Event::TlsEstablished { version, .. } => Some((i, version.as_str())),
            _ => None,
        })
        .collect()
}

/// The first handshake after transcript entry `entry`.
fn handshake_after(model: &SessionModel<'_>, entry: usize) -> Option<usize> {
    handshakes(model)
        .into_iter()
        .map(|(i, _)| i)
        .find(|&i| i > entry)
}

/// The text of the failed handshake's note ("TLS handshake failed: <error>").
fn tls_failure<'m>(model: &'m SessionModel<'_>) -> Option<(usize, &'m str)> {
    let entry = model.tls_failed?;
    match &model.transcript.entries().nth(entry)?.event {
        Event::Note { text, .. } => Some((entry, text.as_str())),
        _ => None,
    }
}

/// A handshake error that proves the client's first octets were not a TLS record: rustls
/// names the record's content type invalid (plaintext such as `EHLO` starts with a letter,
/// where a handshake record starts with 0x16).
fn plaintext_failure(text: &str) -> bool {
    text.contains("InvalidContentType")
}

/// The local port of the connection.
fn local_port(model: &SessionModel<'_>) -> Option<u16> {
    model.transcript.entries().find_map(|e| match &e.event {
        Event::Connected { local, .. } => local.rsplit(':').next()?.parse().ok(),
        _ => None,
    })
}

/// Whether the session is message submission (RFC 6409): the listener it came in on, when
/// the transcript names it; else it looks like it: the submission ports (the fake server's
/// 1587 and 1465 included), implicit TLS, or a client that authenticated.
fn is_submission(model: &SessionModel<'_>) -> bool {
    model.is_submission().unwrap_or_else(|| {
        matches!(local_port(model), Some(587 | 465 | 1587 | 1465))
            || model.implicit_tls
            || model.commands().any(|(_, c)| c.verb == "AUTH")
    })
}

fn at_unit(unit: &Unit, detail: impl Into<std::borrow::Cow<'static, str>>) -> Finding {
    Finding::at_entry(unit.entry, unit.evidence(), detail)
}

/// The unit just before `unit` was the STARTTLS its handshake answered.
fn first_after_starttls(model: &SessionModel<'_>, unit: &Unit) -> bool {
    unit.state.tls_fresh
        && unit
            .index
            .checked_sub(1)
            .and_then(|i| model.units.get(i))
            .is_some_and(|prev| prev.verb() == "STARTTLS")
}

// ---------------------------------------------------------------------------------------
// A.2 RFC 3207.

/// RFC 3207 §3 and the RFC 5321 extension model: STARTTLS only when advertised.
fn only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let mut sent = false;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        sent = true;
        let hello = &unit.state.hello;
        if hello.offers("STARTTLS") {
            continue;
        }
        let detail = if hello.is_helo() {
            "STARTTLS after HELO: only an EHLO reply can advertise it"
        } else if hello.is_none() {
            "STARTTLS before any accepted EHLO"
        } else {
            "STARTTLS although the current EHLO reply did not list it"
        };
        findings.push(at_unit(unit, detail));
    }
    Outcome::judged(sent, "the client sent no STARTTLS", findings)
}

/// RFC 3207 §4: "STARTTLS with no parameters."
fn no_args(model: &SessionModel<'_>) -> Outcome {
    let mut sent = false;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        sent = true;
        if unit
            .line()
            .is_some_and(|l| !l.raw.eq_ignore_ascii_case(b"STARTTLS"))
        {
            findings.push(at_unit(
                unit,
                "STARTTLS takes no parameters (not even trailing spaces)",
            ));
        }
    }
    Outcome::judged(sent, "the client sent no STARTTLS", findings)
}

/// RFC 3207 §4: "the STARTTLS command must be the last command in a group"; RFC 2920 §3.1.
fn last_in_group(model: &SessionModel<'_>) -> Outcome {
    let mut sent = false;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        sent = true;
        if let Some(next) = model.next(unit.index).filter(|n| n.pipelined) {
            findings.push(at_unit(
                next,
                "sent after STARTTLS before the server had answered it",
            ));
        }
    }
    for observation in model
        .observations
        .iter()
        .filter(|o| o.check == "C-3207-LAST-IN-GROUP")
    {
        findings.push(Finding::at_entry(
            observation.entry,
            observation.text.as_bytes(),
            "octets sent in the clear after STARTTLS, before the handshake (the server discarded them)",
        ));
    }
    Outcome::judged(sent, "the client sent no STARTTLS", findings)
}

/// RFC 3207 §4: "After receiving a 220 response to a STARTTLS command, the client MUST start
/// the TLS negotiation before giving any other SMTP commands."
fn tls_immediately(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        let Some(reply) = unit.reply.as_ref().filter(|r| r.is(220)) else {
            continue;
        };
        let next = model.next(unit.index);
        if let Some(next) = next.filter(|n| n.state.starttls_accepted && !n.state.tls) {
            judged += 1;
            findings.push(at_unit(
                next,
                "a plaintext command after 220 to STARTTLS, instead of the TLS handshake",
            ));
            continue;
        }
        if handshake_after(model, reply.entry).is_some() {
            judged += 1;
            continue;
        }
        match tls_failure(model).filter(|(entry, _)| *entry > reply.entry) {
            Some((entry, text)) if plaintext_failure(text) => {
                judged += 1;
                findings.push(Finding::at_entry(
                    entry,
                    text.as_bytes(),
                    "the octets after 220 to STARTTLS were not a TLS handshake record (plaintext?)",
                ));
            }
            // A failure that does not show what the client sent: not judged.
            Some(_) => {}
            // No handshake and no failure: the client closed, as §4 allows when it cannot
            // start TLS.
            None if next.is_none() => judged += 1,
            None => {}
        }
    }
    Outcome::judged(
        judged > 0,
        "no STARTTLS was accepted with 220, or what followed does not show the client's first octets",
        findings,
    )
}

/// RFC 3207 §4.2: "The client SHOULD send an EHLO command as the first command after a
/// successful TLS negotiation"; MAIL before it breaks RFC 5321 §4.1.1.1 (a failure).
fn reehlo(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut after_starttls = false;
    let mut findings = Vec::new();
    for unit in &model.units {
        let is_mail = matches!(unit.parsed(), Some(Command::Mail { .. }));
        if first_after_starttls(model, unit) {
            after_starttls = true;
            judged += 1;
            match unit.verb() {
                "EHLO" | "QUIT" => {}
                _ if is_mail => findings.push(
                    at_unit(unit, "MAIL right after the TLS handshake, without a new EHLO").fail(),
                ),
                verb => findings.push(at_unit(
                    unit,
                    format!("{verb} as the first command after the TLS handshake; EHLO should come first"),
                )),
            }
            continue;
        }
        if after_starttls && is_mail && unit.state.tls && unit.state.hello.is_none() {
            findings.push(at_unit(unit, "MAIL after the TLS handshake without a new EHLO").fail());
        }
    }
    Outcome::judged(
        judged > 0,
        "no command followed a STARTTLS handshake",
        findings,
    )
}

/// The capabilities of an EHLO reply other than STARTTLS, to compare two replies.
fn capability_set(extensions: &Extensions) -> Vec<String> {
    let mut set: Vec<String> = extensions
        .0
        .iter()
        .filter(|e| e.keyword() != "STARTTLS")
        .map(|e| e.to_string().to_ascii_uppercase())
        .collect();
    set.sort();
    set
}

/// What `unit` uses that only the pre-TLS EHLO reply offered.
fn stale_use(pre: &Extensions, unit: &Unit) -> Option<String> {
    let current = unit.state.hello.extensions();
    let only_before = |keyword: &str| pre.has(keyword) && !current.is_some_and(|c| c.has(keyword));
    let verb = unit.verb();
    if verb == "AUTH" && pre.has("AUTH") {
        let mechanism = match unit.parsed() {
            Some(Command::Auth { mechanism, .. }) => mechanism.to_ascii_uppercase(),
            _ => String::new(),
        };
        let Some(current) = current else {
            return Some(
                "AUTH after the handshake before a new EHLO: it relies on the pre-TLS capabilities"
                    .into(),
            );
        };
        let offered = |e: &Extensions| {
            e.auth_mechanisms()
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&mechanism))
        };
        if offered(pre) && !offered(current) {
            return Some(format!(
                "AUTH {mechanism}, which only the EHLO reply before TLS offered"
            ));
        }
    }
    if unit.pipelined && unit.command().is_some() && only_before("PIPELINING") {
        return Some(
            "pipelined, although only the EHLO reply before TLS offered PIPELINING".into(),
        );
    }
    let keyword = match unit.parsed()? {
        Command::Mail { params, .. } => params.iter().find_map(|p| {
            let needs = match p {
                MailParam::Body(Body::EightBitMime) => "8BITMIME",
                MailParam::Body(Body::BinaryMime) => "BINARYMIME",
                MailParam::SmtpUtf8 => "SMTPUTF8",
                MailParam::Size(_) => "SIZE",
                MailParam::Ret(_) | MailParam::EnvId(_) => "DSN",
                _ => return None,
            };
            only_before(needs).then_some(needs)
        }),
        Command::Rcpt { params, .. } => params
            .iter()
            .any(|p| matches!(p, RcptParam::Notify(_) | RcptParam::Orcpt { .. }))
            .then_some("DSN")
            .filter(|k| only_before(k)),
        Command::Bdat { .. } => Some("CHUNKING").filter(|k| only_before(k)),
        _ => None,
    }?;
    Some(format!(
        "{verb} uses {keyword}, which only the EHLO reply before TLS offered"
    ))
}

/// RFC 3207 §4.2 and §6: "The client MUST discard any knowledge obtained from the server,
/// such as the list of SMTP service extensions, which was not obtained from the TLS
/// negotiation itself."
fn discard_knowledge(model: &SessionModel<'_>) -> Outcome {
    let mut judged = false;
    let mut findings = Vec::new();
    for starttls in starttls_units(model) {
        let Some(pre) = starttls.state.hello.extensions() else {
            continue;
        };
        let before = capability_set(pre);
        for unit in model.after(starttls.index).iter().filter(|u| u.state.tls) {
            if let Some(current) = unit.state.hello.extensions() {
                judged |= capability_set(current) != before;
            }
            if let Some(detail) = stale_use(pre, unit) {
                findings.push(at_unit(unit, detail));
            }
        }
    }
    Outcome::judged(
        judged,
        "no STARTTLS handshake was followed by an EHLO reply that differs from the one before",
        findings,
    )
}

/// The AUTH mechanisms in plaintext replies injected behind the 220.
fn injected_mechanisms(replies: &[&crate::model::ServerReply]) -> Vec<String> {
    let mut mechanisms = Vec::new();
    for reply in replies {
        let parsed = match reply.code {
            Some(_) => vec![(*reply).clone()],
            None => parse_replies(
                reply.entry,
                reply.at_us,
                &String::from_utf8_lossy(&reply.raw),
            ),
        };
        for r in parsed.iter().filter(|r| r.is(250)) {
            let extensions = Extensions::from_ehlo_lines(&r.lines);
            mechanisms.extend(
                extensions
                    .auth_mechanisms()
                    .iter()
                    .map(|m| m.to_ascii_uppercase()),
            );
        }
    }
    mechanisms
}

/// RFC 3207 §6: the client must not take plaintext sent behind the 220 for a reply.
fn response_injection(model: &SessionModel<'_>) -> Outcome {
    let mut judged = false;
    let mut findings = Vec::new();
    for starttls in starttls_units(model) {
        let Some(reply) = starttls.reply.as_ref().filter(|r| r.is(220)) else {
            continue;
        };
        let Some(tls) = handshake_after(model, reply.entry) else {
            continue;
        };
        let injected: Vec<_> = model
            .unsolicited
            .iter()
            .filter(|u| u.after == Some(starttls.index) && u.reply.entry < tls)
            .map(|u| &u.reply)
            .collect();
        let post: Vec<&Unit> = model
            .after(starttls.index)
            .iter()
            .filter(|u| u.entry > tls)
            .collect();
        if injected.is_empty() || post.is_empty() {
            continue;
        }
        judged = true;
        if let Some(ehlo) = post.first().filter(|u| u.verb() == "EHLO") {
            if let Some(next) = model.next(ehlo.index).filter(|n| n.pipelined) {
                findings.push(at_unit(
                    next,
                    "sent before the real EHLO reply: the client took the injected plaintext for it",
                ));
            }
        }
        let mechanisms = injected_mechanisms(&injected);
        for unit in &post {
            let Some(Command::Auth { mechanism, .. }) = unit.parsed() else {
                continue;
            };
            let real = unit.state.hello.extensions().is_some_and(|e| {
                e.auth_mechanisms()
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(mechanism))
            });
            if !real && mechanisms.contains(&mechanism.to_ascii_uppercase()) {
                findings.push(at_unit(
                    unit,
                    format!("AUTH {mechanism}, which only the injected plaintext reply offered"),
                ));
            }
        }
    }
    Outcome::judged(
        judged,
        "the server injected no plaintext behind its 220 to STARTTLS (or no command followed the handshake)",
        findings,
    )
}

/// RFC 3207 §4.2: "A client MUST NOT attempt to start a TLS session if a TLS session is
/// already active."
fn no_double_starttls(model: &SessionModel<'_>) -> Outcome {
    let mut sent = false;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        sent = true;
        if unit.state.tls {
            let detail = if model.implicit_tls {
                "STARTTLS on an implicit-TLS connection, where TLS is already active"
            } else {
                "STARTTLS after TLS was already established"
            };
            findings.push(at_unit(unit, detail));
        }
    }
    Outcome::judged(sent, "the client sent no STARTTLS", findings)
}

/// RFC 3207 §4: after 454 "the client must decide whether or not to continue"; a client that
/// neither goes on nor quits has not decided.
fn decision_454(model: &SessionModel<'_>) -> Outcome {
    let mut seen = false;
    let mut findings = Vec::new();
    for unit in starttls_units(model) {
        if unit.reply_code() != Some(454) {
            continue;
        }
        seen = true;
        if model.next(unit.index).is_none() && model.closed_by() == Some(CloseReason::Timeout) {
            findings.push(at_unit(
                unit,
                "after 454 the client neither went on nor quit: it waited until the server timed out",
            ));
        }
    }
    Outcome::judged(seen, "no STARTTLS was answered 454", findings)
}

/// The first AUTH or MAIL after an observation.
fn auth_or_mail_after<'m>(model: &'m SessionModel<'_>, entry: usize) -> Option<&'m Unit> {
    model
        .units
        .iter()
        .filter(|u| u.entry > entry)
        .find(|u| matches!(u.verb(), "AUTH" | "MAIL"))
}

/// A finding for credentials or mail sent after an invalid certificate.
fn used_after_bad_certificate(model: &SessionModel<'_>, what: &str) -> Outcome {
    let Some(bad) = bad_certificate(model) else {
        return Outcome::not_applicable("the server presented no invalid certificate");
    };
    let findings = auth_or_mail_after(model, bad.entry)
        .map(|unit| {
            let sent = if unit.verb() == "AUTH" {
                "credentials (AUTH)"
            } else {
                "mail (MAIL)"
            };
            at_unit(
                unit,
                format!("{sent} after the server's {} ({what})", bad.text),
            )
        })
        .into_iter()
        .collect();
    Outcome::judged(true, "", findings)
}

/// RFC 3207 §4.1: "it SHOULD issue an SMTP QUIT command immediately after the TLS
/// negotiation is complete."
fn quit_if_insufficient(model: &SessionModel<'_>) -> Outcome {
    let Some(bad) = bad_certificate(model) else {
        return Outcome::not_applicable("the server presented no invalid certificate");
    };
    if !starttls_units(model).any(|u| u.entry < bad.entry) {
        return Outcome::not_applicable(
            "the invalid certificate came with implicit TLS, not STARTTLS",
        );
    }
    used_after_bad_certificate(
        model,
        "the client should have quit right after the handshake",
    )
}

/// RFC 8314 §3.3: "a TLS handshake begins immediately" on the implicit-TLS port.
fn implicit_tls_first_bytes(model: &SessionModel<'_>) -> Outcome {
    if model.implicit_tls {
        return Outcome::Pass;
    }
    // A failed implicit-TLS handshake is a session with no greeting and nothing else.
    let implicit_failure = model.greeting.is_none() && model.units.is_empty();
    match tls_failure(model).filter(|_| implicit_failure) {
        Some((entry, text)) if plaintext_failure(text) => {
            Outcome::Violations(vec![Finding::at_entry(
                entry,
                text.as_bytes(),
                "the client's first octets on the implicit-TLS port were not a TLS handshake (plaintext such as EHLO?)",
            )])
        }
        Some((entry, text)) if text.contains("no handshake within") => {
            Outcome::Violations(vec![Finding::at_entry(
                entry,
                text.as_bytes(),
                "the client sent nothing on the implicit-TLS port: it waited for a plaintext greeting",
            )])
        }
        // An alert or a version mismatch: the client did speak TLS first.
        Some((_, text)) if text.contains("alert") || text.contains("peer is incompatible") => {
            Outcome::Pass
        }
        Some(_) => Outcome::not_applicable(
            "the implicit-TLS handshake failed in a way that does not show what the client sent first",
        ),
        None => Outcome::not_applicable("not an implicit-TLS connection"),
    }
}

/// RFC 8314 §3.3: "Clients MUST implement the certificate validation mechanism described in
/// [RFC7817]."
fn cert_validation(model: &SessionModel<'_>) -> Outcome {
    used_after_bad_certificate(model, "the client must abort when validation fails")
}

/// RFC 8314 §5: "MUAs MUST NOT treat a session as meeting a minimum level of confidentiality
/// if the server's TLS certificate cannot be validated."
fn invalid_cert_not_confidential(model: &SessionModel<'_>) -> Outcome {
    used_after_bad_certificate(model, "the session was treated as confidential")
}

/// Whether a negotiated version is older than TLS 1.2 (`None`: not recognised).
fn older_than_tls12(version: &str) -> Option<bool> {
    match version {
        "TLSv1.2" | "TLSv1.3" | "0x0303" | "0x0304" => Some(false),
        "TLSv1" | "TLSv1.0" | "TLSv1.1" | "SSLv2" | "SSLv3" | "0x0300" | "0x0301" | "0x0302" => {
            Some(true)
        }
        _ => None,
    }
}

/// RFC 8997 / RFC 8996 (BCP 195): TLS 1.0 and 1.1 are deprecated.
fn tls_version(model: &SessionModel<'_>) -> Outcome {
    let mut judged = false;
    let mut findings = Vec::new();
    for (entry, version) in handshakes(model) {
        let Some(old) = older_than_tls12(version) else {
            continue;
        };
        judged = true;
        if old {
            findings.push(Finding::at_entry(
                entry,
                version.as_bytes(),
                format!("TLS negotiated at {version}, older than TLS 1.2"),
            ));
        }
    }
    if let Some((entry, text)) = tls_failure(model).filter(|(_, t)| t.contains("Tls12NotOffered")) {
        judged = true;
        findings.push(Finding::at_entry(
            entry,
            text.as_bytes(),
            "the client offered no TLS version from 1.2 up",
        ));
    }
    Outcome::judged(
        judged,
        "no TLS handshake with a known version took place",
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// A.4 RFC 6409.

/// RFC 6409 §4.3 (530 to MAIL when not authenticated): the client must not loop on
/// unauthenticated MAIL. A MAIL again without authenticating after a 530 to MAIL fails; a
/// TLS handshake starts over (530 also answers "STARTTLS first", RFC 3207 §4).
fn auth_when_required(model: &SessionModel<'_>) -> Outcome {
    let mut seen = false;
    let mut refused = false;
    let mut findings = Vec::new();
    for (unit, command) in model.commands() {
        if unit.state.tls_fresh {
            refused = false;
        }
        if command.verb != "MAIL" {
            continue;
        }
        if refused && !unit.state.authenticated {
            findings.push(at_unit(
                unit,
                "MAIL again without authenticating after the server answered 530 (authentication required)",
            ));
        }
        if unit.reply_code() == Some(530) && !unit.state.authenticated {
            seen = true;
            refused = true;
        }
    }
    Outcome::judged(seen, "no MAIL was answered 530", findings)
}

/// An unqualified domain: not an address literal, and no dot.
fn unqualified(domain: &str) -> bool {
    !domain.starts_with('[') && !domain.trim_end_matches('.').contains('.')
}

/// RFC 6409 §4.2: "The MSA MUST ensure that all domains in the SMTP envelope are fully
/// qualified." (RFC 5321 §2.3.5.)
fn fqdn(model: &SessionModel<'_>) -> Outcome {
    if !is_submission(model) {
        return Outcome::not_applicable("not a submission session");
    }
    let mut judged = false;
    let mut findings = Vec::new();
    for (unit, _) in model.commands() {
        let mailbox = match unit.parsed() {
            Some(Command::Mail { reverse_path, .. }) => reverse_path.mailbox(),
            Some(Command::Rcpt { forward_path, .. }) => forward_path.mailbox(),
            _ => continue,
        };
        let Some(mailbox) = mailbox else { continue };
        judged = true;
        if unqualified(mailbox.domain()) {
            findings.push(at_unit(
                unit,
                format!(
                    "the envelope domain {:?} is not fully qualified",
                    mailbox.domain()
                ),
            ));
        }
    }
    Outcome::judged(
        judged,
        "the client sent no envelope address with a domain",
        findings,
    )
}

/// RFC 6409 §7, Table 1: ETRN and ATRN "MUST NOT" be used on the submission port.
fn no_etrn_atrn(model: &SessionModel<'_>) -> Outcome {
    if !is_submission(model) {
        return Outcome::not_applicable("not a submission session");
    }
    let findings = model
        .commands()
        .filter(|(_, c)| matches!(c.verb.as_str(), "ETRN" | "ATRN"))
        .map(|(unit, c)| at_unit(unit, format!("{} on a submission session", c.verb)))
        .collect();
    Outcome::judged(!model.units.is_empty(), "the client sent nothing", findings)
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    const TLS_START: &str =
        "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n";

    fn with(prefix: &str, rest: &str) -> String {
        format!("{prefix}{rest}")
    }

    #[test]
    fn only_if_advertised() {
        let id = "C-3207-ONLY-IF-ADVERTISED";
        pass(id, TLS_START);
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: STARTTLS\nS: 502 no",
        );
        fail(
            id,
            "S: 220 mx\nC: HELO c.example\nS: 250 mx\nC: STARTTLS\nS: 503 no",
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
    }

    #[test]
    fn no_args() {
        let id = "C-3207-NO-ARGS";
        pass(id, TLS_START);
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS now\nS: 501 no",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn last_in_group() {
        let id = "C-3207-LAST-IN-GROUP";
        pass(id, &with(TLS_START, "C: EHLO c.example\nS: 250 mx"));
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nC+: EHLO c.example\n\
             S: 454 not now\nS: 250 mx",
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             !! C-3207-LAST-IN-GROUP: 35 octets sent after STARTTLS, before the handshake, were discarded\n** TLS",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn tls_immediately() {
        let id = "C-3207-TLS-IMMEDIATELY";
        pass(id, TLS_START);
        pass(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** closed peer-closed",
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             ** TLS handshake failed: received corrupt message of type InvalidContentType\n** closed error",
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             C: MAIL FROM:<a@c.example>\nS: 503 no",
        );
        // A failure that does not tell what the client sent is left unjudged.
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             ** TLS handshake failed: received fatal alert: BadCertificate\n** closed error",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn reehlo() {
        let id = "C-3207-REEHLO";
        pass(id, &with(TLS_START, "C: EHLO c.example\nS: 250 mx"));
        pass(id, &with(TLS_START, "C: QUIT\nS: 221 bye"));
        warn(
            id,
            &with(
                TLS_START,
                "C: NOOP\nS: 250 ok\nC: EHLO c.example\nS: 250 mx",
            ),
        );
        fail(
            id,
            &with(TLS_START, "C: MAIL FROM:<a@c.example>\nS: 503 no"),
        );
        fail(
            id,
            &with(
                TLS_START,
                "C: NOOP\nS: 250 ok\nC: MAIL FROM:<a@c.example>\nS: 503 no",
            ),
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn discard_knowledge() {
        let id = "C-3207-DISCARD-KNOWLEDGE";
        let pre = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250-SIZE 1000\n\
                   S: 250-AUTH PLAIN\nS: 250-8BITMIME\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
                   C: EHLO c.example\nS: 250-mx\nS: 250-SIZE 10000000\nS: 250 AUTH LOGIN\n";
        pass(
            id,
            &with(pre, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok\n\
                        C: MAIL FROM:<a@c.example> SIZE=5000\nS: 250 ok"),
        );
        fail(id, &with(pre, "C: AUTH PLAIN AHUAcA==\nS: 504 no"));
        fail(
            id,
            &with(pre, "C: MAIL FROM:<a@c.example> BODY=8BITMIME\nS: 555 no"),
        );
        fail(
            id,
            &with(
                pre,
                "C: MAIL FROM:<a@c.example>\nC+: RCPT TO:<b@mx.example>\nS: 250 ok\nS: 250 ok",
            ),
        );
        // AUTH before the post-TLS EHLO relies on the old list.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-AUTH PLAIN\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: AUTH PLAIN AHUAcA==\nS: 503 no",
        );
        // The same extensions before and after TLS: nothing to discard.
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250-PIPELINING\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: EHLO c.example\nS: 250-mx\nS: 250 PIPELINING\nC: MAIL FROM:<a@c.example>\nC+: RCPT TO:<b@mx.example>\nS: 250 ok\nS: 250 ok",
        );
    }

    #[test]
    fn response_injection() {
        let id = "C-3207-RESPONSE-INJECTION";
        let injected = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
                        S: 250-injected\nS: 250 AUTH PLAIN\n** TLS\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH LOGIN\n";
        pass(
            id,
            &with(injected, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok"),
        );
        fail(id, &with(injected, "C+: AUTH PLAIN AHUAcA==\nS: 504 no"));
        fail(id, &with(injected, "C: AUTH PLAIN AHUAcA==\nS: 504 no"));
        // Injected as raw octets.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             S(raw): 250-injected\\r\\n250 AUTH PLAIN\\r\\n\n** TLS\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH LOGIN\n\
             C: AUTH PLAIN AHUAcA==\nS: 504 no",
        );
        not_applicable(id, &with(TLS_START, "C: EHLO c.example\nS: 250 mx"));
    }

    #[test]
    fn no_double_starttls() {
        let id = "C-3207-NO-DOUBLE-STARTTLS";
        pass(id, TLS_START);
        fail(
            id,
            &with(
                TLS_START,
                "C: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 503 no",
            ),
        );
        fail(
            id,
            "** TLS\nS: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: STARTTLS\nS: 503 already",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn decision_454() {
        let id = "C-3207-454-DECISION";
        let refused =
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 454 not now\n";
        pass(id, &with(refused, "C: MAIL FROM:<a@c.example>\nS: 250 ok"));
        pass(id, &with(refused, "C: QUIT\nS: 221 bye\n** closed quit"));
        warn(
            id,
            &with(refused, "@ 300\nS: 421 timeout\n** closed timeout"),
        );
        not_applicable(id, TLS_START);
    }

    const BAD_CERT: &str = "!! C-8314-CERT-VALIDATION: certificate presented: expired\n";

    #[test]
    fn quit_if_insufficient() {
        let id = "C-3207-QUIT-IF-INSUFFICIENT";
        let start = with(TLS_START, BAD_CERT);
        pass(id, &with(&start, "C: QUIT\nS: 221 bye"));
        pass(id, &with(&start, "** closed peer-closed"));
        warn(
            id,
            &with(&start, "C: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AHUAcA==\nS: 235 ok"),
        );
        not_applicable(id, &with(TLS_START, "C: QUIT\nS: 221 bye"));
        not_applicable(
            id,
            &format!("** TLS\n{BAD_CERT}S: 220 mx\nC: QUIT\nS: 221 bye"),
        );
    }

    #[test]
    fn implicit_tls_first_bytes() {
        let id = "C-8314-IMPLICIT-TLS-FIRST-BYTES";
        pass(id, "** TLS\nS: 220 mx\nC: EHLO c.example\nS: 250 mx");
        fail(
            id,
            "** TLS handshake failed: received corrupt message of type InvalidContentType\n** closed error",
        );
        fail(
            id,
            "** TLS handshake failed: no handshake within 10s\n** closed error",
        );
        pass(
            id,
            "** TLS handshake failed: received fatal alert: UnknownCA\n** closed error",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn cert_validation() {
        for id in [
            "C-8314-CERT-VALIDATION",
            "C-8314-INVALID-CERT-NOT-CONFIDENTIAL",
        ] {
            let implicit = format!(
                "** TLS\n{BAD_CERT}S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\n"
            );
            pass(id, &with(&implicit, "C: QUIT\nS: 221 bye"));
            pass(id, &format!("** TLS\n{BAD_CERT}** closed peer-closed"));
            fail(id, &with(&implicit, "C: AUTH PLAIN AHUAcA==\nS: 235 ok"));
            fail(
                id,
                &with(
                    &with(TLS_START, BAD_CERT),
                    "C: EHLO c.example\nS: 250 mx\nC: MAIL FROM:<a@c.example>\nS: 250 ok",
                ),
            );
            not_applicable(
                id,
                &with(
                    TLS_START,
                    "C: EHLO c.example\nS: 250 mx\nC: MAIL FROM:<a@c.example>\nS: 250 ok",
                ),
            );
        }
    }

    #[test]
    fn tls_version() {
        let id = "C-8314-TLS-VERSION";
        pass(id, TLS_START);
        let mut old = transcript(
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go",
        );
        old.push(
            std::time::Duration::from_millis(9),
            smtp_protocol::transcript::Event::TlsEstablished {
                version: "TLSv1.1".to_owned(),
                cipher: "TLS_RSA_WITH_AES_128_CBC_SHA".to_owned(),
                sni: None,
            },
        );
        let model = crate::model::SessionModel::build(&old);
        let outcome = super::tls_version(&model);
        assert_eq!(
            status(id, &outcome),
            crate::check::Status::Warn,
            "{outcome:?}"
        );
        warn(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n\
             ** TLS handshake failed: peer is incompatible: Tls12NotOffered\n** closed error",
        );
        not_applicable(id, "S: 220 mx\nC: EHLO c.example\nS: 250 mx");
    }

    #[test]
    fn auth_when_required() {
        let id = "C-6409-AUTH-WHEN-REQUIRED";
        let start = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: MAIL FROM:<a@c.example>\nS: 530 5.7.0 Authentication required\n";
        pass(
            id,
            &with(
                start,
                "C: AUTH PLAIN AHUAcA==\nS: 235 ok\nC: MAIL FROM:<a@c.example>\nS: 250 ok",
            ),
        );
        pass(id, &with(start, "C: QUIT\nS: 221 bye"));
        fail(
            id,
            &with(
                start,
                "C: RSET\nS: 250 ok\nC: MAIL FROM:<a@c.example>\nS: 530 again",
            ),
        );
        not_applicable(id, &simple_session(&[], "", "x\\r\\n"));
    }

    const SUBMISSION: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN AHUAcA==\nS: 235 ok\n";

    #[test]
    fn fqdn() {
        let id = "C-6409-FQDN";
        pass(
            id,
            &with(
                SUBMISSION,
                "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@[192.0.2.1]>\nS: 250 ok",
            ),
        );
        fail(
            id,
            &with(SUBMISSION, "C: MAIL FROM:<a@localhost>\nS: 250 ok"),
        );
        fail(
            id,
            &with(
                SUBMISSION,
                "C: MAIL FROM:<a@c.example>\nS: 250 ok\nC: RCPT TO:<b@mail>\nS: 250 ok",
            ),
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: MAIL FROM:<a@localhost>\nS: 250 ok",
        );
    }

    #[test]
    fn no_etrn_atrn() {
        let id = "C-6409-NO-ETRN-ATRN";
        pass(id, &with(SUBMISSION, "C: QUIT\nS: 221 bye"));
        fail(id, &with(SUBMISSION, "C: ETRN example.com\nS: 502 no"));
        fail(
            id,
            "** TLS\nS: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: ATRN\nS: 502 no",
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: ETRN example.com\nS: 502 no",
        );
    }
}
