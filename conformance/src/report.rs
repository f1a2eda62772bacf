//! The results of judging a session: one [`CheckResult`] per check that was run, in the
//! catalogue's order, with counts and the evidence of every failure and warning.

use std::borrow::Cow;

use serde::Serialize;

use crate::check::{Level, Location, Outcome, Status};

/// Evidence kept per check; beyond it only a count.
pub const MAX_EVIDENCE_PER_CHECK: usize = 8;

/// One piece of evidence of a failure or warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub status: Status,
    #[serde(flatten)]
    pub location: Location,
    /// The queue id of the message, for evidence found in a message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The offending octets, escaped as in transcripts.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub octets: String,
    pub detail: Cow<'static, str>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub status: Status,
    pub level: Level,
    /// Why the check did not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<Cow<'static, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Findings beyond those kept in `evidence`.
    #[serde(skip_serializing_if = "is_zero")]
    pub more: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CheckResult {
    /// The result of a judge's outcome for a check at `level`; `message` names the message
    /// the findings are in, for message checks.
    pub fn from_outcome(
        id: &'static str,
        level: Level,
        outcome: Outcome,
        message: Option<&str>,
    ) -> CheckResult {
        match outcome {
            Outcome::Pass => CheckResult {
                id,
                status: Status::Pass,
                level,
                why: None,
                evidence: Vec::new(),
                more: 0,
            },
            Outcome::NotApplicable(why) => CheckResult {
                id,
                status: Status::NotApplicable,
                level,
                why: Some(why),
                evidence: Vec::new(),
                more: 0,
            },
            Outcome::Violations(findings) => {
                let mut result = CheckResult {
                    id,
                    status: Status::Pass,
                    level,
                    why: None,
                    evidence: Vec::new(),
                    more: 0,
                };
                for finding in findings {
                    let status = finding.status(level);
                    result.status = result.status.max(status);
                    result.add_evidence(Evidence {
                        status,
                        location: finding.location,
                        message: message.map(str::to_owned),
                        octets: finding.octets,
                        detail: finding.detail,
                    });
                }
                result
            }
        }
    }

    fn add_evidence(&mut self, evidence: Evidence) {
        if self.evidence.len() < MAX_EVIDENCE_PER_CHECK {
            self.evidence.push(evidence);
        } else {
            self.more += 1;
        }
    }

    /// Combines the results of the same check on two parts of a session (two messages): the
    /// worse status wins, not-applicable only when both are.
    fn merge(&mut self, other: CheckResult) {
        match (self.status, other.status) {
            (Status::NotApplicable, _) => {
                *self = other;
                return;
            }
            (_, Status::NotApplicable) => return,
            _ => {}
        }
        self.status = self.status.max(other.status);
        self.why = None;
        self.more += other.more;
        for evidence in other.evidence {
            self.add_evidence(evidence);
        }
    }
}

/// How many checks ended with each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: u32,
    pub fail: u32,
    pub warn: u32,
    pub not_applicable: u32,
}

/// The results of every check run on a session (and its messages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub results: Vec<CheckResult>,
}

impl Report {
    /// The result of one check, if it was run.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// The status of one check (`None` if it was not run).
    pub fn status(&self, id: &str) -> Option<Status> {
        self.get(id).map(|r| r.status)
    }

    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for result in &self.results {
            match result.status {
                Status::Pass => counts.pass += 1,
                Status::Fail => counts.fail += 1,
                Status::Warn => counts.warn += 1,
                Status::NotApplicable => counts.not_applicable += 1,
            }
        }
        counts
    }

    /// The IDs of the checks that ended with `status`, in catalogue order.
    pub fn ids(&self, status: Status) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|r| r.status == status)
            .map(|r| r.id)
            .collect()
    }

    /// The failed and warned results, in catalogue order.
    pub fn problems(&self) -> impl Iterator<Item = &CheckResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Warn))
    }

    /// What `--fail-on` decides: true when a check failed (a failure is always a MUST-level
    /// violation), or, with `Should` or `Info` as the threshold, when a check whose level is
    /// at least that strict warned.
    pub fn fails_at(&self, threshold: Level) -> bool {
        self.results.iter().any(|r| match r.status {
            Status::Fail => true,
            Status::Warn => threshold >= Level::Should && r.level <= threshold,
            _ => false,
        })
    }

    /// Adds the results of another part of the same session, check by check.
    pub fn merge(&mut self, other: Report) {
        for result in other.results {
            match self.results.iter_mut().find(|r| r.id == result.id) {
                Some(existing) => existing.merge(result),
                None => self.results.push(result),
            }
        }
        self.sort();
    }

    /// Puts the results in catalogue order.
    pub(crate) fn sort(&mut self) {
        self.results
            .sort_by_key(|r| crate::catalogue_index(r.id).unwrap_or(usize::MAX));
    }
}
