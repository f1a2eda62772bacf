//! The default answer to each command (RFC 5321 §4.1, §4.3.2 and the checklist's Part B), and
//! the state change each one makes when it is accepted.

use super::*;
use crate::address::ForwardPath;
use crate::command::{CommandError, Verb};
use crate::params::{Body, MailParam, RcptParam};

/// The state change a command makes if the reply accepts it (2xx or 3xx). Deciding the change
/// apart from the reply lets a policy accept what the default would refuse, or the reverse.
#[derive(Debug)]
pub(super) enum Effect {
    None,
    Hello { domain: String, esmtp: bool },
    Mail(Transaction),
    Rcpt(Recipient),
    StartData,
    Reset,
    Quit,
    StartTls,
}

impl<P: Policy> Session<P> {
    pub(super) fn handle_line(&mut self, line: &[u8], ending: LineEnding) {
        self.commands += 1;
        let meta = self.line_meta(ending);
        self.transcript.client_line(self.now, line, meta);
        self.note_bare_line_ends(line, ending);
        let command = match Command::parse(line) {
            Ok(command) => command,
            Err(error) if error.verb() == Some(Verb::Bdat) => {
                self.malformed_bdat(line, error);
                return;
            }
            Err(error) => {
                let default = self.reply_to_error(&error);
                let response = self.ask(
                    &DecisionPoint::InvalidCommand {
                        line,
                        error: &error,
                    },
                    default,
                );
                self.respond(response, Effect::None, true);
                return;
            }
        };
        if line.len() + 2 > self.line_limit_for(command.verb()) {
            self.transcript.note(
                self.now,
                Some("C-5321-CMD-LINE-512"),
                format!("{} line of {} octets", command.verb(), line.len() + 2),
            );
            let default = self.line_too_long(command.verb() == Verb::Auth);
            let response = self.ask(&DecisionPoint::LineTooLong, default);
            self.respond(response, Effect::None, true);
            return;
        }
        if let Command::Auth {
            mechanism,
            initial_response,
        } = &command
        {
            if !self.refused && !self.tls_refusal(&command) {
                self.handle_auth(&command, line, mechanism, initial_response.as_deref());
                return;
            }
        }
        if let Command::Bdat { size, last } = command {
            // Its chunk follows whatever the answer: read it in every case (RFC 3030 §2).
            let refusal = if self.advertised("CHUNKING") && !self.refused {
                None
            } else {
                Some(self.evaluate(&command).0)
            };
            self.start_chunk(Ok(command), line.to_vec(), size, last, refusal);
            return;
        }
        let (default, effect) = self.evaluate(&command);
        let flush = !is_bufferable(&command);
        let response = self.ask(
            &DecisionPoint::Command {
                command: &command,
                line,
            },
            default,
        );
        self.respond(response, effect, flush);
    }

