//! Lint: what a scenario says that loads but cannot take effect, found on the loaded
//! scenario (what it extends merged in). `fake-smtp check` prints each as a warning line and
//! still exits 0: the scenario runs, it just does not do all it says.
//!
//! The rules:
//! - `auth-not-advertised`: AUTH settings (`in-cleartext` before TLS; `mechanisms`, `users`,
//!   `login-initial-response`, and `required`, which can then never be met, at all) while the EHLO capabilities the scenario
//!   sets (its own or inherited) list no AUTH line: the server refuses AUTH where it is not
//!   advertised.
//! - `no-mechanisms`: AUTH settings while `auth.mechanisms` is `[]` (no AUTH offered).
//! - `pipelining-quirks`: `drop-pipelined-input` with `refuse-pipelining` (the refusal wins).
//! - `unreachable-rule`: a rule after one without conditions in the same file and event (the
//!   first rule that holds decides), unless that one passes on with `default`.
//! - `steps-after-close`: steps after `close` in a rule (the connection is gone).
//! - `keep-open-without-421`: `keep-open` in a rule that writes no `421` (only a 421 closes).

use std::fmt;

use super::model::StepTemplate;
use super::{CompiledRule, EventKind, Scenario};
use crate::scenario::model::Quirk;

/// A setting or rule that cannot take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file it concerns (the one `check` was given, or the one a rule is written in).
    pub file: String,
    /// The rule's name, as listed in this module's documentation.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: warning: {} [{}]",
            self.file, self.message, self.rule
        )
    }
}

/// Every warning about `scenario`, in a stable order.
pub fn lint(scenario: &Scenario) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let mut warn = |file: &str, rule: &'static str, message: String| {
        warnings.push(Warning {
            file: file.to_owned(),
            rule,
            message,
        })
    };
    let file = scenario.source.as_str();

    // AUTH settings that AUTH is never offered for.
    let auth = &scenario.auth;
    let mut auth_settings = Vec::new();
    if auth.mechanisms.as_ref().is_some_and(|m| !m.is_empty()) {
        auth_settings.push("auth.mechanisms");
    }
    if auth.users.is_some() {
        auth_settings.push("auth.users");
    }
    if auth.login_initial_response.is_some() {
        auth_settings.push("auth.login-initial-response");
    }
    if let Some(capabilities) = &scenario.ehlo.capabilities {
        let after_tls = scenario
            .ehlo
            .capabilities_after_tls
            .as_ref()
            .unwrap_or(capabilities);
        let before = offers_auth(capabilities);
        let after = offers_auth(after_tls);
        if auth.in_cleartext == Some(true) && !before {
            warn(
                file,
                "auth-not-advertised",
                "auth.in-cleartext: true cannot take effect: the EHLO capabilities before TLS \
                 (ehlo.capabilities, its own or inherited) list no AUTH line, and AUTH is \
                 refused where it is not advertised"
                    .to_owned(),
            );
        }
        if !before && !after && !auth_settings.is_empty() {
            warn(
                file,
                "auth-not-advertised",
                format!(
                    "{} cannot take effect: the EHLO capabilities (ehlo.capabilities and \
                     capabilities-after-tls, its own or inherited) list no AUTH line, so \
                     every AUTH is refused",
                    auth_settings.join(", "),
                ),
            );
        }
        if !before && !after && auth.required == Some(true) {
            warn(
                file,
                "auth-not-advertised",
                "auth.required cannot be met: the EHLO capabilities (ehlo.capabilities and \
                 capabilities-after-tls, its own or inherited) list no AUTH line, so every \
                 AUTH is refused and every MAIL gets 530"
                    .to_owned(),
            );
        }
    }
    if auth.mechanisms.as_ref().is_some_and(Vec::is_empty) {
        let mut moot = auth_settings.clone();
        if auth.in_cleartext == Some(true) {
            moot.push("auth.in-cleartext");
        }
        if !moot.is_empty() {
            warn(
                file,
                "no-mechanisms",
                format!(
                    "{} cannot take effect: auth.mechanisms is [] (no AUTH is offered)",
                    moot.join(", ")
                ),
            );
        }
    }

    if scenario.quirks.contains(&Quirk::DropPipelinedInput)
        && scenario.quirks.contains(&Quirk::RefusePipelining)
    {
        warn(
            file,
            "pipelining-quirks",
            "quirk drop-pipelined-input cannot take effect: refuse-pipelining answers \
             pipelined input first"
                .to_owned(),
        );
    }

    // Rules, event by event in a fixed order.
    let mut events: Vec<(&EventKind, &Vec<CompiledRule>)> = scenario.rules.iter().collect();
    events.sort_by_key(|(event, _)| event.as_str());
    for (event, rules) in events {
        let event = event.as_str();
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("on.{event} rule {}", rule.number);
            // A rule that always holds hides the later ones of its own file (what it
            // extends may be overridden on purpose), unless it passes on to them.
            if has_no_conditions(rule) && !rule.steps.iter().any(uses_default) {
                for later in rules[i + 1..]
                    .iter()
                    .filter(|later| later.origin == rule.origin)
                {
                    warn(
                        &later.origin,
                        "unreachable-rule",
                        format!(
                            "on.{event} rule {} is never chosen: {at} before it has no \
                             conditions (the first rule that holds decides; add `when` to \
                             it, or move it last)",
                            later.number
                        ),
                    );
                }
            }
            if close_before_end(&rule.steps) {
                warn(
                    &rule.origin,
                    "steps-after-close",
                    format!("{at}: the steps after close never run (the connection is closed)"),
                );
            }
            if rule.steps.contains(&StepTemplate::KeepOpen) && !rule.steps.iter().any(may_say_421) {
                warn(
                    &rule.origin,
                    "keep-open-without-421",
                    format!(
                        "{at}: keep-open cannot take effect: the rule writes no 421 reply \
                         (only a 421 closes the connection by itself)"
                    ),
                );
            }
        }
    }
    warnings
}

