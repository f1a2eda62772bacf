//! Every message shape of the reference client (`smtp-harness messages`) through the flows
//! where the message matters (submission, relay), against the default scenario and the ones
//! that withhold 8BITMIME, SMTPUTF8 and CHUNKING. For each: the outcome is what a careful
//! client wants (delivered, or refused before MAIL when SMTPUTF8 is needed and missing); the
//! stored message reads back with mail-parser and Python's email package exactly as it was
//! built, part by part; fake-smtp's checks find nothing but what the shape breaks on
//! purpose; without 8BITMIME every stored octet is 7-bit; BDAT and BINARYMIME appear only
//! where both are offered. One insta snapshot per scenario and shape under
//! `snapshots/messages/`.

mod common;
mod roundtrip;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fake_server::{Scenario, SessionRecord, StoredMessage};
use smtp_harness::flows::{FlowKind, FlowOutcome};
use smtp_harness::message::{Body, Shape, SHAPES};
use smtp_harness::redact::redact;

const SCENARIOS: [&str; 4] = [
    "default",
    "behaviours/no-8bitmime",
    "behaviours/no-smtputf8",
    "behaviours/no-chunking",
];

const FLOWS: [FlowKind; 2] = [FlowKind::Submission, FlowKind::Relay];

/// Room for the 25 MiB attachment in base64 (the default SIZE is 10 MiB).
const MAX_SIZE: u64 = 64 * 1024 * 1024;

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("messages")
}

fn snapshot_name(scenario: &str, shape: &str) -> String {
    format!("{}@{shape}", scenario.replace('/', "__"))
}

/// What the scenario offers, by its name.
fn offers(scenario: &str, keyword: &str) -> bool {
    !matches!(
        (scenario, keyword),
        (
            "behaviours/no-8bitmime",
            "8BITMIME" | "SMTPUTF8" | "BINARYMIME"
        ) | ("behaviours/no-smtputf8", "SMTPUTF8")
            | ("behaviours/no-chunking", "CHUNKING" | "BINARYMIME")
    )
}

fn has_opaque_part(shape: &Shape) -> bool {
    (shape.build)()
        .body
        .leaves()
        .iter()
        .any(|(_, part)| !part.is_text() && !matches!(part.body, Body::Message(_)))
}

/// One line per check that failed or warned and that the shape does not break on purpose.
fn unexpected_problems(shape: &Shape, reports: &[&smtp_conformance::Report]) -> Vec<String> {
    let mut out = Vec::new();
    for report in reports {
        for result in report.problems() {
            if shape.breaks.contains(&result.id) {
                continue;
            }
            let detail = result
                .evidence
                .first()
                .map(|e| e.detail.to_string())
                .unwrap_or_default();
            out.push(format!("{:?} {}: {detail}", result.status, result.id));
        }
    }
    out
}

