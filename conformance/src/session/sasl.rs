//! Checks of section A.6 (the SASL mechanisms carried in AUTH): PLAIN (RFC 4616), LOGIN
//! (draft-murchison-sasl-login-00), CRAM-MD5 (RFC 2195), OAUTHBEARER (RFC 7628), Google's
//! XOAUTH2 and SCRAM (RFC 5802, RFC 7677). What the client sent is decoded and compared with
//! each mechanism's grammar; proofs and digests are not verified (that needs the password).

use smtp_protocol::sasl::oauth::{parse_oauthbearer, ParseError, Parsed};

use crate::check::Outcome;
use crate::judges::{Judge, Run};
use crate::model::{ServerReply, SessionModel, Unit};
use crate::session::auth::{
    at_reply, at_unit, decode_challenge, decode_initial, decode_lenient, exchanges,
    is_oauth_error_challenge, silence, wrapped_lines, Exchange, Turn,
};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-4616-MESSAGE-FORMAT",
        looks_at: "the decoded PLAIN message: [authzid] NUL authcid NUL password, both of the last two non-empty, nothing after the password",
        example: "AUTH PLAIN dXNlcgBwYXNz (user NUL pass: only one NUL)",
        run: Run::Session(plain_message_format),
    },
    Judge {
        id: "C-4616-UTF8",
        looks_at: "the decoded PLAIN message: identities and password in UTF-8",
        example: "a PLAIN password sent as Latin-1 (0xE9 for \u{e9})",
        run: Run::Session(plain_utf8),
    },
    Judge {
        id: "C-4616-NOT-IN-CLEAR",
        looks_at: "AUTH PLAIN on a connection without TLS",
        example: "AUTH PLAIN AGEAYg== on port 25 before STARTTLS",
        run: Run::Session(plain_not_in_clear),
    },
    Judge {
        id: "C-LOGIN-PREFER-PLAIN",
        looks_at: "the mechanism chosen when both LOGIN and PLAIN are advertised: PLAIN, not LOGIN",
        example: "AUTH LOGIN after 250 AUTH LOGIN PLAIN",
        run: Run::Session(login_prefer_plain),
    },
    Judge {
        id: "C-LOGIN-EXCHANGE",
        looks_at: "LOGIN exchanges: every valid challenge answered (its text ignored), not cancelled or left unanswered",
        example: "S: 334 VXNlciBOYW1lAA== (\"User Name\\0\") and the client cancels with *",
        run: Run::Session(login_exchange),
    },
    Judge {
        id: "C-LOGIN-NO-IR",
        looks_at: "AUTH LOGIN lines: no initial response (the server asks first)",
        example: "AUTH LOGIN dXNlcg==",
        run: Run::Session(login_no_ir),
    },
    Judge {
        id: "C-LOGIN-IDENTITY-RULES",
        looks_at: "the decoded LOGIN user name (UTF-8, under 64 characters) and password (no NUL, CR or LF)",
        example: "a LOGIN password that decodes to \"secret\\r\\n\"",
        run: Run::Session(login_identity_rules),
    },
    Judge {
        id: "C-LOGIN-NOT-IN-CLEAR",
        looks_at: "AUTH LOGIN on a connection without TLS",
        example: "AUTH LOGIN on port 25 before STARTTLS",
        run: Run::Session(login_not_in_clear),
    },
    Judge {
        id: "C-2195-RESPONSE-FORMAT",
        looks_at: "the decoded CRAM-MD5 response: user name, one space, 32 lower-case hex digits",
        example: "a response decoding to \"tim B913A602C7EDA7A495B4E6E7334D3890\" (upper-case hex)",
        run: Run::Session(cram_response_format),
    },
    Judge {
        id: "C-2195-NO-IR",
        looks_at: "AUTH CRAM-MD5 lines: no initial response (the server sends the challenge first)",
        example: "AUTH CRAM-MD5 dGltIGI5MTNh...",
        run: Run::Session(cram_no_ir),
    },
    Judge {
        id: "C-2195-SECURITY-NOTE",
        looks_at: "CRAM-MD5 on a connection without TLS, where nothing authenticates the server",
        example: "AUTH CRAM-MD5 on port 25 before STARTTLS",
        run: Run::Session(cram_security_note),
    },
    Judge {
        id: "C-7628-TLS-REQUIRED",
        looks_at: "AUTH OAUTHBEARER on a connection without TLS",
        example: "AUTH OAUTHBEARER bixhPXVzZXJA... before STARTTLS",
        run: Run::Session(oauthbearer_tls_required),
    },
    Judge {
        id: "C-7628-IR-SYNTAX",
        looks_at: "the decoded OAUTHBEARER message: n,[a=user], ^A auth=Bearer <token> ^A [key=value ^A] ^A",
        example: "a message decoding to n,,\\x01auth=Bearer abc\\x01 (the final ^A missing)",
        run: Run::Session(oauthbearer_ir_syntax),
    },
    Judge {
        id: "C-7628-ERROR-DUMMY-RESPONSE",
        looks_at: "the answer to an OAUTHBEARER error challenge (base64 JSON with a status): AQ== (one ^A) or *",
        example: "an empty line in answer to 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=",
        run: Run::Session(oauthbearer_error_response),
    },
    Judge {
        id: "C-XOAUTH2-IR-FORMAT",
        looks_at: "the decoded XOAUTH2 message: user=<user> ^A auth=Bearer <token> ^A ^A",
        example: "a message decoding to user=a@example.com\\x01auth=abc\\x01\\x01 (no Bearer)",
        run: Run::Session(xoauth2_ir_format),
    },
    Judge {
        id: "C-XOAUTH2-ERROR-EMPTY-RESPONSE",
        looks_at: "the answer to an XOAUTH2 error challenge (base64 JSON with a status): an empty line (* is a warning)",
        example: "AQ== in answer to 334 eyJzdGF0dXMiOiI0MDEifQ==",
        run: Run::Session(xoauth2_error_response),
    },
    Judge {
        id: "C-XOAUTH2-SINGLE-LINE",
        looks_at: "the XOAUTH2 response: one continuous base64 string, no white space, not wrapped over lines",
        example: "AUTH XOAUTH2 dXNlcj1h QGV4YW1wbGU= (a space inside)",
        run: Run::Session(xoauth2_single_line),
    },
    Judge {
        id: "C-XOAUTH2-TLS",
        looks_at: "AUTH XOAUTH2 on a connection without TLS (a bearer token in the clear)",
        example: "AUTH XOAUTH2 dXNlcj1h... before STARTTLS",
        run: Run::Session(xoauth2_tls),
    },
    Judge {
        id: "C-5802-CLIENT-FIRST-SYNTAX",
        looks_at: "the decoded SCRAM client-first message: n|y|p=<cb>,[a=<authzid>],n=<user>,r=<printable nonce>, no m=",
        example: "a client-first decoding to n,,r=abc (no n=) or n,,m=x,n=user,r=abc",
        run: Run::Session(scram_client_first_syntax),
    },
    Judge {
        id: "C-5802-CBIND-FLAG",
        looks_at: "the SCRAM channel-binding flag against the advertised mechanisms: p= only (and always) with -PLUS, no y when -PLUS was offered",
        example: "y,,n=user,r=abc when the server advertised SCRAM-SHA-256-PLUS",
        run: Run::Session(scram_cbind_flag),
    },
    Judge {
        id: "C-5802-C-ATTRIBUTE",
        looks_at: "c= of the SCRAM client-final message: the base64 of the client-first's GS2 header (plus binding data with p=)",
        example: "c=eSws (\"y,,\") after a client-first starting n,,",
        run: Run::Session(scram_c_attribute),
    },
    Judge {
        id: "C-5802-NONCE-PREFIX-CHECK",
        looks_at: "the answer to a SCRAM server-first whose nonce does not begin with the client's: a cancel, not a client-final",
        example: "r=SERVERONLY in the server-first, and the client sends c=biws,r=SERVERONLY,p=...",
        run: Run::Session(scram_nonce_prefix_check),
    },
    Judge {
        id: "C-5802-FINAL-NONCE-ECHO",
        looks_at: "r= of the SCRAM client-final message: exactly the server-first's nonce",
        example: "c=biws,r=<the client's nonce only>,p=...",
        run: Run::Session(scram_final_nonce_echo),
    },
    Judge {
        id: "C-5802-SERVER-SIGNATURE",
        looks_at: "what follows a wrong (or missing) SCRAM server signature: a cancel or a close, not going on as authenticated",
        example: "an empty line after 334 with a wrong v=, then MAIL",
        run: Run::Session(scram_server_signature),
    },
    Judge {
        id: "C-5802-MANDATORY-EXT",
        looks_at: "the answer to a SCRAM server-first carrying m= (a mandatory extension): a cancel",
        example: "a client-final in answer to a server-first starting m=ext,",
        run: Run::Session(scram_mandatory_ext),
    },
    Judge {
        id: "C-5802-SMTP-FINAL-STEP",
        looks_at: "the answer to the SCRAM server-final (v=) sent as a 334: an empty line",
        example: "* or silence in answer to 334 dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9",
        run: Run::Session(scram_smtp_final_step),
    },
];

