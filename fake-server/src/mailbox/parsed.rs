//! Parsed access to a stored message, read with mail-parser: its header fields, text and HTML
//! bodies, attachments, and inline parts by Content-ID (what GreenMail's `MimeMessage` gives
//! a Java test). Parsing never fails: a message that is not MIME has a text body and no parts,
//! and one that is not a message at all has nothing.

use std::borrow::Cow;
use std::collections::HashSet;

use mail_parser::{MessageParser, MessagePart, MimeHeaders};

/// A stored message parsed ([`crate::StoredMessage::parsed`]), borrowing its octets.
///
/// ```
/// let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\
/// \r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf\r\n\
/// Content-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\
/// \r\nJVBERg==\r\n--b--\r\n";
/// let parsed = fake_server::ParsedMessage::parse(raw);
/// assert_eq!(parsed.subject(), Some("café"));
/// assert_eq!(parsed.header("subject").as_deref(), Some("=?utf-8?q?caf=C3=A9?="));
/// assert_eq!(parsed.text_body().as_deref(), Some("hello"));
/// let attachments = parsed.attachments();
/// assert_eq!(attachments[0].name.as_deref(), Some("a.pdf"));
/// assert_eq!(attachments[0].content_type, "application/pdf");
/// assert_eq!(attachments[0].content, b"%PDF");
/// ```
#[derive(Debug)]
pub struct ParsedMessage<'a> {
    raw: &'a [u8],
    message: Option<mail_parser::Message<'a>>,
}

/// An attachment or an inline part, decoded from its transfer encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment<'p> {
    /// The file name (Content-Disposition's `filename`, else Content-Type's `name`).
    pub name: Option<String>,
    /// `type/subtype`, lower case as written (`application/octet-stream` when absent).
    pub content_type: String,
    /// The Content-ID without its angle brackets, for parts an HTML body shows as `cid:…`.
    pub content_id: Option<String>,
    /// The content, decoded (base64 and quoted-printable undone).
    pub content: &'p [u8],
}

impl<'a> ParsedMessage<'a> {
    /// Parses a message's octets (as received, CRLF or LF line ends).
    pub fn parse(raw: &'a [u8]) -> ParsedMessage<'a> {
        ParsedMessage {
            raw,
            message: MessageParser::default().parse(raw),
        }
    }

    /// Every header field of the message, in order: its name as written and its value as
    /// written, unfolded and trimmed, not decoded (like JavaMail's `getHeader`).
    pub fn headers(&self) -> Vec<(&str, String)> {
        let Some(message) = &self.message else {
            return Vec::new();
        };
        message
            .headers()
            .iter()
            .map(|h| {
                let value = self
                    .raw
                    .get(h.offset_start() as usize..h.offset_end() as usize)
                    .map(unfold)
                    .unwrap_or_default();
                (h.name(), value)
            })
            .collect()
    }

    /// The first header field with this name (any case), as [`ParsedMessage::headers`] gives
    /// it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The Subject, with RFC 2047 encoded-words decoded.
    pub fn subject(&self) -> Option<&str> {
        self.message.as_ref()?.subject()
    }

    /// The first text/plain body, decoded to text (an HTML-only message gives none).
    pub fn text_body(&self) -> Option<Cow<'_, str>> {
        let message = self.message.as_ref()?;
        message.text_part(0).filter(|p| !p.is_text_html())?;
        message.body_text(0)
    }

