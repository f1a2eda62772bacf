//! Checks of section A.14 (RFC 5322 message format): the fields a message must have and
//! their syntax (Date, From, Sender, Message-ID, the address fields), how header fields and
//! lines are written, the header/body separator, and the obsolete syntax of RFC 5322 §4.
//!
//! The field-presence and field-syntax checks judge the message itself (entity 0); the
//! line and octet rules also read the header fields of every MIME part and embedded message.
//! Every parser here is a small hand-written, linear scanner over the raw (folded) octets,
//! so that offsets point into the content; the scanning helpers at the bottom look at eight
//! octets at a time and are shared with the MIME checks of [`super::mime`].

use std::borrow::Cow;
use std::ops::Range;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::message::model::{strip_comments, unfold, Entity, HeaderField, MessageModel};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-5322-DATE-PRESENT",
        looks_at: "the message's own header: exactly one Date field",
        example: "a message with From, To and Subject but no Date:",
        run: Run::Message(date_present),
    },
    Judge {
        id: "C-5322-DATE-SYNTAX",
        looks_at: "each Date field of the message: `[Day, ]DD Mon YYYY hh:mm[:ss] +hhmm` with an English day name that fits the date, a four-digit year, a real day and time, and a numeric zone",
        example: "Date: Tue, 14 May 24 09:21:07 GMT",
        run: Run::Message(date_syntax),
    },
    Judge {
        id: "C-5322-FROM-PRESENT",
        looks_at: "the message's own header: exactly one From field, holding at least one mailbox",
        example: "From: Jane Doe",
        run: Run::Message(from_present),
    },
    Judge {
        id: "C-5322-SENDER-IF-MULTI-FROM",
        looks_at: "a From field naming more than one mailbox: a Sender field with exactly one mailbox must be present",
        example: "From: a@example.com, b@example.com (and no Sender:)",
        run: Run::Message(sender_if_multi_from),
    },
    Judge {
        id: "C-5322-FIELD-MAX-COUNTS",
        looks_at: "the fields a message may hold at most once: Sender, Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References, Subject",
        example: "two Subject: fields in one message",
        run: Run::Message(field_max_counts),
    },
    Judge {
        id: "C-5322-MESSAGE-ID",
        looks_at: "the Message-ID field: present (a warning when missing) and written `<left@right>` with dot-atom text, no spaces and no quoted parts",
        example: "Message-ID: 1234.5678@example.com",
        run: Run::Message(message_id),
    },
    Judge {
        id: "C-5322-FIELD-NAME-CHARS",
        looks_at: "every header line of the message and its parts: a name of printable ASCII without spaces, then a colon",
        example: "X Mailer: client 1.0",
        run: Run::Message(field_name_chars),
    },
    Judge {
        id: "C-5322-FIELD-BODY-NO-BARE-CRLF",
        looks_at: "every header field of the message and its parts: CR and LF only as the CRLF that ends a line (and folds it)",
        example: "Subject: hi\\rBcc: victim@example.com",
        run: Run::Message(field_body_no_bare_crlf),
    },
    Judge {
        id: "C-5322-LINE-998",
        looks_at: "every line of the message, header and body: at most 998 octets (else a failure) and 78 characters (else a warning), not counting the CRLF",
        example: "an attachment sent as one base64 line of 20,000 octets",
        run: Run::Message(line_998),
    },
    Judge {
        id: "C-5322-FOLDING-NO-WSP-ONLY-LINE",
        looks_at: "the continuation lines of folded header fields: none may be white space alone",
        example: "Subject: hello\\r\\n \\r\\n world",
        run: Run::Message(folding_no_wsp_only_line),
    },
    Judge {
        id: "C-5322-HEADER-BODY-SEPARATOR",
        looks_at: "the header section of the message and of its parts: only fields and folded lines before the empty line that starts the body",
        example: "Subject: hi\\r\\nHello Bob, (the empty line before the body is missing)",
        run: Run::Message(header_body_separator),
    },
    Judge {
        id: "C-5322-BODY-NO-BARE-CRLF",
        looks_at: "the body of the message (everything after its header): CR and LF only together, as CRLF",
        example: "line one\\nline two\\r\\n",
        run: Run::Message(body_no_bare_crlf),
    },
    Judge {
        id: "C-5322-NO-OBSOLETE-SYNTAX",
        looks_at: "forms RFC 5322 §4 forbids generating: NUL octets, white space before a field's colon, control characters in header fields, obsolete address forms (source routes, dots in unquoted names, empty list elements, spaces around dots)",
        example: "Subject : hello",
        run: Run::Message(no_obsolete_syntax),
    },
    Judge {
        id: "C-5322-ASCII-HEADERS",
        looks_at: "the header fields of the message and its parts when MAIL had no SMTPUTF8: US-ASCII octets only",
        example: "Subject: Café (raw UTF-8, and no SMTPUTF8 on MAIL)",
        run: Run::Message(ascii_headers),
    },
    Judge {
        id: "C-5322-BCC-HANDLING",
        looks_at: "a non-empty Bcc field in a message whose envelope includes a To or Cc recipient: they would see who was blind-copied",
        example: "Bcc: secret@example.net sent to the To: recipient too",
        run: Run::Message(bcc_handling),
    },
    Judge {
        id: "C-5322-ADDRESS-SYNTAX",
        looks_at: "From, Sender, Reply-To, To, Cc and Bcc: RFC 5322 address lists (display names, quoted strings, comments, groups, `<local@domain>`)",
        example: "To: Doe, John <john@example.com>",
        run: Run::Message(address_syntax),
    },
];

