//! The `fake-smtp` command as a black box: JSON events, exit codes, signals, the store.

mod common;

use common::Spawned;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs fake-smtp; `serve` gets no submission or smtps listener and no web sink unless the
/// test asks (their default ports would clash between tests), and a CA directory of its own.
fn fake_smtp(args: &[&str]) -> Spawned {
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"serve") && !args.contains(&"--submission") {
        args.extend(["--submission", "off", "--smtps", "off"]);
    }
    if args.first() == Some(&"serve") && !args.contains(&"--http") {
        args.extend(["--http", "off"]);
    }
    fake_smtp_with_env(&args, &[])
}

/// [`fake_smtp`]'s command with `env` set, and no other `FAKE_SMTP_*` variable from the
/// environment the tests run in (every option can be set that way).
fn fake_smtp_with_env(args: &[&str], env: &[(&str, &str)]) -> Spawned {
    // Under target/ (Cargo's scratch folder for integration tests), shared by every run: a
    // folder per process in the system's temp folder was left behind by each run.
    let data_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-data-dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-smtp"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("FAKE_SMTP_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .env("FAKE_SMTP_DATA_DIR", data_dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|child| Spawned(Some(child)))
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
fn serve_json(extra: &[&str]) -> (Spawned, EventLines, SocketAddr) {
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

/// Checks and announcements run on a thread of their own in the idle scheduling class
/// (`SCHED_IDLE`, policy 5 in proc(5)'s `stat`), so that they never take CPU time from a
/// session or from the client under test; the session thread stays in the normal class.
#[test]
fn the_after_reply_thread_runs_at_idle_priority() {
    let (mut child, mut events, address) = serve_json(&["--http", "off"]);
    assert!(send_one(address).contains("250 2.0.0 OK queued as"));
    // Its message event comes from that thread, judged.
    let message = next_event(&mut events);
    assert_eq!(message["event"], "message", "{message}");
    assert!(message["checks"]["pass"].as_u64() > Some(0), "{message}");
    let tasks = std::path::PathBuf::from(format!("/proc/{}/task", child.id()));
    let mut policies = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(&tasks).expect("/proc/PID/task") {
        let task = task.expect("task").path();
        let name = std::fs::read_to_string(task.join("comm")).expect("comm");
        let stat = std::fs::read_to_string(task.join("stat")).expect("stat");
        // Fields after the command name (in parentheses): `policy` is field 41 of stat.
        let after_name = stat.rsplit_once(") ").expect("stat format").1;
        let policy: u32 = after_name
            .split(' ')
            .nth(41 - 3)
            .and_then(|f| f.parse().ok())
            .expect("policy field");
        policies.insert(name.trim().to_owned(), policy);
    }
    assert_eq!(policies.get("after-reply"), Some(&5), "{policies:?}");
    assert_eq!(policies.get("fake-smtp"), Some(&0), "{policies:?}");
    terminate(&child);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
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
    // The octets as received, beside it (CRLF kept, no envelope header added).
    let raw_path = message["raw_path"].as_str().expect("raw_path with --store");
    assert!(raw_path.starts_with(dir.join("raw").to_str().expect("utf-8")));
    let raw = std::fs::read(raw_path).expect("the raw file");
    assert!(raw.starts_with(b"Subject: via cli\r\n"), "{raw:?}");
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

/// Issue 9, item 21: `--smtp off` turns the plain listener off, as README's table says `off`
/// does for any listener; with every listener off there is nothing to serve (exit 2).
#[test]
fn smtp_off_leaves_only_the_other_listeners() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-smtp-off-{}", std::process::id()));
    let mut child = fake_smtp(&[
        "serve",
        "--smtp",
        "off",
        "--submission",
        "127.0.0.1:0",
        "--smtps",
        "off",
        "--json",
        "--quiet",
        "--data-dir",
        dir.to_str().expect("utf-8"),
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = next_event(&mut lines);
    assert_eq!(first["event"], "listening", "{first}");
    assert_eq!(first["listener"], "submission", "{first}");
    // It serves: a greeting on the submission port.
    let address: SocketAddr = first["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("addr");
    let mut stream = TcpStream::connect(address).expect("connect");
    let mut greeting = [0u8; 4];
    std::io::Read::read_exact(&mut stream, &mut greeting).expect("greeting");
    assert_eq!(&greeting, b"220 ");
    drop(stream);
    terminate(&child);
    let _ = child.wait();
    // No other listener came up.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().all(|line| !line.contains("\"listening\"")),
        "{rest:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let all_off = fake_smtp(&["serve", "--smtp", "off"])
        .wait_with_output()
        .expect("exit");
    assert_eq!(all_off.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&all_off.stderr);
    assert!(stderr.contains("every listener is off"), "{stderr}");
}

/// fake-smtp with this HOME (or none) and no data directory variables.
fn fake_smtp_with_home(
    home: Option<&std::path::Path>,
    data_dir: Option<&std::path::Path>,
    args: &[&str],
) -> Spawned {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fake-smtp"));
    command
        .args(args)
        .env_remove("FAKE_SMTP_DATA_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(home) = home {
        command.env("HOME", home);
    }
    if let Some(data_dir) = data_dir {
        command.env("FAKE_SMTP_DATA_DIR", data_dir);
    }
    Spawned(Some(command.spawn().expect("start fake-smtp")))
}

/// Issue 9, item 22: with no usable data directory (HOME unset; HOME that cannot hold
/// directories, as a read-only one for user `nobody`), every listener still starts: TLS uses
/// a CA in memory, one warning names --data-dir and FAKE_SMTP_DATA_DIR, and --ca-out still
/// writes the CA's certificate.
#[test]
fn no_writable_data_dir_still_serves_with_a_ca_in_memory() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-nohome-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // A file as HOME: `$HOME/.local/share/fake-smtp` cannot be made, even by root (tests may
    // run as root, for whom a read-only directory is writable).
    let file_home = dir.join("home-is-a-file");
    std::fs::write(&file_home, b"").expect("file");
    // The third case is the container image's: FAKE_SMTP_DATA_DIR names a folder that cannot
    // be made (its /data not writable by its user); it is a default, not --data-dir.
    let under_a_file = file_home.join("ca");
    for (home, data_dir) in [
        (None, None),
        (Some(file_home.as_path()), None),
        (None, Some(under_a_file.as_path())),
    ] {
        let ca_out = dir.join("ca.pem");
        let _ = std::fs::remove_file(&ca_out);
        let mut child = fake_smtp_with_home(
            home,
            data_dir,
            &[
                "serve",
                "--smtp",
                "127.0.0.1:0",
                "--submission",
                "127.0.0.1:0",
                "--smtps",
                "127.0.0.1:0",
                "--json",
                "--ca-out",
                ca_out.to_str().expect("utf-8"),
            ],
        );
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let plain = listening_address(&mut lines);
        let _submission = listening_address(&mut lines);
        let _smtps = listening_address(&mut lines);
        let output = send_one(plain);
        assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
        for _ in 0..100 {
            if ca_out.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let pem = std::fs::read_to_string(&ca_out).expect("--ca-out written");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        terminate(&child);
        let result = child.wait_with_output().expect("exit");
        assert_eq!(result.status.code(), Some(0), "HOME {home:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        let warnings: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("CA in memory"))
            .collect();
        assert_eq!(warnings.len(), 1, "HOME {home:?}: {stderr}");
        for needle in [
            "WARN",
            "--data-dir",
            "FAKE_SMTP_DATA_DIR",
            "cannot trust",
            "--ca-out",
        ] {
            assert!(warnings[0].contains(needle), "{needle}: {stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 9, item 23: every JSON event has its time (RFC 3339, UTC, milliseconds), and the
/// message event keeps To and Cc apart (and the envelope recipients in `rcpt_to`).
#[test]
fn json_events_carry_their_time_and_keep_to_and_cc_apart() {
    let (child, mut lines, address) = serve_json(&[]);
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(
            b"EHLO cli\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n\
RCPT TO:<c@example.org>\r\nRCPT TO:<hidden@example.org>\r\nDATA\r\n\
From: a@example.com\r\nTo: b@example.org\r\nCc: C <c@example.org>\r\nSubject: to and cc\r\n\r\nhi\r\n.\r\nQUIT\r\n",
        )
        .expect("write");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut stream, &mut output).expect("read");
    let message = next_event(&mut lines);
    assert_eq!(message["event"], "message");
    assert_eq!(message["to"], serde_json::json!(["b@example.org"]));
    assert_eq!(message["cc"], serde_json::json!(["c@example.org"]));
    assert_eq!(
        message["rcpt_to"],
        serde_json::json!(["<b@example.org>", "<c@example.org>", "<hidden@example.org>"])
    );
    let session = next_event(&mut lines);
    assert_eq!(session["event"], "session");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    for event in [&message, &session] {
        let time = event["time"].as_str().unwrap_or_else(|| panic!("{event}"));
        // 2026-11-30T06:41:26.123Z
        assert_eq!(time.len(), 24, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
        assert_eq!(&time[19..20], ".", "{time}");
        // The same second as `date -u`, give or take the test's own time.
        let shown = Command::new("date")
            .args(["-u", "-d", time, "+%s"])
            .output()
            .expect("date");
        let seconds: u64 = String::from_utf8_lossy(&shown.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("date cannot read {time}"));
        assert!(seconds.abs_diff(now) < 60, "{time} is not now");
    }
    terminate(&child);
    let _ = child_wait(child);
}

fn child_wait(mut child: Spawned) -> Option<i32> {
    child.wait().ok().and_then(|s| s.code())
}

#[test]
fn check_warns_about_settings_that_cannot_take_effect_and_exits_0() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("keep-open.yaml");
    std::fs::write(
        &file,
        "name: keep-open\non:\n  mail:\n    - reply: \"450 busy\"\n      then: keep-open\n",
    )
    .expect("write");
    let output = run(&["check", file.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ok "),
        "{output:?}"
    );
    assert!(
        stderr.contains("warning:") && stderr.contains("[keep-open-without-421]"),
        "{stderr}"
    );
    // A built-in scenario loads without a warning.
    let output = run(&["check", "providers/gmail/base"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "{output:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn max_memory_drops_the_oldest_messages_and_says_so() {
    // Each message below holds about 46 KiB with its check results and its session record
    // about 20 KiB: 100 KiB keeps a little more than one of each.
    let (mut child, mut lines, address) = serve_json(&["--max-memory", "100KiB"]);
    let body = "x".repeat(76);
    let content: String = (0..512).map(|_| format!("{body}\r\n")).collect();
    let mut ids = Vec::new();
    let mut evicted = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let session = format!(
            "EHLO cli\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n\
             Subject: big\r\n\r\n{content}.\r\nQUIT\r\n"
        );
        stream.write_all(session.as_bytes()).expect("write");
        let mut output = String::new();
        std::io::Read::read_to_string(&mut stream, &mut output).expect("read");
        assert!(output.contains("250 2.0.0"), "{output}");
        // Events up to this session's end: its message, maybe an eviction, the session.
        loop {
            let event = next_event(&mut lines);
            match event["event"].as_str() {
                Some("message") => ids.push(event["id"].as_str().expect("id").to_owned()),
                Some("evicted") => evicted.extend(
                    event["messages"]
                        .as_array()
                        .expect("messages")
                        .iter()
                        .map(|id| id.as_str().expect("id").to_owned()),
                ),
                Some("session") => break,
                _ => {}
            }
        }
    }
    terminate(&child);
    assert!(child.wait().expect("exit").success());
    assert!(!evicted.is_empty(), "nothing evicted: {ids:?}");
    // The oldest go first, and the newest is kept.
    assert_eq!(evicted, ids[..evicted.len()], "{ids:?}");
    assert!(!evicted.contains(&ids[3]), "{evicted:?}");
}

#[test]
fn max_memory_takes_units_and_refuses_nonsense() {
    for bad in ["0", "12XB", "lots", "99999999999999999999GiB"] {
        let output = run(&["serve", "--smtp", "127.0.0.1:0", "--max-memory", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}: {output:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--max-memory"),
            "{bad}: {output:?}"
        );
    }
}

/// `fake-smtp serve` with the human log on stderr; returns the first log line that contains
/// `needle` (or everything read, if none did within 20 s), then stops the server.
fn serve_log_line(extra: &[&str], needle: &str) -> String {
    let mut args = vec!["serve", "--smtp", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = fake_smtp(&args);
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    let needle = needle.to_owned();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains(&needle) {
                let _ = sender.send(Ok(line));
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let _ = sender.send(Err(seen));
    });
    let result = receiver.recv_timeout(Duration::from_secs(20));
    terminate(&child);
    let _ = child.wait();
    match result {
        Ok(Ok(line)) => line,
        Ok(Err(seen)) => panic!("no log line with the needle; stderr:\n{seen}"),
        Err(_) => panic!("no log line with the needle within 20 s"),
    }
}

/// Issue 9, item 17: without --store, mail is only in memory and nothing else can read it;
/// the start-up log must say so, how much is kept, and how to keep files.
#[test]
fn serve_says_at_start_where_mail_goes() {
    let line = serve_log_line(&["--max-messages", "250"], "mail is");
    assert!(line.contains("kept in memory only"), "{line}");
    assert!(
        line.contains("the last 250 messages, at most 256 MiB"),
        "{line}"
    );
    assert!(line.contains("--store DIR to keep files"), "{line}");

    let dir = std::env::temp_dir().join(format!("fake-smtp-cli-where-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_str().expect("utf-8 path");
    let line = serve_log_line(&["--store", dir_text], "mail is");
    assert!(
        line.contains(&format!("mail is stored in {dir_text}")),
        "{line}"
    );
    for layout in ["/new/", "/raw/<id>.eml", "/sessions/", "s-nail -f"] {
        assert!(line.contains(layout), "{layout}: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads the greeting of the server at `address`.
fn greeting(address: SocketAddr) -> String {
    let stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("greeting");
    line
}

#[test]
fn every_option_can_come_from_the_environment_and_a_flag_beats_it() {
    let env = [
        ("FAKE_SMTP_SMTP", "127.0.0.1:0,127.0.0.1:0"),
        ("FAKE_SMTP_SUBMISSION", "off"),
        ("FAKE_SMTP_SMTPS", "off"),
        ("FAKE_SMTP_JSON", "true"),
        ("FAKE_SMTP_QUIET", "1"),
        ("FAKE_SMTP_HOSTNAME", "from-env.example"),
    ];
    // Two plain listeners (the comma-separated list), JSON events and the name, all from
    // the environment.
    let mut child = fake_smtp_with_env(&["serve"], &env);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = listening_address(&mut lines);
    let second = listening_address(&mut lines);
    assert_ne!(first, second);
    assert!(
        greeting(first).starts_with("220 from-env.example "),
        "{}",
        greeting(first)
    );
    terminate(&child);
    assert_eq!(child_wait(child), Some(0));

    // A flag on the command line wins over its variable.
    let mut child = fake_smtp_with_env(&["serve", "--hostname", "from-flag.example"], &env);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address = listening_address(&mut lines);
    let line = greeting(address);
    assert!(line.starts_with("220 from-flag.example "), "{line}");
    terminate(&child);
    assert_eq!(child_wait(child), Some(0));
}

#[test]
fn a_bad_value_in_the_environment_exits_2_naming_the_variable() {
    for (name, value) in [
        ("FAKE_SMTP_MAX_MESSAGES", "many"),
        ("FAKE_SMTP_QUIET", "perhaps"),
        ("FAKE_SMTP_CHECKS", "sometimes"),
        ("FAKE_SMTP_COMMAND_TIMEOUT", "5 parsecs"),
    ] {
        let child = fake_smtp_with_env(&["serve", "--smtp", "127.0.0.1:0"], &[(name, value)]);
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}={value}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: environment variable {name}: invalid value '{value}'"
            )),
            "{stderr}"
        );
    }
    // The same value given as the flag is the flag's error, as clap words it.
    let child = fake_smtp_with_env(
        &["serve", "--smtp", "127.0.0.1:0", "--max-messages", "many"],
        &[("FAKE_SMTP_MAX_MESSAGES", "many")],
    );
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: invalid value 'many' for '--max-messages <N>'"),
        "{stderr}"
    );
}

#[test]
fn help_names_each_option_s_variable() {
    for command in ["serve", "run"] {
        let output = run(&[command, "--help"]);
        let help = String::from_utf8_lossy(&output.stdout);
        for variable in [
            "FAKE_SMTP_SCENARIO",
            "FAKE_SMTP_MAX_MESSAGES",
            "FAKE_SMTP_STORE",
            "FAKE_SMTP_CHECKS",
            "FAKE_SMTP_REPORT",
            "FAKE_SMTP_QUIET",
        ] {
            assert!(
                help.contains(&format!("[env: {variable}=]")),
                "{command} --help lacks {variable}"
            );
        }
    }
}

/// Asks bash (a real one) what the `fake-smtp completions bash` script offers for `words`,
/// the last being the word under the cursor.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let current = words.last().copied().unwrap_or_default();
    let previous = words[words.len().saturating_sub(2)];
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _fake__smtp fake-smtp '{current}' '{previous}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let output = Command::new("bash")
        .args(["-c", &program])
        .output()
        .expect("bash must be installed");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_commands_options_and_their_values() {
    let output = run(&["completions", "bash"]);
    assert_eq!(output.status.code(), Some(0));
    let script = std::env::temp_dir().join(format!("fake-smtp-{}.bash", std::process::id()));
    std::fs::write(&script, &output.stdout).expect("write the script");
    assert_eq!(bash_completes(&script, &["fake-smtp", "se"]), ["serve"]);
    // Options of a subcommand (clap-rs/clap#6421 broke these for hyphenated names).
    assert_eq!(
        bash_completes(&script, &["fake-smtp", "serve", "--max-m"]),
        ["--max-message-size", "--max-messages", "--max-memory"]
    );
    assert_eq!(
        bash_completes(&script, &["fake-smtp", "run", "--fail-on", ""]),
        ["must", "should", "may"]
    );
    let _ = std::fs::remove_file(&script);
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let output = run(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains("max-messages"), "{shell}: {text}");
    }
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn manual_pages_render_with_man() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = run(&["manpages", dir.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    for page in [
        "fake-smtp.1",
        "fake-smtp-serve.1",
        "fake-smtp-run.1",
        "fake-smtp-check.1",
    ] {
        assert!(dir.join(page).is_file(), "{page} is missing");
    }
    // man(1) itself renders the serve page: its options and their variables are there.
    let rendered = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("fake-smtp-serve.1"))
        .env("MANWIDTH", "200")
        .output()
        .expect("man must be installed (ci/setup.sh installs man-db)");
    assert!(rendered.status.success(), "{rendered:?}");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("--max-messages"), "{text}");
    assert!(text.contains("FAKE_SMTP_MAX_MESSAGES"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn health_answers_0_for_a_greeting_server_and_1_otherwise() {
    let (child, _lines, address) = serve_json(&[]);
    let output = run(&["health", &address.to_string()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    terminate(&child);
    assert_eq!(child_wait(child), Some(0));

    // A server that refuses service at the greeting is not healthy.
    let (child, _lines, address) = serve_json(&["--scenario", "behaviours/greeting-554"]);
    let output = run(&["health", &address.to_string()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not 220"));
    terminate(&child);
    let _ = child_wait(child);

    // Nothing listening: exit 1, one line.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = free.local_addr().expect("address");
    drop(free);
    let output = run(&["health", &closed.to_string(), "--timeout", "1s"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1);
}
