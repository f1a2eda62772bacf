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
    #[serde(skip_serializing_if = "EvidenceList::is_empty")]
    pub evidence: EvidenceList,
    /// Findings beyond those kept in `evidence`.
    #[serde(skip_serializing_if = "is_zero")]
    pub more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The evidence of one result. Most results have none: until it holds some, it is one null
/// pointer, which keeps a [`CheckResult`] at 56 octets instead of 80 (a session's report has
/// one per check, a message's one per message check; writing, merging, keeping and freeing
/// them was a fifth of the after-reply thread's time in ci/bench.sh row A).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
// Boxed on purpose: a `Vec` is three words inline, the box one (null while empty).
#[allow(clippy::box_collection)]
pub struct EvidenceList(Option<Box<Vec<Evidence>>>);

impl EvidenceList {
    pub fn new() -> EvidenceList {
        EvidenceList(None)
    }

    pub fn push(&mut self, evidence: Evidence) {
        self.0.get_or_insert_with(Default::default).push(evidence);
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|evidence| evidence.is_empty())
    }
}

impl IntoIterator for EvidenceList {
    type Item = Evidence;
    type IntoIter = std::vec::IntoIter<Evidence>;

    fn into_iter(self) -> Self::IntoIter {
        self.0
            .map(|evidence| *evidence)
            .unwrap_or_default()
            .into_iter()
    }
}

impl std::ops::Deref for EvidenceList {
    type Target = [Evidence];

    fn deref(&self) -> &[Evidence] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl std::ops::DerefMut for EvidenceList {
    fn deref_mut(&mut self) -> &mut [Evidence] {
        match self.0.as_deref_mut() {
            Some(evidence) => evidence.as_mut_slice(),
            None => &mut [],
        }
    }
}

impl From<Vec<Evidence>> for EvidenceList {
    fn from(evidence: Vec<Evidence>) -> EvidenceList {
        EvidenceList((!evidence.is_empty()).then(|| Box::new(evidence)))
    }
}

impl<'a> IntoIterator for &'a EvidenceList {
    type Item = &'a Evidence;
    type IntoIter = std::slice::Iter<'a, Evidence>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Serialize for EvidenceList {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
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
                evidence: EvidenceList::new(),
                more: 0,
            },
            Outcome::NotApplicable(why) => CheckResult {
                id,
                status: Status::NotApplicable,
                level,
                why: Some(why),
                evidence: EvidenceList::new(),
                more: 0,
            },
            Outcome::Violations(findings) => {
                let mut result = CheckResult {
                    id,
                    status: Status::Pass,
                    level,
                    why: None,
                    evidence: EvidenceList::new(),
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
            self.more = self.more.saturating_add(1);
        }
    }

    /// [`CheckResult::merge`] without taking `other`: evidence is copied only while there is
    /// room for it, so merging many messages' results costs no allocation per message.
    fn merge_from(&mut self, other: &CheckResult) {
        match (self.status, other.status) {
            (_, Status::NotApplicable) => return,
            (Status::NotApplicable, _) => {
                *self = other.clone();
                return;
            }
            _ => {}
        }
        self.status = self.status.max(other.status);
        self.more = self.more.saturating_add(other.more);
        for evidence in &other.evidence {
            if self.evidence.len() < MAX_EVIDENCE_PER_CHECK {
                self.evidence.push(evidence.clone());
            } else {
                self.more = self.more.saturating_add(1);
            }
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
        self.more = self.more.saturating_add(other.more);
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
    /// Puts the results in catalogue order (reports made by the engine already are).
    pub fn sort(&mut self) {
        self.results
            .sort_by_key(|r| crate::catalogue_index(r.id).unwrap_or(usize::MAX));
    }

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

    /// Adds another report's results in place ([`Report::merge`] without taking it): when both
    /// hold the same checks in the same order, as every message's report does, nothing is
    /// allocated for checks that pass or do not apply.
    pub fn merge_from(&mut self, other: &Report) {
        let aligned = self.results.len() == other.results.len()
            && self
                .results
                .iter()
                .zip(&other.results)
                // The ids are the catalogue's own strings: the same pointer, nearly always.
                .all(|(a, b)| std::ptr::eq(a.id, b.id) || a.id == b.id);
        if !aligned {
            self.merge(other.clone());
            return;
        }
        for (mine, theirs) in self.results.iter_mut().zip(&other.results) {
            mine.merge_from(theirs);
        }
    }

    /// Adds the results of another part of the same session, check by check. Both reports
    /// are in catalogue order (as the engine makes them): one pass merges them.
    pub fn merge(&mut self, other: Report) {
        let mine = std::mem::take(&mut self.results);
        let mut merged = Vec::with_capacity(mine.len().max(other.results.len()));
        let order = |r: &CheckResult| crate::catalogue_index(r.id).unwrap_or(usize::MAX);
        let mut theirs = other.results.into_iter().peekable();
        for mut result in mine {
            while let Some(next) = theirs.next_if(|t| order(t) < order(&result)) {
                merged.push(next);
            }
            if let Some(same) = theirs.next_if(|t| t.id == result.id) {
                result.merge(same);
            }
            merged.push(result);
        }
        merged.extend(theirs);
        self.results = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Finding, Outcome};

    fn result(id: &'static str, outcome: Outcome) -> CheckResult {
        CheckResult::from_outcome(id, Level::Must, outcome, Some("M"))
    }

    #[test]
    fn merging_keeps_the_worst_status_and_the_evidence() {
        let fail = || Outcome::Violations(vec![Finding::in_session("bad")]);
        let a = Report {
            results: vec![
                result("C-5322-DATE-PRESENT", Outcome::Pass),
                result("C-5322-FROM-PRESENT", Outcome::not_applicable("none")),
            ],
        };
        let b = Report {
            results: vec![
                result("C-5322-DATE-PRESENT", fail()),
                result("C-5322-FROM-PRESENT", Outcome::Pass),
            ],
        };
        let mut by_ref = a.clone();
        by_ref.merge_from(&b);
        let mut by_value = a;
        by_value.merge(b);
        assert_eq!(by_ref, by_value);
        assert_eq!(by_ref.status("C-5322-DATE-PRESENT"), Some(Status::Fail));
        assert_eq!(by_ref.status("C-5322-FROM-PRESENT"), Some(Status::Pass));
        assert_eq!(by_ref.results[0].evidence.len(), 1);
    }

    #[test]
    fn merging_reports_of_other_checks_keeps_catalogue_order() {
        let mut a = Report {
            results: vec![result("C-5322-FROM-PRESENT", Outcome::Pass)],
        };
        a.merge(Report {
            results: vec![result("C-5321-GREETING-WAIT", Outcome::Pass)],
        });
        let ids: Vec<_> = a.results.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["C-5321-GREETING-WAIT", "C-5322-FROM-PRESENT"]);
    }
}