/// A problem found by a parser: the offset in the text it read, and what is wrong.
pub(crate) type Problem = (usize, Cow<'static, str>);

/// The fields a message holds at most once (RFC 5322 §3.6, the table), besides Date and
/// From, which have checks of their own.
const AT_MOST_ONCE: [&str; 9] = [
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
];

/// The address fields and the shape of their value (RFC 5322 §3.6.2, §3.6.3; RFC 6854 lets
/// From and Sender hold groups).
const ADDRESS_FIELDS: [(&str, Shape); 6] = [
    ("From", Shape::List),
    ("Sender", Shape::One),
    ("Reply-To", Shape::List),
    ("To", Shape::List),
    ("Cc", Shape::List),
    ("Bcc", Shape::MaybeEmpty),
];

// ---------------------------------------------------------------------------------------
// The judges
// ---------------------------------------------------------------------------------------

/// RFC 5322 §3.6: `orig-date` appears exactly once.
fn date_present(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let dates = root_fields(model, "Date");
    let mut findings = Vec::new();
    if dates.is_empty() {
        findings.push(missing(
            model,
            "the message has no Date field: RFC 5322 §3.6 requires one",
        ));
    }
    for extra in dates.iter().skip(1).take(4) {
        findings.push(field_finding(
            content,
            extra,
            extra.span.start,
            "a second Date field: a message has exactly one",
        ));
    }
    Outcome::from_findings(findings)
}

/// RFC 5322 §3.3: the date-time grammar, its semantic validity, and no obsolete forms.
fn date_syntax(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let dates = root_fields(model, "Date");
    let mut findings = Vec::new();
    for field in dates.iter().take(4) {
        if let Err((at, why)) = parse_date(field.value(content)) {
            findings.push(field_finding(
                content,
                field,
                field.value.start + at,
                format!("Date: {why}"),
            ));
        }
    }
    Outcome::judged(!dates.is_empty(), "the message has no Date field", findings)
}

/// RFC 5322 §3.6, §3.6.2: exactly one From, holding at least one mailbox.
fn from_present(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let froms = root_fields(model, "From");
    let mut findings = Vec::new();
    match froms.first() {
        None => findings.push(missing(
            model,
            "the message has no From field: RFC 5322 §3.6 requires one",
        )),
        Some(from) => {
            let value = from.value(content);
            let mailboxes = addresses_of(model, from).map_or(0, |parsed| parsed.mailboxes);
            let detail = if is_blank(value) {
                Some("From is empty: it must name the author's mailbox")
            } else if mailboxes == 0 {
                Some("From holds no mailbox (an address such as jane@example.com): a display name alone, an empty group or an invalid address is not enough")
            } else {
                None
            };
            if let Some(detail) = detail {
                findings.push(field_finding(content, from, from.span.start, detail));
            }
        }
    }
    for extra in froms.iter().skip(1).take(4) {
        findings.push(field_finding(
            content,
            extra,
            extra.span.start,
            "a second From field: a message has exactly one (list several authors in one field)",
        ));
    }
    Outcome::from_findings(findings)
}

/// RFC 5322 §3.6.2: more than one mailbox in From requires a Sender with one mailbox.
fn sender_if_multi_from(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let Some(from) = root_fields(model, "From").first().copied() else {
        return Outcome::not_applicable("the message has no From field");
    };
    let authors = addresses_of(model, from).map_or(0, |parsed| parsed.mailboxes);
    if authors <= 1 {
        return Outcome::not_applicable("From names no more than one mailbox");
    }
    let mut findings = Vec::new();
    match root_fields(model, "Sender").first() {
        None => findings.push(field_finding(
            content,
            from,
            from.span.start,
            format!("From names {authors} mailboxes but the message has no Sender field naming the one who sent it"),
        )),
        Some(sender) => {
            let (mailboxes, groups) =
                addresses_of(model, sender).map_or((0, 0), |parsed| (parsed.mailboxes, parsed.groups));
            if mailboxes != 1 || groups > 0 {
                findings.push(field_finding(
                    content,
                    sender,
                    sender.span.start,
                    "Sender must name exactly one mailbox",
                ));
            }
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 5322 §3.6, the table: the fields allowed at most once.
fn field_max_counts(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    // One pass to count them (each field's name compared with the names of its length);
    // the findings, in the table's order, only when one is repeated.
    let mut counts = [0u8; AT_MOST_ONCE.len()];
    for field in &model.root().fields {
        let name = field.name(content);
        for (count, wanted) in counts.iter_mut().zip(AT_MOST_ONCE) {
            if wanted.len() == name.len() && wanted.as_bytes().eq_ignore_ascii_case(name) {
                *count = count.saturating_add(1);
            }
        }
    }
    if counts.iter().all(|&n| n <= 1) {
        return Outcome::Pass;
    }
    let mut findings = Findings::new(6);
    for name in AT_MOST_ONCE {
        for extra in model.root().fields_named(content, name).skip(1) {
            findings.add(|| {
                field_finding(
                    content,
                    extra,
                    extra.span.start,
                    format!("a second {name} field: a message may hold at most one"),
                )
            });
        }
    }
    Outcome::from_findings(findings.finish())
}

/// RFC 5322 §3.6.4: a Message-ID SHOULD be present; its syntax is `<id-left@id-right>`.
fn message_id(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let ids = root_fields(model, "Message-ID");
    let mut findings = Vec::new();
    if ids.is_empty() {
        findings.push(missing(
            model,
            "the message has no Message-ID field (RFC 5322 §3.6.4: every message SHOULD have one)",
        ));
    }
    for field in ids.iter().take(4) {
        if let Err((at, why)) = parse_msg_id(field.value(content)) {
            findings.push(
                field_finding(
                    content,
                    field,
                    field.value.start + at,
                    format!("Message-ID: {why}"),
                )
                .fail(),
            );
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 5322 §2.2: field names are printable US-ASCII except colon, and a colon follows.
fn field_name_chars(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(5);
    let mut fields = 0;
    for (index, entity) in readable_entities(model) {
        for field in &entity.fields {
            fields += 1;
            if let Some(fault) = field_name_fault(field, content) {
                findings.add(|| {
                    let detail = match fault {
                        NameFault::NoColon => {
                            "a header line without a colon, so not a header field".to_owned()
                        }
                        NameFault::Empty => "a header field with an empty name".to_owned(),
                        NameFault::Octet(octet) => format!(
                            "the field name holds {}; names are printable US-ASCII without spaces",
                            describe_octet(octet)
                        ),
                    };
                    let detail = format!("{}: {detail}", header_of(index));
                    field_finding(content, field, field.span.start, detail)
                });
            }
        }
    }
    Outcome::judged(
        fields > 0,
        "the message has no header fields",
        findings.finish(),
    )
}

/// What is wrong with a field's name.
#[derive(Debug, Clone, Copy)]
enum NameFault {
    NoColon,
    Empty,
    /// An octet a name may not hold.
    Octet(u8),
}

/// The fault of a field's name, if any. White space before the colon is obs-optional,
/// judged as obsolete syntax.
fn field_name_fault(field: &HeaderField, content: &[u8]) -> Option<NameFault> {
    if !field.has_colon {
        return Some(NameFault::NoColon);
    }
    let name = trim_wsp_end(field.name(content));
    if name.is_empty() {
        return Some(NameFault::Empty);
    }
    name.iter()
        .find(|&&b| !(33..=126).contains(&b))
        .map(|&b| NameFault::Octet(b))
}

/// RFC 5322 §2.2: no CR or LF in a field body except as folding CRLF.
fn field_body_no_bare_crlf(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let facts = model.line_facts();
    let mut findings = Findings::new(5);
    let mut fields = 0;
    for (_, entity) in readable_entities(model) {
        for field in &entity.fields {
            fields += 1;
            if facts.no_bare_ends_in(content, &field.span) {
                continue;
            }
            for at in bare_line_ends(content, field.span.clone()) {
                let what = if content.get(at) == Some(&b'\r') {
                    "a CR without LF"
                } else {
                    "an LF without CR"
                };
                findings.add(|| {
                    field_finding(
                        content,
                        field,
                        at,
                        format!("{what} in a header field: CR and LF may only appear as CRLF (a header injection?)"),
                    )
                });
            }
        }
    }
    Outcome::judged(
        fields > 0,
        "the message has no header fields",
        findings.finish(),
    )
}

/// RFC 5322 §2.1.1, §2.3: lines at most 998 octets (MUST) and 78 characters (SHOULD).
fn line_998(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    if model.line_facts().longest <= 78 {
        return Outcome::judged(!content.is_empty(), "the message is empty", Vec::new());
    }
    let mut too_long = Findings::new(3);
    let mut long = Findings::new(2);
    let binary = binary_bodies(model);
    for line in lines(content, 0..content.len()) {
        if in_any(&binary, line.start) {
            continue;
        }
        let octets = line.len();
        if octets > 998 {
            too_long.add(|| {
                Finding::in_message(
                    line.start,
                    line.text(content),
                    format!("a line of {octets} octets: lines are limited to 998 octets without the CRLF"),
                )
            });
        } else if octets > 78 {
            let characters = utf8_characters(line.text(content));
            if characters > 78 {
                long.add(|| {
                    Finding::in_message(
                        line.start,
                        line.text(content),
                        format!("a line of {characters} characters: lines SHOULD be at most 78 without the CRLF"),
                    )
                    .warn()
                });
            }
        }
    }
    let mut findings = too_long.finish();
    findings.extend(long.finish());
    Outcome::judged(!content.is_empty(), "the message is empty", findings)
}

/// RFC 5322 §3.2.2: no line of a folded field made of white space alone.
fn folding_no_wsp_only_line(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(5);
    let mut folded = 0;
    for (_, entity) in readable_entities(model) {
        for field in &entity.fields {
            for line in lines(content, field.span.clone()).skip(1) {
                folded += 1;
                let text = line.text(content);
                if !text.is_empty() && text.iter().all(|&b| b == b' ' || b == b'\t') {
                    findings.add(|| {
                        Finding::in_message(
                            field.span.start,
                            content.get(field.span.start..line.end).unwrap_or_default(),
                            "a folded header field with a line of white space only",
                        )
                    });
                }
            }
        }
    }
    Outcome::judged(folded > 0, "no header field is folded", findings.finish())
}

/// RFC 5322 §3.5: `message = (fields / obs-fields) [CRLF body]`: every line before the
/// empty line is a field or a folded continuation of one.
fn header_body_separator(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(5);
    for (index, entity) in readable_entities(model) {
        let Some(first) = entity.fields.first() else {
            continue;
        };
        if matches!(content.get(first.span.start), Some(b' ' | b'\t')) {
            findings.add(|| {
                field_finding(
                    content,
                    first,
                    first.span.start,
                    format!(
                        "{}: the header starts with a line beginning with white space, a continuation with no field before it",
                        header_of(index)
                    ),
                )
            });
        }
        for field in entity.fields.iter().skip(1).filter(|f| !f.has_colon) {
            findings.add(|| {
                field_finding(
                    content,
                    field,
                    field.span.start,
                    format!(
                        "{}: a line in the header that is neither a field (`name:`) nor a folded line; is the empty line before the body missing?",
                        header_of(index)
                    ),
                )
            });
        }
        if !first.has_colon && !matches!(content.get(first.span.start), Some(b' ' | b'\t')) {
            findings.add(|| {
                field_finding(
                    content,
                    first,
                    first.span.start,
                    format!(
                        "{}: the first line is not a header field (`name:`)",
                        header_of(index)
                    ),
                )
            });
        }
    }
    Outcome::from_findings(findings.finish())
}

/// RFC 3030 §3 and RFC 2045 §2.9: the body of a part labelled `binary`, sent by BDAT with
/// BODY=BINARYMIME, is arbitrary octets (NUL, bare CR and LF, lines of any length); the line
/// rules of RFC 5322 do not look inside it. Sent any other way, it is judged like the rest
/// (and C-2045-NO-BINARY-OVER-DATA says why).
fn binary_bodies(model: &MessageModel<'_>) -> Vec<Range<usize>> {
    use smtp_protocol::params::Body;
    use smtp_protocol::session::Transfer;
    if model.input.transfer != Transfer::Bdat || model.input.body != Some(Body::BinaryMime) {
        return Vec::new();
    }
    model
        .entities
        .iter()
        .filter(|e| e.multipart.is_none() && e.encoding.as_deref() == Some("binary"))
        .map(|e| e.body.clone())
        .collect()
}

fn in_any(ranges: &[Range<usize>], at: usize) -> bool {
    ranges.iter().any(|r| r.contains(&at))
}

/// RFC 5322 §2.3: CR and LF only together in the body.
fn body_no_bare_crlf(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let root = model.root();
    let Some(separator) = &root.separator else {
        return Outcome::not_applicable("the message has no body (no empty line after its header)");
    };
    let body = separator.start..content.len();
    if model.line_facts().no_bare_ends_in(content, &body) {
        return Outcome::Pass;
    }
    let mut findings = Findings::new(4);
    let binary = binary_bodies(model);
    for at in bare_line_ends(content, body) {
        if in_any(&binary, at) {
            continue;
        }
        let what = if content.get(at) == Some(&b'\r') {
            "a CR without LF in the body: CR and LF must only occur together as CRLF"
        } else {
            "an LF without CR in the body: CR and LF must only occur together as CRLF"
        };
        findings.add(|| finding_at(content, at, what));
    }
    Outcome::from_findings(findings.finish())
}

/// RFC 5322 §4: obsolete forms MUST NOT be generated; NUL is no longer allowed.
fn no_obsolete_syntax(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let binary = binary_bodies(model);
    let mut nuls = memchr::memchr_iter(0, content).filter(|&at| !in_any(&binary, at));
    if let Some(first) = nuls.next() {
        let count = 1 + nuls.count();
        findings.add(|| {
            finding_at(
                content,
                first,
                format!("{count} NUL octet(s), the first here: RFC 5322 §4.1 no longer allows NUL anywhere in a message"),
            )
        });
    }
    for (index, entity) in readable_entities(model) {
        // One vectorised test over the whole header: fields are short, and the test's
        // 32-octet blocks only pay off over longer runs.
        let header = entity
            .fields
            .first()
            .zip(entity.fields.last())
            .and_then(|(first, last)| content.get(first.span.start..last.span.end))
            .unwrap_or_default();
        let controls = any_octet(header, is_obsolete_control);
        for field in &entity.fields {
            let name = field.name(content);
            if field.has_colon && !name.is_empty() && trim_wsp_end(name).len() < name.len() {
                findings.add(|| {
                    field_finding(
                        content,
                        field,
                        field.span.start,
                        format!(
                            "{}: white space between the field name and the colon is obsolete syntax (obs-optional)",
                            header_of(index)
                        ),
                    )
                });
            }
            let span = content.get(field.span.clone()).unwrap_or_default();
            if let Some(i) = controls.then(|| find_obsolete_control(span)).flatten() {
                let at = field.span.start + i;
                findings.add(|| {
                    field_finding(
                        content,
                        field,
                        at,
                        format!(
                            "{}: a control character ({}) in a header field is obsolete syntax",
                            header_of(index),
                            describe_octet(span.get(i).copied().unwrap_or(0))
                        ),
                    )
                });
            }
        }
    }
    for (field, parsed) in root_addresses(model) {
        for (at, why) in parsed.obsolete.iter().take(2) {
            let (at, why) = (*at, why.clone());
            let name = String::from_utf8_lossy(field.name(content)).into_owned();
            findings.add(|| {
                field_finding(
                    content,
                    field,
                    field.value.start + at,
                    format!("{name}: {why}"),
                )
            });
        }
    }
    Outcome::from_findings(findings.finish())
}

/// RFC 5321 §2.3.1 and RFC 6532 §3: header fields are US-ASCII unless SMTPUTF8 was used.
fn ascii_headers(model: &MessageModel<'_>) -> Outcome {
    if model.input.smtputf8 {
        return Outcome::not_applicable(
            "the message was sent with SMTPUTF8, which allows UTF-8 in header fields (RFC 6532)",
        );
    }
    let content = model.content();
    let mut findings = Findings::new(5);
    let mut fields = 0;
    for (index, entity) in readable_entities(model) {
        for field in &entity.fields {
            fields += 1;
            let span = content.get(field.span.clone()).unwrap_or_default();
            if let Some(i) = find_high(span) {
                findings.add(|| {
                    field_finding(
                        content,
                        field,
                        field.span.start + i,
                        format!(
                            "{}: a non-ASCII octet in a header field, but MAIL had no SMTPUTF8 (encode the text as RFC 2047 encoded-words, parameters as RFC 2231)",
                            header_of(index)
                        ),
                    )
                });
            }
        }
    }
    Outcome::judged(
        fields > 0,
        "the message has no header fields",
        findings.finish(),
    )
}

/// RFC 5322 §3.4, §3.6.2, §3.6.3: the address fields parse.
fn address_syntax(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (field, parsed) in root_addresses(model) {
        looked = true;
        if let Some((at, why)) = parsed.errors.first().cloned() {
            let name = String::from_utf8_lossy(field.name(content)).into_owned();
            findings.add(|| {
                field_finding(
                    content,
                    field,
                    field.value.start + at,
                    format!("{name}: {why}"),
                )
            });
        }
    }
    Outcome::judged(
        looked,
        "the message has no From, Sender, Reply-To, To, Cc or Bcc field",
        findings.finish(),
    )
}

// ---------------------------------------------------------------------------------------
// Fields and findings
// ---------------------------------------------------------------------------------------

/// The fields of the message itself named `name`.
/// RFC 5322 §3.6.3 leaves it to the sender how Bcc recipients are hidden; RFC 5321 §7.2 says
/// clients SHOULD NOT copy the full set of recipients into the header. A Bcc field that lists
/// addresses, in a copy sent to a To or Cc recipient, shows them who was blind-copied.
fn bcc_handling(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let bcc_fields = root_fields(model, "Bcc");
    let Some(first) = bcc_fields.first() else {
        return Outcome::not_applicable("the message has no Bcc field");
    };
    let hidden: Vec<String> = bcc_fields
        .iter()
        .flat_map(|f| addresses_in(f.value(content)))
        .collect();
    if hidden.is_empty() {
        // An empty Bcc field is one of the ways RFC 5322 §3.6.3 describes.
        return Outcome::Pass;
    }
    if model.input.recipients.is_empty() {
        return Outcome::not_applicable("the envelope recipients are not known");
    }
    let visible: Vec<String> = ["To", "Cc"]
        .iter()
        .flat_map(|name| root_fields(model, name))
        .flat_map(|f| addresses_in(f.value(content)))
        .collect();
    let exposed = model.input.recipients.iter().any(|r| {
        r.forward_path
            .mailbox()
            .is_some_and(|m| visible.contains(&m.to_string().to_ascii_lowercase()))
    });
    if !exposed {
        return Outcome::Pass;
    }
    Outcome::Violations(vec![field_finding(
        content,
        first,
        first.span.start,
        "the Bcc addresses are in a copy sent to To or Cc recipients: they see who was blind-copied",
    )])
}

/// The addr-specs of an address field's value, in lower case, found leniently (a broken
/// field is C-5322-ADDRESS-SYNTAX's business): the part in angle brackets, else a word with
/// an `@`.
fn addresses_in(value: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(&unfold(value)).to_ascii_lowercase();
    let text = strip_comments(&text);
    let mut found = Vec::new();
    for item in text.split([',', ';']) {
        match (item.find('<'), item.rfind('>')) {
            (Some(open), Some(close)) if open < close => {
                found.push(item[open + 1..close].trim().to_owned());
            }
            _ => found.extend(
                item.split(|c: char| c.is_whitespace() || c == ':')
                    .filter(|w| w.contains('@'))
                    .map(|w| w.trim_matches('"').to_owned()),
            ),
        }
    }
    found
}

/// The message header's address fields, each parsed once (see
/// [`crate::message::model::Derived`]): the field and what the parser found.
fn root_addresses<'m>(
    model: &'m MessageModel<'_>,
) -> impl Iterator<Item = (&'m HeaderField, &'m Addresses)> {
    let content = model.content();
    let fields = &model.root().fields;
    let parsed = model.derived.root_addresses.get_or_init(|| {
        fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| {
                let shape = address_shape(content, field)?;
                Some((index, parse_addresses(field.value(content), shape)))
            })
            .collect()
    });
    parsed
        .iter()
        .filter_map(|(index, addresses)| Some((fields.get(*index)?, addresses)))
}

/// What the parser found in `field`, one of the message header's address fields.
fn addresses_of<'m>(model: &'m MessageModel<'_>, field: &HeaderField) -> Option<&'m Addresses> {
    root_addresses(model).find_map(|(f, addresses)| std::ptr::eq(f, field).then_some(addresses))
}

fn root_fields<'m>(model: &'m MessageModel<'_>, name: &'m str) -> Vec<&'m HeaderField> {
    model.root().fields_named(model.content(), name).collect()
}

/// The entities whose header fields are real: all but those inside an embedded message
/// that is itself encoded (message/global may be base64 or quoted-printable, RFC 6532
/// §3.5), whose encoded octets the model splits as if they were a message.
pub(crate) fn readable_entities<'m>(
    model: &'m MessageModel<'_>,
) -> impl Iterator<Item = (usize, &'m Entity)> {
    let entities = &model.entities;
    let hidden = model
        .derived
        .hidden_entities
        .get_or_init(|| hidden_entities(entities));
    entities
        .iter()
        .enumerate()
        .filter(move |(index, _)| !hidden.get(*index).copied().unwrap_or(false))
}

/// For [`readable_entities`]: which entities lie inside a base64 or quoted-printable
/// `message/*` part (parents come before their children, so one pass marks them all).
fn hidden_entities(entities: &[Entity]) -> Vec<bool> {
    let mut hidden = vec![false; entities.len()];
    for (index, entity) in entities.iter().enumerate() {
        let Some((parent_index, parent)) = entity
            .parent
            .and_then(|p| entities.get(p).map(|parent| (p, parent)))
        else {
            continue;
        };
        let encoded = parent
            .content_type
            .as_ref()
            .is_some_and(|ct| ct.is_message())
            && parent
                .encoding
                .as_deref()
                .is_some_and(|e| e.starts_with("base64") || e.starts_with("quoted-printable"));
        let inside = hidden.get(parent_index).copied().unwrap_or(false);
        if let Some(flag) = hidden.get_mut(index) {
            *flag = encoded || inside;
        }
    }
    hidden
}

/// The shape of an address field's value, if `field` is one.
fn address_shape(content: &[u8], field: &HeaderField) -> Option<Shape> {
    ADDRESS_FIELDS
        .iter()
        .find(|(name, _)| field.is(content, name))
        .map(|&(_, shape)| shape)
}

/// Which entity a finding is about, for its detail.
pub(crate) fn header_of(index: usize) -> Cow<'static, str> {
    if index == 0 {
        "the message header".into()
    } else {
        format!("the header of MIME part {index}").into()
    }
}

/// A finding about a missing field: at the end of the message's header.
fn missing(model: &MessageModel<'_>, detail: &'static str) -> Finding {
    let root = model.root();
    let at = root
        .separator
        .as_ref()
        .map_or(root.body.start, |separator| separator.start);
    Finding::in_message(at, b"", detail)
}

/// A finding about a header field: its octets from the start, or from a little before `at`
/// when `at` lies far into a long field.
pub(crate) fn field_finding(
    content: &[u8],
    field: &HeaderField,
    at: usize,
    detail: impl Into<Cow<'static, str>>,
) -> Finding {
    let end = field.value.end.max(field.span.start);
    let start = if at.saturating_sub(field.span.start) < 100 {
        field.span.start
    } else {
        at.saturating_sub(24).min(end)
    };
    Finding::in_message(start, content.get(start..end).unwrap_or_default(), detail)
}

/// A finding at the problem at `at`: its evidence runs from the start of the line holding
/// it (at most 100 octets back) to 40 octets past it, and the finding's offset is where
/// that evidence starts.
pub(crate) fn finding_at(
    content: &[u8],
    at: usize,
    detail: impl Into<Cow<'static, str>>,
) -> Finding {
    let at = at.min(content.len());
    let back = at.saturating_sub(100);
    let before = content.get(back..at).unwrap_or_default();
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(back, |i| back + i + 1);
    let end = at.saturating_add(40).min(content.len());
    Finding::in_message(start, content.get(start..end).unwrap_or_default(), detail)
}

/// Findings up to a limit; the ones past it are counted, and the first of them is kept as
/// a summary ("N more like this").
pub(crate) struct Findings {
    list: Vec<Finding>,
    limit: usize,
    more: usize,
    first_more: Option<Finding>,
}

impl Findings {
    pub(crate) fn new(limit: usize) -> Findings {
        Findings {
            list: Vec::new(),
            limit,
            more: 0,
            first_more: None,
        }
    }

    /// Adds the finding `make` builds (only built when it is kept).
    pub(crate) fn add(&mut self, make: impl FnOnce() -> Finding) {
        if self.list.len() < self.limit {
            self.list.push(make());
        } else {
            if self.first_more.is_none() {
                self.first_more = Some(make());
            }
            self.more += 1;
        }
    }

    pub(crate) fn finish(self) -> Vec<Finding> {
        let mut list = self.list;
        if let Some(mut first) = self.first_more {
            first.detail = format!(
                "{} more like this; the first of them: {}",
                self.more, first.detail
            )
            .into();
            list.push(first);
        }
        list
    }
}

/// An octet for a detail.
pub(crate) fn describe_octet(octet: u8) -> String {
    match octet {
        b' ' => "a space".to_owned(),
        b'\t' => "a tab".to_owned(),
        0x21..=0x7e => format!("`{}`", octet as char),
        _ => format!("the octet 0x{octet:02X}"),
    }
}

/// `octets` without the spaces and tabs at its end.
fn trim_wsp_end(octets: &[u8]) -> &[u8] {
    let end = octets
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    octets.get(..end).unwrap_or_default()
}

/// RFC 5322 §4.1 obs-NO-WS-CTL: control characters other than NUL (reported on its own),
/// TAB, CR and LF (judged by the line-end checks).
fn is_obsolete_control(octet: u8) -> bool {
    // 1..=8, 11, 12, 14..=31 and 127, without branches so that [`any_octet`] can test a
    // block at once.
    ((octet < 0x20) | (octet == 0x7f))
        & (octet != b'\t')
        & (octet != b'\r')
        & (octet != b'\n')
        & (octet != 0)
}

/// The offset of the first [`is_obsolete_control`] octet (a quick pass that vectorizes
/// first, since nearly every field has none).
fn find_obsolete_control(octets: &[u8]) -> Option<usize> {
    if any_octet(octets, is_obsolete_control) {
        octets.iter().position(|&b| is_obsolete_control(b))
    } else {
        None
    }
}

/// The number of characters of a line: UTF-8 continuation octets do not count.
fn utf8_characters(line: &[u8]) -> usize {
    line.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// A field value with nothing but white space and comments.
fn is_blank(value: &[u8]) -> bool {
    let mut cursor = Cursor::new(value);
    cursor.skip_cfws().is_ok() && cursor.at_end()
}

// ---------------------------------------------------------------------------------------
// A cursor over a field value, with RFC 5322 white space and comments
// ---------------------------------------------------------------------------------------

/// Reads a raw field value; CR and LF count as white space (folding), since bare ones are
/// another check's business.
pub(crate) struct Cursor<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Cursor<'a> {
        Cursor { text, at: 0 }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    /// Consumes `octet` if it is next.
    pub(crate) fn eat(&mut self, octet: u8) -> bool {
        let found = self.peek() == Some(octet);
        if found {
            self.at += 1;
        }
        found
    }

    /// Skips white space; whether there was any.
    pub(crate) fn skip_fws(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
        self.at > start
    }

    /// Skips white space and comments; whether there were any, or the offset of a comment
    /// that is not closed.
    pub(crate) fn skip_cfws(&mut self) -> Result<bool, usize> {
        let start = self.at;
        loop {
            self.skip_fws();
            if self.peek() != Some(b'(') {
                break;
            }
            self.at = skip_comment(self.text, self.at)?;
        }
        Ok(self.at > start)
    }

    /// Consumes the octets `accept` takes.
    pub(crate) fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(&accept) {
            self.at += 1;
        }
        self.text.get(start..self.at).unwrap_or_default()
    }
}

