//! Issue 9, item 20: AUTH secrets are judged on what the client sent, then redacted from
//! everything kept and printed (transcripts, the `--store` session files, events, reports),
//! unless `record_secrets(true)`.

mod common;

use std::sync::{Arc, Mutex};

use common::{loopback, read_reply, WAIT};
use fake_server::report::{RunReport, RunResult};
use fake_server::{Server, ServerBuilder, SessionConfig};
use smtp_conformance::Level;
use smtp_protocol::session::AuthConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn b64(text: &[u8]) -> String {
    smtp_protocol::sasl::encode(text)
}

/// The secrets this client sends, as they appear on the wire (base64).
fn wire_secrets() -> Vec<String> {
    vec![
        b64(b"\0alice\0wonderland"),
        b64(b"hunter2"),
        // A malformed PLAIN message (no NULs): C-4616-MESSAGE-FORMAT quotes its line.
        b64(b"bob swordfish"),
    ]
}

/// PLAIN with an initial response, LOGIN, a malformed PLAIN, a message, QUIT.
async fn client(server: &Server) {
    async fn say(s: &mut TcpStream, line: &str, code: &'static str) -> String {
        s.write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        read_reply(s, code).await
    }
    let mut s = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut s, "220").await;
    say(&mut s, "EHLO me", "250").await;
    let secrets = wire_secrets();
    say(&mut s, &format!("AUTH PLAIN {}", secrets[2]), "535").await;
    say(&mut s, "AUTH LOGIN", "334").await;
    say(&mut s, &b64(b"dave"), "334").await;
    say(&mut s, &secrets[1], "235").await;
    say(&mut s, "QUIT", "221").await;
    // A second session: PLAIN with the right format.
    let mut s = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut s, "220").await;
    s.write_all(format!("EHLO me\r\nAUTH PLAIN {}\r\n", secrets[0]).as_bytes())
        .await
        .expect("write");
    read_reply(&mut s, "235").await;
    s.write_all(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        .await
        .expect("write");
    read_reply(&mut s, "354").await;
    s.write_all(b"Subject: hi\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        .await
        .expect("write");
    read_reply(&mut s, "221").await;
}

struct Run {
    server: Server,
    events: Arc<Mutex<Vec<String>>>,
    store: std::path::PathBuf,
}

async fn run(name: &str, record: Option<bool>) -> Run {
    let store =
        std::env::temp_dir().join(format!("fake-smtp-secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let mut builder = ServerBuilder::default()
        .smtp(loopback())
        .store_dir(&store)
        .session_config(SessionConfig {
            auth: AuthConfig {
                in_cleartext: true,
                ..AuthConfig::default()
            },
            ..SessionConfig::default()
        })
        .on_event(move |event| {
            let line = event.to_json_line(std::time::SystemTime::now());
            sink.lock().expect("lock").push(line);
        });
    if let Some(on) = record {
        builder = builder.record_secrets(on);
    }
    let server = builder.start().await.expect("starts");
    client(&server).await;
    let sessions = server.wait_for_sessions(2, WAIT).await;
    assert_eq!(sessions.len(), 2);
    Run {
        server,
        events,
        store,
    }
}

/// Everything kept or printed about the run, as text.
fn everything(run: &Run) -> String {
    let sessions = run.server.sessions();
    let mut text = String::new();
    for session in &sessions {
        text.push_str(&session.transcript.render(true));
        text.push_str(&session.marked_transcript());
        text.push_str(&serde_json::to_string(&**session).expect("json"));
    }
    text.push_str(&run.events.lock().expect("lock").join("\n"));
    let result = RunResult::new(
        "default".into(),
        None,
        None,
        &sessions,
        Vec::new(),
        Level::Must,
    );
    let report = RunReport::new(Level::Must, vec![result]);
    text.push_str(&serde_json::to_string(&report).expect("report"));
    text.push_str(&fake_server::report::text::render(&report));
    text.push_str(&fake_server::report::html::render(&report));
    text.push_str(&fake_server::report::junit::render(&report));
    for entry in walk(&run.store) {
        text.push_str(&String::from_utf8_lossy(
            &std::fs::read(entry).expect("read"),
        ));
    }
    text
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The checks' results without the evidence's quoted octets.
fn verdicts(server: &Server) -> Vec<Vec<(&'static str, String, usize)>> {
    server
        .sessions()
        .iter()
        .map(|s| {
            s.checks
                .results
                .iter()
                .map(|r| (r.id, format!("{:?}", r.status), r.evidence.len()))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_redacted_by_default_and_judged_all_the_same() {
    let redacted = run("default", None).await;
    let text = everything(&redacted);
    for secret in wire_secrets() {
        assert!(!text.contains(&secret), "{secret} is recorded:\n{text}");
    }
    for plain in ["wonderland", "hunter2", "swordfish"] {
        assert!(!text.contains(plain), "{plain} is recorded");
    }
    let fingerprint = smtp_protocol::transcript::fingerprint(b"wonderland");
    let transcripts: String = redacted
        .server
        .sessions()
        .iter()
        .map(|s| s.transcript.render(false))
        .collect();
    assert!(
        transcripts.contains(&format!(
            "C: AUTH PLAIN [redacted: user \"alice\", password sha256:{fingerprint}]"
        )),
        "{transcripts}"
    );
    assert!(
        transcripts.contains(&format!("C: {}", b64(b"dave"))),
        "the user name stays"
    );
    // The malformed PLAIN message failed its check, with the redacted line as evidence.
    let first = &redacted.server.sessions()[0];
    let format = first
        .checks
        .results
        .iter()
        .find(|r| r.id == "C-4616-MESSAGE-FORMAT")
        .expect("judged");
    assert_eq!(format!("{:?}", format.status), "Fail");
    assert!(
        format.evidence[0]
            .octets
            .starts_with("AUTH PLAIN [redacted: "),
        "{:?}",
        format.evidence
    );

    // Recorded on request, and judged exactly alike.
    let recorded = run("recorded", Some(true)).await;
    let text = everything(&recorded);
    for secret in wire_secrets() {
        assert!(text.contains(&secret), "{secret} is not recorded");
    }
    assert_eq!(verdicts(&redacted.server), verdicts(&recorded.server));
    for run in [redacted, recorded] {
        let _ = std::fs::remove_dir_all(&run.store);
    }
}
