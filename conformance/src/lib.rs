//! Judges an SMTP client against the RFCs: every client check of the conformance checklist
//! (see `docs/checks.md`), as pure functions over what a session recorded (its transcript)
//! and the messages the client sent. No I/O, no clock: the server and the harness hand in what
//! they recorded and get a [`Report`] back. Checks never change what the server answers.
//!
//! Layout:
//! - [`check`]: what a check is ([`CheckInfo`]), what a judge returns ([`Outcome`],
//!   [`Finding`]);
//! - [`catalogue`]: the 237 client checks with their level and source;
//! - [`model`]: a session's transcript replayed into units, replies and state;
//! - [`message`]: a message split into entities, and the message-format checks;
//! - [`session`]: the session checks, by RFC;
//! - [`report`]: results, counts, evidence; [`render`]: a transcript with its failures marked;
//! - [`docs`]: the generated table of checks.

pub mod catalogue;
pub mod check;
pub mod docs;
pub mod judges;
pub mod message;
pub mod model;
pub mod render;
pub mod report;
pub mod session;
#[doc(hidden)]
pub mod testing;

pub use check::{CheckInfo, Finding, Level, Location, Mode, Outcome, Status};
pub use judges::{Judge, Run};
pub use message::model::{MessageInput, MessageModel};
pub use model::SessionModel;
pub use report::{CheckResult, Counts, Evidence, Report};

use smtp_protocol::transcript::Transcript;

/// The check with this ID.
pub fn info(id: &str) -> Option<&'static CheckInfo> {
    catalogue_index(id).and_then(|i| catalogue::CATALOGUE.get(i))
}

/// Position of a check in the catalogue (the order reports use).
pub(crate) fn catalogue_index(id: &str) -> Option<usize> {
    static INDEX: std::sync::OnceLock<std::collections::HashMap<&'static str, usize>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| {
            catalogue::CATALOGUE
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id, i))
                .collect()
        })
        .get(id)
        .copied()
}

/// Runs every session check over a transcript.
pub fn judge_session(transcript: &Transcript) -> Report {
    let model = SessionModel::build(transcript);
    // Judges run in catalogue order: the report is in order already.
    Report {
        results: judges::session_judges()
            .iter()
            .map(|(run, info)| judges::result_for(info, run(&model), None))
            .collect(),
    }
}

/// Runs every message check over one message.
pub fn judge_message(input: MessageInput<'_>) -> Report {
    let model = MessageModel::build(input);
    Report {
        results: judges::message_judges()
            .iter()
            .map(|(run, info)| judges::result_for(info, run(&model), input.id))
            .collect(),
    }
}

/// The message checks' results for a session in which no message was received: each is
/// not applicable.
pub fn no_messages() -> Report {
    let mut report = Report::default();
    for judge in judges::all() {
        if let Run::Message(_) = judge.run {
            report.results.push(judge.result(
                Outcome::not_applicable("no message was received in this session"),
                None,
            ));
        }
    }
    report
}

/// Runs every check: the session checks over the transcript, the message checks over each
/// message (combined check by check: the worst result wins).
pub fn judge(transcript: &Transcript, messages: &[MessageInput<'_>]) -> Report {
    let mut message_checks: Option<Report> = None;
    for message in messages {
        let report = judge_message(*message);
        match &mut message_checks {
            Some(checks) => checks.merge_from(&report),
            None => message_checks = Some(report),
        }
    }
    judge_session_with(transcript, message_checks.unwrap_or_else(no_messages))
}

/// [`judge_session`] and [`combine`] in one pass: runs every session check over the
/// transcript and puts its messages' results (as [`judge_message`] and [`no_messages`] make
/// them, merged) in their places, building the report once, at its final size.
pub fn judge_session_with(transcript: &Transcript, messages: Report) -> Report {
    if messages.results.len() != judges::message_judges().len() {
        return combine(judge_session(transcript), messages);
    }
    let model = SessionModel::build(transcript);
    let all = judges::all_with_info();
    let mut results = Vec::with_capacity(all.len());
    let mut from_messages = messages.results.into_iter();
    for (judge, info) in all {
        match judge.run {
            Run::Session(run) => results.push(judges::result_for(info, run(&model), None)),
            Run::Message(_) => results.extend(from_messages.next()),
        }
    }
    Report { results }
}

/// Joins a session's report and its messages' (as [`judge_session`] and [`judge_message`]
/// make them) into one in catalogue order: by position, without looking anything up. Other
/// reports are merged check by check.
pub fn combine(session: Report, messages: Report) -> Report {
    let all = judges::all_with_info();
    if session.results.len() != judges::session_judges().len()
        || messages.results.len() != judges::message_judges().len()
    {
        let mut report = session;
        report.merge(messages);
        return report;
    }
    let mut from_session = session.results.into_iter();
    let mut from_messages = messages.results.into_iter();
    let mut results = Vec::with_capacity(all.len());
    for (judge, _) in all {
        match judge.run {
            Run::Session(_) => results.extend(from_session.next()),
            Run::Message(_) => results.extend(from_messages.next()),
        }
    }
    Report { results }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Combining by position gives what merging check by check gives.
    #[test]
    fn combine_is_merge_by_position() {
        let t = testing::transcript(&testing::simple_session(
            &["PIPELINING", "8BITMIME"],
            "",
            "Subject: x\\r\\n\\r\\nhi\\r\\n",
        ));
        let content = b"Subject: x\r\n\r\nhi\r\n";
        let message = testing::message(content).input;
        let combined = combine(judge_session(&t), judge_message(message));
        assert_eq!(judge_session_with(&t, judge_message(message)), combined);
        let mut merged = judge_session(&t);
        merged.merge(judge_message(message));
        assert_eq!(combined, merged);
        assert_eq!(combined.results.len(), judges::all().len());
        // Reports of another shape are merged the slow way, and still right.
        let partial = Report {
            results: judge_session(&t).results[..3].to_vec(),
        };
        assert_eq!(combine(partial.clone(), Report::default()), partial);
    }
}
