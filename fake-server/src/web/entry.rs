//! What the web sink keeps of every message to list and search it without reading it again:
//! the header fields Mailpit's summaries show, a snippet of the text, and a lowercase search
//! text. Built from the raw octets with mail-parser; a message that is not valid MIME still
//! gets an entry (its fields are then just empty).

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use mail_parser::{Address, HeaderName, Message, MessageParser, MimeHeaders};

use super::mime::PartKind;
use serde::Serialize;

use crate::mailbox::summary::{self, Summary};
use crate::mailbox::StoredMessage;

/// A name and address, as Mailpit writes them (`{"Name": "", "Address": ""}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    pub name: String,
    pub address: String,
}

/// What the header and body of a message give its listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headline {
    pub from: Option<Contact>,
    pub to: Vec<Contact>,
    pub cc: Vec<Contact>,
    pub bcc: Vec<Contact>,
    pub reply_to: Vec<Contact>,
    pub subject: String,
    /// The subject in lower case, for `subject:` searches.
    pub subject_lower: String,
    /// The Message-ID without its angle brackets.
    pub message_id: String,
    /// The Date header, if it parses.
    pub date: Option<SystemTime>,
    /// Attachments (not inline parts).
    pub attachments: u32,
    /// Inline parts (images by Content-ID).
    pub inline: u32,
    /// The first [`SNIPPET_CHARS`] characters of the text, whitespace collapsed.
    pub snippet: String,
    /// Lowercase: addresses, names, subject, Message-ID, attachment names and the start of
    /// the text ([`SEARCH_TEXT_OCTETS`]); what free-text search looks in.
    pub search_text: String,
}

/// As Mailpit: a snippet of up to 250 characters.
pub const SNIPPET_CHARS: usize = 250;
/// How much of the text body free-text search sees, per message: enough for the codes and
/// links end-to-end tests look for, bounded so that 100,000 messages stay searchable in
/// memory (about 200 MB at most, usually far less).
pub const SEARCH_TEXT_OCTETS: usize = 2048;

/// A parser that reads only the header fields a headline shows, and the MIME fields that
/// find its text and attachments; every other field is skipped, not parsed (a real message
/// carries many: Received, DKIM-Signature, X-…).
fn headline_parser() -> &'static MessageParser {
    static PARSER: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        MessageParser::new()
            .with_mime_headers()
            .header_address(HeaderName::From)
            .header_address(HeaderName::To)
            .header_address(HeaderName::Cc)
            .header_address(HeaderName::Bcc)
            .header_address(HeaderName::ReplyTo)
            .header_text(HeaderName::Subject)
            .header_id(HeaderName::MessageId)
            .header_date(HeaderName::Date)
            .default_header_ignore()
    })
}

impl Headline {
    pub fn read(raw: &[u8]) -> Headline {
        Headline::read_plain(raw).unwrap_or_else(|| Headline::read_parsed(raw))
    }

    /// A message whose whole body is plain text as sent (see [`plain_text_body`]): its header
    /// is parsed alone and its text is the body itself. mail-parser gives the same text but
    /// converts it octet by octet (about seven instructions an octet, the largest part of a
    /// small message's entry under ci/bench.sh row C's load, measured with callgrind).
    fn read_plain(raw: &[u8]) -> Option<Headline> {
        Headline::read_plain_with(raw, |_| ())
    }

