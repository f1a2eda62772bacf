//! SCRAM (RFC 5802) with SHA-1, and with SHA-256 (RFC 7677), without channel binding: the
//! -PLUS variants are not offered, so a client asking for binding (`p=`) is refused.
//!
//! ```text
//! C: n,,n=user,r=<client nonce>                         client-first (gs2 header + bare)
//! S: r=<client nonce><server nonce>,s=<salt>,i=<count>  server-first
//! C: c=biws,r=<both nonces>,p=<ClientProof>             client-final
//! S: v=<ServerSignature>                                server-final, a 334 in SMTP
//! C: (empty line)                                       then 235
//! ```
//!
//! SMTP cannot carry data with a success reply (RFC 4954 §4), so the server-final message is
//! a challenge that the client acknowledges with an empty line (C-5802-SMTP-FINAL-STEP).
//!
//! SASLprep (RFC 4013) is applied with the `stringprep` crate: to passwords as stored strings
//! (RFC 5802 §2.2) and to user names. That crate always prohibits unassigned code points, so
//! a user name holding one is refused where RFC 5802 §5.1 (a "query" string) would let it
//! through, and its normalisation uses the Unicode version of `unicode-normalization` rather
//! than Unicode 3.2. Both only matter for non-ASCII names and passwords.

use std::fmt;

use hmac::Hmac;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::client::{ChannelBindingFlag, ClientError};
use super::server::{
    Identity, NonceError, ServerFailure, ServerMechanism, ServerOptions, ServerStep,
};
use super::{
    constant_time_eq, decode, decode_saslname, encode, encode_saslname, hmac, Mechanism, Redacted,
};

/// The iteration count RFC 5802 §5.1 and RFC 7677 §3 give as the least a server SHOULD
/// announce; the default of [`ServerOptions::scram_min_iterations`] and of the client's check.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramHash {
    Sha1,
    Sha256,
}

impl ScramHash {
    pub fn of(mechanism: Mechanism) -> Option<ScramHash> {
        match mechanism {
            Mechanism::ScramSha1 => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 => Some(ScramHash::Sha256),
            _ => None,
        }
    }

    /// Octets of H() and HMAC() output: the length of every key, proof and signature.
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => hmac::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => hmac::<Hmac<Sha256>>(key, parts),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha1 => Sha1::digest(data).to_vec(),
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802 §2.2, which is PBKDF2 with HMAC as the PRF. The
    /// password must already be normalised.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0u8; self.output_len()];
        match self {
            ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out),
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
        }
        out
    }
}

/// `Normalize(password)` of RFC 5802 §2.2: SASLprep as a stored string.
fn normalize(password: &str) -> Option<String> {
    stringprep::saslprep(password).ok().map(|p| p.into_owned())
}

/// What the server keeps for a user (RFC 5802 §2.1 "authentication information"): salt,
/// iteration count, StoredKey and ServerKey. It cannot log in as the user with these.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    hash: ScramHash,
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// Why keys could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("the password fails SASLprep (RFC 4013)")]
    Saslprep,
    #[error("the iteration count must be at least 1")]
    ZeroIterations,
    #[error("a key does not have the hash's output length")]
    KeyLength,
}