/// The offset after the comment that opens at `open` (nested comments and quoted pairs
/// included), or `Err(open)` when it is not closed.
pub(crate) fn skip_comment(text: &[u8], open: usize) -> Result<usize, usize> {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&octet) = text.get(i) {
        match octet {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(open)
}

fn unclosed_comment(at: usize) -> Problem {
    (at, "a comment `(` is not closed".into())
}

/// RFC 5322 §3.2.3 atext, with RFC 6532 §3.2's UTF-8 (octets ≥ 0x80; whether they may be
/// there at all is C-5322-ASCII-HEADERS's business).
pub(crate) fn is_atext(octet: u8) -> bool {
    octet.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&octet) || octet >= 0x80
}

fn lossy(octets: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(octets)
}

// ---------------------------------------------------------------------------------------
// Date (RFC 5322 §3.3)
// ---------------------------------------------------------------------------------------

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Reads `date-time = [ day-of-week "," ] date time [CFWS]` strictly (no obsolete forms)
/// and checks that it is semantically valid (§3.3: the day of the week implied by the date,
/// a day within the month, a time within 00:00:00–23:59:60, zone minutes 00–59).
fn parse_date(value: &[u8]) -> Result<(), Problem> {
    let mut c = Cursor::new(value);
    c.skip_fws();
    if c.at_end() {
        return Err((c.at, "the field is empty".into()));
    }
    let mut weekday = None;
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        let at = c.at;
        let name = c.take_while(|b| b.is_ascii_alphabetic());
        let Some(day) = name_index(name, &DAY_NAMES) else {
            return Err((at, format!("`{}` is not an English day-of-week abbreviation (Mon … Sun); the form is `Tue, 14 May 2024 09:21:07 +0200`", lossy(name)).into()));
        };
        let spaced = c.skip_cfws().map_err(unclosed_comment)?;
        if !c.eat(b',') {
            return Err((c.at, "a comma must follow the day of the week".into()));
        }
        if spaced {
            return Err((
                at,
                "white space or a comment before the comma after the day name is obsolete syntax"
                    .into(),
            ));
        }
        weekday = Some((at, day));
    }
    c.skip_fws();
    let day_at = c.at;
    let day = c.take_while(|b| b.is_ascii_digit());
    if day.is_empty() || day.len() > 2 {
        return Err((day_at, "the date must start with a day of the month of one or two digits; the form is `Tue, 14 May 2024 09:21:07 +0200`, not ISO 8601 or a localized date".into()));
    }
    let day = number(day).unwrap_or(0);
    need_space(&mut c, "after the day of the month")?;
    let month_at = c.at;
    let month_name = c.take_while(|b| b.is_ascii_alphabetic());
    let Some(month) = name_index(month_name, &MONTH_NAMES) else {
        return Err((
            month_at,
            format!(
                "`{}` is not an English month abbreviation (Jan … Dec)",
                lossy(month_name)
            )
            .into(),
        ));
    };
    need_space(&mut c, "after the month")?;
    let year_at = c.at;
    let year_digits = c.take_while(|b| b.is_ascii_digit());
    match year_digits.len() {
        0 => return Err((year_at, "no year after the month".into())),
        1..=3 => {
            return Err((
                year_at,
                "a two- or three-digit year is obsolete syntax: write all four digits".into(),
            ))
        }
        _ => {}
    }
    // Years too long for a number are no real dates, but the grammar allows them: the
    // calendar checks skip them.
    let year = number(year_digits);
    if year.is_some_and(|y| y < 1900) {
        return Err((year_at, "a year before 1900".into()));
    }
    need_space(&mut c, "after the year")?;
    let hour = two_digits(&mut c, "hour")?;
    if !c.eat(b':') {
        return Err((c.at, "the time must be written hh:mm or hh:mm:ss".into()));
    }
    let minute = two_digits(&mut c, "minute")?;
    let second = if c.eat(b':') {
        Some(two_digits(&mut c, "second")?)
    } else {
        None
    };
    let zone_minutes = parse_zone(&mut c)?;
    c.skip_cfws().map_err(unclosed_comment)?;
    if !c.at_end() {
        return Err((c.at, "unexpected text after the time zone".into()));
    }
    let time_at = day_at;
    if !(1..=days_in_month(month + 1, year)).contains(&day) {
        return Err((
            day_at,
            format!(
                "{} {day} is not a day of the month",
                MONTH_NAMES.get(month).unwrap_or(&"")
            )
            .into(),
        ));
    }
    if hour > 23 || minute > 59 || second.is_some_and(|s| s > 60) {
        return Err((
            time_at,
            "the time of day is out of range (00:00:00 to 23:59:60)".into(),
        ));
    }
    if zone_minutes > 59 {
        return Err((time_at, "the zone's minutes must be 00 to 59".into()));
    }
    if let (Some((at, given)), Some(year)) = (weekday, year) {
        let actual = weekday_of(year, month + 1, day);
        if actual != given {
            return Err((
                at,
                format!(
                    "{day} {} {year} was a {}, not a {}",
                    MONTH_NAMES.get(month).unwrap_or(&""),
                    DAY_NAMES.get(actual).unwrap_or(&""),
                    DAY_NAMES.get(given).unwrap_or(&"")
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// `zone = (FWS ( "+" / "-" ) 4DIGIT)`; the zone's minutes.
fn parse_zone(c: &mut Cursor<'_>) -> Result<u64, Problem> {
    let spaced = c.skip_fws();
    if c.at_end() {
        return Err((c.at, "no time zone after the time (such as +0000)".into()));
    }
    let at = c.at;
    match c.peek() {
        Some(b'+' | b'-') if spaced => {
            c.at += 1;
            let digits = c.take_while(|b| b.is_ascii_digit());
            if digits.len() != 4 {
                return Err((at, "the zone must be a sign and four digits (+hhmm)".into()));
            }
            Ok(number(digits.get(2..).unwrap_or_default()).unwrap_or(0))
        }
        Some(b'+' | b'-') => Err((at, "white space must separate the time and the zone".into())),
        Some(b) if b.is_ascii_alphabetic() => {
            let name = c.take_while(|b| b.is_ascii_alphabetic());
            Err((
                at,
                format!(
                    "the zone name `{}` is obsolete syntax: write a numeric zone such as +0000",
                    lossy(name)
                )
                .into(),
            ))
        }
        _ => Err((
            at,
            "no numeric time zone (such as +0000) after the time".into(),
        )),
    }
}

/// Requires white space, for a grammar's FWS.
fn need_space(c: &mut Cursor<'_>, after: &str) -> Result<(), Problem> {
    if c.skip_fws() {
        Ok(())
    } else {
        Err((c.at, format!("white space is missing {after}").into()))
    }
}

fn two_digits(c: &mut Cursor<'_>, what: &str) -> Result<u64, Problem> {
    let at = c.at;
    let digits = c.take_while(|b| b.is_ascii_digit());
    if digits.len() != 2 {
        return Err((at, format!("the {what} must have two digits").into()));
    }
    Ok(number(digits).unwrap_or(0))
}

/// A decimal number; `None` when it does not fit.
fn number(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

fn name_index(name: &[u8], names: &[&str]) -> Option<usize> {
    names
        .iter()
        .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
}

/// The days of `month` (1–12); February has 29 when the year is not known.
fn days_in_month(month: usize, year: Option<u64>) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => match year {
            Some(y) if !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) => 28,
            _ => 29,
        },
    }
}

/// The day of the week of a date (0 is Sunday): days since 1970-01-01 (a Thursday), after
/// H. Hinnant's days_from_civil.
fn weekday_of(year: u64, month: usize, day: u64) -> usize {
    let year = i128::from(year) - i128::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i128;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + i128::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    (days + 4).rem_euclid(7) as usize
}

// ---------------------------------------------------------------------------------------
// Message-ID (RFC 5322 §3.6.4)
// ---------------------------------------------------------------------------------------

/// `msg-id = [CFWS] "<" id-left "@" id-right ">" [CFWS]`, `id-left = dot-atom-text`,
/// `id-right = dot-atom-text / no-fold-literal`, no internal CFWS.
fn parse_msg_id(value: &[u8]) -> Result<(), Problem> {
    let mut c = Cursor::new(value);
    c.skip_cfws().map_err(unclosed_comment)?;
    if c.at_end() {
        return Err((c.at, "the field is empty".into()));
    }
    if !c.eat(b'<') {
        return Err((
            c.at,
            "the identifier must be in angle brackets: `<left@right>`".into(),
        ));
    }
    if c.peek() == Some(b'"') {
        return Err((
            c.at,
            "a quoted string before `@` is obsolete syntax: only dot-atom text may stand there"
                .into(),
        ));
    }
    dot_atom_text(&mut c).map_err(|at| (at, inside_id(value, at, "before `@`")))?;
    if !c.eat(b'@') {
        return Err((c.at, inside_id(value, c.at, "where `@` should be")));
    }
    if c.peek() == Some(b'[') {
        c.at += 1;
        c.take_while(|b| matches!(b, 33..=90 | 94..=126));
        if !c.eat(b']') {
            return Err((
                c.at,
                "the `[...]` literal after `@` is not closed or holds a character it may not"
                    .into(),
            ));
        }
    } else {
        dot_atom_text(&mut c).map_err(|at| (at, inside_id(value, at, "after `@`")))?;
    }
    if !c.eat(b'>') {
        return Err((c.at, inside_id(value, c.at, "where `>` should be")));
    }
    c.skip_cfws().map_err(unclosed_comment)?;
    if !c.at_end() {
        return Err((
            c.at,
            "text after the identifier: the field holds exactly one `<left@right>`".into(),
        ));
    }
    Ok(())
}

/// What stands at `at` inside a message identifier, for a detail.
fn inside_id(value: &[u8], at: usize, place: &str) -> Cow<'static, str> {
    match value.get(at) {
        None => format!("the identifier ends {place}; it must be `<left@right>`").into(),
        Some(b' ' | b'\t' | b'\r' | b'\n' | b'(') => {
            format!("white space or a comment inside the identifier ({place})").into()
        }
        Some(&b) => format!("{} {place}: each side of `@` is dot-atom text (letters, digits, `!#$%&'*+-/=?^_`{{|}}~` and single dots)", describe_octet(b)).into(),
    }
}

/// `dot-atom-text = 1*atext *("." 1*atext)`; `Err` at an empty label.
fn dot_atom_text(c: &mut Cursor<'_>) -> Result<(), usize> {
    loop {
        let start = c.at;
        if c.take_while(is_atext).is_empty() {
            return Err(start);
        }
        if !c.eat(b'.') {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Addresses (RFC 5322 §3.4, obsolete forms of §4.4)
// ---------------------------------------------------------------------------------------

/// What an address field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One address (Sender).
    One,
    /// One or more (From, Reply-To, To, Cc).
    List,
    /// Zero or more (Bcc).
    MaybeEmpty,
}

/// What the address parser found in one field.
#[derive(Debug, Clone, Default)]
pub(crate) struct Addresses {
    /// Mailboxes, those inside groups included.
    pub(crate) mailboxes: usize,
    pub(crate) groups: usize,
    /// Where the grammar is broken (offsets in the value).
    pub(crate) errors: Vec<Problem>,
    /// Obsolete forms (valid to read, but MUST NOT be generated).
    pub(crate) obsolete: Vec<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Atom,
    Quoted,
    Literal,
    Special(u8),
}

/// A lexical token of a structured field; `spaced`: white space or a comment before it.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    spaced: bool,
}

/// Parses an address field's value.
pub(crate) fn parse_addresses(value: &[u8], shape: Shape) -> Addresses {
    if is_bare_addr_spec(value) {
        // One valid mailbox and nothing to report, in every shape.
        return Addresses {
            mailboxes: 1,
            ..Addresses::default()
        };
    }
    parse_addresses_fully(value, shape)
}

/// [`parse_addresses`] without its shortcut.
fn parse_addresses_fully(value: &[u8], shape: Shape) -> Addresses {
    match tokenize(value) {
        Err(problem) => Addresses {
            errors: vec![problem],
            ..Addresses::default()
        },
        Ok(tokens) => {
            let mut parser = AddressParser {
                text: value,
                tokens,
                at: 0,
                out: Addresses::default(),
            };
            parser.list(shape);
            parser.out
        }
    }
}

/// Whether `value` is only `local@domain` or `<local@domain>`, both parts dot-atoms of ASCII
/// atext, between optional white space: what most clients write in To and many in From. Recognised without the
/// tokenizer, which took about 1,800 instructions for it (the message checks' costliest step
/// for a plain message); anything else goes to the full parser.
fn is_bare_addr_spec(value: &[u8]) -> bool {
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(|b| !space(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    let trimmed = value.get(start..end).unwrap_or(&[]);
    let spec = match trimmed {
        [b'<', inner @ .., b'>'] => inner,
        _ => trimmed,
    };
    let Some((local, domain)) = Some(spec).and_then(|v| {
        let at = v.iter().position(|&b| b == b'@')?;
        Some((v.get(..at)?, v.get(at + 1..)?))
    }) else {
        return false;
    };
    let dot_atom = |text: &[u8]| {
        !text.is_empty()
            && text
                .split(|&b| b == b'.')
                .all(|atom| !atom.is_empty() && atom.iter().all(|&b| b < 0x80 && is_atext(b)))
    };
    dot_atom(local) && dot_atom(domain)
}

/// Splits a structured value into atoms, quoted strings, domain literals and specials;
/// comments and white space only mark the token after them.
fn tokenize(text: &[u8]) -> Result<Vec<Token>, Problem> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut spaced = false;
    while let Some(&octet) = text.get(i) {
        let start = i;
        let kind = match octet {
            b' ' | b'\t' | b'\r' | b'\n' => {
                spaced = true;
                i += 1;
                continue;
            }
            b'(' => {
                i = skip_comment(text, i).map_err(unclosed_comment)?;
                spaced = true;
                continue;
            }
            b'"' => {
                i = skip_quoted(text, i)?;
                Kind::Quoted
            }
            b'[' => {
                i = skip_literal(text, i)?;
                Kind::Literal
            }
            b')' => return Err((i, "a `)` without a matching `(`".into())),
            b']' => return Err((i, "a `]` without a matching `[`".into())),
            b'\\' => return Err((i, "a backslash outside a quoted string".into())),
            b'<' | b'>' | b':' | b';' | b'@' | b',' | b'.' => {
                i += 1;
                Kind::Special(octet)
            }
            b if is_atext(b) => {
                while text.get(i).is_some_and(|&b| is_atext(b)) {
                    i += 1;
                }
                Kind::Atom
            }
            b => {
                return Err((
                    i,
                    format!("{} where no such character may stand", describe_octet(b)).into(),
                ))
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
            spaced,
        });
        spaced = false;
    }
    Ok(tokens)
}

/// The offset after the quoted string opening at `open`.
fn skip_quoted(text: &[u8], open: usize) -> Result<usize, Problem> {
    let mut i = open + 1;
    while let Some(&octet) = text.get(i) {
        match octet {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err((open, "a quoted string `\"` is not closed".into()))
}

/// The offset after the domain literal opening at `open`.
fn skip_literal(text: &[u8], open: usize) -> Result<usize, Problem> {
    let mut i = open + 1;
    while let Some(&octet) = text.get(i) {
        match octet {
            b'\\' => i += 2,
            b']' => return Ok(i + 1),
            b'[' => break,
            _ => i += 1,
        }
    }
    Err((open, "a domain literal `[` is not closed".into()))
}

/// A linear parser of address lists over the tokens; it stops a list element at its first
/// error and goes on with the next.
struct AddressParser<'t> {
    text: &'t [u8],
    tokens: Vec<Token>,
    at: usize,
    out: Addresses,
}

impl AddressParser<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    fn is(&self, special: u8) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == Kind::Special(special))
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.text.len(), |t| t.start)
    }

    /// What is next, for a detail.
    fn next_shown(&self) -> String {
        match self.peek() {
            None => "the end of the field".to_owned(),
            Some(t) => format!(
                "`{}`",
                lossy(self.text.get(t.start..t.end).unwrap_or_default())
            ),
        }
    }

    fn error(&mut self, at: usize, why: impl Into<Cow<'static, str>>) {
        self.out.errors.push((at, why.into()));
    }

    fn obsolete(&mut self, at: usize, why: &'static str) {
        self.out.obsolete.push((at, why.into()));
    }

    fn errors(&self) -> usize {
        self.out.errors.len()
    }

    /// Moves to the next `stop` (not consumed) or the end.
    fn skip_to(&mut self, stop: u8) {
        while self.peek().is_some() && !self.is(stop) {
            self.at += 1;
        }
    }

    /// Words and dots (a phrase or a local part): their token range.
    fn words(&mut self) -> Range<usize> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|t| matches!(t.kind, Kind::Atom | Kind::Quoted | Kind::Special(b'.')))
        {
            self.at += 1;
        }
        start..self.at
    }

    fn tokens_of(&self, range: Range<usize>) -> Vec<Token> {
        self.tokens.get(range).unwrap_or_default().to_vec()
    }

    /// `address-list` / `mailbox-list` with the obsolete empty elements.
    fn list(&mut self, shape: Shape) {
        if self.tokens.is_empty() {
            if shape != Shape::MaybeEmpty {
                self.error(0, "the field is empty: it must hold an address");
            }
            return;
        }
        let mut addresses = 0;
        while let Some(token) = self.peek() {
            if self.is(b',') {
                self.obsolete(
                    token.start,
                    "an empty element in the address list (a comma with no address before it) is obsolete syntax",
                );
                self.at += 1;
                continue;
            }
            let errors = self.errors();
            self.address(false);
            addresses += 1;
            if self.errors() == errors && self.peek().is_some() && !self.is(b',') {
                let (at, next) = (self.here(), self.next_shown());
                self.error(
                    at,
                    format!("{next} after an address: a comma is missing, or a display name needs quoting"),
                );
            }
            if self.errors() > errors {
                self.skip_to(b',');
            }
            if let Some(comma) = self.peek().filter(|t| t.kind == Kind::Special(b',')) {
                self.at += 1;
                if self.peek().is_none() {
                    self.obsolete(
                        comma.start,
                        "a comma at the end of the address list is obsolete syntax",
                    );
                }
            }
        }
        if shape == Shape::One && addresses > 1 {
            self.error(0, "more than one address where the field allows one");
        }
    }

    /// `address = mailbox / group`, `mailbox = name-addr / addr-spec`.
    fn address(&mut self, in_group: bool) {
        let words = self.words();
        match self.peek().map(|t| t.kind) {
            Some(Kind::Special(b'<')) => {
                self.display_name(words);
                self.angle_addr();
            }
            Some(Kind::Special(b':')) if !in_group => self.group(words),
            Some(Kind::Special(b':')) => {
                let at = self.here();
                self.error(at, "a group inside a group");
            }
            Some(Kind::Special(b'@')) => {
                if self.local_part(words) {
                    self.at += 1;
                    if self.domain() {
                        self.out.mailboxes += 1;
                    }
                }
            }
            _ => self.no_address(words),
        }
    }

    /// Words (or nothing) where an address should be.
    fn no_address(&mut self, words: Range<usize>) {
        let tokens = self.tokens_of(words);
        match (tokens.first(), tokens.last()) {
            (Some(first), Some(last)) => {
                let shown =
                    lossy(self.text.get(first.start..last.end).unwrap_or_default()).into_owned();
                self.error(
                    first.start,
                    format!("`{shown}` is not an address: a name needs an address in `<>` after it, an address needs `@domain`"),
                );
            }
            _ => {
                let (at, next) = (self.here(), self.next_shown());
                self.error(at, format!("{next} where an address should be"));
            }
        }
    }

    /// `group = display-name ":" [group-list] ";" [CFWS]`.
    fn group(&mut self, name: Range<usize>) {
        let colon = self.here();
        if name.is_empty() {
            self.error(colon, "a group needs a name before `:`");
            return;
        }
        self.display_name(name);
        self.at += 1;
        loop {
            match self.peek() {
                None => {
                    self.error(colon, "a group not closed by `;`");
                    return;
                }
                Some(t) if t.kind == Kind::Special(b';') => {
                    self.at += 1;
                    self.out.groups += 1;
                    return;
                }
                Some(t) if t.kind == Kind::Special(b',') => {
                    self.obsolete(
                        t.start,
                        "an empty element in a group's list is obsolete syntax",
                    );
                    self.at += 1;
                }
                Some(_) => {
                    let errors = self.errors();
                    self.address(true);
                    if self.errors() == errors && !self.is(b',') && !self.is(b';') {
                        if self.peek().is_none() {
                            continue;
                        }
                        let (at, next) = (self.here(), self.next_shown());
                        self.error(at, format!("{next} after an address in a group"));
                    }
                    if self.errors() > errors {
                        self.skip_to(b';');
                        if self.is(b';') {
                            self.at += 1;
                        }
                        return;
                    }
                    if self.is(b',') {
                        self.at += 1;
                    }
                }
            }
        }
    }

    /// `angle-addr = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr`.
    fn angle_addr(&mut self) {
        let open = self.here();
        self.at += 1;
        if self.is(b'@') && !self.route() {
            return;
        }
        if self.is(b'>') {
            self.error(
                open,
                "empty angle brackets `<>`: an address field needs a real address",
            );
            self.at += 1;
            return;
        }
        let words = self.words();
        if !self.is(b'@') {
            if self.peek().is_none() || self.is(b'>') {
                self.error(open, "an address in `<>` without `@domain`");
            } else {
                let (at, next) = (self.here(), self.next_shown());
                self.error(at, format!("{next} inside `<>`"));
            }
            return;
        }
        if !self.local_part(words) {
            return;
        }
        self.at += 1;
        if !self.domain() {
            return;
        }
        if self.is(b'>') {
            self.at += 1;
            self.out.mailboxes += 1;
        } else if self.peek().is_none() {
            self.error(open, "`<` without a matching `>`");
        } else {
            let (at, next) = (self.here(), self.next_shown());
            self.error(at, format!("{next} inside `<>` after the address"));
        }
    }

    /// `obs-route = obs-domain-list ":"`, read after `<`.
    fn route(&mut self) -> bool {
        let start = self.here();
        loop {
            if self.is(b'@') {
                self.at += 1;
                if !self.domain() {
                    return false;
                }
            } else if self.is(b',') {
                self.at += 1;
            } else if self.is(b':') {
                self.at += 1;
                self.obsolete(
                    start,
                    "a source route (`<@relay:user@domain>`) is obsolete syntax",
                );
                return true;
            } else {
                let at = self.here();
                self.error(at, "a source route in `<>` not ended by `:`");
                return false;
            }
        }
    }

    /// `local-part = dot-atom / quoted-string / obs-local-part` over `words`.
    fn local_part(&mut self, words: Range<usize>) -> bool {
        let tokens = self.tokens_of(words);
        let Some(first) = tokens.first().copied() else {
            let at = self.here();
            self.error(at, "nothing before `@`");
            return false;
        };
        let mut want_word = true;
        let mut obsolete = false;
        for (i, token) in tokens.iter().enumerate() {
            let dot = token.kind == Kind::Special(b'.');
            if dot == want_word {
                let why = if dot {
                    "an empty part in the local part (a leading `.` or `..`)"
                } else {
                    "white space in the local part: quote it"
                };
                self.error(token.start, why);
                return false;
            }
            obsolete |= i > 0 && token.spaced;
            want_word = dot;
        }
        if want_word {
            let at = tokens.last().map_or(first.start, |t| t.start);
            self.error(at, "the local part ends in `.`");
            return false;
        }
        obsolete |= tokens.len() > 1 && tokens.iter().any(|t| t.kind == Kind::Quoted);
        if obsolete {
            self.obsolete(
                first.start,
                "a local part of words joined by dots that mixes quoted strings, or has white space or comments around its dots, is obsolete syntax",
            );
        }
        true
    }

    /// `domain = dot-atom / domain-literal / obs-domain`, read after `@`.
    fn domain(&mut self) -> bool {
        match self.peek() {
            Some(t) if t.kind == Kind::Literal => {
                self.at += 1;
                true
            }
            Some(t) if t.kind == Kind::Atom => {
                self.at += 1;
                let mut spaced = false;
                while let Some(dot) = self.peek().filter(|t| t.kind == Kind::Special(b'.')) {
                    self.at += 1;
                    match self.peek() {
                        Some(label) if label.kind == Kind::Atom => {
                            spaced |= dot.spaced || label.spaced;
                            self.at += 1;
                        }
                        _ => {
                            self.error(dot.start, "the domain ends in `.` or has an empty label");
                            return false;
                        }
                    }
                }
                if spaced {
                    self.obsolete(
                        t.start,
                        "white space or comments around the dots of a domain are obsolete syntax",
                    );
                }
                true
            }
            _ => {
                let (at, next) = (self.here(), self.next_shown());
                self.error(at, format!("{next} where the domain after `@` should be"));
                false
            }
        }
    }

    /// `display-name = phrase`; a `.` in it is obs-phrase.
    fn display_name(&mut self, words: Range<usize>) {
        let tokens = self.tokens_of(words);
        if let Some(first) = tokens.first().filter(|t| t.kind == Kind::Special(b'.')) {
            self.error(first.start, "a display name cannot start with `.`");
        } else if let Some(dot) = tokens.iter().find(|t| t.kind == Kind::Special(b'.')) {
            self.obsolete(
                dot.start,
                "a `.` in an unquoted display name is obsolete syntax: quote the name",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Scanning: lines and octets
// ---------------------------------------------------------------------------------------

/// Whether `wanted` accepts any octet of `hay`. Read in fixed-size blocks, folded without a
/// branch: with a branch-free `wanted` the compiler turns each block into a few vector
/// instructions (a fold over a slice of unknown length stayed octet by octet, about three
/// instructions an octet, measured with callgrind).
pub(crate) fn any_octet(hay: &[u8], wanted: impl Fn(u8) -> bool) -> bool {
    let (blocks, rest) = hay.as_chunks::<32>();
    blocks
        .iter()
        .any(|block| block.iter().fold(0u8, |any, &b| any | u8::from(wanted(b))) != 0)
        || rest.iter().any(|&b| wanted(b))
}

/// The offset of the first `needle` in `hay`.
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    memchr::memchr(needle, hay)
}

/// The offset of the first `a` or `b` in `hay`.
pub(crate) fn find_either(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    memchr::memchr2(a, b, hay)
}

/// The offset of the first octet ≥ 0x80 in `hay`. Nearly every text is ASCII: the standard
/// library's `is_ascii` reads it a word (or a vector) at a time, and only text that has such
/// an octet is searched octet by octet. (A hand-written block fold compiled to about three
/// instructions an octet: 12k instructions a 1 KiB message, a tenth of all the server did for
/// it, measured with callgrind under ci/bench.sh row C's load.)
pub(crate) fn find_high(hay: &[u8]) -> Option<usize> {
    if hay.is_ascii() {
        return None;
    }
    hay.iter().position(|&b| b >= 0x80)
}

/// One line: its text (without CR LF) and where the next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) start: usize,
    /// The end of the text: before the CR LF, or the LF, or the end of the range.
    pub(crate) end: usize,
    pub(crate) next: usize,
}

impl Line {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn text<'a>(&self, content: &'a [u8]) -> &'a [u8] {
        content.get(self.start..self.end).unwrap_or_default()
    }

    /// The line ended with an LF that had no CR before it.
    pub(crate) fn bare_lf(&self) -> bool {
        self.next == self.end + 1
    }
}

