//! CRAM-MD5 (RFC 2195): the server sends a msg-id-like challenge, the client answers with its
//! user name, a space, and HMAC-MD5(password, challenge) in lower-case hex.

use std::fmt;

use hmac::Hmac;
use md5::Md5;

use super::server::{Claim, Identity, ServerFailure, ServerMechanism, ServerStep};
use super::{hmac, Mechanism};

/// The challenge of RFC 2195 §2, `<random.timestamp@hostname>` (S-2195-SERVER). The caller
/// supplies the random part and the time, so that this module reads neither a clock nor a
/// random source.
pub fn challenge(random: &str, timestamp: u64, hostname: &str) -> String {
    format!("<{random}.{timestamp}@{hostname}>")
}

/// HMAC-MD5 keyed with the password over the challenge, as RFC 2195 §2 defines the digest.
pub fn digest(password: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mac = hmac::<Hmac<Md5>>(password, &[challenge]);
    if mac.len() == out.len() {
        out.copy_from_slice(&mac);
    }
    out
}

/// The client's response: `username SP digest`, the digest in lower-case hex.
pub fn response(username: &str, password: &str, challenge: &[u8]) -> Vec<u8> {
    let digest = digest(password.as_bytes(), challenge);
    let mut out = Vec::with_capacity(username.len() + 33);
    out.extend_from_slice(username.as_bytes());
    out.push(b' ');
    for byte in digest {
        out.extend_from_slice(format!("{byte:02x}").as_bytes());
    }
    out
}

/// What a CRAM-MD5 client claims: a user name and a digest, to be checked against that user's
/// password with [`CramMd5Claim::verify`]. (CRAM-MD5 needs the password itself on the server.)
#[derive(Clone, PartialEq, Eq)]
pub struct CramMd5Claim {
    pub username: String,
    pub digest: [u8; 16],
    challenge: Vec<u8>,
}

impl CramMd5Claim {
    /// Whether the digest is the one `password` gives for this exchange's challenge.
    pub fn verify(&self, password: &str) -> bool {
        super::constant_time_eq(&digest(password.as_bytes(), &self.challenge), &self.digest)
    }

    /// The challenge that was sent.
    pub fn challenge(&self) -> &[u8] {
        &self.challenge
    }
}

impl fmt::Debug for CramMd5Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self.digest.iter().map(|b| format!("{b:02x}")).collect();
        f.debug_struct("CramMd5Claim")
            .field("username", &self.username)
            .field("digest", &hex)
            .field("challenge", &String::from_utf8_lossy(&self.challenge))
            .finish()
    }
}

/// Parses `username SP digest`. The user name is what comes before the last space (RFC 2195
/// does not forbid spaces in it); the digest must be 32 lower-case hex digits ("sent in
/// hexadecimal format, using lower-case ASCII characters", C-2195-RESPONSE-FORMAT).
pub fn parse(response: &[u8], challenge: &[u8]) -> Result<CramMd5Claim, &'static str> {
    let space = response
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or("the response has no space between user name and digest")?;
    let (username, hex) = (&response[..space], &response[space + 1..]);
    if username.is_empty() {
        return Err("the user name is empty");
    }
    if hex.len() != 32 {
        return Err("the digest is not 32 hex digits");
    }
    let mut digest = [0u8; 16];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err("the digest is not lower-case hex"),
        };
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    let username =
        String::from_utf8(username.to_vec()).map_err(|_| "the user name is not UTF-8")?;
    if username.chars().any(char::is_control) {
        return Err("the user name contains control characters");
    }
    Ok(CramMd5Claim {
        username,
        digest,
        challenge: challenge.to_vec(),
    })
}

#[derive(Debug)]
pub(crate) struct Server {
    challenge: Vec<u8>,
    claim: Option<CramMd5Claim>,
}

impl Server {
    pub(crate) fn new(challenge: &str) -> Server {
        Server {
            challenge: challenge.as_bytes().to_vec(),
            claim: None,
        }
    }
}

impl ServerMechanism for Server {
    fn accepts_initial_response(&self) -> bool {
        false
    }

    fn start(&mut self, _initial: Option<Vec<u8>>) -> ServerStep {
        ServerStep::Challenge(self.challenge.clone())
    }

    fn respond(&mut self, data: Vec<u8>) -> ServerStep {
        match parse(&data, &self.challenge) {
            Ok(claim) => {
                self.claim = Some(claim.clone());
                ServerStep::Verify(Claim::CramMd5(claim))
            }
            Err(problem) => {
                ServerStep::Failure(ServerFailure::malformed(Mechanism::CramMd5, problem))
            }
        }
    }

    fn verdict(&mut self, accept: bool) -> ServerStep {
        match (self.claim.take(), accept) {
            (Some(claim), true) => ServerStep::Success(Identity {
                authzid: None,
                username: Some(claim.username),
            }),
            _ => ServerStep::Failure(ServerFailure::CredentialsInvalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &[u8] = b"<1896.697170952@postoffice.reston.mci.net>";

    #[test]
    fn rfc_2195_section_2_example() {
        assert_eq!(
            challenge("1896", 697170952, "postoffice.reston.mci.net").as_bytes(),
            CHALLENGE
        );
        assert_eq!(
            response("tim", "tanstaaftanstaaf", CHALLENGE),
            b"tim b913a602c7eda7a495b4e6e7334d3890"
        );
        // The base64 forms printed in the RFC.
        assert_eq!(
            super::super::encode(CHALLENGE),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
        );
        assert_eq!(
            super::super::encode(b"tim b913a602c7eda7a495b4e6e7334d3890"),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
        );
        let claim = parse(b"tim b913a602c7eda7a495b4e6e7334d3890", CHALLENGE).expect("parse");
        assert_eq!(claim.username, "tim");
        assert!(claim.verify("tanstaaftanstaaf"));
        assert!(!claim.verify("tanstaaftanstaaF"));
    }

    #[test]
    fn malformed_responses_are_refused() {
        for bad in [
            &b"timb913a602c7eda7a495b4e6e7334d3890"[..],
            b" b913a602c7eda7a495b4e6e7334d3890",
            b"tim B913A602C7EDA7A495B4E6E7334D3890",
            b"tim b913a602c7eda7a495b4e6e7334d389",
            b"tim b913a602c7eda7a495b4e6e7334d3890\r\n",
            b"tim b913a602c7eda7a495b4e6e7334d389g",
            b"t\xffm b913a602c7eda7a495b4e6e7334d3890",
        ] {
            assert!(
                parse(bad, CHALLENGE).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let claim = parse(b"tim smith b913a602c7eda7a495b4e6e7334d3890", CHALLENGE)
            .expect("spaces in the user name");
        assert_eq!(claim.username, "tim smith");
    }
}