impl ScramKeys {
    /// Derives the keys from a password (SASLprep, then PBKDF2 as RFC 5802 §3 lays out).
    pub fn derive(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramKeys, KeysError> {
        if iterations == 0 {
            return Err(KeysError::ZeroIterations);
        }
        let password = normalize(password).ok_or(KeysError::Saslprep)?;
        let salted = hash.salted_password(password.as_bytes(), salt, iterations);
        ScramKeys::from_salted_password(hash, &salted, salt, iterations)
    }

    /// Keys from a SaltedPassword (`Hi(Normalize(password), salt, i)`) kept instead of the
    /// password: RFC 5802 §3 lets either side start from it.
    pub fn from_salted_password(
        hash: ScramHash,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramKeys, KeysError> {
        if iterations == 0 {
            return Err(KeysError::ZeroIterations);
        }
        if salted_password.len() != hash.output_len() {
            return Err(KeysError::KeyLength);
        }
        let client_key = hash.hmac(salted_password, &[b"Client Key"]);
        Ok(ScramKeys {
            hash,
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.hash(&client_key),
            server_key: hash.hmac(salted_password, &[b"Server Key"]),
        })
    }

    /// Keys that were stored earlier.
    pub fn from_stored(
        hash: ScramHash,
        salt: Vec<u8>,
        iterations: u32,
        stored_key: Vec<u8>,
        server_key: Vec<u8>,
    ) -> Result<ScramKeys, KeysError> {
        if iterations == 0 {
            return Err(KeysError::ZeroIterations);
        }
        if stored_key.len() != hash.output_len() || server_key.len() != hash.output_len() {
            return Err(KeysError::KeyLength);
        }
        Ok(ScramKeys {
            hash,
            salt,
            iterations,
            stored_key,
            server_key,
        })
    }

    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn stored_key(&self) -> &[u8] {
        &self.stored_key
    }

    pub fn server_key(&self) -> &[u8] {
        &self.server_key
    }
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("hash", &self.hash)
            .field("salt", &encode(&self.salt))
            .field("iterations", &self.iterations)
            .field("stored_key", &Redacted(self.stored_key.len()))
            .field("server_key", &Redacted(self.server_key.len()))
            .finish()
    }
}

/// The answer to [`ServerStep::NeedSecret`].
#[derive(Clone, PartialEq, Eq)]
pub enum UserSecret {
    /// The password, with the salt and iteration count to announce; the exchange derives the
    /// keys for its own hash.
    Password {
        password: String,
        salt: Vec<u8>,
        iterations: u32,
    },
    /// Keys derived earlier; their hash must be the mechanism's.
    Keys(ScramKeys),
}

impl fmt::Debug for UserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserSecret::Password {
                password,
                salt,
                iterations,
            } => f
                .debug_struct("Password")
                .field("password", &Redacted(password.len()))
                .field("salt", &encode(salt))
                .field("iterations", iterations)
                .finish(),
            UserSecret::Keys(keys) => f.debug_tuple("Keys").field(keys).finish(),
        }
    }
}

/// A nonce is `printable`: %x21-2B / %x2D-7E, ASCII without ',' (RFC 5802 §7).
fn is_printable(c: char) -> bool {
    matches!(c, '\x21'..='\x2b' | '\x2d'..='\x7e')
}

pub(crate) fn check_nonce(nonce: &str) -> Result<(), NonceError> {
    if nonce.is_empty() {
        return Err(NonceError::Empty);
    }
    match nonce.chars().find(|&c| !is_printable(c)) {
        Some(bad) => Err(NonceError::BadCharacter(bad)),
        None => Ok(()),
    }
}

/// Splits `name=value` with a one-letter name (RFC 5802 §7 `attr-val`).
fn attribute(field: &str) -> Option<(char, &str)> {
    let mut chars = field.chars();
    match (chars.next(), chars.next()) {
        (Some(name), Some('=')) if name.is_ascii_alphabetic() => Some((name, &field[2..])),
        _ => None,
    }
}

/// Checks the optional extensions after the fixed attributes: well-formed `attr-val`s, which
/// are ignored, except `m`, which is mandatory and unknown here (RFC 5802 §5.1).
fn check_extensions<'a>(fields: impl Iterator<Item = &'a str>) -> Result<(), ExtensionError> {
    for field in fields {
        match attribute(field) {
            Some(('m', _)) => return Err(ExtensionError::Mandatory),
            Some((_, value)) if !value.is_empty() => {}
            _ => return Err(ExtensionError::Malformed),
        }
    }
    Ok(())
}

enum ExtensionError {
    Mandatory,
    Malformed,
}

/// The `e=` value RFC 5802 §7 has for a failure.
fn error_value(failure: &ServerFailure) -> &'static str {
    match failure {
        ServerFailure::CredentialsInvalid => "invalid-proof",
        ServerFailure::ChannelBindingMismatch => "channel-bindings-dont-match",
        ServerFailure::ChannelBindingNotSupported => "channel-binding-not-supported",
        ServerFailure::MandatoryExtension => "extensions-not-supported",
        ServerFailure::UnknownUser => "unknown-user",
        ServerFailure::Malformed { .. } => "invalid-encoding",
        _ => "other-error",
    }
}

