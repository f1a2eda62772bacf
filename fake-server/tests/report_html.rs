//! The HTML report as a person sees it: a real report (sessions with known faults over real
//! sockets, a real client over STARTTLS and AUTH, a long session), rendered, and opened in
//! headless Chromium driven by playwright-core (tests/clients/report_browser.js). The page
//! must load without a console error or a network request, show the verdict, link every
//! failed check to docs/checks.md, show an injected `<script>` as text without running it,
//! and lay out a 2,000-entry session quickly. The first screen is saved as a screenshot
//! (beside the page; with `UPDATE_SCREENSHOT=1` as docs/images/report.png, the docs' picture:
//! a test run must not change the repository).
//!
//! Chromium and playwright-core come from `ci/setup.sh`; without them this test fails. With
//! `KEEP_REPORT_HTML=1` the page is kept (its path is printed) for a look.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use common::*;
use fake_server::expect::Expectations;
use fake_server::report::{html, ClientResult, RunReport, RunResult};
use fake_server::tls::TlsSetup;
use fake_server::{Server, SessionConfig, SessionRecord};
use serde_json::Value;
use smtp_conformance::{Level, Status};
use smtp_protocol::session::{AuthConfig, AuthUser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the injected EHLO argument would do if it ran.
const INJECTED: &str = "<script>document.title='pwned';window.pwned=1</script>";
/// Markup in a Subject: shown in the finding's octets, never as an element.
const SUBJECT: &str = "Café <img src=x onerror=window.pwned=2>";

/// Reads until the output ends with a final reply line (`ddd ` … CRLF) or the server closes.
async fn read_final_reply(stream: &mut TcpStream) -> String {
    let mut output = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&output).into_owned();
        let last = text
            .strip_suffix("\r\n")
            .and_then(|t| t.rsplit("\r\n").next());
        if last.is_some_and(|l| l.len() >= 4 && l.as_bytes()[3] == b' ') {
            return text;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("no final reply; got so far: {text:?}"))
            .expect("read");
        if n == 0 {
            return text;
        }
        output.extend_from_slice(&buffer[..n]);
    }
}

/// One session over a raw socket: each write waits for its final reply before the next
/// (nothing is pipelined by accident), then the session's record once it has ended.
async fn raw_session(server: &Server, writes: &[&[u8]]) -> Arc<SessionRecord> {
    let before = server.sessions().len();
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_final_reply(&mut stream).await;
    for write in writes {
        stream.write_all(write).await.expect("write");
        read_final_reply(&mut stream).await;
    }
    drop(stream);
    let sessions = server.wait_for_sessions(before + 1, WAIT).await;
    assert_eq!(
        sessions.len(),
        before + 1,
        "the session ends and is recorded"
    );
    Arc::clone(sessions.last().expect("the session"))
}

