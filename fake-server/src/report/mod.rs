//! Run reports: what `fake-smtp run` (or `serve` at shutdown) found, as data that prints as a
//! human report and is written as JSON (`--report`, schema in `docs/report.schema.json`),
//! JUnit XML (`--junit`) and a self-contained HTML page (`--html`).
//!
//! A report holds runs; a run is one scenario played to the client (a suite plays several),
//! with the client's command and exit status, every session the server saw, each with its
//! check results and transcript, and the expectations with their results.

pub mod html;
pub mod junit;
pub mod text;

use std::sync::Arc;

use serde::Serialize;
use smtp_conformance::{CheckResult, Counts, Level, Status};
use smtp_protocol::transcript::{CloseReason, Transcript};

use crate::mailbox::SessionRecord;

/// The version of the JSON report's format (`format` in the file).
pub const FORMAT: u32 = 1;

/// Pass or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn of(pass: bool) -> Verdict {
        if pass {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    pub fn is_pass(self) -> bool {
        self == Verdict::Pass
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub format: u32,
    pub verdict: Verdict,
    /// The level at or above which a failed (or warned) check fails the run.
    pub fail_on: Level,
    pub runs: Vec<RunResult>,
}

impl RunReport {
    pub fn new(fail_on: Level, runs: Vec<RunResult>) -> RunReport {
        let verdict = Verdict::of(runs.iter().all(|r| r.verdict.is_pass()));
        RunReport {
            format: FORMAT,
            verdict,
            fail_on,
            runs,
        }
    }
}

/// One scenario played to the client.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The scenario's name (`default` without one).
    pub scenario: String,
    /// What the scenario provokes, when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub verdict: Verdict,
    /// The client command, when the run started one (`serve` reports have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientResult>,
    pub sessions: Vec<SessionResult>,
    pub expectations: Vec<ExpectationResult>,
}

impl RunResult {
    /// Builds a run's result: each session judged at `fail_on`, then the verdict: every
    /// session passes and every expectation holds.
    pub fn new(
        scenario: String,
        description: Option<String>,
        client: Option<ClientResult>,
        records: &[Arc<SessionRecord>],
        expectations: Vec<ExpectationResult>,
        fail_on: Level,
    ) -> RunResult {
        let sessions: Vec<SessionResult> = records
            .iter()
            .map(|r| SessionResult::new(r, fail_on))
            .collect();
        let pass = sessions.iter().all(|s| s.verdict.is_pass())
            && expectations.iter().all(|e| e.status.is_pass());
        RunResult {
            scenario,
            description,
            verdict: Verdict::of(pass),
            client,
            sessions,
            expectations,
        }
    }
}

/// The client a run started, and how it ended.
#[derive(Debug, Clone, Serialize)]
pub struct ClientResult {
    pub command: Vec<String>,
    /// Its exit code (`None` when a signal ended it).
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// It was still running at `--timeout` and was killed.
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// One session the server saw.
#[derive(Debug, Clone, Serialize)]
pub struct SessionResult {
    pub id: u64,
    pub listener: String,
    pub peer: String,
    pub duration_ms: u64,
    pub close_reason: Option<CloseReason>,
    pub message_count: u64,
    pub messages: Vec<String>,
    /// Pass unless a check failed (or, with `--fail-on should|info`, warned at that level).
    pub verdict: Verdict,
    pub counts: Counts,
    /// Every check run, in the order of docs/checks.md.
    pub checks: Vec<CheckResult>,
    pub transcript: Transcript,
}

impl SessionResult {
    pub fn new(record: &SessionRecord, fail_on: Level) -> SessionResult {
        SessionResult {
            id: record.id,
            listener: record.listener.to_string(),
            peer: record.peer.to_string(),
            duration_ms: record.duration_ms,
            close_reason: record.close_reason,
            message_count: record.message_count,
            messages: record.messages.clone(),
            verdict: Verdict::of(!record.checks.fails_at(fail_on)),
            counts: record.checks.counts(),
            checks: record.checks.results.clone(),
            transcript: record.transcript.clone(),
        }
    }

    /// The checks that failed or warned.
    pub fn problems(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks
            .iter()
            .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
    }
}

/// One expectation and whether it held.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationResult {
    /// What was expected, as the user wrote it (`messages = 1`, `exit-code = 0`).
    pub what: String,
    pub status: Verdict,
    /// What was found.
    pub detail: String,
}
