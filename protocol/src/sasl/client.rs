//! The client side of one AUTH exchange, for the reference client: [`ClientExchange`] gives
//! the initial response (for client-first mechanisms) and answers each `334` challenge.
//!
//! Any `Err` means the client must stop: send [`CANCEL`](super::CANCEL) (`*`) if the server is
//! waiting for a response (C-4954-CANCEL-ON-BAD-CHALLENGE), or treat a `235` as a failure
//! when [`ClientExchange::finish`] refuses it (SCRAM's server signature, C-5802-SERVER-
//! SIGNATURE).

use std::fmt;

use super::scram::{self, ClientSetup, ScramHash, DEFAULT_ITERATIONS};
use super::{cram_md5, decode, login, oauth, plain, Base64Error, Mechanism, Redacted};

/// What the client proves itself with.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// PLAIN, LOGIN, CRAM-MD5, SCRAM.
    Password(String),
    /// XOAUTH2, OAUTHBEARER.
    BearerToken(String),
}

/// Who the client is.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, if not the user's own (PLAIN, SCRAM; OAUTHBEARER's `a=`).
    pub authzid: Option<String>,
    pub username: String,
    pub secret: Secret,
}

impl Credentials {
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            authzid: None,
            username: username.into(),
            secret: Secret::Password(password.into()),
        }
    }

    pub fn bearer(username: impl Into<String>, token: impl Into<String>) -> Credentials {
        Credentials {
            authzid: None,
            username: username.into(),
            secret: Secret::BearerToken(token.into()),
        }
    }

    pub fn with_authzid(mut self, authzid: impl Into<String>) -> Credentials {
        self.authzid = Some(authzid.into());
        self
    }
}

/// Shows the user, not the secret.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, length) = match &self.secret {
            Secret::Password(p) => ("password", p.len()),
            Secret::BearerToken(t) => ("bearer token", t.len()),
        };
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field(kind, &Redacted(length))
            .finish()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(p) => f.debug_tuple("Password").field(&Redacted(p.len())).finish(),
            Secret::BearerToken(t) => f
                .debug_tuple("BearerToken")
                .field(&Redacted(t.len()))
                .finish(),
        }
    }
}

/// SCRAM's gs2 channel-binding flag for a client that does not bind (RFC 5802 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChannelBindingFlag {
    /// `n`: the client does not support channel binding.
    #[default]
    NotSupported,
    /// `y`: the client supports it but the server does not appear to (no -PLUS offered).
    ServerDoesNotSupport,
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// OAUTHBEARER's `host` key (RFC 7628 §3.1): the host name the client connected to.
    pub oauth_host: Option<String>,
    /// OAUTHBEARER's `port` key.
    pub oauth_port: Option<u16>,
    /// SCRAM: the least iteration count accepted from a server (RFC 7677 §4: "SHOULD be at
    /// least 4096"; a lower count makes an offline attack on an eavesdropped exchange cheaper).
    pub scram_min_iterations: u32,
    /// SCRAM: the largest count accepted, against "a computational denial-of-service attack on
    /// clients by sending a big iteration count value" (RFC 5802 §9). Default 1 000 000.
    pub scram_max_iterations: u32,
    pub scram_channel_binding: ChannelBindingFlag,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            oauth_host: None,
            oauth_port: None,
            scram_min_iterations: DEFAULT_ITERATIONS,
            scram_max_iterations: 1_000_000,
            scram_channel_binding: ChannelBindingFlag::default(),
        }
    }
}