/// The client's first message, as the server read it.
#[derive(Debug, Clone)]
struct ClientFirst {
    gs2_header: Vec<u8>,
    bare: String,
    username: String,
    authzid: Option<String>,
    nonce: String,
}

fn parse_client_first(mechanism: Mechanism, data: &[u8]) -> Result<ClientFirst, ServerFailure> {
    let malformed = |problem| ServerFailure::malformed(mechanism, problem);
    let comma = |from: usize| {
        data[from..]
            .iter()
            .position(|&b| b == b',')
            .map(|i| from + i)
    };
    // gs2-cbind-flag: RFC 5802 §5 "will always start with "n", "y", or "p"; otherwise, the
    // message is invalid and authentication MUST fail".
    let flag_end = comma(0).ok_or(malformed("the gs2 header is missing"))?;
    match &data[..flag_end] {
        b"n" | b"y" => {}
        flag if flag.starts_with(b"p=") => return Err(ServerFailure::ChannelBindingNotSupported),
        _ => {
            return Err(malformed(
                "the first message does not start with n, y or p=",
            ))
        }
    }
    let authzid_end = comma(flag_end + 1).ok_or(malformed("the gs2 header is not ended by ','"))?;
    let authzid = match &data[flag_end + 1..authzid_end] {
        [] => None,
        field => match field.strip_prefix(b"a=") {
            Some(name) => Some(decode_saslname(name).map_err(malformed)?),
            None => return Err(malformed("the gs2 authzid is not a=<name>")),
        },
    };
    let gs2_header = data[..=authzid_end].to_vec();
    let bare = std::str::from_utf8(&data[authzid_end + 1..])
        .map_err(|_| malformed("the message is not UTF-8"))?;
    let mut fields = bare.split(',');
    let username = match fields.next().and_then(attribute) {
        Some(('m', _)) => return Err(ServerFailure::MandatoryExtension),
        Some(('n', name)) => decode_saslname(name.as_bytes()).map_err(malformed)?,
        _ => return Err(malformed("the user name (n=) is missing")),
    };
    let username = stringprep::saslprep(&username)
        .map_err(|_| malformed("the user name fails SASLprep"))?
        .into_owned();
    if username.is_empty() {
        return Err(malformed("the user name is empty after SASLprep"));
    }
    let nonce = match fields.next().and_then(attribute) {
        Some(('r', nonce)) if check_nonce(nonce).is_ok() => nonce.to_owned(),
        _ => return Err(malformed("the nonce (r=) is missing or not printable")),
    };
    check_extensions(fields).map_err(|e| match e {
        ExtensionError::Mandatory => ServerFailure::MandatoryExtension,
        ExtensionError::Malformed => malformed("an extension is not attr=value"),
    })?;
    Ok(ClientFirst {
        gs2_header,
        bare: bare.to_owned(),
        username,
        authzid,
        nonce,
    })
}

#[derive(Debug)]
enum State {
    AwaitClientFirst,
    AwaitSecret(ClientFirst),
    AwaitClientFinal {
        first: ClientFirst,
        keys: ScramKeys,
        server_first: String,
        nonce: String,
    },
    AwaitFinalAcknowledgement(Identity),
    AwaitErrorAcknowledgement(ServerFailure),
    Done,
}

#[derive(Debug)]
pub(crate) struct Server {
    mechanism: Mechanism,
    hash: ScramHash,
    server_nonce: String,
    min_iterations: u32,
    error_challenge: bool,
    state: State,
}

impl Server {
    pub(crate) fn new(mechanism: Mechanism, options: &ServerOptions, server_nonce: &str) -> Server {
        Server {
            mechanism,
            hash: ScramHash::of(mechanism).unwrap_or(ScramHash::Sha256),
            server_nonce: server_nonce.to_owned(),
            min_iterations: options.scram_min_iterations,
            error_challenge: options.scram_error_challenge,
            state: State::AwaitClientFirst,
        }
    }