/// The lines of `range`: each ends at an LF (with or without a CR before it) or at the end
/// of the range, as the message model splits them.
pub(crate) fn lines(content: &[u8], range: Range<usize>) -> Lines<'_> {
    Lines {
        content,
        at: range.start,
        end: range.end.min(content.len()),
    }
}

#[derive(Debug)]
pub(crate) struct Lines<'a> {
    content: &'a [u8],
    at: usize,
    end: usize,
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        let start = self.at;
        let rest = self
            .content
            .get(start..self.end)
            .filter(|r| !r.is_empty())?;
        let line = match find_byte(rest, b'\n') {
            Some(i) => {
                let lf = start + i;
                let end = if i > 0 && rest.get(i - 1) == Some(&b'\r') {
                    lf - 1
                } else {
                    lf
                };
                Line {
                    start,
                    end,
                    next: lf + 1,
                }
            }
            None => Line {
                start,
                end: self.end,
                next: self.end,
            },
        };
        self.at = line.next;
        Some(line)
    }
}

/// The offsets of the CRs not followed by LF and the LFs not preceded by CR in `range`.
pub(crate) fn bare_line_ends(content: &[u8], range: Range<usize>) -> BareLineEnds<'_> {
    BareLineEnds {
        content,
        at: range.start,
        end: range.end.min(content.len()),
    }
}

