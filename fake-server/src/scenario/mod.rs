//! Scenarios: YAML files that script the server's behaviour, as a [`Policy`] over the
//! standard session. [`model`] is the format, [`load`] reads it (the only YAML code),
//! [`policy`] plays it, [`builtin`] is the library compiled into the binary.
//!
//! [`Policy`]: smtp_protocol::session::Policy

pub mod builtin;
pub mod chaos;
pub mod lint;
pub mod load;
pub mod model;
pub mod policy;
mod rng;
pub mod suites;
pub mod values;

use std::collections::HashMap;

use smtp_protocol::session::{PipeliningMode, SessionConfig};

pub use lint::Warning;
#[cfg(feature = "schema")]
pub use load::json_schema;
pub use load::{load, load_file, ScenarioError};
use model::{
    AuthSettings, Conditions, ContentConditions, EhloSettings, HeaderCondition, Quirk, Rule,
    ScenarioFile, ServerSettings, StepTemplate, TlsSettings,
};
pub use policy::ScenarioPolicyFactory;
use values::BytesRegexValue;

/// The events a rule can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Greeting,
    Ehlo,
    Helo,
    Mail,
    Rcpt,
    Data,
    EndOfData,
    Bdat,
    Rset,
    Noop,
    Vrfy,
    Expn,
    Help,
    Quit,
    StartTls,
    Auth,
    AuthResult,
    Unknown,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Greeting => "greeting",
            EventKind::Ehlo => "ehlo",
            EventKind::Helo => "helo",
            EventKind::Mail => "mail",
            EventKind::Rcpt => "rcpt",
            EventKind::Data => "data",
            EventKind::EndOfData => "end-of-data",
            EventKind::Bdat => "bdat",
            EventKind::Rset => "rset",
            EventKind::Noop => "noop",
            EventKind::Vrfy => "vrfy",
            EventKind::Expn => "expn",
            EventKind::Help => "help",
            EventKind::Quit => "quit",
            EventKind::StartTls => "starttls",
            EventKind::Auth => "auth",
            EventKind::AuthResult => "auth-result",
            EventKind::Unknown => "unknown",
        }
    }
}

/// Conditions that only the end of data can check: the message itself.
#[derive(Debug, Clone, Default)]
pub struct ContentMatch {
    pub header: Option<HeaderCondition>,
    pub body: Option<BytesRegexValue>,
}

/// A rule ready to run, whatever its event.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub when: Conditions,
    pub content: ContentMatch,
    pub steps: Vec<StepTemplate>,
    /// The file it was written in (a path, or `builtin:<name>`), for warnings.
    pub origin: std::sync::Arc<str>,
    /// Its place in that file's list for the event (1 is the first).
    pub number: usize,
}

/// A loaded scenario, with what it extends merged in.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// Where it was read from (a path, or `builtin:<name>`).
    pub source: String,
    pub seed: u64,
    pub server: ServerSettings,
    pub ehlo: EhloSettings,
    pub tls: TlsSettings,
    pub auth: AuthSettings,
    pub quirks: Vec<Quirk>,
    /// What a run playing this scenario must show (`fake-smtp run`).
    pub expect: crate::expect::Expectations,
    rules: HashMap<EventKind, Vec<CompiledRule>>,
}

impl Scenario {
    /// The TLS set-up this scenario asks for on top of `base` (certificate, versions), or
    /// `None` when it asks for nothing.
    pub fn tls_setup(&self, base: &crate::tls::TlsSetup) -> Option<crate::tls::TlsSetup> {
        use crate::tls::{CertificateChoice, TlsVersions};
        use model::{CertificateSetting, TlsVersionsSetting};
        if self.tls.certificate.is_none() && self.tls.versions.is_none() {
            return None;
        }
        let mut setup = base.clone();
        if let Some(certificate) = self.tls.certificate {
            setup.certificate = match certificate {
                CertificateSetting::Valid => CertificateChoice::Valid,
                CertificateSetting::Expired => CertificateChoice::Expired,
                CertificateSetting::WrongHost => CertificateChoice::WrongHost,
                CertificateSetting::SelfSigned => CertificateChoice::SelfSigned,
            };
        }
        if let Some(versions) = self.tls.versions {
            setup.versions = match versions {
                TlsVersionsSetting::Tls12AndTls13 => TlsVersions::Tls12AndTls13,
                TlsVersionsSetting::Tls12Only => TlsVersions::Tls12Only,
                TlsVersionsSetting::Tls13Only => TlsVersions::Tls13Only,
            };
        }
        Some(setup)
    }

    /// Loads a scenario by file path or built-in name (an existing file wins).
    pub fn load(reference: &str) -> Result<Scenario, ScenarioError> {
        load::load(reference)
    }

