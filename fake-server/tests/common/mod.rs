//! Helpers shared by the integration tests: start a server on port 0, run real clients,
//! talk raw SMTP over a socket.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use fake_server::{Server, ServerBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(10);

/// The workspace root (scripts, docs and scenarios live there).
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

pub async fn start() -> Server {
    start_with(Server::builder()).await
}

pub async fn start_with(builder: ServerBuilder) -> Server {
    builder
        .smtp(loopback())
        .start()
        .await
        .expect("server starts on a free loopback port")
}

pub fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Runs a third-party client program. A client that is not installed fails the test: the
/// project's scripts install what the tests need, so a missing one is a real problem.
pub fn run_client(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (is it installed? ci/setup.sh installs it): {e}")
        });
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("client finishes")
}

/// Runs a client in a blocking thread so the server (same runtime) keeps serving.
pub async fn run_client_async(
    program: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_client(program, &args, stdin.as_deref())
    })
    .await
    .expect("client thread")
}

/// Path of a client script in tests/clients.
pub fn script(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "clients", name]
        .iter()
        .collect();
    path.display().to_string()
}

pub fn assert_success(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "client failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Sends `input` (in one write), half-closes, and returns everything the server wrote
/// until it closed.
pub async fn converse(address: SocketAddr, input: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(input).await.expect("write");
    stream.shutdown().await.expect("half-close");
    read_all(&mut stream).await
}

pub async fn read_all(stream: &mut TcpStream) -> String {
    read_all_within(stream, WAIT).await
}

/// Like [`read_all`] with another limit (on the paused clock, virtual time runs fast).
pub async fn read_all_within(stream: &mut TcpStream, limit: Duration) -> String {
    let mut output = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut output))
        .await
        .expect("the server answers and closes in time")
        .expect("read");
    String::from_utf8_lossy(&output).into_owned()
}

/// Reads until the server's output ends with a final reply line (`ddd ` ... CRLF) of `code`.
pub async fn read_reply(stream: &mut TcpStream, code: &str) -> String {
    let mut output = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&output).into_owned();
        if text
            .rsplit("\r\n")
            .nth(1)
            .is_some_and(|last| last.starts_with(&format!("{code} ")))
        {
            return text;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no {code} reply; got so far: {text:?}"))
            .expect("read");
        assert!(
            n > 0,
            "connection closed before a {code} reply; got: {text:?}"
        );
        output.extend_from_slice(&buffer[..n]);
    }
}

/// A full, well-formed session that must succeed: proof the server still serves normally.
pub async fn assert_serves_normally(server: &Server) {
    let before = server.messages().len();
    let output = converse(
        server.smtp_addr(),
        b"EHLO check\r\nMAIL FROM:<check@example.com>\r\nRCPT TO:<check@example.org>\r\nDATA\r\n\
          Subject: still fine\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    assert!(
        output.ends_with("221 2.0.0 localhost closing connection\r\n"),
        "{output}"
    );
    let messages = server
        .wait_for_messages(before as u64 + 1, WAIT)
        .await
        .expect("the check message arrives");
    assert_eq!(
        messages
            .last()
            .and_then(|m| m.summary().subject.clone())
            .as_deref(),
        Some("still fine")
    );
}

/// The strings of an array field of a browser script's JSON result (each test script reports
/// what it saw as one JSON object).
pub fn json_strings(seen: &serde_json::Value, key: &str) -> Vec<String> {
    seen[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {seen}"))
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A fake-smtp child that is killed when the test ends with it still running, by a panic
/// too: a failed test must not leave a server holding its ports (one such orphan held the web
/// sink's default port for hours). Used as a `std::process::Child` through `Deref`.
pub struct Spawned(pub Option<std::process::Child>);

impl Spawned {
    pub fn wait_with_output(mut self) -> std::io::Result<std::process::Output> {
        self.0
            .take()
            .expect("the child is running")
            .wait_with_output()
    }
}

impl std::ops::Deref for Spawned {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("the child is running")
    }
}

impl std::ops::DerefMut for Spawned {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is running")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}
