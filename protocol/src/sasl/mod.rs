//! SASL mechanisms (RFC 4422) as SMTP AUTH carries them (RFC 4954), both sides, sans-I/O.
//!
//! The SMTP framing (`AUTH`, `334` lines, the final `235`/`535`/`501`, the session state) is the
//! session's job; this module is what happens inside: it turns client lines into the next
//! server step, and server challenges into the next client response. Nothing here reads a
//! clock or draws random numbers: nonces and CRAM-MD5 challenges come from the caller
//! ([`ServerContext`], [`ClientExchange::new`]).
//!
//! Layout:
//! - this file: [`Mechanism`] names, strict base64 ([`decode`], [`decode_response`],
//!   [`decode_initial_response`]) and the small shared helpers;
//! - [`server`]: [`ServerExchange`], which drives one mechanism and returns [`ServerStep`]s;
//! - [`client`]: [`ClientExchange`], which answers challenges for the reference client;
//! - one file per mechanism: [`plain`] (RFC 4616), [`login`] (draft-murchison-sasl-login-00),
//!   [`cram_md5`] (RFC 2195), [`oauth`] (Google's XOAUTH2 and RFC 7628 OAUTHBEARER) and
//!   [`scram`] (RFC 5802 SCRAM-SHA-1, RFC 7677 SCRAM-SHA-256).
//!
//! # Driving a server exchange
//!
//! ```
//! use smtp_protocol::sasl::{
//!     encode, Claim, Mechanism, ServerContext, ServerExchange, ServerOptions, ServerStep,
//!     UserSecret,
//! };
//!
//! let options = ServerOptions::default();
//! // The session makes the random part and reads the clock; this module does neither.
//! let context = ServerContext::new("mx.example", "3rfcNHYJY1ZVvWVs7j", 697170952)?;
//!
//! // `AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm`
//! let (mut exchange, step) = ServerExchange::start(
//!     Mechanism::Plain,
//!     Some("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
//!     &options,
//!     &context,
//! );
//! let ServerStep::Verify(Claim::Password(claim)) = step else { panic!("{step:?}") };
//! assert_eq!(claim.username, "tim");
//! let ok = claim.password_matches("tanstaaftanstaaf");
//! assert!(matches!(exchange.verdict(ok), ServerStep::Success(_))); // 235 2.7.0
//!
//! // `AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=`
//! let (mut exchange, step) = ServerExchange::start(
//!     Mechanism::ScramSha256,
//!     Some("biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="),
//!     &options,
//!     &context,
//! );
//! let ServerStep::NeedSecret { username, .. } = step else { panic!("{step:?}") };
//! assert_eq!(username, "user");
//! // The session looks the user up (`None` for an unknown user).
//! let secret = UserSecret::Password {
//!     password: "pencil".into(),
//!     salt: b"salt of this user".to_vec(),
//!     iterations: 4096,
//! };
//! let ServerStep::Challenge(server_first) = exchange.provide_secret(Some(secret)) else {
//!     panic!()
//! };
//! // The session writes `334 <encode(&server_first)>` and feeds the next line back with
//! // `exchange.respond(line)`: a `Challenge` with `v=...` on a good proof, which the client
//! // acknowledges with an empty line, then `Success`.
//! assert!(encode(&server_first).starts_with("cj1yT3By"));
//! # Ok::<(), smtp_protocol::sasl::NonceError>(())
//! ```
//!
//! # From steps to SMTP replies (RFC 4954)
//!
//! | step | suggested reply |
//! | --- | --- |
//! | [`ServerStep::Challenge`] | `334 ` + [`encode`] of the bytes (`334 ` alone when empty, §4) |
//! | [`ServerStep::Success`] | `235 2.7.0 Authentication successful` (§6) |
//! | [`ServerFailure::Cancelled`] | `501 5.0.0` (§4: "MUST reject the AUTH command by sending a 501") |
//! | [`ServerFailure::BadBase64`] | `501 5.5.2` (§4) |
//! | [`ServerFailure::InitialResponseNotAllowed`] | `501 5.7.0` (§4) |
//! | [`ServerFailure::UnusableSecret`], [`ServerFailure::UnexpectedCall`] | `454 4.7.0` (the fault is ours) |
//! | every other failure | `535 5.7.8` (§4: 535 "unless a more specific error code is appropriate") |

