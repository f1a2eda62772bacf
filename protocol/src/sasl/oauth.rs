//! Bearer tokens: Google's XOAUTH2 and OAUTHBEARER (RFC 7628).
//!
//! Both are one client message of `key=value` pairs separated by %x01. When the token is
//! refused, the server does not fail at once: it sends an error challenge carrying JSON, the
//! client acknowledges it (XOAUTH2: an empty line; OAUTHBEARER: a single %x01, `AQ==`), and
//! only then does the server fail (S-XOAUTH2-SERVER, S-7628-SERVER, RFC 7628 §3.2.3).

use std::fmt;

use super::server::{Claim, Identity, ServerFailure, ServerMechanism, ServerOptions, ServerStep};
use super::{constant_time_eq, decode_saslname, encode_saslname, Mechanism, Redacted};

/// The XOAUTH2 error challenge of Google's protocol page.
pub const DEFAULT_XOAUTH2_ERROR: &str =
    r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;

/// An RFC 7628 §3.2.2 error: `status` is required, `scope` optional (`openid-configuration`,
/// also optional, is left out: a fake server has no discovery document to point to).
pub const DEFAULT_OAUTHBEARER_ERROR: &str =
    r#"{"status":"invalid_token","scope":"https://mail.example.com/"}"#;

const KVSEP: u8 = 0x01;

/// What an XOAUTH2 or OAUTHBEARER client presents.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerClaim {
    pub mechanism: Mechanism,
    /// XOAUTH2 `user=`; OAUTHBEARER's gs2 authzid (`a=`), which RFC 7628 makes optional.
    pub user: Option<String>,
    /// The token after `Bearer ` in `auth=`.
    pub token: String,
    /// The other key/value pairs, in order (OAUTHBEARER's `host` and `port`, and any unknown
    /// ones, which the server "MUST" ignore, RFC 7628 §3.1, but a conformance check may read).
    pub kvpairs: Vec<(String, String)>,
    /// OAUTHBEARER only: the gs2 header said `user=` instead of GS2's `a=`, as RFC 7628's own
    /// SMTP example (§4.4) does. Accepted, and reported so that a check can warn.
    pub gs2_user_key: bool,
}

impl BearerClaim {
    /// Whether the token is `expected` (compared without an early exit).
    pub fn token_matches(&self, expected: &str) -> bool {
        constant_time_eq(self.token.as_bytes(), expected.as_bytes())
    }

    /// The value of a key/value pair, e.g. `host` or `port` (which RFC 7628 §3.2 says the
    /// server MUST check against what it knows, when it knows it).
    pub fn kv(&self, key: &str) -> Option<&str> {
        self.kvpairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for BearerClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerClaim")
            .field("mechanism", &self.mechanism)
            .field("user", &self.user)
            .field("token", &Redacted(self.token.len()))
            .field("kvpairs", &self.kvpairs)
            .field("gs2_user_key", &self.gs2_user_key)
            .finish()
    }
}

/// What a client message amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A token to check.
    Claim(BearerClaim),
    /// `auth=` with no value: the client asks for the error result to learn the scope (RFC
    /// 7628 §4.3). There is nothing to verify; the server answers with its error challenge.
    Query,
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    Malformed(&'static str),
    /// A `p=` gs2 flag (OAUTHBEARER): channel binding is not offered.
    ChannelBinding,
}

