//! Secrets out of a transcript: the passwords, tokens, CRAM-MD5 digests and SCRAM proofs a
//! client sent in AUTH exchanges (RFC 4954), replaced by what a reader needs (the user name,
//! and a short fingerprint of the secret so that two attempts can be told apart).
//!
//! The conformance checks read the SASL lines themselves (base64, the PLAIN message, SCRAM
//! attributes), so a transcript is redacted only after it has been judged; entries are
//! replaced in place, one for one, so that every finding's entry index still points at the
//! same line.

use sha2::{Digest, Sha256};

use super::{unescape, Entry, Event, Transcript};
use crate::sasl;

/// What [`Transcript::redact_secrets`] replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// The entry's index in [`Transcript::entries`].
    pub entry: usize,
    /// The line as it reads now.
    pub line: String,
}

/// The first 8 hex digits of the SHA-256 of a secret: enough to tell two attempts apart,
/// too little to find the secret from.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// An AUTH exchange under way while walking a transcript.
struct Exchange {
    mechanism: String,
    /// Client messages of the exchange seen so far (the initial response counts).
    step: usize,
    /// The last server reply was a 334: the next client line is a SASL response.
    awaiting_response: bool,
}

impl Transcript {
    /// Replaces the secrets in the client's AUTH lines (initial responses and SASL
    /// responses) with `[redacted: user "NAME", password sha256:1a2b3c4d]` and the like:
    /// PLAIN and LOGIN passwords, XOAUTH2 and OAUTHBEARER tokens, CRAM-MD5 digests and SCRAM
    /// client proofs. User names, the mechanism, cancellations (`*`) and the lines that carry
    /// no secret (a LOGIN user name, SCRAM's first message) stay. Returns what was replaced.
    pub fn redact_secrets(&mut self) -> Vec<Redaction> {
        let mut done = Vec::new();
        let mut exchange: Option<Exchange> = None;
        let entries = self.head.iter_mut().chain(self.tail.iter_mut());
        for (index, Entry { event, .. }) in entries.enumerate() {
            match event {
                Event::Client { line, .. } => {
                    let replaced = match exchange.as_mut() {
                        Some(ex) if ex.awaiting_response => {
                            ex.awaiting_response = false;
                            let step = ex.step;
                            ex.step += 1;
                            redact_message(&ex.mechanism, step, line.as_bytes())
                        }
                        _ => {
                            exchange = None;
                            redact_auth_command(line, &mut exchange)
                        }
                    };
                    if let Some(text) = replaced {
                        *line = text;
                        done.push(Redaction {
                            entry: index,
                            line: line.clone(),
                        });
                    }
                }
                Event::Server { text } => match exchange.as_mut() {
                    Some(ex) if text.starts_with("334") => ex.awaiting_response = true,
                    _ => exchange = None,
                },
                Event::ServerRaw { .. } | Event::Closed { .. } | Event::Connected { .. } => {
                    exchange = None
                }
                _ => {}
            }
        }
        done
    }
}

/// `AUTH <mechanism> [initial-response]`: starts an exchange, and gives the line with its
/// initial response redacted when that carries a secret.
fn redact_auth_command(line: &str, exchange: &mut Option<Exchange>) -> Option<String> {
    let mut words = line.splitn(3, ' ');
    let verb = words.next()?;
    if !verb.eq_ignore_ascii_case("AUTH") {
        return None;
    }
    let mechanism = words.next()?.to_ascii_uppercase();
    let initial = words.next();
    *exchange = Some(Exchange {
        mechanism: mechanism.clone(),
        step: usize::from(initial.is_some()),
        awaiting_response: false,
    });
    let initial = initial?;
    let redacted = redact_message(&mechanism, 0, initial.as_bytes())?;
    let prefix_len = line.len() - initial.len();
    Some(format!("{}{redacted}", &line[..prefix_len]))
}

