//! The library as a test uses it (issue 9, items 25 to 27): README's example is a tested
//! doctest, TLS needs no file in anyone's home, and a message leads to its session.

mod common;

use std::time::Duration;

use common::{loopback, read_reply, WAIT};
use fake_server::tls::{CaLocation, TlsSetup};
use fake_server::{Scenario, Server};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The visible lines of the doctest in `src/lib.rs` (hidden `# ` lines left out).
fn doctest_lines() -> Vec<String> {
    let source = include_str!("../src/lib.rs");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in source.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if doc.starts_with("```") {
            if inside {
                break;
            }
            inside = true;
            continue;
        }
        if inside && !doc.starts_with("# ") && doc != "#" {
            lines.push(doc.to_owned());
        }
    }
    lines
}

/// Item 25: the example under README's "In Rust tests" is the doctest of `src/lib.rs`, line
/// for line, so that what README shows is what runs.
#[test]
fn readme_example_is_the_tested_doctest() {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## In Rust tests")
        .nth(1)
        .expect("README has an 'In Rust tests' section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a rust block");
    let readme_lines: Vec<&str> = block.lines().collect();
    let doctest = doctest_lines();
    assert!(!doctest.is_empty(), "no doctest in src/lib.rs");
    assert_eq!(readme_lines, doctest);
}

/// Item 25: a scenario whose EHLO lists STARTTLS offers it on a library `.smtp()` listener,
/// which then gets TLS of its own (a CA in memory) instead of answering `502`.
#[tokio::test]
async fn a_scenario_offering_starttls_gets_tls_on_a_plain_library_listener() {
    let server = Server::builder()
        .smtp(loopback())
        .scenario(Scenario::load("providers/gmail/multiline-535").expect("built-in"))
        .start()
        .await
        .expect("starts");
    assert!(server.ca_cert_pem().is_some(), "a CA for STARTTLS");
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    stream.write_all(b"EHLO me\r\n").await.expect("write");
    let ehlo = read_reply(&mut stream, "250").await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    stream.write_all(b"STARTTLS\r\n").await.expect("write");
    let reply = read_reply(&mut stream, "220").await;
    assert!(reply.contains("Ready to start TLS"), "{reply}");
}

/// Item 26: the library's default TLS is a CA made in memory for each server, never one in
/// the data directory (which a test would write into the user's home).
#[tokio::test]
async fn the_library_default_ca_is_in_memory_and_its_own() {
    assert!(matches!(TlsSetup::default().ca, CaLocation::Memory));
    let start = || async {
        Server::builder()
            .submission(loopback())
            .start()
            .await
            .expect("starts")
    };
    let (first, second) = (start().await, start().await);
    let (a, b) = (
        first.ca_cert_pem().expect("a CA"),
        second.ca_cert_pem().expect("a CA"),
    );
    assert_ne!(a, b, "each server makes its own CA in memory");
}

/// Item 27: a client that keeps its connection open after a message: the message is there,
/// its session not yet; `session(id)` says so and `wait_for_session_of` waits for the end.
#[tokio::test]
async fn a_message_leads_to_its_session_once_the_client_quits() {
    let server = common::start().await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    stream
        .write_all(b"EHLO me\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        .await
        .expect("write");
    stream
        .write_all(b"Subject: pooled\r\n\r\nhi\r\n.\r\n")
        .await
        .expect("write");
    let messages = server.wait_for_messages(1, WAIT).await.expect("a message");
    let message = &messages[0];
    assert!(server.sessions().is_empty(), "the session is still open");
    assert!(server.session(message.session_id).is_none());
    let early = server
        .wait_for_session_of(message, Duration::from_millis(50))
        .await;
    assert!(early.is_err(), "{early:?}");

    stream.write_all(b"QUIT\r\n").await.expect("write");
    let session = server
        .wait_for_session_of(message, WAIT)
        .await
        .expect("the session once the client quit");
    assert_eq!(session.id, message.session_id);
    assert_eq!(session.messages, std::slice::from_ref(&message.id));
    assert!(session.transcript.render(false).contains("C: QUIT"));
    assert_eq!(
        server.session(message.session_id).map(|s| s.id),
        Some(session.id)
    );
}