/// Parses `*kvpair kvsep` (RFC 7628 §3.1): pairs `key=value` each ended by %x01, then one more
/// %x01. Keys are `1*ALPHA`; values `*(VCHAR / SP / HTAB / CR / LF)`, or, with `utf8`, any
/// UTF-8 text without other control characters (XOAUTH2 has no grammar of its own).
fn parse_kvpairs(data: &[u8], utf8: bool) -> Result<Vec<(String, String)>, &'static str> {
    let body = data
        .strip_suffix(&[KVSEP])
        .ok_or("the message does not end with %x01")?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == KVSEP)
            .ok_or("a key=value pair is not ended by %x01")?;
        let (pair, after) = (&rest[..end], &rest[end + 1..]);
        rest = after;
        let eq = pair
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a key=value pair has no '='")?;
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
            return Err("a key is not 1*ALPHA");
        }
        let value = std::str::from_utf8(value).map_err(|_| "a value is not UTF-8")?;
        let allowed = |c: char| {
            matches!(c, ' ' | '\t' | '\r' | '\n' | '!'..='~') || (utf8 && !c.is_control())
        };
        if !value.chars().all(allowed) {
            return Err("a value contains a character the grammar does not allow");
        }
        let key = String::from_utf8_lossy(key).into_owned();
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err("a key appears twice");
        }
        pairs.push((key, value.to_owned()));
    }
    Ok(pairs)
}

/// Takes `auth=Bearer <token>` out of the pairs. `Ok(None)` for an empty `auth=`. The scheme
/// is case-insensitive (RFC 7628 §4); the token is a `b64token` (RFC 6750 §2.1).
fn take_bearer(pairs: &mut Vec<(String, String)>) -> Result<Option<String>, &'static str> {
    let index = pairs
        .iter()
        .position(|(k, _)| k == "auth")
        .ok_or("the required auth= pair is missing")?;
    let (_, auth) = pairs.remove(index);
    if auth.is_empty() {
        return Ok(None);
    }
    let (scheme, token) = auth
        .split_once(' ')
        .ok_or("auth= is not \"Bearer <token>\"")?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err("auth= does not use the Bearer scheme");
    }
    let token = token.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err("the bearer token is not a b64token (RFC 6750 §2.1)");
    }
    Ok(Some(token.to_owned()))
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
}

/// Parses an XOAUTH2 message: `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn parse_xoauth2(data: &[u8]) -> Result<Parsed, ParseError> {
    let mut pairs = parse_kvpairs(data, true).map_err(ParseError::Malformed)?;
    let index = pairs
        .iter()
        .position(|(k, _)| k == "user")
        .ok_or(ParseError::Malformed("the required user= pair is missing"))?;
    let (_, user) = pairs.remove(index);
    if user.is_empty() {
        return Err(ParseError::Malformed("user= is empty"));
    }
    Ok(
        match take_bearer(&mut pairs).map_err(ParseError::Malformed)? {
            None => Parsed::Query,
            Some(token) => Parsed::Claim(BearerClaim {
                mechanism: Mechanism::XOAuth2,
                user: Some(user),
                token,
                kvpairs: pairs,
                gs2_user_key: false,
            }),
        },
    )
}

/// Parses an OAUTHBEARER client response (RFC 7628 §3.1):
/// `gs2-header kvsep *kvpair kvsep`, with `gs2-header = gs2-cbind-flag "," [authzid] ","`.
pub fn parse_oauthbearer(data: &[u8]) -> Result<Parsed, ParseError> {
    let malformed = ParseError::Malformed;
    if data == [KVSEP] {
        // RFC 7628 §3.1: "only valid in that context" (after an error); the server MAY fail.
        return Err(malformed(
            "a lone %x01 is only valid after an error challenge",
        ));
    }
    let comma = |from: usize| {
        data[from..]
            .iter()
            .position(|&b| b == b',')
            .map(|i| from + i)
    };
    let flag_end = comma(0).ok_or(malformed("the gs2 header is missing"))?;
    match &data[..flag_end] {
        b"n" | b"y" => {}
        flag if flag.starts_with(b"p=") => return Err(ParseError::ChannelBinding),
        _ => return Err(malformed("the gs2 header does not start with n, y or p=")),
    }
    let authzid_end = comma(flag_end + 1).ok_or(malformed("the gs2 header is not ended by ','"))?;
    let authzid = &data[flag_end + 1..authzid_end];
    let (user, gs2_user_key) = if authzid.is_empty() {
        (None, false)
    } else if let Some(name) = authzid.strip_prefix(b"a=") {
        (Some(decode_saslname(name).map_err(malformed)?), false)
    } else if let Some(name) = authzid.strip_prefix(b"user=") {
        (Some(decode_saslname(name).map_err(malformed)?), true)
    } else {
        return Err(malformed("the gs2 authzid is not a=<name>"));
    };
    let rest = &data[authzid_end + 1..];
    let pairs = rest
        .strip_prefix(&[KVSEP])
        .ok_or(malformed("the gs2 header is not followed by %x01"))?;
    let mut pairs = parse_kvpairs(pairs, false).map_err(malformed)?;
    Ok(match take_bearer(&mut pairs).map_err(malformed)? {
        None => Parsed::Query,
        Some(token) => Parsed::Claim(BearerClaim {
            mechanism: Mechanism::OAuthBearer,
            user,
            token,
            kvpairs: pairs,
            gs2_user_key,
        }),
    })
}

