//! The `fake-smtp` command as a black box: JSON events, exit codes, signals, the store.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs fake-smtp; `serve` gets no submission or smtps listener unless the test asks (their
/// default ports would clash between tests), and a CA directory of its own.
fn fake_smtp(args: &[&str]) -> Child {
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"serve") && !args.contains(&"--submission") {
        args.extend(["--submission", "off", "--smtps", "off"]);
    }
    let data_dir = std::env::temp_dir().join(format!("fake-smtp-cli-ca-{}", std::process::id()));
    Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .args(&args)
        .env("FAKE_SMTP_DATA_DIR", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-smtp")
}

fn next_event(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> serde_json::Value {
    let line = lines.next().expect("an event line").expect("read stdout");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// The address of the next event, which must be a `listening` event.
fn listening_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> SocketAddr {
    let event = next_event(lines);
    assert_eq!(event["event"], "listening", "{event}");
    event["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("socket address")
}

type EventLines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// `fake-smtp serve` on a free port, JSON events on, the log quiet, plus `extra` arguments:
/// the child, its event lines after the `listening` event, and the address it gave.
fn serve_json(extra: &[&str]) -> (Child, EventLines, SocketAddr) {
    let mut args = vec!["serve", "--smtp", "127.0.0.1:0", "--json", "--quiet"];
    args.extend_from_slice(extra);
    let mut child = fake_smtp(&args);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address = listening_address(&mut lines);
    (child, lines, address)
}

fn send_one(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"EHLO cli\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: via cli\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        .expect("write");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stream, &mut output).expect("read");
    output
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn json_events_and_a_clean_exit_on_sigterm() {
    let mut child = fake_smtp(&["serve", "--smtp", "127.0.0.1:0", "--json", "--quiet"]);
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let listening = next_event(&mut lines);
    assert_eq!(listening["event"], "listening");
    assert_eq!(listening["listener"], "smtp");
    let address: SocketAddr = listening["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("socket address");
    assert_ne!(address.port(), 0);

    let output = send_one(address);
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    let message = next_event(&mut lines);
    assert_eq!(message["event"], "message");
    assert_eq!(message["subject"], "via cli");
    assert_eq!(message["rcpt_to"], serde_json::json!(["<b@example.org>"]));
    let session = next_event(&mut lines);
    assert_eq!(session["event"], "session");
    assert_eq!(session["close_reason"], "quit");
    assert_eq!(session["messages"][0], message["id"]);

    terminate(&child);
    let stopping = next_event(&mut lines);
    assert_eq!(stopping["event"], "shutting-down");
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serves_with_each_runtime_setting() {
    // The default is one thread with adaptive idle spinning; each variant must serve alike.
    for extra in [
        &["--idle-spin-us", "0"][..],
        &["--idle-spin-us", "500"],
        &["--threads", "2"],
        &["--checks", "off"],
    ] {
        let (mut child, _events, address) = serve_json(extra);
        for _ in 0..3 {
            let output = send_one(address);
            assert!(
                output.contains("250 2.0.0 OK queued as"),
                "{extra:?}: {output}"
            );
        }
        terminate(&child);
        assert_eq!(child.wait().expect("exit").code(), Some(0), "{extra:?}");
    }
}

/// The EHLO reply of the listener at `address`.
fn ehlo_reply(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(b"EHLO cli\r\nQUIT\r\n").expect("write");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stream, &mut output).expect("read");
    output
}

/// Issue 9, item 16: the sink's plain port offered STARTTLS, so clients that upgrade whenever
/// it is offered (nodemailer, aiosmtplib, PHPMailer, Go's net/smtp at their defaults) failed to
/// verify the local CA and sent nothing. It is plain unless asked.
#[test]
fn the_plain_listener_offers_no_starttls_unless_asked() {
    let (mut child, _events, address) = serve_json(&[]);
    let plain = ehlo_reply(address);
    assert!(plain.contains("250-PIPELINING"), "{plain}");
    assert!(!plain.contains("STARTTLS"), "{plain}");
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));

    let (mut child, _events, address) = serve_json(&["--smtp-starttls"]);
    let asked = ehlo_reply(address);
    assert!(asked.contains("250-STARTTLS"), "{asked}");
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
}

#[test]
fn a_port_in_use_exits_2_with_one_clear_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("addr").to_string();
    let child = fake_smtp(&["serve", "--smtp", &address]);
    let output = child.wait_with_output().expect("exit");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("fake-smtp: cannot listen on {address} (smtp): ")),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["serve", "--smtp", "not-an-address"][..],
        &["serve", "--command-timeout", "5 parsecs"],
        &["serve", "--max-recipients", "10"],
        &["frobnicate"],
    ] {
        let output = fake_smtp(args).wait_with_output().expect("exit");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty());
    }
}