/// Whether a capability list has an AUTH line (`AUTH PLAIN`, or the old `AUTH=LOGIN`).
fn offers_auth(capabilities: &[String]) -> bool {
    capabilities.iter().any(|line| {
        let keyword = line.split([' ', '=']).next().unwrap_or("");
        keyword.eq_ignore_ascii_case("AUTH")
    })
}

fn has_no_conditions(rule: &CompiledRule) -> bool {
    let w = &rule.when;
    w.accepted.is_none()
        && w.args.is_none()
        && w.line.is_none()
        && w.nth.is_none()
        && w.nth_at_least.is_none()
        && w.tls.is_none()
        && w.authenticated.is_none()
        && w.user.is_none()
        && w.sender.is_none()
        && w.recipient.is_none()
        && w.sender_is_user.is_none()
        && w.recipients.is_none()
        && w.messages.is_none()
        && w.size.is_none()
        && w.across_sessions.is_none()
        && w.probability.is_none()
        && rule.content.header.is_none()
        && rule.content.body.is_none()
}

fn uses_default(step: &StepTemplate) -> bool {
    match step {
        StepTemplate::Default => true,
        StepTemplate::Trickle { content, .. } => uses_default(content),
        StepTemplate::After { steps, .. } => steps.iter().any(uses_default),
        _ => false,
    }
}

/// Whether a close comes before the last step (in the steps, or in a timer's steps).
fn close_before_end(steps: &[StepTemplate]) -> bool {
    let last = steps.len().saturating_sub(1);
    steps.iter().enumerate().any(|(i, step)| match step {
        StepTemplate::Close(_) => i < last,
        StepTemplate::After { steps, .. } => close_before_end(steps),
        _ => false,
    })
}

/// Whether a step may write a `421` reply (`default` may: it is decided at run time).
fn may_say_421(step: &StepTemplate) -> bool {
    match step {
        StepTemplate::Default => true,
        StepTemplate::Reply(reply) => reply.code.get() == 421,
        StepTemplate::ReplyOctets(octets) => octets.starts_with(b"421"),
        StepTemplate::Raw(raw) => raw.bytes.starts_with(b"421"),
        StepTemplate::Trickle { content, .. } => may_say_421(content),
        _ => false,
    }
}
