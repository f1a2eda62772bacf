//! A [`Message`] as the octets sent to one server: header fields encoded (encoded-words, RFC
//! 2231 parameters, or UTF-8 as it is with RFC 6532), each leaf part in the transfer encoding
//! [`encode::choose`] picks for what the server offered, boundaries that cannot occur in the
//! encoded content, and the large generated attachment kept as a recipe ([`Segment`]) that
//! is encoded chunk by chunk while it is sent.

use std::borrow::Cow;

use smtp_protocol::params::Body as BodyParam;

use super::encode::{self, Cte, Offered};
use super::words;
use super::{Body, Disposition, FilenameForm, Mailbox, Message, MessageError, Part};

/// Octets of generated content encoded per chunk (a multiple of 57: base64 lines join up).
const GENERATED_CHUNK: u64 = 57 * 16 * 1024;

/// A run of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Bytes(Vec<u8>),
    /// [`encode::generated`] octets, base64 (lines of 76) or binary.
    Generated {
        seed: u64,
        len: u64,
        cte: Cte,
    },
}

impl Segment {
    fn size(&self) -> u64 {
        match self {
            Segment::Bytes(bytes) => bytes.len() as u64,
            Segment::Generated {
                len,
                cte: Cte::Base64,
                ..
            } => encode::base64_lines_len(*len),
            Segment::Generated { len, .. } => *len,
        }
    }
}

/// A message ready for one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub segments: Vec<Segment>,
    /// `BODY=` for MAIL: 8BITMIME when an octet is 8-bit, BINARYMIME with a binary part.
    pub body: Option<BodyParam>,
    /// Header fields in UTF-8 (RFC 6532): only with SMTPUTF8.
    pub smtputf8: bool,
    /// The encoding decisions, one line each, for the transcript.
    pub notes: Vec<String>,
}

impl Rendered {
    /// The message's size in octets (what SIZE= declares).
    pub fn size(&self) -> u64 {
        self.segments.iter().map(Segment::size).sum()
    }

    /// The octets in chunks, the generated ones encoded as they are asked for.
    pub fn chunks(&self) -> impl Iterator<Item = Cow<'_, [u8]>> + Send + '_ {
        self.segments.iter().flat_map(
            |segment| -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + Send + '_> {
                match segment {
                    Segment::Bytes(bytes) => {
                        Box::new(std::iter::once(Cow::Borrowed(bytes.as_slice())))
                    }
                    Segment::Generated { seed, len, cte } => {
                        let (seed, len, cte) = (*seed, *len, *cte);
                        Box::new((0..len.div_ceil(GENERATED_CHUNK)).map(move |i| {
                            let start = i * GENERATED_CHUNK;
                            let n = GENERATED_CHUNK.min(len - start) as usize;
                            let mut raw = vec![0; n];
                            encode::generated(seed, start, &mut raw);
                            if cte == Cte::Base64 {
                                let mut out = Vec::with_capacity(n / 57 * 78 + 80);
                                encode::base64_lines(&raw, &mut out);
                                Cow::Owned(out)
                            } else {
                                Cow::Owned(raw)
                            }
                        }))
                    }
                }
            },
        )
    }

    /// All the octets at once (tests; not for the large shape in production paths).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size() as usize);
        for chunk in self.chunks() {
            out.extend_from_slice(&chunk);
        }
        out
    }
}

/// Renders `message` for a server that offered `offered`.
pub fn render(message: &Message, offered: Offered) -> Result<Rendered, MessageError> {
    let mut writer = Writer::new(offered);
    writer.message(message, "1")?;
    // SMTP content ends with a line break (base64 bodies were left without their last one).
    if !writer.current.is_empty() && !writer.current.ends_with(b"\r\n") {
        writer.current.extend_from_slice(b"\r\n");
    }
    writer.flush();
    let mut notes = vec![format!("parts: {}", writer.parts.join(", "))];
    notes.append(&mut writer.notes);
    let body = if writer.binary {
        Some(BodyParam::BinaryMime)
    } else if writer.eight_bit || message.utf8_headers {
        Some(BodyParam::EightBitMime)
    } else {
        None
    };
    Ok(Rendered {
        segments: writer.segments,
        body,
        smtputf8: message.utf8_headers,
        notes,
    })
}