    /// [`Headline::read_plain`], handing the parsed header to `also` when it is used.
    fn read_plain_with(raw: &[u8], also: impl FnOnce(&Message<'_>)) -> Option<Headline> {
        let header_end = memchr::memmem::find(raw, b"\r\n\r\n")? + 4;
        let (header, body) = raw.split_at(header_end);
        let message = headline_parser().parse(header)?;
        let text = plain_text_body(&message, body)?;
        also(&message);
        Some(Headline::of(&message, text, 0, 0, ""))
    }

    /// [`Headline::read`], and from the same parse the summary `--json`'s message event shows
    /// ([`summary::summarise`]'s answer, for which the message was parsed a second time:
    /// about 8,000 instructions a message under ci/bench.sh row CJ's load, callgrind).
    pub(crate) fn read_with_summary(raw: &[u8]) -> (Headline, Summary) {
        let mut shared = None;
        let headline = Headline::read_plain_with(raw, |header| {
            // The summary may come from the header alone only when `summarise` would read
            // the header alone too.
            if summary::header_only(raw).is_some() {
                shared = Some(summary::of_message(header));
            }
        })
        .unwrap_or_else(|| {
            Headline::read_parsed_with(raw, |message| {
                shared = Some(summary::of_message(message));
            })
        });
        let summary = shared.unwrap_or_else(|| summary::summarise(raw));
        (headline, summary)
    }

    fn read_parsed(raw: &[u8]) -> Headline {
        Headline::read_parsed_with(raw, |_| ())
    }

    /// [`Headline::read_parsed`], handing the parsed message to `also`.
    fn read_parsed_with(raw: &[u8], also: impl FnOnce(&Message<'_>)) -> Headline {
        let Some(message) = headline_parser().parse(raw) else {
            return Headline::default();
        };
        also(&message);
        let text = message
            .body_text(0)
            .or_else(|| {
                message
                    .body_html(0)
                    .map(|h| std::borrow::Cow::Owned(strip_tags(&h)))
            })
            .unwrap_or_default();
        // Counted as the message view lists them (mime.rs), so the two always agree.
        let mut attachments = 0;
        let mut inline = 0;
        let mut names = String::new();
        for part in super::mime::parts(&message) {
            match part.kind {
                PartKind::Attachment => attachments += 1,
                PartKind::Inline => inline += 1,
                PartKind::Container | PartKind::Body => continue,
            }
            if !part.file_name.is_empty() {
                names.push(' ');
                names.push_str(&part.file_name);
            }
        }
        Headline::of(&message, &text, attachments, inline, &names)
    }

    fn of(
        message: &Message<'_>,
        text: &str,
        attachments: u32,
        inline: u32,
        attachment_names: &str,
    ) -> Headline {
        let contacts = |name: HeaderName<'_>| -> Vec<Contact> {
            message
                .header(name)
                .and_then(|h| h.as_address())
                .map(contacts_of)
                .unwrap_or_default()
        };
        let subject = message.subject().unwrap_or_default();
        let mut headline = Headline {
            from: contacts(HeaderName::From).into_iter().next(),
            to: contacts(HeaderName::To),
            cc: contacts(HeaderName::Cc),
            bcc: contacts(HeaderName::Bcc),
            reply_to: contacts(HeaderName::ReplyTo),
            subject: subject.to_owned(),
            subject_lower: lowercase(subject.to_owned()),
            message_id: message.message_id().unwrap_or_default().to_owned(),
            date: message.date().and_then(|d| {
                let seconds = u64::try_from(d.to_timestamp()).ok()?;
                Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
            }),
            attachments,
            inline,
            snippet: collapse_whitespace(text, SNIPPET_CHARS),
            search_text: String::new(),
        };
        headline.search_text = search_text(&headline, attachment_names, text);
        headline
    }
}

/// The body's text when the message is one plain-text part sent as is: no Content-Type or
/// `text/plain` without a name, no transfer encoding (or 7bit, 8bit, binary), no
/// Content-Disposition, and text that reads the same in its charset as in UTF-8 (UTF-8 or
/// none named: valid UTF-8; US-ASCII: ASCII). Anything else is left to mail-parser.
fn plain_text_body<'b>(message: &Message<'_>, body: &'b [u8]) -> Option<&'b str> {
    if message.content_disposition().is_some() {
        return None;
    }
    let identity = message.content_transfer_encoding().is_none_or(|e| {
        ["7bit", "8bit", "binary"]
            .iter()
            .any(|i| e.eq_ignore_ascii_case(i))
    });
    if !identity {
        return None;
    }
    let ascii_only = match message.content_type() {
        None => false,
        Some(ct) => {
            let plain = ct.ctype().eq_ignore_ascii_case("text")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("plain"))
                && ct.attribute("name").is_none();
            if !plain {
                return None;
            }
            match ct.attribute("charset") {
                None => false,
                Some(c) if c.eq_ignore_ascii_case("utf-8") || c.eq_ignore_ascii_case("utf8") => {
                    false
                }
                Some(c) if c.eq_ignore_ascii_case("us-ascii") => true,
                Some(_) => return None,
            }
        }
    };
    if ascii_only && !body.is_ascii() {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// `text` in lower case: in place when it is ASCII (nearly always), which the standard
/// library does a word at a time.
fn lowercase(mut text: String) -> String {
    if text.is_ascii() {
        text.make_ascii_lowercase();
        text
    } else {
        text.to_lowercase()
    }
}

fn contacts_of(address: &Address<'_>) -> Vec<Contact> {
    address
        .iter()
        .map(|a| Contact {
            name: a.name().unwrap_or_default().to_owned(),
            address: a.address().unwrap_or_default().to_owned(),
        })
        .collect()
}

fn search_text(headline: &Headline, attachment_names: &str, text: &str) -> String {
    let mut out = String::with_capacity(256 + text.len().min(SEARCH_TEXT_OCTETS));
    let contacts = headline
        .from
        .iter()
        .chain(&headline.to)
        .chain(&headline.cc)
        .chain(&headline.bcc)
        .chain(&headline.reply_to);
    for contact in contacts {
        out.push_str(&contact.name);
        out.push(' ');
        out.push_str(&contact.address);
        out.push('\n');
    }
    out.push_str(&headline.subject);
    out.push('\n');
    out.push_str(&headline.message_id);
    out.push_str(attachment_names);
    out.push('\n');
    out.push_str(truncate_at_char(text, SEARCH_TEXT_OCTETS));
    lowercase(out)
}

/// The longest prefix of `text` within `max` octets that ends on a character boundary.
pub fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The first `max_chars` characters of `text` with each run of whitespace made one space
/// and none at either end (Mailpit's snippet).
fn collapse_whitespace(text: &str, max_chars: usize) -> String {
    collapse_ascii_whitespace(text.as_bytes(), max_chars)
        .unwrap_or_else(|| collapse_unicode_whitespace(text, max_chars))
}

/// [`collapse_whitespace`] a word at a time while the text is ASCII (nearly always): `None`
/// when a non-ASCII octet comes before the snippet is full. `split_whitespace` decoded every
/// character, about 5,000 instructions of a 1 KiB message's entry (callgrind, row C).
fn collapse_ascii_whitespace(text: &[u8], max_chars: usize) -> Option<String> {
    // `char::is_whitespace` restricted to ASCII: space, and TAB, LF, VT, FF, CR.
    let is_space = |b: &u8| *b == b' ' || (b'\t'..=b'\r').contains(b);
    let mut out = Vec::with_capacity(max_chars.min(text.len()));
    let mut rest = text;
    while let Some(start) = rest.iter().position(|b| !is_space(b)) {
        rest = &rest[start..];
        let len = rest.iter().position(is_space).unwrap_or(rest.len());
        if !out.is_empty() {
            if out.len() == max_chars {
                break;
            }
            out.push(b' ');
        }
        let word = &rest[..len.min(max_chars - out.len())];
        if !word.is_ascii() {
            return None;
        }
        out.extend_from_slice(word);
        if out.len() == max_chars {
            break;
        }
        rest = &rest[len..];
    }
    // Only ASCII was copied.
    String::from_utf8(out).ok()
}

fn collapse_unicode_whitespace(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
        if chars >= max_chars {
            break;
        }
    }
    match out.char_indices().nth(max_chars) {
        Some((end, _)) => out[..end].to_owned(),
        None => out,
    }
}

/// Text of an HTML body for the snippet and search: tags dropped, `<style>` and `<script>`
/// contents dropped, entities left as they are.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let after = &rest[open..];
        let lower_start: String = after.chars().take(8).collect::<String>().to_lowercase();
        let skip_to = if lower_start.starts_with("<style") {
            "</style>"
        } else if lower_start.starts_with("<script") {
            "</script>"
        } else {
            ">"
        };
        match find_ignore_case(after, skip_to) {
            Some(end) => rest = &after[end + skip_to.len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Where a listed message's octets are: in memory while the mailbox holds it, on disk with
/// `--store` (always, and after a restart only there).
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub memory: Weak<StoredMessage>,
    /// `raw/<id>.eml`: the octets as received.
    pub raw_path: Option<PathBuf>,
    /// The delivered copy in `new/` or `cur/`.
    pub delivered: Option<PathBuf>,
}

impl Location {
    pub fn of(message: &Arc<StoredMessage>) -> Location {
        Location {
            memory: Arc::downgrade(message),
            raw_path: message.raw_path.clone(),
            delivered: message.path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header lines and bodies that take every path of `read_with_summary`: a plain text
    /// body read with the header alone, the same with a field that makes `summarise` parse
    /// it all, HTML, multipart with attachments and inline parts, encoded words, no header.
    const HEADER_LINES: &[&str] = &[
        "From: Ann <ann@example.com>",
        "From: =?UTF-8?B?5byg5LiJ?= <zhang@example.com>, b@example.org",
        "To: bob@example.com, Cy <cy@example.com>",
        "Cc: cc@example.net",
        "Bcc: hidden@example.net",
        "Reply-To: r@example.com",
        "Subject: =?utf-8?q?caf=C3=A9?= menu",
        "Subject: plain",
        "Message-ID: <m1@example.com>",
        "Date: Mon, 30 Nov 2026 10:00:00 +0000",
        "X-Note: content-disposition mentioned",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/plain; charset=iso-8859-1",
        "Content-Type: text/html",
        "Content-Transfer-Encoding: quoted-printable",
        "Content-Disposition: inline",
        "Content-Type: multipart/mixed; boundary=\"b\"",
        "MIME-Version: 1.0",
    ];
    const BODIES: &[&str] = &[
        "hello\r\nworld\r\n",
        "<p>Hi <b>there</b></p>\r\n",
        "caf=C3=A9 =\r\nsoft\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--b\r\n\
         Content-Type: image/png\r\nContent-ID: <i@x>\r\n\r\nPNG\r\n--b--\r\n",
        "",
    ];

    proptest::proptest! {
        #[test]
        fn one_parse_gives_the_headline_and_the_summary_two_parses_give(
            lines in proptest::collection::vec(0..HEADER_LINES.len(), 0..7),
            body in 0..BODIES.len(),
            separator in proptest::bool::weighted(0.9),
        ) {
            let mut raw = String::new();
            for line in lines {
                raw.push_str(HEADER_LINES[line]);
                raw.push_str("\r\n");
            }
            if separator {
                raw.push_str("\r\n");
            }
            raw.push_str(BODIES[body]);
            let (headline, summary) = Headline::read_with_summary(raw.as_bytes());
            proptest::prop_assert_eq!(headline, Headline::read(raw.as_bytes()));
            proptest::prop_assert_eq!(summary, summary::summarise(raw.as_bytes()));
        }
    }

    fn message(header: &str, body: &[u8]) -> Vec<u8> {
        let mut raw = format!(
            "From: Ann <ann@example.com>\r\nTo: bob@example.com, Cy <cy@example.com>\r\n\
             Subject: Héllo =?utf-8?q?W=C3=B6rld?=\r\nMessage-ID: <a1@example.com>\r\n\
             Date: Tue, 14 May 2024 09:21:07 +0000\r\n{header}\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw
    }

    /// The ASCII snippet equals the character-by-character one: every text over a small
    /// alphabet of letters and all six ASCII whitespace octets, up to 4 long, at every
    /// snippet length from 0 to 8; a non-ASCII octet before the snippet is full falls back.
    #[test]
    fn ascii_snippet_equals_the_unicode_one() {
        let alphabet = [b'a', b'b', b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r'];
        let mut texts = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = texts
                .iter()
                .flat_map(|t| {
                    alphabet.iter().map(move |&b| {
                        let mut t = t.clone();
                        t.push(b);
                        t
                    })
                })
                .collect();
            texts.extend(longer);
        }
        texts.push(b"  one   two\r\n\tthree  ".to_vec());
        for text in &texts {
            let text = std::str::from_utf8(text).expect("ascii");
            for max in 0..9 {
                assert_eq!(
                    collapse_ascii_whitespace(text.as_bytes(), max).as_deref(),
                    Some(collapse_unicode_whitespace(text, max).as_str()),
                    "{text:?} at {max}"
                );
            }
        }
        assert_eq!(collapse_ascii_whitespace("ab\u{a0}cd".as_bytes(), 9), None);
        assert_eq!(collapse_whitespace("ab\u{a0}cd  é", 9), "ab cd é");
        // Past a full snippet, what follows is not read.
        assert_eq!(
            collapse_ascii_whitespace("ab cd é".as_bytes(), 4).as_deref(),
            Some("ab c")
        );
    }

    /// The plain-text shortcut gives exactly what mail-parser gives, wherever it is taken.
    #[test]
    fn a_plain_text_message_reads_the_same_without_mail_parser_s_body() {
        let long = "word ".repeat(900);
        let bodies: [&[u8]; 5] = [
            b"Hello there,\r\n  see   you.\r\n",
            "Grüße, 你好\r\n".as_bytes(),
            long.as_bytes(),
            b"",
            b"no line end",
        ];
        let headers = [
            "",
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n",
            "Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n",
            "Content-Type: TEXT/Plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n",
        ];
        let mut taken = 0;
        for header in headers {
            for body in bodies {
                let raw = message(header, body);
                let Some(plain) = Headline::read_plain(&raw) else {
                    // Only US-ASCII text with 8-bit octets is left to mail-parser.
                    assert!(header.contains("us-ascii") && !body.is_ascii(), "{header}");
                    continue;
                };
                taken += 1;
                assert_eq!(plain, Headline::read_parsed(&raw), "{header} {body:?}");
            }
        }
        assert_eq!(taken, 19);
    }

    #[test]
    fn anything_but_plain_text_as_sent_is_left_to_mail_parser() {
        for header in [
            "Content-Type: text/html\r\n",
            "Content-Type: text/plain; charset=iso-8859-1\r\n",
            "Content-Type: text/plain; name=notes.txt\r\n",
            "Content-Transfer-Encoding: quoted-printable\r\n",
            "Content-Transfer-Encoding: base64\r\n",
            "Content-Disposition: attachment; filename=a.txt\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n",
        ] {
            let raw = message(header, b"SGVsbG8=\r\n");
            assert_eq!(Headline::read_plain(&raw), None, "{header}");
        }
        // Invalid UTF-8, and a header that never ends, too.
        assert_eq!(Headline::read_plain(&message("", b"caf\xe9\r\n")), None);
        assert_eq!(Headline::read_plain(b"Subject: x\r\n"), None);
    }

    #[test]
    fn reads_contacts_subject_and_snippet() {
        // Fields a headline does not show (skipped by its parser) first.
        let raw = b"Received: from a.example by b.example; Mon, 30 Nov 2026 10:00:00 +0000\r\n\
X-Mailer: test\r\nFrom: Ann <ann@example.com>\r\nTo: bob@example.org, \"C D\" <cd@example.net>\r\n\
Subject: =?UTF-8?B?5L2g5aW9?= there\r\nMessage-ID: <m1@example.com>\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n  world  \r\n";
        let h = Headline::read(raw);
        assert_eq!(
            h.from,
            Some(Contact {
                name: "Ann".into(),
                address: "ann@example.com".into()
            })
        );
        assert_eq!(h.to.len(), 2);
        assert_eq!(h.to[1].name, "C D");
        assert_eq!(h.subject, "你好 there");
        assert_eq!(h.message_id, "m1@example.com");
        assert_eq!(h.snippet, "Hello world");
        assert!(h.search_text.contains("ann@example.com"));
        assert!(h.search_text.contains("你好 there"));
        assert!(h.date.is_some());
    }

    #[test]
    fn an_html_only_message_is_summarised_without_its_tags_and_scripts() {
        let raw = b"Subject: x\r\nContent-Type: text/html\r\n\r\n<html><style>p{}</style><script>alert(1)</script><p>Hi <b>you</b></p></html>\r\n";
        let h = Headline::read(raw);
        assert_eq!(h.snippet, "Hi you");
    }

    #[test]
    fn garbage_still_gets_an_entry() {
        let h = Headline::read(b"\x00\x01\xff");
        assert_eq!(h.subject, "");
        let h = Headline::read(b"");
        assert_eq!(h.snippet, "");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_at_char("你好", 4), "你");
        assert_eq!(truncate_at_char("abc", 10), "abc");
    }
}
