//! The server side of one AUTH exchange: [`ServerExchange`] decodes each client line (strict
//! base64, `*` to cancel), hands the octets to the chosen mechanism and returns what the
//! session has to do next as a [`ServerStep`].
//!
//! The steps that need the session's knowledge of users are questions, not callbacks: SCRAM
//! asks for the user's secret ([`ServerStep::NeedSecret`], answered with
//! [`ServerExchange::provide_secret`]); the other mechanisms present what the client claims
//! ([`ServerStep::Verify`], answered with [`ServerExchange::verdict`]). So the exchange never
//! blocks on a user database and the session can look users up however it likes.

use std::fmt;

use super::cram_md5::{self, CramMd5Claim};
use super::login::{self, LoginInitialResponse, LoginPrompts};
use super::oauth::{self, BearerClaim};
use super::plain::{self, PasswordClaim};
use super::scram::{self, UserSecret};
use super::{decode_initial_response, decode_response, Base64Error, ClientLine, Mechanism};

/// Settings of the server side that stay the same from one exchange to the next (a listener's
/// or a scenario's configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// The two LOGIN challenges (S-LOGIN-SERVER).
    pub login_prompts: LoginPrompts,
    /// What to do with `AUTH LOGIN <initial-response>` (S-4954-IR-SERVER-FIRST).
    pub login_initial_response: LoginInitialResponse,
    /// The JSON sent in the XOAUTH2 error challenge (S-XOAUTH2-SERVER).
    pub xoauth2_error: String,
    /// The JSON sent in the OAUTHBEARER error challenge (RFC 7628 §3.2.2, S-7628-SERVER).
    pub oauthbearer_error: String,
    /// SCRAM: the lowest iteration count the server will announce. A secret with fewer
    /// iterations is refused as [`ServerFailure::UnusableSecret`]. RFC 5802 §5.1 and RFC 7677
    /// §3: "SHOULD be at least 4096". Lower it only to test how clients react.
    pub scram_min_iterations: u32,
    /// SCRAM: when the client-final message fails (bad proof, nonce or channel binding), send
    /// a server-final `e=...` as a challenge first, then fail on the client's next line. RFC
    /// 5802 §5.1 makes that message optional; off by default, so a failure is one round-trip.
    pub scram_error_challenge: bool,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            login_prompts: LoginPrompts::default(),
            login_initial_response: LoginInitialResponse::default(),
            xoauth2_error: oauth::DEFAULT_XOAUTH2_ERROR.to_owned(),
            oauthbearer_error: oauth::DEFAULT_OAUTHBEARER_ERROR.to_owned(),
            scram_min_iterations: scram::DEFAULT_ITERATIONS,
            scram_error_challenge: false,
        }
    }
}

/// What one exchange needs from the caller's clock and random source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerContext {
    cram_md5_challenge: String,
    scram_nonce: String,
}

/// A nonce the mechanisms cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("the nonce is empty")]
    Empty,
    /// SCRAM nonces are printable ASCII without ',' (RFC 5802 §7 `printable`); the random part
    /// of a CRAM-MD5 challenge must also fit a msg-id's local part (RFC 2195 §2).
    #[error("the nonce contains {0:?}, which the mechanism cannot carry")]
    BadCharacter(char),
}

impl ServerContext {
    /// Builds the CRAM-MD5 challenge `<random.timestamp@hostname>` (RFC 2195 §2, S-2195-SERVER)
    /// and uses `random` as the server's SCRAM nonce. `random` must be non-empty and made of
    /// RFC 5322 `atext` characters (letters, digits and ``!#$%&'*+-/=?^_`{|}~``), which covers
    /// base64 and hex; `timestamp` is whatever the caller's clock says (seconds are usual).
    pub fn new(hostname: &str, random: &str, timestamp: u64) -> Result<ServerContext, NonceError> {
        if random.is_empty() {
            return Err(NonceError::Empty);
        }
        if let Some(bad) = random.chars().find(|&c| !is_atext(c)) {
            return Err(NonceError::BadCharacter(bad));
        }
        Ok(ServerContext {
            cram_md5_challenge: cram_md5::challenge(random, timestamp, hostname),
            scram_nonce: random.to_owned(),
        })
    }

