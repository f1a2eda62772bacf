//! The registry of judges: which checks are judged, by what, with the text the generated
//! documentation shows for each.

use std::sync::OnceLock;

use crate::check::{CheckInfo, Outcome};
use crate::message::model::MessageModel;
use crate::model::SessionModel;
use crate::report::CheckResult;

/// How a judge runs.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    /// Over the whole session, once, when it ends.
    Session(fn(&SessionModel<'_>) -> Outcome),
    /// Over each message, after the reply to its end of data.
    Message(fn(&MessageModel<'_>) -> Outcome),
}

/// The judge of one check.
#[derive(Debug, Clone, Copy)]
pub struct Judge {
    /// The check's ID (it must be in the catalogue).
    pub id: &'static str,
    /// What the judge looks at, in a sentence (for `docs/checks.md`).
    pub looks_at: &'static str,
    /// A short failing example (for `docs/checks.md`).
    pub example: &'static str,
    pub run: Run,
}

impl Judge {
    /// The check this judges.
    pub fn info(&self) -> &'static CheckInfo {
        // Every registered ID is in the catalogue (a test keeps it so); an unknown one is
        // judged at the strictest level rather than lost.
        crate::info(self.id).unwrap_or(&UNKNOWN)
    }

    pub(crate) fn result(&self, outcome: Outcome, message: Option<&str>) -> CheckResult {
        result_for(self.info(), outcome, message)
    }
}

static UNKNOWN: CheckInfo = CheckInfo {
    section: "",
    id: "C-UNKNOWN",
    mode: crate::check::Mode::Passive,
    level: crate::check::Level::Must,
    wording: "",
    source: "",
};

/// The judges of each family, in catalogue order of their sections.
fn families() -> [&'static [Judge]; 9] {
    [
        crate::session::core::JUDGES,
        crate::session::tls::JUDGES,
        crate::session::auth::JUDGES,
        crate::session::sasl::JUDGES,
        crate::session::extensions::JUDGES,
        crate::message::rfc5322::JUDGES,
        crate::message::mime::JUDGES,
        crate::message::encoded_words::JUDGES,
        crate::message::rfc2231::JUDGES,
    ]
}

/// Every judge, in catalogue order.
pub fn all() -> &'static [&'static Judge] {
    static ALL: OnceLock<Vec<&'static Judge>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<&'static Judge> = families().into_iter().flatten().collect();
        all.sort_by_key(|j| crate::catalogue_index(j.id).unwrap_or(usize::MAX));
        all
    })
}

pub(crate) fn result_for(
    info: &'static CheckInfo,
    outcome: Outcome,
    message: Option<&str>,
) -> CheckResult {
    CheckResult::from_outcome(info.id, info.level, outcome, message)
}

/// Every judge with its check, in catalogue order: what the engine iterates (looked up once).
pub(crate) fn all_with_info() -> &'static [(&'static Judge, &'static CheckInfo)] {
    static ALL: OnceLock<Vec<(&'static Judge, &'static CheckInfo)>> = OnceLock::new();
    ALL.get_or_init(|| all().iter().map(|j| (*j, j.info())).collect())
}

/// The session judges, in catalogue order, with their checks.
pub(crate) fn session_judges() -> &'static [(SessionJudge, &'static CheckInfo)] {
    &by_kind().0
}

/// The message judges, in catalogue order, with their checks.
pub(crate) fn message_judges() -> &'static [(MessageJudge, &'static CheckInfo)] {
    &by_kind().1
}

type ByKind = (
    Vec<(SessionJudge, &'static CheckInfo)>,
    Vec<(MessageJudge, &'static CheckInfo)>,
);

/// Every judge split by what it runs over, each list in catalogue order (split once).
fn by_kind() -> &'static ByKind {
    static BY_KIND: OnceLock<ByKind> = OnceLock::new();
    BY_KIND.get_or_init(|| {
        let mut split: ByKind = (Vec::new(), Vec::new());
        for (judge, info) in all_with_info() {
            match judge.run {
                Run::Session(run) => split.0.push((run, *info)),
                Run::Message(run) => split.1.push((run, *info)),
            }
        }
        split
    })
}

pub(crate) type SessionJudge = fn(&SessionModel<'_>) -> Outcome;
pub(crate) type MessageJudge = fn(&MessageModel<'_>) -> Outcome;

/// The judge of a check, if it is judged.
pub fn of(id: &str) -> Option<&'static Judge> {
    all().iter().copied().find(|j| j.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_judge_is_in_the_catalogue_once() {
        let mut seen = std::collections::HashSet::new();
        for judge in all() {
            assert!(
                crate::info(judge.id).is_some(),
                "{} is not in the catalogue",
                judge.id
            );
            assert!(seen.insert(judge.id), "{} is judged twice", judge.id);
            assert!(
                !judge.looks_at.is_empty(),
                "{} says what it looks at",
                judge.id
            );
            assert!(!judge.example.is_empty(), "{} has an example", judge.id);
        }
    }

    #[test]
    fn the_catalogue_has_every_check_once() {
        let catalogue = crate::catalogue::CATALOGUE;
        assert_eq!(catalogue.len(), 237);
        let ids: std::collections::HashSet<_> = catalogue.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 237);
    }
}
