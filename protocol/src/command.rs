//! SMTP commands (RFC 5321 §4.1 and the extensions' verbs): parse a command line (without its
//! CRLF) into a [`Command`], and print a command back as its wire line.
//!
//! Parsing is strict where the RFC grammar is (no space after `FROM:`, paths in angle brackets),
//! tolerant where the RFC asks for tolerance (verbs in any case, S-5321-CASE-INSENSITIVE;
//! trailing white space, S-5321-TRAILING-WSP). Whether a well-formed command is *allowed* now
//! (sequence, advertised extensions) is not decided here but by the session.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{is_valid_ehlo_domain, AddressError, ForwardPath, ReversePath};
use crate::params::{parse_mail_params, parse_rcpt_params, MailParam, ParamError, RcptParam};

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "verb")]
pub enum Command {
    Ehlo {
        domain: String,
    },
    Helo {
        domain: String,
    },
    Mail {
        reverse_path: ReversePath,
        params: Vec<MailParam>,
    },
    Rcpt {
        forward_path: ForwardPath,
        params: Vec<RcptParam>,
    },
    Data,
    /// `BDAT chunk-size [SP "LAST"]` (RFC 3030 §2).
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Vrfy {
        argument: String,
    },
    Expn {
        argument: String,
    },
    Help {
        topic: Option<String>,
    },
    Noop {
        argument: Option<String>,
    },
    Quit,
    StartTls,
    /// `AUTH mechanism [SP initial-response]` (RFC 4954 §4). The mechanism is kept as written.
    Auth {
        mechanism: String,
        initial_response: Option<String>,
    },
}

/// The verb of a command, also for lines that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verb {
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
}