/// The report: run 1 has three sessions (faults sent by hand, then smtplib over STARTTLS
/// with AUTH LOGIN, its command's real exit status and duration, and expectations); run 2 is
/// one long session, longer than a transcript keeps.
async fn build_report(dir: &Path) -> RunReport {
    let server = Server::builder()
        .smtp(loopback())
        .submission(loopback())
        .tls(TlsSetup::new().ca_dir(dir.join("ca")))
        .session_config(SessionConfig {
            auth: AuthConfig {
                users: vec![AuthUser {
                    name: "alice".into(),
                    password: Some("wonderland".into()),
                    token: None,
                }],
                ..AuthConfig::default()
            },
            ..SessionConfig::default()
        })
        .start()
        .await
        .expect("server starts");
    let ca_file = dir.join("trust.pem");
    std::fs::write(&ca_file, server.ca_cert_pem().expect("a local CA")).expect("write CA");

    // A markup EHLO argument (refused: 501), a proper EHLO, then a message whose Subject is
    // raw UTF-8 without SMTPUTF8.
    let ehlo = format!("EHLO {INJECTED}\r\n");
    let content = format!(
        "From: <a@example.com>\r\nTo: <b@example.org>\r\nSubject: {SUBJECT}\r\n\r\nHello.\r\n.\r\n"
    );
    let first = raw_session(
        &server,
        &[
            ehlo.as_bytes(),
            b"EHLO client.example.com\r\n",
            b"MAIL FROM:<a@example.com>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"DATA\r\n",
            content.as_bytes(),
            b"QUIT\r\n",
        ],
    )
    .await;
    // MAIL before EHLO, and no QUIT.
    let second = raw_session(&server, &[b"MAIL FROM:<a@example.com>\r\n", b"NOOP\r\n"]).await;
    for (record, id) in [
        (&first, "C-5322-ASCII-HEADERS"),
        (&second, "C-5321-EHLO-BEFORE-MAIL"),
    ] {
        assert_eq!(
            record.checks.status(id),
            Some(Status::Fail),
            "{id} fails:\n{}",
            record.marked_transcript()
        );
    }

    // A real client: smtplib, STARTTLS on the submission port, AUTH LOGIN (two SASL
    // responses), one message.
    let port = server
        .addr("submission")
        .expect("submission listener")
        .port()
        .to_string();
    let command = vec![
        "python3".to_owned(),
        script("tls_client.py"),
        "127.0.0.1".to_owned(),
        port,
        "--starttls".to_owned(),
        "--cafile".to_owned(),
        ca_file.display().to_string(),
        "--user".to_owned(),
        "alice".to_owned(),
        "--secret".to_owned(),
        "wonderland".to_owned(),
        "--mechanism".to_owned(),
        "LOGIN".to_owned(),
    ];
    let sessions_before = server.sessions().len();
    let started = Instant::now();
    let output = run_client_async("python3", command[1..].to_vec(), None).await;
    let elapsed = started.elapsed();
    assert_success(&output);
    let records = server.wait_for_sessions(sessions_before + 1, WAIT).await;
    let client = ClientResult {
        command: vec![
            "python3".to_owned(),
            "fake-server/tests/clients/tls_client.py".to_owned(),
        ]
        .into_iter()
        .chain(command[2..].iter().map(|a| {
            if a.ends_with("trust.pem") {
                "trust.pem".to_owned()
            } else {
                a.clone()
            }
        }))
        .collect(),
        exit_code: output.status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&output.status),
        timed_out: false,
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
    };
    let messages = server.wait_for_messages(2, WAIT).await.expect("2 messages");
    let mut expectations = Expectations::default();
    for flag in [
        "messages=2",
        "exit-code=0",
        "header=Subject:^Caf",
        "pass=C-5321-EHLO-BEFORE-MAIL",
    ] {
        expectations.add_flag(flag).expect("a valid expectation");
    }
    let expected = expectations.evaluate(&messages, &records, Some(&client));
    let run = RunResult::new(
        "default".to_owned(),
        Some("a client that skips EHLO, one that sends markup and raw UTF-8, and smtplib over STARTTLS with AUTH LOGIN".to_owned()),
        Some(client),
        &records,
        expected,
        Level::Must,
    );

    // A session longer than the transcript keeps (1,000 entries at each end).
    let before = server.sessions().len();
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_final_reply(&mut stream).await;
    stream
        .write_all(b"EHLO long.example.com\r\n")
        .await
        .expect("write");
    read_final_reply(&mut stream).await;
    for i in 0..1200 {
        stream
            .write_all(format!("NOOP {i}\r\n").as_bytes())
            .await
            .expect("write");
        read_final_reply(&mut stream).await;
    }
    stream.write_all(b"QUIT\r\n").await.expect("write");
    read_final_reply(&mut stream).await;
    drop(stream);
    let all = server.wait_for_sessions(before + 1, WAIT).await;
    let long = Arc::clone(all.last().expect("the long session"));
    assert!(long.transcript.omitted() > 0, "the long session is trimmed");
    let long_run = RunResult::new(
        "long-session".to_owned(),
        Some("1,200 NOOPs in one session: more entries than a transcript keeps".to_owned()),
        None,
        &[long],
        Vec::new(),
        Level::Must,
    );
    server.shutdown().await;
    RunReport::new(Level::Must, vec![run, long_run])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_in_a_real_browser() {
    let dir = std::env::temp_dir().join(format!("fake-smtp-report-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let report = build_report(&dir).await;
    assert!(!report.verdict.is_pass());

    let page = html::render(&report);
    assert_eq!(
        page,
        html::render(&report),
        "the same report gives the same page"
    );
    assert!(!page.contains(INJECTED), "the injected markup is escaped");
    assert!(
        !page.to_ascii_lowercase().contains("<script"),
        "no script at all"
    );
    let failing: Vec<&str> = report
        .runs
        .iter()
        .flat_map(|r| &r.sessions)
        .flat_map(|s| s.problems())
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.id)
        .collect();
    assert!(failing.contains(&"C-5321-EHLO-BEFORE-MAIL"), "{failing:?}");
    assert!(failing.contains(&"C-5322-ASCII-HEADERS"), "{failing:?}");
    // Every link target exists in the docs.
    let checks_doc = std::fs::read_to_string(repo_root().join("docs/checks.md")).expect("docs");
    for id in &failing {
        assert!(
            checks_doc.contains(&format!("<a id=\"{id}\"></a>")),
            "docs/checks.md has an anchor for {id}"
        );
    }

    let html_file = dir.join("report.html");
    std::fs::write(&html_file, &page).expect("write the page");
    let screenshot = if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        repo_root().join("docs/images/report.png")
    } else {
        dir.join("report.png")
    };
    std::fs::create_dir_all(screenshot.parent().expect("a folder"))
        .expect("the screenshot's folder");
    let output = run_client_async(
        "node",
        vec![
            script("report_browser.js"),
            html_file.display().to_string(),
            screenshot.display().to_string(),
            dir.join("chromium-profile").display().to_string(),
        ],
        None,
    )
    .await;
    let stdout = assert_success(&output);
    let seen: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));

    let strings = |key: &str| json_strings(&seen, key);
    assert_eq!(
        strings("console_errors"),
        Vec::<String>::new(),
        "no console error"
    );
    assert_eq!(
        strings("page_errors"),
        Vec::<String>::new(),
        "no page error"
    );
    let requests = strings("requests");
    assert!(
        requests.len() == 1
            && requests[0].starts_with("file://")
            && requests[0].ends_with("/report.html"),
        "the page loads nothing but itself: {requests:?}"
    );
    assert_eq!(seen["verdict"], "FAIL", "the verdict is in the DOM: {seen}");
    assert_eq!(
        seen["title"], "fake-smtp report: FAIL",
        "no script changed the title"
    );
    assert_eq!(
        seen["pwned"],
        Value::Null,
        "the injected script did not run"
    );
    assert_eq!(seen["scripts"], 0, "no script element in the DOM");
    assert_eq!(seen["images"], 0, "no image element in the DOM");
    assert_eq!(
        seen["injected_shown"], true,
        "the EHLO argument shows as text: {seen}"
    );
    assert_eq!(
        seen["subject_shown"], true,
        "the Subject shows as text: {seen}"
    );
    let links = seen["check_links"].as_array().expect("check links");
    for id in &failing {
        let href = format!("docs/checks.md#{id}");
        assert!(
            links
                .iter()
                .any(|l| l["href"] == href.as_str() && l["text"] == *id),
            "{id} is linked to {href}: {links:?}"
        );
    }
    // The long session: every kept entry drawn, the gap marked, laid out quickly.
    let rows = seen["rows"].as_u64().expect("rows");
    assert!(rows > 2000, "{rows} diagram rows");
    assert_eq!(seen["gap_shown"], true, "the omitted entries are marked");
    let load_ms = seen["load_ms"].as_f64().expect("load time");
    eprintln!(
        "Chromium {}: {rows} diagram rows, {} px tall, loaded and laid out in {load_ms} ms",
        seen["browser"], seen["height"]
    );
    assert!(load_ms < 5000.0, "the page loads in {load_ms} ms");

    let png = std::fs::metadata(&screenshot)
        .expect("the screenshot")
        .len();
    assert!(
        (10_000..300_000).contains(&png),
        "the screenshot is {png} octets"
    );
    if std::env::var_os("KEEP_REPORT_HTML").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("the page: {}", html_file.display());
    }
}
