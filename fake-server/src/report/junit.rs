//! The report as JUnit XML, the format CI systems show as test results (GitLab, Jenkins,
//! GitHub Actions through a reporter): one `testsuite` per run, one `testcase` per check per
//! session and per expectation. A failed check is a `failure` carrying its evidence; a check
//! that did not apply is `skipped` with the reason; a warning passes (it shows in
//! `system-out`) unless `--fail-on` makes it fail the run, then it is a `failure` too.

use std::fmt::Write as _;

use smtp_conformance::{CheckResult, Level, Location, Status};

use super::{RunReport, RunResult, SessionResult, Verdict};

/// The report as a JUnit XML document.
pub fn render(report: &RunReport) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for run in &report.runs {
        let suite = render_run(run, report.fail_on);
        tests += suite.tests;
        failures += suite.failures;
        skipped += suite.skipped;
        suites.push_str(&suite.xml);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<testsuites name=\"fake-smtp\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{suites}</testsuites>\n"
    )
}

struct Suite {
    xml: String,
    tests: usize,
    failures: usize,
    skipped: usize,
}

fn render_run(run: &RunResult, fail_on: Level) -> Suite {
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    let mut case = |xml: String, outcome: Outcome| {
        tests += 1;
        match outcome {
            Outcome::Failure => failures += 1,
            Outcome::Skipped => skipped += 1,
            Outcome::Pass => {}
        }
        cases.push_str(&xml);
    };
    if let Some(client) = &run.client {
        let ok = !client.timed_out;
        let body = if ok {
            String::new()
        } else {
            "      <failure message=\"the client was still running at the timeout and was killed\" type=\"timeout\"/>\n".to_owned()
        };
        case(
            format!(
                "    <testcase classname=\"client\" name=\"{}\" time=\"{}\">\n{body}    </testcase>\n",
                escape(&client.command.join(" ")),
                seconds(client.duration_ms)
            ),
            if ok { Outcome::Pass } else { Outcome::Failure },
        );
    }
    if run.sessions.is_empty() {
        case(
            "    <testcase classname=\"sessions\" name=\"the client connected\">\n      <failure message=\"no session: the client never connected\" type=\"no-session\"/>\n    </testcase>\n".to_owned(),
            Outcome::Failure,
        );
    }
    for session in &run.sessions {
        for check in &session.checks {
            let (xml, outcome) = check_case(session, check, fail_on);
            case(xml, outcome);
        }
    }
    for expectation in &run.expectations {
        let failed = expectation.status == Verdict::Fail;
        let body = if failed {
            format!(
                "      <failure message=\"{}\" type=\"expectation\"/>\n",
                escape(&expectation.detail)
            )
        } else {
            format!(
                "      <system-out>{}</system-out>\n",
                escape(&expectation.detail)
            )
        };
        case(
            format!(
                "    <testcase classname=\"expectations\" name=\"{}\">\n{body}    </testcase>\n",
                escape(&expectation.what)
            ),
            if failed {
                Outcome::Failure
            } else {
                Outcome::Pass
            },
        );
    }
    let xml = format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{}\">\n{cases}  </testsuite>\n",
        escape(&format!("scenario {}", run.scenario)),
        seconds(run.client.as_ref().map_or(0, |c| c.duration_ms)),
    );
    Suite {
        xml,
        tests,
        failures,
        skipped,
    }
}

enum Outcome {
    Pass,
    Failure,
    Skipped,
}

fn check_case(session: &SessionResult, check: &CheckResult, fail_on: Level) -> (String, Outcome) {
    let classname = escape(&format!(
        "session {} ({} on {})",
        session.id, session.peer, session.listener
    ));
    let name = escape(check.id);
    let fails = match check.status {
        Status::Fail => true,
        Status::Warn => fail_on >= Level::Should && check.level <= fail_on,
        _ => false,
    };
    let (body, outcome) = match check.status {
        Status::NotApplicable => (
            format!(
                "      <skipped message=\"{}\"/>\n",
                escape(check.why.as_deref().unwrap_or("not applicable"))
            ),
            Outcome::Skipped,
        ),
        Status::Pass => (String::new(), Outcome::Pass),
        Status::Fail | Status::Warn => {
            let evidence = evidence_text(session, check);
            let first = check
                .evidence
                .first()
                .map(|e| e.detail.as_ref())
                .unwrap_or("");
            if fails {
                (
                    format!(
                        "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                        escape(first),
                        check.level.as_str(),
                        escape(&evidence)
                    ),
                    Outcome::Failure,
                )
            } else {
                (
                    format!(
                        "      <system-out>{}</system-out>\n",
                        escape(&format!("WARN {}\n{evidence}", check.id))
                    ),
                    Outcome::Pass,
                )
            }
        }
    };
    (
        format!(
            "    <testcase classname=\"{classname}\" name=\"{name}\">\n{body}    </testcase>\n"
        ),
        outcome,
    )
}

/// Each finding: where it is (the transcript line, or the message and octet) and what is
/// wrong.
fn evidence_text(session: &SessionResult, check: &CheckResult) -> String {
    let entries: Vec<_> = session.transcript.entries().collect();
    let mut text = String::new();
    for evidence in &check.evidence {
        match &evidence.location {
            Location::Entry { entry } => {
                if let Some(line) = entries.get(*entry) {
                    let _ = writeln!(text, "{}", line.event);
                }
            }
            Location::Message { offset } => {
                let _ = write!(
                    text,
                    "message {}, octet {offset}",
                    evidence.message.as_deref().unwrap_or("?")
                );
                if evidence.octets.is_empty() {
                    text.push('\n');
                } else {
                    let _ = writeln!(text, ": {}", evidence.octets);
                }
            }
            Location::Session => {}
        }
        let _ = writeln!(text, "  ^ {}", evidence.detail);
    }
    if check.more > 0 {
        let _ = writeln!(text, "... and {} more", check.more);
    }
    text
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot carry at all
/// (most control characters) become `\xNN`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_cannot_carry() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("nul\0here\x1b"), "nul\\x00here\\x1b");
    }
}
