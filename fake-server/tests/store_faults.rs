//! The Maildir store when the file system fails: full (a small tmpfs) and read-only (a
//! read-only bind mount), each in a mount namespace of its own (`unshare -m`, which needs
//! root, as the real-MTA tests do). Nothing acknowledged is lost and nothing is left in tmp/.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::Spawned;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-smtp-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `setup` then fake-smtp serve --store DIR in a private mount namespace (no web sink:
/// its default port would clash between tests). Killed when the test ends, by a panic too.
fn serve_in_namespace(dir: &Path, setup: &str) -> Spawned {
    let binary = env!("CARGO_BIN_EXE_fake-smtp");
    let dir = dir.display();
    let script = format!(
        "set -e; {setup}; exec {binary} serve --store {dir} --smtp 127.0.0.1:0 \
         --submission off --smtps off --http off --json --quiet"
    );
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env(
            "FAKE_SMTP_DATA_DIR",
            std::env::temp_dir().join("fake-smtp-faults-ca"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|child| Spawned(Some(child)))
        .expect("run unshare (util-linux) as root")
}

fn listening(child: &mut Child) -> SocketAddr {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let event: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("no listening event ({e}): {line:?}"));
    event["address"]
        .as_str()
        .expect("address")
        .parse()
        .expect("socket address")
}

fn send(address: SocketAddr, body_octets: usize) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut input = b"EHLO faults\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: x\r\n\r\n".to_vec();
    let line = [b'x'; 78];
    for _ in 0..body_octets / 80 {
        input.extend_from_slice(&line);
        input.extend_from_slice(b"\r\n");
    }
    input.extend_from_slice(b".\r\nQUIT\r\n");
    stream.write_all(&input).expect("write");
    let mut output = String::new();
    stream.read_to_string(&mut output).expect("read");
    output
}

/// Waits up to 10 s until `dir` holds `count` files.
fn wait_for_files(dir: &Path, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir(dir).map_or(0, |entries| entries.count());
        if found >= count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} holds {found} files after 10 s, not {count}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops the server (its guard kills it and waits).
fn stop(child: Spawned) {
    drop(child);
}

/// Issue 10, items 6 and 7: a full disk answered `451 4.3.0` and left partial files in tmp/.
#[test]
fn a_full_disk_answers_452_and_leaves_nothing_in_tmp() {
    let dir = temp_dir("full");
    let mut child = serve_in_namespace(
        &dir,
        &format!("mount -t tmpfs -o size=128k tmpfs {}", dir.display()),
    );
    let address = listening(&mut child);
    let too_big = send(address, 400 * 1024);
    assert!(too_big.contains("452 4.3.1"), "{too_big}");
    // The server's view of the directory is inside its namespace.
    let inside = PathBuf::from(format!("/proc/{}/root", child.id()))
        .join(dir.strip_prefix("/").expect("absolute"));
    let leftovers = std::fs::read_dir(inside.join("tmp")).expect("tmp/").count();
    assert_eq!(leftovers, 0, "nothing left in tmp/");
    // The first session's transcript file is written after its connection closed (on the
    // after-reply thread): wait for it, so that the disk is as full as this test means.
    wait_for_files(&inside.join("sessions"), 1);
    // A raw copy that fit while the Maildir copy did not is removed with it: no 250 came.
    let medium = send(address, 60 * 1024);
    assert!(medium.contains("452 4.3.1"), "{medium}");
    for folder in ["tmp", "new", "raw"] {
        let count = std::fs::read_dir(inside.join(folder))
            .expect(folder)
            .count();
        assert_eq!(count, 0, "nothing in {folder}/");
    }
    // A message that fits is still stored, both copies.
    let small = send(address, 1024);
    assert!(small.contains("250 2.0.0 OK queued as"), "{small}");
    for folder in ["new", "raw"] {
        let count = std::fs::read_dir(inside.join(folder))
            .expect(folder)
            .count();
        assert_eq!(count, 1, "one file in {folder}/");
    }
    stop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 10, item 8: an existing Maildir on a read-only file system started silently and
/// answered 451 to everything.
#[test]
fn a_read_only_store_is_refused_before_the_server_starts() {
    let dir = temp_dir("read-only");
    // A complete Maildir: every folder exists, so only writing can tell.
    for sub in ["tmp", "new", "cur", "raw", "transcripts", "sessions"] {
        std::fs::create_dir_all(dir.join(sub)).expect("maildir");
    }
    let path = dir.display();
    let child = serve_in_namespace(
        &dir,
        &format!("mount --bind {path} {path}; mount -o remount,ro,bind {path}"),
    );
    let output = child.wait_with_output().expect("exit");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot use {path} as a Maildir"))
            && stderr.contains("Read-only file system"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
