//! Expectations: what a run must show besides a client that follows the RFCs. Written as an
//! `expect:` block in a scenario, or as `--expect KEY=VALUE` on the command line (the same
//! keys); each one is reported as its own result.
//!
//! Message expectations hold when at least one received message meets them: "a message to
//! bob@example.org with this Subject arrived" is what an end-to-end test asks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::Deserialize;
use smtp_conformance::Status;

use crate::mailbox::{SessionRecord, StoredMessage};
use crate::report::{ClientResult, ExpectationResult, Verdict};
use crate::scenario::values::{DurationValue, RegexValue};

/// What the client's exit status must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpectation {
    Zero,
    NonZero,
    Code(i32),
}

impl<'de> Deserialize<'de> for ExitExpectation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(i32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(code) => Ok(ExitExpectation::Code(code)),
            Raw::Word(word) => ExitExpectation::parse(&word).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for ExitExpectation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExitExpectation".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`zero`, `non-zero`, or an exit code",
            "anyOf": [
                { "type": "integer" },
                { "enum": ["zero", "non-zero"] }
            ]
        })
    }
}

impl ExitExpectation {
    fn parse(text: &str) -> Result<ExitExpectation, String> {
        match text {
            "zero" => Ok(ExitExpectation::Zero),
            "non-zero" | "nonzero" => Ok(ExitExpectation::NonZero),
            other => other
                .parse()
                .map(ExitExpectation::Code)
                .map_err(|_| format!("expected zero, non-zero or a number, not {other:?}")),
        }
    }

    fn describe(&self) -> String {
        match self {
            ExitExpectation::Zero => "zero".to_owned(),
            ExitExpectation::NonZero => "non-zero".to_owned(),
            ExitExpectation::Code(code) => code.to_string(),
        }
    }
}

/// The expectations of a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expectations {
    /// Exactly this many messages received.
    pub messages: Option<u64>,
    /// A message with this envelope sender (`MAIL FROM`, without angle brackets; `""` for
    /// the null sender).
    pub sender: Option<String>,
    /// A message whose envelope recipients include all of these.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// A message with each of these header fields, its value matching the regex.
    #[serde(default)]
    pub headers: BTreeMap<String, RegexValue>,
    /// A message whose text contains each of these.
    #[serde(default)]
    pub body: Vec<String>,
    /// A message with an attachment of each of these file names.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The client's exit status: `zero`, `non-zero`, or a code. A client that reports
    /// success after a `554`, or failure after a `250`, is the bug this catches.
    pub exit_code: Option<ExitExpectation>,
    /// Checks that must pass: in at least one session, and fail or warn in none.
    #[serde(default)]
    pub pass: Vec<String>,
    /// The client must finish within this time.
    pub max_duration: Option<DurationValue>,
}

