//! Checks of section A.15 (MIME: RFC 2045, 2046, 2049): MIME-Version, the syntax of
//! Content-Type and Content-Transfer-Encoding, whether each part's encoding fits its type
//! and its octets, the base64 and quoted-printable encodings, the multipart structure
//! (boundary, delimiters, uniqueness), text charsets, and encoded-word validity.
//!
//! The body checks read each part's octets where the message model located them; they
//! scan each octet a bounded number of times (the scanning helpers of [`super::rfc5322`]
//! look at eight octets at a time), so a large message costs a few linear passes.

use std::borrow::Cow;

use smtp_protocol::params::Body;
use smtp_protocol::session::Transfer;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::message::model::{strip_comments, unfold, Entity, HeaderField, MessageModel, Multipart};
use crate::message::rfc5322::{
    bare_line_ends, describe_octet, field_finding, find_byte, find_high, finding_at, header_of,
    lines, readable_entities, skip_comment, Cursor, Findings, Line,
};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-2045-MIME-VERSION",
        looks_at: "a message that uses MIME (Content-Type, Content-Transfer-Encoding or 8-bit text): a top-level `MIME-Version: 1.0` (comments allowed)",
        example: "Content-Type: text/plain; charset=utf-8 with no MIME-Version field",
        run: Run::Message(mime_version),
    },
    Judge {
        id: "C-2045-CONTENT-TYPE-SYNTAX",
        looks_at: "every Content-Type field: `type/subtype` tokens, then `; name=value` parameters whose values are tokens or quoted strings",
        example: "Content-Type: multipart/mixed; boundary=----=_Part_1",
        run: Run::Message(content_type_syntax),
    },
    Judge {
        id: "C-2045-CTE-VALUE",
        looks_at: "every Content-Transfer-Encoding field: 7bit, 8bit, binary, quoted-printable, base64 or an x- token",
        example: "Content-Transfer-Encoding: 8-bit",
        run: Run::Message(cte_value),
    },
    Judge {
        id: "C-2045-CTE-COMPOSITE",
        looks_at: "multipart and message parts: no transfer encoding but 7bit, 8bit or binary (message/global excepted)",
        example: "Content-Type: multipart/mixed; boundary=x with Content-Transfer-Encoding: base64",
        run: Run::Message(cte_composite),
    },
    Judge {
        id: "C-2045-CTE-MATCHES-CONTENT",
        looks_at: "parts sent unencoded (7bit, 8bit or no label): 7bit holds no 8-bit octets, none holds NUL, lines over 998 octets or bare CR/LF; a 7bit multipart holds no 8-bit part",
        example: "a part with no Content-Transfer-Encoding whose text is raw UTF-8",
        run: Run::Message(cte_matches_content),
    },
    Judge {
        id: "C-2045-NO-BINARY-OVER-DATA",
        looks_at: "parts labelled `Content-Transfer-Encoding: binary`: only sent with BDAT and BODY=BINARYMIME",
        example: "Content-Transfer-Encoding: binary in a message sent with DATA",
        run: Run::Message(no_binary_over_data),
    },
    Judge {
        id: "C-2045-BASE64-LINE-LENGTH",
        looks_at: "base64 parts: encoded lines of at most 76 characters",
        example: "an attachment sent as one base64 line of 40,000 characters",
        run: Run::Message(base64_line_length),
    },
    Judge {
        id: "C-2045-BASE64-ALPHABET",
        looks_at: "base64 parts: only the base64 alphabet and line breaks, `=` padding only at the end, a length that is a multiple of 4",
        example: "a base64 body holding `SGVsbG8=V29ybGQ=`",
        run: Run::Message(base64_alphabet),
    },
    Judge {
        id: "C-2045-QP-LINE-LENGTH",
        looks_at: "quoted-printable parts: encoded lines of at most 76 characters, `=` included, CRLF not counted",
        example: "a quoted-printable paragraph of 200 characters on one line without soft breaks",
        run: Run::Message(qp_line_length),
    },
    Judge {
        id: "C-2045-QP-UPPERCASE-HEX",
        looks_at: "quoted-printable parts: `=XX` escapes written with upper-case hex digits",
        example: "caf=c3=a9",
        run: Run::Message(qp_uppercase_hex),
    },
    Judge {
        id: "C-2045-QP-TRAILING-WHITESPACE",
        looks_at: "quoted-printable parts: no space or tab at the end of an encoded line",
        example: "a line ending `hello ` (the space must be =20, or followed by a soft break)",
        run: Run::Message(qp_trailing_whitespace),
    },
    Judge {
        id: "C-2045-QP-BINARY-CRLF",
        looks_at: "quoted-printable parts of binary types (image, audio, video, application/octet-stream, pdf, zip, gzip): line breaks in binary data should be written =0D=0A, not as hard line breaks",
        example: "Content-Type: image/png with Content-Transfer-Encoding: quoted-printable and raw CRLFs",
        run: Run::Message(qp_binary_crlf),
    },
    Judge {
        id: "C-2045-QP-ILLEGAL-SEQUENCES",
        looks_at: "quoted-printable parts: `=` only before two hex digits or a line break, never last; no control characters, bare CR/LF or octets above 126",
        example: "100% =off or a raw é in a quoted-printable line",
        run: Run::Message(qp_illegal_sequences),
    },
    Judge {
        id: "C-2046-BOUNDARY-PRESENT",
        looks_at: "multipart Content-Type fields: a boundary parameter",
        example: "Content-Type: multipart/mixed",
        run: Run::Message(boundary_present),
    },
    Judge {
        id: "C-2046-BOUNDARY-SYNTAX",
        looks_at: "multipart boundaries: 1 to 70 characters from letters, digits and '()+_,-./:=? and space, not ending in a space",
        example: "boundary=\"#part@1\"",
        run: Run::Message(boundary_syntax),
    },
    Judge {
        id: "C-2046-DELIMITER-STRUCTURE",
        looks_at: "multipart bodies: `--boundary` lines at line starts after a CRLF, at least one part, one closing `--boundary--`, no padding after delimiters",
        example: "a multipart body whose last line is a part's text, with no `--boundary--`",
        run: Run::Message(delimiter_structure),
    },
    Judge {
        id: "C-2046-BOUNDARY-UNIQUE",
        looks_at: "multipart contents: no line starting with an enclosing multipart's `--boundary` that is not a delimiter; nested multiparts use different boundaries",
        example: "boundary=abc, and a part holding the line `--abc is my favourite`",
        run: Run::Message(boundary_unique),
    },
    Judge {
        id: "C-2046-TEXT-CHARSET",
        looks_at: "text parts: a charset parameter (a warning without it), none missing or US-ASCII on 8-bit text, and UTF-8 text that is valid UTF-8",
        example: "Content-Type: text/plain over raw UTF-8 text",
        run: Run::Message(text_charset),
    },
    Judge {
        id: "C-2049-ENCODED-WORD-VALIDITY",
        looks_at: "words of unstructured header text and comments that begin with `=?` and end with `?=`: each a valid encoded-word",
        example: "Subject: =?UTF-8?X?hello?=",
        run: Run::Message(encoded_word_validity),
    },
];

/// RFC 2045 §6.1: the transfer encodings (x-tokens aside).
const MECHANISMS: [&str; 5] = ["7bit", "8bit", "binary", "quoted-printable", "base64"];

/// RFC 2045 §6.8 and §6.7 rule 5: encoded lines are at most 76 characters.
const MAX_ENCODED_LINE: usize = 76;

// ---------------------------------------------------------------------------------------
// The judges: labels
// ---------------------------------------------------------------------------------------

/// RFC 2045 §4 and RFC 2049 §2 (1), (8): a message using MIME says `MIME-Version: 1.0`.
fn mime_version(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let root = model.root();
    let versions: Vec<&HeaderField> = root.fields_named(content, "MIME-Version").collect();
    let label = root
        .field(content, "Content-Type")
        .or_else(|| root.field(content, "Content-Transfer-Encoding"));
    let body_start = root.separator.as_ref().map_or(root.body.end, |s| s.start);
    let eight_bit = content
        .get(body_start..)
        .and_then(find_high)
        .map(|i| body_start + i);
    let mut findings = Vec::new();
    if versions.is_empty() {
        if let Some(field) = label {
            let name = String::from_utf8_lossy(field.name(content)).into_owned();
            findings.push(field_finding(
                content,
                field,
                field.span.start,
                format!("the message has a {name} field but no `MIME-Version: 1.0` at its top"),
            ));
        } else if let Some(at) = eight_bit {
            findings.push(finding_at(content, at,
                "8-bit text in a message without MIME labelling: it needs MIME-Version: 1.0, a Content-Type with its charset and a Content-Transfer-Encoding",
            ));
        }
        return Outcome::judged(
            label.is_some() || eight_bit.is_some(),
            "the message uses no MIME: no Content-Type or Content-Transfer-Encoding, no 8-bit text, no MIME-Version",
            findings,
        );
    }
    for field in versions.into_iter().take(4) {
        let version: String = plain_value(field.value(content))
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if version != "1.0" {
            findings.push(field_finding(
                content,
                field,
                field.span.start,
                format!("MIME-Version is `{version}`: it must be 1.0 (comments aside)"),
            ));
        }
    }
    Outcome::from_findings(findings)
}

/// RFC 2045 §5.1: `type "/" subtype *(";" attribute "=" (token / quoted-string))`.
fn content_type_syntax(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        for field in entity.fields_named(content, "Content-Type") {
            looked = true;
            if let Err((at, why, warn)) = check_content_type(field.value(content)) {
                findings.add(|| {
                    let finding = field_finding(
                        content,
                        field,
                        field.value.start + at,
                        format!("{}: Content-Type: {why}", header_of(index)),
                    );
                    if warn {
                        finding.warn()
                    } else {
                        finding
                    }
                });
            }
        }
    }
    Outcome::judged(
        looked,
        "the message has no Content-Type field",
        findings.finish(),
    )
}

