//! What a check is and what judging it gives: the check's description ([`CheckInfo`]), a
//! judge's [`Outcome`], and the [`Finding`]s that carry the evidence of a failure.

use std::borrow::Cow;

use serde::Serialize;

/// The level a check is judged at: what a violation of it makes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// MUST, MUST NOT, SHALL, REQUIRED, grammar: a violation is a failure.
    Must,
    /// SHOULD, SHOULD NOT, RECOMMENDED: a violation is a warning.
    Should,
    /// MAY, informational: worth knowing, reported as a warning.
    Info,
}

impl Level {
    /// The status a violation of a check at this level gets.
    pub fn violation(self) -> Status {
        match self {
            Level::Must => Status::Fail,
            Level::Should | Level::Info => Status::Warn,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::Info => "info",
        }
    }
}

/// How a check can be observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// From any session: what the client sent is enough.
    Passive,
    /// Needs a scenario that provokes it (a reply, an extension set, a fault); judged
    /// whenever a session contains the provocation, not applicable otherwise.
    Active,
    /// Needs known input given to the client (a message, an address, a setting), compared
    /// with what comes out on the wire: the harness's own reference client.
    Harness,
    /// Active, and the harness compares the client's report too.
    ActiveHarness,
    /// Judged from the wire, and by the harness with known input.
    HarnessPassive,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Passive => "passive",
            Mode::Active => "active",
            Mode::Harness => "harness",
            Mode::ActiveHarness => "active + harness",
            Mode::HarnessPassive => "passive + harness",
        }
    }
}

/// One client check of the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInfo {
    /// The checklist section (`A.1` … `A.17`).
    pub section: &'static str,
    /// The check's ID, e.g. `C-5321-EHLO-BEFORE-MAIL`.
    pub id: &'static str,
    pub mode: Mode,
    /// The level it is judged at.
    pub level: Level,
    /// The requirement level as the source words it (`MUST`, `derived SHOULD`, `grammar`).
    pub wording: &'static str,
    /// The RFC (or other document) and section it rests on.
    pub source: &'static str,
}

/// The result of one check on one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The session gave the check nothing to look at (with the reason).
    NotApplicable,
    /// Looked at, and nothing wrong.
    Pass,
    /// A violation of a SHOULD-level rule (or a MUST rule the check cannot be sure of).
    Warn,
    /// A violation of a MUST-level rule.
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotApplicable => "not-applicable",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// Where the evidence of a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "where", rename_all = "kebab-case")]
pub enum Location {
    /// The session as a whole (something missing, such as QUIT).
    Session,
    /// An entry of the session's transcript, by its index.
    Entry { entry: usize },
    /// An octet offset in a message's content (after dot-unstuffing).
    Message { offset: u64 },
}

/// How serious one finding is, when it differs from the check's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// As the check's level says.
    Default,
    Warn,
    Fail,
}

/// One violation found by a judge, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub location: Location,
    /// The offending octets, escaped as in transcripts (at most [`MAX_EVIDENCE`] characters).
    pub octets: String,
    /// What is wrong, in a sentence.
    pub detail: Cow<'static, str>,
}

/// Longest excerpt of offending octets kept in a finding.
pub const MAX_EVIDENCE: usize = 160;

impl Finding {
    /// A finding at a transcript entry.
    pub fn at_entry(
        entry: usize,
        octets: impl AsRef<[u8]>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Finding {
        Finding {
            severity: Severity::Default,
            location: Location::Entry { entry },
            octets: excerpt(octets.as_ref()),
            detail: detail.into(),
        }
    }

    /// A finding at an octet offset of a message.
    pub fn in_message(
        offset: usize,
        octets: impl AsRef<[u8]>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Finding {
        Finding {
            severity: Severity::Default,
            location: Location::Message {
                offset: offset as u64,
            },
            octets: excerpt(octets.as_ref()),
            detail: detail.into(),
        }
    }

    /// A finding about the session as a whole.
    pub fn in_session(detail: impl Into<Cow<'static, str>>) -> Finding {
        Finding {
            severity: Severity::Default,
            location: Location::Session,
            octets: String::new(),
            detail: detail.into(),
        }
    }

    /// Reported as a warning whatever the check's level.
    pub fn warn(mut self) -> Finding {
        self.severity = Severity::Warn;
        self
    }

    /// Reported as a failure whatever the check's level.
    pub fn fail(mut self) -> Finding {
        self.severity = Severity::Fail;
        self
    }

    /// The status this finding gives a check at `level`.
    pub fn status(&self, level: Level) -> Status {
        match self.severity {
            Severity::Default => level.violation(),
            Severity::Warn => Status::Warn,
            Severity::Fail => Status::Fail,
        }
    }
}

/// Escapes octets for a finding, cut at [`MAX_EVIDENCE`] characters.
pub fn excerpt(octets: &[u8]) -> String {
    let cut = octets.len().min(MAX_EVIDENCE);
    let mut text = smtp_protocol::transcript::escape_bytes(&octets[..cut]);
    if octets.len() > cut {
        text.push_str("...");
    }
    text
}

/// What a judge found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check looked and found nothing wrong.
    Pass,
    /// The session gave the check nothing to look at; the reason says what was missing.
    NotApplicable(Cow<'static, str>),
    /// One or more violations (never empty).
    Violations(Vec<Finding>),
}

impl Outcome {
    pub fn not_applicable(why: impl Into<Cow<'static, str>>) -> Outcome {
        Outcome::NotApplicable(why.into())
    }

    /// Pass when `findings` is empty.
    pub fn from_findings(findings: Vec<Finding>) -> Outcome {
        if findings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Violations(findings)
        }
    }

    /// The usual shape of a judge: not applicable (with `why`) when nothing it looks at
    /// occurred, else pass or the findings.
    pub fn judged(
        applicable: bool,
        why: impl Into<Cow<'static, str>>,
        findings: Vec<Finding>,
    ) -> Outcome {
        if !findings.is_empty() {
            Outcome::Violations(findings)
        } else if applicable {
            Outcome::Pass
        } else {
            Outcome::NotApplicable(why.into())
        }
    }

    /// The findings, if any.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Outcome::Violations(findings) => findings,
            _ => &[],
        }
    }
}
