//! The web UI as a person uses it, in headless Chromium driven by playwright-core
//! (tests/clients/web_ui_browser.js) against a server started here. With the page open, a
//! hostile multipart message (a `<script>` in its HTML, markup in its text, an inline PNG
//! referenced by `cid:`, a `notes.txt` attachment) arrives over a real SMTP socket; the
//! page must show it without a reload, render its HTML in a sandboxed frame (the image
//! loads, the script does not run), download the attachment byte for byte, show its text,
//! headers, raw source, MIME tree and SMTP session (a sequence diagram, the failed check
//! marked), search (a query that matches, one that does not, one the server refuses),
//! mark it unread, switch a listener's scenario and back, delete it, get live updates again
//! after the WebSocket drops, then delete all. No console error, no failed request, no
//! request leaving the origin.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/web-ui/`; with `UPDATE_SCREENSHOT=1` the opened
//! message is also saved as docs/images/web-ui.png (the docs' picture: a normal run must not
//! change the repository). Chromium and playwright-core come from `ci/setup.sh`; without
//! them this test fails.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use fake_server::web::WebConfig;
use fake_server::Server;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A 120×40 PNG (a blue square and three bars): the newsletter's logo, by `cid:`.
const LOGO_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAHgAAAAoCAIAAAC6iKlyAAAAcklEQVR42u3XsREAEBREQZ3IJZrQh5Z1RAFSDGbfqGCTf0LXkQIC0KAFGjToqVzb8gcaNGjQoF+Fjql89kCDBg36H2jHEDRo0KBBgwZt3tnRoEGD9jN0DEGDBg3ajrY6QIMGDdoxBH0TtECDFmjQoLWhAfw5E9ZTHNuyAAAAAElFTkSuQmCC";

/// The attachment's octets (sent in base64, so they must come back exactly).
const NOTES: &[u8] = b"Meeting notes\r\n- bring the logo\r\n- caf\xc3\xa9 at 10:00\r\n";

const SUBJECT: &str = "Quarterly newsletter";

/// Sends one message over a plain SMTP session, each command waiting for its reply.
async fn send(server: &Server, from: &str, to: &str, content: &str) {
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    for (line, code) in [
        ("EHLO client.example.com\r\n".to_owned(), "250"),
        (format!("MAIL FROM:<{from}>\r\n"), "250"),
        (format!("RCPT TO:<{to}>\r\n"), "250"),
        ("DATA\r\n".to_owned(), "354"),
    ] {
        stream.write_all(line.as_bytes()).await.expect("write");
        read_reply(&mut stream, code).await;
    }
    stream
        .write_all(format!("{content}\r\n.\r\n").as_bytes())
        .await
        .expect("write");
    read_reply(&mut stream, "250").await;
    stream.write_all(b"QUIT\r\n").await.expect("write");
    read_reply(&mut stream, "221").await;
}