#[derive(Debug)]
pub(crate) struct BareLineEnds<'a> {
    content: &'a [u8],
    at: usize,
    end: usize,
}

impl Iterator for BareLineEnds<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        loop {
            let rest = self.content.get(self.at..self.end)?;
            let found = self.at + find_either(rest, b'\r', b'\n')?;
            if self.content.get(found) == Some(&b'\r')
                && found + 1 < self.end
                && self.content.get(found + 1) == Some(&b'\n')
            {
                self.at = found + 2;
                continue;
            }
            self.at = found + 1;
            return Some(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The shortcut for a bare `local@domain` accepts only what the full parser finds to
        /// be exactly one mailbox with nothing to report, in every shape.
        #[test]
        fn bare_addr_specs_are_what_the_parser_says(
            value in proptest::collection::vec(
                prop::sample::select(&b"aZ9.@ \t\r\n!'/=_~<>()\",;:[]\\\xc3\xa9-"[..]),
                0..24,
            ),
        ) {
            if super::is_bare_addr_spec(&value) {
                for shape in [super::Shape::One, super::Shape::List, super::Shape::MaybeEmpty] {
                    let full = super::parse_addresses_fully(&value, shape);
                    prop_assert_eq!(full.mailboxes, 1);
                    prop_assert_eq!(full.groups, 0);
                    prop_assert!(full.errors.is_empty(), "{:?}", full.errors);
                    prop_assert!(full.obsolete.is_empty(), "{:?}", full.obsolete);
                }
            }
        }
    }

