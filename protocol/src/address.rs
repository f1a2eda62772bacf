//! Envelope addresses: RFC 5321 §4.1.2 paths and mailboxes, with the RFC 6531 UTF-8 extension.
//!
//! Values keep the exact text the client wrote (a quoted local part stays quoted, a domain keeps
//! its case), so printing a parsed value gives back the same bytes and local parts are never
//! case-folded (S-5321-PRESERVE-LOCALPART). Length limits (RFC 5321 §4.5.3.1) are not enforced
//! here; [`Mailbox::exceeds_rfc_limits`] reports them so that the caller decides.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// Why an address, path or domain did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the path must be enclosed in angle brackets")]
    MissingAngleBrackets,
    #[error("empty mailbox")]
    Empty,
    #[error("the mailbox has no '@' and a domain")]
    MissingDomain,
    #[error("invalid local part")]
    InvalidLocalPart,
    #[error("invalid domain")]
    InvalidDomain,
    #[error("invalid address literal")]
    InvalidAddressLiteral,
    #[error("invalid source route")]
    InvalidSourceRoute,
    #[error("unexpected characters after the address")]
    TrailingCharacters,
}

/// A `Mailbox` (`Local-part "@" ( Domain / address-literal )`), as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mailbox {
    local_part: String,
    domain: String,
}

impl Mailbox {
    /// Parses a whole mailbox such as `user@example.com` or `"a b"@[127.0.0.1]`.
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let (mailbox, rest) = parse_mailbox_prefix(input)?;
        if rest.is_empty() {
            Ok(mailbox)
        } else {
            Err(AddressError::TrailingCharacters)
        }
    }

    /// The local part exactly as written, quotes and escapes included.
    pub fn local_part(&self) -> &str {
        &self.local_part
    }

    /// The domain or address literal (with its brackets) exactly as written.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// True when any octet is outside US-ASCII (an RFC 6531 address).
    pub fn is_utf8(&self) -> bool {
        !self.local_part.is_ascii() || !self.domain.is_ascii()
    }

    /// True when the local part (64) or domain (255) exceed RFC 5321 §4.5.3.1.1–2.
    pub fn exceeds_rfc_limits(&self) -> bool {
        self.local_part.len() > 64 || self.domain.len() > 255
    }
}

