//! What a user does with a received message: reads the `--store` Maildir with a real mail
//! reader (Python's `mailbox`, s-nail), finds the exact octets as received beside it, and
//! reads the message's parts through the Rust API. The message comes from a real client:
//! Python's `email` and `smtplib`, with a Bcc recipient, an inline image and an attachment.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fake_server::{Server, StoredMessage};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-smtp-stored-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Sends tests/clients/mime_send.py's message; returns what the script says it sent and the
/// stored message.
async fn send_mime(server: &Server) -> (serde_json::Value, std::sync::Arc<StoredMessage>) {
    let address = server.smtp_addr();
    let output = run_client_async(
        "python3",
        vec![
            script("mime_send.py"),
            address.ip().to_string(),
            address.port().to_string(),
        ],
        None,
    )
    .await;
    let sent: serde_json::Value =
        serde_json::from_str(assert_success(&output).trim()).expect("the script prints JSON");
    assert_eq!(sent["refused"], serde_json::json!({}));
    let messages = server.wait_for_messages(1, WAIT).await.expect("stored");
    (sent, std::sync::Arc::clone(&messages[0]))
}

fn base64_field(sent: &serde_json::Value, field: &str) -> Vec<u8> {
    let text = sent[field].as_str().expect(field);
    let output = run_client(
        "python3",
        &[
            "-c",
            "import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))",
            text,
        ],
        None,
    );
    assert!(output.status.success(), "{output:?}");
    output.stdout
}

/// Issue 9, item 18: the files in `new/` had CRLF line ends and no envelope, so s-nail printed
/// a "Not a header line" warning per line and Bcc recipients were lost. Now `new/` holds what
/// a local delivery agent writes (LF, Return-Path, one X-Original-To per envelope recipient)
/// and `raw/<queue id>.eml` the octets exactly as received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_readers_read_the_store_with_every_envelope_recipient() {
    let dir = temp_dir("readers");
    let server = start_with(Server::builder().store_dir(&dir)).await;
    let (_, message) = send_mime(&server).await;
    server.shutdown().await;

    // The exact octets as received, beside the Maildir.
    let raw_path = message.raw_path.clone().expect("a raw copy with a store");
    assert_eq!(
        raw_path,
        dir.join("raw").join(format!("{}.eml", message.id))
    );
    assert_eq!(std::fs::read(&raw_path).expect("raw copy"), message.raw);
    assert!(message.raw.windows(2).any(|w| w == b"\r\n"));
    // The Maildir copy: LF only, the envelope first.
    let path = message.path.clone().expect("a Maildir file");
    let delivered = std::fs::read(&path).expect("Maildir file");
    assert_eq!(delivered, message.delivered());
    assert!(!delivered.contains(&b'\r'), "no CR in the Maildir copy");
    let text = String::from_utf8_lossy(&delivered);
    // smtplib gives the recipients in this order: To, Bcc, Cc.
    assert_eq!(
        message.rcpt_to(),
        [
            "<bob@example.org>",
            "<dave@example.net>",
            "<carol@example.org>"
        ]
    );
    assert!(
        text.starts_with(
            "Return-Path: <alice@example.com>\nX-Original-To: bob@example.org\n\
             X-Original-To: dave@example.net\nX-Original-To: carol@example.org\nReceived: from "
        ),
        "{text}"
    );
    assert!(!text.contains("Bcc:"), "smtplib sent no Bcc field");

    // Python's mailbox reads it as a mail reader does.
    let output = run_client(
        "python3",
        &[&script("maildir_read.py"), dir.to_str().expect("utf-8")],
        None,
    );
    let read: serde_json::Value =
        serde_json::from_str(assert_success(&output).trim()).expect("JSON");
    let messages = read["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{read}");
    let found = &messages[0];
    assert_eq!(found["return_path"], "<alice@example.com>");
    assert_eq!(
        found["original_to"],
        serde_json::json!(["bob@example.org", "dave@example.net", "carol@example.org"])
    );
    assert_eq!(found["subject"], "Café report");
    assert_eq!(found["defects"], serde_json::json!([]), "{found}");
    assert_eq!(found["cr_line_ends"], false);
    assert_eq!(
        found["attachments"],
        serde_json::json!(["logo.png", "report.pdf"])
    );

    // s-nail: no "Not a header line", the envelope recipients visible.
    let (stdout, stderr) = s_nail(&dir, "headers\nType 1\n");
    assert!(stderr.is_empty(), "s-nail warned:\n{stderr}");
    for expected in [
        "Return-Path: <alice@example.com>",
        "X-Original-To: dave@example.net",
        "Subject: Café report",
        "report.pdf",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs s-nail on a Maildir, read-only, with no start-up files; its stdout and stderr.
fn s_nail(maildir: &Path, commands: &str) -> (String, String) {
    let home = maildir.with_extension("home");
    std::fs::create_dir_all(&home).expect("a HOME for s-nail");
    let mut command = std::process::Command::new("s-nail");
    // -n: no system start-up file; -N: no header summary at start; -R: read-only;
    // -#: batch mode (commands from stdin, no prompts).
    command
        .args([
            "-n",
            "-N",
            "-R",
            "-#",
            "-f",
            maildir.to_str().expect("utf-8"),
        ])
        .env("HOME", &home)
        .env("MAILRC", "/dev/null")
        .env("LC_ALL", "C.UTF-8")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot run s-nail (ci/setup.sh installs it, Debian package s-nail): {e}")
    });
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(commands.as_bytes()).expect("commands");
    }
    let output = child.wait_with_output().expect("s-nail finishes");
    let _ = std::fs::remove_dir_all(&home);
    assert!(output.status.success(), "s-nail failed: {output:?}");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Issue 9, item 28: `StoredMessage` offered raw octets and a summary only; a test needs the
/// parts, as GreenMail gives `MimeMessage`s: header fields, text and HTML bodies, attachments
/// with name, type and content, inline parts by Content-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_message_gives_its_parts() {
    let server = start().await;
    let (sent, message) = send_mime(&server).await;
    server.shutdown().await;
    let parsed = message.parsed();

    assert_eq!(parsed.subject(), Some("Café report"));
    assert_eq!(
        parsed.header("to").as_deref(),
        Some("Bob <bob@example.org>")
    );
    let names: Vec<&str> = parsed.headers().iter().map(|(name, _)| *name).collect();
    for name in [
        "From",
        "To",
        "Cc",
        "Subject",
        "MIME-Version",
        "Content-Type",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    assert!(!names.contains(&"Bcc"), "{names:?}");
    assert_eq!(
        parsed.text_body().as_deref(),
        Some("Hello Bob,\r\nthe report is attached.\r\n")
    );
    let cid = sent["cid"].as_str().expect("cid");
    let html = parsed.html_body().expect("an HTML body");
    assert!(html.contains(&format!("cid:{cid}")), "{html}");

    let attachments = parsed.attachments();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0].name.as_deref(), Some("report.pdf"));
    assert_eq!(attachments[0].content_type, "application/pdf");
    assert_eq!(attachments[0].content, base64_field(&sent, "pdf"));

    let inline = parsed.inline_parts();
    assert_eq!(inline.len(), 1, "{inline:?}");
    assert_eq!(inline[0].content_id.as_deref(), Some(cid));
    let image = parsed
        .part_by_content_id(&format!("cid:{cid}"))
        .expect("the image by Content-ID");
    assert_eq!(image.content_type, "image/png");
    assert_eq!(image.name.as_deref(), Some("logo.png"));
    assert_eq!(image.content, base64_field(&sent, "png"));
}