/// Checks what a client is about to put in a message: no %x01 (it would end the pair), no
/// other control characters, and a non-empty token.
pub(crate) fn check_client_fields(user: &str, token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("the bearer token is empty");
    }
    if user.chars().chain(token.chars()).any(char::is_control) {
        return Err("the user or token contains control characters");
    }
    // The server refuses any other token (found by fuzzing: the client sent it).
    if !is_b64token(token) {
        return Err("the bearer token is not a b64token (RFC 6750 §2.1)");
    }
    Ok(())
}

/// Checks a value a client is about to put in an OAUTHBEARER pair (the host): RFC 7628
/// §3.1's `value = *(VCHAR / SP / HTAB / CR / LF)`, without the line ends, which no host has
/// (found by fuzzing: a host with a non-ASCII letter was sent and refused).
pub(crate) fn check_client_value(value: &str) -> Result<(), &'static str> {
    if value.chars().all(|c| matches!(c, ' ' | '\t' | '!'..='~')) {
        Ok(())
    } else {
        Err("the host has a character RFC 7628 §3.1 does not allow in a value (VCHAR, SP, HTAB)")
    }
}

/// The XOAUTH2 message: `user=<user>^Aauth=Bearer <token>^A^A`.
pub fn xoauth2_message(user: &str, token: &str) -> Vec<u8> {
    format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes()
}

/// The OAUTHBEARER message of RFC 7628 §3.1, in the order of its §4.1 example:
/// `n,a=<user>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A`. An empty `user` leaves the
/// authzid out.
pub fn oauthbearer_message(
    user: &str,
    host: Option<&str>,
    port: Option<u16>,
    token: &str,
) -> Vec<u8> {
    let mut out = String::from("n,");
    if !user.is_empty() {
        out.push_str("a=");
        out.push_str(&encode_saslname(user));
    }
    out.push_str(",\x01");
    if let Some(host) = host {
        out.push_str(&format!("host={host}\x01"));
    }
    if let Some(port) = port {
        out.push_str(&format!("port={port}\x01"));
    }
    out.push_str(&format!("auth=Bearer {token}\x01\x01"));
    out.into_bytes()
}

#[derive(Debug)]
enum State {
    AwaitMessage,
    AwaitVerdict(Option<String>),
    AwaitAcknowledgement,
    Done,
}

#[derive(Debug)]
pub(crate) struct Server {
    mechanism: Mechanism,
    error: Vec<u8>,
    state: State,
}

impl Server {
    pub(crate) fn xoauth2(options: &ServerOptions) -> Server {
        Server {
            mechanism: Mechanism::XOAuth2,
            error: options.xoauth2_error.as_bytes().to_vec(),
            state: State::AwaitMessage,
        }
    }

    pub(crate) fn oauthbearer(options: &ServerOptions) -> Server {
        Server {
            mechanism: Mechanism::OAuthBearer,
            error: options.oauthbearer_error.as_bytes().to_vec(),
            state: State::AwaitMessage,
        }
    }