    proptest! {
        /// Generated plain addresses: the shortcut takes every one, and the full parser
        /// agrees.
        #[test]
        fn plain_addresses_take_the_shortcut(
            value in "[ \t]{0,2}<?[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,4}(\\.[a-z0-9]{1,3}){0,2}@[a-z0-9-]{1,4}(\\.[a-z]{1,3}){0,2}>?[ \t\r\n]{0,2}",
        ) {
            // Brackets on one side only are not a plain address.
            let bracketed = (value.contains('<'), value.contains('>'));
            prop_assert_eq!(super::is_bare_addr_spec(value.as_bytes()), bracketed.0 == bracketed.1);
            prop_assume!(bracketed.0 == bracketed.1);
            for shape in [super::Shape::One, super::Shape::List, super::Shape::MaybeEmpty] {
                let full = super::parse_addresses_fully(value.as_bytes(), shape);
                prop_assert_eq!((full.mailboxes, full.groups), (1, 0));
                prop_assert!(full.errors.is_empty() && full.obsolete.is_empty(), "{:?}", full);
            }
        }
    }

    #[test]
    fn the_bare_addr_spec_shortcut_takes_plain_addresses_only() {
        for yes in [
            "a@b",
            "<a@b>",
            " <jane@example.com>\r\n",
            " jane.doe@example.com ",
            "x+y@mx.example\r\n",
            "o'neil@a.b",
        ] {
            assert!(super::is_bare_addr_spec(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            "@b",
            "a@",
            "a..b@c",
            "a.@c",
            "a@b.",
            "<a@b",
            "a@b>",
            "< a@b>",
            "<<a@b>>",
            "Jane <a@b>",
            "a@b, c@d",
            "a b@c",
            "\"a\"@b",
            "a@[1.2.3.4]",
            "j\u{f6}rg@b",
            "a@b (x)",
        ] {
            assert!(!super::is_bare_addr_spec(no.as_bytes()), "{no}");
        }
    }
    use crate::check::Status;
    use crate::testing::*;

    /// A message with these header lines and a short body.
    fn with(header: &str) -> Vec<u8> {
        format!("{header}\r\n\r\nHello.\r\n").into_bytes()
    }

    fn check(id: &str, header: &str, want: Status) {
        message_status(id, message(&with(header)).smtputf8(), want);
    }

    const GOOD: &str =
        "Date: Tue, 14 May 2024 09:21:07 +0200\r\nFrom: Jane Doe <jane@example.com>\r\n\
To: bob@example.org\r\nSubject: hello\r\nMessage-ID: <abc.123@example.com>";

    #[test]
    fn date_present() {
        let id = "C-5322-DATE-PRESENT";
        check(id, GOOD, Status::Pass);
        check(id, "From: a@example.com\r\nSubject: x", Status::Fail);
        check(
            id,
            &format!("{GOOD}\r\nDate: Tue, 14 May 2024 09:21:08 +0200"),
            Status::Fail,
        );
    }

    #[test]
    fn date_syntax() {
        let id = "C-5322-DATE-SYNTAX";
        let date = |value: &str, want| check(id, &format!("Date: {value}"), want);
        date("Tue, 14 May 2024 09:21:07 +0200", Status::Pass);
        date("14 May 2024 09:21 -0000", Status::Pass);
        date("tue, 14 may 2024 09:21:07 +0200 (CEST)", Status::Pass);
        date("Thu, 29 Feb 2024 23:59:60 +0000", Status::Pass);
        date("Sat, 1 Jan 2000 00:00:00\r\n +0530", Status::Pass);
        // The day of the week must fit the date.
        date("Mon, 14 May 2024 09:21:07 +0200", Status::Fail);
        // Obsolete forms: a two-digit year, a zone name.
        date("Tue, 14 May 24 09:21:07 +0200", Status::Fail);
        date("Tue, 14 May 2024 09:21:07 GMT", Status::Fail);
        date("Tue, 14 May 2024 09:21:07 UT", Status::Fail);
        date("Tue , 14 May 2024 09:21:07 +0200", Status::Fail);
        // Localized names, ISO 8601, no zone.
        date("Di, 14 Mai 2024 09:21:07 +0200", Status::Fail);
        date("Tue, 14 Mai 2024 09:21:07 +0200", Status::Fail);
        date("2024-05-14T09:21:07+02:00", Status::Fail);
        date("Tue, 14 May 2024 09:21:07", Status::Fail);
        date("Tue, 14 May 2024 09:21:07+0200", Status::Fail);
        // Out of range.
        date("Thu, 29 Feb 2023 10:00:00 +0000", Status::Fail);
        date("31 Apr 2024 10:00:00 +0000", Status::Fail);
        date("14 May 2024 24:00:00 +0000", Status::Fail);
        date("14 May 2024 9:05:00 +0000", Status::Fail);
        date("14 May 2024 09:05:00 +0075", Status::Fail);
        date("14 May 1899 09:05:00 +0000", Status::Fail);
        date("", Status::Fail);
        date("14 May 2024 09:05:00 +0000 extra", Status::Fail);
        check(id, "From: a@example.com", Status::NotApplicable);
    }

    #[test]
    fn weekdays_follow_the_calendar() {
        assert_eq!(super::weekday_of(1970, 1, 1), 4);
        assert_eq!(super::weekday_of(2000, 2, 29), 2);
        assert_eq!(super::weekday_of(2024, 5, 14), 2);
        assert_eq!(super::weekday_of(1900, 1, 1), 1);
        assert_eq!(super::weekday_of(2100, 3, 1), 1);
        assert!(super::weekday_of(u64::MAX, 12, 31) < 7);
    }

    #[test]
    fn from_present() {
        let id = "C-5322-FROM-PRESENT";
        check(id, GOOD, Status::Pass);
        check(
            id,
            "From: \"Doe, Jane\" <jane@example.com>, bob@example.org",
            Status::Pass,
        );
        check(id, "Subject: x", Status::Fail);
        check(id, "From:", Status::Fail);
        check(id, "From:  (nobody)", Status::Fail);
        check(id, "From: Jane Doe", Status::Fail);
        check(id, "From: undisclosed:;", Status::Fail);
        check(
            id,
            "From: a@example.com\r\nFrom: b@example.com",
            Status::Fail,
        );
    }

    #[test]
    fn sender_if_multi_from() {
        let id = "C-5322-SENDER-IF-MULTI-FROM";
        check(id, GOOD, Status::NotApplicable);
        check(id, "Subject: x", Status::NotApplicable);
        check(id, "From: a@example.com, b@example.com", Status::Fail);
        check(
            id,
            "From: a@example.com, b@example.com\r\nSender: a@example.com",
            Status::Pass,
        );
        check(
            id,
            "From: a@example.com, b@example.com\r\nSender: a@example.com, b@example.com",
            Status::Fail,
        );
    }

    #[test]
    fn field_max_counts() {
        let id = "C-5322-FIELD-MAX-COUNTS";
        check(id, GOOD, Status::Pass);
        check(
            id,
            "Subject: a\r\nTo: a@example.com\r\nSubject: b",
            Status::Fail,
        );
        check(id, "To: a@example.com\r\nto: b@example.com", Status::Fail);
        check(id, "Message-ID: <a@b>\r\nMessage-ID: <c@d>", Status::Fail);
        // Fields without a limit may repeat.
        check(
            id,
            "Received: from a\r\nReceived: from b\r\nComments: x\r\nComments: y",
            Status::Pass,
        );
    }

    #[test]
    fn message_id() {
        let id = "C-5322-MESSAGE-ID";
        let mid = |value: &str, want| check(id, &format!("Message-ID: {value}"), want);
        mid("<abc.123@example.com>", Status::Pass);
        mid(
            " (comment) <a!#$%&'*+-/=?^_`{|}~@[127.0.0.1]> ",
            Status::Pass,
        );
        mid("<1D4F5B.6A@mail.example.com>", Status::Pass);
        check(id, "Subject: x", Status::Warn);
        mid("abc.123@example.com", Status::Fail);
        mid("<abc.123>", Status::Fail);
        mid("<abc 123@example.com>", Status::Fail);
        mid("<\"abc\"@example.com>", Status::Fail);
        mid("<abc..123@example.com>", Status::Fail);
        mid("<abc@example.com", Status::Fail);
        mid("<a@example.com> <b@example.com>", Status::Fail);
        mid("", Status::Fail);
    }

    #[test]
    fn field_name_chars() {
        let id = "C-5322-FIELD-NAME-CHARS";
        check(id, GOOD, Status::Pass);
        check(id, "X Mailer: client 1.0", Status::Fail);
        check(id, "X-Caf\u{e9}: x", Status::Fail);
        check(id, ": no name", Status::Fail);
        check(id, "Subject: x\r\nno colon here", Status::Fail);
        // White space before the colon is obsolete syntax, judged elsewhere.
        check(id, "Subject : x", Status::Pass);
        // Part headers are read too.
        let content = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent Type: text/plain\r\n\r\nx\r\n--b--\r\n";
        message_status(id, message(content), Status::Fail);
        message_status(id, message(b"\r\nbody only\r\n"), Status::NotApplicable);
    }

    #[test]
    fn field_body_no_bare_crlf() {
        let id = "C-5322-FIELD-BODY-NO-BARE-CRLF";
        check(id, GOOD, Status::Pass);
        check(id, "Subject: a long\r\n\tfolded subject", Status::Pass);
        check(id, "Subject: hi\rBcc: victim@example.com", Status::Fail);
        check(id, "Subject: hi\nBcc: victim@example.com", Status::Fail);
        check(id, "Subject: hi\r\r\nTo: a@example.com", Status::Fail);
        message_status(id, message(b"\r\nbody only\r\n"), Status::NotApplicable);
    }

    #[test]
    fn line_998() {
        let id = "C-5322-LINE-998";
        check(id, GOOD, Status::Pass);
        let long = format!("Subject: {}", "x".repeat(1000));
        check(id, &long, Status::Fail);
        let long_body = format!("{GOOD}\r\n\r\n{}\r\n", "y".repeat(999));
        message_status(id, message(long_body.as_bytes()), Status::Fail);
        let exactly = format!("{GOOD}\r\n\r\n{}\r\n", "y".repeat(998));
        message_status(id, message(exactly.as_bytes()), Status::Warn);
        check(id, &format!("Subject: {}", "x".repeat(80)), Status::Warn);
        // 78 characters of UTF-8 are more octets, and fine.
        check(id, &format!("Subject: {}", "é".repeat(69)), Status::Pass);
        message_status(id, message(b""), Status::NotApplicable);
        // Many long lines: a few findings and a count.
        let many = format!(
            "{GOOD}\r\n\r\n{}",
            format!("{}\r\n", "z".repeat(1200)).repeat(50)
        );
        let outcome = message_status(id, message(many.as_bytes()), Status::Fail);
        let findings = outcome.findings();
        assert_eq!(findings.len(), 4, "{findings:#?}");
        assert!(findings[3].detail.starts_with("47 more"), "{findings:#?}");
    }

    #[test]
    fn folding_no_wsp_only_line() {
        let id = "C-5322-FOLDING-NO-WSP-ONLY-LINE";
        check(id, "Subject: a long\r\n folded subject", Status::Pass);
        check(id, "Subject: hello\r\n \r\n world", Status::Fail);
        check(
            id,
            "Subject: hello\r\n\t \r\nTo: a@example.com",
            Status::Fail,
        );
        check(id, GOOD, Status::NotApplicable);
    }

    #[test]
    fn header_body_separator() {
        let id = "C-5322-HEADER-BODY-SEPARATOR";
        check(id, GOOD, Status::Pass);
        message_status(id, message(b"Subject: x\r\n"), Status::Pass);
        message_status(
            id,
            message(b"Subject: hi\r\nHello Bob,\r\nhow are you?\r\n"),
            Status::Fail,
        );
        message_status(id, message(b" Subject: hi\r\n\r\nbody\r\n"), Status::Fail);
        message_status(id, message(b"Hello\r\n\r\nbody\r\n"), Status::Fail);
        // A part without its empty line.
        let content = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\nhello there\r\n--b--\r\n";
        message_status(id, message(content), Status::Fail);
    }

    #[test]
    fn body_no_bare_crlf() {
        let id = "C-5322-BODY-NO-BARE-CRLF";
        message_status(id, message(b"Subject: x\r\n\r\na\r\nb\r\n"), Status::Pass);
        message_status(id, message(b"Subject: x\r\n\r\na\nb\r\n"), Status::Fail);
        message_status(id, message(b"Subject: x\r\n\r\na\rb\r\n"), Status::Fail);
        message_status(id, message(b"Subject: x\r\n\r\na\r\nb\r"), Status::Fail);
        message_status(id, message(b"Subject: x\r\n"), Status::NotApplicable);
    }

    #[test]
    fn binary_parts_under_binarymime_are_octets() {
        use smtp_protocol::params::Body;
        let content = b"Subject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: binary\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\
a\x00b\nc\rd\r\n\
--b--\r\n";
        for id in [
            "C-5322-BODY-NO-BARE-CRLF",
            "C-5322-NO-OBSOLETE-SYNTAX",
            "C-5322-LINE-998",
        ] {
            message_status(
                id,
                message(content).bdat().body(Body::BinaryMime),
                Status::Pass,
            );
        }
        // Over DATA, or without BODY=BINARYMIME, the octets are judged like any others.
        message_status("C-5322-BODY-NO-BARE-CRLF", message(content), Status::Fail);
        message_status(
            "C-5322-NO-OBSOLETE-SYNTAX",
            message(content).bdat(),
            Status::Fail,
        );
    }

    #[test]
    fn no_obsolete_syntax() {
        let id = "C-5322-NO-OBSOLETE-SYNTAX";
        check(id, GOOD, Status::Pass);
        check(id, "Subject : hi", Status::Fail);
        check(id, "Subject: a\x01b", Status::Fail);
        // In a part's header, and in the last field of the message's header.
        let part = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\nX-A: a\x7fb\r\n\r\nx\r\n--b--\r\n";
        message_status(id, message(part), Status::Fail);
        check(id, "Subject: x\r\nX-B: \x1b[0m", Status::Fail);
        let nul = message_status(
            id,
            message(b"Subject: x\r\n\r\na\x00b\x00\r\n"),
            Status::Fail,
        );
        assert!(nul.findings()[0].detail.starts_with("2 NUL"), "{nul:#?}");
        check(id, "To: <@relay.example:bob@example.org>", Status::Fail);
        check(id, "From: John Q. Public <jqp@example.com>", Status::Fail);
        check(id, "To: a@example.com,, b@example.com", Status::Fail);
        check(id, "To: \"john\".doe@example.com", Status::Fail);
        check(id, "To: john . doe@example . com", Status::Fail);
        check(
            id,
            "From: \"John Q. Public\" <jqp@example.com>",
            Status::Pass,
        );
        check(id, "To: undisclosed-recipients:;", Status::Pass);
    }

    #[test]
    fn ascii_headers() {
        let id = "C-5322-ASCII-HEADERS";
        let content = with("Subject: Caf\u{e9}");
        message_status(id, message(&content), Status::Fail);
        message_status(id, message(&content).smtputf8(), Status::NotApplicable);
        message_status(id, message(&with(GOOD)), Status::Pass);
        let part = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; name=\"caf\xc3\xa9.txt\"\r\n\r\nx\r\n--b--\r\n";
        message_status(id, message(part), Status::Fail);
        // 8-bit octets in a body are not this check's business.
        message_status(
            id,
            message(b"Subject: x\r\n\r\ncaf\xc3\xa9\r\n"),
            Status::Pass,
        );
    }

    #[test]
    fn address_syntax() {
        let id = "C-5322-ADDRESS-SYNTAX";
        let good = [
            "From: Jane Doe <jane@example.com>",
            "From: jane@example.com (Jane Doe)",
            "From: \"Doe, Jane\" <jane@example.com>",
            "From: =?UTF-8?Q?J=C3=B6rg?= <j@example.com>",
            "To: a@example.com, \"B\" <b@example.org>,\r\n c@[192.0.2.1]",
            "To: Team: a@example.com, B <b@example.org>;, c@example.net",
            "To: undisclosed-recipients:;",
            "Cc: \"quoted local\"@example.com",
            "Bcc:",
            "Bcc: (hidden)",
            "Reply-To: <list@example.com>",
            "Sender: Mailer <mailer@example.com>",
            "To: a@example.com (comment, with comma)",
            "To: J\u{f6}rg <j\u{f6}rg@b\u{fc}cher.example>",
        ];
        for header in good {
            check(id, header, Status::Pass);
        }
        let bad = [
            "To: Doe, John <john@example.com>",
            "To: John <john@example.com",
            "To: <john>",
            "To: john",
            "To:",
            "From:",
            "To: a@example.com b@example.com",
            "To: john doe@example.com",
            "To: john..doe@example.com",
            "To: .john@example.com",
            "To: john@example..com",
            "To: john@",
            "To: @example.com",
            "To: <>",
            "To: \"unclosed <a@example.com>",
            "To: a@example.com (unclosed",
            "To: Team: a@example.com",
            "To: Outer: Inner: a@example.com;;",
            "Sender: a@example.com, b@example.com",
            "To: John @ Work <john@example.com>",
            "To: a@example.com)",
            "To: .Jane <jane@example.com>",
            "To: Jane <jane@example.com> x",
        ];
        for header in bad {
            check(id, header, Status::Fail);
        }
        check(id, "Subject: x", Status::NotApplicable);
    }

    #[test]
    fn scanning_helpers_agree_with_plain_loops() {
        let mut text = Vec::new();
        for i in 0..300u32 {
            text.push((i.wrapping_mul(37) % 251) as u8);
        }
        for start in 0..40 {
            let hay = &text[start..];
            for needle in [0u8, b'\n', b'\r', 200, 7] {
                assert_eq!(
                    super::find_byte(hay, needle),
                    hay.iter().position(|&b| b == needle)
                );
            }
            assert_eq!(super::find_high(hay), hay.iter().position(|&b| b >= 0x80));
        }
        // ASCII text with one marked octet anywhere (in a block, in the rest, or none), for
        // the fast paths that read whole words or blocks.
        for len in [0, 1, 31, 32, 33, 64, 100] {
            for at in (0..len).map(Some).chain([None]) {
                let mut hay = vec![b'x'; len];
                if let Some(at) = at {
                    hay[at] = 0xE9;
                }
                assert_eq!(super::find_high(&hay), at, "{len} {at:?}");
                assert_eq!(super::any_octet(&hay, |b| b == 0xE9), at.is_some());
                if let Some(at) = at {
                    hay[at] = 0x0B;
                }
                assert_eq!(super::find_obsolete_control(&hay), at, "{len} {at:?}");
            }
        }
        // The branch-free predicate is the RFC's obs-NO-WS-CTL without NUL.
        for b in 0..=255u8 {
            assert_eq!(
                super::is_obsolete_control(b),
                matches!(b, 1..=8 | 11 | 12 | 14..=31 | 127),
                "{b}"
            );
        }
        let content = b"a\r\nb\nc\rd\r\r\ne";
        let bare: Vec<usize> = super::bare_line_ends(content, 0..content.len()).collect();
        assert_eq!(bare, vec![4, 6, 8]);
        let lines: Vec<(usize, usize)> = super::lines(content, 0..content.len())
            .map(|l| (l.start, l.end))
            .collect();
        assert_eq!(lines, vec![(0, 1), (3, 4), (5, 9), (11, 12)]);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let inputs: [&[u8]; 10] = [
            b"",
            b"\r\n",
            b":",
            b"From: <",
            b"From: \"\\",
            b"To: a:b:c;;;<<>>@@",
            b"Date: Mon, 99 Foo 99999999999999999999999 99:99:99 +9999",
            b"Date: ,",
            b"Message-ID: <@>",
            b"From: [\\",
        ];
        for content in inputs {
            for judge in super::JUDGES {
                let _ = message(content).outcome(judge.id);
            }
        }
    }

    #[test]
    fn bcc_handling() {
        use smtp_protocol::address::ForwardPath;
        use smtp_protocol::session::Recipient;
        let id = "C-5322-BCC-HANDLING";
        let to = |address: &str| Recipient {
            forward_path: ForwardPath::parse_prefix(&format!("<{address}>"))
                .expect("path")
                .0,
            params: Vec::new(),
        };
        let both = [to("Team@example.org"), to("secret@example.net")];
        let blind_only = [to("secret@example.net")];
        let content = b"From: a@example.com\r\nTo: Team <team@example.org>\r\nBcc: secret@example.net\r\n\r\nhi\r\n";
        // One copy for everyone, Bcc included: the To recipient sees it.
        message_status(id, message(content).recipients(&both), Status::Warn);
        // A separate copy for the Bcc recipient may carry the field (RFC 5322 §3.6.3).
        message_status(id, message(content).recipients(&blind_only), Status::Pass);
        message_status(
            id,
            message(b"From: a@example.com\r\nTo: team@example.org\r\nBcc:\r\n\r\nhi\r\n")
                .recipients(&both),
            Status::Pass,
        );
        message_status(
            id,
            message(b"From: a@example.com\r\nTo: team@example.org\r\n\r\nhi\r\n").recipients(&both),
            Status::NotApplicable,
        );
    }
}
