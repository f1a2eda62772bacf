//! `smtp-harness messages` and `probe --message` / `--message-file` as a black box, and the
//! 8-bit downgrade against fake-smtp playing `behaviours/no-8bitmime`.

use std::net::SocketAddr;
use std::process::Command;

use fake_server::{Scenario, Server};

fn harness(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
        .args(args)
        .output()
        .expect("run smtp-harness")
}

async fn server(scenario: &str) -> Server {
    Server::builder()
        .smtp(SocketAddr::from(([127, 0, 0, 1], 0)))
        .scenario(Scenario::load(scenario).expect("built-in scenario"))
        .start()
        .await
        .expect("server")
}

async fn probe(server: &Server, extra: &[&str]) -> (String, bool) {
    let mut args: Vec<String> = vec![
        "probe".into(),
        server.smtp_addr().to_string(),
        "--flow".into(),
        "tls-opportunistic".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_smtp-harness"))
            .args(&args)
            .output()
            .expect("run smtp-harness")
    })
    .await
    .expect("thread");
    (
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
        output.status.success(),
    )
}

#[test]
fn messages_lists_every_shape_and_prints_one() {
    let output = harness(&["messages"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    for shape in smtp_harness::message::SHAPES {
        assert!(
            text.lines().any(|l| l.starts_with(shape.name)),
            "{} missing:\n{text}",
            shape.name
        );
    }
    let nested = harness(&["messages", "nested"]);
    assert!(nested.status.success());
    let raw = String::from_utf8_lossy(&nested.stdout);
    assert!(raw.contains("Subject: =?GBK?B?"), "{raw}");
    assert!(raw.contains("Content-Transfer-Encoding: 8bit"), "{raw}");
    let seven = harness(&["messages", "nested", "--seven-bit"]);
    assert!(seven.stdout.is_ascii());
    let unknown = harness(&["messages", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no message shape named"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_body_is_downgraded_without_8bitmime() {
    let server = server("behaviours/no-8bitmime").await;
    let (text, ok) = probe(&server, &["--message", "plain-utf8"]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("** part 1 text/plain: 8bit -> quoted-printable: the server does not offer 8BITMIME (RFC 6152 §3)"),
        "{text}"
    );
    let mail = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("C: MAIL"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!mail(&text).contains("BODY="), "{text}");
    let stored = server.messages();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].raw.is_ascii());
    let raw = String::from_utf8_lossy(&stored[0].raw);
    assert!(
        raw.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
        "{raw}"
    );
    assert!(raw.contains("Gr=C3=BC=C3=9Fe aus Z=C3=BCrich"), "{raw}");

    // With 8BITMIME the same body goes as it is, announced with BODY=8BITMIME.
    let server = crate::server("default").await;
    let (text, ok) = probe(&server, &["--message", "plain-utf8"]).await;
    assert!(ok, "{text}");
    assert!(mail(&text).ends_with(" BODY=8BITMIME"), "{text}");
    assert!(String::from_utf8_lossy(&server.messages()[0].raw).contains("Grüße aus Zürich"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_file_is_sent_as_it_is_and_8bit_needs_8bitmime() {
    let dir = std::env::temp_dir().join(format!("harness-message-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("folder");
    let file = dir.join("mine.eml");
    std::fs::write(
        &file,
        "From: <me@test.example>\nSubject: mine\nDate: Thu, 1 Jan 2026 00:00:00 +0000\n\
Message-ID: <mine@test.example>\n\nCafé\n",
    )
    .expect("write");
    let path = file.display().to_string();
    let server = server("default").await;
    let (text, ok) = probe(&server, &["--message-file", &path]).await;
    assert!(ok, "{text}");
    assert!(server.messages()[0]
        .raw
        .ends_with("\r\nCafé\r\n".as_bytes()));
    let server = crate::server("behaviours/no-8bitmime").await;
    let (text, ok) = probe(&server, &["--message-file", &path]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("needs 8BITMIME"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_addresses_are_refused_without_smtputf8() {
    let server = server("behaviours/no-smtputf8").await;
    let (text, ok) = probe(&server, &["--message", "international"]).await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("need SMTPUTF8 (RFC 6531), which the server does not offer"),
        "{text}"
    );
    assert!(!text.contains("C: MAIL"), "{text}");
    assert!(server.messages().is_empty());
}