    /// The first text/html body, decoded to text (a text-only message gives none).
    pub fn html_body(&self) -> Option<Cow<'_, str>> {
        let message = self.message.as_ref()?;
        message.html_part(0).filter(|p| p.is_text_html())?;
        message.body_html(0)
    }

    /// The attachments that are not inline parts, in order.
    pub fn attachments(&self) -> Vec<Attachment<'_>> {
        self.parts()
            .filter(|(_, inline)| !inline)
            .map(|(part, _)| part)
            .collect()
    }

    /// The inline parts an HTML body refers to by Content-ID (`<img src="cid:…">`), in order:
    /// a part with a Content-ID inside a multipart/related, or marked `inline`.
    pub fn inline_parts(&self) -> Vec<Attachment<'_>> {
        self.parts()
            .filter(|(_, inline)| *inline)
            .map(|(part, _)| part)
            .collect()
    }

    /// The part with this Content-ID (`logo@example`, `<logo@example>` or `cid:logo@example`).
    pub fn part_by_content_id(&self, content_id: &str) -> Option<Attachment<'_>> {
        let wanted = bare_content_id(content_id);
        self.parts()
            .map(|a| a.0)
            .find(|a| a.content_id.as_deref() == Some(wanted))
    }

    /// Every non-body part, and whether it is an inline part.
    fn parts(&self) -> impl Iterator<Item = (Attachment<'_>, bool)> {
        let Some(message) = &self.message else {
            return Vec::new().into_iter();
        };
        let related = related_children(message);
        message
            .attachments
            .iter()
            .filter_map(|&id| {
                let part = message.parts.get(id as usize)?;
                Some((attachment(part), is_inline(part, related.contains(&id))))
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// The children of every multipart/related: what an HTML body there shows by `cid:`.
pub(crate) fn related_children(message: &mail_parser::Message<'_>) -> HashSet<u32> {
    message
        .parts
        .iter()
        .filter(|part| {
            part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("multipart")
                    && ct
                        .subtype()
                        .is_some_and(|sub| sub.eq_ignore_ascii_case("related"))
            })
        })
        .flat_map(|part| part.sub_parts().unwrap_or_default().iter().copied())
        .collect()
}

fn attachment<'p>(part: &'p MessagePart<'_>) -> Attachment<'p> {
    let content_type = part.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        |ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_owned(),
        },
    );
    Attachment {
        name: part.attachment_name().map(str::to_owned),
        content_type,
        content_id: part
            .content_id()
            .map(|id| bare_content_id(id).to_owned())
            .filter(|id| !id.is_empty()),
        content: part.contents(),
    }
}

/// Inline: it has a Content-ID and sits in a multipart/related or says `inline`. The
/// disposition alone does not tell: Python's `email`, for one, marks an inline image with a
/// file name as `attachment` inside its multipart/related.
fn is_inline(part: &MessagePart<'_>, in_related: bool) -> bool {
    let says_inline = part
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
    part.content_id().is_some() && (in_related || says_inline)
}

fn bare_content_id(id: &str) -> &str {
    let id = id.trim();
    let id = id.strip_prefix("cid:").unwrap_or(id);
    let id = id.strip_prefix('<').unwrap_or(id);
    id.strip_suffix('>').unwrap_or(id)
}

/// A header value as written, with folding line ends removed and the ends trimmed.
fn unfold(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let unfolded: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
    unfolded.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_message_parses_to_nothing() {
        let parsed = ParsedMessage::parse(b"");
        assert!(parsed.headers().is_empty());
        assert_eq!(parsed.subject(), None);
        assert!(parsed.attachments().is_empty());
    }

    #[test]
    fn folded_headers_are_unfolded_and_content_ids_match_in_any_form() {
        let raw = b"Subject: a\r\n b\r\nContent-Type: multipart/related; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo@x\">\r\n--x\r\n\
Content-Type: image/png\r\nContent-ID: <logo@x>\r\n\r\nPNG\r\n--x--\r\n";
        let parsed = ParsedMessage::parse(raw);
        assert_eq!(parsed.header("SUBJECT").as_deref(), Some("a b"));
        assert_eq!(parsed.text_body(), None);
        assert!(parsed.html_body().is_some());
        assert!(parsed.attachments().is_empty());
        assert_eq!(parsed.inline_parts().len(), 1);
        for id in ["logo@x", "<logo@x>", "cid:logo@x"] {
            let part = parsed.part_by_content_id(id).expect(id);
            assert_eq!(part.content_type, "image/png");
            assert_eq!(part.content, b"PNG");
        }
    }
}