impl Verb {
    pub fn from_name(name: &str) -> Option<Verb> {
        const VERBS: [(&str, Verb); 14] = [
            ("EHLO", Verb::Ehlo),
            ("HELO", Verb::Helo),
            ("MAIL", Verb::Mail),
            ("RCPT", Verb::Rcpt),
            ("DATA", Verb::Data),
            ("BDAT", Verb::Bdat),
            ("RSET", Verb::Rset),
            ("VRFY", Verb::Vrfy),
            ("EXPN", Verb::Expn),
            ("HELP", Verb::Help),
            ("NOOP", Verb::Noop),
            ("QUIT", Verb::Quit),
            ("STARTTLS", Verb::StartTls),
            ("AUTH", Verb::Auth),
        ];
        VERBS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ehlo => "EHLO",
            Verb::Helo => "HELO",
            Verb::Mail => "MAIL",
            Verb::Rcpt => "RCPT",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT",
            Verb::Rset => "RSET",
            Verb::Vrfy => "VRFY",
            Verb::Expn => "EXPN",
            Verb::Help => "HELP",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Verbs that RFC 5321 and its predecessors define but that this server does not implement:
/// they get 502, not 500 (S-5321-502-UNIMPLEMENTED).
const KNOWN_UNIMPLEMENTED: [&str; 7] = ["SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN", "VERB"];

/// Why a command line did not parse. Each variant maps to one RFC reply (see the session).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("empty command line")]
    Empty,
    #[error("invalid character in command line")]
    InvalidCharacter,
    #[error("command not recognized: {0:?}")]
    UnknownVerb(String),
    #[error("command not implemented: {0}")]
    NotImplemented(String),
    #[error("syntax error in {verb}: {problem}")]
    Syntax { verb: Verb, problem: &'static str },
    #[error("bad sender address: {0}")]
    ReversePath(AddressError),
    #[error("bad recipient address: {0}")]
    ForwardPath(AddressError),
    #[error("bad {verb} parameter: {error}")]
    Parameter { verb: Verb, error: ParamError },
}

impl CommandError {
    /// The verb of the failed line, when it was a known one.
    pub fn verb(&self) -> Option<Verb> {
        match self {
            CommandError::Syntax { verb, .. } | CommandError::Parameter { verb, .. } => Some(*verb),
            CommandError::ReversePath(_) => Some(Verb::Mail),
            CommandError::ForwardPath(_) => Some(Verb::Rcpt),
            _ => None,
        }
    }
}

impl Command {
    /// Parses one command line, without its line terminator.
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        // Control characters (NUL included) are never valid in a command line; non-ASCII is
        // allowed through here so that SMTPUTF8 addresses parse (the session decides).
        if line.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f) {
            return Err(CommandError::InvalidCharacter);
        }
        let line = std::str::from_utf8(line).map_err(|_| CommandError::InvalidCharacter)?;
        let line = line.trim_end_matches([' ', '\t']);
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        let (name, args) = match line.split_once(' ') {
            Some((name, args)) => (name, Some(args)),
            None => (line, None),
        };
        let Some(verb) = Verb::from_name(name) else {
            let upper = name.to_ascii_uppercase();
            return Err(if KNOWN_UNIMPLEMENTED.contains(&upper.as_str()) {
                CommandError::NotImplemented(upper)
            } else {
                CommandError::UnknownVerb(name.chars().take(64).collect())
            });
        };
        let syntax = |problem| CommandError::Syntax { verb, problem };
        let no_args = |command: Command| match args {
            None => Ok(command),
            Some(_) => Err(syntax("no parameters allowed")),
        };
        let required = |args: Option<&str>| match args {
            Some(a) if !a.is_empty() => Ok(a.to_owned()),
            _ => Err(syntax("argument required")),
        };
        match verb {
            Verb::Ehlo | Verb::Helo => {
                let domain = args.ok_or(syntax("hostname required"))?;
                if !is_valid_ehlo_domain(domain) {
                    return Err(syntax("invalid hostname"));
                }
                let domain = domain.to_owned();
                Ok(if verb == Verb::Ehlo {
                    Command::Ehlo { domain }
                } else {
                    Command::Helo { domain }
                })
            }
            Verb::Mail => {
                let path = strip_prefix_ci(args.unwrap_or(""), "FROM:")
                    .ok_or(syntax("expected FROM:<address>"))?;
                let (reverse_path, rest) =
                    ReversePath::parse_prefix(path).map_err(CommandError::ReversePath)?;
                let params = parse_param_tail(verb, rest, parse_mail_params)?;
                Ok(Command::Mail {
                    reverse_path,
                    params,
                })
            }
            Verb::Rcpt => {
                let path = strip_prefix_ci(args.unwrap_or(""), "TO:")
                    .ok_or(syntax("expected TO:<address>"))?;
                let (forward_path, rest) =
                    ForwardPath::parse_prefix(path).map_err(CommandError::ForwardPath)?;
                let params = parse_param_tail(verb, rest, parse_rcpt_params)?;
                Ok(Command::Rcpt {
                    forward_path,
                    params,
                })
            }
            Verb::Data => no_args(Command::Data),
            Verb::Rset => no_args(Command::Rset),
            Verb::Quit => no_args(Command::Quit),
            Verb::StartTls => no_args(Command::StartTls),
            Verb::Bdat => {
                let args = args.ok_or(syntax("chunk size required"))?;
                let (size, last) = match args.split_once(' ') {
                    Some((size, flag)) if flag.eq_ignore_ascii_case("LAST") => (size, true),
                    Some(_) => return Err(syntax("expected BDAT size [LAST]")),
                    None => (args, false),
                };
                if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(syntax("invalid chunk size"));
                }
                let size = size.parse().map_err(|_| syntax("chunk size too large"))?;
                Ok(Command::Bdat { size, last })
            }
            Verb::Vrfy => Ok(Command::Vrfy {
                argument: required(args)?,
            }),
            Verb::Expn => Ok(Command::Expn {
                argument: required(args)?,
            }),
            Verb::Help => Ok(Command::Help {
                topic: args.map(str::to_owned),
            }),
            Verb::Noop => Ok(Command::Noop {
                argument: args.map(str::to_owned),
            }),
            Verb::Auth => {
                let args = args.ok_or(syntax("mechanism required"))?;
                let (mechanism, initial_response) = match args.split_once(' ') {
                    Some((m, ir)) => (m, Some(ir)),
                    None => (args, None),
                };
                let mech_ok = !mechanism.is_empty()
                    && mechanism.len() <= 20
                    && mechanism
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !mech_ok || initial_response.is_some_and(|ir| ir.is_empty() || ir.contains(' '))
                {
                    return Err(syntax("expected AUTH mechanism [initial-response]"));
                }
                Ok(Command::Auth {
                    mechanism: mechanism.to_owned(),
                    initial_response: initial_response.map(str::to_owned),
                })
            }
        }
    }

    pub fn verb(&self) -> Verb {
        match self {
            Command::Ehlo { .. } => Verb::Ehlo,
            Command::Helo { .. } => Verb::Helo,
            Command::Mail { .. } => Verb::Mail,
            Command::Rcpt { .. } => Verb::Rcpt,
            Command::Data => Verb::Data,
            Command::Bdat { .. } => Verb::Bdat,
            Command::Rset => Verb::Rset,
            Command::Vrfy { .. } => Verb::Vrfy,
            Command::Expn { .. } => Verb::Expn,
            Command::Help { .. } => Verb::Help,
            Command::Noop { .. } => Verb::Noop,
            Command::Quit => Verb::Quit,
            Command::StartTls => Verb::StartTls,
            Command::Auth { .. } => Verb::Auth,
        }
    }

    /// The wire form, CRLF included.
    pub fn to_line(&self) -> String {
        format!("{self}\r\n")
    }
}

