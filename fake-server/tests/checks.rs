//! The client checks as a user meets them: a session with a known fault, over a real socket,
//! reports the fault's check ID as failed in the Rust API, in the marked transcript and in the
//! session event that `--json` prints. The faults are the ones a new user tried and saw go
//! unreported (issue 11).

mod common;

use std::sync::Arc;

use common::*;
use fake_server::{Scenario, Server, ServerEvent, SessionConfig, SessionRecord};
use smtp_conformance::Status;
use smtp_protocol::session::AuthConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Sends each write separately, waiting for the server's answer in between (so that only
/// what the test means to pipeline arrives early), and returns the session's record.
async fn session(server: &Server, writes: &[&[u8]]) -> Arc<SessionRecord> {
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    for write in writes {
        stream.write_all(write).await.expect("write");
        // Each write ends with the command whose reply comes last.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(300), async {
            let mut buffer = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
        })
        .await;
    }
    drop(stream);
    let sessions = server.wait_for_sessions(1, WAIT).await;
    Arc::clone(sessions.last().expect("the session"))
}

/// Asserts that `id` failed, everywhere a user can see it.
fn assert_failed(record: &SessionRecord, id: &str) {
    let marked = record.marked_transcript();
    assert_eq!(
        record.checks.status(id),
        Some(Status::Fail),
        "{id} should fail:\n{marked}"
    );
    assert!(
        marked.contains(&format!("^^ FAIL {id}: ")),
        "the transcript marks {id}:\n{marked}"
    );
    let event = serde_json::to_value(ServerEvent::session(record)).expect("json");
    let failed = event["failed"].as_array().expect("failed ids");
    assert!(failed.iter().any(|f| f == id), "{event}");
    assert!(
        event["checks"]["fail"].as_u64().unwrap_or(0) >= 1,
        "{event}"
    );
}

const MESSAGE_START: &[u8] =
    b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n";