pub mod client;
pub mod cram_md5;
pub mod login;
pub mod oauth;
pub mod plain;
pub mod scram;
pub mod server;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub use client::{
    ChannelBindingFlag, ClientError, ClientExchange, ClientOptions, Credentials, Secret,
};
pub use cram_md5::CramMd5Claim;
pub use login::{LoginInitialResponse, LoginPrompts};
pub use oauth::BearerClaim;
pub use plain::PasswordClaim;
pub use scram::{KeysError, ScramHash, ScramKeys, UserSecret};
pub use server::{
    Claim, Identity, NonceError, ServerContext, ServerExchange, ServerFailure, ServerOptions,
    ServerStep,
};

/// The mechanisms implemented here. Names parse case-insensitively (RFC 4422 §3.1 names are
/// compared as case-insensitive in RFC 4954's `AUTH` grammar) and print in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login-00 (expired, but what most clients still offer).
    Login,
    /// RFC 2195.
    CramMd5,
    /// Google's XOAUTH2 (a vendor protocol, not an RFC).
    XOAuth2,
    /// RFC 7628.
    OAuthBearer,
    /// RFC 5802.
    ScramSha1,
    /// RFC 7677.
    ScramSha256,
}

impl Mechanism {
    pub const ALL: [Mechanism; 7] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the client speaks first (RFC 4422 §5 item 2a), so that an initial response on
    /// `AUTH` is allowed. For the others the server MUST answer an initial response with 501
    /// (RFC 4954 §4; LOGIN has a knob, see [`LoginInitialResponse`]).
    pub const fn is_client_first(self) -> bool {
        !matches!(self, Mechanism::Login | Mechanism::CramMd5)
    }

    /// Whether the password crosses the wire as readable text (PLAIN, LOGIN): such mechanisms
    /// are not to be offered without TLS (RFC 4954 §4, S-4954-ADVERTISE).
    pub const fn is_plaintext(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }

    /// Whether the client proves a password (as opposed to presenting a bearer token).
    pub const fn uses_password(self) -> bool {
        !matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mechanism name this module does not implement (the session answers `504 5.5.4`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SASL mechanism {0:?}")]
pub struct UnknownMechanism(pub String);

impl FromStr for Mechanism {
    type Err = UnknownMechanism;
    fn from_str(name: &str) -> Result<Mechanism, UnknownMechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownMechanism(name.chars().take(64).collect()))
    }
}

impl TryFrom<String> for Mechanism {
    type Error = UnknownMechanism;
    fn try_from(name: String) -> Result<Mechanism, UnknownMechanism> {
        name.parse()
    }
}

impl From<Mechanism> for String {
    fn from(mechanism: Mechanism) -> String {
        mechanism.as_str().to_owned()
    }
}

/// Why a base64 string was refused. RFC 4954 §4: implementations "MUST reject (and not
/// ignore) any character not explicitly allowed by the BASE64 alphabet, and MUST reject any
/// sequence of BASE64 characters that contains the pad character ('=') anywhere other than
/// the end of the string" (C-4954-B64-STRICT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// Includes white space and line breaks, which MIME encoders insert and SASL forbids.
    #[error("octet {byte:#04x} at offset {offset} is not in the base64 alphabet")]
    InvalidCharacter { offset: usize, byte: u8 },
    #[error("'=' at offset {offset} is not padding at the end")]
    MisplacedPadding { offset: usize },
    #[error("length {0} is not a multiple of 4 (padding is required)")]
    BadLength(usize),
    /// The last character carries bits that no encoder sets (RFC 4648 §3.5).
    #[error("the final quantum has non-zero unused bits")]
    NonCanonical,
    /// `AUTH X ` with nothing after the space: a zero-length initial response must be sent
    /// as `=` (RFC 4954 §4, C-4954-IR-ENCODING).
    #[error("an empty initial response must be sent as \"=\"")]
    EmptyInitialResponse,
}