// Each path's text is written piece by piece with `write_str` into any `fmt::Write`
// (`write_to`), and Display goes through the same code: each reply to MAIL and RCPT quotes
// the path, and building it with `format!` cost the session's thread some 700 instructions a
// reply (nested `write!` calls had cost about 2,500 a message; callgrind,
// ci/bench/instructions.sh).
impl Mailbox {
    /// Writes `local@domain` (the Display form) into `out`.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str(&self.local_part)?;
        out.write_str("@")?;
        out.write_str(&self.domain)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`. The source route is kept (RFC 5321 §4.1.1.3 says it
/// MUST be recognised) so that a transcript shows it, but nothing routes by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Path {
    pub source_route: Option<String>,
    pub mailbox: Mailbox,
}

impl Path {
    /// Writes `<[route:]local@domain>` (the Display form) into `out`.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str("<")?;
        if let Some(route) = &self.source_route {
            out.write_str(route)?;
            out.write_str(":")?;
        }
        self.mailbox.write_to(out)?;
        out.write_str(">")
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// The argument of `MAIL FROM:`: a path, or `<>` for notifications.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReversePath {
    Null,
    Path(Path),
}

impl ReversePath {
    /// Parses `<>` or a path, returning what follows it.
    pub fn parse_prefix(input: &str) -> Result<(Self, &str), AddressError> {
        if let Some(rest) = input.strip_prefix("<>") {
            return Ok((ReversePath::Null, rest));
        }
        let (path, rest) = parse_path_prefix(input)?;
        Ok((ReversePath::Path(path), rest))
    }

    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Path(path) => Some(&path.mailbox),
        }
    }
}

impl ReversePath {
    /// Writes the Display form (`<>` or the path) into `out`.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            ReversePath::Null => out.write_str("<>"),
            ReversePath::Path(path) => path.write_to(out),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// The argument of `RCPT TO:`: a path, or the bare `<Postmaster>` (RFC 5321 §4.1.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardPath {
    /// `<Postmaster>` in any case; the spelling is kept.
    Postmaster(String),
    Path(Path),
}

impl ForwardPath {
    /// Parses `<Postmaster>` or a path, returning what follows it.
    pub fn parse_prefix(input: &str) -> Result<(Self, &str), AddressError> {
        if let Some(inner) = input.get(1..11) {
            if input.starts_with('<')
                && inner.eq_ignore_ascii_case("postmaster")
                && input[11..].starts_with('>')
            {
                return Ok((ForwardPath::Postmaster(inner.to_owned()), &input[12..]));
            }
        }
        let (path, rest) = parse_path_prefix(input)?;
        Ok((ForwardPath::Path(path), rest))
    }

    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster(_) => None,
            ForwardPath::Path(path) => Some(&path.mailbox),
        }
    }

    pub fn is_utf8(&self) -> bool {
        self.mailbox().is_some_and(Mailbox::is_utf8)
    }
}

impl ForwardPath {
    /// Writes the Display form (`<Postmaster>` as spelt, or the path) into `out`.
    pub fn write_to(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            ForwardPath::Postmaster(spelling) => {
                out.write_str("<")?;
                out.write_str(spelling)?;
                out.write_str(">")
            }
            ForwardPath::Path(path) => path.write_to(out),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

fn parse_path_prefix(input: &str) -> Result<(Path, &str), AddressError> {
    let inner = input
        .strip_prefix('<')
        .ok_or(AddressError::MissingAngleBrackets)?;
    let (source_route, inner) = if inner.starts_with('@') {
        let colon = inner.find(':').ok_or(AddressError::InvalidSourceRoute)?;
        let route = &inner[..colon];
        validate_source_route(route)?;
        (Some(route.to_owned()), &inner[colon + 1..])
    } else {
        (None, inner)
    };
    if inner.starts_with('>') {
        return Err(AddressError::Empty);
    }
    let (mailbox, rest) = parse_mailbox_prefix(inner)?;
    let rest = rest
        .strip_prefix('>')
        .ok_or(AddressError::MissingAngleBrackets)?;
    Ok((
        Path {
            source_route,
            mailbox,
        },
        rest,
    ))
}

/// `A-d-l = At-domain *( "," At-domain )`, `At-domain = "@" Domain`.
fn validate_source_route(route: &str) -> Result<(), AddressError> {
    for hop in route.split(',') {
        let domain = hop
            .strip_prefix('@')
            .ok_or(AddressError::InvalidSourceRoute)?;
        if domain_len(domain) != Some(domain.len()) {
            return Err(AddressError::InvalidSourceRoute);
        }
    }
    Ok(())
}

fn parse_mailbox_prefix(input: &str) -> Result<(Mailbox, &str), AddressError> {
    if input.is_empty() {
        return Err(AddressError::Empty);
    }
    let local_len = if input.starts_with('"') {
        quoted_string_len(input).ok_or(AddressError::InvalidLocalPart)?
    } else {
        dot_string_len(input).ok_or(AddressError::InvalidLocalPart)?
    };
    let after_local = &input[local_len..];
    let after_at = after_local
        .strip_prefix('@')
        .ok_or(AddressError::MissingDomain)?;
    let domain_len = if after_at.starts_with('[') {
        address_literal_len(after_at).ok_or(AddressError::InvalidAddressLiteral)?
    } else {
        domain_len(after_at).ok_or(AddressError::InvalidDomain)?
    };
    let mailbox = Mailbox {
        local_part: input[..local_len].to_owned(),
        domain: after_at[..domain_len].to_owned(),
    };
    Ok((mailbox, &after_at[domain_len..]))
}

/// RFC 5322 `atext`, widened by RFC 6531 to any non-ASCII character.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Length of a `Dot-string` at the start of `input`, if there is a valid one.
fn dot_string_len(input: &str) -> Option<usize> {
    let mut len = 0;
    let mut atom_len = 0;
    for c in input.chars() {
        if is_atext(c) {
            atom_len += c.len_utf8();
        } else if c == '.' && atom_len > 0 {
            len += atom_len + 1;
            atom_len = 0;
            continue;
        } else {
            break;
        }
    }
    if atom_len == 0 {
        // Empty, or ends with a dot: `a.` and `a..b` are not Dot-strings.
        return None;
    }
    Some(len + atom_len)
}

/// Length of a `Quoted-string` (quotes included) at the start of `input`.
fn quoted_string_len(input: &str) -> Option<usize> {
    let mut chars = input.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(i + 1),
            // quoted-pairSMTP = %d92 %d32-126
            '\\' => match chars.next() {
                Some((_, escaped)) if (' '..='~').contains(&escaped) => {}
                _ => return None,
            },
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531).
            c if (' '..='~').contains(&c) || !c.is_ascii() => {}
            _ => return None,
        }
    }
    None
}

/// Length of a `Domain` (dot-separated sub-domains) at the start of `input`. RFC 6531 allows
/// U-labels, so non-ASCII characters count as letters.
pub(crate) fn domain_len(input: &str) -> Option<usize> {
    let is_let_dig = |c: char| c.is_ascii_alphanumeric() || !c.is_ascii();
    let mut len = 0;
    loop {
        let label = &input[len..];
        let mut label_len = 0;
        let mut last = '-';
        for c in label.chars() {
            if is_let_dig(c) || (c == '-' && label_len > 0) {
                label_len += c.len_utf8();
                last = c;
            } else {
                break;
            }
        }
        if label_len == 0 || last == '-' {
            return None;
        }
        len += label_len;
        match input[len..].strip_prefix('.') {
            Some(rest) if rest.starts_with(is_let_dig) => len += 1,
            _ => return Some(len),
        }
    }
}

/// Length of an `address-literal` (`[...]`, brackets included) at the start of `input`.
pub(crate) fn address_literal_len(input: &str) -> Option<usize> {
    let close = input.find(']')?;
    let inner = &input[1..close];
    let valid = if let Some(v6) = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        v6.parse::<Ipv6Addr>().is_ok()
    } else if inner.starts_with(|c: char| c.is_ascii_digit()) {
        inner.parse::<Ipv4Addr>().is_ok()
    } else {
        // General-address-literal = Standardized-tag ":" 1*dcontent
        match inner.split_once(':') {
            Some((tag, content)) => {
                domain_len(tag) == Some(tag.len())
                    && !content.is_empty()
                    && content
                        .bytes()
                        .all(|b| (33..=90).contains(&b) || (94..=126).contains(&b))
            }
            None => false,
        }
    };
    valid.then_some(close + 1)
}

/// Validates the argument of EHLO/HELO: `Domain / address-literal`.
pub fn is_valid_ehlo_domain(input: &str) -> bool {
    if input.starts_with('[') {
        address_literal_len(input) == Some(input.len())
    } else {
        domain_len(input) == Some(input.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_known_answers() {
        let good = [
            "user@example.com",
            "first.last@sub.example.com",
            "\"john doe\"@example.com",
            "\"a\\\"b\"@example.com",
            "user@[127.0.0.1]",
            "user@[IPv6:::1]",
            "user+tag@x",
            "用户@例子.广告",
            "MiXed.Case@Example.COM",
        ];
        for input in good {
            let mailbox = Mailbox::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(mailbox.to_string(), input);
        }
        let bad = [
            ("", AddressError::Empty),
            ("user@", AddressError::InvalidDomain),
            ("@example.com", AddressError::InvalidLocalPart),
            ("a..b@x", AddressError::InvalidLocalPart),
            (".a@x", AddressError::InvalidLocalPart),
            ("a.@x", AddressError::InvalidLocalPart),
            ("a b@x", AddressError::MissingDomain),
            ("user", AddressError::MissingDomain),
            ("user@-x.com", AddressError::InvalidDomain),
            ("user@x-.com", AddressError::InvalidDomain),
            ("user@[999.0.0.1]", AddressError::InvalidAddressLiteral),
            ("user@x.com.", AddressError::TrailingCharacters),
            ("user@under_score.com", AddressError::TrailingCharacters),
            ("\"unterminated@x", AddressError::InvalidLocalPart),
        ];
        for (input, expected) in bad {
            assert_eq!(Mailbox::parse(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn paths_known_answers() {
        let (path, rest) = ReversePath::parse_prefix("<> SIZE=1").expect("null path");
        assert_eq!((path, rest), (ReversePath::Null, " SIZE=1"));

        let (path, rest) = ForwardPath::parse_prefix("<postMaster>").expect("postmaster");
        assert_eq!(path, ForwardPath::Postmaster("postMaster".into()));
        assert_eq!((path.to_string().as_str(), rest), ("<postMaster>", ""));

        let (path, _) = ForwardPath::parse_prefix("<@a.org,@b.org:u@d.org>").expect("route");
        assert_eq!(path.to_string(), "<@a.org,@b.org:u@d.org>");

        for bad in ["< >", "<", "a@b", "<a@b", "<@a.org:>", "<@:u@d>"] {
            assert!(ForwardPath::parse_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ehlo_domains() {
        for good in ["localhost", "mail.example.com", "[127.0.0.1]", "[IPv6:::1]"] {
            assert!(is_valid_ehlo_domain(good), "{good}");
        }
        for bad in ["", "host_name", "-x", "a..b", "[1.2.3]", "x y"] {
            assert!(!is_valid_ehlo_domain(bad), "{bad}");
        }
    }
}