// ---------------------------------------------------------------------------------------
// Shared readings.

/// The exchanges of one mechanism.
fn of<'m>(model: &'m SessionModel<'_>, mechanism: &str) -> Vec<Exchange<'m>> {
    exchanges(model)
        .into_iter()
        .filter(|ex| ex.is(mechanism))
        .collect()
}

/// The raw text of the client's first message (initial response, or the first line after
/// the empty challenge), with its unit; `None` for a cancel or when there is none.
fn first_text<'m>(ex: &Exchange<'m>) -> Option<(&'m Unit, &'m [u8])> {
    let (unit, text) = match ex.initial_response() {
        Some(text) => (ex.auth, text),
        None => {
            let unit = *ex.responses.first()?;
            (unit, &unit.line()?.raw[..])
        }
    };
    if text == b"*" || unit.line().is_some_and(|l| l.truncated) {
        return None;
    }
    Some((unit, text))
}

/// Whether a unit's line is exactly `text`.
fn line_is(unit: &Unit, text: &[u8]) -> bool {
    unit.line().is_some_and(|l| l.raw == text)
}

/// A finding for a mechanism used without TLS.
fn in_clear(model: &SessionModel<'_>, mechanism: &str, detail: &'static str) -> Outcome {
    let all = of(model, mechanism);
    let findings = all
        .iter()
        .filter(|ex| !ex.auth.state.tls)
        .map(|ex| at_unit(ex.auth, detail))
        .collect();
    Outcome::judged(
        !all.is_empty(),
        format!("the client did not use {mechanism}"),
        findings,
    )
}

// ---------------------------------------------------------------------------------------
// PLAIN (RFC 4616).