struct Writer {
    offered: Offered,
    segments: Vec<Segment>,
    current: Vec<u8>,
    eight_bit: bool,
    binary: bool,
    notes: Vec<String>,
    /// "path type=cte" for the parts note.
    parts: Vec<String>,
}

impl Writer {
    /// Nothing written yet, for a server that offered `offered`.
    fn new(offered: Offered) -> Writer {
        Writer {
            offered,
            segments: Vec::new(),
            current: Vec::new(),
            eight_bit: false,
            binary: false,
            notes: Vec::new(),
            parts: Vec::new(),
        }
    }

    fn push(&mut self, octets: &[u8]) {
        self.current.extend_from_slice(octets);
    }

    fn line(&mut self, text: &str) {
        self.current.extend_from_slice(text.as_bytes());
        self.current.extend_from_slice(b"\r\n");
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.segments
                .push(Segment::Bytes(std::mem::take(&mut self.current)));
        }
    }

    fn message(&mut self, message: &Message, path: &str) -> Result<(), MessageError> {
        let utf8 = message.utf8_headers;
        self.line(&format!("Date: {}", message.date));
        self.line(&format!("From: {}", mailbox(&message.from, 4, utf8)?));
        let to: Vec<String> = message
            .to
            .iter()
            .map(|m| mailbox(m, 2, utf8))
            .collect::<Result<_, _>>()?;
        self.line(&format!("To: {}", to.join(",\r\n ")));
        self.line(&format!(
            "Subject: {}",
            unstructured(&message.subject, 7, utf8)?
        ));
        self.line(&format!("Message-ID: <{}>", message.message_id));
        self.line("MIME-Version: 1.0");
        self.part(&message.body, path, utf8)
    }

    /// A part's header fields, the empty line, and its body.
    fn part(&mut self, part: &Part, path: &str, utf8: bool) -> Result<(), MessageError> {
        let mut content_type = part.media_type.clone();
        if let Some(charset) = part.charset {
            content_type.push_str(&format!("; charset={}", charset.name()));
        }
        let boundary = format!("=_harness_{path}_{}", path.len() * 7 + 11);
        if matches!(part.body, Body::Multipart(_)) {
            content_type.push_str(&format!(";\r\n boundary=\"{boundary}\""));
        }
        if let Some(filename) = &part.filename {
            content_type.push_str(&parameter("name", filename, utf8)?);
        }
        self.line(&format!("Content-Type: {content_type}"));
        match &part.body {
            Body::Multipart(parts) => {
                // RFC 2045 §6.4: a composite is labelled with the widest of its parts' identity
                // encodings (7bit needs no label).
                match widest(part, self.offered)? {
                    Cte::SevenBit => {}
                    cte => self.line(&format!("Content-Transfer-Encoding: {cte}")),
                }
                self.line("");
                for (i, child) in parts.iter().enumerate() {
                    self.line(&format!("--{boundary}"));
                    self.part(child, &format!("{path}.{}", i + 1), utf8)?;
                    self.push(b"\r\n");
                }
                self.line(&format!("--{boundary}--"));
                return Ok(());
            }
            Body::Message(inner) => {
                let mut nested = Writer::new(self.offered);
                nested.message(inner, &format!("{path}.1"))?;
                nested.flush();
                let octets = Rendered {
                    segments: std::mem::take(&mut nested.segments),
                    body: None,
                    smtputf8: false,
                    notes: Vec::new(),
                }
                .to_vec();
                let shape = encode::analyse(&octets);
                // RFC 6532 §3.5: message/global may be encoded; 8bit when offered.
                let cte = if shape.high == 0 && !shape.binary {
                    Cte::SevenBit
                } else if self.offered.eight_bit_mime && !shape.binary {
                    Cte::EightBit
                } else {
                    self.notes.push(format!(
                        "part {path} {}: 8bit -> base64: the server does not offer 8BITMIME (RFC 6152 §3)",
                        part.media_type
                    ));
                    Cte::Base64
                };
                self.parts.push(format!("{path} {}={cte}", part.media_type));
                self.parts.append(&mut nested.parts);
                self.notes.append(&mut nested.notes);
                self.disposition(part, utf8)?;
                self.line(&format!("Content-Transfer-Encoding: {cte}"));
                self.line("");
                self.body_octets(&octets, cte);
                return Ok(());
            }
            _ => {}
        }
        self.leaf(part, path, utf8, &boundary)
    }

    fn disposition(&mut self, part: &Part, utf8: bool) -> Result<(), MessageError> {
        if let Some(disposition) = part.disposition {
            let mut value = match disposition {
                Disposition::Inline => "inline".to_owned(),
                Disposition::Attachment => "attachment".to_owned(),
            };
            if let Some(filename) = &part.filename {
                value.push_str(&parameter("filename", filename, utf8)?);
            }
            self.line(&format!("Content-Disposition: {value}"));
        }
        if let Some(id) = &part.content_id {
            self.line(&format!("Content-ID: <{id}>"));
        }
        Ok(())
    }

    fn leaf(
        &mut self,
        part: &Part,
        path: &str,
        utf8: bool,
        boundary: &str,
    ) -> Result<(), MessageError> {
        let text = part.is_text();
        if let Body::Generated { seed, len } = &part.body {
            let choice = encode::choose(&encode::Shape::default(), false, self.offered);
            self.parts
                .push(format!("{path} {}={}", part.media_type, choice.cte));
            self.binary |= choice.cte == Cte::Binary;
            self.disposition(part, utf8)?;
            self.line(&format!("Content-Transfer-Encoding: {}", choice.cte));
            self.line("");
            self.flush();
            self.segments.push(Segment::Generated {
                seed: *seed,
                len: *len,
                cte: choice.cte,
            });
            return Ok(());
        }
        let octets = super::text_octets(part)?;
        let shape = encode::analyse(&octets);
        let choice = encode::choose(&shape, text, self.offered);
        self.parts
            .push(format!("{path} {}={}", part.media_type, choice.cte));
        if let Some(downgrade) = &choice.downgrade {
            self.notes
                .push(format!("part {path} {}: {downgrade}", part.media_type));
        }
        if matches!(choice.cte, Cte::SevenBit | Cte::EightBit | Cte::Binary)
            && contains(&octets, boundary.as_bytes())
        {
            return Err(MessageError::BoundaryInContent(boundary.to_owned()));
        }
        self.disposition(part, utf8)?;
        self.line(&format!("Content-Transfer-Encoding: {}", choice.cte));
        self.line("");
        self.body_octets(&octets, choice.cte);
        Ok(())
    }

    fn body_octets(&mut self, octets: &[u8], cte: Cte) {
        match cte {
            Cte::SevenBit | Cte::EightBit => {
                self.eight_bit |= cte == Cte::EightBit;
                self.push(octets);
            }
            Cte::Binary => {
                self.binary = true;
                self.push(octets);
            }
            Cte::QuotedPrintable => {
                let qp = encode::quoted_printable(octets);
                self.push(&qp);
            }
            Cte::Base64 => {
                let mut out = Vec::new();
                encode::base64_lines(octets, &mut out);
                // The CRLF before the next delimiter ends the last line.
                if out.ends_with(b"\r\n") {
                    out.truncate(out.len() - 2);
                }
                self.push(&out);
            }
        }
    }
}

