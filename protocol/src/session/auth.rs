//! AUTH (RFC 4954) in the session: the checks before an exchange, the exchange itself (the
//! mechanisms are in [`crate::sasl`]), and the outcome. Every SASL line of the client is fed
//! here while the session is in its SASL phase.

use super::*;
use crate::sasl::{
    encode, Claim, Mechanism, ServerContext, ServerExchange, ServerFailure, ServerOptions,
    ServerStep, UserSecret,
};

/// An exchange under way.
#[derive(Debug)]
pub(super) struct SaslState {
    exchange: ServerExchange,
}

/// Where an exchange stands after a step: a challenge was sent, or it ended.
enum Progress {
    Challenge(Reply),
    Done(Outcome),
}

enum Outcome {
    Success { user: String },
    Failure(ServerFailure),
}

impl<P: Policy> Session<P> {
    /// The mechanisms the EHLO reply offers now (none while TLS is missing and only
    /// cleartext-unsafe ones are configured).
    pub(super) fn offered_mechanisms(&self) -> Vec<Mechanism> {
        let auth = &self.config.auth;
        let in_clear_ok = self.tls.is_some() || auth.in_cleartext;
        let has_passwords = auth.users.iter().any(|u| u.password.is_some());
        auth.mechanisms
            .iter()
            .copied()
            // Passwords in the clear and bearer tokens only under TLS (RFC 4954 §4; RFC 7628
            // §3 requires TLS for OAUTHBEARER).
            .filter(|m| in_clear_ok || (!m.is_plaintext() && m.uses_password()))
            .filter(|m| {
                has_passwords || !matches!(m, Mechanism::ScramSha1 | Mechanism::ScramSha256)
            })
            .collect()
    }

    /// `AUTH mechanism [initial-response]`: the checks, then the first step of the exchange.
    pub(super) fn handle_auth(
        &mut self,
        command: &Command,
        line: &[u8],
        mechanism: &str,
        initial: Option<&str>,
    ) {
        let ask_command = |session: &mut Self, default: Reply| {
            session.ask(&DecisionPoint::Command { command, line }, default)
        };
        let mechanism = match self.auth_precheck(mechanism) {
            Ok(mechanism) => mechanism,
            Err(refusal) => {
                let response = ask_command(self, refusal);
                self.respond(response, commands::Effect::None, true);
                return;
            }
        };
        let context = match ServerContext::new(
            &self.config.hostname,
            &self.peer.random,
            self.peer.unix_time,
        ) {
            Ok(context) => context,
            Err(_) => {
                let reply = self.reply(454, (4, 7, 0), "Temporary authentication failure");
                let response = ask_command(self, reply);
                self.respond(response, commands::Effect::None, true);
                return;
            }
        };
        let options = ServerOptions {
            login_initial_response: self.config.auth.login_initial_response,
            ..ServerOptions::default()
        };
        if mechanism == Mechanism::Login
            && initial.is_some()
            && options.login_initial_response == crate::sasl::LoginInitialResponse::AcceptAsUsername
        {
            self.transcript.note(
                self.now,
                None,
                "AUTH LOGIN with an initial response: taken as the user name",
            );
        }
        let (mut exchange, step) = ServerExchange::start(mechanism, initial, &options, &context);
        let progress = self.advance(&mut exchange, step);
        let default = match &progress {
            Progress::Challenge(reply) => reply.clone(),
            Progress::Done(outcome) => self.outcome_reply(outcome),
        };
        let response = ask_command(self, default.clone());
        if response != Response::reply(default) {
            // A scenario answered AUTH itself: the exchange ends with its answer.
            if response.is_positive() {
                self.authenticated("unknown".to_owned(), mechanism);
            }
            self.queue_response(response.steps, true);
            return;
        }
        match progress {
            Progress::Challenge(reply) => {
                self.queue_response(vec![Step::Reply(reply)], true);
                self.framer.set_max_line(self.config.auth_line_limit);
                self.phase = Phase::Sasl(Box::new(SaslState { exchange }));
            }
            Progress::Done(outcome) => self.finish_auth(outcome, mechanism),
        }
    }

    /// A client line during the exchange (RFC 4954 §4: base64, or `*` to cancel).
    pub(super) fn handle_sasl_line(&mut self, line: &[u8], ending: LineEnding) {
        let meta = self.line_meta(ending);
        self.transcript.client_line(self.now, line, meta);
        let Phase::Sasl(mut state) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        let step = state.exchange.respond(line);
        let mechanism = state.exchange.mechanism();
        match self.advance(&mut state.exchange, step) {
            Progress::Challenge(reply) => {
                self.queue_response(vec![Step::Reply(reply)], true);
                self.phase = Phase::Sasl(state);
            }
            Progress::Done(outcome) => self.finish_auth(outcome, mechanism),
        }
    }

    /// A SASL line over the limit: `500 5.5.6` and the exchange ends (RFC 4954 §4).
    pub(super) fn sasl_line_too_long(&mut self) {
        self.phase = Phase::Command;
        self.restore_line_limit();
        let reply = self.reply(500, (5, 5, 6), "Authentication Exchange line is too long");
        self.queue_response(vec![Step::Reply(reply)], true);
    }