/// RFC 2045 §6.1, §6.3: the mechanism is one of the five, or an x-token.
fn cte_value(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        for field in entity.fields_named(content, "Content-Transfer-Encoding") {
            looked = true;
            if let Some(why) = mechanism_problem(field.value(content)) {
                findings.add(|| {
                    field_finding(
                        content,
                        field,
                        field.span.start,
                        format!("{}: {why}", header_of(index)),
                    )
                });
            }
        }
    }
    Outcome::judged(
        looked,
        "the message has no Content-Transfer-Encoding field",
        findings.finish(),
    )
}

/// RFC 2045 §6.4, RFC 2046 §5.2.1–§5.2.3: composite types are not encoded (message/global
/// may be, RFC 6532 §3.5); message/partial and message/external-body are 7bit.
fn cte_composite(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        let Some(ct) = &entity.content_type else {
            continue;
        };
        let composite = ct.is_multipart() || (ct.media_type == "message" && ct.subtype != "global");
        if !composite {
            continue;
        }
        looked = true;
        let Some(field) = entity.field(content, "Content-Transfer-Encoding") else {
            continue;
        };
        let mechanism = plain_value(field.value(content));
        let seven_bit_only = ct.is("message", "partial") || ct.is("message", "external-body");
        let allowed: &[&str] = if seven_bit_only {
            &["7bit"]
        } else {
            &["7bit", "8bit", "binary"]
        };
        if !allowed.contains(&mechanism.as_str()) {
            let kind = format!("{}/{}", ct.media_type, ct.subtype);
            let rule = if seven_bit_only {
                "only 7bit is allowed"
            } else {
                "only 7bit, 8bit or binary is allowed; encode the parts inside instead"
            };
            findings.add(|| {
                field_finding(
                    content,
                    field,
                    field.span.start,
                    format!(
                        "{}: a {kind} with Content-Transfer-Encoding `{mechanism}`: {rule}",
                        header_of(index)
                    ),
                )
            });
        }
    }
    Outcome::judged(
        looked,
        "the message has no multipart or message/* part",
        findings.finish(),
    )
}

/// RFC 2045 §2.7, §2.8, §6.2, §6.4: unencoded parts hold what their label allows.
fn cte_matches_content(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let eight_bit = eight_bit_subtrees(model);
    let mut findings = Findings::new(8);
    for (index, entity) in readable_entities(model) {
        let label = encoding(content, entity);
        let label = label.as_deref();
        if entity.children.is_empty() {
            if matches!(label, None | Some("7bit" | "8bit")) {
                identity_faults(model, index, entity, label, &mut findings);
            }
            continue;
        }
        if !eight_bit.get(index).copied().unwrap_or(false) {
            continue;
        }
        match label {
            Some("7bit") => findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!("{}: a composite labelled 7bit holds 8-bit octets: label it 8bit", part_name(index)),
                )
            }),
            None => findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!("{}: a composite with no Content-Transfer-Encoding (so 7bit) holds 8-bit octets: label it 8bit", part_name(index)),
                )
                .warn()
            }),
            _ => {}
        }
    }
    Outcome::from_findings(findings.finish())
}

/// RFC 2045 §6.2 and RFC 3030 §3: binary only over BDAT with BODY=BINARYMIME.
fn no_binary_over_data(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let input = &model.input;
    let mut findings = Findings::new(4);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        let Some(field) = entity.field(content, "Content-Transfer-Encoding") else {
            continue;
        };
        if plain_value(field.value(content)) != "binary" {
            continue;
        }
        looked = true;
        let why = match (input.transfer, input.body) {
            (Transfer::Bdat, Some(Body::BinaryMime)) => continue,
            (Transfer::Data, _) => "a part labelled binary sent with DATA: binary needs BDAT and BODY=BINARYMIME (RFC 3030)",
            (Transfer::Bdat, _) => "a part labelled binary sent without BODY=BINARYMIME on MAIL (RFC 3030)",
        };
        findings.add(|| {
            field_finding(
                content,
                field,
                field.span.start,
                format!("{}: {why}", header_of(index)),
            )
        });
    }
    Outcome::judged(
        looked,
        "no part is labelled Content-Transfer-Encoding: binary",
        findings.finish(),
    )
}

// ---------------------------------------------------------------------------------------
// The judges: base64 and quoted-printable bodies
// ---------------------------------------------------------------------------------------

/// RFC 2045 §6.8: base64 lines of at most 76 characters.
fn base64_line_length(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let parts = encoded_leaves(model, "base64");
    let mut findings = Findings::new(4);
    for &(index, entity) in &parts {
        for line in lines(content, entity.body.clone()) {
            let length = line.len();
            if length > MAX_ENCODED_LINE {
                findings.add(|| {
                    Finding::in_message(
                        line.start,
                        line.text(content),
                        format!(
                            "{}: a base64 line of {length} characters: at most 76 are allowed",
                            part_name(index)
                        ),
                    )
                });
            }
        }
    }
    Outcome::judged(
        !parts.is_empty(),
        "the message has no base64 part",
        findings.finish(),
    )
}

/// RFC 2045 §6.8: the alphabet, `=` only at the end, whole 4-character groups.
fn base64_alphabet(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let parts = encoded_leaves(model, "base64");
    let mut findings = Findings::new(4);
    for &(index, entity) in &parts {
        if let Some((at, why)) = base64_fault(content, entity) {
            findings.add(|| finding_at(content, at, format!("{}: {why}", part_name(index))));
        }
    }
    Outcome::judged(
        !parts.is_empty(),
        "the message has no base64 part",
        findings.finish(),
    )
}

/// RFC 2045 §6.7 rule 5: encoded lines of at most 76 characters.
fn qp_line_length(model: &MessageModel<'_>) -> Outcome {
    judge_qp(model, |issue| matches!(issue, QpIssue::LongLine(_)))
}

/// RFC 2045 §6.7 rule 1: upper-case hex digits.
fn qp_uppercase_hex(model: &MessageModel<'_>) -> Outcome {
    judge_qp(model, |issue| issue == QpIssue::LowerHex)
}

/// RFC 2045 §6.7 rule 3 and the transport-padding note: no white space ends a line.
fn qp_trailing_whitespace(model: &MessageModel<'_>) -> Outcome {
    judge_qp(model, |issue| issue == QpIssue::Trailing)
}

/// RFC 2045 §6.7, the NOTE on illegal sequences and characters.
fn qp_illegal_sequences(model: &MessageModel<'_>) -> Outcome {
    judge_qp(model, |issue| matches!(issue, QpIssue::Illegal(_)))
}

// ---------------------------------------------------------------------------------------
// The judges: multipart
// ---------------------------------------------------------------------------------------

/// RFC 2046 §5.1.1: a multipart Content-Type requires a boundary parameter.
fn boundary_present(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(4);
    let mut looked = false;
    for (index, entity) in multiparts(model) {
        looked = true;
        let has_boundary = entity
            .content_type
            .as_ref()
            .is_some_and(|ct| ct.parameter("boundary").is_some());
        if !has_boundary {
            findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!(
                        "{}: a multipart Content-Type without the boundary parameter it requires",
                        header_of(index)
                    ),
                )
            });
        }
    }
    Outcome::judged(looked, "the message has no multipart", findings.finish())
}

/// RFC 2046 §5.1.1: `boundary := 0*69<bchars> bcharsnospace`.
fn boundary_syntax(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(4);
    let mut looked = false;
    for (index, entity) in multiparts(model) {
        let Some(boundary) = entity
            .content_type
            .as_ref()
            .and_then(|ct| ct.parameter("boundary"))
        else {
            continue;
        };
        looked = true;
        if let Some(why) = boundary_fault(boundary.as_bytes()) {
            findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!("{}: the boundary `{boundary}` {why}", header_of(index)),
                )
            });
        }
    }
    Outcome::judged(
        looked,
        "the message has no multipart with a boundary",
        findings.finish(),
    )
}

/// RFC 2046 §5.1.1: delimiters at line starts after a CRLF, at least one body part, a close
/// delimiter, and no transport padding generated.
fn delimiter_structure(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in multiparts(model) {
        let Some(multipart) = &entity.multipart else {
            continue;
        };
        looked = true;
        let name = part_name(index);
        let dashes = format!("--{}", multipart.boundary);
        let Some(&last) = multipart.delimiters.last() else {
            findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!("{name}: no delimiter line `{dashes}` in the multipart body"),
                )
            });
            continue;
        };
        let opening = multipart
            .delimiters
            .iter()
            .filter(|&&d| Some(d) != multipart.close)
            .count();
        if opening == 0 {
            findings.add(|| {
                finding_at(
                    content,
                    last,
                    format!("{name}: the close delimiter `{dashes}--` with no body part before it"),
                )
            });
        }
        if multipart.close.is_none() {
            let end = entity.body.end;
            findings.add(|| {
                finding_at(content, end,
                    format!("{name}: no close delimiter `{dashes}--`: the multipart is not ended (truncated?)"),
                )
            });
        }
        for &at in &multipart.delimiters {
            delimiter_line_faults(content, entity, at, &name, &mut findings);
        }
        if let Some(close) = multipart.close {
            epilogue_delimiters(content, entity, close, &dashes, &name, &mut findings);
        }
    }
    Outcome::judged(
        looked,
        "the message has no multipart with a boundary",
        findings.finish(),
    )
}

/// RFC 2046 §5.1.1: the boundary never occurs inside the parts, and nested multiparts use
/// different boundaries.
fn boundary_unique(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let split: Vec<(usize, &Entity, &Multipart)> = model
        .entities
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.multipart.as_ref().map(|m| (i, e, m)))
        .collect();
    if split.is_empty() {
        return Outcome::not_applicable("the message has no multipart with a boundary");
    }
    let mut findings = Findings::new(6);
    for &(index, entity, multipart) in &split {
        if let Some(outer) = enclosing_with_boundary(model, entity, &multipart.boundary) {
            findings.add(|| {
                entity_finding(
                    content,
                    entity,
                    format!(
                        "{}: the nested multipart reuses the boundary `{}` of the enclosing {}",
                        part_name(index),
                        multipart.boundary,
                        part_name(outer)
                    ),
                )
            });
        }
    }
    boundary_inside_parts(content, &split, &mut findings);
    Outcome::from_findings(findings.finish())
}

// ---------------------------------------------------------------------------------------
// The judges: charsets and encoded-words
// ---------------------------------------------------------------------------------------

