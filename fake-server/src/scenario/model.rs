//! The scenario format, as serde types: what a YAML file may say. Every struct refuses
//! unknown fields, so a typo is an error with its line and column, not a silent no-op.
//!
//! A scenario says only what differs from the RFC 5321 default: a rule under `on.<event>`
//! replaces the reply the server would have sent, when its conditions hold.

#[cfg(feature = "schema")]
use schemars::JsonSchema;
use serde::Deserialize;
use smtp_protocol::reply::Reply;
use smtp_protocol::sasl::Mechanism;
use smtp_protocol::session::{BareLineEnds, CloseMode};

use super::values::{BytesRegexValue, DurationValue, RawValue, RegexValue, ReplyValue};

/// One scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[cfg_attr(feature = "schema", schemars(title = "fake-smtp scenario"))]
pub struct ScenarioFile {
    /// The scenario's name; defaults to its built-in name or file name.
    pub name: Option<String>,
    /// One line saying what it reproduces (shown by `fake-smtp scenarios`).
    pub description: Option<String>,
    /// Another scenario this one builds on: a built-in name (`providers/qq/base`) or a path
    /// relative to this file. This file's settings win; its rules are tried before the
    /// other's.
    pub extends: Option<String>,
    /// Seed for everything random (`probability`, `{random:N}`), so a run replays exactly.
    pub seed: Option<u64>,
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub ehlo: EhloSettings,
    #[serde(default)]
    pub tls: TlsSettings,
    #[serde(default)]
    pub auth: AuthSettings,
    /// Named misbehaviours that are not just "reply X".
    #[serde(default)]
    pub quirks: Vec<Quirk>,
    #[serde(default)]
    pub on: Events,
    /// What a run playing this scenario must show besides the client checks (`fake-smtp
    /// run`): messages received, envelope, headers, the client's exit code ...
    pub expect: Option<crate::expect::Expectations>,
}

/// Limits and settings of the session.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSettings {
    /// The server's name (greeting, EHLO, trace header).
    pub hostname: Option<String>,
    /// Largest message in octets, enforced at MAIL (declared SIZE) and at end of data.
    /// Defaults to the SIZE in `ehlo.capabilities` when that is given.
    pub size: Option<u64>,
    /// Recipients per message; beyond it RCPT gets `452 4.5.3`.
    pub max_recipients: Option<usize>,
    pub command_timeout: Option<DurationValue>,
    pub data_timeout: Option<DurationValue>,
    /// What to do with content holding bare CR or LF.
    pub bare_line_ends: Option<BareLineEndsSetting>,
    /// Whether default replies carry enhanced status codes (RFC 2034).
    pub enhanced_status_codes: Option<bool>,
    /// Offer STARTTLS (default: wherever TLS is set up and not already active).
    pub starttls: Option<bool>,
    /// Refuse every command but NOOP, EHLO, STARTTLS and QUIT with `530 5.7.0` until TLS
    /// is up (RFC 3207 §4).
    pub tls_required: Option<bool>,
}

/// SMTP AUTH: the mechanisms offered, who may log in, and when AUTH is required.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthSettings {
    /// Offered mechanisms, in order (PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER,
    /// SCRAM-SHA-1, SCRAM-SHA-256); `[]` offers no AUTH.
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<MechanismName>>"))]
    pub mechanisms: Option<Vec<Mechanism>>,
    /// Known users; without any, every name with any password or token is accepted.
    pub users: Option<Vec<AuthUserSetting>>,
    /// Offer PLAIN, LOGIN and the bearer-token mechanisms before TLS as well.
    pub in_cleartext: Option<bool>,
    /// Answer `530 5.7.0 Authentication required` until AUTH succeeds.
    pub required: Option<bool>,
    /// `AUTH LOGIN <initial-response>` (what Python's smtplib sends): `accept` it as the user
    /// name (the default, as Dovecot, Cyrus SASL, Exchange and Gmail do) or `refuse` it with
    /// `501 5.7.0` (the strict reading of RFC 4954 §4 for a server-first mechanism).
    pub login_initial_response: Option<LoginInitialResponseSetting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum LoginInitialResponseSetting {
    /// `501 5.7.0 Initial response not allowed for this mechanism`.
    Refuse,
    /// Take it as the user name and prompt for the password (the default).
    Accept,
}