/// Why the client cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("{mechanism} needs a {needed}")]
    WrongSecret {
        mechanism: Mechanism,
        needed: &'static str,
    },
    #[error("the credentials cannot be sent with {mechanism}: {problem}")]
    InvalidCredentials {
        mechanism: Mechanism,
        problem: &'static str,
    },
    #[error("the SCRAM client nonce must be printable ASCII without ','")]
    BadNonce,
    #[error("the user name or password fails SASLprep (RFC 4013)")]
    Saslprep,
    /// C-4954-CANCEL-ON-BAD-CHALLENGE: the client MUST cancel.
    #[error("cannot decode the server's challenge: {0}")]
    BadChallenge(Base64Error),
    #[error("the server sent a challenge the mechanism does not expect here")]
    UnexpectedChallenge,
    #[error("malformed server message: {0}")]
    Malformed(&'static str),
    /// SCRAM: the server's nonce does not start with the client's (RFC 5802 §5.1).
    #[error("the server's nonce does not extend the client's")]
    NonceMismatch,
    #[error("the server's iteration count {count} is outside {min}..={max}")]
    IterationCount { count: u32, min: u32, max: u32 },
    #[error("the server requires a SCRAM extension this client does not know")]
    MandatoryExtension,
    /// SCRAM server-final `e=...`.
    #[error("the server reported a SCRAM error: {0}")]
    ServerError(String),
    /// SCRAM: the server does not know the password (RFC 5802 §5).
    #[error("the server's signature is wrong: it did not prove it knows the password")]
    ServerSignatureMismatch,
    /// SCRAM: the server said 235 before proving itself with `v=`.
    #[error("the server reported success without authenticating itself")]
    ServerNotAuthenticated,
}

#[derive(Debug)]
enum Kind {
    /// PLAIN, XOAUTH2, OAUTHBEARER: everything is in the first message.
    OneMessage,
    Login {
        username: String,
        password: String,
    },
    CramMd5 {
        username: String,
        password: String,
    },
    Scram(Box<scram::Client>),
}

/// One AUTH exchange on the client side.
#[derive(Debug)]
pub struct ClientExchange {
    mechanism: Mechanism,
    kind: Kind,
    /// The client-first message while it has not been sent.
    first: Option<Vec<u8>>,
    /// Challenges answered since the first message.
    challenges: usize,
    server_error: Option<Vec<u8>>,
    failed: bool,
}

