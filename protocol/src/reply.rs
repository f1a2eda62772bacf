//! Replies (RFC 5321 §4.2): a three-digit code, an optional enhanced status code (RFC 2034,
//! RFC 3463) and one or more lines of text. Printing gives the wire form; [`ReplyParser`] reads
//! it back incrementally, for the client side.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A reply code: three digits. Codes outside 2xx–5xx are representable on purpose, so that a
/// scenario can send them (C-5321-OUT-OF-RANGE-CODE); the default server never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct ReplyCode(u16);

impl ReplyCode {
    pub const fn new(code: u16) -> Option<ReplyCode> {
        if code >= 100 && code <= 999 {
            Some(ReplyCode(code))
        } else {
            None
        }
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 positive, 3 intermediate, 4 transient, 5 permanent.
    pub const fn class(self) -> u16 {
        self.0 / 100
    }

    pub const fn is_positive(self) -> bool {
        self.class() == 2 || self.class() == 3
    }
}

impl TryFrom<u16> for ReplyCode {
    type Error = ReplyError;
    fn try_from(code: u16) -> Result<Self, ReplyError> {
        ReplyCode::new(code).ok_or(ReplyError::BadCode)
    }
}

impl From<ReplyCode> for u16 {
    fn from(code: ReplyCode) -> u16 {
        code.0
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    pub const fn new(class: u8, subject: u16, detail: u16) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses the code at the start of `text`, returning the rest after the separating space.
    fn parse_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        let end = text.find(' ').unwrap_or(text.len());
        let code = text[..end].parse().ok()?;
        Some((code, text.get(end + 1..).unwrap_or("")))
    }
}

impl FromStr for EnhancedCode {
    type Err = ReplyError;
    fn from_str(s: &str) -> Result<Self, ReplyError> {
        // class = "2"/"4"/"5"; subject = 1*3digit; detail = 1*3digit; no leading zeros.
        let number = |part: &str| -> Option<u16> {
            let ok = (1..=3).contains(&part.len())
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            ok.then(|| part.parse().ok()).flatten()
        };
        let mut parts = s.split('.');
        let (Some(class), Some(subject), Some(detail), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ReplyError::BadEnhancedCode);
        };
        match (class, number(subject), number(detail)) {
            ("2" | "4" | "5", Some(subject), Some(detail)) => Ok(EnhancedCode {
                class: class.as_bytes()[0] - b'0',
                subject,
                detail,
            }),
            _ => Err(ReplyError::BadEnhancedCode),
        }
    }
}

impl TryFrom<String> for EnhancedCode {
    type Error = ReplyError;
    fn try_from(s: String) -> Result<Self, ReplyError> {
        s.parse()
    }
}

impl From<EnhancedCode> for String {
    fn from(code: EnhancedCode) -> String {
        code.to_string()
    }
}

impl EnhancedCode {
    /// Appends `class.subject.detail`: what `Display` prints, without the formatting
    /// machinery (every reply line carries one).
    fn write_to(&self, out: &mut Vec<u8>) {
        push_decimal(out, self.class.into());
        out.push(b'.');
        push_decimal(out, self.subject);
        out.push(b'.');
        push_decimal(out, self.detail);
    }
}

fn push_decimal(out: &mut Vec<u8>, n: u16) {
    let mut digits = [0u8; 5];
    let mut start = digits.len();
    let mut rest = n;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Why reply text did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply code is not three digits")]
    BadCode,
    #[error("invalid enhanced status code")]
    BadEnhancedCode,
    #[error("the character after the reply code is neither a space nor a hyphen")]
    BadSeparator,
    #[error("the lines of a multi-line reply carry different codes")]
    MixedCodes,
    #[error("reply line too long ({0} octets)")]
    LineTooLong(usize),
    #[error("a reply needs at least one line")]
    NoLines,
}

/// A complete reply. Lines hold the text after the code (and after the enhanced code, when
/// there is one); the enhanced code, if any, is printed on every line as RFC 2034 §4 requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reply {
    pub code: ReplyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enhanced: Option<EnhancedCode>,
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply. `code` must be three digits (a programming error otherwise).
    pub fn new(code: u16, enhanced: Option<EnhancedCode>, text: impl Into<String>) -> Reply {
        Reply {
            code: ReplyCode::new(code).unwrap_or(ReplyCode(500)),
            enhanced,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply.
    pub fn multiline(code: u16, enhanced: Option<EnhancedCode>, lines: Vec<String>) -> Reply {
        Reply {
            code: ReplyCode::new(code).unwrap_or(ReplyCode(500)),
            enhanced,
            lines: if lines.is_empty() {
                vec![String::new()]
            } else {
                lines
            },
        }
    }

    /// Parses a complete reply given as wire text (lines ending in CRLF or LF).
    pub fn parse(text: &str) -> Result<Reply, ReplyError> {
        let mut parser = ReplyParser::new(usize::MAX);
        let mut reply = None;
        for line in text.split_inclusive('\n') {
            if reply.is_some() {
                return Err(ReplyError::MixedCodes);
            }
            // One line end only: a CR before the CRLF is text, as a line framer leaves it
            // (found by fuzzing: printing such a reply did not parse back to it).
            let line = line.strip_suffix('\n').unwrap_or(line);
            let line = line.strip_suffix('\r').unwrap_or(line);
            reply = parser.push_line(line.as_bytes())?;
        }
        reply.ok_or(ReplyError::NoLines)
    }

    /// The text of all lines joined with a space, as a client would show it.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Appends the wire form (every line CRLF-terminated) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = self.code.0;
        let digits = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            out.extend_from_slice(&digits);
            out.push(if i == last { b' ' } else { b'-' });
            if let Some(enhanced) = &self.enhanced {
                enhanced.write_to(out);
                if !line.is_empty() {
                    out.push(b' ');
                }
            }
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }
}