    fn receive_client_first(&mut self, data: &[u8]) -> ServerStep {
        match parse_client_first(self.mechanism, data) {
            Ok(first) => {
                let step = ServerStep::NeedSecret {
                    username: first.username.clone(),
                    authzid: first.authzid.clone(),
                };
                self.state = State::AwaitSecret(first);
                step
            }
            Err(failure) => ServerStep::Failure(failure),
        }
    }

    /// Checks the client-final message; returns the server signature on success.
    fn check_client_final(
        &self,
        data: &[u8],
        first: &ClientFirst,
        keys: &ScramKeys,
        server_first: &str,
        nonce: &str,
    ) -> Result<Vec<u8>, ServerFailure> {
        let malformed = |problem| ServerFailure::malformed(self.mechanism, problem);
        let text = std::str::from_utf8(data).map_err(|_| malformed("the message is not UTF-8"))?;
        // The proof is the last attribute; everything before it is signed.
        let (without_proof, proof) = text
            .rsplit_once(',')
            .ok_or(malformed("the final message has no proof (p=)"))?;
        let proof = match attribute(proof) {
            Some(('p', proof)) => decode(proof.as_bytes())
                .ok()
                .filter(|p| p.len() == self.hash.output_len())
                .ok_or(malformed("the proof is not base64 of the hash's length"))?,
            _ => return Err(malformed("the final message does not end with p=")),
        };
        let mut fields = without_proof.split(',');
        let binding = match fields.next().and_then(attribute) {
            Some(('c', binding)) => decode(binding.as_bytes())
                .map_err(|_| malformed("the channel binding (c=) is not base64"))?,
            _ => return Err(malformed("the channel binding (c=) is missing")),
        };
        match fields.next().and_then(attribute) {
            Some(('r', got)) if got == nonce => {}
            Some(('r', _)) => return Err(ServerFailure::NonceMismatch),
            _ => return Err(malformed("the nonce (r=) is missing")),
        }
        check_extensions(fields).map_err(|e| match e {
            ExtensionError::Mandatory => ServerFailure::MandatoryExtension,
            ExtensionError::Malformed => malformed("an extension is not attr=value"),
        })?;
        // Without channel binding, c= is exactly the gs2 header (RFC 5802 §6: "The server
        // MUST always validate the client's "c=" field").
        if binding != first.gs2_header {
            return Err(ServerFailure::ChannelBindingMismatch);
        }
        let auth_message = [
            first.bare.as_bytes(),
            server_first.as_bytes(),
            without_proof.as_bytes(),
        ]
        .join(&b',');
        let signature = self.hash.hmac(&keys.stored_key, &[&auth_message]);
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !constant_time_eq(&self.hash.hash(&client_key), &keys.stored_key) {
            return Err(ServerFailure::CredentialsInvalid);
        }
        Ok(self.hash.hmac(&keys.server_key, &[&auth_message]))
    }

    fn fail_final(&mut self, failure: ServerFailure) -> ServerStep {
        if self.error_challenge {
            let message = format!("e={}", error_value(&failure)).into_bytes();
            self.state = State::AwaitErrorAcknowledgement(failure);
            ServerStep::Challenge(message)
        } else {
            ServerStep::Failure(failure)
        }
    }
}

impl ServerMechanism for Server {
    fn accepts_initial_response(&self) -> bool {
        true
    }

    fn start(&mut self, initial: Option<Vec<u8>>) -> ServerStep {
        match initial {
            Some(data) => self.receive_client_first(&data),
            None => ServerStep::Challenge(Vec::new()),
        }
    }