/// RFC 2046 §4.1.2: US-ASCII by default; a charset is strongly recommended; the text must
/// be in the charset declared.
fn text_charset(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        if !entity.children.is_empty() {
            continue;
        }
        let declared = entity.content_type.as_ref();
        match declared {
            Some(ct) if ct.media_type == "text" => {}
            // No Content-Type at all: text/plain; charset=us-ascii (RFC 2045 §5.2).
            None if entity.field(content, "Content-Type").is_none() && !model.in_digest(index) => {}
            _ => continue,
        }
        let body = content.get(entity.body.clone()).unwrap_or_default();
        let text: Cow<'_, [u8]> = match encoding(content, entity).as_deref() {
            Some("base64") => Cow::Owned(decode_base64(content, entity.body.clone())),
            Some("quoted-printable") => Cow::Owned(decode_qp(body)),
            _ => Cow::Borrowed(body),
        };
        let eight_bit = find_high(&text).is_some();
        let charset = declared
            .and_then(|ct| ct.parameter("charset"))
            .map(|c| c.trim().to_ascii_lowercase());
        let name = part_name(index);
        let fault = match (declared, charset.as_deref()) {
            (None, _) if !eight_bit => continue,
            (None, _) => Some((
                format!("{name}: no Content-Type, so text/plain in US-ASCII, but the text has 8-bit octets: declare its charset"),
                true,
            )),
            (Some(_), None) if eight_bit => Some((
                format!("{name}: a text part with 8-bit text and no charset parameter, so read as US-ASCII: declare its charset"),
                true,
            )),
            (Some(_), None) => Some((
                format!("{name}: a text part without a charset parameter; RFC 2046 §4.1.2 strongly recommends one"),
                false,
            )),
            (Some(_), Some("us-ascii")) if eight_bit => Some((
                format!("{name}: charset us-ascii, but the text has 8-bit octets"),
                true,
            )),
            (Some(_), Some("utf-8" | "utf8")) if std::str::from_utf8(&text).is_err() => Some((
                format!("{name}: charset UTF-8, but the text is not valid UTF-8"),
                true,
            )),
            _ => None,
        };
        looked = true;
        if let Some((detail, fail)) = fault {
            findings.add(|| {
                let finding = entity_finding(content, entity, detail);
                if fail {
                    finding.fail()
                } else {
                    finding
                }
            });
        }
    }
    Outcome::judged(
        looked,
        "the message has no text part with a Content-Type, and no unlabelled 8-bit text",
        findings.finish(),
    )
}

/// RFC 2049 §2 (9), RFC 2047 §7: a `=?…?=` word in `*text` or `*ctext` is a valid
/// encoded-word.
fn encoded_word_validity(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::new(6);
    let mut looked = false;
    for (index, entity) in readable_entities(model) {
        for field in &entity.fields {
            let value = field.value(content);
            if !has_encoded_word_start(value) {
                continue;
            }
            let unstructured = is_unstructured(field.name(content));
            for (at, word) in text_words(value, unstructured) {
                looked = true;
                if let Some(why) = encoded_word_problem(word) {
                    findings.add(|| {
                        field_finding(
                            content,
                            field,
                            field.value.start + at,
                            format!(
                                "{}: `{}` looks like an encoded-word but is not a valid one: {why}",
                                header_of(index),
                                String::from_utf8_lossy(word)
                            ),
                        )
                    });
                }
            }
        }
    }
    Outcome::judged(
        looked,
        "no word of unstructured header text or comments begins with `=?` and ends with `?=`",
        findings.finish(),
    )
}

// ---------------------------------------------------------------------------------------
// Labels and entities
// ---------------------------------------------------------------------------------------

/// A structured field's value without comments, folding and outer white space, lower case.
fn plain_value(value: &[u8]) -> String {
    strip_comments(&String::from_utf8_lossy(&unfold(value)))
        .trim()
        .to_ascii_lowercase()
}

/// The entity's Content-Transfer-Encoding (lower case, comments removed), if it has one.
fn encoding(content: &[u8], entity: &Entity) -> Option<String> {
    entity
        .field(content, "Content-Transfer-Encoding")
        .map(|f| plain_value(f.value(content)))
}

/// How a detail names an entity's content.
fn part_name(index: usize) -> Cow<'static, str> {
    if index == 0 {
        "the message".into()
    } else {
        format!("MIME part {index}").into()
    }
}

/// A finding about an entity: at its Content-Type field, or at its start.
fn entity_finding(
    content: &[u8],
    entity: &Entity,
    detail: impl Into<Cow<'static, str>>,
) -> Finding {
    match entity.field(content, "Content-Type") {
        Some(field) => field_finding(content, field, field.span.start, detail),
        None => Finding::in_message(
            entity.start,
            content
                .get(entity.start..entity.body.end.min(entity.start + 80))
                .unwrap_or_default(),
            detail,
        ),
    }
}

/// The multipart entities (split or not).
fn multiparts<'m>(model: &'m MessageModel<'_>) -> impl Iterator<Item = (usize, &'m Entity)> {
    readable_entities(model)
        .filter(|(_, e)| e.content_type.as_ref().is_some_and(|ct| ct.is_multipart()))
}

/// The leaf entities whose transfer encoding is `mechanism`.
fn encoded_leaves<'m>(model: &'m MessageModel<'_>, mechanism: &str) -> Vec<(usize, &'m Entity)> {
    let content = model.content();
    readable_entities(model)
        .filter(|(_, e)| {
            e.children.is_empty() && encoding(content, e).as_deref() == Some(mechanism)
        })
        .collect()
}

/// RFC 2045 §5.1 `token`: printable ASCII but tspecials.
fn is_token_char(octet: u8) -> bool {
    (33..=126).contains(&octet) && !b"()<>@,;:\\\"/[]?=".contains(&octet)
}

// ---------------------------------------------------------------------------------------
// Content-Type and Content-Transfer-Encoding syntax
// ---------------------------------------------------------------------------------------