/// One message, sent as a client that waits for each reply would send it.
async fn message_session(server: &Server, content: &[u8]) -> Arc<SessionRecord> {
    let mut data = content.to_vec();
    data.extend_from_slice(b".\r\n");
    session(
        server,
        &[
            b"EHLO client.example.com\r\n",
            b"MAIL FROM:<a@example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"DATA\r\n",
            &data,
            b"QUIT\r\n",
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_before_ehlo() {
    let server = start().await;
    let record = session(&server, &[b"MAIL FROM:<a@example.com>\r\n", b"QUIT\r\n"]).await;
    assert_failed(&record, "C-5321-EHLO-BEFORE-MAIL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_when_it_was_not_offered() {
    let server = start().await;
    // HELO gets no extensions, PIPELINING among them; the group is sent at once anyway.
    let record = session(
        &server,
        &[
            b"HELO client.example.com\r\n",
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert_failed(&record, "C-2920-ONLY-IF-ADVERTISED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_plain_in_the_clear() {
    // Not offered in the clear by default: using it is a mechanism that was not advertised.
    let server = start().await;
    let record = session(
        &server,
        &[
            b"EHLO client.example.com\r\n",
            b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert_failed(&record, "C-4954-MECH-ADVERTISED");
    // Offered in the clear (an old-client setting): PLAIN is a SHOULD NOT there (a warning),
    // LOGIN a MUST NOT (a failure).
    let server = start_with(Server::builder().session_config(SessionConfig {
        auth: AuthConfig {
            in_cleartext: true,
            ..AuthConfig::default()
        },
        ..SessionConfig::default()
    }))
    .await;
    let record = session(
        &server,
        &[
            b"EHLO client.example.com\r\n",
            b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert_eq!(
        record.checks.status("C-4954-NO-PLAINTEXT-MECH-IN-CLEAR"),
        Some(Status::Warn),
        "{}",
        record.marked_transcript()
    );
    let server = start_with(Server::builder().session_config(SessionConfig {
        auth: AuthConfig {
            in_cleartext: true,
            ..AuthConfig::default()
        },
        ..SessionConfig::default()
    }))
    .await;
    let record = session(
        &server,
        &[
            b"EHLO client.example.com\r\n",
            b"AUTH LOGIN\r\n",
            b"YWxpY2U=\r\n",
            b"c2VjcmV0\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert_failed(&record, "C-4954-NO-PLAINTEXT-MECH-IN-CLEAR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_sent_before_the_354() {
    let server = start().await;
    let mut all = MESSAGE_START.to_vec();
    all.extend_from_slice(b"Subject: early\r\n\r\ntoo soon\r\n.\r\n");
    let record = session(&server, &[&all, b"QUIT\r\n"]).await;
    assert_failed(&record, "C-5321-NO-DATA-WITHOUT-354");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_after_a_421() {
    // A 421 closes the connection (RFC 5321 §3.8): only a rule that keeps it open lets a
    // client that goes on after the 421 be seen doing so.
    let scenario = Scenario::from_yaml(
        "mail-421",
        "on:\n  mail:\n    - reply: \"421 4.7.0 Try again later\"\n      then: keep-open\n",
    )
    .expect("scenario");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let record = session(
        &server,
        &[
            b"EHLO client.example.com\r\n",
            b"MAIL FROM:<a@example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
        ],
    )
    .await;
    assert_failed(&record, "C-5321-421-STOP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_before_a_421() {
    // The server closes after its 421; RCPT, sent with MAIL in one write, is recorded after
    // the 421 as the client's line (not run, not answered). It left before the 421 arrived,
    // so it is no fault (RFC 2920): the check judges it and passes.
    let scenario = Scenario::from_yaml(
        "mail-421",
        "on:\n  mail:\n    - reply: \"421 4.7.0 Try again later\"\n",
    )
    .expect("scenario");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let record = session(
        &server,
        &[
            b"EHLO client.example.com\r\n",
            b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n",
        ],
    )
    .await;
    let transcript = record.transcript.render(false);
    assert!(
        transcript.contains("S: 421 4.7.0 Try again later\nC: RCPT TO:<b@example.org>\n"),
        "{transcript}"
    );
    assert!(transcript.ends_with("** closed (Policy)\n"), "{transcript}");
    assert_eq!(
        record.checks.status("C-5321-421-STOP"),
        Some(Status::Pass),
        "{}",
        record.marked_transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_whose_boundary_never_appears() {
    let server = start().await;
    let record = message_session(
        &server,
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: parts\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"never-used\"\r\n\r\nno parts at all\r\n",
    )
    .await;
    assert_failed(&record, "C-2046-DELIMITER-STRUCTURE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_base64_and_quoted_printable() {
    let server = start().await;
    let record = message_session(
        &server,
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: encodings\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <e1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWkFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=ZZ cr=C3=A8me\r\n--b1--\r\n",
    )
    .await;
    assert_failed(&record, "C-2045-BASE64-LINE-LENGTH");
    assert_failed(&record, "C-2045-QP-ILLEGAL-SEQUENCES");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_utf8_in_the_subject() {
    let server = start().await;
    let record = message_session(
        &server,
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: café crème\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <u1@example.com>\r\n\r\nhello\r\n"
            .as_bytes(),
    )
    .await;
    assert_failed(&record, "C-5322-ASCII-HEADERS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_careful_client_passes_every_check_it_met() {
    let server = start().await;
    let record = message_session(
        &server,
        b"From: Alice <a@example.com>\r\nTo: Bob <b@example.org>\r\nSubject: hello\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <ok1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHello Bob.\r\n",
    )
    .await;
    let counts = record.checks.counts();
    assert_eq!(
        (counts.fail, counts.warn),
        (0, 0),
        "{}",
        smtp_conformance::render::marked(&record.transcript, &record.checks)
    );
    assert!(counts.pass > 50, "{counts:?}");
    // Every message check ran on the message: none is "not applicable" for want of one.
    let message = &server.messages()[0];
    let checks = message
        .checks()
        .expect("judged before it counted as received");
    assert!(checks
        .results
        .iter()
        .all(|r| r.why.as_deref() != Some("no message was received in this session")));
}