/// The decoded PLAIN messages, with the unit that carried each.
fn plain_messages<'m>(model: &'m SessionModel<'_>) -> Vec<(&'m Unit, Vec<u8>)> {
    of(model, "PLAIN")
        .iter()
        .filter_map(|ex| first_text(ex).and_then(|(u, t)| decode_initial(t).map(|d| (u, d))))
        .collect()
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`, authcid and passwd
/// `1*SAFE`.
fn plain_problem(message: &[u8]) -> Option<String> {
    let nuls = message.iter().filter(|&&b| b == 0).count();
    if message
        .last()
        .is_some_and(|b| matches!(b, 0 | b'\r' | b'\n'))
    {
        return Some("the decoded message ends with a NUL, CR or LF after the password".into());
    }
    if nuls != 2 {
        return Some(format!(
            "the decoded message has {nuls} NUL separators; exactly two are needed ([authzid] NUL user NUL password)"
        ));
    }
    let mut parts = message.split(|&b| b == 0).skip(1);
    if parts.next().is_some_and(<[u8]>::is_empty) {
        return Some("the authentication identity (user name) is empty".into());
    }
    if parts.next().is_some_and(<[u8]>::is_empty) {
        return Some("the password is empty".into());
    }
    None
}

fn plain_message_format(model: &SessionModel<'_>) -> Outcome {
    let messages = plain_messages(model);
    let findings = messages
        .iter()
        .filter_map(|(unit, m)| plain_problem(m).map(|p| at_unit(unit, p)))
        .collect();
    Outcome::judged(
        !messages.is_empty(),
        "the client sent no PLAIN message that decodes",
        findings,
    )
}

/// RFC 4616 §2: the fields "SHALL be transferred as [UTF-8] encoded strings".
fn plain_utf8(model: &SessionModel<'_>) -> Outcome {
    let messages = plain_messages(model);
    let findings = messages
        .iter()
        .filter(|(_, m)| std::str::from_utf8(m).is_err())
        .map(|(unit, _)| {
            at_unit(
                unit,
                "the decoded PLAIN message is not UTF-8 (a legacy character set?)",
            )
        })
        .collect();
    Outcome::judged(
        !messages.is_empty(),
        "the client sent no PLAIN message that decodes",
        findings,
    )
}

/// RFC 4616 §5: PLAIN "SHOULD NOT" be used without data security services.
fn plain_not_in_clear(model: &SessionModel<'_>) -> Outcome {
    in_clear(model, "PLAIN", "AUTH PLAIN on a connection without TLS")
}

// ---------------------------------------------------------------------------------------
// LOGIN (draft-murchison-sasl-login-00).

/// Draft §1: "The LOGIN SASL mechanism SHOULD NOT be used by a client when other plaintext
/// mechanisms are offered by a server."
fn login_prefer_plain(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut plain_tried = false;
    let mut findings = Vec::new();
    for ex in exchanges(model) {
        let offered = ex
            .auth
            .state
            .hello
            .extensions()
            .map(|e| e.auth_mechanisms())
            .unwrap_or_default();
        let has = |m: &str| offered.iter().any(|o| o.eq_ignore_ascii_case(m));
        if has("LOGIN") && has("PLAIN") {
            judged += 1;
            if ex.is("LOGIN") && !plain_tried {
                findings.push(at_unit(
                    ex.auth,
                    "LOGIN chosen although the server also offered PLAIN",
                ));
            }
        }
        plain_tried |= ex.is("PLAIN");
    }
    Outcome::judged(
        judged > 0,
        "the client never authenticated where both LOGIN and PLAIN were offered",
        findings,
    )
}

/// Draft §2.1: the client answers the two challenges with the user name and the password;
/// "The contents of both challenges SHOULD be ignored."
fn login_exchange(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in of(model, "LOGIN") {
        for (challenge, answer) in ex.challenges().into_iter().take(2) {
            judged += 1;
            match answer {
                None => findings.push(at_reply(
                    challenge,
                    format!("at this LOGIN challenge {}", silence(model)),
                )),
                Some(unit) if line_is(unit, b"*") && decode_challenge(challenge).is_some() => {
                    findings.push(at_unit(
                        unit,
                        "the client cancelled at a valid LOGIN challenge: its text should be ignored",
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Outcome::judged(judged > 0, "the server sent no LOGIN challenge", findings)
}

/// Draft §2.1: "The client expects the server to issue a challenge." (RFC 4954 §4 on
/// initial responses with server-first mechanisms). A warning, as the checklist says.
fn login_no_ir(model: &SessionModel<'_>) -> Outcome {
    let all = of(model, "LOGIN");
    let findings = all
        .iter()
        .filter(|ex| ex.initial_response().is_some())
        .map(|ex| {
            at_unit(
                ex.auth,
                "an initial response with LOGIN, where the server asks for the user name first",
            )
            .warn()
        })
        .collect();
    Outcome::judged(!all.is_empty(), "the client did not use LOGIN", findings)
}

/// The LOGIN user name and password as sent, decoded: the initial response (if any) and the
/// responses, cancels left out.
fn login_fields<'m>(ex: &Exchange<'m>) -> Vec<(&'m Unit, Vec<u8>)> {
    ex.turns()
        .into_iter()
        .filter_map(|turn| match turn {
            Turn::Client { unit, text } if text != b"*" => {
                decode_initial(text).map(|decoded| (unit, decoded))
            }
            _ => None,
        })
        .take(2)
        .collect()
}

/// Draft §2: the user name in UTF-8 and under 64 characters; the password without NUL, CR
/// or LF.
fn login_identity_rules(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in of(model, "LOGIN") {
        let fields = login_fields(&ex);
        if let Some((unit, user)) = fields.first() {
            judged += 1;
            match std::str::from_utf8(user) {
                Err(_) => findings.push(at_unit(unit, "the LOGIN user name is not UTF-8")),
                Ok(name) if name.chars().count() >= 64 => findings.push(at_unit(
                    unit,
                    format!(
                        "the LOGIN user name is {} characters; it must be under 64",
                        name.chars().count()
                    ),
                )),
                Ok(_) => {}
            }
        }
        if let Some((unit, password)) = fields.get(1) {
            if password.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                findings.push(at_unit(
                    unit,
                    "the LOGIN password contains a NUL, CR or LF octet",
                ));
            }
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no LOGIN user name that decodes",
        findings,
    )
}

/// Draft §1: "This mechanism MUST NOT be used without adequate security protection".
fn login_not_in_clear(model: &SessionModel<'_>) -> Outcome {
    in_clear(model, "LOGIN", "AUTH LOGIN on a connection without TLS")
}

// ---------------------------------------------------------------------------------------
// CRAM-MD5 (RFC 2195).

/// RFC 2195 §2: "the user name, a space, and a 'digest'", the digest in lower-case hex.
fn cram_problem(response: &[u8]) -> Option<&'static str> {
    if response.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
        return Some("the decoded response ends with CR or LF");
    }
    let Some(space) = response.iter().position(|&b| b == b' ') else {
        return Some("the decoded response has no space between user name and digest");
    };
    let (user, digest) = (&response[..space], &response[space + 1..]);
    if user.is_empty() {
        return Some("the user name is empty");
    }
    if digest.len() != 32 || digest.contains(&b' ') {
        return Some("the digest is not 32 hex digits after a single space");
    }
    if !digest
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Some("the digest is not in lower-case hex");
    }
    None
}

fn cram_response_format(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in of(model, "CRAM-MD5") {
        let Some(unit) = ex.responses.first() else {
            continue;
        };
        let Some(line) = unit.line().filter(|l| l.raw != b"*" && !l.truncated) else {
            continue;
        };
        let Some(response) = decode_lenient(&line.raw) else {
            continue;
        };
        judged += 1;
        if let Some(problem) = cram_problem(&response) {
            findings.push(at_unit(unit, problem));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no CRAM-MD5 response that decodes",
        findings,
    )
}

/// RFC 2195 §2 (the server sends the challenge first) and RFC 4954 §4.
fn cram_no_ir(model: &SessionModel<'_>) -> Outcome {
    let all = of(model, "CRAM-MD5");
    let findings = all
        .iter()
        .filter(|ex| ex.initial_response().is_some())
        .map(|ex| {
            at_unit(
                ex.auth,
                "an initial response with CRAM-MD5, where the server sends the challenge first",
            )
        })
        .collect();
    Outcome::judged(!all.is_empty(), "the client did not use CRAM-MD5", findings)
}

/// RFC 4954 §4: CRAM-MD5 "doesn't provide any server authentication"; without TLS nothing
/// does.
fn cram_security_note(model: &SessionModel<'_>) -> Outcome {
    in_clear(
        model,
        "CRAM-MD5",
        "CRAM-MD5 without TLS: nothing authenticates the server, and the exchange can be attacked offline",
    )
}

// ---------------------------------------------------------------------------------------
// OAUTHBEARER (RFC 7628) and XOAUTH2 (Google).

/// RFC 7628 §3: "TLS MUST be used for OAUTHBEARER to protect the bearer token".
fn oauthbearer_tls_required(model: &SessionModel<'_>) -> Outcome {
    in_clear(
        model,
        "OAUTHBEARER",
        "AUTH OAUTHBEARER on a connection without TLS: the bearer token travels in the clear",
    )
}

/// RFC 7628 §3.1: `client-resp = (gs2-header kvsep *kvpair kvsep) / kvsep`.
fn oauthbearer_ir_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in of(model, "OAUTHBEARER") {
        let Some((unit, text)) = first_text(&ex) else {
            continue;
        };
        judged += 1;
        let Some(message) = decode_initial(text) else {
            findings.push(at_unit(unit, "the OAUTHBEARER message is not base64"));
            continue;
        };
        match parse_oauthbearer(&message) {
            Ok(Parsed::Claim(claim)) if claim.gs2_user_key => findings.push(
                at_unit(
                    unit,
                    "the GS2 header names the user with user= (as RFC 7628's own example does) instead of a=",
                )
                .warn(),
            ),
            Ok(_) => {}
            Err(ParseError::Malformed(problem)) => findings.push(at_unit(
                unit,
                format!("the OAUTHBEARER message is malformed: {problem}"),
            )),
            Err(ParseError::ChannelBinding) => findings.push(at_unit(
                unit,
                "the GS2 header asks for channel binding (p=), which OAUTHBEARER does not define: use n",
            )),
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no OAUTHBEARER message",
        findings,
    )
}

/// The OAuth error challenges of a mechanism's exchanges, with their answers.
fn error_challenges<'m>(
    model: &'m SessionModel<'_>,
    mechanism: &str,
) -> Vec<(&'m ServerReply, Option<&'m Unit>)> {
    of(model, mechanism)
        .iter()
        .flat_map(|ex| ex.challenges())
        .filter(|(challenge, _)| is_oauth_error_challenge(challenge))
        .collect()
}

/// RFC 7628 §3.2.3: after an error, "a single %x01 (control A) character" or a SASL abort.
fn oauthbearer_error_response(model: &SessionModel<'_>) -> Outcome {
    let errors = error_challenges(model, "OAUTHBEARER");
    let mut findings = Vec::new();
    for (challenge, answer) in &errors {
        match answer {
            Some(unit) if line_is(unit, b"AQ==") || line_is(unit, b"*") => {}
            Some(unit) if line_is(unit, b"") => findings.push(at_unit(
                unit,
                "an empty line after the error challenge (the XOAUTH2 habit); OAUTHBEARER needs AQ== (one ^A) or *",
            )),
            Some(unit) => findings.push(at_unit(
                unit,
                "after the error challenge the client must send AQ== (one ^A) or *",
            )),
            None => findings.push(at_reply(
                challenge,
                format!("after the error challenge {}", silence(model)),
            )),
        }
    }
    Outcome::judged(
        !errors.is_empty(),
        "the server sent no OAUTHBEARER error challenge",
        findings,
    )
}

/// Google's page: `base64("user=" {User} "^Aauth=Bearer " {Access Token} "^A^A")`.
fn xoauth2_problem(message: &[u8]) -> Option<&'static str> {
    const SEP: u8 = 0x01;
    let Some(rest) = message.strip_prefix(b"user=") else {
        return Some("the message does not start with user=");
    };
    let Some(end) = rest.iter().position(|&b| b == SEP).filter(|&e| e > 0) else {
        return Some("user= is empty or not ended by ^A");
    };
    let Some(rest) = rest[end + 1..].strip_prefix(b"auth=Bearer ") else {
        return Some("the second field is not auth=Bearer <token>");
    };
    let Some(end) = rest.iter().position(|&b| b == SEP).filter(|&e| e > 0) else {
        return Some("the token is empty or not ended by ^A");
    };
    if rest.get(end + 1..) != Some(&[SEP][..]) {
        return Some("the message does not end with ^A^A right after the token");
    }
    None
}

fn xoauth2_ir_format(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for ex in of(model, "XOAUTH2") {
        let Some((unit, text)) = first_text(&ex) else {
            continue;
        };
        judged += 1;
        match decode_initial(text) {
            None => findings.push(at_unit(unit, "the XOAUTH2 message is not base64")),
            Some(message) => {
                if let Some(problem) = xoauth2_problem(&message) {
                    findings.push(at_unit(unit, problem));
                }
            }
        }
    }
    Outcome::judged(judged > 0, "the client sent no XOAUTH2 message", findings)
}

/// Google's page: "The client sends an empty response ("\r\n") to the challenge containing
/// the error message." `*` (an RFC 4954 cancel) is tolerated as a warning.
fn xoauth2_error_response(model: &SessionModel<'_>) -> Outcome {
    let errors = error_challenges(model, "XOAUTH2");
    let mut findings = Vec::new();
    for (challenge, answer) in &errors {
        match answer {
            Some(unit) if line_is(unit, b"") => {}
            Some(unit) if line_is(unit, b"*") => findings.push(
                at_unit(
                    unit,
                    "a cancel (*) after the error challenge, where XOAUTH2 expects an empty line",
                )
                .warn(),
            ),
            Some(unit) => findings.push(at_unit(
                unit,
                "after the error challenge XOAUTH2 expects an empty line",
            )),
            None => findings.push(at_reply(
                challenge,
                format!("after the error challenge {}", silence(model)),
            )),
        }
    }
    Outcome::judged(
        !errors.is_empty(),
        "the server sent no XOAUTH2 error challenge",
        findings,
    )
}

/// Google's page: "one continuous string, with no embedded whitespace".
fn xoauth2_single_line(model: &SessionModel<'_>) -> Outcome {
    let all = of(model, "XOAUTH2");
    let mut findings = Vec::new();
    for ex in &all {
        if ex
            .initial
            .is_some_and(|ir| ir.iter().any(u8::is_ascii_whitespace))
        {
            findings.push(at_unit(
                ex.auth,
                "white space inside the XOAUTH2 initial response",
            ));
        }
        // Without an initial response, the message is the first line after the 334.
        for unit in ex.responses.iter().take(usize::from(ex.initial.is_none())) {
            if unit
                .line()
                .is_some_and(|l| l.raw.iter().any(u8::is_ascii_whitespace))
            {
                findings.push(at_unit(unit, "white space inside the XOAUTH2 response"));
            }
        }
        for next in wrapped_lines(model, ex) {
            findings.push(at_unit(
                next,
                "the XOAUTH2 response was wrapped over several lines",
            ));
        }
    }
    Outcome::judged(!all.is_empty(), "the client did not use XOAUTH2", findings)
}

/// By analogy with RFC 7628 §3: a bearer token only over TLS.
fn xoauth2_tls(model: &SessionModel<'_>) -> Outcome {
    in_clear(
        model,
        "XOAUTH2",
        "AUTH XOAUTH2 on a connection without TLS: the bearer token travels in the clear",
    )
}

// ---------------------------------------------------------------------------------------
// SCRAM (RFC 5802, RFC 7677).

/// The channel-binding flag of a GS2 header (RFC 5802 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
enum CbindFlag {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: it does, but thinks the server does not.
    Yes,
    /// `p=name`: it uses channel binding.
    Uses,
}

/// A client-first message, as far as the checks need it.
#[derive(Debug)]
struct ClientFirst {
    flag: CbindFlag,
    gs2_header: Vec<u8>,
    nonce: String,
}

/// `saslname = 1*(value-safe-char / "=2C" / "=3D")` (RFC 5802 §7).
fn is_saslname(name: &str) -> bool {
    if name.is_empty() || name.contains('\0') {
        return false;
    }
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        match rest.get(at + 1..at + 3) {
            Some("2C" | "3D") => rest = &rest[at + 3..],
            _ => return false,
        }
    }
    true
}

/// `printable = %x21-2B / %x2D-7E` (RFC 5802 §7).
fn is_printable_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// RFC 5802 §7: `client-first-message = gs2-header client-first-message-bare`, with
/// `gs2-header = gs2-cbind-flag "," [ authzid ] ","` and the bare message
/// `[reserved-mext ","] username "," nonce ["," extensions]`; §5.1 forbids `m=` here (no
/// mandatory extension is defined).
fn parse_client_first(data: &[u8]) -> Result<ClientFirst, &'static str> {
    let text = std::str::from_utf8(data).map_err(|_| "the message is not UTF-8")?;
    let (flag_text, rest) = text
        .split_once(',')
        .ok_or("the message has no GS2 header (n,, or y,, or p=...,,)")?;
    let flag = match flag_text {
        "n" => CbindFlag::No,
        "y" => CbindFlag::Yes,
        _ => match flag_text.strip_prefix("p=") {
            Some(name)
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                CbindFlag::Uses
            }
            Some(_) => return Err("the channel-binding name after p= is not valid"),
            None => return Err("the message does not start with n, y or p="),
        },
    };
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or("the GS2 header is not ended by a second ','")?;
    if !authzid.is_empty() && !authzid.strip_prefix("a=").is_some_and(is_saslname) {
        return Err("the authorization identity is not a=<saslname>");
    }
    let gs2_header = text.as_bytes()[..text.len() - bare.len()].to_vec();
    let mut attributes = bare.split(',');
    let first = attributes.next().unwrap_or("");
    if first.starts_with("m=") {
        return Err("m= (a mandatory extension) in the client-first message");
    }
    if !first.strip_prefix("n=").is_some_and(is_saslname) {
        return Err("the user name n= is missing or malformed (',' and '=' must be =2C and =3D)");
    }
    let nonce = attributes
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| is_printable_nonce(n))
        .ok_or("the nonce r= is missing, empty or not printable ASCII without ','")?;
    for extension in attributes {
        let mut chars = extension.chars();
        let key_ok =
            chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.next() == Some('=');
        if !key_ok {
            return Err("an attribute after the nonce is not letter=value");
        }
        if extension.starts_with("m=") {
            return Err("m= (a mandatory extension) in the client-first message");
        }
    }
    Ok(ClientFirst {
        flag,
        gs2_header,
        nonce: nonce.to_owned(),
    })
}

/// The value of attribute `key` in a comma-separated SCRAM message.
fn attribute(text: &str, key: char) -> Option<&str> {
    text.split(',').find_map(|a| {
        let mut chars = a.chars();
        (chars.next() == Some(key) && chars.next() == Some('=')).then(|| &a[2..])
    })
}

/// One SCRAM exchange, message by message.
#[derive(Debug, Default)]
struct ScramFlow<'m> {
    client_first: Option<(&'m Unit, Vec<u8>)>,
    server_first: Option<(&'m ServerReply, String)>,
    /// The line that answered the server-first (a client-final, `*`, anything).
    after_server_first: Option<&'m Unit>,
    /// The server-final, when sent as a 334 challenge: the reply and its decoded text.
    server_final: Option<(&'m ServerReply, String)>,
    after_server_final: Option<&'m Unit>,
}

impl ScramFlow<'_> {
    /// The client-final, decoded (when the answer to the server-first was not a cancel).
    fn client_final(&self) -> Option<(&Unit, String)> {
        let unit = self.after_server_first?;
        let line = unit.line()?;
        if line.raw == b"*" || line.truncated {
            return None;
        }
        let decoded = decode_lenient(&line.raw)?;
        Some((unit, String::from_utf8_lossy(&decoded).into_owned()))
    }

    fn parsed_client_first(&self) -> Option<(&Unit, ClientFirst)> {
        let (unit, data) = self.client_first.as_ref()?;
        parse_client_first(data).ok().map(|cf| (*unit, cf))
    }

    /// Whether the server-first's nonce fails to start with the client's.
    fn nonce_mismatch(&self) -> bool {
        let (Some((_, cf)), Some((_, sf))) = (self.parsed_client_first(), &self.server_first)
        else {
            return false;
        };
        attribute(sf, 'r').is_some_and(|nonce| !nonce.starts_with(&cf.nonce))
    }

    /// Whether the server-first carries a mandatory extension.
    fn mandatory_extension(&self) -> bool {
        self.server_first
            .as_ref()
            .is_some_and(|(_, sf)| sf.starts_with("m=") || attribute(sf, 'm').is_some())
    }
}

/// Reads a SCRAM exchange into its messages.
fn scram_flow<'m>(ex: &Exchange<'m>) -> ScramFlow<'m> {
    let mut flow = ScramFlow::default();
    let mut turns = ex.turns().into_iter().peekable();
    if ex.initial_response().is_none() {
        // The empty "334 " that asks for the client-first message.
        if let Some(Turn::Challenge(_)) = turns.peek() {
            turns.next();
        }
    }
    let decoded = |reply: &ServerReply| {
        decode_lenient(reply.text().as_bytes())
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default()
    };
    let Some(Turn::Client { unit, text }) = turns.next() else {
        return flow;
    };
    if text == b"*" {
        return flow;
    }
    flow.client_first = decode_initial(text).map(|d| (unit, d));
    let Some(Turn::Challenge(server_first)) = turns.next() else {
        return flow;
    };
    flow.server_first = Some((server_first, decoded(server_first)));
    let Some(Turn::Client { unit, .. }) = turns.next() else {
        return flow;
    };
    flow.after_server_first = Some(unit);
    let Some(Turn::Challenge(server_final)) = turns.next() else {
        return flow;
    };
    flow.server_final = Some((server_final, decoded(server_final)));
    if let Some(Turn::Client { unit, .. }) = turns.next() {
        flow.after_server_final = Some(unit);
    }
    flow
}

/// The SCRAM exchanges (any SCRAM-* mechanism, -PLUS included).
fn scram_exchanges<'m>(model: &'m SessionModel<'_>) -> Vec<(Exchange<'m>, ScramFlow<'m>)> {
    exchanges(model)
        .into_iter()
        .filter(|ex| ex.mechanism.starts_with("SCRAM-"))
        .map(|ex| {
            let flow = scram_flow(&ex);
            (ex, flow)
        })
        .collect()
}

/// Whether `*` is the right answer to `challenge` in this exchange, whatever its length: an
/// OAuth error, or a SCRAM server-first the client must refuse (RFC 5802 §5.1).
pub(crate) fn cancel_is_justified(ex: &Exchange<'_>, challenge: &ServerReply) -> bool {
    if is_oauth_error_challenge(challenge) {
        return true;
    }
    if !ex.mechanism.starts_with("SCRAM-") {
        return false;
    }
    let flow = scram_flow(ex);
    let is_server_first = flow
        .server_first
        .as_ref()
        .is_some_and(|(r, _)| std::ptr::eq(*r, challenge));
    is_server_first && (flow.nonce_mismatch() || flow.mandatory_extension())
}

fn scram_client_first_syntax(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (_, flow) in scram_exchanges(model) {
        let Some((unit, data)) = &flow.client_first else {
            continue;
        };
        judged += 1;
        if let Err(problem) = parse_client_first(data) {
            findings.push(at_unit(unit, problem));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no SCRAM client-first message that decodes",
        findings,
    )
}

/// RFC 5802 §6: `p` with (and only with) a -PLUS mechanism; no `y` when -PLUS is offered.
fn scram_cbind_flag(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (ex, flow) in scram_exchanges(model) {
        let Some((unit, cf)) = flow.parsed_client_first() else {
            continue;
        };
        judged += 1;
        let plus_selected = ex.mechanism.ends_with("-PLUS");
        let base = ex.mechanism.trim_end_matches("-PLUS");
        let plus_name = format!("{base}-PLUS");
        let plus_offered = ex.auth.state.hello.extensions().is_some_and(|e| {
            e.auth_mechanisms()
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&plus_name))
        });
        let problem = match (&cf.flag, plus_selected) {
            (CbindFlag::Uses, false) => Some(format!(
                "p= (channel binding) with {}, which has no channel binding: that needs {plus_name}",
                ex.mechanism
            )),
            (CbindFlag::No | CbindFlag::Yes, true) => Some(format!(
                "{} selected without channel binding: the flag must be p=",
                ex.mechanism
            )),
            (CbindFlag::Yes, false) if plus_offered => Some(format!(
                "y (\"the server does not seem to support channel binding\") although it advertised {plus_name}"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            findings.push(at_unit(unit, problem));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no SCRAM client-first message that parses",
        findings,
    )
}

/// RFC 5802 §5.1: `c=` is the base64 of the GS2 header (followed by the channel-binding data
/// with `p=`).
fn scram_c_attribute(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (_, flow) in scram_exchanges(model) {
        let (Some((_, cf)), Some((unit, client_final))) =
            (flow.parsed_client_first(), flow.client_final())
        else {
            continue;
        };
        judged += 1;
        let binding = attribute(&client_final, 'c').and_then(|c| decode_lenient(c.as_bytes()));
        let problem = match binding {
            None => Some("the client-final has no c= attribute that decodes"),
            Some(b) if cf.flag == CbindFlag::Uses => (!(b.starts_with(&cf.gs2_header)
                && b.len() > cf.gs2_header.len()))
            .then_some("c= is not the GS2 header followed by the channel-binding data"),
            Some(b) => (b != cf.gs2_header)
                .then_some("c= does not decode to the GS2 header of the client-first message"),
        };
        if let Some(problem) = problem {
            findings.push(at_unit(unit, problem));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no SCRAM client-final message",
        findings,
    )
}

/// RFC 5802 §5.1: "The client MUST verify that the initial part of the nonce used in
/// subsequent messages is the same as the nonce it initially specified."
fn scram_nonce_prefix_check(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (_, flow) in scram_exchanges(model) {
        if !flow.nonce_mismatch() {
            continue;
        }
        judged += 1;
        if let Some(unit) = flow.after_server_first.filter(|u| !line_is(u, b"*")) {
            findings.push(at_unit(
                unit,
                "the server's nonce does not begin with the client's, yet the client went on instead of cancelling",
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no SCRAM nonce that fails to begin with the client's",
        findings,
    )
}

/// RFC 5802 §5.1: the client-final's `r=` is the server-first's nonce.
fn scram_final_nonce_echo(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (_, flow) in scram_exchanges(model) {
        let (Some((_, server_first)), Some((unit, client_final))) =
            (&flow.server_first, flow.client_final())
        else {
            continue;
        };
        let Some(server_nonce) = attribute(server_first, 'r') else {
            continue;
        };
        judged += 1;
        if attribute(&client_final, 'r') != Some(server_nonce) {
            findings.push(at_unit(
                unit,
                "r= of the client-final is not exactly the nonce of the server-first",
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the client sent no SCRAM client-final after a server-first",
        findings,
    )
}

/// The length of a server signature for a SCRAM mechanism (the hash output).
fn signature_len(mechanism: &str) -> Option<usize> {
    match mechanism.trim_end_matches("-PLUS") {
        "SCRAM-SHA-1" => Some(20),
        "SCRAM-SHA-224" => Some(28),
        "SCRAM-SHA-256" => Some(32),
        "SCRAM-SHA-384" => Some(48),
        "SCRAM-SHA-512" => Some(64),
        _ => None,
    }
}

/// Whether a server-final `v=` is certainly wrong: not base64, the wrong length for the
/// hash, or marked by the server as deliberately wrong (an observation).
fn signature_is_wrong(
    model: &SessionModel<'_>,
    ex: &Exchange<'_>,
    verifier: &str,
    at: &ServerReply,
) -> bool {
    let marked = model.observations.iter().any(|o| {
        o.check == "C-5802-SERVER-SIGNATURE" && o.entry > ex.auth.entry && o.entry <= at.entry + 1
    });
    let malformed = match decode_lenient(verifier.as_bytes()) {
        None => true,
        Some(signature) => signature_len(&ex.mechanism).is_some_and(|n| n != signature.len()),
    };
    marked || malformed
}

/// A `v=` in the text of a 235: literally, or as a base64 word.
fn verifier_in_text(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| {
        if let Some(v) = word.strip_prefix("v=") {
            return Some(v.to_owned());
        }
        let decoded = String::from_utf8(decode_lenient(word.as_bytes())?).ok()?;
        attribute(&decoded, 'v').map(str::to_owned)
    })
}

/// The commands after an exchange, up to the next AUTH: what the client did next.
fn mail_after<'m>(model: &'m SessionModel<'_>, ex: &Exchange<'_>) -> Option<&'m Unit> {
    model
        .after(ex.last().index)
        .iter()
        .take_while(|u| u.verb() != "AUTH")
        .find(|u| u.verb() == "MAIL")
}

/// RFC 5802 §5: if the signatures differ "the client MUST consider the authentication
/// exchange to be unsuccessful".
fn scram_server_signature(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (ex, flow) in scram_exchanges(model) {
        if let Some((reply, server_final)) = &flow.server_final {
            let Some(verifier) = attribute(server_final, 'v') else {
                continue;
            };
            if !signature_is_wrong(model, &ex, verifier, reply) {
                continue;
            }
            judged += 1;
            if let Some(unit) = flow.after_server_final.filter(|u| !line_is(u, b"*")) {
                findings.push(at_unit(
                    unit,
                    "the server signature (v=) was wrong, and the client went on instead of cancelling with *",
                ));
            }
            continue;
        }
        // No 334 server-final: the signature can only be in the 235's text.
        if flow.after_server_first.is_none() || ex.outcome_code() != Some(235) {
            continue;
        }
        let Some(outcome) = ex.outcome() else {
            continue;
        };
        let wrong = match verifier_in_text(&outcome.text()) {
            None => Some("the server accepted with 235 without ever sending its signature (v=)"),
            Some(v) if signature_is_wrong(model, &ex, &v, outcome) => {
                Some("the server signature (v=) in the 235 was wrong")
            }
            Some(_) => None,
        };
        let Some(wrong) = wrong else { continue };
        judged += 1;
        if let Some(mail) = mail_after(model, &ex) {
            findings.push(at_unit(
                mail,
                format!("{wrong}, yet the client sent mail as though authenticated"),
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no wrong or missing SCRAM signature",
        findings,
    )
}

/// RFC 5802 §5.1: a mandatory extension the client does not understand "MUST cause
/// authentication failure".
fn scram_mandatory_ext(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (_, flow) in scram_exchanges(model) {
        if !flow.mandatory_extension() {
            continue;
        }
        judged += 1;
        if let Some(unit) = flow.after_server_first.filter(|u| !line_is(u, b"*")) {
            findings.push(at_unit(
                unit,
                "the server-first carried m= (a mandatory extension), and the client went on instead of cancelling",
            ));
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no SCRAM server-first with m=",
        findings,
    )
}

/// RFC 4954 §4 (no additional data with success in SMTP) and RFC 5802 §5.2: the server-final
/// comes as a 334, which the client acknowledges with an empty line.
fn scram_smtp_final_step(model: &SessionModel<'_>) -> Outcome {
    let mut judged = 0;
    let mut findings = Vec::new();
    for (ex, flow) in scram_exchanges(model) {
        let Some((reply, server_final)) = &flow.server_final else {
            continue;
        };
        let Some(verifier) = attribute(server_final, 'v') else {
            continue;
        };
        if signature_is_wrong(model, &ex, verifier, reply) {
            continue;
        }
        judged += 1;
        match flow.after_server_final {
            Some(unit) if line_is(unit, b"") => {}
            Some(unit) => findings.push(at_unit(
                unit,
                "the server-final (v=) came as a 334: the client must answer it with an empty line",
            )),
            None => findings.push(at_reply(
                reply,
                format!("after the server-final (v=) {}", silence(model)),
            )),
        }
    }
    Outcome::judged(
        judged > 0,
        "the server sent no SCRAM server-final as a 334",
        findings,
    )
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    const CLEAR: &str =
        "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256\n";
    const TLS: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
        C: EHLO c.example\nS: 250-mx\nS: 250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-256\n";
    const TLS_PLUS: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
        C: EHLO c.example\nS: 250-mx\nS: 250 AUTH SCRAM-SHA-256 SCRAM-SHA-256-PLUS\n";

    fn b64(data: &[u8]) -> String {
        smtp_protocol::sasl::encode(data)
    }

    fn with(prefix: &str, rest: &str) -> String {
        format!("{prefix}{rest}")
    }

    fn plain(message: &[u8]) -> String {
        with(TLS, &format!("C: AUTH PLAIN {}\nS: 235 ok", b64(message)))
    }

    #[test]
    fn plain_message_format() {
        let id = "C-4616-MESSAGE-FORMAT";
        pass(id, &plain(b"\0user\0pass"));
        pass(id, &plain(b"admin\0user\0pass"));
        pass(
            id,
            &with(
                TLS,
                &format!("C: AUTH PLAIN\nS: 334 \nC: {}\nS: 235 ok", b64(b"\0u\0p")),
            ),
        );
        fail(id, &plain(b"user\0pass"));
        fail(id, &plain(b"\0user\0pass\n"));
        fail(id, &plain(b"\0user\0pass\0"));
        fail(id, &plain(b"\0\0pass"));
        fail(id, &plain(b"\0user\0"));
        not_applicable(id, &with(TLS, "C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn plain_utf8() {
        let id = "C-4616-UTF8";
        pass(id, &plain("\0user\0p\u{e9}ss".as_bytes()));
        fail(id, &plain(b"\0user\0p\xe9ss"));
        not_applicable(id, &with(TLS, "C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn plain_not_in_clear() {
        let id = "C-4616-NOT-IN-CLEAR";
        pass(id, &plain(b"\0u\0p"));
        warn(id, &with(CLEAR, "C: AUTH PLAIN AHUAcA==\nS: 235 ok"));
        not_applicable(id, &with(CLEAR, "C: QUIT\nS: 221 bye"));
    }

    #[test]
    fn login_prefer_plain() {
        let id = "C-LOGIN-PREFER-PLAIN";
        pass(id, &plain(b"\0u\0p"));
        // LOGIN after PLAIN was refused is a fallback, not a preference.
        pass(
            id,
            &with(TLS, "C: AUTH PLAIN AHUAcA==\nS: 535 no\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok"),
        );
        warn(
            id,
            &with(TLS, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok"),
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 AUTH LOGIN\nC: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 no",
        );
    }

    #[test]
    fn login_exchange() {
        let id = "C-LOGIN-EXCHANGE";
        pass(
            id,
            &with(TLS, "C: AUTH LOGIN\nS: 334 VXNlciBOYW1lAA==\nC: dQ==\nS: 334 UGFzc3dvcmQA\nC: cA==\nS: 235 ok"),
        );
        warn(
            id,
            &with(
                TLS,
                "C: AUTH LOGIN\nS: 334 VXNlciBOYW1lAA==\nC: *\nS: 501 cancelled",
            ),
        );
        warn(
            id,
            &with(TLS, "C: AUTH LOGIN\nS: 334 VXNlciBOYW1lAA==\nC: dQ==\nS: 334 UGFzc3dvcmQA\n** closed timeout"),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn login_no_ir() {
        let id = "C-LOGIN-NO-IR";
        pass(id, &with(TLS, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok"));
        warn(
            id,
            &with(
                TLS,
                "C: AUTH LOGIN dQ==\nS: 334 UGFzc3dvcmQ6\nC: cA==\nS: 235 ok",
            ),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn login_identity_rules() {
        let id = "C-LOGIN-IDENTITY-RULES";
        let login = |user: &[u8], password: &[u8]| {
            with(
                TLS,
                &format!(
                    "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: {}\nS: 334 UGFzc3dvcmQ6\nC: {}\nS: 235 ok",
                    b64(user),
                    b64(password)
                ),
            )
        };
        pass(id, &login("j\u{f6}rg".as_bytes(), b"secret"));
        fail(id, &login(b"j\xf6rg", b"secret"));
        fail(id, &login(&[b'u'; 64], b"secret"));
        fail(id, &login(b"user", b"secret\r\n"));
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn login_not_in_clear() {
        let id = "C-LOGIN-NOT-IN-CLEAR";
        pass(
            id,
            &with(TLS, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 no"),
        );
        fail(
            id,
            &with(CLEAR, "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: *\nS: 501 no"),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    fn cram(response: &[u8]) -> String {
        with(
            TLS,
            &format!(
                "C: AUTH CRAM-MD5\nS: 334 {}\nC: {}\nS: 235 ok",
                b64(b"<1896.697170952@postoffice.reston.mci.net>"),
                b64(response)
            ),
        )
    }

    #[test]
    fn cram_response_format() {
        let id = "C-2195-RESPONSE-FORMAT";
        pass(id, &cram(b"tim b913a602c7eda7a495b4e6e7334d3890"));
        fail(id, &cram(b"tim B913A602C7EDA7A495B4E6E7334D3890"));
        fail(id, &cram(b"tim b913a602c7eda7a495b4e6e7334d3890\r\n"));
        fail(id, &cram(b"timb913a602c7eda7a495b4e6e7334d3890"));
        fail(id, &cram(b"tim b913a602c7eda7a495"));
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn cram_no_ir() {
        let id = "C-2195-NO-IR";
        pass(id, &cram(b"tim b913a602c7eda7a495b4e6e7334d3890"));
        fail(id, &with(TLS, "C: AUTH CRAM-MD5 dGlt\nS: 501 no"));
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn cram_security_note() {
        let id = "C-2195-SECURITY-NOTE";
        pass(id, &cram(b"tim b913a602c7eda7a495b4e6e7334d3890"));
        warn(
            id,
            &with(CLEAR, "C: AUTH CRAM-MD5\nS: 334 PDE+\nC: *\nS: 501 no"),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    const BEARER: &[u8] = b"n,a=user@example.com,\x01host=server.example.com\x01port=587\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";

    #[test]
    fn oauthbearer_tls_required() {
        let id = "C-7628-TLS-REQUIRED";
        pass(
            id,
            &with(
                TLS,
                &format!("C: AUTH OAUTHBEARER {}\nS: 235 ok", b64(BEARER)),
            ),
        );
        fail(
            id,
            &with(
                CLEAR,
                &format!("C: AUTH OAUTHBEARER {}\nS: 235 ok", b64(BEARER)),
            ),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn oauthbearer_ir_syntax() {
        let id = "C-7628-IR-SYNTAX";
        let auth = |m: &[u8]| with(TLS, &format!("C: AUTH OAUTHBEARER {}\nS: 235 ok", b64(m)));
        pass(id, &auth(BEARER));
        pass(id, &auth(b"n,,\x01auth=Bearer abc\x01\x01"));
        warn(
            id,
            &auth(b"n,user=someuser@example.com,\x01auth=Bearer abc\x01\x01"),
        );
        fail(id, &auth(b"n,,\x01auth=Bearer abc\x01"));
        fail(id, &auth(b"n,,\x01host=x\x01\x01"));
        fail(id, &auth(b"n,,\x01au th=Bearer abc\x01\x01"));
        not_applicable(id, &plain(b"\0u\0p"));
    }

    const ERROR_JSON: &[u8] = br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;

    #[test]
    fn oauthbearer_error_response() {
        let id = "C-7628-ERROR-DUMMY-RESPONSE";
        let after = |line: &str| {
            with(
                TLS,
                &format!(
                    "C: AUTH OAUTHBEARER {}\nS: 334 {}\n{line}",
                    b64(BEARER),
                    b64(ERROR_JSON)
                ),
            )
        };
        pass(id, &after("C: AQ==\nS: 535 no"));
        pass(id, &after("C: *\nS: 501 cancelled"));
        fail(id, &after("C:\nS: 535 no"));
        fail(id, &after("C: QUIT\nS: 535 no"));
        fail(id, &after("** closed timeout"));
        not_applicable(
            id,
            &with(
                TLS,
                &format!("C: AUTH OAUTHBEARER {}\nS: 235 ok", b64(BEARER)),
            ),
        );
    }

    const XOAUTH: &[u8] = b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01";

    #[test]
    fn xoauth2_ir_format() {
        let id = "C-XOAUTH2-IR-FORMAT";
        let auth = |m: &[u8]| with(TLS, &format!("C: AUTH XOAUTH2 {}\nS: 235 ok", b64(m)));
        pass(id, &auth(XOAUTH));
        fail(id, &auth(b"user=a@example.com\x01auth=abc\x01\x01"));
        fail(id, &auth(b"user=a@example.com\x01auth=Bearer abc\x01"));
        fail(id, &auth(b"auth=Bearer abc\x01user=a@example.com\x01\x01"));
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn xoauth2_error_response() {
        let id = "C-XOAUTH2-ERROR-EMPTY-RESPONSE";
        let json = br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
        let after = |line: &str| {
            with(
                TLS,
                &format!(
                    "C: AUTH XOAUTH2 {}\nS: 334 {}\n{line}",
                    b64(XOAUTH),
                    b64(json)
                ),
            )
        };
        pass(id, &after("C:\nS: 535 no"));
        warn(id, &after("C: *\nS: 501 cancelled"));
        fail(id, &after("C: AQ==\nS: 535 no"));
        fail(id, &after("** closed timeout"));
        not_applicable(
            id,
            &with(TLS, &format!("C: AUTH XOAUTH2 {}\nS: 235 ok", b64(XOAUTH))),
        );
    }

    #[test]
    fn xoauth2_single_line() {
        let id = "C-XOAUTH2-SINGLE-LINE";
        let encoded = b64(XOAUTH);
        pass(
            id,
            &with(TLS, &format!("C: AUTH XOAUTH2 {encoded}\nS: 235 ok")),
        );
        let (head, tail) = encoded.split_at(60);
        warn(
            id,
            &with(TLS, &format!("C: AUTH XOAUTH2 {head} {tail}\nS: 501 no")),
        );
        let (head, tail) = encoded.split_at(76);
        warn(
            id,
            &with(
                TLS,
                &format!(
                    "C: AUTH XOAUTH2\nS: 334 \nC: {head}\nS: 535 no\nC+: {tail}\nS: 500 unknown"
                ),
            ),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn xoauth2_tls() {
        let id = "C-XOAUTH2-TLS";
        pass(
            id,
            &with(TLS, &format!("C: AUTH XOAUTH2 {}\nS: 235 ok", b64(XOAUTH))),
        );
        warn(
            id,
            &with(
                CLEAR,
                &format!("C: AUTH XOAUTH2 {}\nS: 235 ok", b64(XOAUTH)),
            ),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    // RFC 7677 §3's example.
    const CLIENT_FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    /// A SCRAM-SHA-256 exchange: the client-first as an initial response, then the given
    /// server-first, client-final, server-final (as a 334) and the client's last line.
    fn scram(prefix: &str, cf: &[u8], sf: &[u8], cfinal: Option<&[u8]>, rest: &str) -> String {
        let mut s = format!(
            "{prefix}C: AUTH SCRAM-SHA-256 {}\nS: 334 {}\n",
            b64(cf),
            b64(sf)
        );
        match cfinal {
            Some(m) if m == b"*" => s.push_str("C: *\nS: 501 cancelled\n"),
            Some(m) => s.push_str(&format!("C: {}\n", b64(m))),
            None => {}
        }
        s.push_str(rest);
        s
    }

    fn good_final() -> String {
        format!("S: 334 {}\nC:\nS: 235 ok\n", b64(SERVER_FINAL))
    }

    #[test]
    fn scram_client_first_syntax() {
        let id = "C-5802-CLIENT-FIRST-SYNTAX";
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
        pass(
            id,
            &scram(
                TLS,
                b"y,a=admin,n=u=2Cser,r=abc",
                b"r=abcdef,s=c2FsdA==,i=4096",
                Some(b"*"),
                "",
            ),
        );
        // Without an initial response, after the empty challenge.
        pass(
            id,
            &with(
                TLS,
                &format!(
                    "C: AUTH SCRAM-SHA-256\nS: 334 \nC: {}\nS: 334 {}\nC: *\nS: 501 no",
                    b64(CLIENT_FIRST),
                    b64(SERVER_FIRST)
                ),
            ),
        );
        fail(id, &scram(TLS, b"n,,r=abc", SERVER_FIRST, Some(b"*"), ""));
        fail(
            id,
            &scram(TLS, b"n,,m=ext,n=user,r=abc", SERVER_FIRST, Some(b"*"), ""),
        );
        fail(
            id,
            &scram(TLS, b"x,,n=user,r=abc", SERVER_FIRST, Some(b"*"), ""),
        );
        fail(
            id,
            &scram(TLS, b"n,,n=user,r=a\x01bc", SERVER_FIRST, Some(b"*"), ""),
        );
        fail(
            id,
            &scram(TLS, b"n,,n=a=b,r=abc", SERVER_FIRST, Some(b"*"), ""),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn scram_cbind_flag() {
        let id = "C-5802-CBIND-FLAG";
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
        pass(
            id,
            &scram(
                TLS,
                b"y,,n=user,r=abc",
                b"r=abcdef,s=c2FsdA==,i=4096",
                Some(b"*"),
                "",
            ),
        );
        pass(
            id,
            &scram(TLS_PLUS, CLIENT_FIRST, SERVER_FIRST, Some(b"*"), ""),
        );
        fail(
            id,
            &scram(
                TLS_PLUS,
                b"y,,n=user,r=abc",
                b"r=abcdef,s=c2FsdA==,i=4096",
                Some(b"*"),
                "",
            ),
        );
        fail(
            id,
            &scram(
                TLS,
                b"p=tls-exporter,,n=user,r=abc",
                b"r=abcdef,s=c2FsdA==,i=4096",
                Some(b"*"),
                "",
            ),
        );
        fail(
            id,
            &with(
                TLS_PLUS,
                &format!(
                    "C: AUTH SCRAM-SHA-256-PLUS {}\nS: 334 {}\nC: *\nS: 501 no",
                    b64(CLIENT_FIRST),
                    b64(SERVER_FIRST)
                ),
            ),
        );
        not_applicable(id, &plain(b"\0u\0p"));
    }

    #[test]
    fn scram_c_attribute() {
        let id = "C-5802-C-ATTRIBUTE";
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
        let wrong = b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
        fail(
            id,
            &scram(TLS, CLIENT_FIRST, SERVER_FIRST, Some(wrong), "S: 535 no\n"),
        );
        let missing = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(missing),
                "S: 535 no\n",
            ),
        );
        not_applicable(id, &scram(TLS, CLIENT_FIRST, SERVER_FIRST, Some(b"*"), ""));
    }

    #[test]
    fn scram_nonce_prefix_check() {
        let id = "C-5802-NONCE-PREFIX-CHECK";
        let foreign = b"r=SERVERONLYnonce,s=c2FsdA==,i=4096";
        pass(id, &scram(TLS, CLIENT_FIRST, foreign, Some(b"*"), ""));
        pass(
            id,
            &scram(TLS, CLIENT_FIRST, foreign, None, "** closed peer-closed\n"),
        );
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                foreign,
                Some(b"c=biws,r=SERVERONLYnonce,p=AAAA"),
                "S: 535 no\n",
            ),
        );
        not_applicable(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
    }

    #[test]
    fn scram_final_nonce_echo() {
        let id = "C-5802-FINAL-NONCE-ECHO";
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(b"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=AAAA"),
                "S: 535 no\n",
            ),
        );
        not_applicable(id, &scram(TLS, CLIENT_FIRST, SERVER_FIRST, Some(b"*"), ""));
    }

    #[test]
    fn scram_server_signature() {
        let id = "C-5802-SERVER-SIGNATURE";
        let short = format!("S: 334 {}\n", b64(b"v=AAAA"));
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("{short}C: *\nS: 501 no\n"),
            ),
        );
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("{short}** closed peer-closed\n"),
            ),
        );
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("{short}C:\nS: 235 ok\nC: MAIL FROM:<a@c.example>\nS: 250 ok\n"),
            ),
        );
        // A signature of the right shape that the server marks as wrong.
        let marked = format!(
            "S: 334 {}\n!! C-5802-SERVER-SIGNATURE: wrong server signature sent\nC:\nS: 235 ok\n",
            b64(SERVER_FINAL)
        );
        fail(
            id,
            &scram(TLS, CLIENT_FIRST, SERVER_FIRST, Some(CLIENT_FINAL), &marked),
        );
        // 235 with no signature at all: the client must not take it.
        let bare = "S: 235 2.7.0 ok\nC: MAIL FROM:<a@c.example>\nS: 250 ok\n";
        fail(
            id,
            &scram(TLS, CLIENT_FIRST, SERVER_FIRST, Some(CLIENT_FINAL), bare),
        );
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                "S: 235 2.7.0 ok\nC: QUIT\nS: 221 bye\n",
            ),
        );
        not_applicable(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
    }

    #[test]
    fn scram_mandatory_ext() {
        let id = "C-5802-MANDATORY-EXT";
        let with_m = b"m=ext,r=rOprNGfwEbeRWgbNEkqO%hvY,s=c2FsdA==,i=4096";
        pass(id, &scram(TLS, CLIENT_FIRST, with_m, Some(b"*"), ""));
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                with_m,
                Some(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvY,p=AAAA"),
                "S: 535 no\n",
            ),
        );
        not_applicable(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
    }

    #[test]
    fn scram_smtp_final_step() {
        let id = "C-5802-SMTP-FINAL-STEP";
        pass(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &good_final(),
            ),
        );
        let sf = format!("S: 334 {}\n", b64(SERVER_FINAL));
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("{sf}C: *\nS: 501 no\n"),
            ),
        );
        fail(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("{sf}** closed timeout\n"),
            ),
        );
        not_applicable(
            id,
            &scram(
                TLS,
                CLIENT_FIRST,
                SERVER_FIRST,
                Some(CLIENT_FINAL),
                &format!("S: 235 2.7.0 {}\n", b64(SERVER_FINAL)),
            ),
        );
    }
}