    /// Applies the effect if the response accepts the command, then queues its steps.
    pub(super) fn respond(&mut self, response: Response, effect: Effect, flush: bool) {
        let positive = response.is_positive();
        // What EHLO advertised is read from the reply actually sent (a policy may change it).
        let advertised = match (&effect, positive) {
            (Effect::Hello { esmtp: true, .. }, true) => response
                .written_reply()
                .or_else(|| response.primary_reply())
                .map(|reply| Extensions::from_ehlo_lines(&reply.lines)),
            _ => None,
        };
        self.queue_response(response.steps, flush);
        if !positive {
            return;
        }
        match effect {
            Effect::None => {}
            Effect::Hello { domain, esmtp } => {
                let extensions = advertised.unwrap_or_default();
                let allowance = config::parameter_allowance(&extensions);
                let mut max_line = self.config.command_line_limit + allowance;
                if extensions.has("AUTH") {
                    max_line = max_line.max(self.config.auth_line_limit);
                }
                self.framer.set_max_line(max_line);
                self.hello = Some(Hello {
                    domain,
                    esmtp,
                    extensions,
                });
                self.reset_transaction();
            }
            Effect::Mail(transaction) => self.transaction = Some(transaction),
            Effect::Rcpt(recipient) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.recipients.push(recipient);
                }
            }
            Effect::StartData => {
                let declared = self
                    .transaction
                    .as_ref()
                    .and_then(Transaction::size)
                    .unwrap_or(0);
                let (max_size, line_limit) =
                    (self.config.max_message_size, self.config.text_line_limit);
                let decoder = match self.spare_decoder.take() {
                    Some(mut decoder) => {
                        decoder.restart(max_size, line_limit, declared);
                        decoder
                    }
                    None => Box::new(DataDecoder::with_capacity(max_size, line_limit, declared)),
                };
                self.phase = Phase::Data(decoder);
            }
            Effect::Reset => self.reset_transaction(),
            Effect::Quit => self
                .pending
                .push_back(Pending::Close(CloseReason::Quit, CloseMode::Graceful)),
            Effect::StartTls => self.pending.push_back(Pending::StartTls),
        }
    }

    /// Line ends in a command line (RFC 5321 §2.3.8: CR and LF only as CRLF). A line ends at
    /// LF, the one octet that can only mean "end of line": a bare LF ends it like CRLF (as
    /// Postfix, Exim and Sendmail read commands), so that an LF-only client gets replies.
    /// A CR not followed by LF ends nothing: it stays in the line's text, where, like every
    /// control character, it makes the command invalid (`500 5.5.2`). Both are the same
    /// client fault and noted as such (C-5321-LINE-CRLF), once per session each.
    fn note_bare_line_ends(&mut self, line: &[u8], ending: LineEnding) {
        if ending == LineEnding::BareLf && !self.noted_bare_lf {
            self.noted_bare_lf = true;
            self.transcript.note(
                self.now,
                Some("C-5321-LINE-CRLF"),
                "command line ended with a bare LF (accepted as the end of the line)",
            );
        }
        if !self.noted_bare_cr && memchr::memchr(b'\r', line).is_some() {
            self.noted_bare_cr = true;
            self.transcript.note(
                self.now,
                Some("C-5321-LINE-CRLF"),
                "bare CR inside a command line (not a line end: the line is refused)",
            );
        }
    }

    /// The reply to a command line over the limit: for AUTH, RFC 4954 §6's `500 5.5.6`.
    pub(super) fn line_too_long(&self, auth: bool) -> Reply {
        if auth {
            self.reply(500, (5, 5, 6), "Authentication Exchange line is too long")
        } else {
            self.reply(500, (5, 5, 2), "Line too long")
        }
    }

    /// A BDAT line that did not parse. When its size can still be read (`BDAT 6 FINAL`,
    /// `BDAT 6 LAST extra`), the client sends that many octets next: they are read and
    /// discarded, then the line gets its `501` (RFC 3030 §2). When no size can be read
    /// (`BDAT x`, a size over 2^64), the server cannot know where the chunk ends, so it
    /// cannot read commands again: `421` and close. `BDAT` alone declares no chunk: `501`.
    fn malformed_bdat(&mut self, line: &[u8], error: CommandError) {
        let default = self.reply_to_error(&error);
        match crate::command::bdat_declared_size(line) {
            Some(size) => {
                self.start_chunk(Err(error), line.to_vec(), size, false, Some(default));
            }
            None => {
                let default = if line.len() > 5 {
                    self.reply(
                        421,
                        (4, 5, 0),
                        format!(
                            "{} BDAT chunk size unreadable, closing connection",
                            self.config.hostname
                        ),
                    )
                } else {
                    default
                };
                let response = self.ask(
                    &DecisionPoint::InvalidCommand {
                        line,
                        error: &error,
                    },
                    default,
                );
                self.respond(response, Effect::None, true);
            }
        }
    }

    fn reset_transaction(&mut self) {
        self.transaction = None;
        self.bdat = None;
        self.bdat_failed = false;
    }

    fn advertised(&self, keyword: &str) -> bool {
        self.hello
            .as_ref()
            .is_some_and(|h| h.extensions.has(keyword))
    }

    fn line_limit_for(&self, verb: Verb) -> usize {
        let base = self.config.command_line_limit;
        match verb {
            Verb::Auth if self.advertised("AUTH") => self.config.auth_line_limit,
            Verb::Mail | Verb::Rcpt => {
                base + self
                    .hello
                    .as_ref()
                    .map_or(0, |h| config::parameter_allowance(&h.extensions))
            }
            _ => base,
        }
    }

    fn reply_to_error(&self, error: &CommandError) -> Reply {
        match error {
            CommandError::Empty => self.reply(500, (5, 5, 2), "Syntax error, command unrecognized"),
            CommandError::InvalidCharacter => {
                self.reply(500, (5, 5, 2), "Syntax error - invalid character")
            }
            CommandError::UnknownVerb(_) => self.reply(500, (5, 5, 2), "Command unrecognized"),
            CommandError::NotImplemented(_) => {
                self.reply(502, (5, 5, 1), "Command not implemented")
            }
            // RFC 2034 §3: no enhanced code on replies to EHLO and HELO.
            CommandError::Syntax {
                verb: Verb::Ehlo, ..
            } => Reply::new(501, None, "Syntax: EHLO hostname"),
            CommandError::Syntax {
                verb: Verb::Helo, ..
            } => Reply::new(501, None, "Syntax: HELO hostname"),
            CommandError::Syntax { problem, .. } => {
                self.reply(501, (5, 5, 4), format!("Syntax error: {problem}"))
            }
            CommandError::ReversePath(e) => {
                self.reply(501, (5, 1, 7), format!("Bad sender address syntax: {e}"))
            }
            CommandError::ForwardPath(e) => {
                self.reply(501, (5, 1, 3), format!("Bad recipient address syntax: {e}"))
            }
            CommandError::Parameter { error, .. } => self.reply(
                501,
                (5, 5, 4),
                format!("Syntax error in parameters: {error}"),
            ),
        }
    }

    pub(super) fn bad_sequence(&self, text: &str) -> Reply {
        self.reply(503, (5, 5, 1), text)
    }

    /// The RFC default for a command that parsed, with the change it makes if accepted.
    fn evaluate(&self, command: &Command) -> (Reply, Effect) {
        if self.refused && !matches!(command, Command::Quit) {
            // RFC 5321 §3.1: after a 554 greeting, 503 to everything but QUIT.
            return (self.bad_sequence("Bad sequence of commands"), Effect::None);
        }
        if self.tls_refusal(command) {
            // RFC 3207 §4: the TLS-required mode of a server that is not publicly referenced.
            return (
                self.reply(530, (5, 7, 0), "Must issue a STARTTLS command first"),
                Effect::None,
            );
        }
        if self.config.auth.required
            && self.user.is_none()
            && !matches!(
                command,
                Command::Auth { .. }
                    | Command::Ehlo { .. }
                    | Command::Helo { .. }
                    | Command::Noop { .. }
                    | Command::Rset
                    | Command::Quit
                    | Command::StartTls
            )
        {
            // RFC 4954 §6 (S-4954-AUTH-REQUIRED); STARTTLS too, or AUTH could never be safe.
            return (
                self.reply(530, (5, 7, 0), "Authentication required"),
                Effect::None,
            );
        }
        let host = &self.config.hostname;
        match command {
            Command::Ehlo { domain } => (
                self.ehlo_reply(domain),
                Effect::Hello {
                    domain: domain.clone(),
                    esmtp: true,
                },
            ),
            Command::Helo { domain } => (
                // RFC 5321 §3.2: never the extended reply to HELO.
                Reply::new(250, None, [&**host, " greets ", &**domain].concat()),
                Effect::Hello {
                    domain: domain.clone(),
                    esmtp: false,
                },
            ),
            Command::Mail {
                reverse_path,
                params,
            } => self.evaluate_mail(reverse_path, params),
            Command::Rcpt {
                forward_path,
                params,
            } => self.evaluate_rcpt(forward_path, params),
            Command::Data => (self.evaluate_data(), Effect::StartData),
            // Reached only where CHUNKING is not offered (its chunk is still discarded).
            Command::Bdat { .. } if self.hello.is_none() => {
                (self.bad_sequence("Send EHLO or HELO first"), Effect::None)
            }
            Command::Bdat { .. } => (
                self.reply(502, (5, 5, 1), "Command not implemented"),
                Effect::None,
            ),
            Command::Rset => (self.reply(250, (2, 0, 0), "Reset OK"), Effect::Reset),
            Command::Noop { .. } => (self.reply(250, (2, 0, 0), "OK"), Effect::None),
            Command::Vrfy { .. } => (
                self.reply(
                    252,
                    (2, 0, 0),
                    "Cannot VRFY user, but will accept message and attempt delivery",
                ),
                Effect::None,
            ),
            Command::Expn { .. } => (
                self.reply(502, (5, 5, 1), "Command not implemented"),
                Effect::None,
            ),
            Command::Help { topic: None } => (
                self.reply(
                    214,
                    (2, 0, 0),
                    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
                ),
                Effect::None,
            ),
            Command::Help { topic: Some(topic) } => (
                match Verb::from_name(topic) {
                    Some(verb) => self.reply(214, (2, 0, 0), help_syntax(verb)),
                    // RFC 5321 §4.3.2 lists 504 among HELP's replies: a parameter not
                    // implemented.
                    None => self.reply(504, (5, 5, 4), "HELP topic not available"),
                },
                Effect::None,
            ),
            Command::Quit => (
                self.reply(221, (2, 0, 0), [&**host, " closing connection"].concat()),
                Effect::Quit,
            ),
            Command::StartTls => self.evaluate_starttls(),
            // Only reached after a 554 greeting or in the TLS-required mode, which refuse it
            // above; AUTH itself is handled by `handle_auth`.
            Command::Auth { .. } => (
                self.reply(502, (5, 5, 1), "Command not implemented"),
                Effect::None,
            ),
        }
    }

    fn ehlo_reply(&self, domain: &str) -> Reply {
        let ext = &self.config.extensions;
        let mut lines = vec![[&*self.config.hostname, " greets ", domain].concat()];
        let mut offer = |on: bool, line: &str| {
            if on {
                lines.push(line.to_owned());
            }
        };
        offer(ext.pipelining, "PIPELINING");
        offer(ext.size, &format!("SIZE {}", self.config.max_message_size));
        offer(ext.eight_bit_mime, "8BITMIME");
        // RFC 6531 §3.1: SMTPUTF8 needs 8BITMIME; RFC 3030 §3: BINARYMIME needs CHUNKING.
        offer(ext.smtputf8 && ext.eight_bit_mime, "SMTPUTF8");
        offer(ext.enhanced_status_codes, "ENHANCEDSTATUSCODES");
        offer(ext.chunking, "CHUNKING");
        offer(ext.binary_mime && ext.chunking, "BINARYMIME");
        offer(ext.dsn, "DSN");
        // RFC 3207 §4.2: never offered again once TLS is up.
        offer(self.config.starttls && self.tls.is_none(), "STARTTLS");
        let mechanisms = self.offered_mechanisms();
        let names: Vec<&str> = mechanisms.iter().map(|m| m.as_str()).collect();
        offer(!names.is_empty(), &format!("AUTH {}", names.join(" ")));
        offer(ext.help, "HELP");
        Reply::multiline(250, None, lines)
    }

    /// Whether the TLS-required mode refuses this command (RFC 3207 §4: all but NOOP, EHLO,
    /// STARTTLS and QUIT).
    fn tls_refusal(&self, command: &Command) -> bool {
        self.config.tls_required
            && self.tls.is_none()
            && !matches!(
                command,
                Command::Noop { .. } | Command::Ehlo { .. } | Command::StartTls | Command::Quit
            )
    }

    /// RFC 3207 §4 and the checklist's B.8.
    fn evaluate_starttls(&self) -> (Reply, Effect) {
        if self.tls.is_some() {
            return (self.bad_sequence("TLS already active"), Effect::None);
        }
        if !self.config.starttls {
            return (
                self.reply(502, (5, 5, 1), "Command not implemented"),
                Effect::None,
            );
        }
        if self.hello.is_none() {
            return (self.bad_sequence("Send EHLO first"), Effect::None);
        }
        if !self.advertised("STARTTLS") {
            return (
                self.reply(502, (5, 5, 1), "Command not implemented"),
                Effect::None,
            );
        }
        if self.transaction.is_some() {
            return (
                self.bad_sequence("STARTTLS not allowed during a mail transaction"),
                Effect::None,
            );
        }
        (
            self.reply(220, (2, 0, 0), "Ready to start TLS"),
            Effect::StartTls,
        )
    }

    fn evaluate_mail(
        &self,
        reverse_path: &crate::address::ReversePath,
        params: &[MailParam],
    ) -> (Reply, Effect) {
        let Some(hello) = &self.hello else {
            return (self.bad_sequence("Send EHLO or HELO first"), Effect::None);
        };
        if self.bdat_failed {
            return (
                self.bad_sequence("RSET required after a failed BDAT"),
                Effect::None,
            );
        }
        if self.transaction.is_some() {
            return (self.bad_sequence("Nested MAIL command"), Effect::None);
        }
        let ext = &hello.extensions;
        for param in params {
            let offered = match param {
                MailParam::Size(_) => ext.has("SIZE"),
                MailParam::Body(Body::BinaryMime) => ext.has("BINARYMIME"),
                MailParam::Body(_) => ext.has("8BITMIME"),
                MailParam::SmtpUtf8 => ext.has("SMTPUTF8"),
                MailParam::Ret(_) | MailParam::EnvId(_) => ext.has("DSN"),
                MailParam::Auth(_) => ext.has("AUTH"),
                MailParam::Other { .. } => false,
            };
            if !offered {
                // RFC 5321 §4.1.1.11: 555 for parameters not recognized or not offered.
                return (
                    self.reply(
                        555,
                        (5, 5, 4),
                        format!("MAIL parameter {} not recognized", param.keyword()),
                    ),
                    Effect::None,
                );
            }
            if let MailParam::Size(size) = param {
                let max = self.config.max_message_size;
                // u64::MAX stands for any 20-digit size over 2^64 - 1 (RFC 1870 allows 20
                // digits): no message can be that large, whatever the limit.
                if (max > 0 && *size > max) || *size == u64::MAX {
                    return (
                        self.reply(
                            552,
                            (5, 3, 4),
                            "Message size exceeds fixed maximum message size",
                        ),
                        Effect::None,
                    );
                }
            }
        }
        let smtputf8 = params.contains(&MailParam::SmtpUtf8);
        if !smtputf8 && reverse_path.mailbox().is_some_and(|m| m.is_utf8()) {
            // RFC 6531 §3.5
            return (
                self.reply(550, (5, 6, 7), "Non-ASCII address requires SMTPUTF8"),
                Effect::None,
            );
        }
        (
            self.reply(
                250,
                (2, 1, 0),
                quoting("Sender ", |out| reverse_path.write_to(out), " OK"),
            ),
            Effect::Mail(Transaction {
                reverse_path: reverse_path.clone(),
                params: params.to_vec(),
                recipients: Vec::new(),
            }),
        )
    }

    fn evaluate_rcpt(&self, forward_path: &ForwardPath, params: &[RcptParam]) -> (Reply, Effect) {
        let Some(transaction) = &self.transaction else {
            let text = if self.bdat_failed {
                "RSET required after a failed BDAT"
            } else {
                "Need MAIL before RCPT"
            };
            return (self.bad_sequence(text), Effect::None);
        };
        let dsn = self.advertised("DSN");
        for param in params {
            let offered = match param {
                RcptParam::Notify(_) | RcptParam::Orcpt { .. } => dsn,
                RcptParam::Other { .. } => false,
            };
            if !offered {
                return (
                    self.reply(
                        555,
                        (5, 5, 4),
                        format!("RCPT parameter {} not recognized", param.keyword()),
                    ),
                    Effect::None,
                );
            }
        }
        if forward_path.is_utf8() && !transaction.smtputf8() {
            return (
                self.reply(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8"),
                Effect::None,
            );
        }
        if transaction.recipients.len() >= self.config.max_recipients {
            return (
                self.reply(452, (4, 5, 3), "Too many recipients"),
                Effect::None,
            );
        }
        (
            self.reply(
                250,
                (2, 1, 5),
                quoting("Recipient ", |out| forward_path.write_to(out), " OK"),
            ),
            Effect::Rcpt(Recipient {
                forward_path: forward_path.clone(),
                params: params.to_vec(),
            }),
        )
    }

    fn evaluate_data(&self) -> Reply {
        if self.hello.is_none() {
            return self.bad_sequence("Send EHLO or HELO first");
        }
        let Some(transaction) = &self.transaction else {
            return self.bad_sequence("Need MAIL command");
        };
        if self.bdat.is_some() {
            return self.bad_sequence("DATA not allowed after BDAT");
        }
        if transaction.body() == Some(Body::BinaryMime) {
            // RFC 3030 §3: BINARYMIME content must come by BDAT.
            return self.bad_sequence("BODY=BINARYMIME requires BDAT");
        }
        if transaction.recipients.is_empty() {
            // RFC 5321 §3.3 allows 554 or 503 here.
            return self.reply(554, (5, 5, 1), "No valid recipients");
        }
        Reply::new(354, None, "Start mail input; end with <CRLF>.<CRLF>")
    }

    /// BDAT: read the chunk first, answer after (RFC 3030 §2). `refusal` is already known
    /// when CHUNKING is not offered or the line is malformed: the chunk is then discarded.
    fn start_chunk(
        &mut self,
        command: Result<Command, CommandError>,
        line: Vec<u8>,
        size: u64,
        last: bool,
        refusal: Option<Reply>,
    ) {
        let refusal = if refusal.is_some() {
            refusal
        } else if self.refused || self.hello.is_none() {
            Some(self.bad_sequence("Send EHLO or HELO first"))
        } else if self.bdat_failed {
            Some(self.bad_sequence("RSET required after a failed BDAT"))
        } else {
            match &self.transaction {
                None => Some(self.bad_sequence("Need MAIL command")),
                Some(t) if t.recipients.is_empty() => {
                    Some(self.reply(554, (5, 5, 1), "No valid recipients"))
                }
                Some(_) => None,
            }
        };
        if refusal.is_none() {
            let reader = self.bdat.get_or_insert_with(|| {
                Box::new(ChunkReader::new(
                    self.config.max_message_size,
                    self.config.text_line_limit,
                ))
            });
            reader.start_chunk(size);
        }
        self.phase = Phase::Chunk(Chunk {
            command,
            line,
            size,
            last,
            remaining: size,
            refusal,
        });
    }

    pub(super) fn end_of_chunk(&mut self, chunk: Chunk) {
        let size = chunk.size;
        let pipelined = self.content_early.take().unwrap_or(false);
        let command = match chunk.command {
            Ok(command) => command,
            Err(error) => {
                // Not a content event: the line is no BDAT command, so no chunk belongs to it.
                self.transcript.note(
                    self.now,
                    None,
                    format!("{size} octets after the malformed BDAT line read and discarded"),
                );
                self.bdat_refused();
                let default = chunk.refusal.unwrap_or_else(|| self.reply_to_error(&error));
                let response = self.ask(
                    &DecisionPoint::InvalidCommand {
                        line: &chunk.line,
                        error: &error,
                    },
                    default,
                );
                self.respond(response, Effect::None, true);
                return;
            }
        };
        self.transcript.push(
            self.now,
            Event::Content {
                octets: size,
                summary: format!("{size} octets of BDAT chunk"),
                pipelined,
                report: None,
            },
        );
        let oversized = self.bdat.as_ref().is_some_and(|r| r.is_oversized());
        let refusal = match chunk.refusal {
            Some(refusal) => Some(refusal),
            None if oversized && !chunk.last => Some(self.reply(
                552,
                (5, 3, 4),
                "Message size exceeds fixed maximum message size",
            )),
            None => None,
        };
        if let Some(refusal) = refusal {
            self.bdat_refused();
            let response = self.ask(
                &DecisionPoint::Command {
                    command: &command,
                    line: &chunk.line,
                },
                refusal,
            );
            self.respond(response, Effect::None, true);
            return;
        }
        if chunk.last {
            let Some(reader) = self.bdat.take() else {
                return;
            };
            let (content, report) = reader.finish();
            self.end_of_message(content, report, oversized, Transfer::Bdat);
        } else {
            let default = self.reply(250, (2, 0, 0), format!("{size} octets received"));
            let response = self.ask(
                &DecisionPoint::Command {
                    command: &command,
                    line: &chunk.line,
                },
                default,
            );
            self.respond(response, Effect::None, true);
        }
    }

    /// A chunk was refused: a transaction under way is now in doubt, and only RSET (or
    /// EHLO/HELO) clears it (RFC 3030 §2).
    fn bdat_refused(&mut self) {
        if self.transaction.is_some() {
            self.transaction = None;
            self.bdat = None;
            self.bdat_failed = true;
        }
    }
}

