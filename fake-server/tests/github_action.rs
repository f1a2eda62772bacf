//! The GitHub Action in ci/github-action, run the way the runner runs it as far as one machine
//! allows: node runs main.js and post.js with the inputs as INPUT_* variables, and
//! GITHUB_OUTPUT, GITHUB_ENV and RUNNER_TEMP as files and a folder of the test's. A real
//! client (Python's smtplib) then uses what the action exported: the plain port, and the
//! submission port with STARTTLS verified against the exported CA file.

mod common;

use common::repo_root;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

fn action_dir() -> PathBuf {
    repo_root().join("ci/github-action")
}

/// A runner's view of one job: its temp folder and the files steps write to.
struct Job {
    dir: PathBuf,
}

impl Job {
    fn new(name: &str) -> Job {
        let dir =
            std::env::temp_dir().join(format!("fake-smtp-action-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("job folder");
        Job { dir }
    }

    /// Runs one of the action's node scripts with `inputs` (name, value).
    fn node(&self, script: &str, inputs: &[(&str, &str)]) -> Output {
        let mut command = Command::new("node");
        command
            .arg(action_dir().join(script))
            .env("RUNNER_TEMP", &self.dir)
            .env("GITHUB_OUTPUT", self.dir.join("output"))
            .env("GITHUB_ENV", self.dir.join("env"))
            .env("INPUT_BINARY", env!("CARGO_BIN_EXE_fake-smtp"));
        for (name, value) in inputs {
            command.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        command
            .output()
            .expect("node must be installed (ci/setup.sh)")
    }

    /// KEY=VALUE lines a step wrote to one of the runner's files.
    fn written(&self, file: &str) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn state(&self) -> PathBuf {
        self.dir.join("fake-smtp-action")
    }

    /// Removes the job's folder (kept when an assertion fails, to look at).
    fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends one message with smtplib: `mode` is "plain" (SMTP_PORT) or "starttls"
/// (SMTP_SUBMISSION_PORT, the certificate checked against SMTP_CA_FILE, then AUTH); `dated` chooses
/// whether the message has the Date and Message-ID fields RFC 5322 wants.
fn send(env: &BTreeMap<String, String>, mode: &str, dated: bool) {
    let program = r#"
import os, smtplib, ssl, sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
mode, dated = sys.argv[1], sys.argv[2] == "1"
msg = EmailMessage()
msg["From"] = "app@example.com"
msg["To"] = "user@example.org"
msg["Subject"] = "from a CI job"
if dated:
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain="example.com")
msg.set_content("hello\n")
host = os.environ["SMTP_HOST"]
if mode == "plain":
    with smtplib.SMTP(host, int(os.environ["SMTP_PORT"])) as s:
        s.send_message(msg)
else:
    context = ssl.create_default_context(cafile=os.environ["SMTP_CA_FILE"])
    with smtplib.SMTP("localhost", int(os.environ["SMTP_SUBMISSION_PORT"])) as s:
        s.starttls(context=context)
        s.login("app", "app-password")  # submission wants AUTH; any user is accepted
        s.send_message(msg)
"#;
    let output = Command::new("python3")
        .args(["-c", program, mode, if dated { "1" } else { "0" }])
        .envs(env)
        .output()
        .expect("python3");
    assert!(output.status.success(), "smtplib ({mode}): {output:?}");
}

#[test]
fn the_action_declares_every_input_its_scripts_read() {
    let text = std::fs::read_to_string(action_dir().join("action.yml")).expect("action.yml");
    let action: serde_yaml::Value = serde_yaml::from_str(&text).expect("action.yml is YAML");
    let runs = &action["runs"];
    assert_eq!(runs["using"].as_str(), Some("node20"));
    assert_eq!(runs["post-if"].as_str(), Some("always()"));
    for key in ["main", "post"] {
        let script = runs[key].as_str().expect("script name");
        assert!(action_dir().join(script).is_file(), "{script} is missing");
    }
    let declared: Vec<String> = action["inputs"]
        .as_mapping()
        .expect("inputs")
        .keys()
        .filter_map(|k| k.as_str())
        .map(|k| format!("INPUT_{}", k.to_uppercase()))
        .collect();
    for script in ["start.sh", "stop.sh", "main.js", "post.js"] {
        let source = std::fs::read_to_string(action_dir().join(script)).expect("script");
        for (at, _) in source.match_indices("INPUT_") {
            let name: String = source[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            if name == "INPUT_" {
                continue;
            }
            assert!(
                declared.contains(&name),
                "{script} reads {name}, not an input"
            );
        }
    }
}

#[test]
fn the_action_starts_the_server_for_the_job_and_stops_it_with_reports() {
    let job = Job::new("ok");
    let started = job.node("main.js", &[("fail_on", "must")]);
    assert!(started.status.success(), "main.js: {started:?}");
    let outputs = job.written("output");
    let env = job.written("env");
    for key in [
        "smtp-port",
        "submission-port",
        "smtps-port",
        "ca-file",
        "junit",
    ] {
        assert!(outputs.contains_key(key), "no output {key}: {outputs:?}");
    }
    assert_eq!(env.get("SMTP_HOST").map(String::as_str), Some("127.0.0.1"));
    assert_eq!(env.get("SMTP_PORT"), outputs.get("smtp-port"));

    // The job's later steps: a client on the plain port and one with verified STARTTLS.
    send(&env, "plain", true);
    send(&env, "starttls", true);

    // `stop: true` stops it now, the reports written; the post step then has nothing to do.
    let stopped = job.node("main.js", &[("stop", "true"), ("fail_on", "must")]);
    assert!(stopped.status.success(), "stop: {stopped:?}");
    let junit = std::fs::read_to_string(job.state().join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuite"), "{junit}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(job.state().join("report.json")).expect("report.json"),
    )
    .expect("JSON report");
    assert_eq!(report["verdict"], "pass", "{report}");
    let stored = std::fs::read_dir(job.state().join("mail/new"))
        .expect("the Maildir")
        .count();
    assert_eq!(stored, 2);
    let post = job.node("post.js", &[]);
    assert!(post.status.success(), "post.js: {post:?}");
    assert!(String::from_utf8_lossy(&post.stdout).contains("nothing to stop"));
    job.remove();
}

#[test]
fn the_post_step_stops_the_server_and_fails_the_job_when_a_client_failed() {
    let job = Job::new("fail");
    let started = job.node("main.js", &[("fail_on", "must")]);
    assert!(started.status.success(), "main.js: {started:?}");
    // No Date field: C-5322-DATE-PRESENT fails (a MUST).
    send(&job.written("env"), "plain", false);
    let post = job.node("post.js", &[("fail_on", "must")]);
    assert_eq!(post.status.code(), Some(1), "post.js: {post:?}");
    assert!(
        String::from_utf8_lossy(&post.stdout).contains("exit status 1"),
        "{post:?}"
    );
    assert!(job.state().join("report.html").is_file());
    job.remove();
}