/// The schema of a SASL mechanism name.
#[cfg(feature = "schema")]
#[derive(JsonSchema)]
#[allow(dead_code)]
enum MechanismName {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "LOGIN")]
    Login,
    #[serde(rename = "CRAM-MD5")]
    CramMd5,
    #[serde(rename = "XOAUTH2")]
    XOAuth2,
    #[serde(rename = "OAUTHBEARER")]
    OAuthBearer,
    #[serde(rename = "SCRAM-SHA-1")]
    ScramSha1,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthUserSetting {
    pub name: String,
    pub password: Option<String>,
    /// A bearer token, for XOAUTH2 and OAUTHBEARER.
    pub token: Option<String>,
}

/// The TLS the server offers: which certificate it presents and which versions it accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TlsSettings {
    /// `valid` (signed by the local CA), or one a careful client must refuse: `expired`,
    /// `wrong-host`, `self-signed`.
    pub certificate: Option<CertificateSetting>,
    pub versions: Option<TlsVersionsSetting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CertificateSetting {
    Valid,
    Expired,
    WrongHost,
    SelfSigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TlsVersionsSetting {
    Tls12AndTls13,
    Tls12Only,
    Tls13Only,
}

/// The EHLO reply: its first line and the capabilities advertised. The server then honours
/// exactly what is advertised (a parameter of an extension not listed gets 555).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EhloSettings {
    /// Text of the first line, after `250-` (default: `<hostname> greets <helo>`).
    pub greeting: Option<String>,
    /// Keyword lines exactly as sent, e.g. `SIZE 35882577`, `AUTH LOGIN PLAIN`, or an
    /// unknown keyword like `X-WEIRD`.
    pub capabilities: Option<Vec<String>>,
    /// Capabilities after STARTTLS (default: `capabilities` without STARTTLS).
    pub capabilities_after_tls: Option<Vec<String>>,
    /// Keywords left out of whatever would be advertised (the server's own lines, or
    /// `capabilities`), e.g. `[8BITMIME]`: a server without one extension, the rest as usual.
    #[serde(default)]
    pub withhold: Vec<String>,
}

/// The scenario's spelling of [`BareLineEnds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum BareLineEndsSetting {
    /// Refuse any message with a bare CR or LF (554 5.5.2).
    Reject,
    /// Refuse only messages with an end-of-data look-alike (the default).
    RejectLookalikes,
    /// Accept everything, noting what was seen.
    Accept,
}