/// The syntax line HELP gives for a verb (RFC 5321 §4.1.1 and the extensions' RFCs).
/// `before`, a path as its Display form writes it, then `after`: the text of MAIL's and RCPT's
/// 250, built without `format!`'s machinery (see `address.rs`).
fn quoting(
    before: &str,
    write_path: impl FnOnce(&mut String) -> std::fmt::Result,
    after: &str,
) -> String {
    let mut text = String::with_capacity(before.len() + 64 + after.len());
    text.push_str(before);
    // Writing into a String cannot fail.
    let _ = write_path(&mut text);
    text.push_str(after);
    text
}

fn help_syntax(verb: Verb) -> &'static str {
    match verb {
        Verb::Ehlo => "EHLO <domain>",
        Verb::Helo => "HELO <domain>",
        Verb::Mail => "MAIL FROM:<reverse-path> [SIZE=n] [BODY=7BIT|8BITMIME|BINARYMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=xtext]",
        Verb::Rcpt => "RCPT TO:<forward-path> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=type;xtext]",
        Verb::Data => "DATA, then the message, ended by a line with a single dot",
        Verb::Bdat => "BDAT <size> [LAST], then exactly <size> octets",
        Verb::Rset => "RSET",
        Verb::Vrfy => "VRFY <string>",
        Verb::Expn => "EXPN <string> (not implemented)",
        Verb::Help => "HELP [<command>]",
        Verb::Noop => "NOOP [<string>]",
        Verb::Quit => "QUIT",
        Verb::StartTls => "STARTTLS (when offered)",
        Verb::Auth => "AUTH <mechanism> [<initial-response>] (when offered)",
    }
}
