//! PLAIN (RFC 4616): one client message, `[authzid] NUL authcid NUL passwd`, in UTF-8.
//!
//! Also home of [`PasswordClaim`], which LOGIN shares.

use std::fmt;

use super::server::{Claim, Identity, ServerFailure, ServerMechanism, ServerStep};
use super::{constant_time_eq, Mechanism, Redacted};

/// A user name and password as the client sent them (PLAIN or LOGIN).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordClaim {
    /// PLAIN or LOGIN: decides how [`PasswordClaim::password_matches`] compares.
    pub mechanism: Mechanism,
    /// PLAIN's authorization identity, when the client sent a non-empty one.
    pub authzid: Option<String>,
    pub username: String,
    /// Octets as sent: UTF-8 for PLAIN (RFC 4616 §2), any octets but NUL, CR and LF for LOGIN
    /// (draft-murchison-sasl-login-00 §2).
    pub password: Vec<u8>,
}

impl PasswordClaim {
    /// Whether the password is `expected`. PLAIN compares both after SASLprep (RFC 4616 §2:
    /// the strings "are to be prepared before being used in the verification process", and
    /// verification fails when preparation does); LOGIN, which has no such rule and allows
    /// binary passwords, compares the octets. Either way without an early exit.
    pub fn password_matches(&self, expected: &str) -> bool {
        if self.mechanism != Mechanism::Plain {
            return constant_time_eq(&self.password, expected.as_bytes());
        }
        let Ok(presented) = std::str::from_utf8(&self.password) else {
            return false;
        };
        match (
            stringprep::saslprep(presented),
            stringprep::saslprep(expected),
        ) {
            (Ok(presented), Ok(expected)) if !presented.is_empty() => {
                constant_time_eq(presented.as_bytes(), expected.as_bytes())
            }
            _ => false,
        }
    }

    /// The password as text, when it is UTF-8.
    pub fn password_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.password).ok()
    }

    pub(crate) fn identity(&self) -> Identity {
        Identity {
            authzid: self.authzid.clone(),
            username: Some(self.username.clone()),
        }
    }
}

/// Shows everything but the password.
impl fmt::Debug for PasswordClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordClaim")
            .field("mechanism", &self.mechanism)
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &Redacted(self.password.len()))
            .finish()
    }
}

/// Parses a PLAIN message (RFC 4616 §2): `message = [authzid] UTF8NUL authcid UTF8NUL passwd`,
/// authcid and passwd `1*SAFE`, so exactly two NULs and neither of those two empty.
pub fn parse(message: &[u8]) -> Result<PasswordClaim, &'static str> {
    let mut parts = message.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a PLAIN message has exactly two NUL separators");
    };
    if authcid.is_empty() {
        return Err("the authentication identity is empty");
    }
    if passwd.is_empty() {
        return Err("the password is empty");
    }
    let text = |octets: &[u8]| String::from_utf8(octets.to_vec()).map_err(|_| "not UTF-8");
    let authzid = text(authzid)?;
    let username = text(authcid)?;
    text(passwd)?;
    Ok(PasswordClaim {
        mechanism: Mechanism::Plain,
        authzid: (!authzid.is_empty()).then_some(authzid),
        username,
        password: passwd.to_vec(),
    })
}

/// Builds a PLAIN message; refuses what RFC 4616 §2 forbids (a NUL inside a field, an empty
/// authcid or password).
pub fn message(
    authzid: Option<&str>,
    username: &str,
    password: &str,
) -> Result<Vec<u8>, &'static str> {
    let authzid = authzid.unwrap_or("");
    if [authzid, username, password]
        .iter()
        .any(|s| s.contains('\0'))
    {
        return Err("PLAIN fields cannot contain NUL");
    }
    if username.is_empty() || password.is_empty() {
        return Err("PLAIN needs a non-empty user name and password");
    }
    Ok([authzid.as_bytes(), username.as_bytes(), password.as_bytes()].join(&0u8))
}

/// The server side: ask for the message if it was not the initial response, then present it.
#[derive(Debug)]
pub(crate) struct Server {
    claim: Option<PasswordClaim>,
}

impl Server {
    pub(crate) fn new() -> Server {
        Server { claim: None }
    }

    fn receive(&mut self, message: &[u8]) -> ServerStep {
        match parse(message) {
            Ok(claim) => {
                self.claim = Some(claim.clone());
                ServerStep::Verify(Claim::Password(claim))
            }
            Err(problem) => {
                ServerStep::Failure(ServerFailure::malformed(Mechanism::Plain, problem))
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
            Some(message) => self.receive(&message),
            // RFC 4954 §4 (S-4954-MISSING-IR): an empty challenge asks for the message.
            None => ServerStep::Challenge(Vec::new()),
        }
    }

    fn respond(&mut self, data: Vec<u8>) -> ServerStep {
        self.receive(&data)
    }

    fn verdict(&mut self, accept: bool) -> ServerStep {
        match (self.claim.take(), accept) {
            (Some(claim), true) => ServerStep::Success(claim.identity()),
            _ => ServerStep::Failure(ServerFailure::CredentialsInvalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4616_section_4_examples() {
        let claim = parse(b"\0tim\0tanstaaftanstaaf").expect("first example");
        assert_eq!(claim.authzid, None);
        assert_eq!(claim.username, "tim");
        assert!(claim.password_matches("tanstaaftanstaaf"));
        assert!(!claim.password_matches("tanstaaftanstaa"));

        let claim = parse(b"Ursel\0Kurt\0xipj3plmq").expect("second example");
        assert_eq!(claim.authzid.as_deref(), Some("Ursel"));
        assert_eq!(claim.username, "Kurt");
        assert_eq!(claim.password_str(), Some("xipj3plmq"));

        assert_eq!(
            message(None, "tim", "tanstaaftanstaaf").expect("build"),
            b"\0tim\0tanstaaftanstaaf"
        );
        assert_eq!(
            message(Some("Ursel"), "Kurt", "xipj3plmq").expect("build"),
            b"Ursel\0Kurt\0xipj3plmq"
        );
    }

    #[test]
    fn malformed_messages_are_refused() {
        for bad in [
            &b""[..],
            b"tim\0secret",
            b"\0tim\0secret\0",
            b"\0\0secret",
            b"\0tim\0",
            b"\0t\xffm\0secret",
            b"\0tim\0s\xffcret",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(message(None, "t\0m", "x").is_err());
        assert!(message(None, "", "x").is_err());
        assert!(message(None, "tim", "").is_err());
    }

    #[test]
    fn passwords_are_compared_after_saslprep() {
        // U+00AD SOFT HYPHEN maps to nothing, U+00A0 NO-BREAK SPACE to a space (RFC 4013 §2.1).
        let claim = parse("\0tim\0pass\u{ad}word".as_bytes()).expect("parse");
        assert!(claim.password_matches("password"));
        let claim = parse("\0tim\0a\u{a0}b".as_bytes()).expect("parse");
        assert!(claim.password_matches("a b"));
        // A prohibited character (ASCII control) fails verification whatever was expected.
        let claim = parse(b"\0tim\0a\x07b").expect("parse");
        assert!(!claim.password_matches("a\x07b"));
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let claim = parse(b"\0tim\0tanstaaftanstaaf").expect("parse");
        let debug = format!("{claim:?}");
        assert!(
            debug.contains("tim") && !debug.contains("tanstaaf"),
            "{debug}"
        );
    }
}
