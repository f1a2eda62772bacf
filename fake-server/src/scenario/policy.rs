//! Plays a scenario: a [`Policy`] that answers each decision point with the first rule whose
//! conditions hold, or with the session's default.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use smtp_protocol::command::{Command, CommandError};
use smtp_protocol::reply::Reply;
use smtp_protocol::session::{DecisionPoint, Policy, Response, SessionView, Step};
use tokio::time::Instant;

use super::model::{AcrossSessions, KeyPart, StepTemplate};
use super::rng::SplitMix64;
use super::{CompiledRule, EventKind, Scenario};
use crate::runtime::connection::PolicyFactory;

/// What the server remembers across sessions for `across-sessions` conditions.
#[derive(Debug, Clone, Copy)]
struct Seen {
    count: u32,
    first: Instant,
}

/// Makes one [`ScenarioPolicy`] per session; shares the cross-session memory between them.
#[derive(Debug)]
pub struct ScenarioPolicyFactory {
    scenario: Arc<Scenario>,
    hostname: String,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    sessions: AtomicU64,
}

impl ScenarioPolicyFactory {
    /// `hostname` is the server name the session uses (for `{hostname}` and EHLO).
    pub fn new(scenario: Arc<Scenario>, hostname: String) -> ScenarioPolicyFactory {
        ScenarioPolicyFactory {
            scenario,
            hostname,
            seen: Arc::default(),
            sessions: AtomicU64::new(0),
        }
    }
}

impl PolicyFactory for ScenarioPolicyFactory {
    fn policy(&self) -> Box<dyn Policy> {
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        Box::new(ScenarioPolicy {
            scenario: Arc::clone(&self.scenario),
            hostname: self.hostname.clone(),
            seen: Arc::clone(&self.seen),
            // Each session draws from its own stream, fixed by the seed and its number. The
            // start is hashed: plain offsets would give overlapping, shifted sequences.
            rng: SplitMix64::new(SplitMix64::new(self.scenario.seed.wrapping_add(n)).next_u64()),
            counts: HashMap::new(),
            sender: None,
            recipient: None,
            helo: None,
        })
    }
}

#[derive(Debug)]
pub struct ScenarioPolicy {
    scenario: Arc<Scenario>,
    hostname: String,
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    rng: SplitMix64,
    counts: HashMap<EventKind, u32>,
    /// The sender of the decision being rendered, for `{sender}`.
    sender: Option<String>,
    /// The recipient of the decision being rendered (RCPT's own, else the transaction's
    /// first), for `{recipient}`.
    recipient: Option<String>,
    /// The EHLO/HELO argument, including the one being answered, for `{helo}`.
    helo: Option<String>,
}

/// What the conditions look at, gathered once per decision.
struct Facts<'a> {
    event: EventKind,
    /// The default reply accepts (2xx/3xx).
    accepted: bool,
    nth: u32,
    line: &'a str,
    args: &'a str,
    session: &'a SessionView<'a>,
    /// The sender the event concerns (MAIL's own, or the transaction's).
    sender: Option<String>,
    /// RCPT's own recipient, or all of the transaction's.
    recipients: Vec<String>,
    content: Option<&'a [u8]>,
    /// MAIL's declared SIZE, or the message's size at the end of data.
    size: Option<u64>,
    across: HashMap<Vec<KeyPart>, Seen>,
    now: Instant,
}

