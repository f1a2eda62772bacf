//! The message model: a message's content split into its entities (the message itself, each
//! MIME part, each embedded message), each with its header fields and body located by octet
//! offset. The split is lenient on purpose (it must describe any octets a client can send);
//! strictness is the checks' job, and they read the raw octets the model points at.
//!
//! No recursion: entities are found with a work list and kept flat, each pointing at its
//! parent and children, so a part nested a thousand deep costs no stack.

use std::cell::OnceCell;
use std::ops::Range;

use smtp_protocol::params::Body;
use smtp_protocol::session::{Recipient, Transfer};

use super::rfc5322::Addresses;

/// Parts nested deeper than this are not split further (the checks say so).
pub const MAX_DEPTH: usize = 64;

/// Entities beyond this many are not split out (a bound on work and memory).
pub const MAX_ENTITIES: usize = 10_000;

/// A message as a check sees it: its octets and how the envelope announced them.
#[derive(Debug, Clone, Copy)]
pub struct MessageInput<'a> {
    /// The content, after dot-unstuffing (or the BDAT chunks joined).
    pub content: &'a [u8],
    /// The queue id it was stored under.
    pub id: Option<&'a str>,
    pub transfer: Transfer,
    /// `BODY=` on MAIL.
    pub body: Option<Body>,
    /// `SMTPUTF8` on MAIL.
    pub smtputf8: bool,
    /// MAIL's reverse path was null (`MAIL FROM:<>`).
    pub null_sender: bool,
    /// The envelope recipients (RCPT TO) the message was accepted for.
    pub recipients: &'a [Recipient],
}

/// One header field: `name: value`, folded lines included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderField {
    /// The whole field: from its name to the end of its last line, line end included.
    pub span: Range<usize>,
    /// The name (before the colon; the whole first line when there is no colon).
    pub name: Range<usize>,
    /// The value: after the colon up to the end of the last line, without its line end;
    /// folding line ends are inside it.
    pub value: Range<usize>,
    /// The first line had a colon.
    pub has_colon: bool,
}

impl HeaderField {
    pub fn name<'a>(&self, content: &'a [u8]) -> &'a [u8] {
        &content[self.name.clone()]
    }

    pub fn value<'a>(&self, content: &'a [u8]) -> &'a [u8] {
        &content[self.value.clone()]
    }

    /// Whether the name is `name` (case-insensitive).
    pub fn is(&self, content: &[u8], name: &str) -> bool {
        self.name(content).eq_ignore_ascii_case(name.as_bytes())
    }
}

/// A parameter of a Content-Type or Content-Disposition field, read leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The attribute as written (lower case), `filename*0*` included.
    pub name: String,
    /// The value, unquoted.
    pub value: String,
    /// The value was a quoted-string.
    pub quoted: bool,
}

/// A Content-Type, read leniently: `type/subtype` in lower case and the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub media_type: String,
    pub subtype: String,
    pub parameters: Vec<Parameter>,
}

impl ContentType {
    /// A parameter's value by name (case-insensitive).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    pub fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.media_type == media_type && self.subtype == subtype
    }

    pub fn is_multipart(&self) -> bool {
        self.media_type == "multipart"
    }

    /// `message/rfc822` or `message/global` (RFC 6532 §3.5): an embedded message.
    pub fn is_message(&self) -> bool {
        self.media_type == "message" && matches!(self.subtype.as_str(), "rfc822" | "global")
    }
}

/// How a multipart body was split.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Multipart {
    pub boundary: String,
    /// Offsets of each delimiter line's first octet (`--boundary`), the close one included.
    pub delimiters: Vec<usize>,
    /// Offset of the close delimiter (`--boundary--`), if there was one.
    pub close: Option<usize>,
}

/// The message or one of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// 0 for the message itself.
    pub depth: usize,
    /// Where the entity starts (its first header field, or its body when it has none).
    pub start: usize,
    pub fields: Vec<HeaderField>,
    /// The empty line that ends the header section, if there was one.
    pub separator: Option<Range<usize>>,
    pub body: Range<usize>,
    /// The Content-Type as read (`None` without one: text/plain by default, RFC 2045 §5.2,
    /// or message/rfc822 inside multipart/digest).
    pub content_type: Option<ContentType>,
    /// The Content-Transfer-Encoding in lower case, trimmed.
    pub encoding: Option<String>,
    pub multipart: Option<Multipart>,
    /// Parts under this one were not split: too deep, or too many.
    pub truncated: bool,
}