    fn provide_secret(&mut self, secret: Option<UserSecret>) -> ServerStep {
        let State::AwaitSecret(first) = std::mem::replace(&mut self.state, State::Done) else {
            return ServerStep::Failure(ServerFailure::UnexpectedCall("provide_secret"));
        };
        let keys = match secret {
            None => return ServerStep::Failure(ServerFailure::UnknownUser),
            Some(UserSecret::Keys(keys)) if keys.hash != self.hash => {
                return ServerStep::Failure(ServerFailure::UnusableSecret(
                    "the keys were derived with another hash",
                ))
            }
            Some(UserSecret::Keys(keys)) => keys,
            Some(UserSecret::Password {
                password,
                salt,
                iterations,
            }) => match ScramKeys::derive(self.hash, &password, &salt, iterations) {
                Ok(keys) => keys,
                Err(KeysError::Saslprep) => {
                    return ServerStep::Failure(ServerFailure::UnusableSecret(
                        "the password fails SASLprep",
                    ))
                }
                Err(_) => {
                    return ServerStep::Failure(ServerFailure::UnusableSecret(
                        "the iteration count must be at least 1",
                    ))
                }
            },
        };
        if keys.iterations < self.min_iterations {
            return ServerStep::Failure(ServerFailure::UnusableSecret(
                "the iteration count is below the configured minimum",
            ));
        }
        let nonce = format!("{}{}", first.nonce, self.server_nonce);
        let server_first = format!("r={nonce},s={},i={}", encode(&keys.salt), keys.iterations);
        let step = ServerStep::Challenge(server_first.clone().into_bytes());
        self.state = State::AwaitClientFinal {
            first,
            keys,
            server_first,
            nonce,
        };
        step
    }

    fn respond(&mut self, data: Vec<u8>) -> ServerStep {
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitClientFirst => self.receive_client_first(&data),
            State::AwaitClientFinal {
                first,
                keys,
                server_first,
                nonce,
            } => match self.check_client_final(&data, &first, &keys, &server_first, &nonce) {
                Ok(signature) => {
                    self.state = State::AwaitFinalAcknowledgement(Identity {
                        authzid: first.authzid,
                        username: Some(first.username),
                    });
                    ServerStep::Challenge(format!("v={}", encode(&signature)).into_bytes())
                }
                Err(failure) => self.fail_final(failure),
            },
            State::AwaitFinalAcknowledgement(identity) if data.is_empty() => {
                ServerStep::Success(identity)
            }
            State::AwaitFinalAcknowledgement(_) => ServerStep::Failure(ServerFailure::malformed(
                self.mechanism,
                "the answer to the server-final message must be an empty line",
            )),
            State::AwaitErrorAcknowledgement(failure) => ServerStep::Failure(failure),
            _ => ServerStep::Failure(ServerFailure::UnexpectedCall("respond")),
        }
    }
}

/// The client side of one SCRAM exchange.
#[derive(Debug)]
pub(crate) struct Client {
    hash: ScramHash,
    gs2_header: String,
    bare: String,
    nonce: String,
    password: String,
    min_iterations: u32,
    max_iterations: u32,
    state: ClientState,
}

#[derive(Debug)]
enum ClientState {
    AwaitServerFirst,
    AwaitServerFinal { server_signature: Vec<u8> },
    Verified,
    Failed,
}

pub(crate) struct ClientSetup<'a> {
    pub hash: ScramHash,
    pub authzid: Option<&'a str>,
    pub username: &'a str,
    pub password: &'a str,
    pub nonce: &'a str,
    pub flag: ChannelBindingFlag,
    pub min_iterations: u32,
    pub max_iterations: u32,
}

impl Client {
    pub(crate) fn new(setup: ClientSetup<'_>) -> Result<Client, ClientError> {
        check_nonce(setup.nonce).map_err(|_| ClientError::BadNonce)?;
        let prepare = |s: &str| {
            stringprep::saslprep(s)
                .map(|p| p.into_owned())
                .ok()
                .filter(|p| !p.is_empty())
                .ok_or(ClientError::Saslprep)
        };
        let username = prepare(setup.username)?;
        let password = prepare(setup.password)?;
        let flag = match setup.flag {
            ChannelBindingFlag::NotSupported => "n",
            ChannelBindingFlag::ServerDoesNotSupport => "y",
        };
        let gs2_header = match setup.authzid.filter(|a| !a.is_empty()) {
            Some(authzid) => format!("{flag},a={},", encode_saslname(authzid)),
            None => format!("{flag},,"),
        };
        Ok(Client {
            hash: setup.hash,
            gs2_header,
            bare: format!("n={},r={}", encode_saslname(&username), setup.nonce),
            nonce: setup.nonce.to_owned(),
            password,
            min_iterations: setup.min_iterations,
            max_iterations: setup.max_iterations,
            state: ClientState::AwaitServerFirst,
        })
    }