/// The stored octets for a snapshot: base64 runs and binary bodies elided, the rest as is.
fn elide(raw: &[u8]) -> String {
    let mut out = String::new();
    let lines: Vec<&[u8]> = raw.split(|&b| b == b'\n').collect();
    let base64 = |line: &[u8]| {
        line.len() == 76
            && line
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    // A leaf labelled binary: its body is counted, not shown (composites labelled binary
    // only hold parts).
    let mut binary_next = false;
    let mut multipart = false;
    let mut in_binary: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].strip_suffix(b"\r").unwrap_or(lines[i]);
        if let Some(octets) = in_binary.as_mut() {
            if line.starts_with(b"--=_harness") {
                // The CRLF before the delimiter belongs to it.
                out.push_str(&format!(
                    "[{} octets of binary content]\n",
                    octets.saturating_sub(2)
                ));
                in_binary = None;
            } else {
                *octets += lines[i].len() + 1;
                i += 1;
                continue;
            }
        }
        if line.eq_ignore_ascii_case(b"Content-Transfer-Encoding: binary") {
            binary_next = true;
        }
        if line.starts_with(b"Content-Type: multipart/") {
            multipart = true;
        }
        if line.is_empty() {
            let binary = binary_next && !multipart;
            binary_next = false;
            multipart = false;
            if binary {
                out.push('\n');
                in_binary = Some(0);
                i += 1;
                continue;
            }
        }
        if base64(line) {
            let run = lines[i..]
                .iter()
                .take_while(|l| base64(l.strip_suffix(b"\r").unwrap_or(l)))
                .count();
            if run > 6 {
                for l in &lines[i..i + 2] {
                    out.push_str(&String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)));
                    out.push('\n');
                }
                out.push_str(&format!("[... {} more lines of base64 ...]\n", run - 2));
                i += run;
                continue;
            }
        }
        if line.len() > 200 {
            let text = String::from_utf8_lossy(line);
            out.push_str(&format!(
                "{}[... a line of {} octets ...]\n",
                text.chars().take(40).collect::<String>(),
                line.len()
            ));
        } else {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        i += 1;
    }
    if let Some(octets) = in_binary {
        out.push_str(&format!("[{octets} octets of binary content]\n"));
    }
    out
}

struct Run {
    outcomes: Vec<FlowOutcome>,
    sessions: Vec<Arc<SessionRecord>>,
    messages: Vec<Arc<StoredMessage>>,
}

