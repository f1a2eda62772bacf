//! Round trips: a message as the harness built it ([`expected`]) beside the same message as
//! a parser reads it back from what a server stored ([`by_mail_parser`], [`by_python`]):
//! header fields (subject, display names, addresses, those of embedded messages too) and
//! every leaf part in document order with its type, charset, file name, Content-ID and
//! decoded octets. [`differences`] lists what does not match.
//!
//! Text parts are compared as characters with line breaks as LF: MIME text has CRLF line
//! breaks by definition (RFC 2046 §4.1.1) and parsers hand them over as they see fit.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mail_parser::{MessageParser, MimeHeaders, PartType};
use smtp_harness::message::{self, Body, Mailbox, Message, Part};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub subject: String,
    pub from: Vec<(Option<String>, String)>,
    pub to: Vec<(Option<String>, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub media_type: String,
    pub charset: Option<String>,
    pub filename: Option<String>,
    pub content_id: Option<String>,
    pub octets: Vec<u8>,
    /// The decoded octets are not to be trusted (Python's email package turns CRLF into LF
    /// inside parts labelled `binary`, which only BINARYMIME can carry): compared by the
    /// other parser only.
    pub octets_unreliable: bool,
}

/// A message as one side sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seen {
    /// The message's, then each embedded message's, in document order.
    pub headers: Vec<Headers>,
    pub leaves: Vec<Leaf>,
}

fn text_octets(media_type: &str, octets: Vec<u8>) -> Vec<u8> {
    if !media_type.starts_with("text/") {
        return octets;
    }
    let mut out = Vec::with_capacity(octets.len());
    let mut i = 0;
    while i < octets.len() {
        if octets[i] == b'\r' && octets.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(octets[i]);
        i += 1;
    }
    out
}

fn mailboxes(list: &[Mailbox]) -> Vec<(Option<String>, String)> {
    list.iter()
        .map(|m| (m.name.as_ref().map(|n| n.text.clone()), m.address.clone()))
        .collect()
}

/// What the harness built.
pub fn expected(message: &Message) -> Seen {
    let mut seen = Seen::default();
    expected_into(message, &mut seen);
    seen
}

fn expected_into(message: &Message, seen: &mut Seen) {
    seen.headers.push(Headers {
        subject: message.subject.text.clone(),
        from: mailboxes(std::slice::from_ref(&message.from)),
        to: mailboxes(&message.to),
    });
    for (_, part) in message.body.leaves() {
        if let Body::Message(inner) = &part.body {
            expected_into(inner, seen);
            continue;
        }
        seen.leaves.push(expected_leaf(part));
    }
}

fn expected_leaf(part: &Part) -> Leaf {
    let octets = match &part.body {
        Body::Text(text) => text.as_bytes().to_vec(),
        _ => message::text_octets(part).expect("the shape's octets"),
    };
    Leaf {
        media_type: part.media_type.clone(),
        charset: part.charset.map(|c| c.name().to_ascii_lowercase()),
        filename: part.filename.as_ref().map(|f| f.name.clone()),
        content_id: part.content_id.clone(),
        octets: text_octets(&part.media_type, octets),
        octets_unreliable: false,
    }
}

/// The message as mail-parser reads it.
pub fn by_mail_parser(raw: &[u8]) -> Seen {
    let mut seen = Seen::default();
    match MessageParser::default().parse(raw) {
        Some(parsed) => parsed_into(&parsed, &mut seen),
        None => seen.headers.push(Headers {
            subject: "<mail-parser could not parse the message>".to_owned(),
            from: Vec::new(),
            to: Vec::new(),
        }),
    }
    seen
}