/// Encodes in the standard alphabet with padding (RFC 4648 §4), as RFC 4954 requires.
pub fn encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes strictly (see [`Base64Error`]). The empty string decodes to no octets.
pub fn decode(text: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let mut padding_from = None;
    for (offset, &byte) in text.iter().enumerate() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                if let Some(offset) = padding_from {
                    // Data after '=': the first '=' was not final padding ("AAA=BBB").
                    return Err(Base64Error::MisplacedPadding { offset });
                }
            }
            b'=' => {
                padding_from.get_or_insert(offset);
            }
            _ => return Err(Base64Error::InvalidCharacter { offset, byte }),
        }
    }
    if !text.len().is_multiple_of(4) {
        return Err(Base64Error::BadLength(text.len()));
    }
    if let Some(offset) = padding_from {
        // At most two pad characters, both in the last quantum ("=AAA", "A===" are refused).
        if text.len() - offset > 2 {
            return Err(Base64Error::MisplacedPadding { offset });
        }
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| Base64Error::NonCanonical)
}

/// One client line inside an AUTH exchange (RFC 4954 §4 and the §8 `auth-command` grammar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// `*`: the client cancels (S-4954-CANCEL).
    Cancel,
    /// The decoded response; an empty line is an empty response.
    Data(Vec<u8>),
}

/// Decodes a response line (without its CRLF): `*` cancels, an empty line is an empty
/// response, anything else must be strict base64. `=` alone is *not* accepted here: the
/// grammar gives it to the initial response only.
pub fn decode_response(line: &[u8]) -> Result<ClientLine, Base64Error> {
    if line == b"*" {
        return Ok(ClientLine::Cancel);
    }
    decode(line).map(ClientLine::Data)
}

/// Decodes the initial response of `AUTH mechanism initial-response`: `=` means present but
/// empty (S-4954-EQUALS-IR); anything else must be non-empty strict base64.
pub fn decode_initial_response(text: &str) -> Result<Vec<u8>, Base64Error> {
    match text {
        "=" => Ok(Vec::new()),
        "" => Err(Base64Error::EmptyInitialResponse),
        _ => decode(text.as_bytes()),
    }
}

/// The wire form of an initial response: `=` for zero octets (RFC 4954 §4).
pub fn encode_initial_response(data: &[u8]) -> String {
    if data.is_empty() {
        "=".to_owned()
    } else {
        encode(data)
    }
}

/// The cancel line a client sends, e.g. when it cannot decode a challenge (C-4954-CANCEL-ON-
/// BAD-CHALLENGE) or a [`ClientExchange`] step fails.
pub const CANCEL: &str = "*";