    /// Replaces the CRAM-MD5 challenge with any text (a scenario may want an odd one).
    pub fn with_cram_md5_challenge(mut self, challenge: impl Into<String>) -> ServerContext {
        self.cram_md5_challenge = challenge.into();
        self
    }

    /// Replaces the server's part of the SCRAM nonce (RFC 5802 §7 `printable`).
    pub fn with_scram_nonce(
        mut self,
        nonce: impl Into<String>,
    ) -> Result<ServerContext, NonceError> {
        let nonce = nonce.into();
        scram::check_nonce(&nonce)?;
        self.scram_nonce = nonce;
        Ok(self)
    }

    pub fn cram_md5_challenge(&self) -> &str {
        &self.cram_md5_challenge
    }

    pub fn scram_nonce(&self) -> &str {
        &self.scram_nonce
    }
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// What the session does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStep {
    /// Send `334 ` followed by the base64 of these octets (nothing after the space when
    /// empty), then pass the client's next line to [`ServerExchange::respond`].
    Challenge(Vec<u8>),
    /// SCRAM: look up this user and answer with [`ServerExchange::provide_secret`]. The
    /// username has been unescaped (`=2C`, `=3D`) and prepared with SASLprep (RFC 5802 §5.1).
    NeedSecret {
        username: String,
        authzid: Option<String>,
    },
    /// Check what the client claims and answer with [`ServerExchange::verdict`].
    Verify(Claim),
    /// Authenticated: reply 235.
    Success(Identity),
    /// The exchange is over and failed.
    Failure(ServerFailure),
}

/// What a client claims, for the session to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// PLAIN and LOGIN: the password itself.
    Password(PasswordClaim),
    /// CRAM-MD5: a keyed digest of the challenge, checked against a password.
    CramMd5(CramMd5Claim),
    /// XOAUTH2 and OAUTHBEARER: a bearer token.
    Bearer(BearerClaim),
}

impl Claim {
    /// The user the client names, when it names one (OAUTHBEARER may leave that to the token).
    pub fn username(&self) -> Option<&str> {
        match self {
            Claim::Password(claim) => Some(&claim.username),
            Claim::CramMd5(claim) => Some(&claim.username),
            Claim::Bearer(claim) => claim.user.as_deref(),
        }
    }
}

/// Who authenticated. `authzid` is the identity the client asked to act as, when it asked for
/// one other than its own (RFC 4422 §3.4.1); `username` is the authentication identity, absent
/// only for OAUTHBEARER without `a=`, where the token alone says who the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub authzid: Option<String>,
    pub username: Option<String>,
}