/// Prints the command without its CRLF; `Command::parse(cmd.to_string())` gives `cmd` back.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo { domain } => write!(f, "EHLO {domain}"),
            Command::Helo { domain } => write!(f, "HELO {domain}"),
            Command::Mail {
                reverse_path,
                params,
            } => {
                write!(f, "MAIL FROM:{reverse_path}")?;
                params.iter().try_for_each(|p| write!(f, " {p}"))
            }
            Command::Rcpt {
                forward_path,
                params,
            } => {
                write!(f, "RCPT TO:{forward_path}")?;
                params.iter().try_for_each(|p| write!(f, " {p}"))
            }
            Command::Data => f.write_str("DATA"),
            Command::Bdat { size, last: true } => write!(f, "BDAT {size} LAST"),
            Command::Bdat { size, last: false } => write!(f, "BDAT {size}"),
            Command::Rset => f.write_str("RSET"),
            Command::Vrfy { argument } => write!(f, "VRFY {argument}"),
            Command::Expn { argument } => write!(f, "EXPN {argument}"),
            Command::Help { topic: Some(topic) } => write!(f, "HELP {topic}"),
            Command::Help { topic: None } => f.write_str("HELP"),
            Command::Noop {
                argument: Some(arg),
            } => write!(f, "NOOP {arg}"),
            Command::Noop { argument: None } => f.write_str("NOOP"),
            Command::Quit => f.write_str("QUIT"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Auth {
                mechanism,
                initial_response: Some(ir),
            } => write!(f, "AUTH {mechanism} {ir}"),
            Command::Auth {
                mechanism,
                initial_response: None,
            } => write!(f, "AUTH {mechanism}"),
        }
    }
}

/// The chunk size a BDAT line declares, read even when the rest of the line is malformed
/// (`BDAT 6 FINAL`, `BDAT 6 LAST extra`): its first argument, when that is all digits and
/// fits in 64 bits. The client sends that many octets after the line whatever the server
/// thinks of it (RFC 3030 §2), so the server must know it to find the next command.
pub fn bdat_declared_size(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    // Tabs separate words too: `Command::parse` drops trailing ones (`BDAT 6\t` is a BDAT of
    // 6 octets), so a size followed by a tab is still the size (found by fuzzing).
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
    if !words.next()?.eq_ignore_ascii_case("BDAT") {
        return None;
    }
    let size = words.next()?;
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    size.parse().ok()
}

fn strip_prefix_ci<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
}