impl Entity {
    /// The header fields named `name` (case-insensitive).
    pub fn fields_named<'e>(
        &'e self,
        content: &'e [u8],
        name: &'e str,
    ) -> impl Iterator<Item = &'e HeaderField> + 'e {
        self.fields.iter().filter(move |f| f.is(content, name))
    }

    /// The first field named `name`.
    pub fn field<'e>(&'e self, content: &[u8], name: &str) -> Option<&'e HeaderField> {
        self.fields.iter().find(|f| f.is(content, name))
    }

    /// `type/subtype` in effect: the Content-Type's, or the default (`text/plain`, or
    /// `message/rfc822` for a part of multipart/digest).
    pub fn effective_type(&self, parent_digest: bool) -> (String, String) {
        match &self.content_type {
            Some(ct) => (ct.media_type.clone(), ct.subtype.clone()),
            None if parent_digest => ("message".to_owned(), "rfc822".to_owned()),
            None => ("text".to_owned(), "plain".to_owned()),
        }
    }
}

/// A message, split.
#[derive(Debug, Clone)]
pub struct MessageModel<'a> {
    pub input: MessageInput<'a>,
    /// The message (index 0) and every part, parents before children.
    pub entities: Vec<Entity>,
    /// What several checks read, worked out on first use.
    pub(crate) derived: Derived,
}

/// Facts more than one check needs, kept once worked out: each check used to find them
/// again (the address fields were parsed six times a message, every header field searched
/// for encoded-words thirteen times), about a fifth of judging a plain message.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    /// The message header's address fields, parsed: the field's index in the root entity's
    /// fields, and what the parser found.
    pub(crate) root_addresses: OnceCell<Vec<(usize, Addresses)>>,
    /// Some header field's value holds `=?`, where an encoded-word may start.
    pub(crate) any_word_start: OnceCell<bool>,
    /// The whole content's line ends and lengths, found in one pass.
    pub(crate) line_facts: OnceCell<LineFacts>,
    /// Per entity, whether it lies inside an encoded `message/*` part (see
    /// `rfc5322::readable_entities`): asked by some twenty checks a message.
    pub(crate) hidden_entities: OnceCell<Vec<bool>>,
}

/// What one pass over the whole content finds about its lines: enough for the line checks
/// to pass a clean message without walking its lines again (four checks did, each its own
/// way). A check that sees a possible fault here walks the lines itself for the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineFacts {
    /// The longest line in octets, without its CR LF (a lone CR counts, as it does for the
    /// checks' line walk over the whole content).
    pub(crate) longest: usize,
    /// Some CR is not followed by LF, or some LF not preceded by CR.
    pub(crate) bare_ends: bool,
}

impl LineFacts {
    pub(crate) fn of(content: &[u8]) -> LineFacts {
        let mut longest = 0;
        let mut lone_lf = false;
        let mut crlf = 0;
        let mut line_start = 0;
        for at in memchr::memchr_iter(b'\n', content) {
            let after_cr = at > line_start && content.get(at - 1) == Some(&b'\r');
            crlf += usize::from(after_cr);
            lone_lf |= !after_cr;
            longest = longest.max(at - line_start - usize::from(after_cr));
            line_start = at + 1;
        }
        // Every CR is followed by LF when there are as many CRs as CR LF pairs (counted apart:
        // memchr counts with vector instructions, a second search per line cost far more).
        let crs = memchr::memchr_iter(b'\r', content).count();
        LineFacts {
            longest: longest.max(content.len() - line_start),
            bare_ends: lone_lf || crs != crlf,
        }
    }

    /// No CR or LF in `range` of `content` stands alone: none in the whole content, and the
    /// range does not split a CRLF.
    pub(crate) fn no_bare_ends_in(&self, content: &[u8], range: &Range<usize>) -> bool {
        let splits_crlf = (range.end > 0 && content.get(range.end - 1) == Some(&b'\r'))
            || content.get(range.start) == Some(&b'\n');
        !self.bare_ends && !splits_crlf
    }
}

