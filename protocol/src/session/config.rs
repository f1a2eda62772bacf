//! What a session needs to know that does not change while it runs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What to do with message content that contains a bare CR or LF (S-5321-BARE-CR-LF-IN-DATA).
/// In every case the server reads to the real end of data and notes what it saw
/// (C-5321-NO-BARE-CR-LF, C-5321-SMUGGLE-EOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BareLineEnds {
    /// Refuse any message with a bare CR or LF: `554 5.5.2`.
    Reject,
    /// Refuse (`554 5.5.2`) only a message containing an end-of-data look-alike, the
    /// sequences of SMTP smuggling; accept other bare line ends. The default: a local sink
    /// must take mail from `curl -T file` with LF line ends, and the dangerous case is still
    /// refused (the approach of Postfix's `smtpd_forbid_bare_newline = normalize`).
    #[default]
    RejectLookalikes,
    /// Accept everything.
    Accept,
}

impl BareLineEnds {
    pub(crate) fn refuses(self, report: &crate::data::ContentReport) -> bool {
        match self {
            BareLineEnds::Reject => report.has_bare_line_ends(),
            BareLineEnds::RejectLookalikes => !report.lookalikes.is_empty(),
            BareLineEnds::Accept => false,
        }
    }
}

/// How the server treats commands pipelined behind the one it is handling. Only `Honour` is
/// correct (RFC 2920 §3.2); the others reproduce servers that get it wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PipeliningMode {
    #[default]
    Honour,
    /// Discard whatever follows the command in the input buffer.
    DropInput,
    /// Answer `554 5.5.0 Pipelining not supported` and close.
    Refuse,
}

/// A user the server knows, for AUTH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthUser {
    pub name: String,
    /// For PLAIN, LOGIN, CRAM-MD5 and SCRAM.
    pub password: Option<String>,
    /// For XOAUTH2 and OAUTHBEARER.
    pub token: Option<String>,
}

/// SMTP AUTH (RFC 4954) on this listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Mechanisms offered, in this order; none: AUTH is not offered.
    pub mechanisms: Vec<crate::sasl::Mechanism>,
    /// Offer PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER before TLS too (RFC 4954 §4 says not to:
    /// the default is off, S-4954-ADVERTISE).
    pub in_cleartext: bool,
    /// Answer `530 5.7.0` to commands other than AUTH, EHLO, HELO, NOOP, RSET, QUIT and
    /// STARTTLS until the client has authenticated (RFC 4954 §6, S-4954-AUTH-REQUIRED).
    pub required: bool,
    /// Known users. With none, any name with any password or token is accepted (recorded, not
    /// checked); SCRAM, which proves the password to the client as well, is then not offered.
    pub users: Vec<AuthUser>,
    /// `AUTH LOGIN <initial-response>`: by default taken as the user name (noted in the
    /// transcript), as Dovecot, Cyrus SASL, Exchange and Gmail do; it is what Python's
    /// smtplib sends whenever it picks LOGIN. `Refuse` answers `501 5.7.0`, the strict reading
    /// of RFC 4954 §4 for a server-first mechanism.
    pub login_initial_response: crate::sasl::LoginInitialResponse,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mechanisms: Vec::new(),
            in_cleartext: false,
            required: false,
            users: Vec::new(),
            login_initial_response: crate::sasl::LoginInitialResponse::AcceptAsUsername,
        }
    }
}

/// Which service extensions the default EHLO reply advertises (and the session honours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionToggles {
    pub pipelining: bool,
    pub size: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub enhanced_status_codes: bool,
    pub chunking: bool,
    pub binary_mime: bool,
    pub dsn: bool,
    pub help: bool,
}

impl Default for ExtensionToggles {
    fn default() -> Self {
        ExtensionToggles {
            pipelining: true,
            size: true,
            eight_bit_mime: true,
            smtputf8: true,
            enhanced_status_codes: true,
            chunking: true,
            binary_mime: true,
            dsn: true,
            help: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// The server's name: the first word of the greeting and of the EHLO reply.
    pub hostname: String,
    /// Text after the host name in the greeting.
    pub greeting_text: String,
    /// The SIZE limit (RFC 1870): advertised, enforced at MAIL and at end of data. 0 = none.
    pub max_message_size: u64,
    /// Recipients per transaction; beyond it RCPT gets `452 4.5.3` (never below 100, RFC 5321
    /// §4.5.3.1.8).
    pub max_recipients: usize,
    /// Command line limit, CRLF included (RFC 5321 §4.5.3.1.4: 512).
    pub command_line_limit: usize,
    /// AUTH command and SASL response lines (RFC 4954 §4: 12288).
    pub auth_line_limit: usize,
    /// Text line limit in content, CRLF included (RFC 5321 §4.5.3.1.6: 1000); longer lines
    /// are recorded, not refused.
    pub text_line_limit: usize,
    /// Idle time allowed while waiting for a command (RFC 5321 §4.5.3.2.7: at least 5 min).
    pub command_timeout: Duration,
    /// Idle time allowed between octets of message content (RFC 5321 §4.5.3.2.5's 3 min).
    pub data_timeout: Duration,
    pub extensions: ExtensionToggles,
    pub bare_line_ends: BareLineEnds,
    pub pipelining: PipeliningMode,
    /// Offer STARTTLS (RFC 3207) while TLS is not up; the runtime must be able to do it.
    pub starttls: bool,
    /// Refuse everything but NOOP, EHLO, STARTTLS and QUIT until TLS is up (RFC 3207 §4,
    /// S-3207-TLS-REQUIRED-MODE: only for servers that are not publicly referenced).
    pub tls_required: bool,
    pub auth: AuthConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: "localhost".to_owned(),
            greeting_text: "ESMTP fake-smtp ready".to_owned(),
            max_message_size: 10 * 1024 * 1024,
            max_recipients: 1000,
            command_line_limit: 512,
            auth_line_limit: 12288,
            text_line_limit: 1000,
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(3 * 60),
            extensions: ExtensionToggles::default(),
            bare_line_ends: BareLineEnds::default(),
            pipelining: PipeliningMode::default(),
            starttls: false,
            tls_required: false,
            auth: AuthConfig::default(),
        }
    }
}

/// Extra octets a MAIL or RCPT line may have per advertised extension (RFC 1870 §3: SIZE +26;
/// RFC 4954 §3: AUTH= +500; RFC 3030 §3: BINARYMIME +16; RFC 6531 §3.1: SMTPUTF8 +10). RFC
/// 3461's increment was not found in the text read, so DSN gets a generous 600 (ORCPT's
/// 500-octet xtext plus NOTIFY, RET and ENVID).
pub(crate) fn parameter_allowance(ext: &crate::extension::Extensions) -> usize {
    [
        ("SIZE", 26),
        ("AUTH", 500),
        ("BINARYMIME", 16),
        ("SMTPUTF8", 10),
        ("DSN", 600),
    ]
    .iter()
    .filter(|(keyword, _)| ext.has(keyword))
    .map(|(_, n)| n)
    .sum()
}