fn event_of(point: &DecisionPoint<'_>) -> EventKind {
    use smtp_protocol::command::Verb;
    let verb = match point {
        DecisionPoint::Greeting => return EventKind::Greeting,
        DecisionPoint::EndOfData { .. } => return EventKind::EndOfData,
        DecisionPoint::LineTooLong => return EventKind::Unknown,
        DecisionPoint::AuthResult { .. } => return EventKind::AuthResult,
        DecisionPoint::Command { command, .. } => command.verb(),
        DecisionPoint::InvalidCommand { error, .. } => match error.verb() {
            Some(verb) => verb,
            None => return EventKind::Unknown,
        },
    };
    match verb {
        Verb::Ehlo => EventKind::Ehlo,
        Verb::Helo => EventKind::Helo,
        Verb::Mail => EventKind::Mail,
        Verb::Rcpt => EventKind::Rcpt,
        Verb::Data => EventKind::Data,
        Verb::Bdat => EventKind::Bdat,
        Verb::Rset => EventKind::Rset,
        Verb::Vrfy => EventKind::Vrfy,
        Verb::Expn => EventKind::Expn,
        Verb::Help => EventKind::Help,
        Verb::Noop => EventKind::Noop,
        Verb::Quit => EventKind::Quit,
        Verb::StartTls => EventKind::StartTls,
        Verb::Auth => EventKind::Auth,
    }
}