impl<'a> MessageModel<'a> {
    /// See [`LineFacts`].
    pub(crate) fn line_facts(&self) -> LineFacts {
        *self
            .derived
            .line_facts
            .get_or_init(|| LineFacts::of(self.input.content))
    }

    pub fn build(input: MessageInput<'a>) -> MessageModel<'a> {
        let content = input.content;
        let mut entities = Vec::new();
        // (parent, depth, range) still to read.
        let mut work: Vec<(Option<usize>, usize, Range<usize>)> = vec![(None, 0, 0..content.len())];
        while let Some((parent, depth, range)) = work.pop() {
            let index = entities.len();
            let mut entity = read_entity(content, range, parent, depth);
            if let Some(parent) = parent {
                let parent: &mut Entity = &mut entities[parent];
                parent.children.push(index);
            }
            // An encoded message/global (RFC 6532 §3.5 allows it) is not split: its header
            // section is inside the encoding.
            let identity_encoded = entity
                .encoding
                .as_deref()
                .is_none_or(|e| matches!(e, "7bit" | "8bit" | "binary"));
            let splittable = entity
                .content_type
                .as_ref()
                .is_some_and(|ct| ct.is_multipart() || (ct.is_message() && identity_encoded));
            if splittable {
                if depth + 1 > MAX_DEPTH || entities.len() + work.len() >= MAX_ENTITIES {
                    entity.truncated = true;
                } else if let Some(ct) = entity.content_type.clone() {
                    let mut parts = Vec::new();
                    if ct.is_multipart() {
                        if let Some(boundary) = ct.parameter("boundary") {
                            let multipart = split_multipart(content, entity.body.clone(), boundary);
                            parts = parts_of(&multipart, content, entity.body.clone());
                            entity.multipart = Some(multipart);
                        }
                    } else {
                        parts.push(entity.body.clone());
                    }
                    // Reversed, so that the work list pops them in order.
                    for part in parts.into_iter().rev() {
                        work.push((Some(index), depth + 1, part));
                    }
                }
            }
            entities.push(entity);
        }
        // Entities come in document order (depth first): parts pop off the work list in order.
        MessageModel {
            input,
            entities,
            derived: Derived::default(),
        }
    }

    pub fn content(&self) -> &'a [u8] {
        self.input.content
    }

    /// The message itself.
    pub fn root(&self) -> &Entity {
        &self.entities[0]
    }

    /// Whether the parent of entity `index` is a multipart/digest (which changes the default
    /// type of its parts).
    pub fn in_digest(&self, index: usize) -> bool {
        self.entities[index]
            .parent
            .and_then(|p| self.entities[p].content_type.as_ref())
            .is_some_and(|ct| ct.is("multipart", "digest"))
    }

    /// Whether the message is MIME (a MIME-Version field at the top).
    pub fn is_mime(&self) -> bool {
        self.root().field(self.content(), "MIME-Version").is_some()
    }
}