fn addresses(address: Option<&mail_parser::Address<'_>>) -> Vec<(Option<String>, String)> {
    address
        .map(|a| {
            a.iter()
                .map(|addr| {
                    (
                        addr.name().map(str::to_owned),
                        addr.address().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parsed_into(parsed: &mail_parser::Message<'_>, seen: &mut Seen) {
    seen.headers.push(Headers {
        subject: parsed.subject().unwrap_or_default().to_owned(),
        from: addresses(parsed.from()),
        to: addresses(parsed.to()),
    });
    for part in &parsed.parts {
        let octets = match &part.body {
            PartType::Multipart(_) => continue,
            PartType::Message(inner) => {
                parsed_into(inner, seen);
                continue;
            }
            PartType::Text(text) | PartType::Html(text) => text.as_bytes().to_vec(),
            PartType::Binary(octets) | PartType::InlineBinary(octets) => octets.to_vec(),
        };
        let (media_type, charset) = match part.content_type() {
            Some(ct) => (
                format!(
                    "{}/{}",
                    ct.ctype().to_ascii_lowercase(),
                    ct.subtype().unwrap_or_default().to_ascii_lowercase()
                ),
                ct.attribute("charset").map(str::to_ascii_lowercase),
            ),
            None => ("text/plain".to_owned(), None),
        };
        seen.leaves.push(Leaf {
            octets: text_octets(&media_type, octets),
            octets_unreliable: false,
            charset: charset.filter(|_| media_type.starts_with("text/")),
            filename: part.attachment_name().map(str::to_owned),
            content_id: part
                .content_id()
                .map(|id| id.trim_matches(|c| c == '<' || c == '>').to_owned()),
            media_type,
        });
    }
}

/// The messages in `files` as Python's email package reads them (tests/roundtrip/parse.py);
/// decoded payloads go to `scratch`.
pub fn by_python(files: &[PathBuf], scratch: &Path) -> Vec<Seen> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/roundtrip/parse.py");
    std::fs::create_dir_all(scratch).expect("scratch folder");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(scratch)
        .args(files)
        .output()
        .expect("python3 runs (ci/setup.sh installs it)");
    assert!(
        output.status.success(),
        "parse.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 JSON");
    let pairs = |value: &serde_json::Value| -> Vec<(Option<String>, String)> {
        value
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|a| {
                        (
                            a["name"].as_str().map(str::to_owned),
                            a["address"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let string = |value: &serde_json::Value| value.as_str().map(str::to_owned);
    text.lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            let headers = json["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| Headers {
                    subject: h["subject"].as_str().unwrap_or_default().to_owned(),
                    from: pairs(&h["from"]),
                    to: pairs(&h["to"]),
                })
                .collect();
            let leaves = json["leaves"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|leaf| {
                    let media_type = leaf["type"].as_str().unwrap_or_default().to_owned();
                    let payload = leaf["payload"].as_str().expect("payload file");
                    let octets = std::fs::read(payload).expect("payload");
                    let _ = std::fs::remove_file(payload);
                    Leaf {
                        octets: text_octets(&media_type, octets),
                        octets_unreliable: leaf["cte"].as_str() == Some("binary"),
                        charset: string(&leaf["charset"]),
                        filename: string(&leaf["filename"]),
                        content_id: string(&leaf["content_id"]),
                        media_type,
                    }
                })
                .collect();
            Seen { headers, leaves }
        })
        .collect()
}

/// What differs, one line each (empty when the round trip is exact).
pub fn differences(expected: &Seen, seen: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    if expected.headers != seen.headers {
        out.push(format!(
            "header fields: expected {:?}, read {:?}",
            expected.headers, seen.headers
        ));
    }
    if expected.leaves.len() != seen.leaves.len() {
        out.push(format!(
            "{} leaf parts expected, {} read: {:?}",
            expected.leaves.len(),
            seen.leaves.len(),
            seen.leaves
                .iter()
                .map(|l| l.media_type.as_str())
                .collect::<Vec<_>>()
        ));
    }
    for (i, (want, got)) in expected.leaves.iter().zip(&seen.leaves).enumerate() {
        let label = format!("part {} ({})", i + 1, want.media_type);
        if want.media_type != got.media_type {
            out.push(format!("{label}: read as {}", got.media_type));
        }
        if want.charset != got.charset {
            out.push(format!(
                "{label}: charset {:?}, read {:?}",
                want.charset, got.charset
            ));
        }
        if want.filename != got.filename {
            out.push(format!(
                "{label}: file name {:?}, read {:?}",
                want.filename, got.filename
            ));
        }
        if want.content_id != got.content_id {
            out.push(format!(
                "{label}: Content-ID {:?}, read {:?}",
                want.content_id, got.content_id
            ));
        }
        if want.octets != got.octets && !got.octets_unreliable {
            let at = want
                .octets
                .iter()
                .zip(&got.octets)
                .position(|(a, b)| a != b)
                .unwrap_or(want.octets.len().min(got.octets.len()));
            out.push(format!(
                "{label}: {} octets expected, {} decoded, first difference at {at}",
                want.octets.len(),
                got.octets.len()
            ));
        }
    }
    out
}