/// A mailbox as conditions see it: without angle brackets, empty for `<>`.
fn bare(path: &impl ToString) -> String {
    let text = path.to_string();
    text.trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

impl Policy for ScenarioPolicy {
    fn decide(
        &mut self,
        session: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        let event = event_of(point);
        self.helo = match point {
            DecisionPoint::Command {
                command: Command::Ehlo { domain } | Command::Helo { domain },
                ..
            } => Some(domain.clone()),
            _ => session.helo.map(str::to_owned),
        };
        let nth = {
            let count = self.counts.entry(event).or_insert(0);
            *count += 1;
            *count
        };
        let default = match (event, point) {
            (EventKind::Ehlo, DecisionPoint::Command { .. }) if default.code.get() == 250 => {
                self.ehlo_reply(session, default)
            }
            _ => default,
        };
        let scenario = Arc::clone(&self.scenario);
        let rules = scenario.rules(event);
        if rules.is_empty() {
            return Response::reply(default);
        }
        let raw_line = match point {
            DecisionPoint::Command { line, .. } | DecisionPoint::InvalidCommand { line, .. } => {
                String::from_utf8_lossy(line).into_owned()
            }
            // auth-result: its "arguments" are the mechanism's name.
            DecisionPoint::AuthResult { mechanism, .. } => format!("AUTH {mechanism}"),
            _ => String::new(),
        };
        let args = raw_line.split_once(' ').map_or("", |(_, a)| a);
        let (sender, recipients) = envelope_facts(point, session);
        let content = match point {
            DecisionPoint::EndOfData { content, .. } => Some(*content),
            _ => None,
        };
        let size = match point {
            DecisionPoint::EndOfData { content, .. } => Some(content.len() as u64),
            DecisionPoint::Command {
                command: Command::Mail { params, .. },
                ..
            } => params.iter().find_map(|p| match p {
                smtp_protocol::params::MailParam::Size(size) => Some(*size),
                _ => None,
            }),
            _ => None,
        };
        let mut facts = Facts {
            event,
            accepted: default.code.is_positive(),
            nth,
            line: &raw_line,
            args,
            session,
            sender,
            recipients,
            content,
            size,
            across: HashMap::new(),
            now: Instant::now(),
        };
        self.count_across_sessions(rules, &mut facts);
        self.sender = facts.sender.clone();
        self.recipient = facts.recipients.first().cloned();
        Response {
            steps: self.respond(rules, &facts, &default),
        }
    }
}

fn envelope_facts(
    point: &DecisionPoint<'_>,
    session: &SessionView<'_>,
) -> (Option<String>, Vec<String>) {
    let transaction = session.transaction;
    let sender_of_transaction = transaction.map(|t| bare(&t.reverse_path));
    let recipients_of_transaction = || {
        transaction
            .map(|t| t.recipients.iter().map(|r| bare(&r.forward_path)).collect())
            .unwrap_or_default()
    };
    match point {
        DecisionPoint::Command {
            command: Command::Mail { reverse_path, .. },
            ..
        } => (Some(bare(reverse_path)), Vec::new()),
        DecisionPoint::Command {
            command: Command::Rcpt { forward_path, .. },
            ..
        } => (sender_of_transaction, vec![bare(forward_path)]),
        DecisionPoint::InvalidCommand {
            error: CommandError::ReversePath(_),
            ..
        } => (None, Vec::new()),
        _ => (sender_of_transaction, recipients_of_transaction()),
    }
}

impl ScenarioPolicy {
    /// The EHLO reply the scenario advertises (first line and capabilities).
    fn ehlo_reply(&mut self, session: &SessionView<'_>, default: Reply) -> Reply {
        let reply = self.advertised_ehlo(session, default);
        self.expand_reply(&reply, session)
    }

    fn advertised_ehlo(&self, session: &SessionView<'_>, default: Reply) -> Reply {
        let ehlo = &self.scenario.ehlo;
        if ehlo.greeting.is_none() && ehlo.capabilities.is_none() && ehlo.withhold.is_empty() {
            return default;
        }
        let first = match &ehlo.greeting {
            Some(text) => text.clone(),
            None => default.lines.first().cloned().unwrap_or_default(),
        };
        let capabilities: Vec<String> = match (&ehlo.capabilities, &ehlo.capabilities_after_tls) {
            (_, Some(after)) if session.tls => after.clone(),
            (Some(caps), _) if session.tls => caps
                .iter()
                .filter(|c| !c.trim().eq_ignore_ascii_case("STARTTLS"))
                .cloned()
                .collect(),
            (Some(caps), _) => caps.clone(),
            (None, _) => default.lines.iter().skip(1).cloned().collect(),
        };
        let mut lines = vec![first];
        lines.extend(capabilities.into_iter().filter(|line| {
            let keyword = line.split_whitespace().next().unwrap_or_default();
            !ehlo
                .withhold
                .iter()
                .any(|w| w.trim().eq_ignore_ascii_case(keyword))
        }));
        Reply::multiline(250, None, lines)
    }

    /// Counts this event once per distinct `across-sessions` key among the rules.
    fn count_across_sessions(&self, rules: &[CompiledRule], facts: &mut Facts<'_>) {
        let specs: Vec<&AcrossSessions> = rules
            .iter()
            .filter_map(|r| r.when.across_sessions.as_ref())
            .collect();
        if specs.is_empty() {
            return;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        for spec in specs {
            if facts.across.contains_key(&spec.key) {
                continue;
            }
            let key = self.key_of(spec, facts);
            let entry = seen.entry(key).or_insert(Seen {
                count: 0,
                first: facts.now,
            });
            entry.count += 1;
            facts.across.insert(spec.key.clone(), *entry);
        }
    }

    fn key_of(&self, spec: &AcrossSessions, facts: &Facts<'_>) -> String {
        let mut key = facts.event.as_str().to_owned();
        for part in &spec.key {
            let value = match part {
                KeyPart::ClientIp => facts
                    .session
                    .peer
                    .parse::<SocketAddr>()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|_| facts.session.peer.to_owned()),
                KeyPart::Helo => self.helo.clone().unwrap_or_default(),
                KeyPart::Sender => facts.sender.clone().unwrap_or_default(),
                KeyPart::Recipient => facts.recipients.first().cloned().unwrap_or_default(),
                KeyPart::User => facts.session.user.unwrap_or("").to_owned(),
            };
            key.push('\u{1f}');
            key.push_str(&value);
        }
        key
    }

    fn holds(&mut self, rule: &CompiledRule, facts: &Facts<'_>) -> bool {
        let when = &rule.when;
        let session = facts.session;
        let regex_on = |regex: &Option<super::values::RegexValue>, text: &str| {
            regex.as_ref().is_none_or(|r| r.is_match(text))
        };
        let basic = when.accepted.is_none_or(|a| facts.accepted == a)
            && regex_on(&when.args, facts.args)
            && regex_on(&when.line, facts.line)
            && when.nth.is_none_or(|n| facts.nth == n)
            && when.nth_at_least.is_none_or(|n| facts.nth >= n)
            && when.tls.is_none_or(|tls| session.tls == tls)
            && when
                .authenticated
                .is_none_or(|a| session.user.is_some() == a)
            && when
                .user
                .as_ref()
                .is_none_or(|r| session.user.is_some_and(|u| r.is_match(u)))
            && when
                .sender
                .as_ref()
                .is_none_or(|r| facts.sender.as_deref().is_some_and(|s| r.is_match(s)))
            && when
                .recipient
                .as_ref()
                .is_none_or(|r| facts.recipients.iter().any(|rcpt| r.is_match(rcpt)))
            && when.sender_is_user.is_none_or(|wanted| {
                let same = match (&facts.sender, session.user) {
                    (Some(sender), Some(user)) => sender.eq_ignore_ascii_case(user),
                    _ => false,
                };
                same == wanted
            })
            && when.recipients.is_none_or(|range| {
                let accepted = session.transaction.map_or(0, |t| t.recipients.len());
                range.contains(accepted as u64)
            })
            && when
                .messages
                .is_none_or(|range| range.contains(u64::from(session.messages)))
            && when.across_sessions.as_ref().is_none_or(|spec| {
                facts.across.get(&spec.key).is_some_and(|seen| {
                    let since = facts.now.saturating_duration_since(seen.first);
                    spec.nth.is_none_or(|n| seen.count == n)
                        && spec.nth_at_least.is_none_or(|n| seen.count >= n)
                        && spec.since_first.is_none_or(|range| {
                            range.less_than.is_none_or(|d| since < d.0)
                                && range.at_least.is_none_or(|d| since >= d.0)
                        })
                })
            })
            && when
                .size
                .is_none_or(|range| facts.size.is_some_and(|size| range.contains(size)))
            && content_holds(rule, facts.content);
        // Drawn last, and only for rules that got this far, so that the sequence of draws
        // depends only on the conversation.
        basic && when.probability.is_none_or(|p| self.rng.next_f64() < p)
    }

    /// What the scenario sends with these rules: the steps of the first rule whose
    /// conditions hold, or the session's default. A `default` step in that rule stands for
    /// what the rules after it would send (the scenario without this rule, the rules of
    /// what it extends included: they come after its own).
    fn respond(&mut self, rules: &[CompiledRule], facts: &Facts<'_>, default: &Reply) -> Vec<Step> {
        let Some(index) = rules.iter().position(|rule| self.holds(rule, facts)) else {
            return vec![Step::Reply(default.clone())];
        };
        let rest = &rules[index + 1..];
        let mut steps = Vec::new();
        for step in &rules[index].steps {
            self.render_step(step, rest, facts, default, &mut steps);
        }
        steps
    }

    fn render_step(
        &mut self,
        step: &StepTemplate,
        rest: &[CompiledRule],
        facts: &Facts<'_>,
        default: &Reply,
        out: &mut Vec<Step>,
    ) {
        let session = facts.session;
        let step = match step {
            StepTemplate::Default => {
                // Asked here, where it is used: the rules after it draw their probabilities
                // only when a rule wants to know what they would send.
                let fallback = self.respond(rest, facts, default);
                out.extend(fallback);
                return;
            }
            StepTemplate::Reply(reply) => Step::Reply(self.expand_reply(reply, session)),
            StepTemplate::ReplyOctets(octets) => Step::ReplyOctets(octets.clone()),
            StepTemplate::Raw(raw) if raw.text && raw.bytes.contains(&b'{') => {
                let text = String::from_utf8_lossy(&raw.bytes).into_owned();
                Step::Raw(self.expand(&text, session).into_bytes())
            }
            StepTemplate::Raw(raw) => Step::Raw(raw.bytes.clone()),
            StepTemplate::Delay(duration) => Step::Delay(*duration),
            StepTemplate::Close(mode) => Step::Close(*mode),
            StepTemplate::KeepOpen => Step::KeepOpen,
            StepTemplate::After { delay, steps } => {
                let mut later = Vec::new();
                for step in steps {
                    self.render_step(step, rest, facts, default, &mut later);
                }
                Step::After {
                    delay: *delay,
                    steps: later,
                }
            }
            StepTemplate::Trickle { gap, content } => {
                let mut rendered = Vec::new();
                self.render_step(content, rest, facts, default, &mut rendered);
                // Everything the content writes, octet by octet (for `default`, what the
                // rules after would write).
                let mut bytes = Vec::new();
                for step in rendered {
                    match step {
                        Step::Reply(reply) => reply.write_to(&mut bytes),
                        Step::ReplyOctets(octets) | Step::Raw(octets) => {
                            bytes.extend_from_slice(&octets)
                        }
                        Step::Trickle { bytes: octets, .. } => bytes.extend_from_slice(&octets),
                        _ => {}
                    }
                }
                Step::Trickle { bytes, gap: *gap }
            }
        };
        out.push(step);
    }

    /// Fills `{hostname}`, `{helo}`, `{sender}`, `{recipient}`, `{user}`, `{peer-ip}` and
    /// `{random:N}`; `{queue-id}` is left for the session, which knows it only once the
    /// message is stored.
    fn expand_reply(&mut self, reply: &Reply, session: &SessionView<'_>) -> Reply {
        let mut reply = reply.clone();
        for line in &mut reply.lines {
            if line.contains('{') {
                *line = self.expand(line, session);
            }
        }
        reply
    }

    fn expand(&mut self, text: &str, session: &SessionView<'_>) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 1..start + len];
            let value = match name {
                "hostname" => Some(self.hostname.clone()),
                "helo" => Some(self.helo.clone().unwrap_or_default()),
                "sender" => Some(self.sender.clone().unwrap_or_default()),
                "recipient" => Some(self.recipient.clone().unwrap_or_default()),
                "user" => Some(session.user.unwrap_or_default().to_owned()),
                "peer-ip" => Some(
                    session
                        .peer
                        .parse::<SocketAddr>()
                        .map(|a| a.ip().to_string())
                        .unwrap_or_default(),
                ),
                _ => name
                    .strip_prefix("random:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .map(|n| self.rng.alphanumeric(n.min(256))),
            };
            match value {
                Some(value) => out.push_str(&value),
                // Unknown names ({queue-id} among them) stay as written.
                None => out.push_str(&rest[start..=start + len]),
            }
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }
}

fn content_holds(rule: &CompiledRule, content: Option<&[u8]>) -> bool {
    let m = &rule.content;
    if m.header.is_none() && m.body.is_none() {
        return true;
    }
    let Some(content) = content else {
        return false;
    };
    let (headers, body) = split_message(content);
    m.body.as_ref().is_none_or(|r| r.0.is_match(body))
        && m.header.as_ref().is_none_or(|h| {
            header_values(headers, &h.name)
                .iter()
                .any(|v| h.value.is_match(v))
        })
}

/// Splits a message at the empty line after its header section.
fn split_message(content: &[u8]) -> (&[u8], &[u8]) {
    let end = memchr_find(content, b"\r\n\r\n")
        .map(|i| (i + 2, i + 4))
        .or_else(|| memchr_find(content, b"\n\n").map(|i| (i + 1, i + 2)));
    match end {
        Some((header_end, body_start)) => (&content[..header_end], &content[body_start..]),
        None => (content, &[]),
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The unfolded values of every field called `name` (any case).
fn header_values(headers: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(headers);
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push(' ');
                last.push_str(line.trim_start());
            }
        } else if !line.is_empty() {
            fields.push(line.to_owned());
        }
    }
    fields
        .into_iter()
        .filter_map(|field| {
            let (field_name, value) = field.split_once(':')?;
            field_name
                .trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
        .collect()
}
