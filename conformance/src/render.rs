//! A transcript with its findings marked: each failing or warned entry is followed by a line
//! naming the check, its status and what is wrong; findings in a message follow the entry
//! where the message was stored; findings about the whole session come at the end.

use std::fmt::Write as _;

use smtp_protocol::transcript::{Event, Transcript};

use crate::check::{Location, Status};
use crate::report::Report;

/// The marker printed before each finding.
pub const MARK: &str = "   ^^";

/// Renders `transcript` (as [`Transcript::render`] does) with the failures and warnings of
/// `report` under the entries they point at.
pub fn marked(transcript: &Transcript, report: &Report) -> String {
    let mut out = String::new();
    let mut stored_ids: Vec<(usize, &str)> = Vec::new();
    for (index, entry) in transcript.entries().enumerate() {
        if let Event::Stored { id } = &entry.event {
            stored_ids.push((index, id));
        }
    }
    for (index, entry) in transcript.entries().enumerate() {
        if Some(index) == transcript.omitted_at() {
            let _ = writeln!(out, "** {} entries omitted", transcript.omitted());
        }
        match &entry.event {
            Event::Server { text } => {
                for line in text.split("\r\n") {
                    let _ = writeln!(out, "S: {line}");
                }
            }
            event => {
                let _ = writeln!(out, "{event}");
            }
        }
        for result in report.problems() {
            for evidence in &result.evidence {
                let here = match (&evidence.location, &evidence.message) {
                    (Location::Entry { entry }, _) => *entry == index,
                    (Location::Message { .. }, Some(id)) => {
                        stored_ids.iter().any(|(i, s)| *i == index && s == id)
                    }
                    _ => false,
                };
                if here {
                    write_mark(&mut out, result.id, evidence.status, &evidence.detail);
                    if let Location::Message { offset } = evidence.location {
                        let _ = writeln!(out, "{MARK}   at octet {offset}: {}", evidence.octets);
                    }
                }
            }
        }
    }
    for result in report.problems() {
        for evidence in &result.evidence {
            let placed = match (&evidence.location, &evidence.message) {
                (Location::Entry { .. }, _) => true,
                (Location::Message { .. }, Some(id)) => stored_ids.iter().any(|(_, s)| s == id),
                _ => false,
            };
            if !placed {
                write_mark(&mut out, result.id, evidence.status, &evidence.detail);
            }
        }
    }
    out
}

fn write_mark(out: &mut String, id: &str, status: Status, detail: &str) {
    let word = match status {
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Pass => "PASS",
        Status::NotApplicable => "N/A",
    };
    let _ = writeln!(out, "{MARK} {word} {id}: {detail}");
}

/// One line per failed or warned check, then the counts: the verdict a person reads first.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    for result in report.problems() {
        let first = result
            .evidence
            .first()
            .map(|e| e.detail.as_ref())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "{} {} ({}): {first}",
            if result.status == Status::Fail {
                "FAIL"
            } else {
                "WARN"
            },
            result.id,
            result.level.as_str(),
        );
    }
    let counts = report.counts();
    let _ = writeln!(
        out,
        "{} checks: {} passed, {} failed, {} warned, {} not applicable",
        report.results.len(),
        counts.pass,
        counts.fail,
        counts.warn,
        counts.not_applicable
    );
    out
}