async fn run(scenario: &str, shape: &'static Shape, ca_dir: &Path) -> Run {
    let server = common::start(
        Scenario::load(scenario).expect("built-in scenario"),
        ca_dir,
        Some(MAX_SIZE),
    )
    .await;
    let mut outcomes = Vec::new();
    for flow in FLOWS {
        outcomes.push(common::run_flow(&server, flow, Some(shape)).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.open_sessions() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let run = Run {
        outcomes,
        sessions: server.sessions(),
        messages: server.messages(),
    };
    server.abort().await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_through_submission_and_relay() {
    let work = std::env::temp_dir().join(format!("snapshot-messages-{}", std::process::id()));
    let ca_dir = work.join("ca");
    std::fs::create_dir_all(&work).expect("scratch folder");
    let only_shape = std::env::var("SNAPSHOT_SHAPE").ok();
    let mut failures: Vec<String> = Vec::new();
    // Stored messages for Python: (file, what was built, label).
    let mut for_python: Vec<(PathBuf, roundtrip::Seen, String)> = Vec::new();
    for scenario in SCENARIOS {
        for shape in SHAPES {
            if only_shape.as_deref().is_some_and(|s| s != shape.name) {
                continue;
            }
            let label = format!("{scenario} / {}", shape.name);
            let message = (shape.build)();
            let expected = roundtrip::expected(&message);
            let deliverable = !message.utf8_headers || offers(scenario, "SMTPUTF8");
            let run = run(scenario, shape, &ca_dir).await;
            let mut text = format!(
                "scenario: {scenario}\nshape: {} ({})\n",
                shape.name, shape.summary
            );
            for outcome in &run.outcomes {
                let flow = outcome.flow.name();
                text.push_str(&format!("\n######## {flow} ########\n"));
                text.push_str(&outcome.render(false));
                if outcome.success != deliverable {
                    failures.push(format!(
                        "{label}, {flow}: success {} (expected {deliverable}): {:?}",
                        outcome.success, outcome.summary
                    ));
                }
                if !deliverable
                    && !outcome
                        .summary
                        .iter()
                        .any(|s| s.contains("need SMTPUTF8 (RFC 6531)"))
                {
                    failures.push(format!(
                        "{label}, {flow}: no clear SMTPUTF8 refusal: {:?}",
                        outcome.summary
                    ));
                }
                let transcript = outcome.render(false);
                let binary_expected = has_opaque_part(shape)
                    && offers(scenario, "CHUNKING")
                    && offers(scenario, "BINARYMIME");
                if deliverable && transcript.contains("BODY=BINARYMIME") != binary_expected {
                    failures.push(format!(
                        "{label}, {flow}: BODY=BINARYMIME used: {}, expected {binary_expected}",
                        !binary_expected
                    ));
                }
                if !offers(scenario, "CHUNKING") && transcript.contains("C: BDAT") {
                    failures.push(format!("{label}, {flow}: BDAT without CHUNKING"));
                }
            }
            let wanted = if deliverable { FLOWS.len() } else { 0 };
            if run.messages.len() != wanted {
                failures.push(format!(
                    "{label}: {} messages stored, expected {wanted}",
                    run.messages.len()
                ));
            }
            let mut reports: Vec<&smtp_conformance::Report> =
                run.sessions.iter().map(|s| &s.checks).collect();
            reports.extend(run.messages.iter().map(|m| m.judge()));
            let problems = unexpected_problems(shape, &reports);
            for problem in &problems {
                failures.push(format!("{label}: fake-smtp's checks: {problem}"));
            }
            for (i, stored) in run.messages.iter().enumerate() {
                for difference in
                    roundtrip::differences(&expected, &roundtrip::by_mail_parser(&stored.raw))
                {
                    failures.push(format!(
                        "{label}, message {}: mail-parser: {difference}",
                        i + 1
                    ));
                }
                if !offers(scenario, "8BITMIME") && !stored.raw.is_ascii() {
                    failures.push(format!(
                        "{label}: 8-bit octets reached a server without 8BITMIME"
                    ));
                }
                let file = work.join(format!(
                    "{}-{}-{i}.eml",
                    scenario.replace('/', "_"),
                    shape.name
                ));
                std::fs::write(&file, &stored.raw).expect("write the stored message");
                for_python.push((
                    file,
                    expected.clone(),
                    format!("{label}, message {}", i + 1),
                ));
            }
            if let Some(stored) = run.messages.first() {
                text.push_str("\n######## the message as stored (first flow) ########\n");
                text.push_str(&elide(&stored.raw));
            }
            text.push_str("\n######## fake-smtp's checks ########\n");
            let on_purpose: BTreeSet<&str> = reports
                .iter()
                .flat_map(|r| r.problems())
                .filter(|r| shape.breaks.contains(&r.id))
                .map(|r| r.id)
                .collect();
            if problems.is_empty() && on_purpose.is_empty() {
                text.push_str("no check failed or warned\n");
            }
            for id in on_purpose {
                text.push_str(&format!("{id}: broken on purpose by this shape\n"));
            }
            insta::with_settings!({
                snapshot_path => snapshot_dir(),
                prepend_module_to_snapshot => false,
                description => format!("message shape {} through submission and relay, scenario {scenario}", shape.name),
                omit_expression => true,
            }, {
                insta::assert_snapshot!(snapshot_name(scenario, shape.name), redact(&text));
            });
        }
    }
    let files: Vec<PathBuf> = for_python.iter().map(|(f, _, _)| f.clone()).collect();
    let read = roundtrip::by_python(&files, &work.join("payloads"));
    assert_eq!(read.len(), for_python.len(), "one result per message");
    for ((_, expected, label), seen) in for_python.iter().zip(&read) {
        for difference in roundtrip::differences(expected, seen) {
            failures.push(format!("{label}: Python's email: {difference}"));
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Fails on a snapshot whose scenario or shape is no longer in the suite.
#[test]
fn no_snapshot_without_a_shape() {
    let expected: BTreeSet<String> = SCENARIOS
        .iter()
        .flat_map(|scenario| SHAPES.iter().map(|s| snapshot_name(scenario, s.name)))
        .collect();
    let stale = common::stale_snapshots(&snapshot_dir(), &expected);
    assert!(
        stale.is_empty(),
        "snapshots without a shape or scenario (delete them): {stale:?}"
    );
}
