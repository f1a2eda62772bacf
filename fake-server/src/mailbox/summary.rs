//! A short summary of a message (subject, From, To, Cc, attachments) for listings and events,
//! read with mail-parser. Content defects never fail this: missing parts are just absent.

use mail_parser::MimeHeaders;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Addresses in the From header.
    pub from: Vec<String>,
    /// Addresses in the To header.
    pub to: Vec<String>,
    /// Addresses in the Cc header (the envelope recipients, Bcc included, are the message's
    /// `rcpt_to`).
    pub cc: Vec<String>,
    /// File names (or content types) of the attachments.
    pub attachments: Vec<String>,
}

/// A parser that reads only what a summary shows (Subject, From, To, Cc, and the MIME
/// headers that find the attachments) and skips every other header field: about half the
/// cost of a full parse, paid per message by `--json` and the log.
fn summary_parser() -> &'static mail_parser::MessageParser {
    static PARSER: std::sync::OnceLock<mail_parser::MessageParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        use mail_parser::HeaderName;
        mail_parser::MessageParser::new()
            .with_mime_headers()
            .header_text(HeaderName::Subject)
            .header_address(HeaderName::From)
            .header_address(HeaderName::To)
            .header_address(HeaderName::Cc)
            .default_header_ignore()
    })
}

pub fn summarise(raw: &[u8]) -> Summary {
    // A message that cannot have attachments (no MIME structure in its header) is summarised
    // from its header alone: decoding its body is most of a parse's cost.
    let input = match header_only(raw) {
        Some(header) => header,
        None => raw,
    };
    match summary_parser().parse(input) {
        Some(message) => of_message(&message),
        None => Summary::default(),
    }
}

/// The summary of a parsed message: the whole message, or its header alone when
/// [`header_only`] allows (the answer is then the same). The parser must have read at least
/// Subject, From, To, Cc and the MIME fields (the web sink's, which shares its parse, does).
pub(crate) fn of_message(message: &mail_parser::Message<'_>) -> Summary {
    let addresses = |address: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        address
            .map(|a| {
                a.iter()
                    .filter_map(|addr| addr.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let attachments = message
        .attachments()
        .map(|part| {
            part.attachment_name()
                .map(str::to_owned)
                .or_else(|| {
                    part.content_type().map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{sub}", ct.ctype()),
                        None => ct.ctype().to_owned(),
                    })
                })
                .unwrap_or_else(|| "attachment".to_owned())
        })
        .collect();
    Summary {
        subject: message.subject().map(str::to_owned),
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        attachments,
    }
}

/// The header section and the empty line after it, when the message is surely one text
/// part, which is no attachment: no Content-Disposition, and no Content-Type or only
/// `text/...` ones. `None` when the body must be parsed too (a guess that errs that way).
pub(crate) fn header_only(raw: &[u8]) -> Option<&[u8]> {
    let end = memchr::memmem::find(raw, b"\r\n\r\n")? + 4;
    let header = &raw[..end];
    // Where `needle` ends, at each place it appears in any case. Candidates are found by
    // their first letter (memchr): comparing a window at every octet cost some 7,000
    // instructions a message (callgrind, ci/bench.sh row CJ).
    let positions = |needle: &'static [u8]| {
        let first = needle[0];
        memchr::memchr2_iter(
            first.to_ascii_lowercase(),
            first.to_ascii_uppercase(),
            header,
        )
        .filter(move |&at| {
            header
                .get(at..at + needle.len())
                .is_some_and(|window| window.eq_ignore_ascii_case(needle))
        })
        .map(move |at| at + needle.len())
    };
    if positions(b"content-disposition").next().is_some() {
        return None;
    }
    for value in positions(b"content-type:") {
        let rest = &header[value..];
        let start = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        let is_text = start.is_some_and(|at| {
            rest.get(at..at + 5)
                .is_some_and(|t| t.eq_ignore_ascii_case(b"text/"))
        });
        if !is_text {
            return None;
        }
    }
    Some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_a_multipart_message() {
        let raw = b"From: Ann <ann@example.com>\r\nTo: bob@example.org, Cy <cy@example.org>\r\n\
Cc: dee@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nxx\r\n--b--\r\n";
        let summary = summarise(raw);
        assert_eq!(summary.subject.as_deref(), Some("café"));
        assert_eq!(summary.from, ["ann@example.com"]);
        assert_eq!(summary.to, ["bob@example.org", "cy@example.org"]);
        assert_eq!(summary.cc, ["dee@example.net"]);
        assert_eq!(summary.attachments, ["a.pdf"]);
    }

    #[test]
    fn a_single_part_message_is_summarised_from_its_header() {
        let raw = b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\n\
Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody\r\n";
        assert!(header_only(raw).is_some());
        let summary = summarise(raw);
        assert_eq!(summary.subject.as_deref(), Some("café"));
        assert_eq!(summary.from, ["ann@example.com"]);
        assert_eq!(summary.to, ["bob@example.org"]);
        assert!(summary.attachments.is_empty());
        // A lone part that is itself an attachment is still found.
        let raw = b"From: a@example.com\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"r.pdf\"\r\n\r\nxx\r\n";
        assert_eq!(header_only(raw), None);
        assert_eq!(summarise(raw).attachments, ["r.pdf"]);
        // So is one without a disposition, and a multipart message's parts.
        let raw = b"From: a@example.com\r\nContent-Type: image/png\r\n\r\nxx\r\n";
        assert_eq!(header_only(raw), None);
        assert_eq!(summarise(raw).attachments.len(), 1);
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        assert_eq!(header_only(raw), None);
        // A text part with its charset is summarised from the header.
        let raw = b"Content-Type: Text/Plain; charset=utf-8\r\nSubject: s\r\n\r\nbody\r\n";
        assert!(header_only(raw).is_some());
        assert_eq!(summarise(raw).subject.as_deref(), Some("s"));
    }

    #[test]
    fn mime_fields_are_found_in_any_case_and_after_other_cs() {
        let raw = b"From: cc@cc.example\r\nCONTENT-TYPE: image/png\r\n\r\nxx\r\n";
        assert_eq!(header_only(raw), None);
        let raw = b"Subject: ccontent-disposition\r\n\r\nxx\r\n";
        assert_eq!(header_only(raw), None);
        let raw = b"cONTENT-tYPE:text/plain\r\nX-C: cCcontent-type: text/html\r\n\r\nxx\r\n";
        assert!(header_only(raw).is_some());
        let raw = b"X-C: c content-typ\r\nContent-Type: application/x-c\r\n\r\nxx\r\n";
        assert_eq!(header_only(raw), None);
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        let summary = summarise(b"\0\xff not a message");
        assert_eq!(summary.subject, None);
        assert!(summary.from.is_empty());
    }
}