/// The redacted form of one client message of an exchange (`step` 0 is the first), or `None`
/// when it carries no secret.
fn redact_message(mechanism: &str, step: usize, text: &[u8]) -> Option<String> {
    let octets = unescape(&String::from_utf8_lossy(text));
    let trimmed = octets.trim_ascii();
    // A cancellation, an empty response or the `=` of an empty initial response: no secret.
    if trimmed.is_empty() || trimmed == b"*" || trimmed == b"=" {
        return None;
    }
    let Ok(message) = sasl::decode(trimmed) else {
        // Not base64: whatever it is, it may be a password typed in the clear.
        return Some(format!(
            "[redacted: not base64, sha256:{}]",
            fingerprint(trimmed)
        ));
    };
    let secret = |what: &str, user: Option<&[u8]>, secret: &[u8]| {
        let user = user
            .map(|u| format!("user {:?}, ", String::from_utf8_lossy(u)))
            .unwrap_or_default();
        format!("[redacted: {user}{what} sha256:{}]", fingerprint(secret))
    };
    let summary = match mechanism {
        "PLAIN" => {
            let mut fields = message.splitn(3, |&b| b == 0);
            let (authz, authc, password) = (fields.next(), fields.next(), fields.next());
            match (authz, authc, password) {
                (Some(authz), Some(authc), Some(password)) => {
                    let mut text = secret("password", Some(authc), password);
                    if !authz.is_empty() {
                        text.insert_str(
                            text.len() - 1,
                            &format!(", as {:?}", String::from_utf8_lossy(authz)),
                        );
                    }
                    text
                }
                _ => secret("message", None, &message),
            }
        }
        // The first message is the user name, the second the password.
        "LOGIN" if step == 0 => return None,
        "LOGIN" => secret("password", None, &message),
        "CRAM-MD5" => match message.iter().rposition(|&b| b == b' ') {
            Some(space) => secret("digest", Some(&message[..space]), &message[space + 1..]),
            None => secret("response", None, &message),
        },
        "XOAUTH2" | "OAUTHBEARER" => {
            let (user, token) = bearer_fields(mechanism, &message);
            match token {
                Some(token) => secret("token", user, token),
                // An error challenge's answer (empty for XOAUTH2, a lone ^A for OAUTHBEARER)
                // carries nothing.
                None if message.iter().all(|&b| b == 0x01) => return None,
                None => secret("message", user, &message),
            }
        }
        m if m.starts_with("SCRAM-") => {
            // The first message (`n,,n=user,r=nonce`) carries no secret; the final one
            // carries the proof.
            let proof = message
                .split(|&b| b == b',')
                .find_map(|attr| attr.strip_prefix(b"p="));
            match proof {
                Some(proof) => secret("proof", None, proof),
                None if step == 0 => return None,
                None => secret("message", None, &message),
            }
        }
        _ => secret("response", None, &message),
    };
    Some(summary)
}