impl From<BareLineEndsSetting> for BareLineEnds {
    fn from(setting: BareLineEndsSetting) -> BareLineEnds {
        match setting {
            BareLineEndsSetting::Reject => BareLineEnds::Reject,
            BareLineEndsSetting::RejectLookalikes => BareLineEnds::RejectLookalikes,
            BareLineEndsSetting::Accept => BareLineEnds::Accept,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// Process one command per read: anything pipelined behind it is discarded, as by servers
    /// that flush their input buffer (RFC 2920 §3.2 (9) forbids it).
    DropPipelinedInput,
    /// Answer a client that pipelines (more commands before the reply) with
    /// `554 5.5.0 Pipelining not supported` and close, as OpenSMTPD does.
    RefusePipelining,
}

/// Rules per event. The first rule whose conditions hold decides; with none, the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Events {
    /// The connection opened: the greeting (`554` refuses service, `421` closes).
    pub greeting: Option<Vec<Rule>>,
    pub ehlo: Option<Vec<Rule>>,
    pub helo: Option<Vec<Rule>>,
    pub mail: Option<Vec<Rule>>,
    pub rcpt: Option<Vec<Rule>>,
    /// The DATA command (the 354).
    pub data: Option<Vec<Rule>>,
    /// The end of the message (DATA's final dot, or BDAT LAST): conditions may look at
    /// its headers, body and size.
    pub end_of_data: Option<Vec<ContentRule>>,
    /// Each BDAT chunk but the last.
    pub bdat: Option<Vec<Rule>>,
    pub rset: Option<Vec<Rule>>,
    pub noop: Option<Vec<Rule>>,
    pub vrfy: Option<Vec<Rule>>,
    pub expn: Option<Vec<Rule>>,
    pub help: Option<Vec<Rule>>,
    pub quit: Option<Vec<Rule>>,
    pub starttls: Option<Vec<Rule>>,
    /// The AUTH command line (before any challenge).
    pub auth: Option<Vec<Rule>>,
    /// The end of an AUTH exchange, once the credentials were checked (default: 235, or 535).
    pub auth_result: Option<Vec<Rule>>,
    /// Unrecognised or malformed command lines, and lines over the limit.
    pub unknown: Option<Vec<Rule>>,
}

macro_rules! rule_types {
    ($rule:ident, $fields:ident, $fields_name:literal, $conditions:ident, { $($(#[$extra_meta:meta])* $extra:ident: $extra_ty:ty,)* }) => {
        /// What to do, and when. The short form writes one thing, `reply` or `raw` (the
        /// default reply when neither is given): `delay` always waits before it and `then`
        /// always comes after it, whatever the order of the keys (a YAML mapping has none).
        /// `reply` and `raw` together are refused, since their order could not be told:
        /// `steps` lists any sequence in order.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[cfg_attr(feature = "schema", derive(JsonSchema))]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $fields {
            #[serde(default)]
            pub when: $conditions,
            /// Wait this long before writing (always first, wherever the key is written).
            pub delay: Option<DurationValue>,
            /// The reply to send instead of the default. Not with `raw` (use `steps`).
            pub reply: Option<ReplyValue>,
            /// Octets to send instead of the default reply. Not with `reply` (use `steps`).
            pub raw: Option<RawValue>,
            /// Pause between octets (a tarpit): the reply or raw octets are written one by one.
            pub trickle: Option<DurationValue>,
            /// What happens after the reply or raw octets (always last).
            pub then: Option<Then>,
            /// The steps in the order written; instead of all the keys above but `when`.
            pub steps: Option<Vec<StepSpec>>,
        }

        /// A rule as the policy runs it: conditions and the steps in order.
        #[derive(Debug, Clone, Deserialize)]
        #[cfg_attr(feature = "schema", derive(JsonSchema))]
        #[serde(try_from = $fields_name)]
        pub struct $rule {
            pub when: $conditions,
            pub steps: Vec<StepTemplate>,
        }

        impl TryFrom<$fields> for $rule {
            type Error = String;
            fn try_from(fields: $fields) -> Result<Self, String> {
                let steps = compile_steps(
                    fields.delay,
                    fields.reply,
                    fields.raw,
                    fields.trickle,
                    fields.then,
                    fields.steps,
                )?;
                if fields.when.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                    return Err("probability must be between 0 and 1".to_owned());
                }
                Ok($rule { when: fields.when, steps })
            }
        }

        /// All given conditions must hold.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[cfg_attr(feature = "schema", derive(JsonSchema))]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $conditions {
            /// Whether the server would accept this (its default reply is 2xx or 3xx): rules
            /// that only change the wording of a success use `accepted: true`.
            pub accepted: Option<bool>,
            /// Regex on the text after the verb (for `auth-result`: the mechanism's name).
            pub args: Option<RegexValue>,
            /// Regex on the whole command line.
            pub line: Option<RegexValue>,
            /// The n-th time this event happens in the session (1 is the first).
            pub nth: Option<u32>,
            /// This event's n-th time in the session or later.
            pub nth_at_least: Option<u32>,
            /// Whether TLS is active.
            pub tls: Option<bool>,
            /// Whether the client has authenticated.
            pub authenticated: Option<bool>,
            /// Regex on the authenticated user name.
            pub user: Option<RegexValue>,
            /// Regex on the sender (the MAIL FROM mailbox, without brackets; empty for <>).
            pub sender: Option<RegexValue>,
            /// Regex on a recipient: for RCPT the one being added, otherwise any so far.
            pub recipient: Option<RegexValue>,
            /// Whether the sender is the authenticated user (compared without case).
            pub sender_is_user: Option<bool>,
            /// Recipients accepted in the current transaction so far.
            pub recipients: Option<CountRange>,
            /// Messages accepted on this connection so far.
            pub messages: Option<CountRange>,
            /// For MAIL, the declared SIZE; at the end of data, the message's size.
            pub size: Option<CountRange>,
            /// The same key seen across sessions (greylisting, rate limits).
            pub across_sessions: Option<AcrossSessions>,
            /// Holds with this probability (0 to 1), drawn from the scenario's seed.
            pub probability: Option<f64>,
            $($(#[$extra_meta])* pub $extra: $extra_ty,)*
        }
    };
}

rule_types!(Rule, RuleFields, "RuleFields", Conditions, {});
rule_types!(ContentRule, ContentRuleFields, "ContentRuleFields", ContentConditions, {
    /// A header field whose value matches.
    header: Option<HeaderCondition>,
    /// Regex on the message body (after the header section), on octets. Lines end in CRLF:
    /// use `(?mR)` for `^` and `$` to match at line boundaries.
    body: Option<BytesRegexValue>,
});

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HeaderCondition {
    /// Field name, any case.
    pub name: String,
    /// Regex on the (unfolded) field value.
    pub value: RegexValue,
}

/// A number range: any of `at-least`, `at-most`, or an exact `equals`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CountRange {
    pub at_least: Option<u64>,
    pub at_most: Option<u64>,
    pub equals: Option<u64>,
}

impl CountRange {
    pub fn contains(&self, n: u64) -> bool {
        self.at_least.is_none_or(|min| n >= min)
            && self.at_most.is_none_or(|max| n <= max)
            && self.equals.is_none_or(|exact| n == exact)
    }
}

/// Counts an event per key across sessions, for as long as the server runs.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AcrossSessions {
    /// What makes two attempts the same.
    pub key: Vec<KeyPart>,
    /// This is the n-th attempt with the key (1 is the first).
    pub nth: Option<u32>,
    /// The n-th attempt or later.
    pub nth_at_least: Option<u32>,
    /// Time since the key was first seen.
    pub since_first: Option<DurationRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum KeyPart {
    ClientIp,
    Helo,
    Sender,
    Recipient,
    User,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DurationRange {
    pub less_than: Option<DurationValue>,
    pub at_least: Option<DurationValue>,
}

/// How the connection ends after the reply. A `421` reply closes the connection anyway
/// (RFC 5321 §3.8) unless the rule says `keep-open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Then {
    /// Close (with a TLS close_notify when TLS is up).
    Close,
    /// Close without a TLS close_notify (as Amazon SES does after 221).
    CloseWithoutCloseNotify,
    /// Keep the connection open after a `421` (a server that says 421 and goes on reading,
    /// to see what the client sends next).
    KeepOpen,
}

/// One step of the explicit form: `default`, `close`, `close-without-close-notify` or
/// `keep-open`, or a mapping with one key: `reply`, `raw`, `delay` or `trickle`; or a timer,
/// `{after: 1s, raw|reply: ..., then: close}`, which writes later without holding up the
/// session.
#[derive(Debug, Clone)]
pub enum StepSpec {
    /// What the scenario would send without this rule: the first later rule of the event
    /// whose conditions hold (rules inherited through `extends` included), else the
    /// server's default reply.
    Default,
    Reply(ReplyValue),
    Raw(RawValue),
    Delay(DurationValue),
    /// Write this reply octet by octet.
    Trickle(TrickleSpec),
    Close,
    CloseWithoutCloseNotify,
    KeepOpen,
    /// Write `content` (and then close, if `then` says so) this long after the steps before
    /// it, while the session goes on reading and answering.
    After {
        after: DurationValue,
        content: Option<Box<StepSpec>>,
        then: Option<Then>,
    },
}

/// The mapping form of a step (exactly one key, or `after` with `reply`, `raw` and/or
/// `then`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StepMap {
    reply: Option<ReplyValue>,
    raw: Option<RawValue>,
    delay: Option<DurationValue>,
    trickle: Option<TrickleSpec>,
    /// A timer: write the step's `reply` or `raw` (then `then: close` if given) this long
    /// after the steps before it, unprompted, while the session goes on reading and
    /// answering (a `delay` would hold everything up). A session closed by then drops it.
    after: Option<DurationValue>,
    /// With `after` only: `close` or `close-without-close-notify` after what it writes.
    then: Option<Then>,
}

/// The word form of a step.
#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
enum StepWord {
    Default,
    Close,
    CloseWithoutCloseNotify,
    /// Do not close after a `421` in this rule's reply (it closes by default).
    KeepOpen,
}

impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, IntoDeserializer, MapAccess, Visitor};
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = StepSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("default, close, close-without-close-notify, keep-open, one of {reply: ...}, {raw: ...}, {delay: ...}, {trickle: ...}, or {after: ..., reply|raw: ..., then: ...}")
            }
            fn visit_str<E: de::Error>(self, word: &str) -> Result<StepSpec, E> {
                let word = StepWord::deserialize(word.into_deserializer())?;
                Ok(match word {
                    StepWord::Default => StepSpec::Default,
                    StepWord::Close => StepSpec::Close,
                    StepWord::CloseWithoutCloseNotify => StepSpec::CloseWithoutCloseNotify,
                    StepWord::KeepOpen => StepSpec::KeepOpen,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepSpec, A::Error> {
                let m = StepMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if let Some(after) = m.after {
                    let content = match (m.reply, m.raw, m.delay, m.trickle, m.then) {
                        (Some(reply), None, None, None, _) => Some(StepSpec::Reply(reply)),
                        (None, Some(raw), None, None, _) => Some(StepSpec::Raw(raw)),
                        (None, None, None, None, Some(_)) => None,
                        _ => {
                            return Err(de::Error::custom(
                                "a step with after has reply or raw (not both), and/or then; no delay or trickle",
                            ))
                        }
                    };
                    if m.then == Some(Then::KeepOpen) {
                        return Err(de::Error::custom(
                            "then: keep-open means nothing after a timer (only close and close-without-close-notify)",
                        ));
                    }
                    return Ok(StepSpec::After {
                        after,
                        content: content.map(Box::new),
                        then: m.then,
                    });
                }
                if m.then.is_some() {
                    return Err(de::Error::custom(
                        "then belongs to a rule, or to a step with after; as a step, write close",
                    ));
                }
                match (m.reply, m.raw, m.delay, m.trickle) {
                    (Some(reply), None, None, None) => Ok(StepSpec::Reply(reply)),
                    (None, Some(raw), None, None) => Ok(StepSpec::Raw(raw)),
                    (None, None, Some(delay), None) => Ok(StepSpec::Delay(delay)),
                    (None, None, None, Some(trickle)) => Ok(StepSpec::Trickle(trickle)),
                    _ => Err(de::Error::custom(
                        "a step has exactly one of reply, raw, delay, trickle",
                    )),
                }
            }
        }
        deserializer.deserialize_any(StepVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for StepSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StepSpec".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let word = generator.subschema_for::<StepWord>();
        let map = generator.subschema_for::<StepMap>();
        schemars::json_schema!({
            "description": "One step: default (what the scenario would send without this rule: a later matching rule, inherited ones included, else the server's default), close, close-without-close-notify, keep-open (no close after a 421), {reply|raw|delay|trickle: ...}, or a timer {after: 1s, reply|raw: ..., then: close} that writes later while the session goes on.",
            "oneOf": [word, map]
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrickleSpec {
    pub gap: DurationValue,
    pub reply: Option<ReplyValue>,
    pub raw: Option<RawValue>,
}

/// A step as the policy runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepTemplate {
    /// What the scenario would send without this rule (see [`StepSpec::Default`]).
    Default,
    Reply(Reply),
    /// A reply given (in part) as octets: its wire form, written as it is.
    ReplyOctets(Vec<u8>),
    Raw(RawValue),
    Delay(std::time::Duration),
    Trickle {
        gap: std::time::Duration,
        content: Box<StepTemplate>,
    },
    Close(CloseMode),
    /// No close after a `421` in this response.
    KeepOpen,
    /// Steps run this long later, while the session goes on.
    After {
        delay: std::time::Duration,
        steps: Vec<StepTemplate>,
    },
}

impl From<ReplyValue> for StepTemplate {
    fn from(reply: ReplyValue) -> StepTemplate {
        match reply {
            ReplyValue::Text(reply) => StepTemplate::Reply(reply),
            ReplyValue::Octets(octets) => StepTemplate::ReplyOctets(octets),
        }
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for StepTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        StepSpec::json_schema(generator)
    }
}

/// Turns the short form (or the explicit `steps`) into the steps to run.
fn compile_steps(
    delay: Option<DurationValue>,
    reply: Option<ReplyValue>,
    raw: Option<RawValue>,
    trickle: Option<DurationValue>,
    then: Option<Then>,
    steps: Option<Vec<StepSpec>>,
) -> Result<Vec<StepTemplate>, String> {
    if let Some(steps) = steps {
        if delay.is_some()
            || reply.is_some()
            || raw.is_some()
            || trickle.is_some()
            || then.is_some()
        {
            return Err(
                "steps cannot be combined with delay, reply, raw, trickle or then".to_owned(),
            );
        }
        return steps.into_iter().map(StepSpec::compile).collect();
    }
    if reply.is_some() && raw.is_some() {
        // A YAML mapping has no order: which of the two is written first cannot be told.
        return Err(
            "reply and raw in one rule: their order cannot be told (a YAML mapping \
                    has none); list them under steps in the order wanted, e.g. steps: \
                    [{raw: ...}, {reply: ...}]"
                .to_owned(),
        );
    }
    let slow = |step: StepTemplate| match trickle {
        Some(gap) => StepTemplate::Trickle {
            gap: gap.0,
            content: Box::new(step),
        },
        None => step,
    };
    let mut compiled = Vec::new();
    if let Some(delay) = delay {
        compiled.push(StepTemplate::Delay(delay.0));
    }
    match (reply, &raw) {
        (Some(reply), _) => compiled.push(slow(reply.into())),
        (None, None) => compiled.push(slow(StepTemplate::Default)),
        (None, Some(_)) => {}
    }
    if let Some(raw) = raw {
        compiled.push(slow(StepTemplate::Raw(raw)));
    }
    match then {
        Some(Then::Close) => compiled.push(StepTemplate::Close(CloseMode::Graceful)),
        Some(Then::CloseWithoutCloseNotify) => {
            compiled.push(StepTemplate::Close(CloseMode::WithoutCloseNotify))
        }
        Some(Then::KeepOpen) => compiled.push(StepTemplate::KeepOpen),
        None => {}
    }
    Ok(compiled)
}

impl StepSpec {
    fn compile(self) -> Result<StepTemplate, String> {
        Ok(match self {
            StepSpec::Default => StepTemplate::Default,
            StepSpec::Reply(reply) => reply.into(),
            StepSpec::Raw(raw) => StepTemplate::Raw(raw),
            StepSpec::Delay(delay) => StepTemplate::Delay(delay.0),
            StepSpec::Close => StepTemplate::Close(CloseMode::Graceful),
            StepSpec::CloseWithoutCloseNotify => StepTemplate::Close(CloseMode::WithoutCloseNotify),
            StepSpec::KeepOpen => StepTemplate::KeepOpen,
            StepSpec::After {
                after,
                content,
                then,
            } => {
                let mut steps = Vec::new();
                if let Some(content) = content {
                    steps.push(content.compile()?);
                }
                match then {
                    Some(Then::Close) => steps.push(StepTemplate::Close(CloseMode::Graceful)),
                    Some(Then::CloseWithoutCloseNotify) => {
                        steps.push(StepTemplate::Close(CloseMode::WithoutCloseNotify))
                    }
                    Some(Then::KeepOpen) | None => {}
                }
                StepTemplate::After {
                    delay: after.0,
                    steps,
                }
            }
            StepSpec::Trickle(spec) => {
                let content = match (spec.reply, spec.raw) {
                    (Some(reply), None) => reply.into(),
                    (None, Some(raw)) => StepTemplate::Raw(raw),
                    (None, None) => StepTemplate::Default,
                    (Some(_), Some(_)) => {
                        return Err("trickle takes reply or raw, not both".to_owned())
                    }
                };
                StepTemplate::Trickle {
                    gap: spec.gap.0,
                    content: Box::new(content),
                }
            }
        })
    }
}