    /// Reads a scenario from YAML text; `extends` may name built-in scenarios.
    pub fn from_yaml(name: &str, yaml: &str) -> Result<Scenario, ScenarioError> {
        load::from_yaml(name, yaml)
    }

    /// The RFC default: no rule, no setting.
    pub fn default_scenario() -> Scenario {
        Scenario::from_file("default".to_owned(), ScenarioFile::default())
    }

    fn from_file(name: String, file: ScenarioFile) -> Scenario {
        let mut rules = HashMap::new();
        let events = file.on;
        let plain = [
            (EventKind::Greeting, events.greeting),
            (EventKind::Ehlo, events.ehlo),
            (EventKind::Helo, events.helo),
            (EventKind::Mail, events.mail),
            (EventKind::Rcpt, events.rcpt),
            (EventKind::Data, events.data),
            (EventKind::Bdat, events.bdat),
            (EventKind::Rset, events.rset),
            (EventKind::Noop, events.noop),
            (EventKind::Vrfy, events.vrfy),
            (EventKind::Expn, events.expn),
            (EventKind::Help, events.help),
            (EventKind::Quit, events.quit),
            (EventKind::StartTls, events.starttls),
            (EventKind::Auth, events.auth),
            (EventKind::AuthResult, events.auth_result),
            (EventKind::Unknown, events.unknown),
        ];
        for (event, list) in plain {
            if let Some(list) = list {
                rules.insert(
                    event,
                    list.into_iter()
                        .enumerate()
                        .map(|(i, rule)| compile_rule(rule, i + 1))
                        .collect(),
                );
            }
        }
        if let Some(list) = events.end_of_data {
            rules.insert(
                EventKind::EndOfData,
                list.into_iter()
                    .enumerate()
                    .map(|(i, rule)| compile_content_rule(rule.when, rule.steps, i + 1))
                    .collect(),
            );
        }
        Scenario {
            name,
            description: file.description,
            source: String::new(),
            seed: file.seed.unwrap_or(0),
            server: file.server,
            ehlo: file.ehlo,
            tls: file.tls,
            auth: file.auth,
            quirks: file.quirks,
            expect: file.expect.unwrap_or_default(),
            rules,
        }
    }

    /// Takes from `parent` whatever this scenario does not say itself; parent rules run
    /// after this scenario's own.
    fn inherit(&mut self, parent: Scenario) {
        if self.description.is_none() {
            self.description = parent.description;
        }
        if self.seed == 0 {
            self.seed = parent.seed;
        }
        if self.expect.is_empty() {
            self.expect = parent.expect;
        }
        let server = &mut self.server;
        let p = parent.server;
        server.hostname = server.hostname.take().or(p.hostname);
        server.size = server.size.or(p.size);
        server.max_recipients = server.max_recipients.or(p.max_recipients);
        server.command_timeout = server.command_timeout.or(p.command_timeout);
        server.data_timeout = server.data_timeout.or(p.data_timeout);
        server.bare_line_ends = server.bare_line_ends.or(p.bare_line_ends);
        server.enhanced_status_codes = server.enhanced_status_codes.or(p.enhanced_status_codes);
        server.starttls = server.starttls.or(p.starttls);
        server.tls_required = server.tls_required.or(p.tls_required);
        self.tls.certificate = self.tls.certificate.or(parent.tls.certificate);
        self.tls.versions = self.tls.versions.or(parent.tls.versions);
        let auth = &mut self.auth;
        auth.mechanisms = auth.mechanisms.take().or(parent.auth.mechanisms);
        auth.users = auth.users.take().or(parent.auth.users);
        auth.in_cleartext = auth.in_cleartext.or(parent.auth.in_cleartext);
        auth.required = auth.required.or(parent.auth.required);
        auth.login_initial_response = auth
            .login_initial_response
            .or(parent.auth.login_initial_response);
        let ehlo = &mut self.ehlo;
        let p = parent.ehlo;
        ehlo.greeting = ehlo.greeting.take().or(p.greeting);
        ehlo.capabilities = ehlo.capabilities.take().or(p.capabilities);
        ehlo.capabilities_after_tls = ehlo
            .capabilities_after_tls
            .take()
            .or(p.capabilities_after_tls);
        for keyword in p.withhold {
            if !ehlo.withhold.contains(&keyword) {
                ehlo.withhold.push(keyword);
            }
        }
        for quirk in parent.quirks {
            if !self.quirks.contains(&quirk) {
                self.quirks.push(quirk);
            }
        }
        for (event, parent_rules) in parent.rules {
            self.rules.entry(event).or_default().extend(parent_rules);
        }
    }