#[test]
fn store_writes_maildir_files() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut child, mut lines, address) =
        serve_json(&["--store", dir.to_str().expect("utf-8 path")]);
    send_one(address);
    let message = next_event(&mut lines);
    let path = message["path"]
        .as_str()
        .expect("a path with --store")
        .to_owned();
    assert!(path.starts_with(dir.join("new").to_str().expect("utf-8")));
    let content = std::fs::read_to_string(&path).expect("the message file");
    assert!(content.contains("Subject: via cli"));
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(args: &[&str]) -> std::process::Output {
    fake_smtp(args).wait_with_output().expect("exit")
}

#[test]
fn check_reports_each_file_and_exits_2_on_a_mistake() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "name: bad\non:\n  mail:\n    - reply: \"hello\"\n").expect("write");
    let good = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/providers/qq/quit-garbage.yaml"
    );
    let output = run(&[
        "check",
        good,
        bad.to_str().expect("utf-8"),
        "providers/gmail/base",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("ok ") && stdout.contains("quit-garbage.yaml (providers/qq/quit-garbage)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok providers/gmail/base (providers/gmail/base)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("bad.yaml:4:14: on.mail[0].reply: reply line 1 \"hello\""),
        "{stderr}"
    );
    let output = run(&["check", good]);
    assert_eq!(output.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scenarios_lists_every_built_in_one_per_line() {
    let output = run(&["scenarios"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().count(),
        fake_server::scenario::builtin::BUILTIN.len()
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("providers/qq/quit-garbage ") && l.contains("00 00 00 1A")),
        "{stdout}"
    );
}

#[test]
fn serve_plays_a_built_in_scenario_by_name() {
    let (mut child, _events, address) = serve_json(&["--scenario", "providers/qq/quit-garbage"]);
    let output = send_one(address);
    assert!(
        output
            .starts_with("220 newxmesmtplogicsvrszgpua5-0.qq.com XMail Esmtp QQ Mail Server.\r\n"),
        "{output:?}"
    );
    assert!(
        output.ends_with("250 OK: queued as.\r\n\0\0\0\x1a\0\0\0"),
        "{output:?}"
    );
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
}

#[test]
fn serve_refuses_a_bad_scenario_before_listening() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("typo.yaml");
    std::fs::write(&bad, "on:\n  quitt:\n    - reply: \"221 bye\"\n").expect("write");
    let output = run(&[
        "serve",
        "--smtp",
        "127.0.0.1:0",
        "--json",
        "--scenario",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing may listen");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("typo.yaml:2:3: on: unknown field `quitt`"),
        "{stderr}"
    );
    let output = run(&["serve", "--scenario", "nowhere=behaviours/greeting-554"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no listener called \"nowhere\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn different_listeners_play_different_scenarios() {
    let (mut child, _events, address) = serve_json(&["--scenario", "behaviours/greeting-554"]);
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(b"QUIT\r\n").expect("write");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stream, &mut output).expect("read");
    assert!(
        output.starts_with("554 localhost No SMTP service here"),
        "{output}"
    );
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
}

#[test]
fn default_listeners_and_ca_out() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-caout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_out = dir.join("ca.pem");
    let mut child = fake_smtp(&[
        "serve",
        "--smtp",
        "127.0.0.1:0",
        "--submission",
        "127.0.0.1:0",
        "--smtps",
        "127.0.0.1:0",
        "--json",
        "--quiet",
        "--data-dir",
        dir.join("data").to_str().expect("utf-8"),
        "--ca-out",
        ca_out.to_str().expect("utf-8"),
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let names: Vec<String> = (0..3)
        .map(|_| {
            next_event(&mut lines)["listener"]
                .as_str()
                .expect("name")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["smtp", "submission", "smtps"]);
    // --ca-out is written once the server has started; wait for it briefly.
    for _ in 0..100 {
        if ca_out.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let written = std::fs::read_to_string(&ca_out).expect("--ca-out file");
    let kept =
        std::fs::read_to_string(dir.join("data").join("ca.pem")).expect("CA in the data dir");
    assert_eq!(written, kept);
    assert!(written.starts_with("-----BEGIN CERTIFICATE-----"));
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 5: `serve` writes the run reports at shutdown, and with `--fail-on` its exit
/// status says whether a client failed a check (README's "exit 1: the run found problems").
#[test]
fn serve_reports_at_shutdown_and_fails_on_a_failed_check() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-serve-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let report = dir.join("report.json");
    let junit = dir.join("junit.xml");
    let html = dir.join("report.html");
    let (mut child, _events, address) = serve_json(&[
        "--report",
        report.to_str().expect("utf-8"),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
        "--fail-on",
        "must",
    ]);
    // send_one's message has no Date: C-5322-DATE-PRESENT fails.
    let output = send_one(address);
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    std::thread::sleep(Duration::from_millis(200));
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(1));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(
        json["runs"][0]["sessions"].as_array().map(Vec::len),
        Some(1)
    );
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.contains("name=\"C-5322-DATE-PRESENT\""), "{xml}");
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("C-5322-DATE-PRESENT"));
    // Without --fail-on the exit status stays 0, whatever the clients did.
    let (mut child, _events, address) = serve_json(&[]);
    send_one(address);
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}