/// A fault in a structured value: where, what, and whether it is only a warning.
type Flaw = (usize, Cow<'static, str>, bool);

fn fail(at: usize, why: impl Into<Cow<'static, str>>) -> Flaw {
    (at, why.into(), false)
}

fn cfws(c: &mut Cursor<'_>) -> Result<bool, Flaw> {
    c.skip_cfws()
        .map_err(|at| fail(at, "a comment `(` is not closed"))
}

/// What stands at `at`, for a detail.
fn shown_at(value: &[u8], at: usize) -> String {
    value
        .get(at)
        .map_or_else(|| "the end of the value".to_owned(), |&b| describe_octet(b))
}

/// Reads a Content-Type value strictly (RFC 2045 §5.1; comments and folding allowed
/// between tokens as in RFC 822 structured fields). A `;` with no parameter after it is not
/// in the grammar but harmless to readers: a warning.
fn check_content_type(value: &[u8]) -> Result<(), Flaw> {
    let mut c = Cursor::new(value);
    cfws(&mut c)?;
    let at = c.at;
    if c.take_while(is_token_char).is_empty() {
        return Err(fail(
            at,
            format!("{} where the media type should be", shown_at(value, at)),
        ));
    }
    cfws(&mut c)?;
    if !c.eat(b'/') {
        return Err(fail(
            c.at,
            "no subtype: the value must be `type/subtype` (RFC 2045 §5.1)",
        ));
    }
    cfws(&mut c)?;
    let at = c.at;
    if c.take_while(is_token_char).is_empty() {
        return Err(fail(
            at,
            format!("{} where the subtype should be", shown_at(value, at)),
        ));
    }
    // The last parameter's name, when its value was an unquoted token.
    let mut unquoted: Option<String> = None;
    let mut empty_parameter = None;
    loop {
        let spaced = cfws(&mut c)?;
        match c.peek() {
            None => {
                return match empty_parameter {
                    Some(at) => Err((at, "an empty parameter (`;;`)".into(), true)),
                    None => Ok(()),
                }
            }
            Some(b';') => c.at += 1,
            Some(b) => {
                let why = match &unquoted {
                    Some(name) => format!(
                        "the unquoted value of `{name}` is followed by {}: a value holding spaces or any of ()<>@,;:\\\"/[]?= must be quoted",
                        if spaced { "a space".to_owned() } else { describe_octet(b) }
                    ),
                    None => format!("{} where `;` should come before the next parameter", describe_octet(b)),
                };
                return Err(fail(c.at, why));
            }
        }
        cfws(&mut c)?;
        match c.peek() {
            None => {
                return Err((
                    c.at,
                    "a `;` with no parameter after it ends the value".into(),
                    true,
                ))
            }
            Some(b';') => {
                empty_parameter.get_or_insert(c.at);
                unquoted = None;
                continue;
            }
            Some(_) => {}
        }
        let at = c.at;
        let name = c.take_while(is_token_char);
        if name.is_empty() {
            return Err(fail(
                at,
                format!("{} where a parameter name should be", shown_at(value, at)),
            ));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        cfws(&mut c)?;
        if !c.eat(b'=') {
            return Err(fail(
                c.at,
                format!("the parameter `{name}` has no `=value`"),
            ));
        }
        cfws(&mut c)?;
        let at = c.at;
        if c.peek() == Some(b'"') {
            c.at = skip_quoted_string(value, at)
                .ok_or_else(|| fail(at, format!("the quoted value of `{name}` is not closed")))?;
            unquoted = None;
        } else if c.take_while(is_token_char).is_empty() {
            let why = match c.peek() {
                None | Some(b';') => format!("the parameter `{name}` has an empty value"),
                Some(b) => format!(
                    "the value of `{name}` starts with {}, so it must be quoted",
                    describe_octet(b)
                ),
            };
            return Err(fail(at, why));
        } else {
            unquoted = Some(name);
        }
    }
}

/// The offset after the quoted string opening at `open`.
fn skip_quoted_string(text: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while let Some(&octet) = text.get(i) {
        match octet {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// What is wrong with a Content-Transfer-Encoding value, if anything.
fn mechanism_problem(value: &[u8]) -> Option<String> {
    let mut c = Cursor::new(value);
    if c.skip_cfws().is_err() {
        return Some("a comment `(` in Content-Transfer-Encoding is not closed".to_owned());
    }
    let token = c.take_while(is_token_char);
    let alone = c.skip_cfws().is_ok() && c.at_end();
    if token.is_empty() {
        return Some("Content-Transfer-Encoding is empty".to_owned());
    }
    let mechanism = String::from_utf8_lossy(token).to_ascii_lowercase();
    if !alone {
        return Some(format!(
            "Content-Transfer-Encoding `{}` is not a single token",
            plain_value(value)
        ));
    }
    let private = mechanism.len() > 2 && mechanism.starts_with("x-");
    if MECHANISMS.contains(&mechanism.as_str()) || private {
        return None;
    }
    Some(format!(
        "Content-Transfer-Encoding `{mechanism}` is no transfer encoding: use 7bit, 8bit, binary, quoted-printable, base64 or a private x- token"
    ))
}

// ---------------------------------------------------------------------------------------
// Unencoded content
// ---------------------------------------------------------------------------------------

/// Whether each entity's body holds an octet ≥ 0x80, its parts' bodies included. Each
/// octet is read once: an entity reads its body minus its children's bodies, and the
/// entities are folded up from the last (children come after their parents).
fn eight_bit_subtrees(model: &MessageModel<'_>) -> Vec<bool> {
    let content = model.content();
    let entities = &model.entities;
    let mut high: Vec<bool> = entities
        .iter()
        .map(|entity| {
            let mut from = entity.body.start;
            let mut found = false;
            for child in entity.children.iter().filter_map(|&c| entities.get(c)) {
                found |= content
                    .get(from..child.body.start)
                    .is_some_and(|gap| find_high(gap).is_some());
                from = from.max(child.body.end);
            }
            found
                || content
                    .get(from..entity.body.end)
                    .is_some_and(|gap| find_high(gap).is_some())
        })
        .collect();
    for index in (0..entities.len()).rev() {
        let children_high = entities
            .get(index)
            .is_some_and(|e| e.children.iter().any(|&c| high.get(c) == Some(&true)));
        if let Some(h) = high.get_mut(index) {
            *h |= children_high;
        }
    }
    high
}

/// RFC 2045 §2.7, §2.8: the faults of an unencoded leaf's body.
fn identity_faults(
    model: &MessageModel<'_>,
    index: usize,
    entity: &Entity,
    label: Option<&str>,
    findings: &mut Findings,
) {
    let content = model.content();
    let facts = model.line_facts();
    let start = entity.body.start;
    let body = content.get(entity.body.clone()).unwrap_or_default();
    let name = || part_name(index);
    let labelled = || match label {
        Some(label) => format!("labelled {label}"),
        None => "with no Content-Transfer-Encoding (so 7bit)".to_owned(),
    };
    if label != Some("8bit") {
        if let Some(i) = find_high(body) {
            findings.add(|| {
                finding_at(
                    content,
                    start + i,
                    format!(
                        "{}: an 8-bit octet in content {}: label it 8bit or encode it",
                        name(),
                        labelled()
                    ),
                )
            });
        }
    }
    if let Some(i) = find_byte(body, 0) {
        findings.add(|| {
            finding_at(
                content,
                start + i,
                format!(
                    "{}: a NUL octet in unencoded content {}: encode it (base64)",
                    name(),
                    labelled()
                ),
            )
        });
    }
    // Strictly under: a body range that ends between a CR and its LF makes its last line
    // one octet longer than the whole content's count.
    let long_line = (facts.longest >= 998)
        .then(|| lines(content, entity.body.clone()).find(|l| l.len() > 998))
        .flatten();
    if let Some(line) = long_line {
        findings.add(|| {
            Finding::in_message(
                line.start,
                line.text(content),
                format!("{}: a line of {} octets in unencoded content {}: at most 998 are allowed; encode it", name(), line.len(), labelled()),
            )
        });
    }
    let bare = if facts.no_bare_ends_in(content, &entity.body) {
        None
    } else {
        bare_line_ends(content, entity.body.clone()).next()
    };
    if let Some(at) = bare {
        findings.add(|| {
            finding_at(content, at,
                format!("{}: a bare CR or LF in unencoded content {}: CR and LF must come as CRLF; encode the data (base64)", name(), labelled()),
            )
        });
    }
}

// ---------------------------------------------------------------------------------------
// base64 and quoted-printable
// ---------------------------------------------------------------------------------------

fn is_base64(octet: u8) -> bool {
    octet.is_ascii_alphanumeric() || octet == b'+' || octet == b'/'
}

/// Whether every octet of `text` is of the base64 alphabet (written so that it vectorizes).
fn all_base64(text: &[u8]) -> bool {
    let outside = text.iter().fold(0u8, |outside, &b| {
        let lower = b | 0x20;
        let inside = (lower.wrapping_sub(b'a') < 26)
            | (b.wrapping_sub(b'0') < 10)
            | (b == b'+')
            | (b == b'/');
        outside | u8::from(!inside)
    });
    outside == 0
}

/// The first fault of a base64 body: a character outside the alphabet, data after `=`,
/// too much padding, or a length that is no multiple of 4.
fn base64_fault(content: &[u8], entity: &Entity) -> Option<(usize, &'static str)> {
    let mut significant = 0usize;
    let mut padding = 0usize;
    let mut first_pad = 0usize;
    for line in lines(content, entity.body.clone()) {
        let text = line.text(content);
        if padding == 0 && all_base64(text) {
            significant += text.len();
            continue;
        }
        for (i, &octet) in text.iter().enumerate() {
            let at = line.start + i;
            match octet {
                b'=' => {
                    if padding == 0 {
                        first_pad = at;
                    }
                    padding += 1;
                    if padding > 2 {
                        return Some((at, "more than two `=` padding characters"));
                    }
                }
                b' ' | b'\t' | b'\r' => {}
                b if is_base64(b) => {
                    if padding > 0 {
                        return Some((
                            first_pad,
                            "`=` before the end of the data: padding belongs only at the very end",
                        ));
                    }
                    significant += 1;
                }
                _ => return Some((at, "a character outside the base64 alphabet")),
            }
        }
    }
    if !(significant + padding).is_multiple_of(4) {
        let at = entity.body.end;
        return Some((
            at,
            "the data's length is not a multiple of 4 characters (missing padding?)",
        ));
    }
    None
}

/// A fault of a quoted-printable line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QpIssue {
    LongLine(usize),
    LowerHex,
    Trailing,
    Illegal(&'static str),
}

impl QpIssue {
    fn detail(self) -> Cow<'static, str> {
        match self {
            QpIssue::LongLine(length) => format!(
                "a quoted-printable line of {length} characters: at most 76 are allowed (use soft line breaks)"
            )
            .into(),
            QpIssue::LowerHex => {
                "an `=XX` escape with lower-case hex digits: upper case must be used".into()
            }
            QpIssue::Trailing => "a space or tab at the end of an encoded line: encode it (=20, =09) or put a soft line break after it".into(),
            QpIssue::Illegal(why) => why.into(),
        }
    }
}

/// Runs one quoted-printable rule (the issues `judged` picks) over every quoted-printable leaf.
fn judge_qp(model: &MessageModel<'_>, judged: impl Fn(QpIssue) -> bool) -> Outcome {
    let content = model.content();
    let parts = encoded_leaves(model, "quoted-printable");
    let mut findings = Findings::new(4);
    for &(index, entity) in &parts {
        qp_issues(content, entity, |at, line, issue| {
            if judged(issue) {
                findings.add(|| {
                    let detail = format!("{}: {}", part_name(index), issue.detail());
                    match issue {
                        QpIssue::LongLine(_) => {
                            Finding::in_message(line.start, line.text(content), detail)
                        }
                        _ => finding_at(content, at, detail),
                    }
                });
            }
        });
    }
    Outcome::judged(
        !parts.is_empty(),
        "the message has no quoted-printable part",
        findings.finish(),
    )
}

/// Media types that hold binary data (their line breaks are data, not text structure).
fn is_binary_type(entity: &Entity) -> bool {
    entity.content_type.as_ref().is_some_and(|ct| {
        matches!(ct.media_type.as_str(), "image" | "audio" | "video")
            || (ct.media_type == "application"
                && matches!(
                    ct.subtype.as_str(),
                    "octet-stream" | "pdf" | "zip" | "gzip" | "x-gzip" | "x-tar"
                ))
    })
}

/// RFC 2045 §6.7: "If binary data is encoded in quoted-printable, care must be taken to
/// encode CR and LF characters as "=0D" and "=0A", respectively." A hard line break (CRLF
/// without a `=` before it) in the quoted-printable body of a binary type decodes to a CRLF
/// the data may never have had: the encoder treated the data as text.
fn qp_binary_crlf(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let parts: Vec<(usize, &Entity)> = encoded_leaves(model, "quoted-printable")
        .into_iter()
        .filter(|(_, e)| is_binary_type(e))
        .collect();
    let mut findings = Findings::new(2);
    for &(index, entity) in &parts {
        let body = entity.body.clone();
        let mut hard_breaks = lines(content, body.clone())
            .filter(|line| line.end < body.end && !line.text(content).ends_with(b"="));
        if let Some(line) = hard_breaks.next() {
            findings.add(|| {
                Finding::in_message(
                    line.start,
                    line.text(content),
                    format!(
                        "{}: a hard line break in quoted-printable binary data: CR and LF should be encoded as =0D and =0A",
                        part_name(index)
                    ),
                )
            });
        }
    }
    Outcome::judged(
        !parts.is_empty(),
        "no binary part is quoted-printable",
        findings.finish(),
    )
}

/// Reports the faults of each line of a quoted-printable body (RFC 2045 §6.7).
fn qp_issues(content: &[u8], entity: &Entity, mut report: impl FnMut(usize, Line, QpIssue)) {
    let body_end = entity.body.end;
    for line in lines(content, entity.body.clone()) {
        let text = line.text(content);
        if text.len() > MAX_ENCODED_LINE {
            report(line.start, line, QpIssue::LongLine(text.len()));
        }
        if line.bare_lf() {
            report(
                line.end,
                line,
                QpIssue::Illegal("an LF without CR: line breaks are CRLF"),
            );
        }
        if matches!(text.last(), Some(b' ' | b'\t')) {
            report(line.start + text.len() - 1, line, QpIssue::Trailing);
        }
        let needs_a_look = text.iter().fold(false, |any, &b| {
            any | (b == b'=') | ((b < 32) & (b != b'\t')) | (b > 126)
        });
        if !needs_a_look {
            continue;
        }
        let mut i = 0;
        while let Some(&octet) = text.get(i) {
            let at = line.start + i;
            if octet == b'=' {
                let rest = text.get(i + 1..).unwrap_or_default();
                match (rest.first(), rest.get(1)) {
                    (Some(&high), Some(&low))
                        if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() =>
                    {
                        if high.is_ascii_lowercase() || low.is_ascii_lowercase() {
                            report(at, line, QpIssue::LowerHex);
                        }
                        i += 3;
                        continue;
                    }
                    // A soft line break ("=" CRLF), or "=" and transport padding, which the
                    // trailing white space rule reports.
                    _ if rest.iter().all(|&b| b == b' ' || b == b'\t') => {
                        if line.next >= body_end && line.end == body_end {
                            report(
                                at,
                                line,
                                QpIssue::Illegal(
                                    "an `=` as the last character of the encoded data",
                                ),
                            );
                        }
                        break;
                    }
                    _ => report(
                        at,
                        line,
                        QpIssue::Illegal("an `=` not followed by two hex digits or a line break"),
                    ),
                }
            } else if octet < 32 && octet != b'\t' {
                let why = if octet == b'\r' {
                    "a CR without LF"
                } else {
                    "a control character: encode it as =XX"
                };
                report(at, line, QpIssue::Illegal(why));
            } else if octet > 126 {
                report(
                    at,
                    line,
                    QpIssue::Illegal("an octet above 126: encode it as =XX"),
                );
            }
            i += 1;
        }
    }
}

/// Decodes a base64 body: line by line with the base64 crate, and leniently (what is not
/// of the alphabet skipped, `=` ending the data) from the first line it refuses.
fn decode_base64(content: &[u8], body: std::ops::Range<usize>) -> Vec<u8> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    for line in lines(content, body.clone()) {
        let text = line.text(content);
        let before = out.len();
        if engine.decode_vec(text, &mut out).is_err() {
            out.truncate(before);
            let rest = content.get(line.start..body.end).unwrap_or_default();
            decode_base64_leniently(rest, &mut out);
            break;
        }
        if text.ends_with(b"=") {
            break;
        }
    }
    out
}

fn decode_base64_leniently(data: &[u8], out: &mut Vec<u8>) {
    let (mut bits, mut count) = (0u32, 0u32);
    for &octet in data {
        let value = match octet {
            b'A'..=b'Z' => octet - b'A',
            b'a'..=b'z' => octet - b'a' + 26,
            b'0'..=b'9' => octet - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
}

/// Decodes quoted-printable leniently (a stray `=` stays as it is).
fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while let Some(&octet) = data.get(i) {
        if octet == b'=' {
            if let (Some(high), Some(low)) = (
                data.get(i + 1).and_then(|&b| hex_value(b)),
                data.get(i + 2).and_then(|&b| hex_value(b)),
            ) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
            let mut j = i + 1;
            while matches!(data.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            if data.get(j) == Some(&b'\r') {
                j += 1;
            }
            if data.get(j) == Some(&b'\n') {
                i = j + 1;
                continue;
            }
        }
        out.push(octet);
        i += 1;
    }
    out
}

fn hex_value(octet: u8) -> Option<u8> {
    (octet as char).to_digit(16).map(|d| d as u8)
}

// ---------------------------------------------------------------------------------------
// Multipart structure
// ---------------------------------------------------------------------------------------

/// RFC 2046 §5.1.1 bcharsnospace (space is a bchar too, but not the last one).
fn is_bchar(octet: u8) -> bool {
    octet.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&octet)
}

/// What is wrong with a boundary, if anything.
fn boundary_fault(boundary: &[u8]) -> Option<String> {
    if boundary.is_empty() {
        return Some("is empty: a boundary has 1 to 70 characters".to_owned());
    }
    if boundary.len() > 70 {
        return Some(format!(
            "has {} characters: at most 70 are allowed",
            boundary.len()
        ));
    }
    if let Some(&bad) = boundary.iter().find(|&&b| !is_bchar(b)) {
        return Some(format!(
            "holds {}, which a boundary may not (letters, digits, '()+_,-./:=? and space only)",
            describe_octet(bad)
        ));
    }
    if boundary.ends_with(b" ") {
        return Some("ends with a space".to_owned());
    }
    None
}

/// A delimiter line: after a CRLF (or at the body start), and no padding after it.
fn delimiter_line_faults(
    content: &[u8],
    entity: &Entity,
    at: usize,
    name: &str,
    findings: &mut Findings,
) {
    let after_crlf = at == entity.body.start
        || (content.get(at.wrapping_sub(1)) == Some(&b'\n')
            && content.get(at.wrapping_sub(2)) == Some(&b'\r'));
    if !after_crlf {
        findings.add(|| {
            finding_at(
                content,
                at,
                format!("{name}: a delimiter line that does not follow a CRLF"),
            )
        });
    }
    if let Some(line) = lines(content, at..entity.body.end).next() {
        let text = line.text(content);
        if matches!(text.last(), Some(b' ' | b'\t')) {
            findings.add(|| {
                Finding::in_message(
                    at,
                    text,
                    format!("{name}: white space after a delimiter (transport padding), which composers must not generate"),
                )
                .warn()
            });
        }
    }
}

/// Delimiter lines after the close delimiter (in the epilogue).
fn epilogue_delimiters(
    content: &[u8],
    entity: &Entity,
    close: usize,
    dashes: &str,
    name: &str,
    findings: &mut Findings,
) {
    let Some(close_line) = lines(content, close..entity.body.end).next() else {
        return;
    };
    for line in lines(content, close_line.next..entity.body.end) {
        let text = line.text(content);
        let Some(rest) = text.strip_prefix(dashes.as_bytes()) else {
            continue;
        };
        let rest = rest.strip_prefix(b"--").unwrap_or(rest);
        if rest.iter().all(|&b| b == b' ' || b == b'\t') {
            findings.add(|| {
                Finding::in_message(
                    line.start,
                    text,
                    format!("{name}: a delimiter after the close delimiter: the multipart has exactly one `{dashes}--`"),
                )
            });
        }
    }
}

/// The index of an enclosing multipart with the same boundary, if there is one.
fn enclosing_with_boundary(
    model: &MessageModel<'_>,
    entity: &Entity,
    boundary: &str,
) -> Option<usize> {
    let mut parent = entity.parent;
    while let Some(index) = parent {
        let outer = model.entities.get(index)?;
        if outer
            .multipart
            .as_ref()
            .is_some_and(|m| m.boundary == boundary)
        {
            return Some(index);
        }
        parent = outer.parent.filter(|&p| p < index);
    }
    None
}

/// A multipart whose parts are being read, in the pass of [`boundary_inside_parts`].
struct Open<'m> {
    index: usize,
    dashes: Vec<u8>,
    /// Where its parts end: after the close delimiter's first octet, or the body's end.
    end: usize,
    delimiters: &'m [usize],
    /// The first delimiter not yet passed.
    next: usize,
}

/// One pass over the lines of the message: a line starting with `--boundary` of a
/// multipart it lies in that is not one of that multipart's delimiters.
fn boundary_inside_parts(
    content: &[u8],
    split: &[(usize, &Entity, &Multipart)],
    findings: &mut Findings,
) {
    let Some(&(_, first, _)) = split.first() else {
        return;
    };
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut next = 0;
    for line in lines(content, first.body.start..content.len()) {
        while open.last().is_some_and(|o| o.end <= line.start) {
            open.pop();
        }
        while let Some(&(index, entity, multipart)) = split.get(next) {
            if entity.body.start > line.start {
                break;
            }
            next += 1;
            let end = multipart.close.map_or(entity.body.end, |c| c + 1);
            if end > line.start {
                open.push(Open {
                    index,
                    dashes: format!("--{}", multipart.boundary).into_bytes(),
                    end,
                    delimiters: &multipart.delimiters,
                    next: 0,
                });
            }
        }
        let text = line.text(content);
        if !text.starts_with(b"--") {
            continue;
        }
        for multipart in open.iter_mut() {
            if !text.starts_with(&multipart.dashes) {
                continue;
            }
            while multipart
                .delimiters
                .get(multipart.next)
                .is_some_and(|&d| d < line.start)
            {
                multipart.next += 1;
            }
            if multipart.delimiters.get(multipart.next) != Some(&line.start) {
                let name = part_name(multipart.index);
                let dashes = String::from_utf8_lossy(&multipart.dashes).into_owned();
                findings.add(|| {
                    Finding::in_message(
                        line.start,
                        text,
                        format!("a line inside {name} starts with its delimiter `{dashes}` but is not one: the boundary occurs in the content"),
                    )
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Encoded-words (RFC 2047 §2, as RFC 2049 §2 (9) requires)
// ---------------------------------------------------------------------------------------

/// Fields whose bodies are `*text` (RFC 5322 §3.6.5 and §3.6.8 optional fields, RFC 2045
/// §8); other known fields are structured and only their comments hold `*ctext`.
fn is_unstructured(name: &[u8]) -> bool {
    const TEXT: [&str; 3] = ["subject", "comments", "content-description"];
    const STRUCTURED: [&str; 24] = [
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "keywords",
        "return-path",
        "received",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-id",
        "content-disposition",
        "content-language",
        "content-location",
        "content-md5",
        "authentication-results",
        "received-spf",
        "disposition-notification-to",
    ];
    const STRUCTURED_PREFIXES: [&str; 5] = ["resent-", "list-", "dkim-", "arc-", "original-"];
    let is = |n: &&str| name.eq_ignore_ascii_case(n.as_bytes());
    let starts = |p: &&str| {
        name.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
    };
    TEXT.iter().any(is) || !(STRUCTURED.iter().any(is) || STRUCTURED_PREFIXES.iter().any(starts))
}

/// Whether `=?` occurs in `hay`.
fn has_encoded_word_start(hay: &[u8]) -> bool {
    let mut at = 0;
    while let Some(i) = hay.get(at..).and_then(|rest| find_byte(rest, b'=')) {
        if hay.get(at + i + 1) == Some(&b'?') {
            return true;
        }
        at += i + 1;
    }
    false
}

/// The words of a field value that RFC 2049 §2 (9) is about: whitespace-separated runs of
/// printable ASCII that begin with `=?` and end with `?=`, in the whole value of an
/// unstructured field, or inside the comments of a structured one.
fn text_words(value: &[u8], unstructured: bool) -> Vec<(usize, &[u8])> {
    let mut words = Vec::new();
    if unstructured {
        collect_words(value, 0..value.len(), &mut words);
        return words;
    }
    let mut i = 0;
    while let Some(&octet) = value.get(i) {
        match octet {
            b'"' => i = skip_quoted_string(value, i).unwrap_or(value.len()),
            b'(' => {
                let end = skip_comment(value, i).unwrap_or(value.len());
                collect_words(value, i..end, &mut words);
                i = end;
            }
            _ => i += 1,
        }
    }
    words
}

/// The `=?…?=` words of `range`; parentheses separate words (in comments).
fn collect_words<'v>(
    value: &'v [u8],
    range: std::ops::Range<usize>,
    words: &mut Vec<(usize, &'v [u8])>,
) {
    let separator = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')');
    let mut i = range.start;
    while i < range.end {
        if value.get(i).is_some_and(|&b| separator(b)) {
            i += 1;
            continue;
        }
        let start = i;
        while i < range.end && value.get(i).is_some_and(|&b| !separator(b)) {
            // A quoted pair inside a comment is part of the word.
            if value.get(i) == Some(&b'\\') {
                i += 1;
            }
            i += 1;
        }
        let word = value.get(start..i.min(range.end)).unwrap_or_default();
        let candidate = word.len() >= 4
            && word.starts_with(b"=?")
            && word.ends_with(b"?=")
            && word.iter().all(|b| (33..=126).contains(b));
        if candidate {
            words.push((start, word));
        }
    }
}

/// Why `word` is not a valid encoded-word (RFC 2047 §2, §4, §5; RFC 2231 §5's
/// `charset*language`), or `None` when it is one.
pub(crate) fn encoded_word_problem(word: &[u8]) -> Option<&'static str> {
    let Some(inner) = word.strip_prefix(b"=?").and_then(|w| w.strip_suffix(b"?=")) else {
        return Some("it does not begin with `=?` and end with `?=`");
    };
    let mut parts = inner.splitn(3, |&b| b == b'?');
    let (Some(charset), Some(encoding), Some(text)) = (parts.next(), parts.next(), parts.next())
    else {
        return Some("it lacks one of its parts: `=?charset?encoding?encoded-text?=`");
    };
    let especial = |b: &u8| b"()<>@,;:\"/[]?.=".contains(b);
    if charset.is_empty()
        || charset
            .iter()
            .any(|b| !(33..=126).contains(b) || especial(b))
    {
        return Some("the charset is not a token");
    }
    if text.is_empty() {
        return Some("the encoded text is empty");
    }
    if text.contains(&b'?') {
        return Some("a `?` inside the encoded text (two encoded-words run together?)");
    }
    if text.iter().any(|b| !(33..=126).contains(b)) {
        return Some("the encoded text holds a space or a character that is not printable ASCII");
    }
    match encoding {
        b"B" | b"b" => b_text_problem(text),
        b"Q" | b"q" => q_text_problem(text),
        _ => Some("the encoding is neither B nor Q"),
    }
}

fn b_text_problem(text: &[u8]) -> Option<&'static str> {
    let data = text.iter().position(|&b| b == b'=').unwrap_or(text.len());
    let (encoded, padding) = text.split_at(data);
    if !encoded.iter().all(|&b| is_base64(b)) {
        return Some("B text outside the base64 alphabet");
    }
    if padding.len() > 2 || padding.iter().any(|&b| b != b'=') {
        return Some("`=` in the middle of B text, or more than two");
    }
    if !text.len().is_multiple_of(4) {
        return Some("B text whose length is not a multiple of 4");
    }
    None
}

fn q_text_problem(text: &[u8]) -> Option<&'static str> {
    let mut i = 0;
    while let Some(&octet) = text.get(i) {
        if octet == b'=' {
            let hex = |j: usize| text.get(j).is_some_and(|b| b.is_ascii_hexdigit());
            if !(hex(i + 1) && hex(i + 2)) {
                return Some("a `=` in Q text not followed by two hex digits");
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use smtp_protocol::params::Body;

    use crate::check::Status;
    use crate::testing::*;

    const TOP: &str =
        "Date: Tue, 14 May 2024 09:21:07 +0200\r\nFrom: Jane Doe <jane@example.com>\r\n\
To: bob@example.org\r\nSubject: hello\r\nMessage-ID: <abc.123@example.com>\r\n";

    /// A MIME message: the top fields, MIME-Version, `header` (CRLF-separated), then `body`.
    fn mime(header: &str, body: &str) -> Vec<u8> {
        format!("{TOP}MIME-Version: 1.0\r\n{header}\r\n\r\n{body}").into_bytes()
    }

    fn check(id: &str, content: &[u8], want: Status) {
        message_status(id, message(content).smtputf8(), want);
    }

    /// A multipart/mixed with one part of these header lines and body.
    fn one_part(part_header: &str, part_body: &str) -> Vec<u8> {
        mime(
            "Content-Type: multipart/mixed; boundary=\"b1\"",
            &format!("--b1\r\n{part_header}\r\n\r\n{part_body}\r\n--b1--\r\n"),
        )
    }

    /// A typical message from a mail client: multipart/mixed holding a
    /// multipart/alternative (text and HTML, quoted-printable) and a base64 PDF.
    fn typical() -> Vec<u8> {
        let pdf =
            "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n\
ZT4+CnN0cmVhbQp4nCvkMlAwUDC1NNUzMVGwMDHUszRSKErlCtdSyOMyVABCFwANzgXRCmVuZHN0\r\n\
cmVhbQplbmRvYmoK\r\n";
        format!(
            "Return-Path: <jane@example.com>\r\n\
Date: Tue, 14 May 2024 09:21:07 +0200\r\n\
From: =?UTF-8?Q?Jane_D=C3=B6e?= <jane@example.com>\r\n\
To: \"Bob, Jr.\" <bob@example.org>, carol@example.net\r\n\
Subject: =?UTF-8?Q?Caf=C3=A9?= notes (draft)\r\n\
Message-ID: <4f1c2a7e-8b5d-4e2f-9a61-0c3d2b1e5f7a@example.com>\r\n\
User-Agent: Mozilla/5.0 Thunderbird/115.0\r\n\
MIME-Version: 1.0\r\n\
Content-Language: en-US\r\n\
Content-Type: multipart/mixed;\r\n boundary=\"------------mIx3dB0undary0123456\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
--------------mIx3dB0undary0123456\r\n\
Content-Type: multipart/alternative;\r\n boundary=\"------------aLtB0undary6543210\"\r\n\
\r\n\
--------------aLtB0undary6543210\r\n\
Content-Type: text/plain; charset=UTF-8; format=flowed\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hi Bob,\r\n\
\r\n\
the notes from the caf=C3=A9 are attached. A long line that needs a soft =\r\n\
break to stay under the limit.\r\n\
\r\n\
--=20\r\n\
Jane\r\n\
--------------aLtB0undary6543210\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<html><body><p>Hi Bob,</p><p>the notes from the caf=C3=A9 are attached.</p>=\r\n\
</body></html>\r\n\
\r\n\
--------------aLtB0undary6543210--\r\n\
\r\n\
--------------mIx3dB0undary0123456\r\n\
Content-Type: application/pdf; name=\"notes.pdf\"\r\n\
Content-Disposition: attachment; filename=\"notes.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
{pdf}\r\n\
--------------mIx3dB0undary0123456--\r\n"
        )
        .into_bytes()
    }

    /// Every judge of sections A.14 and A.15.
    fn all_judges() -> impl Iterator<Item = &'static crate::judges::Judge> {
        super::JUDGES
            .iter()
            .chain(crate::message::rfc5322::JUDGES.iter())
    }

    #[test]
    fn a_typical_client_message_passes_every_check() {
        let content = typical();
        let not_applicable = [
            "C-5322-SENDER-IF-MULTI-FROM",
            "C-2045-NO-BINARY-OVER-DATA",
            "C-2045-QP-BINARY-CRLF",
            "C-5322-BCC-HANDLING",
        ];
        for judge in all_judges() {
            let want = if not_applicable.contains(&judge.id) {
                Status::NotApplicable
            } else {
                Status::Pass
            };
            message_status(judge.id, message(&content), want);
        }
    }

    #[test]
    fn mime_version() {
        let id = "C-2045-MIME-VERSION";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mime("MIME-Version: 1.(produced by x)0", "hi\r\n"),
            Status::Pass,
        );
        check(
            id,
            format!("{TOP}\r\nplain ASCII\r\n").as_bytes(),
            Status::NotApplicable,
        );
        check(
            id,
            format!("{TOP}Content-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n").as_bytes(),
            Status::Fail,
        );
        check(
            id,
            format!("{TOP}\r\ncaf\u{e9}\r\n").as_bytes(),
            Status::Fail,
        );
        check(
            id,
            format!("{TOP}MIME-Version: 1.1\r\n\r\nhi\r\n").as_bytes(),
            Status::Fail,
        );
    }

    #[test]
    fn content_type_syntax() {
        let id = "C-2045-CONTENT-TYPE-SYNTAX";
        let ct =
            |value: &str, want| check(id, &mime(&format!("Content-Type: {value}"), "x\r\n"), want);
        ct("text/plain", Status::Pass);
        ct("text/plain; charset=\"utf-8\"; format=flowed", Status::Pass);
        ct("Text/Plain (comment) ; charset = us-ascii", Status::Pass);
        ct(
            "application/pdf;\r\n name*0*=utf-8''%E4%B8%AD; name*1=\".pdf\"",
            Status::Pass,
        );
        ct("text", Status::Fail);
        ct("text/", Status::Fail);
        ct("/plain", Status::Fail);
        ct("multipart/mixed; boundary=----=_Part_1", Status::Fail);
        ct("application/pdf; name=My File.pdf", Status::Fail);
        ct("text/plain charset=utf-8", Status::Fail);
        ct("text/plain; charset", Status::Fail);
        ct("text/plain; charset=", Status::Fail);
        ct("text/plain; name=\"open", Status::Fail);
        ct("text/plain; name=caf\u{e9}", Status::Fail);
        ct("text/plain; charset=utf-8;", Status::Warn);
        ct("text/plain;; charset=utf-8", Status::Warn);
        check(
            id,
            format!("{TOP}\r\nx\r\n").as_bytes(),
            Status::NotApplicable,
        );
    }

    #[test]
    fn cte_value() {
        let id = "C-2045-CTE-VALUE";
        let cte = |value: &str, want| {
            check(
                id,
                &mime(&format!("Content-Transfer-Encoding: {value}"), "x\r\n"),
                want,
            )
        };
        for good in [
            "7bit",
            "8BIT",
            "binary",
            "Quoted-Printable",
            "base64 (comment)",
            "x-uuencode",
        ] {
            cte(good, Status::Pass);
        }
        for bad in ["8-bit", "utf-8", "base-64", "none", "", "x-", "7bit 8bit"] {
            cte(bad, Status::Fail);
        }
        check(id, &mime("Subject: x", "x\r\n"), Status::NotApplicable);
    }

    #[test]
    fn cte_composite() {
        let id = "C-2045-CTE-COMPOSITE";
        check(id, &typical(), Status::Pass);
        let multipart = |cte: &str| {
            mime(
                &format!(
                    "Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: {cte}"
                ),
                "--b\r\n\r\nx\r\n--b--\r\n",
            )
        };
        check(id, &multipart("8bit"), Status::Pass);
        check(id, &multipart("base64"), Status::Fail);
        check(id, &multipart("quoted-printable"), Status::Fail);
        check(
            id,
            &one_part(
                "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64",
                "U3ViamVjdDogeA0KDQp4DQo=",
            ),
            Status::Fail,
        );
        check(
            id,
            &one_part(
                "Content-Type: message/global\r\nContent-Transfer-Encoding: base64",
                "U3ViamVjdDogeA0KDQp4DQo=",
            ),
            Status::Pass,
        );
        check(
            id,
            &one_part(
                "Content-Type: message/partial; id=x; number=1\r\nContent-Transfer-Encoding: 8bit",
                "x",
            ),
            Status::Fail,
        );
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    /// An encoded message/global (RFC 6532 §3.5) is no header: its base64 lines are not
    /// judged as header fields.
    #[test]
    fn an_encoded_embedded_message_is_not_read_as_a_header() {
        let content = one_part(
            "Content-Type: message/global\r\nContent-Transfer-Encoding: base64",
            "U3ViamVjdDogeA0KDQp4DQo=",
        );
        for id in [
            "C-5322-FIELD-NAME-CHARS",
            "C-5322-HEADER-BODY-SEPARATOR",
            "C-2045-CTE-COMPOSITE",
            "C-2045-CTE-MATCHES-CONTENT",
        ] {
            message_status(id, message(&content), Status::Pass);
        }
    }

    #[test]
    fn cte_matches_content() {
        let id = "C-2045-CTE-MATCHES-CONTENT";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &one_part("Content-Type: text/plain; charset=utf-8", "caf\u{e9}"),
            Status::Fail,
        );
        check(
            id,
            &one_part(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit",
                "caf\u{e9}",
            ),
            Status::Fail,
        );
        // 8bit text inside a multipart with no label: a warning; labelled 8bit: fine.
        check(
            id,
            &one_part(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
                "caf\u{e9}",
            ),
            Status::Warn,
        );
        check(
            id,
            &mime(
                "Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: 8bit",
                "--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u{e9}\r\n--b--\r\n",
            ),
            Status::Pass,
        );
        check(
            id,
            &mime(
                "Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: 7bit",
                "--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u{e9}\r\n--b--\r\n",
            ),
            Status::Fail,
        );
        let eight = |body: &str| mime("Content-Transfer-Encoding: 8bit", body);
        check(id, &eight("caf\u{e9}\r\n"), Status::Pass);
        check(id, &eight("a\0b\r\n"), Status::Fail);
        check(
            id,
            &eight(&format!("{}\r\n", "x".repeat(999))),
            Status::Fail,
        );
        check(id, &eight("a\nb\r\n"), Status::Fail);
        // Binary and encoded parts are not read here.
        check(
            id,
            &mime("Content-Transfer-Encoding: binary", "a\0\nb"),
            Status::Pass,
        );
        check(
            id,
            format!("{TOP}\r\ncaf\u{e9}\r\n").as_bytes(),
            Status::Fail,
        );
    }

    #[test]
    fn no_binary_over_data() {
        let id = "C-2045-NO-BINARY-OVER-DATA";
        let content = mime("Content-Transfer-Encoding: binary", "a\0b");
        message_status(id, message(&content), Status::Fail);
        message_status(id, message(&content).bdat(), Status::Fail);
        message_status(
            id,
            message(&content).bdat().body(Body::BinaryMime),
            Status::Pass,
        );
        message_status(id, message(&typical()), Status::NotApplicable);
    }

    fn base64_part(body: &str) -> Vec<u8> {
        one_part(
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64",
            body,
        )
    }

    #[test]
    fn base64_line_length() {
        let id = "C-2045-BASE64-LINE-LENGTH";
        check(id, &typical(), Status::Pass);
        let line = "QUJD".repeat(19);
        check(id, &base64_part(&format!("{line}\r\n{line}")), Status::Pass);
        check(id, &base64_part(&"QUJD".repeat(20)), Status::Fail);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn base64_alphabet() {
        let id = "C-2045-BASE64-ALPHABET";
        check(id, &typical(), Status::Pass);
        check(id, &base64_part("SGVsbG8=\r\n"), Status::Pass);
        check(id, &base64_part("SGVs\r\nbG8h"), Status::Pass);
        check(id, &base64_part("SGVsbG8=V29ybGQ="), Status::Warn);
        check(id, &base64_part("SGVs*G8h"), Status::Warn);
        check(id, &base64_part("SGVsbG8"), Status::Warn);
        check(id, &base64_part("SGV==="), Status::Warn);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    fn qp(body: &str) -> Vec<u8> {
        one_part(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
            body,
        )
    }

    #[test]
    fn qp_line_length() {
        let id = "C-2045-QP-LINE-LENGTH";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &qp(&format!("{}=\r\n{}", "a".repeat(75), "b".repeat(76))),
            Status::Pass,
        );
        check(id, &qp(&"a".repeat(77)), Status::Fail);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn qp_uppercase_hex() {
        let id = "C-2045-QP-UPPERCASE-HEX";
        check(id, &qp("caf=C3=A9"), Status::Pass);
        check(id, &qp("caf=c3=a9"), Status::Fail);
        check(id, &qp("caf=C3=a9"), Status::Fail);
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn qp_trailing_whitespace() {
        let id = "C-2045-QP-TRAILING-WHITESPACE";
        check(id, &qp("hello=20\r\nworld"), Status::Pass);
        check(id, &qp("hello \r\nworld"), Status::Fail);
        check(id, &qp("hello\t\r\nworld"), Status::Fail);
        check(id, &qp("hello= \r\nworld"), Status::Fail);
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn qp_binary_crlf() {
        let id = "C-2045-QP-BINARY-CRLF";
        let png = |body: &str| {
            one_part(
                "Content-Type: image/png\r\nContent-Transfer-Encoding: quoted-printable",
                body,
            )
        };
        check(
            id,
            &png("=89PNG=0D=0A=1A=0A=00=00=00=0DIHDR="),
            Status::Pass,
        );
        check(id, &png("=89PNG\r\n=1A\r\n=00=00"), Status::Warn);
        // Text in quoted-printable has line breaks of its own.
        check(
            id,
            &one_part(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
                "line one\r\nline two",
            ),
            Status::NotApplicable,
        );
    }

    #[test]
    fn qp_illegal_sequences() {
        let id = "C-2045-QP-ILLEGAL-SEQUENCES";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &qp("soft=\r\nbreak and =3D and tab\there"),
            Status::Pass,
        );
        check(id, &qp("100% =off"), Status::Fail);
        check(id, &qp("=A"), Status::Fail);
        check(id, &qp("ends with ="), Status::Fail);
        check(id, &qp("caf\u{e9}"), Status::Fail);
        check(id, &qp("bell\x07"), Status::Fail);
        check(id, &qp("bare\rcr"), Status::Fail);
        check(id, &qp("bare\nlf"), Status::Fail);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn boundary_present() {
        let id = "C-2046-BOUNDARY-PRESENT";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mime("Content-Type: multipart/mixed", "x\r\n"),
            Status::Fail,
        );
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn boundary_syntax() {
        let id = "C-2046-BOUNDARY-SYNTAX";
        let with = |boundary: &str| {
            mime(
                &format!("Content-Type: multipart/mixed; boundary=\"{boundary}\""),
                &format!("--{boundary}\r\n\r\nx\r\n--{boundary}--\r\n"),
            )
        };
        check(id, &typical(), Status::Pass);
        check(id, &with("----=_Part_1_2.3"), Status::Pass);
        check(id, &with("'()+_,-./:=? x"), Status::Pass);
        check(id, &with(&"b".repeat(70)), Status::Pass);
        check(id, &with(&"b".repeat(71)), Status::Fail);
        check(id, &with("#part@1"), Status::Fail);
        check(id, &with("ends "), Status::Fail);
        check(id, &with(""), Status::Fail);
        check(
            id,
            &mime("Content-Type: multipart/mixed", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn delimiter_structure() {
        let id = "C-2046-DELIMITER-STRUCTURE";
        let mp = |body: &str| mime("Content-Type: multipart/mixed; boundary=b", body);
        check(id, &typical(), Status::Pass);
        check(id, &mp("--b\r\n\r\nx\r\n--b--"), Status::Pass);
        check(
            id,
            &mp("preamble\r\n--b\r\n\r\nx\r\n--b\r\n\r\ny\r\n--b--\r\nepilogue\r\n"),
            Status::Pass,
        );
        check(id, &mp("no delimiters at all\r\n"), Status::Fail);
        check(id, &mp("--b\r\n\r\nx\r\n"), Status::Fail);
        check(id, &mp("--b--\r\n"), Status::Fail);
        check(id, &mp("--b\r\n\r\nx\n--b--\r\n"), Status::Fail);
        check(id, &mp("--b\r\n\r\nx\r\n--b--\r\n--b--\r\n"), Status::Fail);
        check(id, &mp("--b \r\n\r\nx\r\n--b--\r\n"), Status::Warn);
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn boundary_unique() {
        let id = "C-2046-BOUNDARY-UNIQUE";
        let mp = |body: &str| mime("Content-Type: multipart/mixed; boundary=abc", body);
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mp("--abc\r\n\r\n-- \r\nsignature\r\n--abc--\r\n"),
            Status::Pass,
        );
        check(
            id,
            &mp("--abc\r\n\r\n--abc is my favourite\r\n--abc--\r\n"),
            Status::Fail,
        );
        // Nested multiparts: the same boundary, and one that starts with the outer one.
        check(
            id,
            &mp("--abc\r\nContent-Type: multipart/alternative; boundary=abc\r\n\r\n--abc\r\n\r\nx\r\n--abc--\r\n--abc--\r\n"),
            Status::Fail,
        );
        check(
            id,
            &mp("--abc\r\nContent-Type: multipart/alternative; boundary=abcd\r\n\r\n--abcd\r\n\r\nx\r\n--abcd--\r\n--abc--\r\n"),
            Status::Fail,
        );
        check(
            id,
            &mp("--abc\r\nContent-Type: multipart/alternative; boundary=xyz\r\n\r\n--xyz\r\n\r\nx\r\n--xyz--\r\n--abc--\r\n"),
            Status::Pass,
        );
        check(
            id,
            &mime("Content-Type: text/plain", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn text_charset() {
        let id = "C-2046-TEXT-CHARSET";
        check(id, &typical(), Status::Pass);
        check(
            id,
            &mime("Content-Type: text/plain; charset=us-ascii", "x\r\n"),
            Status::Pass,
        );
        check(
            id,
            &mime("Content-Type: text/plain", "plain ASCII\r\n"),
            Status::Warn,
        );
        check(
            id,
            &mime(
                "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit",
                "caf\u{e9}\r\n",
            ),
            Status::Fail,
        );
        check(
            id,
            &mime(
                "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 8bit",
                "caf\u{e9}\r\n",
            ),
            Status::Fail,
        );
        check(
            id,
            &mime("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable", "caf=E9\r\n"),
            Status::Fail,
        );
        check(
            id,
            &mime(
                "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64",
                "Y2Fmw6k=\r\n",
            ),
            Status::Pass,
        );
        check(
            id,
            &mime(
                "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64",
                "Y2Fmw6k=\r\n",
            ),
            Status::Fail,
        );
        check(
            id,
            &mime(
                "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit",
                "caf\u{e9}\r\n",
            ),
            Status::Pass,
        );
        // No Content-Type: US-ASCII by default.
        check(
            id,
            format!("{TOP}\r\ncaf\u{e9}\r\n").as_bytes(),
            Status::Fail,
        );
        check(
            id,
            format!("{TOP}\r\nplain\r\n").as_bytes(),
            Status::NotApplicable,
        );
        check(
            id,
            &mime("Content-Type: image/png", "x\r\n"),
            Status::NotApplicable,
        );
    }

    #[test]
    fn encoded_word_validity() {
        let id = "C-2049-ENCODED-WORD-VALIDITY";
        let head =
            |header: &str, want| check(id, format!("{header}\r\n\r\nx\r\n").as_bytes(), want);
        head(
            "Subject: =?UTF-8?Q?Caf=C3=A9?= and =?utf-8?b?Y2Fmw6k=?=",
            Status::Pass,
        );
        head("X-Note: =?ISO-8859-1*fr?Q?caf=E9?=", Status::Pass);
        head("From: a@example.com (=?UTF-8?Q?J=C3=B6rg?=)", Status::Pass);
        head("Subject: =?UTF-8?X?hello?=", Status::Fail);
        head("Subject: =?UTF-8?Q?a?==?UTF-8?Q?b?=", Status::Fail);
        head("Subject: =?UTF-8?B?Y2Fmw6k?=", Status::Fail);
        head("Subject: =?UTF-8?Q?caf=C?=", Status::Fail);
        head("Subject: =?UTF-8??x?=", Status::Fail);
        head("Subject: =??Q?x?=", Status::Fail);
        head("Content-Description: =?UTF-8?Q?=?=", Status::Fail);
        head("From: a@example.com (=?UTF-8?Z?x?=)", Status::Fail);
        // In a quoted string of a structured field, it is no *text (A.16 judges that).
        head(
            "From: \"=?UTF-8?Z?x?=\" <a@example.com>",
            Status::NotApplicable,
        );
        head(
            "Subject: what is =? in a subject ?= anyway",
            Status::NotApplicable,
        );
        head("Subject: plain", Status::NotApplicable);
    }

    #[test]
    fn encoded_words_are_told_apart() {
        use super::encoded_word_problem as problem;
        assert_eq!(problem(b"=?UTF-8?B?5Lit5paH?="), None);
        assert_eq!(problem(b"=?UTF-8*en?Q?tea?="), None);
        assert_eq!(problem(b"=?UTF-8?q?a_b=20c?="), None);
        assert!(problem(b"=?UTF-8?B?5Li=t5pa?=").is_some());
        assert!(problem(b"=?UTF.8?Q?x?=").is_some());
        assert!(problem(b"=??=").is_some());
        assert!(problem(b"=?=").is_some());
        assert!(problem(b"plain").is_some());
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let inputs: [&[u8]; 10] = [
            b"",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--",
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b",
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=",
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r",
            b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n====\xff",
            b"Content-Type: ((\r\nContent-Transfer-Encoding: (\r\n\r\n",
            b"Subject: =?\\(=?a?b?c?= (=?a?B?====?=\r\n\r\n",
            b"MIME-Version: (\r\n\r\n\x80",
        ];
        for content in inputs {
            for judge in all_judges() {
                let _ = message(content).outcome(judge.id);
            }
        }
        // Nesting past the model's depth limit.
        let mut deep = Vec::new();
        for i in 0..200 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        for judge in all_judges() {
            let _ = message(&deep).outcome(judge.id);
        }
    }

    /// Messages put together at random from fragments that stress the parsers: no judge of
    /// A.14 or A.15 panics on any of them.
    #[test]
    fn random_messages_do_not_panic() {
        const FRAGMENTS: [&[u8]; 32] = [
            b"Content-Type: multipart/mixed; boundary=b\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"MIME-Version: 1.0\r\n",
            b"From: a <b@c>, (x\r\n",
            b"To: g: a@b, \"q\\\" <@r:x@[1.2]>;\r\n",
            b"Date: Mon, 31 Feb 99999 25:61 -9999\r\n",
            b"Message-ID: <a@[b\r\n",
            b"Subject: =?a?Q?=4?= =?b?B?=?=\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"--b",
            b"\r\n",
            b"\n",
            b"\r",
            b" \t\r\n",
            b"=",
            b"=\r\n",
            b"=4",
            b"\x00",
            b"\x80\xff",
            b"(",
            b")",
            b"\"",
            b"<",
            b"@",
            b":",
            b";",
            b"QUJD",
            b"x",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..1500 {
            let mut content = Vec::new();
            let pieces = next() % 40;
            for _ in 0..pieces {
                let fragment = FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize];
                content.extend_from_slice(fragment);
            }
            for judge in all_judges() {
                let _ = message(&content).outcome(judge.id);
            }
        }
    }

    /// A 10 MiB message of 1,000 parts: every judge of A.14 and A.15 runs over it (the
    /// scans are linear; this shows they finish and judge it right).
    #[test]
    fn a_large_message_with_many_parts_is_judged() {
        let mut content = Vec::with_capacity(11 << 20);
        content.extend_from_slice(TOP.as_bytes());
        content.extend_from_slice(
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_big_1\"\r\n\r\n\
--=_big_1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
caf\xc3\xa9\r\n",
        );
        let line = format!("{}\r\n", "QUJD".repeat(19));
        for i in 1..1000 {
            content.extend_from_slice(
                format!(
                    "--=_big_1\r\nContent-Type: application/octet-stream; name=\"part{i}.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n"
                )
                .as_bytes(),
            );
            for _ in 0..135 {
                content.extend_from_slice(line.as_bytes());
            }
        }
        content.extend_from_slice(b"--=_big_1--\r\n");
        assert!(content.len() > 10 << 20, "{} octets", content.len());
        let model = crate::message::model::MessageModel::build(message(&content).smtputf8().input);
        let started = std::time::Instant::now();
        for judge in all_judges() {
            let want = match judge.id {
                "C-5322-SENDER-IF-MULTI-FROM"
                | "C-5322-FOLDING-NO-WSP-ONLY-LINE"
                | "C-2045-NO-BINARY-OVER-DATA"
                | "C-2045-QP-LINE-LENGTH"
                | "C-2045-QP-UPPERCASE-HEX"
                | "C-2045-QP-TRAILING-WHITESPACE"
                | "C-2045-QP-ILLEGAL-SEQUENCES"
                | "C-2045-QP-BINARY-CRLF"
                | "C-5322-BCC-HANDLING"
                | "C-2049-ENCODED-WORD-VALIDITY"
                | "C-5322-ASCII-HEADERS" => Status::NotApplicable,
                // The unlabelled multipart holds an 8bit part.
                "C-2045-CTE-MATCHES-CONTENT" => Status::Warn,
                _ => Status::Pass,
            };
            let crate::judges::Run::Message(run) = judge.run else {
                panic!("{} is a message check", judge.id);
            };
            let outcome = run(&model);
            assert_eq!(
                crate::testing::status(judge.id, &outcome),
                want,
                "{}: {outcome:#?}",
                judge.id
            );
        }
        eprintln!(
            "{} judges over {} octets: {:?}",
            all_judges().count(),
            content.len(),
            started.elapsed()
        );
    }
}