/// The end of the line starting at `from`: (offset of its terminator, offset after it).
/// A line ends at LF (with or without CR before it) or at the end of `range`.
pub fn line_end(content: &[u8], from: usize, end: usize) -> (usize, usize) {
    match memchr_lf(&content[from..end]) {
        Some(i) => {
            let lf = from + i;
            let text_end = if lf > from && content[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (text_end, lf + 1)
        }
        None => (end, end),
    }
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Reads the header section and finds the body of the entity in `range`.
fn read_entity(content: &[u8], range: Range<usize>, parent: Option<usize>, depth: usize) -> Entity {
    let end = range.end;
    let mut at = range.start;
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut separator = None;
    while at < end {
        let (text_end, next) = line_end(content, at, end);
        let line = &content[at..text_end];
        if line.is_empty() {
            separator = Some(at..next);
            at = next;
            break;
        }
        let continues = matches!(line[0], b' ' | b'\t');
        match fields.last_mut() {
            Some(field) if continues => {
                field.value.end = text_end;
                field.span.end = next;
            }
            _ => {
                let colon = line.iter().position(|&b| b == b':');
                let (name, value, has_colon) = match colon {
                    Some(c) => (at..at + c, at + c + 1..text_end, true),
                    None => (at..text_end, text_end..text_end, false),
                };
                fields.push(HeaderField {
                    span: at..next,
                    name,
                    value,
                    has_colon,
                });
            }
        }
        at = next;
    }
    let body = at.min(end)..end;
    let mut entity = Entity {
        parent,
        children: Vec::new(),
        depth,
        start: range.start,
        fields,
        separator,
        body,
        content_type: None,
        encoding: None,
        multipart: None,
        truncated: false,
    };
    entity.content_type = entity
        .field(content, "Content-Type")
        .and_then(|f| parse_content_type(f.value(content)));
    entity.encoding = entity.field(content, "Content-Transfer-Encoding").map(|f| {
        let value = String::from_utf8_lossy(&unfold(f.value(content))).into_owned();
        strip_comments(&value).trim().to_ascii_lowercase()
    });
    entity
}

/// Unfolds a field value: folding line ends removed, the rest as it is.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\r' if value.get(i + 1) == Some(&b'\n') => i += 2,
            b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Reads `type/subtype; name=value; ...` leniently (comments dropped, names in lower case).
/// `None` when there is no `type/subtype` at all.
pub fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let text = String::from_utf8_lossy(&unfold(value)).into_owned();
    let text = strip_comments(&text);
    let mut pieces = split_params(&text).into_iter();
    let head = pieces.next()?;
    let (media_type, subtype) = head.trim().split_once('/')?;
    let (media_type, subtype) = (media_type.trim(), subtype.trim());
    if media_type.is_empty() || subtype.is_empty() {
        return None;
    }
    let parameters = pieces
        .filter_map(|p| {
            let (name, value) = p.split_once('=')?;
            let value = value.trim();
            let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
            let value = if quoted {
                unquote(&value[1..value.len() - 1])
            } else {
                value.to_owned()
            };
            Some(Parameter {
                name: name.trim().to_ascii_lowercase(),
                value,
                quoted,
            })
        })
        .collect();
    Some(ContentType {
        media_type: media_type.to_ascii_lowercase(),
        subtype: subtype.to_ascii_lowercase(),
        parameters,
    })
}

/// Splits at `;` outside quoted strings.
fn split_params(text: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        let piece = pieces.last_mut().expect("never empty");
        if escaped {
            piece.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                piece.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                piece.push(c);
            }
            ';' if !quoted => pieces.push(String::new()),
            c => piece.push(c),
        }
    }
    pieces
}