    /// Records where this scenario (before anything it extends is merged in) was read from.
    fn set_source(&mut self, source: String) {
        let origin: std::sync::Arc<str> = source.as_str().into();
        for rules in self.rules.values_mut() {
            for rule in rules {
                rule.origin = std::sync::Arc::clone(&origin);
            }
        }
        self.source = source;
    }

    pub fn rules(&self, event: EventKind) -> &[CompiledRule] {
        self.rules.get(&event).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Settings and rules that load but cannot take effect (an `auth.in-cleartext` with no
    /// AUTH advertised, a rule no request can reach ...): `fake-smtp check` prints them as
    /// warnings. See [`lint`].
    pub fn warnings(&self) -> Vec<Warning> {
        lint::lint(self)
    }

    /// The session settings of a listener playing this scenario: `base` with the scenario's
    /// settings applied; `tls_possible` says whether the listener could offer STARTTLS.
    pub fn session_config(&self, base: &SessionConfig, tls_possible: bool) -> SessionConfig {
        let mut config = base.clone();
        let s = &self.server;
        if let Some(hostname) = &s.hostname {
            config.hostname = hostname.clone();
        }
        // The SIZE the scenario advertises is the limit it enforces, unless told otherwise.
        let advertised_size = self.ehlo.capabilities.as_ref().and_then(|caps| {
            caps.iter().find_map(|c| {
                let mut words = c.split_whitespace();
                let keyword = words.next()?;
                keyword
                    .eq_ignore_ascii_case("SIZE")
                    .then(|| words.next()?.parse().ok())?
            })
        });
        if let Some(size) = s.size.or(advertised_size) {
            config.max_message_size = size;
        }
        if let Some(max) = s.max_recipients {
            config.max_recipients = max;
        }
        if let Some(timeout) = s.command_timeout {
            config.command_timeout = timeout.0;
        }
        if let Some(timeout) = s.data_timeout {
            config.data_timeout = timeout.0;
        }
        if let Some(policy) = s.bare_line_ends {
            config.bare_line_ends = policy.into();
        }
        if let Some(on) = s.enhanced_status_codes {
            config.extensions.enhanced_status_codes = on;
        }
        if let Some(on) = s.starttls {
            // Only where the listener can do TLS at all.
            config.starttls = on && tls_possible;
        }
        if let Some(on) = s.tls_required {
            config.tls_required = on;
        }
        let auth = &self.auth;
        if let Some(mechanisms) = &auth.mechanisms {
            config.auth.mechanisms = mechanisms.clone();
        }
        if let Some(users) = &auth.users {
            config.auth.users = users
                .iter()
                .map(|u| smtp_protocol::session::AuthUser {
                    name: u.name.clone(),
                    password: u.password.clone(),
                    token: u.token.clone(),
                })
                .collect();
        }
        if let Some(on) = auth.in_cleartext {
            config.auth.in_cleartext = on;
        }
        if let Some(on) = auth.required {
            config.auth.required = on;
        }
        if let Some(setting) = auth.login_initial_response {
            use smtp_protocol::sasl::LoginInitialResponse;
            config.auth.login_initial_response = match setting {
                model::LoginInitialResponseSetting::Refuse => LoginInitialResponse::Refuse,
                model::LoginInitialResponseSetting::Accept => {
                    LoginInitialResponse::AcceptAsUsername
                }
            };
        }
        if self.quirks.contains(&Quirk::RefusePipelining) {
            config.pipelining = PipeliningMode::Refuse;
        } else if self.quirks.contains(&Quirk::DropPipelinedInput) {
            config.pipelining = PipeliningMode::DropInput;
        }
        config
    }
}

fn compile_rule(rule: Rule, number: usize) -> CompiledRule {
    CompiledRule {
        when: rule.when,
        content: ContentMatch::default(),
        steps: rule.steps,
        origin: "".into(),
        number,
    }
}

fn compile_content_rule(
    when: ContentConditions,
    steps: Vec<StepTemplate>,
    number: usize,
) -> CompiledRule {
    CompiledRule {
        when: Conditions {
            accepted: when.accepted,
            args: when.args,
            line: when.line,
            nth: when.nth,
            nth_at_least: when.nth_at_least,
            tls: when.tls,
            authenticated: when.authenticated,
            user: when.user,
            sender: when.sender,
            recipient: when.recipient,
            sender_is_user: when.sender_is_user,
            recipients: when.recipients,
            messages: when.messages,
            size: when.size,
            across_sessions: when.across_sessions,
            probability: when.probability,
        },
        content: ContentMatch {
            header: when.header,
            body: when.body,
        },
        steps,
        origin: "".into(),
        number,
    }
}