    fn auth_precheck(&self, name: &str) -> Result<Mechanism, Reply> {
        let Some(hello) = &self.hello else {
            return Err(self.bad_sequence("Send EHLO first"));
        };
        if !hello.extensions.has("AUTH") {
            return Err(self.reply(502, (5, 5, 1), "Command not implemented"));
        }
        if self.user.is_some() {
            // RFC 4954 §4: "MUST reject any further AUTH commands with a 503 reply".
            return Err(self.bad_sequence("Already authenticated"));
        }
        if self.transaction.is_some() {
            return Err(self.bad_sequence("AUTH not permitted during a mail transaction"));
        }
        let offered = hello
            .extensions
            .auth_mechanisms()
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name));
        match name.parse::<Mechanism>() {
            Ok(mechanism) if offered => Ok(mechanism),
            // RFC 4954 §4: 504, with 5.5.4.
            _ => Err(self.reply(504, (5, 5, 4), "Unrecognized authentication type")),
        }
    }

    /// Runs the exchange until it needs the client again or ends.
    fn advance(&mut self, exchange: &mut ServerExchange, mut step: ServerStep) -> Progress {
        loop {
            step = match step {
                ServerStep::Challenge(data) => {
                    let text = encode(&data);
                    return Progress::Challenge(Reply::new(334, None, text));
                }
                ServerStep::NeedSecret { username, .. } => {
                    let secret = self.scram_secret(&username);
                    exchange.provide_secret(secret)
                }
                ServerStep::Verify(claim) => {
                    let accept = self.check_claim(&claim);
                    if let Some(user) = claim.username() {
                        self.pending_user = Some(user.to_owned());
                    }
                    exchange.verdict(accept)
                }
                ServerStep::Success(identity) => {
                    let user = identity
                        .username
                        .or_else(|| self.pending_user.take())
                        .unwrap_or_else(|| "unknown".to_owned());
                    return Progress::Done(Outcome::Success { user });
                }
                ServerStep::Failure(failure) => return Progress::Done(Outcome::Failure(failure)),
            };
        }
    }

    /// With no users configured, anything is accepted: the claim is recorded, not checked.
    fn check_claim(&self, claim: &Claim) -> bool {
        let users = &self.config.auth.users;
        if users.is_empty() {
            return true;
        }
        match claim {
            Claim::Password(c) => users.iter().any(|u| {
                u.name == c.username && u.password.as_deref().is_some_and(|p| c.password_matches(p))
            }),
            Claim::CramMd5(c) => users.iter().any(|u| {
                u.name == c.username && u.password.as_deref().is_some_and(|p| c.verify(p))
            }),
            Claim::Bearer(c) => users.iter().any(|u| {
                c.user.as_deref().is_none_or(|name| name == u.name)
                    && u.token.as_deref().is_some_and(|t| c.token_matches(t))
            }),
        }
    }

    fn scram_secret(&self, username: &str) -> Option<UserSecret> {
        let user = self.config.auth.users.iter().find(|u| u.name == username)?;
        Some(UserSecret::Password {
            password: user.password.clone()?,
            // A fixed salt per user keeps runs reproducible; this is a test server.
            salt: format!("fake-smtp salt for {username}").into_bytes(),
            iterations: 4096,
        })
    }

    fn outcome_reply(&self, outcome: &Outcome) -> Reply {
        match outcome {
            Outcome::Success { .. } => self.reply(235, (2, 7, 0), "Authentication successful"),
            Outcome::Failure(failure) => match failure {
                ServerFailure::Cancelled => self.reply(501, (5, 0, 0), "Authentication cancelled"),
                ServerFailure::BadBase64(_) => self.reply(501, (5, 5, 2), "Cannot decode response"),
                ServerFailure::InitialResponseNotAllowed(_) => self.reply(
                    501,
                    (5, 7, 0),
                    "Initial response not allowed for this mechanism",
                ),
                ServerFailure::UnusableSecret(_) | ServerFailure::UnexpectedCall(_) => {
                    self.reply(454, (4, 7, 0), "Temporary authentication failure")
                }
                _ => self.reply(535, (5, 7, 8), "Authentication credentials invalid"),
            },
        }
    }

    /// The end of an exchange: the result, which a scenario may change (`auth-result`).
    fn finish_auth(&mut self, outcome: Outcome, mechanism: Mechanism) {
        self.restore_line_limit();
        let default = self.outcome_reply(&outcome);
        let note = match &outcome {
            Outcome::Success { user } => format!("{mechanism} succeeded for {user:?}"),
            Outcome::Failure(failure) => format!("{mechanism} failed: {failure}"),
        };
        self.transcript.note(self.now, None, note);
        let response = self.ask(
            &DecisionPoint::AuthResult {
                mechanism,
                success: matches!(outcome, Outcome::Success { .. }),
            },
            default,
        );
        if response.is_positive() {
            let user = match outcome {
                Outcome::Success { user } => user,
                Outcome::Failure(_) => self
                    .pending_user
                    .take()
                    .unwrap_or_else(|| "unknown".to_owned()),
            };
            self.authenticated(user, mechanism);
        }
        self.pending_user = None;
        self.queue_response(response.steps, true);
    }

    fn authenticated(&mut self, user: String, mechanism: Mechanism) {
        self.transcript.note(
            self.now,
            None,
            format!("authenticated as {user:?} with {mechanism}"),
        );
        self.user = Some(user);
    }

    fn restore_line_limit(&mut self) {
        let allowance = self
            .hello
            .as_ref()
            .map_or(0, |h| config::parameter_allowance(&h.extensions));
        let mut max_line = self.config.command_line_limit + allowance;
        if self
            .hello
            .as_ref()
            .is_some_and(|h| h.extensions.has("AUTH"))
        {
            max_line = max_line.max(self.config.auth_line_limit);
        }
        self.framer.set_max_line(max_line);
    }
}
