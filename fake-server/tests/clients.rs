//! Real third-party clients against the fake server over real sockets: Python's smtplib,
//! curl and lettre. A missing client fails the test (ci/setup.sh installs them).

mod common;

use std::time::Duration;

use common::*;
use fake_server::{Server, SessionConfig};

async fn smtplib(server: &Server, mode: &str) -> serde_json::Value {
    let address = server.smtp_addr();
    let output = run_client_async(
        "python3",
        vec![
            script("smtplib_send.py"),
            address.ip().to_string(),
            address.port().to_string(),
            mode.to_owned(),
        ],
        None,
    )
    .await;
    serde_json::from_str(assert_success(&output).trim()).expect("the script prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sends_one_message() {
    let server = start().await;
    let result = smtplib(&server, "one").await;
    assert_eq!(result["refused"], serde_json::json!({}));
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    let message = &messages[0];
    assert_eq!(message.mail_from(), "<alice@example.com>");
    assert_eq!(message.rcpt_to(), ["<bob@example.org>"]);
    assert_eq!(
        message.summary().subject.as_deref(),
        Some("hello from smtplib")
    );
    // smtplib dot-stuffed the line; the stored copy has it back as written.
    assert!(message
        .content_str()
        .contains("\r\n.a line starting with a dot\r\n"));
    assert!(message.delivered().starts_with(
        b"Return-Path: <alice@example.com>\nX-Original-To: bob@example.org\nReceived: from "
    ));
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("C: QUIT\nS: 221 2.0.0 localhost closing connection"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sends_to_many_recipients() {
    let server = start().await;
    smtplib(&server, "many-recipients").await;
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    assert_eq!(messages[0].rcpt_to().len(), 150);
    assert_eq!(messages[0].rcpt_to()[149], "<user149@example.org>");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sends_an_8bit_body_with_body_8bitmime() {
    let server = start().await;
    smtplib(&server, "eightbit").await;
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    let message = &messages[0];
    assert!(message.content_str().contains("Café crème, naïve façade"));
    assert!(message.report.eight_bit);
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(transcript.contains("BODY=8BITMIME"), "{transcript}");
    assert!(
        !transcript.contains("C-5321-8BIT-NEGOTIATED"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sends_to_an_smtputf8_address() {
    let server = start().await;
    smtplib(&server, "smtputf8").await;
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    assert_eq!(messages[0].mail_from(), "<用户@例子.广告>");
    assert_eq!(messages[0].rcpt_to(), ["<δοκιμή@παράδειγμα.δοκιμή>"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtplib_sees_552_for_a_message_over_the_limit_and_goes_on() {
    let server = start_with(Server::builder().session_config(SessionConfig {
        max_message_size: 1000,
        ..SessionConfig::default()
    }))
    .await;
    let result = smtplib(&server, "too-big").await;
    // smtplib declares SIZE, so the refusal comes at MAIL (RFC 1870 §6.1).
    assert_eq!(result["error"][0], 552);
    assert_eq!(result["noop"], 250);
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_sends_a_file_with_crlf_line_ends() {
    let server = start().await;
    let url = format!("smtp://{}/client.example", server.smtp_addr());
    let output = run_client_async(
        "curl",
        vec![
            "--silent".into(),
            "--show-error".into(),
            "--url".into(),
            url,
            "--mail-from".into(),
            "curl@example.com".into(),
            "--mail-rcpt".into(),
            "one@example.org".into(),
            "--mail-rcpt".into(),
            "two@example.org".into(),
            "--upload-file".into(),
            "-".into(),
        ],
        Some(b"From: curl@example.com\r\nSubject: from curl\r\n\r\nHello.\r\n.dot\r\n".to_vec()),
    )
    .await;
    assert_success(&output);
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    assert_eq!(
        messages[0].rcpt_to(),
        ["<one@example.org>", "<two@example.org>"]
    );
    assert_eq!(messages[0].helo.as_deref(), Some("client.example"));
    assert_eq!(
        messages[0].raw,
        b"From: curl@example.com\r\nSubject: from curl\r\n\r\nHello.\r\n.dot\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_lf_line_ends_is_accepted_and_noted() {
    let server = start().await;
    let output = run_client_async(
        "curl",
        vec![
            "--silent".into(),
            "--show-error".into(),
            "--url".into(),
            format!("smtp://{}", server.smtp_addr()),
            "--mail-from".into(),
            "curl@example.com".into(),
            "--mail-rcpt".into(),
            "one@example.org".into(),
            "-T".into(),
            "-".into(),
        ],
        Some(b"Subject: lf only\n\nline one\nline two\n".to_vec()),
    )
    .await;
    assert_success(&output);
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    assert_eq!(messages[0].report.bare_lf, 4);
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("!! C-5321-NO-BARE-CR-LF: 0 bare CR and 4 bare LF in the content"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_sends_a_message() {
    use lettre::message::{header::ContentType, Mailbox as LettreMailbox, Message};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

    let server = start().await;
    let address = server.smtp_addr();
    let email = Message::builder()
        .from(
            "Lettre <lettre@example.com>"
                .parse::<LettreMailbox>()
                .expect("from"),
        )
        .to("Rust <rust@example.org>"
            .parse::<LettreMailbox>()
            .expect("to"))
        .subject("hello from lettre")
        .header(ContentType::TEXT_PLAIN)
        .body("Sent by lettre.\n".to_owned())
        .expect("message");
    let transport =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(address.ip().to_string())
            .port(address.port())
            .timeout(Some(Duration::from_secs(10)))
            .build();
    let response = transport.send(email).await.expect("lettre sends");
    assert!(response.is_positive());
    assert!(response.message().any(|line| line.contains("OK queued as")));
    let messages = server.wait_for_messages(1, WAIT).await.expect("message");
    assert_eq!(messages[0].mail_from(), "<lettre@example.com>");
    assert_eq!(
        messages[0].summary().subject.as_deref(),
        Some("hello from lettre")
    );
}