    /// client-first-message.
    pub(crate) fn first_message(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.bare).into_bytes()
    }

    pub(crate) fn is_verified(&self) -> bool {
        matches!(self.state, ClientState::Verified)
    }

    /// Answers a challenge after the first message: server-first, then server-final.
    pub(crate) fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let result = match std::mem::replace(&mut self.state, ClientState::Failed) {
            ClientState::AwaitServerFirst => self.server_first(challenge),
            ClientState::AwaitServerFinal { server_signature } => {
                self.server_final(challenge, &server_signature)
            }
            ClientState::Verified | ClientState::Failed => Err(ClientError::UnexpectedChallenge),
        };
        if result.is_err() {
            self.state = ClientState::Failed;
        }
        result
    }

    fn server_first(&mut self, challenge: &[u8]) -> Result<Vec<u8>, ClientError> {
        let malformed = ClientError::Malformed;
        let text =
            std::str::from_utf8(challenge).map_err(|_| malformed("server-first is not UTF-8"))?;
        let mut fields = text.split(',');
        let nonce = match fields.next().and_then(attribute) {
            Some(('m', _)) => return Err(ClientError::MandatoryExtension),
            Some(('r', nonce)) => nonce,
            _ => return Err(malformed("server-first does not start with r=")),
        };
        // RFC 5802 §5.1: "The client MUST verify that the initial part of the nonce used in
        // subsequent messages is the same as the nonce it initially specified."
        if !nonce.starts_with(&self.nonce) {
            return Err(ClientError::NonceMismatch);
        }
        if nonce.len() == self.nonce.len() || check_nonce(nonce).is_err() {
            return Err(malformed(
                "the server did not append a printable nonce of its own",
            ));
        }
        let salt = match fields.next().and_then(attribute) {
            Some(('s', salt)) => {
                decode(salt.as_bytes()).map_err(|_| malformed("the salt is not base64"))?
            }
            _ => return Err(malformed("server-first has no salt (s=)")),
        };
        let iterations = match fields.next().and_then(attribute) {
            Some(('i', count))
                if !count.starts_with('0') && count.bytes().all(|b| b.is_ascii_digit()) =>
            {
                count
                    .parse::<u32>()
                    .map_err(|_| malformed("the iteration count is too large"))?
            }
            _ => return Err(malformed("server-first has no iteration count (i=)")),
        };
        if iterations < self.min_iterations || iterations > self.max_iterations {
            return Err(ClientError::IterationCount {
                count: iterations,
                min: self.min_iterations,
                max: self.max_iterations,
            });
        }
        check_extensions(fields).map_err(|e| match e {
            ExtensionError::Mandatory => ClientError::MandatoryExtension,
            ExtensionError::Malformed => malformed("an extension is not attr=value"),
        })?;
        let hash = self.hash;
        let salted = hash.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = hash.hmac(&salted, &[b"Client Key"]);
        let stored_key = hash.hash(&client_key);
        let without_proof = format!("c={},r={nonce}", encode(self.gs2_header.as_bytes()));
        let auth_message = [self.bare.as_str(), text, &without_proof].join(",");
        let signature = hash.hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hash.hmac(&salted, &[b"Server Key"]);
        self.state = ClientState::AwaitServerFinal {
            server_signature: hash.hmac(&server_key, &[auth_message.as_bytes()]),
        };
        Ok(format!("{without_proof},p={}", encode(&proof)).into_bytes())
    }

    fn server_final(&mut self, challenge: &[u8], expected: &[u8]) -> Result<Vec<u8>, ClientError> {
        let malformed = ClientError::Malformed;
        let text =
            std::str::from_utf8(challenge).map_err(|_| malformed("server-final is not UTF-8"))?;
        let mut fields = text.split(',');
        let verifier = match fields.next().and_then(attribute) {
            Some(('e', error)) => return Err(ClientError::ServerError(error.to_owned())),
            Some(('v', verifier)) => {
                decode(verifier.as_bytes()).map_err(|_| malformed("v= is not base64"))?
            }
            _ => return Err(malformed("server-final is neither v= nor e=")),
        };
        check_extensions(fields).map_err(|e| match e {
            ExtensionError::Mandatory => ClientError::MandatoryExtension,
            ExtensionError::Malformed => malformed("an extension is not attr=value"),
        })?;
        // RFC 5802 §5: if the signatures differ, the client "MUST consider the authentication
        // exchange to be unsuccessful".
        if !constant_time_eq(&verifier, expected) {
            return Err(ClientError::ServerSignatureMismatch);
        }
        self.state = ClientState::Verified;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_5802_keys_from_the_section_5_example() {
        let salt = decode(b"QSXCR+Q6sek8bf92").expect("salt");
        let keys = ScramKeys::derive(ScramHash::Sha1, "pencil", &salt, 4096).expect("derive");
        assert_eq!(keys.stored_key().len(), 20);
        assert_eq!(keys.iterations(), 4096);
        assert_eq!(
            ScramKeys::derive(ScramHash::Sha1, "pencil", &salt, 0),
            Err(KeysError::ZeroIterations)
        );
        assert_eq!(
            ScramKeys::derive(ScramHash::Sha1, "pen\u{7}cil", &salt, 1),
            Err(KeysError::Saslprep)
        );
        let again = ScramKeys::from_stored(
            ScramHash::Sha1,
            salt,
            4096,
            keys.stored_key().to_vec(),
            keys.server_key().to_vec(),
        )
        .expect("stored");
        assert_eq!(again, keys);
        let salted = ScramHash::Sha1.salted_password(b"pencil", again.salt(), 4096);
        let from_salted =
            ScramKeys::from_salted_password(ScramHash::Sha1, &salted, again.salt(), 4096)
                .expect("salted");
        assert_eq!(from_salted, keys);
        assert_eq!(
            ScramKeys::from_salted_password(ScramHash::Sha256, &salted, b"", 4096),
            Err(KeysError::KeyLength)
        );
        assert_eq!(
            ScramKeys::from_stored(ScramHash::Sha256, Vec::new(), 1, vec![0; 20], vec![0; 20]),
            Err(KeysError::KeyLength)
        );
        assert!(!format!("{keys:?}").contains(&encode(keys.stored_key())));
    }

    #[test]
    fn client_first_parsing_follows_section_7() {
        let parse = |m: &str| parse_client_first(Mechanism::ScramSha256, m.as_bytes());
        let first = parse("n,,n=user,r=abc").expect("plain");
        assert_eq!((first.username.as_str(), first.authzid), ("user", None));
        assert_eq!(first.gs2_header, b"n,,");
        assert_eq!(first.bare, "n=user,r=abc");
        let first = parse("y,a=adm=2Cin=3D,n=a=2Cb=3Dc,r=abc,x=ext").expect("escapes, y, ext");
        assert_eq!(first.username, "a,b=c");
        assert_eq!(first.authzid.as_deref(), Some("adm,in="));
        assert_eq!(
            parse("p=tls-unique,,n=user,r=abc").map(|_| ()),
            Err(ServerFailure::ChannelBindingNotSupported)
        );
        assert_eq!(
            parse("n,,m=ext,n=user,r=abc").map(|_| ()),
            Err(ServerFailure::MandatoryExtension)
        );
        assert_eq!(
            parse("n,,n=user,r=abc,m=ext").map(|_| ()),
            Err(ServerFailure::MandatoryExtension)
        );
        for bad in [
            "",
            "x,,n=user,r=abc",
            "n,n=user,r=abc",
            "n,,n=user",
            "n,,r=abc,n=user",
            "n,,n=us=2Der,r=abc",
            "n,,n=us=er,r=abc",
            "n,,n=,r=abc",
            "n,,n=user,r=",
            "n,,n=user,r=a b",
            "n,,n=user,r=abc,bad",
            "n,b=x,n=user,r=abc",
            "n,,n=u\u{7}ser,r=abc",
        ] {
            assert!(
                matches!(parse(bad), Err(ServerFailure::Malformed { .. })),
                "{bad:?}: {:?}",
                parse(bad).map(|_| ())
            );
        }
    }
}