/// The user and the bearer token of an XOAUTH2 (`user=U^Aauth=Bearer T^A^A`) or OAUTHBEARER
/// (`n,a=U,^Aauth=Bearer T^A^A`) message.
fn bearer_fields<'m>(mechanism: &str, message: &'m [u8]) -> (Option<&'m [u8]>, Option<&'m [u8]>) {
    let mut parts = message.split(|&b| b == 0x01);
    let user = match mechanism {
        "XOAUTH2" => parts.clone().find_map(|p| p.strip_prefix(b"user=")),
        _ => parts.clone().next().and_then(|gs2| {
            gs2.split(|&b| b == b',')
                .find_map(|a| a.strip_prefix(b"a="))
        }),
    };
    let token = parts.find_map(|p| {
        p.strip_prefix(b"auth=").map(|auth| {
            let lower = auth.to_ascii_lowercase();
            if lower.starts_with(b"bearer ") {
                &auth[7..]
            } else {
                auth
            }
        })
    });
    (user, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::LineMeta;
    use std::time::Duration;

    fn transcript(lines: &[(&str, &str)]) -> Transcript {
        let mut t = Transcript::new();
        for (side, text) in lines {
            match *side {
                "C" => t.client_line(Duration::ZERO, text.as_bytes(), LineMeta::default()),
                _ => t.server_bytes(Duration::ZERO, format!("{text}\r\n").as_bytes()),
            }
        }
        t
    }

    fn b64(text: &[u8]) -> String {
        sasl::encode(text)
    }

    fn client_lines(t: &Transcript) -> Vec<String> {
        t.entries()
            .filter_map(|e| match &e.event {
                Event::Client { line, .. } => Some(line.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn plain_initial_response_keeps_the_user_and_a_fingerprint() {
        let ir = b64(b"\0alice\0wonderland");
        let mut t = transcript(&[
            ("C", &format!("AUTH PLAIN {ir}")),
            ("S", "235 2.7.0 Authentication successful"),
            ("C", "QUIT"),
        ]);
        let done = t.redact_secrets();
        let fp = fingerprint(b"wonderland");
        let expected = format!("AUTH PLAIN [redacted: user \"alice\", password sha256:{fp}]");
        assert_eq!(client_lines(&t), [expected.as_str(), "QUIT"]);
        assert_eq!(
            done,
            [Redaction {
                entry: 0,
                line: expected
            }]
        );
        assert!(!t.render(false).contains(&ir));
        assert_ne!(fp, fingerprint(b"wonderland2"));
        assert_eq!(fp.len(), 8);
    }

    #[test]
    fn every_mechanism_loses_its_secret_and_nothing_else() {
        let xoauth = b64(b"user=bob@example.com\x01auth=Bearer ya29.TOKEN\x01\x01");
        let oauthbearer = b64(b"n,a=carol@example.com,\x01host=x\x01auth=Bearer TOKEN2\x01\x01");
        let mut t = transcript(&[
            ("C", "EHLO me"),
            ("S", "250 ok"),
            ("C", "AUTH LOGIN"),
            ("S", "334 VXNlcm5hbWU6"),
            ("C", &b64(b"dave")),
            ("S", "334 UGFzc3dvcmQ6"),
            ("C", &b64(b"hunter2")),
            ("S", "535 5.7.8 no"),
            ("C", "AUTH CRAM-MD5"),
            ("S", "334 PDEyMz4="),
            ("C", &b64(b"erin 0123456789abcdef0123456789abcdef")),
            ("S", "535 5.7.8 no"),
            ("C", &format!("AUTH XOAUTH2 {xoauth}")),
            ("S", "334 eyJzdGF0dXMiOiI0MDEifQ=="),
            ("C", ""),
            ("S", "535 5.7.8 no"),
            ("C", &format!("AUTH OAUTHBEARER {oauthbearer}")),
            ("S", "334 eyJzdGF0dXMiOiI0MDEifQ=="),
            ("C", "AQ=="),
            ("S", "535 5.7.8 no"),
            ("C", "AUTH SCRAM-SHA-256 biwsbj1mcmFuayxyPW5vbmNl"),
            ("S", "334 cj1ub25jZXNlcnZlcixzPXNhbHQsaT00MDk2"),
            ("C", &b64(b"c=biws,r=noncesrv,p=UFJPT0Y=")),
            ("S", "334 dj1zaWc="),
            ("C", ""),
            ("S", "235 2.7.0 ok"),
            ("C", "AUTH PLAIN"),
            ("S", "334 "),
            ("C", "*"),
            ("S", "501 5.0.0 cancelled"),
            ("C", &b64(b"not a SASL line: the exchange is over")),
        ]);
        t.redact_secrets();
        let lines = client_lines(&t);
        let fp = |s: &[u8]| fingerprint(s);
        assert_eq!(
            lines,
            [
                "EHLO me".to_owned(),
                "AUTH LOGIN".to_owned(),
                b64(b"dave"),
                format!("[redacted: password sha256:{}]", fp(b"hunter2")),
                "AUTH CRAM-MD5".to_owned(),
                format!(
                    "[redacted: user \"erin\", digest sha256:{}]",
                    fp(b"0123456789abcdef0123456789abcdef")
                ),
                format!(
                    "AUTH XOAUTH2 [redacted: user \"bob@example.com\", token sha256:{}]",
                    fp(b"ya29.TOKEN")
                ),
                String::new(),
                format!(
                    "AUTH OAUTHBEARER [redacted: user \"carol@example.com\", token sha256:{}]",
                    fp(b"TOKEN2")
                ),
                "AQ==".to_owned(),
                "AUTH SCRAM-SHA-256 biwsbj1mcmFuayxyPW5vbmNl".to_owned(),
                format!("[redacted: proof sha256:{}]", fp(b"UFJPT0Y=")),
                String::new(),
                "AUTH PLAIN".to_owned(),
                "*".to_owned(),
                b64(b"not a SASL line: the exchange is over"),
            ]
        );
        let rendered = t.render(false);
        for secret in ["aHVudGVyMg", "ya29", "VE9LRU4y", "UFJPT0Y"] {
            assert!(!rendered.contains(secret), "{secret} in {rendered}");
        }
    }

    #[test]
    fn a_password_in_the_clear_and_an_authorization_identity() {
        let mut t = transcript(&[
            ("C", "auth plain"),
            ("S", "334 "),
            ("C", "alice wonderland"),
            ("S", "501 5.5.2 Cannot decode response"),
            ("C", &format!("AUTH PLAIN {}", b64(b"admin\0alice\0pw"))),
        ]);
        t.redact_secrets();
        let lines = client_lines(&t);
        assert_eq!(
            lines[1],
            format!(
                "[redacted: not base64, sha256:{}]",
                fingerprint(b"alice wonderland")
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "AUTH PLAIN [redacted: user \"alice\", password sha256:{}, as \"admin\"]",
                fingerprint(b"pw")
            )
        );
    }
}