/// Why an exchange failed. See the module documentation for the SMTP reply of each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerFailure {
    #[error("the client cancelled the authentication")]
    Cancelled,
    #[error("cannot decode the client's response: {0}")]
    BadBase64(Base64Error),
    /// An initial response with a server-first mechanism (RFC 4954 §4).
    #[error("{0} does not allow an initial response")]
    InitialResponseNotAllowed(Mechanism),
    /// The message decoded but does not follow the mechanism's grammar.
    #[error("malformed {mechanism} message: {problem}")]
    Malformed {
        mechanism: Mechanism,
        problem: &'static str,
    },
    /// SCRAM `m=` (RFC 5802 §5.1: "MUST cause authentication failure").
    #[error("the client requires a SCRAM extension this server does not know")]
    MandatoryExtension,
    /// A `p=` gs2 flag: no -PLUS mechanism is offered, so there is nothing to bind to (RFC 5802
    /// §6: "the server MUST fail authentication").
    #[error("the client requires channel binding, which this server does not offer")]
    ChannelBindingNotSupported,
    /// SCRAM `c=` is not the gs2 header of the client's first message (RFC 5802 §6).
    #[error("the channel binding data does not match the gs2 header")]
    ChannelBindingMismatch,
    /// SCRAM `r=` in the client-final message differs from the server-first nonce.
    #[error("the nonce in the client's final message is not the one the server sent")]
    NonceMismatch,
    #[error("unknown user")]
    UnknownUser,
    /// Wrong password, digest, proof or token.
    #[error("authentication credentials invalid")]
    CredentialsInvalid,
    /// The secret given to [`ServerExchange::provide_secret`] cannot be used.
    #[error("the stored secret cannot be used: {0}")]
    UnusableSecret(&'static str),
    /// A method was called that the last step did not ask for: a bug in the caller.
    #[error("{0} was called when the exchange did not expect it")]
    UnexpectedCall(&'static str),
}

impl ServerFailure {
    pub(crate) fn malformed(mechanism: Mechanism, problem: &'static str) -> ServerFailure {
        ServerFailure::Malformed { mechanism, problem }
    }
}

/// One mechanism's server side. The exchange makes sure each method is only called when the
/// previous step asked for it.
pub(crate) trait ServerMechanism: fmt::Debug + Send {
    /// Whether `AUTH <mechanism> <initial-response>` is allowed.
    fn accepts_initial_response(&self) -> bool;
    /// The first step; `initial` is the decoded initial response, if the client sent one.
    fn start(&mut self, initial: Option<Vec<u8>>) -> ServerStep;
    /// The next step after a client response to a challenge.
    fn respond(&mut self, data: Vec<u8>) -> ServerStep;
    /// After [`ServerStep::Verify`].
    fn verdict(&mut self, _accept: bool) -> ServerStep {
        ServerStep::Failure(ServerFailure::UnexpectedCall("verdict"))
    }
    /// After [`ServerStep::NeedSecret`].
    fn provide_secret(&mut self, _secret: Option<UserSecret>) -> ServerStep {
        ServerStep::Failure(ServerFailure::UnexpectedCall("provide_secret"))
    }
}

/// What the exchange waits for, from the last step it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Response,
    Secret,
    Verdict,
    Nothing,
}

/// One AUTH exchange on the server side. Start it with [`ServerExchange::start`], then answer
/// each [`ServerStep`] with the method it names until `Success` or `Failure`.
#[derive(Debug)]
pub struct ServerExchange {
    mechanism: Mechanism,
    inner: Box<dyn ServerMechanism>,
    awaiting: Awaiting,
}

