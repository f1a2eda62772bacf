//! LOGIN (draft-murchison-sasl-login-00, an expired draft): the server prompts for the user
//! name, then for the password; the client answers each prompt, ignoring its text (§2.1).

use super::plain::PasswordClaim;
use super::server::{Claim, ServerFailure, ServerMechanism, ServerOptions, ServerStep};
use super::Mechanism;

/// The two challenges the server sends (S-LOGIN-SERVER).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoginPrompts {
    /// `Username:` and `Password:` (`334 VXNlcm5hbWU6`, `334 UGFzc3dvcmQ6`): what deployed
    /// servers send, and what the draft's §2.2 note says at least one widely deployed client
    /// requires.
    #[default]
    Interoperable,
    /// The draft's own strings, `User Name` and `Password`, each with the trailing NUL of the
    /// §2.3 example (`334 VXNlciBOYW1lAA==`, `334 UGFzc3dvcmQA`): for C-LOGIN-EXCHANGE.
    Draft,
}

impl LoginPrompts {
    pub fn username(self) -> &'static [u8] {
        match self {
            LoginPrompts::Interoperable => b"Username:",
            LoginPrompts::Draft => b"User Name\0",
        }
    }

    pub fn password(self) -> &'static [u8] {
        match self {
            LoginPrompts::Interoperable => b"Password:",
            LoginPrompts::Draft => b"Password\0",
        }
    }
}

/// What the server does with `AUTH LOGIN <initial-response>`. LOGIN is server-first (§2.1:
/// "The client expects the server to issue a challenge"), so RFC 4954 §4 asks for 501 5.7.0;
/// many servers accept the initial response as the user name instead.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum LoginInitialResponse {
    /// Fail with [`ServerFailure::InitialResponseNotAllowed`] (S-4954-IR-SERVER-FIRST).
    #[default]
    Refuse,
    /// Take it as the user name and prompt for the password.
    AcceptAsUsername,
}

/// Checks a user name as the draft's §2 allows it: UTF-8, not empty, no NUL, CR or LF. The
/// "less than 64 characters" rule is the client's to keep; the server does not enforce it.
fn username(data: Vec<u8>) -> Result<String, &'static str> {
    if data.is_empty() {
        return Err("the user name is empty");
    }
    if data.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err("the user name contains NUL, CR or LF");
    }
    String::from_utf8(data).map_err(|_| "the user name is not UTF-8")
}

/// Checks a password: any octets but NUL, CR and LF (§2).
fn password(data: &[u8]) -> Result<(), &'static str> {
    if data.iter().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        return Err("the password contains NUL, CR or LF");
    }
    Ok(())
}

#[derive(Debug)]
enum State {
    Start,
    AwaitUsername,
    AwaitPassword(String),
    AwaitVerdict(PasswordClaim),
    Done,
}

#[derive(Debug)]
pub(crate) struct Server {
    prompts: LoginPrompts,
    initial_response: LoginInitialResponse,
    state: State,
}

impl Server {
    pub(crate) fn new(options: &ServerOptions) -> Server {
        Server {
            prompts: options.login_prompts,
            initial_response: options.login_initial_response,
            state: State::Start,
        }
    }

    fn fail(&mut self, problem: &'static str) -> ServerStep {
        self.state = State::Done;
        ServerStep::Failure(ServerFailure::malformed(Mechanism::Login, problem))
    }

    fn receive_username(&mut self, data: Vec<u8>) -> ServerStep {
        match username(data) {
            Ok(name) => {
                self.state = State::AwaitPassword(name);
                ServerStep::Challenge(self.prompts.password().to_vec())
            }
            Err(problem) => self.fail(problem),
        }
    }
}

impl ServerMechanism for Server {
    fn accepts_initial_response(&self) -> bool {
        self.initial_response == LoginInitialResponse::AcceptAsUsername
    }

    fn start(&mut self, initial: Option<Vec<u8>>) -> ServerStep {
        match initial {
            Some(name) => self.receive_username(name),
            None => {
                self.state = State::AwaitUsername;
                ServerStep::Challenge(self.prompts.username().to_vec())
            }
        }
    }

    fn respond(&mut self, data: Vec<u8>) -> ServerStep {
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitUsername => self.receive_username(data),
            State::AwaitPassword(username) => {
                if let Err(problem) = password(&data) {
                    return self.fail(problem);
                }
                let claim = PasswordClaim {
                    mechanism: Mechanism::Login,
                    authzid: None,
                    username,
                    password: data,
                };
                self.state = State::AwaitVerdict(claim.clone());
                ServerStep::Verify(Claim::Password(claim))
            }
            _ => ServerStep::Failure(ServerFailure::UnexpectedCall("respond")),
        }
    }

    fn verdict(&mut self, accept: bool) -> ServerStep {
        match (std::mem::replace(&mut self.state, State::Done), accept) {
            (State::AwaitVerdict(claim), true) => ServerStep::Success(claim.identity()),
            (State::AwaitVerdict(_), false) => {
                ServerStep::Failure(ServerFailure::CredentialsInvalid)
            }
            _ => ServerStep::Failure(ServerFailure::UnexpectedCall("verdict")),
        }
    }
}

/// The client's answer to the n-th LOGIN challenge (0: user name, 1: password); the text of
/// the challenge is ignored, as §2.1 asks.
pub(crate) fn client_response(index: usize, username: &str, password: &str) -> Option<Vec<u8>> {
    match index {
        0 => Some(username.as_bytes().to_vec()),
        1 => Some(password.as_bytes().to_vec()),
        _ => None,
    }
}

/// Checks credentials before they are sent: the same rules the server applies.
pub(crate) fn check_credentials(
    username_text: &str,
    password_text: &str,
) -> Result<(), &'static str> {
    username(username_text.as_bytes().to_vec())?;
    password(password_text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_encode_as_the_draft_and_deployed_servers_send_them() {
        let encode = |b: &[u8]| super::super::encode(b);
        assert_eq!(
            encode(LoginPrompts::Interoperable.username()),
            "VXNlcm5hbWU6"
        );
        assert_eq!(
            encode(LoginPrompts::Interoperable.password()),
            "UGFzc3dvcmQ6"
        );
        assert_eq!(encode(LoginPrompts::Draft.username()), "VXNlciBOYW1lAA==");
        assert_eq!(encode(LoginPrompts::Draft.password()), "UGFzc3dvcmQA");
    }

    #[test]
    fn user_names_and_passwords_follow_section_2() {
        assert_eq!(username(b"tim".to_vec()), Ok("tim".to_owned()));
        assert!(username(Vec::new()).is_err());
        assert!(username(b"ti\rm".to_vec()).is_err());
        assert!(username(b"t\xffm".to_vec()).is_err());
        assert!(password(b"\xff\x01binary").is_ok());
        assert!(password(b"").is_ok());
        assert!(password(b"a\nb").is_err());
        assert!(password(b"a\0b").is_err());
    }
}