/// Prints the wire form with CRLF line ends.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// Reads a reply line by line (the caller frames lines). Keeps the code of the first line and
/// checks that every continuation line carries it (S-5321-MULTILINE).
#[derive(Debug, Clone)]
pub struct ReplyParser {
    max_line: usize,
    code: Option<ReplyCode>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// `max_line` is the longest line accepted, in octets without the line end (RFC 5321
    /// §4.5.3.1.5 gives 512 with the CRLF; RFC 4954 allows longer 334 challenges).
    pub fn new(max_line: usize) -> ReplyParser {
        ReplyParser {
            max_line,
            code: None,
            lines: Vec::new(),
        }
    }

    /// Feeds one line (without its terminator). Returns the reply when this was its last line.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() > self.max_line {
            return Err(ReplyError::LineTooLong(line.len()));
        }
        let digits = line.get(..3).ok_or(ReplyError::BadCode)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(ReplyError::BadCode);
        }
        let code = ReplyCode::new(
            digits
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0')),
        )
        .ok_or(ReplyError::BadCode)?;
        if self.code.is_some_and(|first| first != code) {
            return Err(ReplyError::MixedCodes);
        }
        self.code = Some(code);
        let (last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(ReplyError::BadSeparator),
        };
        self.lines.push(String::from_utf8_lossy(text).into_owned());
        if !last {
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.lines);
        self.code = None;
        Ok(Some(split_enhanced(code, lines)))
    }
}

/// Takes the enhanced code off every line when all lines carry the same one (RFC 2034 §4).
fn split_enhanced(code: ReplyCode, mut lines: Vec<String>) -> Reply {
    let first = lines
        .first()
        .and_then(|l| EnhancedCode::parse_prefix(l))
        .map(|(c, _)| c);
    let enhanced = first.filter(|enhanced| {
        enhanced.class as u16 == code.class()
            && lines
                .iter()
                .all(|l| EnhancedCode::parse_prefix(l).is_some_and(|(c, _)| c == *enhanced))
    });
    if enhanced.is_some() {
        for line in &mut lines {
            if let Some((_, rest)) = EnhancedCode::parse_prefix(line) {
                *line = rest.to_owned();
            }
        }
    }
    Reply {
        code,
        enhanced,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_single_and_multiline() {
        let reply = Reply::new(250, Some(EnhancedCode::new(2, 1, 0)), "Sender OK");
        assert_eq!(reply.to_string(), "250 2.1.0 Sender OK\r\n");
        let reply = Reply::multiline(
            535,
            Some(EnhancedCode::new(5, 7, 8)),
            vec![
                "Username and Password not accepted.".into(),
                "Learn more".into(),
            ],
        );
        assert_eq!(
            reply.to_string(),
            "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n"
        );
        assert_eq!(Reply::new(334, None, "").to_string(), "334 \r\n");
    }

    #[test]
    fn parses_known_answers() {
        let reply = Reply::parse("250-mx.example greets you\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
            .expect("ehlo");
        assert_eq!(reply.code.get(), 250);
        assert_eq!(reply.enhanced, None);
        assert_eq!(
            reply.lines,
            ["mx.example greets you", "SIZE 100", "8BITMIME"]
        );

        let reply = Reply::parse("550 5.1.1 No such user\r\n").expect("550");
        assert_eq!(reply.enhanced, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(reply.lines, ["No such user"]);

        // A mismatching class is text, not an enhanced code.
        let reply = Reply::parse("250 5.1.1 odd\r\n").expect("odd");
        assert_eq!(reply.enhanced, None);

        assert_eq!(Reply::parse("25 x\r\n"), Err(ReplyError::BadCode));
        assert_eq!(Reply::parse("250x\r\n"), Err(ReplyError::BadSeparator));
        assert_eq!(
            Reply::parse("250-a\r\n251 b\r\n"),
            Err(ReplyError::MixedCodes)
        );
        assert_eq!(Reply::parse("\0\0\0\x1a\0\0\0"), Err(ReplyError::BadCode));
        assert_eq!(Reply::parse("250"), Ok(Reply::new(250, None, "")));
    }

    #[test]
    fn enhanced_code_syntax() {
        assert_eq!("5.7.139".parse(), Ok(EnhancedCode::new(5, 7, 139)));
        for bad in ["5.07.1", "3.0.0", "5.1", "5.1.1.1", "5.1.1000", "x.1.1"] {
            assert!(bad.parse::<EnhancedCode>().is_err(), "{bad}");
        }
    }
}
