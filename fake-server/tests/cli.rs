//! The `fake-smtp` command as a black box: JSON events, exit codes, signals, the store.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn fake_smtp(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fake-smtp"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-smtp")
}

fn next_event(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> serde_json::Value {
    let line = lines.next().expect("an event line").expect("read stdout");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
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
    let mut child = fake_smtp(&[
        "serve",
        "--smtp",
        "127.0.0.1:0",
        "--json",
        "--store",
        dir.to_str().expect("utf-8 path"),
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address: SocketAddr = next_event(&mut lines)["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("socket address");
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