impl ServerExchange {
    /// Starts an exchange for `AUTH mechanism [initial_response]`; `initial_response` is the
    /// text after the mechanism name, still base64 (or `=`).
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&str>,
        options: &ServerOptions,
        context: &ServerContext,
    ) -> (ServerExchange, ServerStep) {
        let inner: Box<dyn ServerMechanism> = match mechanism {
            Mechanism::Plain => Box::new(plain::Server::new()),
            Mechanism::Login => Box::new(login::Server::new(options)),
            Mechanism::CramMd5 => Box::new(cram_md5::Server::new(context.cram_md5_challenge())),
            Mechanism::XOAuth2 => Box::new(oauth::Server::xoauth2(options)),
            Mechanism::OAuthBearer => Box::new(oauth::Server::oauthbearer(options)),
            Mechanism::ScramSha1 | Mechanism::ScramSha256 => Box::new(scram::Server::new(
                mechanism,
                options,
                context.scram_nonce(),
            )),
        };
        let mut exchange = ServerExchange {
            mechanism,
            inner,
            awaiting: Awaiting::Nothing,
        };
        let step = match initial_response {
            // RFC 4954 §4: refuse before decoding, so the client learns the real reason.
            Some(_) if !exchange.inner.accepts_initial_response() => {
                ServerStep::Failure(ServerFailure::InitialResponseNotAllowed(mechanism))
            }
            Some(text) => match decode_initial_response(text) {
                Ok(data) => exchange.inner.start(Some(data)),
                Err(error) => ServerStep::Failure(ServerFailure::BadBase64(error)),
            },
            None => exchange.inner.start(None),
        };
        let step = exchange.track(step);
        (exchange, step)
    }

    /// Feeds the client's line (without CRLF) after a [`ServerStep::Challenge`].
    pub fn respond(&mut self, line: &[u8]) -> ServerStep {
        if self.awaiting != Awaiting::Response {
            return self.misuse("respond");
        }
        let step = match decode_response(line) {
            Ok(ClientLine::Cancel) => ServerStep::Failure(ServerFailure::Cancelled),
            Ok(ClientLine::Data(data)) => self.inner.respond(data),
            Err(error) => ServerStep::Failure(ServerFailure::BadBase64(error)),
        };
        self.track(step)
    }

    /// Answers [`ServerStep::NeedSecret`]: the user's secret, or `None` for an unknown user
    /// (which fails at once with [`ServerFailure::UnknownUser`]; a session that wants to hide
    /// which users exist can pass a made-up secret instead, and the proof will fail).
    pub fn provide_secret(&mut self, secret: Option<UserSecret>) -> ServerStep {
        if self.awaiting != Awaiting::Secret {
            return self.misuse("provide_secret");
        }
        let step = self.inner.provide_secret(secret);
        self.track(step)
    }

    /// Answers [`ServerStep::Verify`]: whether the claim holds (and the authzid, if any, may be
    /// used). A refused bearer token leads to the error challenge of XOAUTH2 / OAUTHBEARER.
    pub fn verdict(&mut self, accept: bool) -> ServerStep {
        if self.awaiting != Awaiting::Verdict {
            return self.misuse("verdict");
        }
        let step = self.inner.verdict(accept);
        self.track(step)
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange has returned `Success` or `Failure`.
    pub fn is_finished(&self) -> bool {
        self.awaiting == Awaiting::Nothing
    }

    fn track(&mut self, step: ServerStep) -> ServerStep {
        self.awaiting = match step {
            ServerStep::Challenge(_) => Awaiting::Response,
            ServerStep::NeedSecret { .. } => Awaiting::Secret,
            ServerStep::Verify(_) => Awaiting::Verdict,
            ServerStep::Success(_) | ServerStep::Failure(_) => Awaiting::Nothing,
        };
        step
    }

    fn misuse(&mut self, method: &'static str) -> ServerStep {
        self.awaiting = Awaiting::Nothing;
        ServerStep::Failure(ServerFailure::UnexpectedCall(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ServerContext {
        ServerContext::new("postoffice.reston.mci.net", "1896", 697170952).expect("context")
    }

    #[test]
    fn context_builds_the_cram_md5_challenge_and_checks_nonces() {
        let context = context();
        assert_eq!(
            context.cram_md5_challenge(),
            "<1896.697170952@postoffice.reston.mci.net>"
        );
        assert_eq!(context.scram_nonce(), "1896");
        assert_eq!(ServerContext::new("h", "", 1), Err(NonceError::Empty));
        assert_eq!(
            ServerContext::new("h", "a,b", 1),
            Err(NonceError::BadCharacter(','))
        );
        assert_eq!(
            ServerContext::new("h", "a@b", 1),
            Err(NonceError::BadCharacter('@'))
        );
        // RFC 7677's server nonce has characters outside atext but is a valid SCRAM nonce.
        let context = context
            .with_scram_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
            .expect("printable");
        assert_eq!(context.scram_nonce(), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        assert!(context.clone().with_scram_nonce("a b").is_err());
        assert!(context.with_scram_nonce("").is_err());
    }

    #[test]
    fn methods_called_out_of_turn_end_the_exchange_without_panicking() {
        let options = ServerOptions::default();
        let (mut exchange, step) =
            ServerExchange::start(Mechanism::Plain, None, &options, &context());
        assert_eq!(step, ServerStep::Challenge(Vec::new()));
        assert_eq!(
            exchange.verdict(true),
            ServerStep::Failure(ServerFailure::UnexpectedCall("verdict"))
        );
        assert!(exchange.is_finished());
        assert_eq!(
            exchange.respond(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
            ServerStep::Failure(ServerFailure::UnexpectedCall("respond"))
        );
        assert_eq!(
            exchange.provide_secret(None),
            ServerStep::Failure(ServerFailure::UnexpectedCall("provide_secret"))
        );
    }

    #[test]
    fn an_initial_response_on_a_server_first_mechanism_is_refused_before_decoding() {
        let options = ServerOptions::default();
        for text in ["dGlt", "not base64!"] {
            let (exchange, step) =
                ServerExchange::start(Mechanism::CramMd5, Some(text), &options, &context());
            assert_eq!(
                step,
                ServerStep::Failure(ServerFailure::InitialResponseNotAllowed(Mechanism::CramMd5))
            );
            assert!(exchange.is_finished());
        }
    }
}
