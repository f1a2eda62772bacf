//! `fake-smtp run -- CMD` as a CI job uses it: a real client (Python's smtplib) run against
//! the server on free ports, the verdict as the exit status, and the reports read by their
//! real consumers (jsonschema for the JSON report, junitparser for the JUnit XML).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::script;

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("fake-smtp-run-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `fake-smtp run ARGS`, to its end.
fn fake_smtp_run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .arg("run")
        .arg("--quiet")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run fake-smtp")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn schema() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/report.schema.json").to_owned()
}

/// The reports read by jsonschema and junitparser.
fn consumed(report: &Path, junit: &Path) -> serde_json::Value {
    let output = common::run_client(
        "python3",
        &[
            &script("check_reports.py"),
            &schema(),
            report.to_str().expect("utf-8"),
            junit.to_str().expect("utf-8"),
        ],
        None,
    );
    serde_json::from_str(common::assert_success(&output).trim()).expect("json")
}

#[test]
fn a_careful_client_passes_and_the_reports_read_back() {
    let dir = temp_dir("careful");
    let (report, junit) = (dir.join("report.json"), dir.join("junit.xml"));
    let output = fake_smtp_run(&[
        "--report",
        report.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--expect",
        "messages=1",
        "--expect",
        "header=Subject:^hello from run$",
        "--",
        "python3",
        &script("run_client.py"),
        "careful",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("[client] sent"), "{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    let found = consumed(&report, &junit);
    assert_eq!(found["verdict"], "pass", "{found}");
    assert_eq!(found["failed"], serde_json::json!([]), "{found}");
    // One testcase per check of the session, the client and the two expectations.
    assert!(found["cases"].as_u64().unwrap_or(0) > 200, "{found}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_that_breaks_a_must_fails_the_run_with_its_evidence() {
    let dir = temp_dir("no-date");
    let (report, junit) = (dir.join("report.json"), dir.join("junit.xml"));
    let output = fake_smtp_run(&[
        "--report",
        report.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--",
        "python3",
        &script("run_client.py"),
        "no-date",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("FAIL C-5322-DATE-PRESENT (must; docs/checks.md#C-5322-DATE-PRESENT)"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: FAIL"), "{stdout}");
    let found = consumed(&report, &junit);
    assert_eq!(found["verdict"], "fail");
    assert_eq!(
        found["failed"],
        serde_json::json!(["C-5322-DATE-PRESENT"]),
        "{found}"
    );
    // With --fail-on should, the missing Message-ID (a SHOULD) fails it too.
    let output = fake_smtp_run(&[
        "--fail-on",
        "should",
        "--report",
        report.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--",
        "python3",
        &script("run_client.py"),
        "no-date",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let found = consumed(&report, &junit);
    assert_eq!(
        found["failed"],
        serde_json::json!(["C-5322-DATE-PRESENT", "C-5322-MESSAGE-ID"]),
        "{found}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_exit_code_expectation_catches_a_client_that_misreports() {
    let output = fake_smtp_run(&[
        "--expect",
        "exit-code=zero",
        "--",
        "python3",
        &script("run_client.py"),
        "fail-after",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("expect exit-code = zero: fail (exit code 1)"),
        "{stdout}"
    );
}

#[test]
fn a_command_that_does_not_exist_exits_2_with_one_line() {
    let output = fake_smtp_run(&["--", "no-such-client-program-here"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "fake-smtp: no-such-client-program-here: command not found"
    );
}

#[test]
fn a_client_that_never_connects_fails_with_no_session() {
    let output = fake_smtp_run(&["--", "true"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .contains("expect the client connects: fail (no session: the client never connected)"),
        "{stdout}"
    );
    // Unless no message was expected.
    let output = fake_smtp_run(&["--expect", "messages=0", "--", "true"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn a_client_that_hangs_is_killed_with_its_process_group_and_the_report_is_written() {
    let dir = temp_dir("hang");
    let report = dir.join("report.json");
    let marker = dir.join("still-running");
    // A shell that leaves a child behind: the child must die with the group.
    let client = format!("sleep 30 & sleep 30; touch {}", marker.display());
    let started = std::time::Instant::now();
    let output = fake_smtp_run(&[
        "--timeout",
        "1s",
        "--report",
        report.to_str().expect("utf-8"),
        "--",
        "sh",
        "-c",
        &client,
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("killed at the timeout"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(json["runs"][0]["client"]["timed_out"], true);
    assert_eq!(json["verdict"], "fail");
    let leftover = Command::new("pgrep")
        .args(["-f", &client])
        .output()
        .expect("pgrep");
    assert!(leftover.stdout.is_empty(), "the client's group was killed");
    assert!(!marker.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_report_that_cannot_be_written_stops_before_the_client_runs() {
    let dir = temp_dir("unwritable");
    let marker = dir.join("ran");
    let output = fake_smtp_run(&[
        "--report",
        "/proc/no-such-dir/report.json",
        "--",
        "touch",
        marker.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("cannot write the report /proc/no-such-dir/report.json"));
    assert!(!marker.exists(), "the client did not run");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_the_client_and_writes_the_report_for_what_ran() {
    let dir = temp_dir("interrupt");
    let report = dir.join("report.json");
    let child = Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .args([
            "run",
            "--quiet",
            "--report",
            report.to_str().expect("utf-8"),
            "--",
            "sleep",
            "37",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fake-smtp");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("exit");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("interrupted; reports written for 1 run(s)"),
        "{}",
        text(&output)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(json["runs"].as_array().map(Vec::len), Some(1));
    let leftover = Command::new("pgrep")
        .args(["-x", "-f", "sleep 37"])
        .output()
        .expect("pgrep");
    assert!(leftover.stdout.is_empty(), "the client was stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