fn base64_lines(octets: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(octets);
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// multipart/mixed [ multipart/alternative [ text, multipart/related [ HTML, PNG ] ],
/// notes.txt ]. Without a Date field, so that a client check fails (C-5322-DATE-PRESENT)
/// and the session view has a line to mark.
fn newsletter() -> String {
    let png = base64::engine::general_purpose::STANDARD
        .decode(LOGO_PNG)
        .expect("the logo");
    [
        "From: Newsletter Team <news@example.com>",
        "To: Bob <bob@example.org>",
        "Cc: carol@example.org",
        &format!("Subject: {SUBJECT}"),
        "Message-ID: <newsletter-1@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"mixed-b1\"",
        "",
        "--mixed-b1",
        "Content-Type: multipart/alternative; boundary=\"alt-b2\"",
        "",
        "--alt-b2",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Hello Bob,",
        "the plain version: <img src=x onerror=window.pwned=2> stays text.",
        "--alt-b2",
        "Content-Type: multipart/related; boundary=\"rel-b3\"",
        "",
        "--rel-b3",
        "Content-Type: text/html; charset=utf-8",
        "",
        "<h2>Quarterly newsletter</h2>",
        "<p>Hello Bob, here is our <b>logo</b>:</p>",
        "<p><img src=\"cid:logo@test\" alt=\"logo\" id=\"logo\"></p>",
        "<script>window.parent.pwned=1;document.title='pwned'</script>",
        "<p>See the attached notes.</p>",
        "--rel-b3",
        "Content-Type: image/png",
        "Content-Transfer-Encoding: base64",
        "Content-ID: <logo@test>",
        "Content-Disposition: inline",
        "",
        &base64_lines(&png),
        "--rel-b3--",
        "--alt-b2--",
        "--mixed-b1",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment; filename=\"notes.txt\"",
        "",
        &base64_lines(NOTES),
        "--mixed-b1--",
    ]
    .join("\r\n")
}

fn plain(subject: &str, from: &str, body: &str, n: u32) -> String {
    format!(
        "From: {from}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\
         Date: Mon, 30 Nov 2026 09:0{n}:00 +0000\r\nMessage-ID: <plain-{n}@example.com>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_in_a_real_browser() {
    let server = Server::builder()
        .smtp(loopback())
        .http(WebConfig::new(loopback()))
        .start()
        .await
        .expect("server starts");
    let base = format!("http://{}", server.http_addr().expect("the web sink"));

    // Mail already there when the page opens.
    send(
        &server,
        "ops@example.com",
        "bob@example.org",
        &plain(
            "Build 1432 passed",
            "CI <ops@example.com>",
            "All 212 tests passed.",
            1,
        ),
    )
    .await;
    send(
        &server,
        "alice@example.com",
        "bob@example.org",
        &plain(
            "Lunch on Thursday?",
            "Alice <alice@example.com>",
            "Shall we try the new place?",
            2,
        ),
    )
    .await;

    let artefacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-ui");
    let _ = std::fs::remove_dir_all(&artefacts);
    std::fs::create_dir_all(&artefacts).expect("artefact dir");
    let docs_screenshot = std::env::var_os("UPDATE_SCREENSHOT")
        .map(|_| repo_root().join("docs/images/web-ui.png"))
        .map(|p| p.display().to_string())
        .unwrap_or_default();

    let mut child = tokio::process::Command::new("node")
        .arg(script("web_ui_browser.js"))
        .arg(&base)
        .arg(&artefacts)
        .arg(artefacts.join("chromium-profile"))
        .arg(base64::engine::general_purpose::STANDARD.encode(NOTES))
        .arg(SUBJECT)
        .arg(&docs_screenshot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (ci/setup.sh installs it): {e}"));
    let mut stderr = child.stderr.take().expect("stderr");
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();

    // The script says when the page is open and live; then the message comes by SMTP.
    let mut result = None;
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read the script's output") {
            match line.trim() {
                "ready" => {
                    send(
                        &server,
                        "news@example.com",
                        "bob@example.org",
                        &newsletter(),
                    )
                    .await
                }
                "send-more" => {
                    send(
                        &server,
                        "ops@example.com",
                        "bob@example.org",
                        &plain(
                            "After the reconnect",
                            "CI <ops@example.com>",
                            "Still live.",
                            3,
                        ),
                    )
                    .await
                }
                line if line.starts_with('{') => result = Some(line.to_owned()),
                line => eprintln!("web_ui_browser.js: {line}"),
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(180), run).await;
    let status = child.wait().await.expect("node exits");
    let stderr = stderr_task.await.unwrap_or_default();
    assert!(
        finished.is_ok(),
        "the browser run took over 3 minutes:\n{stderr}"
    );
    assert!(
        status.success(),
        "the browser run failed ({status}):\n{stderr}"
    );
    let result = result.unwrap_or_else(|| panic!("no result from the script:\n{stderr}"));
    let seen: Value = serde_json::from_str(&result).unwrap_or_else(|e| panic!("{e}: {result}"));
    eprintln!("Chromium {}: {seen:#}", seen["browser"]);

    let strings = |key: &str| json_strings(&seen, key);
    let none: Vec<String> = Vec::new();
    assert_eq!(strings("console_errors"), none, "no console error");
    assert_eq!(strings("page_errors"), none, "no page error");
    assert_eq!(strings("failed_requests"), none, "no failed request");
    assert_eq!(strings("http_errors"), none, "no unexpected HTTP error");
    let foreign: Vec<String> = strings("requests")
        .into_iter()
        .filter(|u| !u.starts_with(&format!("{base}/")))
        .collect();
    assert_eq!(foreign, none, "nothing loaded from elsewhere");
    assert!(
        seen["sandbox_blocked"].as_u64().unwrap_or(0) >= 1,
        "Chromium reports the message's script blocked by the sandbox: {seen}"
    );

    let check = |key: &str| {
        assert_eq!(seen[key], true, "{key}: {seen}");
    };
    for key in [
        "arrived_live",
        "no_reload",
        "unread_bold",
        "markup_as_text",
        "iframe_sandboxed",
        "image_loaded",
        "script_did_not_run",
        "remote_images_src",
        "text_tab",
        "headers_tab",
        "raw_tab",
        "mime_tab",
        "download_matches",
        "session_diagram",
        "session_failed_mark",
        "session_checks_listed",
        "search_matches",
        "search_no_match",
        "search_error_shown",
        "marked_unread",
        "scenario_switched",
        "deleted",
        "reconnected",
        "deleted_all",
    ] {
        check(key);
    }

    // The screenshots exist and are real pictures.
    let mut pictures = vec![
        artefacts.join("list.png"),
        artefacts.join("message.png"),
        artefacts.join("session.png"),
    ];
    if !docs_screenshot.is_empty() {
        pictures.push(PathBuf::from(&docs_screenshot));
    }
    for picture in pictures {
        let size = std::fs::metadata(&picture)
            .unwrap_or_else(|e| panic!("{}: {e}", picture.display()))
            .len();
        assert!(
            (10_000..600_000).contains(&size),
            "{} is {size} octets",
            picture.display()
        );
    }
    eprintln!("screenshots in {}", artefacts.display());
    server.shutdown().await;
}