impl Expectations {
    /// Whether nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.messages.is_none()
            && self.sender.is_none()
            && self.recipients.is_empty()
            && self.headers.is_empty()
            && self.body.is_empty()
            && self.attachments.is_empty()
            && self.exit_code.is_none()
            && self.pass.is_empty()
            && self.max_duration.is_none()
    }

    /// Adds one `KEY=VALUE` from the command line (the keys of the `expect:` block; list
    /// keys may repeat, `headers` is `header=NAME:REGEX`).
    pub fn add_flag(&mut self, flag: &str) -> Result<(), String> {
        let (key, value) = flag
            .split_once('=')
            .ok_or_else(|| format!("--expect {flag}: expected KEY=VALUE"))?;
        let bad = |e: String| format!("--expect {flag}: {e}");
        match key {
            "messages" => {
                self.messages = Some(value.parse().map_err(|e| bad(format!("{e}")))?);
            }
            "sender" => self.sender = Some(value.to_owned()),
            "recipient" | "recipients" => self.recipients.push(value.to_owned()),
            "header" | "headers" => {
                let (name, pattern) = value
                    .split_once(':')
                    .ok_or_else(|| bad("expected header=NAME:REGEX".to_owned()))?;
                let regex = regex::Regex::new(pattern)
                    .map_err(|e| bad(format!("invalid regular expression: {e}")))?;
                self.headers.insert(name.to_owned(), RegexValue(regex));
            }
            "body" => self.body.push(value.to_owned()),
            "attachment" | "attachments" => self.attachments.push(value.to_owned()),
            "exit-code" | "exit" => self.exit_code = Some(ExitExpectation::parse(value).map_err(bad)?),
            "pass" => self.pass.push(value.to_owned()),
            "max-duration" => {
                let duration = crate::duration::parse_duration(value).map_err(|e| bad(e.to_string()))?;
                self.max_duration = Some(DurationValue(duration));
            }
            other => {
                return Err(format!(
                    "--expect {flag}: unknown key {other:?} (messages, sender, recipient, header, body, attachment, exit-code, pass, max-duration)"
                ))
            }
        }
        Ok(())
    }

    /// Adds what `other` expects; `other`'s single values win.
    pub fn extend(&mut self, other: &Expectations) {
        self.messages = other.messages.or(self.messages);
        if other.sender.is_some() {
            self.sender.clone_from(&other.sender);
        }
        self.recipients.extend(other.recipients.iter().cloned());
        self.headers
            .extend(other.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.body.extend(other.body.iter().cloned());
        self.attachments.extend(other.attachments.iter().cloned());
        if other.exit_code.is_some() {
            self.exit_code.clone_from(&other.exit_code);
        }
        self.pass.extend(other.pass.iter().cloned());
        self.max_duration = other.max_duration.or(self.max_duration);
    }

    /// Each expectation with its result.
    pub fn evaluate(
        &self,
        messages: &[Arc<StoredMessage>],
        sessions: &[Arc<SessionRecord>],
        client: Option<&ClientResult>,
    ) -> Vec<ExpectationResult> {
        let mut results = Vec::new();
        let mut result = |what: String, pass: bool, detail: String| {
            results.push(ExpectationResult {
                what,
                status: Verdict::of(pass),
                detail,
            });
        };
        if let Some(count) = self.messages {
            result(
                format!("messages = {count}"),
                messages.len() as u64 == count,
                format!("{} received", messages.len()),
            );
        }
        if let Some(sender) = &self.sender {
            let wanted = format!("<{sender}>");
            let found = messages.iter().any(|m| m.mail_from() == wanted);
            result(format!("sender = {sender}"), found, senders_seen(messages));
        }
        for recipient in &self.recipients {
            let wanted = format!("<{recipient}>");
            let found = messages.iter().any(|m| m.rcpt_to().contains(&wanted));
            result(
                format!("recipient = {recipient}"),
                found,
                if found {
                    "received".to_owned()
                } else {
                    "no message was sent to it".to_owned()
                },
            );
        }
        for (name, pattern) in &self.headers {
            let values: Vec<String> = messages
                .iter()
                .flat_map(|m| header_values(&m.raw, name))
                .collect();
            let found = values.iter().any(|v| pattern.0.is_match(v));
            let detail = match values.first() {
                None => format!("no message has a {name} field"),
                Some(first) if !found => format!("{name}: {first:?} does not match"),
                Some(_) => "matches".to_owned(),
            };
            result(
                format!("header {name} ~ {}", pattern.0.as_str()),
                found,
                detail,
            );
        }
        for text in &self.body {
            let found = messages
                .iter()
                .any(|m| m.content_str().contains(text.as_str()));
            result(
                format!("body contains {text:?}"),
                found,
                if found { "found" } else { "not in any message" }.to_owned(),
            );
        }
        for name in &self.attachments {
            let found = messages
                .iter()
                .any(|m| m.summary().attachments.iter().any(|a| a == name));
            result(
                format!("attachment {name}"),
                found,
                if found { "found" } else { "no message has it" }.to_owned(),
            );
        }
        if let Some(expected) = &self.exit_code {
            let (pass, detail) = match client {
                None => (false, "no client was run".to_owned()),
                Some(c) => {
                    let pass = match (expected, c.exit_code) {
                        (ExitExpectation::Zero, Some(0)) => true,
                        (ExitExpectation::NonZero, Some(code)) => code != 0,
                        (ExitExpectation::NonZero, None) => true,
                        (ExitExpectation::Code(want), Some(code)) => *want == code,
                        _ => false,
                    };
                    let got = match (c.exit_code, c.signal) {
                        (Some(code), _) => format!("exit code {code}"),
                        (None, Some(signal)) => format!("killed by signal {signal}"),
                        (None, None) => "no exit status".to_owned(),
                    };
                    (pass, got)
                }
            };
            result(format!("exit-code = {}", expected.describe()), pass, detail);
        }
        for id in &self.pass {
            let statuses: Vec<Status> = sessions
                .iter()
                .filter_map(|s| s.checks.status(id))
                .collect();
            let passed = statuses.contains(&Status::Pass)
                && !statuses
                    .iter()
                    .any(|s| matches!(s, Status::Fail | Status::Warn));
            let detail = if smtp_conformance::info(id).is_none() {
                "no such check (see docs/checks.md)".to_owned()
            } else if statuses.is_empty() {
                "no session".to_owned()
            } else {
                let words: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
                words.join(", ")
            };
            result(format!("pass {id}"), passed, detail);
        }
        if let Some(DurationValue(limit)) = self.max_duration {
            let (pass, detail) = match client {
                Some(c) => (
                    Duration::from_millis(c.duration_ms) <= limit,
                    format!("{} ms", c.duration_ms),
                ),
                None => (false, "no client was run".to_owned()),
            };
            result(format!("max-duration = {limit:?}"), pass, detail);
        }
        results
    }
}

fn senders_seen(messages: &[Arc<StoredMessage>]) -> String {
    if messages.is_empty() {
        return "no message received".to_owned();
    }
    let senders: Vec<String> = messages.iter().map(|m| m.mail_from()).collect();
    format!("senders: {}", senders.join(", "))
}

/// The values (unfolded, decoded where they are encoded-words) of a message's header fields
/// named `name`.
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    message
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| match h.value() {
            mail_parser::HeaderValue::Text(text) => text.to_string(),
            mail_parser::HeaderValue::TextList(list) => list.join(", "),
            _ => String::from_utf8_lossy(
                raw.get(h.offset_start() as usize..h.offset_end() as usize)
                    .unwrap_or_default(),
            )
            .trim()
            .to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_fill_the_same_fields_as_the_block() {
        let mut e = Expectations::default();
        for flag in [
            "messages=1",
            "sender=a@example.com",
            "recipient=b@example.org",
            "header=Subject:^hello",
            "exit-code=non-zero",
            "pass=C-5321-EHLO-BEFORE-MAIL",
            "max-duration=5s",
        ] {
            e.add_flag(flag).expect(flag);
        }
        assert_eq!(e.messages, Some(1));
        assert_eq!(e.exit_code, Some(ExitExpectation::NonZero));
        assert_eq!(e.max_duration, Some(DurationValue(Duration::from_secs(5))));
        assert!(e.add_flag("nonsense=1").is_err());
        assert!(e.add_flag("header=no-colon").is_err());
        assert!(e.add_flag("exit-code=maybe").is_err());
    }
}
