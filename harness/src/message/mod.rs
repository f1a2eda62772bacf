//! The reference client's messages: a corpus of real-world shapes (multipart, attachments,
//! inline images, encoded-words in UTF-8 and GBK, RFC 2231 file names, a 25 MiB attachment,
//! international addresses), described as data ([`Message`]) and rendered for one server
//! ([`render`]) once its EHLO reply is known, so that 8-bit parts are downgraded when
//! 8BITMIME is not offered (RFC 6152 §3).
//!
//! - [`shapes`]: the named corpus (`smtp-harness messages`);
//! - [`render`]: a message as octets for what the server offered, with the decisions made;
//! - [`encode`]: transfer encodings and the choice of one per part;
//! - [`words`]: encoded-words (RFC 2047) and parameter values (RFC 2231).
//!
//! Why not mail-builder (DESIGN.md's suggestion): 2.0.1 writes correct UTF-8 encoded-words
//! and RFC 2231 sections, but it encodes every 8-bit text part to quoted-printable or base64
//! when it builds, unless the caller encodes the part itself (then the choice per server,
//! 8bit or downgraded, would be ours anyway), writes encoded-words in UTF-8
//! only (no GBK), refuses the legacy encoded-word file names (rightly, but the corpus needs
//! them), builds the whole message in memory (no streamed 25 MiB part), draws its boundaries
//! at random, and needs rustc 1.89 (encodify) where this workspace declares 1.88. What it
//! would have done here is the small part of this module; the message checks
//! (`tests/message_checks.rs`) and two parsers (`snapshots/tests/messages.rs`) judge ours.

pub mod encode;
pub mod render;
pub mod shapes;
pub mod words;

pub use encode::{Cte, Offered};
pub use render::{render, Rendered, Segment};
pub use shapes::{Shape, SHAPES};

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("the character {c:?} cannot be written in {}", charset.name())]
    NotInCharset { c: char, charset: Charset },
    #[error("the boundary {0:?} occurs in the content of its part")]
    BoundaryInContent(String),
    #[error("no message shape named {0:?} (see `smtp-harness messages`)")]
    UnknownShape(String),
}

/// A character set a shape writes text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    UsAscii,
    Utf8,
    /// What QQ Mail and 163 send for Chinese (a superset of GB 2312).
    Gbk,
}

impl Charset {
    /// The name in MIME parameters and encoded-words.
    pub fn name(self) -> &'static str {
        match self {
            Charset::UsAscii => "us-ascii",
            Charset::Utf8 => "UTF-8",
            Charset::Gbk => "GBK",
        }
    }
}

/// How an encoded-word encodes its octets (RFC 2047 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordEncoding {
    Q,
    B,
    /// Whichever is shorter.
    Auto,
}

/// Text for a header field: written as it is when ASCII (or in a message with UTF-8 headers,
/// RFC 6532), else as encoded-words in `charset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderText {
    pub text: String,
    pub charset: Charset,
    pub encoding: WordEncoding,
}

impl HeaderText {
    pub fn ascii(text: &str) -> HeaderText {
        HeaderText::new(text, Charset::Utf8, WordEncoding::Auto)
    }

    pub fn new(text: &str, charset: Charset, encoding: WordEncoding) -> HeaderText {
        HeaderText {
            text: text.to_owned(),
            charset,
            encoding,
        }
    }
}

/// A mailbox of an address header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<HeaderText>,
    pub address: String,
}

impl Mailbox {
    pub fn bare(address: &str) -> Mailbox {
        Mailbox {
            name: None,
            address: address.to_owned(),
        }
    }

    pub fn named(name: HeaderText, address: &str) -> Mailbox {
        Mailbox {
            name: Some(name),
            address: address.to_owned(),
        }
    }
}

/// A message: its header fields and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub subject: HeaderText,
    pub date: String,
    pub message_id: String,
    /// Header fields in UTF-8 as they are (RFC 6532): sent only with SMTPUTF8.
    pub utf8_headers: bool,
    pub body: Part,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Inline,
    Attachment,
}

/// How a non-ASCII file name is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilenameForm {
    /// RFC 2231: `filename*=UTF-8''%E6...`, continued as `filename*0*`, `filename*1*`.
    Rfc2231,
    /// What many clients still send: `filename="=?UTF-8?B?...?="` (RFC 2047 §5 forbids it;
    /// receivers decode it anyway).
    EncodedWord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filename {
    pub name: String,
    pub charset: Charset,
    pub form: FilenameForm,
}

/// One MIME entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `type/subtype`.
    pub media_type: String,
    /// For text/*: the charset of the body.
    pub charset: Option<Charset>,
    pub disposition: Option<Disposition>,
    pub filename: Option<Filename>,
    /// Without angle brackets.
    pub content_id: Option<String>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Text, written in the part's charset; line breaks are CRLF.
    Text(String),
    Bytes(Vec<u8>),
    /// `len` pseudo-random octets made at run time from `seed` ([`encode::generated`]).
    Generated {
        seed: u64,
        len: u64,
    },
    /// The parts of a multipart/* entity.
    Multipart(Vec<Part>),
    /// An embedded message (message/global, message/rfc822).
    Message(Box<Message>),
}

impl Part {
    pub fn text(media_type: &str, charset: Charset, text: &str) -> Part {
        Part {
            media_type: media_type.to_owned(),
            charset: Some(charset),
            disposition: None,
            filename: None,
            content_id: None,
            body: Body::Text(text.replace("\r\n", "\n").replace('\n', "\r\n")),
        }
    }

    pub fn multipart(subtype: &str, parts: Vec<Part>) -> Part {
        Part {
            media_type: format!("multipart/{subtype}"),
            charset: None,
            disposition: None,
            filename: None,
            content_id: None,
            body: Body::Multipart(parts),
        }
    }

    pub fn attachment(media_type: &str, name: &str, body: Body) -> Part {
        Part {
            media_type: media_type.to_owned(),
            charset: None,
            disposition: Some(Disposition::Attachment),
            filename: Some(Filename {
                name: name.to_owned(),
                charset: Charset::Utf8,
                form: FilenameForm::Rfc2231,
            }),
            content_id: None,
            body,
        }
    }

    pub fn is_text(&self) -> bool {
        self.media_type.starts_with("text/")
    }

    /// The leaves (every entity that is not multipart), depth first, each with its path
    /// ("1", "1.2", ...); an embedded message's parts come under its own path.
    pub fn leaves(&self) -> Vec<(String, &Part)> {
        let mut out = Vec::new();
        let mut stack: Vec<(String, &Part)> = vec![("1".to_owned(), self)];
        while let Some((path, part)) = stack.pop() {
            match &part.body {
                Body::Multipart(parts) => {
                    for (i, child) in parts.iter().enumerate().rev() {
                        stack.push((format!("{path}.{}", i + 1), child));
                    }
                }
                _ => out.push((path, part)),
            }
        }
        out
    }
}

/// The text's octets in its charset (what a decoder must give back).
pub fn text_octets(part: &Part) -> Result<Vec<u8>, MessageError> {
    match &part.body {
        Body::Text(text) => words::encode_text(text, part.charset.unwrap_or(Charset::Utf8)),
        Body::Bytes(bytes) => Ok(bytes.clone()),
        Body::Generated { seed, len } => Ok(encode::generated_vec(*seed, *len as usize)),
        Body::Multipart(_) | Body::Message(_) => Ok(Vec::new()),
    }
}