    fn error_challenge(&mut self) -> ServerStep {
        self.state = State::AwaitAcknowledgement;
        ServerStep::Challenge(self.error.clone())
    }

    fn receive(&mut self, data: &[u8]) -> ServerStep {
        let parsed = match self.mechanism {
            Mechanism::XOAuth2 => parse_xoauth2(data),
            _ => parse_oauthbearer(data),
        };
        match parsed {
            Ok(Parsed::Claim(claim)) => {
                self.state = State::AwaitVerdict(claim.user.clone());
                ServerStep::Verify(Claim::Bearer(claim))
            }
            Ok(Parsed::Query) => self.error_challenge(),
            Err(ParseError::ChannelBinding) => {
                self.state = State::Done;
                ServerStep::Failure(ServerFailure::ChannelBindingNotSupported)
            }
            Err(ParseError::Malformed(problem)) => {
                self.state = State::Done;
                ServerStep::Failure(ServerFailure::malformed(self.mechanism, problem))
            }
        }
    }
}

impl ServerMechanism for Server {
    fn accepts_initial_response(&self) -> bool {
        true
    }

    fn start(&mut self, initial: Option<Vec<u8>>) -> ServerStep {
        match initial {
            Some(data) => self.receive(&data),
            None => ServerStep::Challenge(Vec::new()),
        }
    }