/// Removes `(comments)` outside quoted strings (nested comments included).
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The offset of the `)` closing the comment opened at `open` in a raw field value (nested
/// comments and quoted-pairs included), or the end of the value.
pub fn comment_end(value: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while let Some(&octet) = value.get(i) {
        match octet {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    value.len()
}

/// The offset of the `"` closing the quoted-string opened at `open` in a raw field value, or
/// the end of the value.
pub fn quoted_end(value: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while let Some(&octet) = value.get(i) {
        match octet {
            b'\\' => i += 1,
            b'"' => return i,
            _ => {}
        }
        i += 1;
    }
    value.len()
}

fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds the delimiter lines of a multipart body: `--boundary` at the start of a line (or
/// of the body), optionally `--` after it (the close delimiter), then only white space.
pub fn split_multipart(content: &[u8], body: Range<usize>, boundary: &str) -> Multipart {
    let mut multipart = Multipart {
        boundary: boundary.to_owned(),
        ..Multipart::default()
    };
    let dashes = format!("--{boundary}");
    let mut at = body.start;
    while at < body.end {
        let (text_end, next) = line_end(content, at, body.end);
        let line = &content[at..text_end];
        if let Some(rest) = line.strip_prefix(dashes.as_bytes()) {
            let (close, rest) = match rest.strip_prefix(b"--") {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            if rest.iter().all(|&b| b == b' ' || b == b'\t') {
                multipart.delimiters.push(at);
                if close {
                    multipart.close = Some(at);
                    break;
                }
            }
        }
        at = next;
    }
    multipart
}

/// The parts between delimiters: from after a delimiter line to the line end before the next
/// delimiter (that line end belongs to the delimiter, RFC 2046 §5.1.1).
fn parts_of(multipart: &Multipart, content: &[u8], body: Range<usize>) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    for pair in multipart.delimiters.windows(2) {
        let (_, start) = line_end(content, pair[0], body.end);
        let mut end = pair[1];
        if end > start && content[end - 1] == b'\n' {
            end -= 1;
            if end > start && content[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(start..end.max(start));
    }
    // An unclosed multipart: the last part runs to the end of the body.
    if multipart.close.is_none() {
        if let Some(&last) = multipart.delimiters.last() {
            let (_, start) = line_end(content, last, body.end);
            parts.push(start..body.end);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_facts_measure_lines_and_find_lone_line_ends() {
        let clean = LineFacts::of(b"ab\r\ncdef\r\n\r\ng");
        assert_eq!(
            clean,
            LineFacts {
                longest: 4,
                bare_ends: false
            }
        );
        assert!(clean.no_bare_ends_in(b"ab\r\ncdef\r\n\r\ng", &(0..14)));
        // A range that ends between CR and LF, or starts at the LF, splits a CRLF.
        assert!(!clean.no_bare_ends_in(b"ab\r\ncdef\r\n\r\ng", &(0..3)));
        assert!(!clean.no_bare_ends_in(b"ab\r\ncdef\r\n\r\ng", &(3..8)));
        // The last line has no line end.
        assert_eq!(LineFacts::of(b"a\r\nlonger").longest, 6);
        // Bare line ends: a lone CR is part of its line, a lone LF ends one.
        assert_eq!(LineFacts::of(b"ab\rcd\r\n").longest, 5);
        assert_eq!(LineFacts::of(b"abc\nd").longest, 3);
        assert_eq!(
            LineFacts::of(b""),
            LineFacts {
                longest: 0,
                bare_ends: false
            }
        );
        for lone in [&b"a\rb\r\n"[..], b"a\nb\r\n", b"\n", b"a\r", b"a\r\r\n"] {
            assert!(LineFacts::of(lone).bare_ends, "{lone:?}");
        }
    }

    fn input(content: &[u8]) -> MessageInput<'_> {
        MessageInput {
            content,
            id: None,
            transfer: Transfer::Data,
            body: None,
            smtputf8: false,
            null_sender: false,
            recipients: &[],
        }
    }

    #[test]
    fn splits_headers_body_and_parts() {
        let content = b"From: a@b.example\r\nSubject: hi\r\n there\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\none\r\n--XX\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--XX--\r\nepilogue\r\n";
        let model = MessageModel::build(input(content));
        assert_eq!(model.entities.len(), 4, "{:#?}", model.entities);
        let root = model.root();
        assert_eq!(root.fields.len(), 4);
        let subject = root.field(content, "subject").expect("subject");
        assert_eq!(subject.value(content), b" hi\r\n there");
        assert_eq!(root.children, vec![1, 2]);
        let text = &model.entities[1];
        assert_eq!(&content[text.body.clone()], b"one");
        assert_eq!(
            text.content_type
                .as_ref()
                .and_then(|c| c.parameter("charset")),
            Some("utf-8")
        );
        let embedded = &model.entities[3];
        assert_eq!(embedded.parent, Some(2));
        assert_eq!(&content[embedded.body.clone()], b"body");
        let multipart = root.multipart.as_ref().expect("multipart");
        assert_eq!(multipart.delimiters.len(), 3);
        assert!(multipart.close.is_some());
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_cut_without_recursion() {
        let mut content = Vec::new();
        let depth = 1000;
        for i in 0..depth {
            content.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        content.extend_from_slice(b"\r\nleaf\r\n");
        let model = MessageModel::build(input(&content));
        assert_eq!(model.entities.len(), MAX_DEPTH + 1);
        assert!(model.entities.last().expect("entity").truncated);
    }

    #[test]
    fn an_encoded_message_global_is_not_split_and_encodings_lose_comments() {
        let content = b"Content-Type: message/global\r\nContent-Transfer-Encoding: base64 (why not)\r\n\r\nU3ViamVjdDogeA0KDQpoaQ0K\r\n";
        let model = MessageModel::build(input(content));
        assert_eq!(model.entities.len(), 1);
        assert_eq!(model.root().encoding.as_deref(), Some("base64"));
    }

    #[test]
    fn a_message_without_header_or_separator_is_still_described() {
        for content in [&b""[..], b"no colon here", b"A: b\r\n", b"\r\nbody only"] {
            let model = MessageModel::build(input(content));
            assert_eq!(model.entities.len(), 1);
        }
    }
}
