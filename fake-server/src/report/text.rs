//! The human report: per run, the client's outcome and each session with its failed and
//! warned checks under the transcript lines that show them; the expectations; the verdict.

use std::fmt::Write as _;

use smtp_conformance::{Location, Status};

use super::{RunReport, RunResult, SessionResult};

/// The whole report as text.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    for run in &report.runs {
        render_run(&mut out, run);
    }
    let failed = report.runs.iter().filter(|r| !r.verdict.is_pass()).count();
    let _ = writeln!(
        out,
        "verdict: {} ({} of {} run{} failed; failing at level {})",
        report.verdict.as_str().to_uppercase(),
        failed,
        report.runs.len(),
        if report.runs.len() == 1 { "" } else { "s" },
        report.fail_on.as_str()
    );
    out
}

fn render_run(out: &mut String, run: &RunResult) {
    let _ = writeln!(
        out,
        "== scenario {}: {} ==",
        run.scenario,
        run.verdict.as_str()
    );
    if let Some(description) = &run.description {
        let _ = writeln!(out, "   {description}");
    }
    if let Some(client) = &run.client {
        let ended = match (client.timed_out, client.exit_code, client.signal) {
            (true, _, _) => "killed at the timeout".to_owned(),
            (false, Some(code), _) => format!("exit code {code}"),
            (false, None, Some(signal)) => format!("killed by signal {signal}"),
            (false, None, None) => "ended".to_owned(),
        };
        let _ = writeln!(
            out,
            "client: {} ({ended}, {} ms)",
            client.command.join(" "),
            client.duration_ms
        );
    }
    if run.sessions.is_empty() {
        let _ = writeln!(out, "no session: the client never connected");
    }
    for session in &run.sessions {
        render_session(out, session);
    }
    for expectation in &run.expectations {
        let _ = writeln!(
            out,
            "expect {}: {} ({})",
            expectation.what,
            expectation.status.as_str(),
            expectation.detail
        );
    }
    out.push('\n');
}

fn render_session(out: &mut String, session: &SessionResult) {
    let counts = session.counts;
    let _ = writeln!(
        out,
        "-- session {} from {} on {}: {} message{}, {} passed, {} failed, {} warned, {} not applicable",
        session.id,
        session.peer,
        session.listener,
        session.message_count,
        if session.message_count == 1 { "" } else { "s" },
        counts.pass,
        counts.fail,
        counts.warn,
        counts.not_applicable
    );
    let entries: Vec<_> = session.transcript.entries().collect();
    for result in session.problems() {
        let word = if result.status == Status::Fail {
            "FAIL"
        } else {
            "WARN"
        };
        let _ = writeln!(
            out,
            "   {word} {} ({}; docs/checks.md#{})",
            result.id,
            result.level.as_str(),
            result.id
        );
        for evidence in &result.evidence {
            match &evidence.location {
                Location::Entry { entry } => {
                    if let Some(line) = entries.get(*entry) {
                        let _ = writeln!(out, "      {}", line.event);
                    }
                }
                Location::Message { offset } => {
                    let id = evidence.message.as_deref().unwrap_or("?");
                    let _ = write!(out, "      message {id}, octet {offset}");
                    if evidence.octets.is_empty() {
                        out.push('\n');
                    } else {
                        let _ = writeln!(out, ": {}", evidence.octets);
                    }
                }
                Location::Session => {}
            }
            let _ = writeln!(out, "        ^ {}", evidence.detail);
        }
        if result.more > 0 {
            let _ = writeln!(out, "      ... and {} more", result.more);
        }
    }
}