    fn respond(&mut self, data: Vec<u8>) -> ServerStep {
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitMessage => self.receive(&data),
            State::AwaitAcknowledgement => {
                let expected: &[u8] = match self.mechanism {
                    Mechanism::XOAuth2 => b"",
                    _ => &[KVSEP],
                };
                if data == expected {
                    ServerStep::Failure(ServerFailure::CredentialsInvalid)
                } else if self.mechanism == Mechanism::XOAuth2 {
                    ServerStep::Failure(ServerFailure::malformed(
                        self.mechanism,
                        "the answer to the error challenge must be an empty line",
                    ))
                } else {
                    ServerStep::Failure(ServerFailure::malformed(
                        self.mechanism,
                        "the answer to the error challenge must be %x01 (AQ==)",
                    ))
                }
            }
            _ => ServerStep::Failure(ServerFailure::UnexpectedCall("respond")),
        }
    }

    fn verdict(&mut self, accept: bool) -> ServerStep {
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitVerdict(user) if accept => ServerStep::Success(Identity {
                authzid: None,
                username: user,
            }),
            State::AwaitVerdict(_) => self.error_challenge(),
            _ => ServerStep::Failure(ServerFailure::UnexpectedCall("verdict")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sasl::{decode, encode};

    #[test]
    fn google_xoauth2_example() {
        let message = xoauth2_message(
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
        );
        assert_eq!(
            message,
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        assert_eq!(
            encode(&message),
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
        );
        let Ok(Parsed::Claim(claim)) = parse_xoauth2(&message) else {
            panic!("parse");
        };
        assert_eq!(claim.user.as_deref(), Some("someuser@example.com"));
        assert!(claim.token_matches("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"));
        assert!(claim.kvpairs.is_empty());
        assert_eq!(
            encode(DEFAULT_XOAUTH2_ERROR.as_bytes()),
            "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="
        );
    }

    #[test]
    fn rfc_7628_section_4_1_initial_responses() {
        // IMAP (port 143) and SMTP (port 587) forms of §4.1, as printed in the RFC.
        for (port, wire) in [
            (143, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"),
            (587, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"),
        ] {
            let built = oauthbearer_message(
                "user@example.com",
                Some("server.example.com"),
                Some(port),
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
            );
            assert_eq!(encode(&built), wire);
            let decoded = decode(wire.as_bytes()).expect("base64");
            let Ok(Parsed::Claim(claim)) = parse_oauthbearer(&decoded) else {
                panic!("parse");
            };
            assert_eq!(claim.user.as_deref(), Some("user@example.com"));
            assert_eq!(claim.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
            assert_eq!(claim.kv("host"), Some("server.example.com"));
            assert_eq!(claim.kv("port"), Some(port.to_string().as_str()));
            assert!(!claim.gs2_user_key);
        }
    }

    #[test]
    fn rfc_7628_section_4_3_and_4_4() {
        // §4.3: an empty auth= asks for the error (and its scope).
        let wire =
            "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE=";
        let decoded = decode(wire.as_bytes()).expect("base64");
        assert_eq!(
            decoded,
            b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01"
        );
        assert_eq!(parse_oauthbearer(&decoded), Ok(Parsed::Query));
        // §4.4's SMTP example writes `user=` where GS2 has `a=`: accepted and flagged.
        let wire = "bix1c2VyPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ==";
        let decoded = decode(wire.as_bytes()).expect("base64");
        let Ok(Parsed::Claim(claim)) = parse_oauthbearer(&decoded) else {
            panic!("parse");
        };
        assert_eq!(claim.user.as_deref(), Some("someuser@example.com"));
        assert_eq!(claim.token, "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
        assert!(claim.gs2_user_key);
        // §4.4's error challenge decodes to the JSON the RFC shows.
        let error = decode(b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJzY29wZSI6Imh0dHBzOi8vbWFpbC5leGFtcGxlLmNvbS8ifQ==")
            .expect("base64");
        assert_eq!(
            error,
            br#"{"status":"invalid_token","schemes":"bearer mac","scope":"https://mail.example.com/"}"#
        );
    }

    #[test]
    fn malformed_bearer_messages_are_refused() {
        let malformed = |data: &[u8], mechanism: Mechanism| {
            let parsed = match mechanism {
                Mechanism::XOAuth2 => parse_xoauth2(data),
                _ => parse_oauthbearer(data),
            };
            assert!(
                matches!(parsed, Err(ParseError::Malformed(_))),
                "{:?}: {parsed:?}",
                String::from_utf8_lossy(data)
            );
        };
        for bad in [
            &b"user=a\x01auth=Bearer t\x01"[..],
            b"user=a\x01auth=Bearer t",
            b"auth=Bearer t\x01\x01",
            b"user=\x01auth=Bearer t\x01\x01",
            b"user=a\x01\x01",
            b"user=a\x01auth=Basic dDp0\x01\x01",
            b"user=a\x01auth=Bearer\x01\x01",
            b"user=a\x01auth=Bearer t t\x01\x01",
            b"user=a\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
            b"us3r=a\x01user=a\x01auth=Bearer t\x01\x01",
            b"user=a\x01noequals\x01auth=Bearer t\x01\x01",
            b"",
        ] {
            malformed(bad, Mechanism::XOAuth2);
        }
        for bad in [
            &b"\x01"[..],
            b"",
            b"n,,auth=Bearer t\x01\x01",
            b"x,,\x01auth=Bearer t\x01\x01",
            b"n,b=user,\x01auth=Bearer t\x01\x01",
            b"n,a=us=er,\x01auth=Bearer t\x01\x01",
            b"n,,\x01host=h\x01\x01",
            b"n,,\x01auth=Bearer t\x01",
            b"n,,\x01auth=Bearer t\x01host=\xc3\xa9\x01\x01",
            b"n",
        ] {
            malformed(bad, Mechanism::OAuthBearer);
        }
        assert_eq!(
            parse_oauthbearer(b"p=tls-unique,,\x01auth=Bearer t\x01\x01"),
            Err(ParseError::ChannelBinding)
        );
        // Bearer is case-insensitive (RFC 7628 §4), unknown keys are kept, `y` is fine.
        let Ok(Parsed::Claim(claim)) =
            parse_oauthbearer(b"y,,\x01auth=bEaReR  tok.en~+/==\x01future=x y\x01\x01")
        else {
            panic!("parse");
        };
        assert_eq!(claim.user, None);
        assert_eq!(claim.token, "tok.en~+/==");
        assert_eq!(claim.kv("future"), Some("x y"));
    }
}