impl ClientExchange {
    /// Prepares an exchange. `nonce` is SCRAM's client nonce (printable ASCII without ',',
    /// from the caller's random source; unused by the other mechanisms).
    pub fn new(
        mechanism: Mechanism,
        credentials: &Credentials,
        nonce: &str,
        options: &ClientOptions,
    ) -> Result<ClientExchange, ClientError> {
        let invalid = |problem| ClientError::InvalidCredentials { mechanism, problem };
        let secret = match (&credentials.secret, mechanism.uses_password()) {
            (Secret::Password(password), true) | (Secret::BearerToken(password), false) => {
                password.as_str()
            }
            (_, true) => {
                return Err(ClientError::WrongSecret {
                    mechanism,
                    needed: "password",
                })
            }
            (_, false) => {
                return Err(ClientError::WrongSecret {
                    mechanism,
                    needed: "bearer token",
                })
            }
        };
        let username = credentials.username.as_str();
        let authzid = credentials.authzid.as_deref();
        let no_authzid = || match authzid {
            Some(_) => Err(invalid(
                "the mechanism cannot carry an authorization identity",
            )),
            None => Ok(()),
        };
        let (kind, first) = match mechanism {
            Mechanism::Plain => (
                Kind::OneMessage,
                Some(plain::message(authzid, username, secret).map_err(invalid)?),
            ),
            Mechanism::Login => {
                no_authzid()?;
                login::check_credentials(username, secret).map_err(invalid)?;
                let kind = Kind::Login {
                    username: username.to_owned(),
                    password: secret.to_owned(),
                };
                (kind, None)
            }
            Mechanism::CramMd5 => {
                no_authzid()?;
                if username.is_empty() || username.chars().any(char::is_control) {
                    return Err(invalid("the user name is empty or has control characters"));
                }
                let kind = Kind::CramMd5 {
                    username: username.to_owned(),
                    password: secret.to_owned(),
                };
                (kind, None)
            }
            Mechanism::XOAuth2 => {
                no_authzid()?;
                if username.is_empty() {
                    return Err(invalid("XOAUTH2 needs a user name"));
                }
                oauth::check_client_fields(username, secret).map_err(invalid)?;
                (
                    Kind::OneMessage,
                    Some(oauth::xoauth2_message(username, secret)),
                )
            }
            Mechanism::OAuthBearer => {
                let user = authzid.unwrap_or(username);
                oauth::check_client_fields(user, secret).map_err(invalid)?;
                if let Some(host) = options.oauth_host.as_deref() {
                    oauth::check_client_value(host).map_err(invalid)?;
                }
                let message = oauth::oauthbearer_message(
                    user,
                    options.oauth_host.as_deref(),
                    options.oauth_port,
                    secret,
                );
                (Kind::OneMessage, Some(message))
            }
            Mechanism::ScramSha1 | Mechanism::ScramSha256 => {
                // A saslname cannot carry NUL (RFC 5802 §7); the server refuses the message
                // (found by fuzzing). The user name is checked by SASLprep.
                if authzid.is_some_and(|a| a.contains('\0')) {
                    return Err(invalid("the authorization identity contains NUL"));
                }
                let client = scram::Client::new(ClientSetup {
                    hash: ScramHash::of(mechanism).unwrap_or(ScramHash::Sha256),
                    authzid,
                    username,
                    password: secret,
                    nonce,
                    flag: options.scram_channel_binding,
                    min_iterations: options.scram_min_iterations,
                    max_iterations: options.scram_max_iterations,
                })?;
                let first = client.first_message();
                (Kind::Scram(Box::new(client)), Some(first))
            }
        };
        Ok(ClientExchange {
            mechanism,
            kind,
            first,
            challenges: 0,
            server_error: None,
            failed: false,
        })
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response to put on the `AUTH` line (encode it with
    /// [`encode_initial_response`](super::encode_initial_response)), for client-first
    /// mechanisms; `None` for LOGIN and CRAM-MD5, or once taken. A client that does not send
    /// it (because the line would pass 512 octets, C-4954-IR-LENGTH) sends `AUTH <mechanism>`
    /// and gets asked for it by an empty `334 `, which [`ClientExchange::respond`] answers.
    pub fn initial_response(&mut self) -> Option<Vec<u8>> {
        self.first.take()
    }

    /// Answers a `334` challenge given as its text (the base64 after `334 `). The result is the
    /// response to send, to be encoded with [`encode`](super::encode) (an empty response is an
    /// empty line).
    pub fn respond(&mut self, challenge: &str) -> Result<Vec<u8>, ClientError> {
        match decode(challenge.as_bytes()) {
            Ok(challenge) => self.respond_decoded(&challenge),
            Err(error) => {
                self.failed = true;
                Err(ClientError::BadChallenge(error))
            }
        }
    }

    /// [`ClientExchange::respond`] with the challenge already decoded.
    pub fn respond_decoded(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        if self.failed {
            return Err(ClientError::UnexpectedChallenge);
        }
        let result = self.next_response(challenge);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn next_response(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        if let Some(first) = self.first.take() {
            // RFC 4422 §5: without an initial response, a client-first mechanism is asked for
            // its first message with an empty challenge.
            return if challenge.is_empty() {
                Ok(first)
            } else {
                Err(ClientError::UnexpectedChallenge)
            };
        }
        let index = self.challenges;
        self.challenges += 1;
        match &mut self.kind {
            Kind::Login { username, password } => login::client_response(index, username, password)
                .ok_or(ClientError::UnexpectedChallenge),
            Kind::CramMd5 { username, password } if index == 0 => {
                Ok(cram_md5::response(username, password, challenge))
            }
            Kind::Scram(client) => client.respond(challenge),
            // XOAUTH2 / OAUTHBEARER: a challenge after the message is the error result; the
            // client acknowledges it so that the server can fail the exchange.
            Kind::OneMessage if index == 0 && self.mechanism != Mechanism::Plain => {
                self.server_error = Some(challenge.to_vec());
                Ok(match self.mechanism {
                    // Google: "The client sends an empty response".
                    Mechanism::XOAuth2 => Vec::new(),
                    // RFC 7628 §3.2.3: "a single %x01 (control A) character".
                    _ => vec![0x01],
                })
            }
            _ => Err(ClientError::UnexpectedChallenge),
        }
    }

    /// Call when the server replies 235: SCRAM refuses it unless the server proved itself
    /// with a correct `v=` (RFC 5802 §5); the other mechanisms have nothing to check.
    pub fn finish(&self) -> Result<(), ClientError> {
        match &self.kind {
            Kind::Scram(client) if !client.is_verified() => {
                Err(ClientError::ServerNotAuthenticated)
            }
            _ => Ok(()),
        }
    }

    /// The error result of XOAUTH2 / OAUTHBEARER (JSON), once the server sent one.
    pub fn server_error(&self) -> Option<&[u8]> {
        self.server_error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(mechanism: Mechanism, credentials: &Credentials) -> Result<ClientExchange, ClientError> {
        ClientExchange::new(mechanism, credentials, "nonce", &ClientOptions::default())
    }

    #[test]
    fn the_secret_must_fit_the_mechanism() {
        let password = Credentials::password("tim", "secret");
        let token = Credentials::bearer("tim", "token");
        for mechanism in Mechanism::ALL {
            let (right, wrong) = if mechanism.uses_password() {
                (&password, &token)
            } else {
                (&token, &password)
            };
            assert!(new(mechanism, right).is_ok(), "{mechanism}");
            assert!(
                matches!(new(mechanism, wrong), Err(ClientError::WrongSecret { .. })),
                "{mechanism}"
            );
        }
    }

    #[test]
    fn credentials_the_mechanism_cannot_carry_are_refused() {
        let with_authzid = Credentials::password("tim", "secret").with_authzid("admin");
        for mechanism in [Mechanism::Login, Mechanism::CramMd5] {
            assert!(new(mechanism, &with_authzid).is_err(), "{mechanism}");
        }
        assert!(new(Mechanism::Plain, &with_authzid).is_ok());
        assert!(new(Mechanism::Plain, &Credentials::password("t\0m", "x")).is_err());
        assert!(new(Mechanism::Login, &Credentials::password("tim", "a\r\nb")).is_err());
        assert!(new(Mechanism::XOAuth2, &Credentials::bearer("tim", "to\x01ken")).is_err());
        assert!(new(Mechanism::XOAuth2, &Credentials::bearer("", "token")).is_err());
        assert!(new(Mechanism::OAuthBearer, &Credentials::bearer("", "")).is_err());
        assert_eq!(
            ClientExchange::new(
                Mechanism::ScramSha256,
                &Credentials::password("tim", "x"),
                "a,b",
                &ClientOptions::default()
            )
            .map(|_| ()),
            Err(ClientError::BadNonce)
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let credentials = Credentials::password("tim", "tanstaaftanstaaf");
        let debug = format!("{credentials:?} {:?}", credentials.secret);
        assert!(
            debug.contains("tim") && !debug.contains("tanstaaf"),
            "{debug}"
        );
    }

    #[test]
    fn a_bad_challenge_fails_the_exchange_for_good() {
        let mut client = new(Mechanism::Login, &Credentials::password("tim", "x")).expect("new");
        assert!(matches!(
            client.respond("not*base64!"),
            Err(ClientError::BadChallenge(_))
        ));
        assert_eq!(
            client.respond("VXNlcm5hbWU6"),
            Err(ClientError::UnexpectedChallenge)
        );
    }
}