fn parse_param_tail<T>(
    verb: Verb,
    rest: &str,
    parse: fn(&str) -> Result<Vec<T>, ParamError>,
) -> Result<Vec<T>, CommandError> {
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let params = rest.strip_prefix(' ').ok_or(CommandError::Syntax {
        verb,
        problem: "unexpected characters after the address",
    })?;
    parse(params).map_err(|error| CommandError::Parameter { verb, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Body;

    fn parse(line: &str) -> Result<Command, CommandError> {
        Command::parse(line.as_bytes())
    }

    #[test]
    fn known_answers() {
        let round_trips = [
            "EHLO client.example.com",
            "HELO [127.0.0.1]",
            "MAIL FROM:<>",
            "MAIL FROM:<a@b.c> SIZE=12 BODY=8BITMIME SMTPUTF8",
            "RCPT TO:<Postmaster>",
            "RCPT TO:<u@d.org> NOTIFY=NEVER ORCPT=rfc822;u@d.org",
            "DATA",
            "BDAT 100",
            "BDAT 0 LAST",
            "RSET",
            "VRFY someone",
            "EXPN list",
            "HELP",
            "HELP MAIL",
            "NOOP",
            "NOOP anything at all",
            "QUIT",
            "STARTTLS",
            "AUTH PLAIN AGZvbwBiYXI=",
            "AUTH LOGIN",
        ];
        for line in round_trips {
            let command = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(command.to_string(), line);
        }
    }

    #[test]
    fn tolerant_where_the_rfc_asks() {
        assert_eq!(parse("quit"), Ok(Command::Quit));
        assert_eq!(parse("QUIT  "), Ok(Command::Quit));
        assert_eq!(
            parse("mail from:<a@b.c> body=7bit"),
            Ok(Command::Mail {
                reverse_path: ReversePath::parse_prefix("<a@b.c>").expect("path").0,
                params: vec![MailParam::Body(Body::SevenBit)],
            })
        );
    }

    #[test]
    fn errors_known_answers() {
        use CommandError::*;
        let cases: Vec<(&str, CommandError)> = vec![
            ("", Empty),
            ("   ", Empty),
            ("FOO bar", UnknownVerb("FOO".into())),
            ("etrn x", NotImplemented("ETRN".into())),
            ("EHL\0O x", InvalidCharacter),
            (
                "EHLO",
                Syntax {
                    verb: Verb::Ehlo,
                    problem: "hostname required",
                },
            ),
            (
                "EHLO bad_name",
                Syntax {
                    verb: Verb::Ehlo,
                    problem: "invalid hostname",
                },
            ),
            (
                "MAIL FROM: <a@b.c>",
                ReversePath(AddressError::MissingAngleBrackets),
            ),
            (
                "MAIL FROM:a@b.c",
                ReversePath(AddressError::MissingAngleBrackets),
            ),
            (
                "MAIL TO:<a@b.c>",
                Syntax {
                    verb: Verb::Mail,
                    problem: "expected FROM:<address>",
                },
            ),
            ("RCPT TO:<>", ForwardPath(AddressError::Empty)),
            (
                "RCPT TO:<a@b.c>x",
                Syntax {
                    verb: Verb::Rcpt,
                    problem: "unexpected characters after the address",
                },
            ),
            (
                "DATA now",
                Syntax {
                    verb: Verb::Data,
                    problem: "no parameters allowed",
                },
            ),
            (
                "BDAT x",
                Syntax {
                    verb: Verb::Bdat,
                    problem: "invalid chunk size",
                },
            ),
            (
                "MAIL FROM:<a@b.c> SIZE=x",
                Parameter {
                    verb: Verb::Mail,
                    error: ParamError::InvalidValue { keyword: "SIZE" },
                },
            ),
        ];
        for (line, error) in cases {
            assert_eq!(parse(line), Err(error), "{line:?}");
        }
        assert_eq!(Command::parse(b"MAIL FROM:<\xff@x>"), Err(InvalidCharacter));
    }

    #[test]
    fn the_declared_bdat_size_of_a_malformed_line() {
        for (line, size) in [
            (&b"BDAT 6 FINAL"[..], Some(6)),
            (b"bdat 6 LAST extra", Some(6)),
            (b"BDAT  12", Some(12)),
            (b"BDAT x", None),
            (b"BDAT", None),
            (b"BDAT -1", None),
            (b"BDAT 99999999999999999999999 LAST", None),
            (b"DATA 6", None),
        ] {
            assert_eq!(bdat_declared_size(line), size, "{line:?}");
        }
    }
}