/// Decodes a GS2 `saslname` (RFC 5802 §7, used by SCRAM and OAUTHBEARER): UTF-8, not empty,
/// no NUL or ',', and '=' only in the escapes `=2C` (',') and `=3D` ('='); RFC 5802 §5.1:
/// any other '=' "MUST fail the authentication".
pub(crate) fn decode_saslname(raw: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "a name is not UTF-8")?;
    if text.is_empty() {
        return Err("a name is empty");
    }
    if text.contains(['\0', ',']) {
        return Err("a name contains NUL or ','");
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err("'=' in a name must start =2C or =3D"),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes ',' and '=' for a GS2 `saslname` (RFC 5802 §5.1).
pub(crate) fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Compares secrets without an early exit, so that the time taken does not tell how many
/// leading octets matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC (RFC 2104) of the concatenated `parts`.
pub(crate) fn hmac<M: hmac::Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length (RFC 2104 §2), so this never takes the `else` branch.
    let Ok(mut mac) = <M as hmac::Mac>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Writes `text` for a `Debug` impl that must not reveal it: its length only.
pub(crate) struct Redacted(pub usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} octets redacted>", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_parse_case_insensitively_and_print_canonically() {
        for mechanism in Mechanism::ALL {
            let lower = mechanism.as_str().to_ascii_lowercase();
            assert_eq!(lower.parse::<Mechanism>(), Ok(mechanism));
            assert_eq!(mechanism.to_string(), mechanism.as_str());
        }
        assert_eq!("Cram-Md5".parse(), Ok(Mechanism::CramMd5));
        assert_eq!("xoauth2".parse(), Ok(Mechanism::XOAuth2));
        assert!("SCRAM-SHA-256-PLUS".parse::<Mechanism>().is_err());
        assert!("GSSAPI".parse::<Mechanism>().is_err());
        assert!("".parse::<Mechanism>().is_err());
        let json = serde_json::to_string(&Mechanism::ScramSha256).expect("serialize");
        assert_eq!(json, "\"SCRAM-SHA-256\"");
        let back: Mechanism = serde_json::from_str("\"scram-sha-256\"").expect("deserialize");
        assert_eq!(back, Mechanism::ScramSha256);
    }

    #[test]
    fn client_first_and_plaintext_classes() {
        let server_first: Vec<_> = Mechanism::ALL
            .into_iter()
            .filter(|m| !m.is_client_first())
            .collect();
        assert_eq!(server_first, [Mechanism::Login, Mechanism::CramMd5]);
        assert!(Mechanism::Plain.is_plaintext() && Mechanism::Login.is_plaintext());
        assert!(!Mechanism::ScramSha1.is_plaintext());
    }

    #[test]
    fn strict_base64_accepts_canonical_text() {
        assert_eq!(decode(b""), Ok(Vec::new()));
        assert_eq!(decode(b"dGVzdA=="), Ok(b"test".to_vec()));
        assert_eq!(decode(b"dGVzdDE="), Ok(b"test1".to_vec()));
        assert_eq!(decode(b"dGVzdDEy"), Ok(b"test12".to_vec()));
        assert_eq!(decode(b"AQ=="), Ok(vec![1]));
        assert_eq!(encode(b"\x01"), "AQ==");
    }

    #[test]
    fn strict_base64_refuses_what_rfc_4954_forbids() {
        use Base64Error::*;
        let cases: [(&[u8], Base64Error); 13] = [
            (b"=AAA", MisplacedPadding { offset: 0 }),
            (b"AAA=BBB=", MisplacedPadding { offset: 3 }),
            (b"A===", MisplacedPadding { offset: 1 }),
            (b"AA=A", MisplacedPadding { offset: 2 }),
            (b"====", MisplacedPadding { offset: 0 }),
            (
                b"dGVz dA==",
                InvalidCharacter {
                    offset: 4,
                    byte: b' ',
                },
            ),
            (
                b"dGVzdA==\r\n",
                InvalidCharacter {
                    offset: 8,
                    byte: b'\r',
                },
            ),
            (
                b"dGVz\ndA==",
                InvalidCharacter {
                    offset: 4,
                    byte: b'\n',
                },
            ),
            (
                b"dGVzdA-_",
                InvalidCharacter {
                    offset: 6,
                    byte: b'-',
                },
            ),
            (
                b"*",
                InvalidCharacter {
                    offset: 0,
                    byte: b'*',
                },
            ),
            (b"dGVzdA", BadLength(6)),
            (b"dGVzdA=", BadLength(7)),
            (b"dGVzdB==", NonCanonical),
        ];
        for (input, error) in cases {
            assert_eq!(
                decode(input),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(
            decode("dGVzdA\u{e9}".as_bytes()).map(|_| ()),
            Err(InvalidCharacter {
                offset: 6,
                byte: 0xc3
            })
        );
    }

    #[test]
    fn response_lines_and_initial_responses() {
        assert_eq!(decode_response(b"*"), Ok(ClientLine::Cancel));
        assert_eq!(decode_response(b""), Ok(ClientLine::Data(Vec::new())));
        assert_eq!(decode_response(b"AQ=="), Ok(ClientLine::Data(vec![1])));
        assert!(decode_response(b"* ").is_err());
        assert!(decode_response(b"=").is_err());
        assert_eq!(decode_initial_response("="), Ok(Vec::new()));
        assert_eq!(
            decode_initial_response(""),
            Err(Base64Error::EmptyInitialResponse)
        );
        assert!(decode_initial_response("*").is_err());
        assert_eq!(encode_initial_response(b""), "=");
        assert_eq!(encode_initial_response(b"\x01"), "AQ==");
    }

    #[test]
    fn saslnames_escape_comma_and_equals_only() {
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        assert_eq!(decode_saslname(b"a=2Cb=3Dc"), Ok("a,b=c".to_owned()));
        assert_eq!(decode_saslname(b"=3D=2C"), Ok("=,".to_owned()));
        for bad in [
            &b""[..],
            b"a=",
            b"a=2",
            b"a=2c",
            b"a=41",
            b"a,b",
            b"a\0b",
            b"\xff",
        ] {
            assert!(
                decode_saslname(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