/// The encoding a composite must be labelled with: binary when a part under it goes as
/// binary, 8bit when one goes as 8bit (or is an 8-bit embedded message), else 7bit.
fn widest(part: &Part, offered: Offered) -> Result<Cte, MessageError> {
    let mut widest = Cte::SevenBit;
    let mut stack = vec![part];
    while let Some(part) = stack.pop() {
        let cte = match &part.body {
            Body::Multipart(parts) => {
                stack.extend(parts.iter());
                continue;
            }
            Body::Message(inner) => {
                if inner.utf8_headers && offered.eight_bit_mime {
                    Cte::EightBit
                } else {
                    stack.push(&inner.body);
                    continue;
                }
            }
            Body::Generated { .. } => encode::choose(&encode::Shape::default(), false, offered).cte,
            _ => {
                let octets = super::text_octets(part)?;
                encode::choose(&encode::analyse(&octets), part.is_text(), offered).cte
            }
        };
        widest = match (widest, cte) {
            (Cte::Binary, _) | (_, Cte::Binary) => Cte::Binary,
            (Cte::EightBit, _) | (_, Cte::EightBit) => Cte::EightBit,
            _ => Cte::SevenBit,
        };
    }
    Ok(widest)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A file name parameter (`; name...`), in the form the shape asks for.
fn parameter(name: &str, filename: &super::Filename, utf8: bool) -> Result<String, MessageError> {
    if filename.name.is_ascii() {
        return Ok(words::plain_parameter(name, &filename.name));
    }
    if utf8 {
        // RFC 6532 §3.2: UTF-8 in a quoted string as it is.
        return Ok(format!(";\r\n {name}=\"{}\"", filename.name));
    }
    match filename.form {
        FilenameForm::Rfc2231 => words::rfc2231_parameter(name, &filename.name, filename.charset),
        FilenameForm::EncodedWord => {
            words::legacy_parameter(name, &filename.name, filename.charset)
        }
    }
}

/// An unstructured field's value (Subject): as it is when ASCII or in UTF-8 headers, else
/// encoded-words.
fn unstructured(
    text: &super::HeaderText,
    name_len: usize,
    utf8: bool,
) -> Result<String, MessageError> {
    if text.text.is_ascii() || utf8 {
        return Ok(fold_ascii(&text.text, name_len));
    }
    words::encoded_words(&text.text, text.charset, text.encoding, name_len, "")
}

/// A mailbox: `Name <address>`, the name quoted when it needs to be, encoded-words when it
/// is not ASCII (RFC 2047 §5 (3): a phrase).
fn mailbox(mailbox: &Mailbox, name_len: usize, utf8: bool) -> Result<String, MessageError> {
    let address = format!("<{}>", mailbox.address);
    let Some(name) = &mailbox.name else {
        return Ok(address);
    };
    if name.text.is_ascii() || utf8 {
        let atoms = name
            .text
            .split(' ')
            .all(|w| !w.is_empty() && !w.bytes().any(|b| b"()<>[]:;@\\,.\"".contains(&b)));
        let phrase = if atoms {
            name.text.clone()
        } else {
            format!(
                "\"{}\"",
                name.text.replace('\\', "\\\\").replace('"', "\\\"")
            )
        };
        return Ok(format!("{phrase} {address}"));
    }
    words::encoded_words(&name.text, name.charset, name.encoding, name_len, &address)
}

/// Folds ASCII (or RFC 6532 UTF-8) text at spaces so that lines stay within 78 octets where
/// a space allows it.
fn fold_ascii(text: &str, name_len: usize) -> String {
    let mut out = String::new();
    let mut column = name_len + 2;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if column + 1 + word.len() > 78 {
                out.push_str("\r\n ");
                column = 1;
            } else {
                out.push(' ');
                column += 1;
            }
        }
        out.push_str(word);
        column += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::shapes::SHAPES;

    #[test]
    fn sizes_match_the_octets() {
        for shape in SHAPES.iter().filter(|s| s.name != "large-attachment") {
            for offered in [Offered::ALL, Offered::NONE] {
                let rendered = render(&(shape.build)(), offered).expect("renders");
                assert_eq!(
                    rendered.size(),
                    rendered.to_vec().len() as u64,
                    "{}",
                    shape.name
                );
            }
        }
    }

    #[test]
    fn downgrade_is_noted_and_body_follows() {
        let message = crate::message::shapes::find("plain-utf8").expect("shape");
        let eight = render(&message, Offered::ALL).expect("renders");
        assert_eq!(eight.body, Some(BodyParam::EightBitMime));
        let seven = render(&message, Offered::NONE).expect("renders");
        assert_eq!(seven.body, None);
        assert!(
            seven.notes.iter().any(|n| n.contains("8BITMIME")),
            "{:?}",
            seven.notes
        );
        assert!(seven.to_vec().iter().all(|b| b.is_ascii()));
    }
}
