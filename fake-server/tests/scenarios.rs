//! Scenarios played to real clients over real sockets: each behaviour and provider quirk is
//! shown from the client's side (Python's smtplib where the symptom is visible there, a raw
//! socket where exact octets matter), with the paused tokio clock for timing.

mod common;

use std::time::Duration;

use common::*;
use fake_server::{Scenario, Server};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn start_scenario(name: &str) -> Server {
    let scenario = Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    start_with(Server::builder().scenario(scenario)).await
}

/// Runs tests/clients/scenario_client.py and returns its JSON report.
async fn python(server: &Server, action: &str, options: &[&str]) -> Value {
    let address = server.smtp_addr();
    let mut args = vec![
        script("scenario_client.py"),
        address.ip().to_string(),
        address.port().to_string(),
        action.to_owned(),
    ];
    args.extend(options.iter().map(|o| (*o).to_owned()));
    let output = run_client_async("python3", args, None).await;
    let stdout = assert_success(&output);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_quit_garbage_makes_python_raise_after_a_successful_send() {
    let server = start_scenario("providers/qq/quit-garbage").await;
    let report = python(&server, "send", &[]).await;
    // The symptom users report: the `with` block raises SMTPResponseException(-1, b'\x00\x00\x00')
    // although the message was delivered.
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(report["error"]["type"], "SMTPResponseException", "{report}");
    assert_eq!(report["error"]["code"], -1);
    assert_eq!(report["error"]["message"], "\u{0}\u{0}\u{0}");
    assert_eq!(
        server
            .wait_for_messages(1, WAIT)
            .await
            .expect("delivered")
            .len(),
        1
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("C: QUIT\nS (raw): \\x00\\x00\\x00\\x1a\\x00\\x00\\x00\n"),
        "{transcript}"
    );
    assert!(transcript.contains("S: 250 OK: queued as."), "{transcript}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_rset_garbage() {
    let server = start_scenario("providers/qq/rset-garbage").await;
    let report = python(&server, "rset", &[]).await;
    assert_eq!(report["sent"], 1, "{report}");
    assert_eq!(
        report["rset"],
        serde_json::json!([-1, "\u{0}\u{0}\u{0}"]),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_plaintext_auth_gets_530_and_the_connection_closes() {
    let server = start_scenario("providers/qq/plaintext-auth-530-close").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nAUTH LOGIN\r\nNOOP\r\n").await;
    assert!(output.contains("250-STARTTLS\r\n"), "{output}");
    assert!(
        output.ends_with("530 Login fail. A secure connection is requiered(such as ssl). More information at http://service.mail.qq.com/cgi-bin/help?id=28\r\n"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_helo_gets_a_multiline_reply() {
    let server = start_scenario("providers/qq/helo-multiline").await;
    let report = python(&server, "helo", &[]).await;
    assert_eq!(
        report["helo"],
        serde_json::json!([
            250,
            "newxmesmtplogicsvrsza5.qq.com-9.22.14.83-59403186\nSIZE 73400320\nOK"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_sender_mismatch_gets_501() {
    let server = start_scenario("providers/qq/sender-mismatch-501").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["type"], "SMTPSenderRefused", "{report}");
    assert_eq!(report["error"]["code"], 501);
    assert_eq!(
        report["error"]["message"],
        "Mail from address must be same as authorization user."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netease_dtspm_554_after_the_dot() {
    let server = start_scenario("providers/163/dtspm-554").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["type"], "SMTPDataError", "{report}");
    assert_eq!(report["error"]["code"], 554);
    let message = report["error"]["message"].as_str().expect("text");
    assert!(message.starts_with("DT:SPM 163 smtp12,"), "{message}");
    assert!(
        message.contains("help_spam_16.htm?ip=127.0.0.1&hostid=smtp12"),
        "{message}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netease_550_in_answer_to_auth() {
    let server = start_scenario("providers/163/auth-550-no-permission").await;
    let report = python(&server, "login", &["--login", "user@163.com", "secret"]).await;
    assert_eq!(
        report["error"]["type"], "SMTPAuthenticationError",
        "{report}"
    );
    assert_eq!(report["error"]["code"], 550);
    assert_eq!(report["error"]["message"], "User has no permission");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netease_ehlo_has_no_size_and_a_coremail_line() {
    let server = start_scenario("providers/163/base").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert!(
        output.contains("250-mail\r\n250-PIPELINING\r\n"),
        "{output}"
    );
    assert!(output.contains(
        "250-coremail 1Uxr2xKj7kG0xkI17xGrU7I0s8FY2U3Uj8Cz28x1UUUUU7Ic2I0Y2Ur1VxEZUCa0xDrUUUUj\r\n"
    ));
    assert!(!output.contains("SIZE"), "{output}");
    // Python still sends through it.
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_two_line_535() {
    let server = start_scenario("providers/gmail/multiline-535").await;
    // Gmail offers AUTH only after TLS; make smtplib try anyway to see the 535.
    let report = python(
        &server,
        "login",
        &["--force-auth", "PLAIN", "--login", "me@gmail.com", "wrong"],
    )
    .await;
    assert_eq!(
        report["error"]["type"], "SMTPAuthenticationError",
        "{report}"
    );
    assert_eq!(report["error"]["code"], 535);
    let message = report["error"]["message"].as_str().expect("text");
    assert!(
        message.starts_with("5.7.8 Username and Password not accepted. Learn more at\n5.7.8  https://support.google.com/mail/?p=BadCredentials "),
        "{message}"
    );
    assert!(message.ends_with(" - gsmtp"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_without_starttls() {
    let server = start_scenario("providers/gmail/starttls-required").await;
    let report = python(&server, "login", &["--login", "me@gmail.com", "secret"]).await;
    assert_eq!(report["error"]["type"], "SMTPNotSupportedError", "{report}");
    assert_eq!(
        report["error"]["message"],
        "SMTP AUTH extension not supported by server."
    );
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["code"], 530, "{report}");
    assert!(report["error"]["message"]
        .as_str()
        .expect("text")
        .starts_with("5.7.0 Must issue a STARTTLS command first."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_refuses_a_large_declared_size_at_mail() {
    let server = start_scenario("providers/gmail/size-552-at-mail").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nMAIL FROM:<a@gmail.com> SIZE=35882578\r\nMAIL FROM:<a@gmail.com> SIZE=35882577\r\n").await;
    assert!(output.contains("552-5.2.3 Your message exceeded Google's message size limits. Please visit\r\n552-5.2.3  https://support.google.com/mail/?p=MaxSizeError to view our size\r\n552 5.2.3 guidelines. "), "{output}");
    assert!(output.contains("250 2.1.0 OK "), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gmail_pipelined_rcpt_rejection_then_data_503() {
    let server = start_scenario("providers/gmail/rcpt-reject-data-503").await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@gmail.com>\r\nRCPT TO:<nobody@gmail.com>\r\nDATA\r\nbody that must not be read as commands\r\n.\r\nQUIT\r\n",
    )
    .await;
    let finals: Vec<&str> = output.lines().filter(|l| !l.starts_with("250-")).collect();
    assert!(
        finals[3]
            .starts_with("550 5.1.1 The email account that you tried to reach does not exist."),
        "{output}"
    );
    assert!(finals[4].starts_with("503 5.5.1 RCPT first. "), "{output}");
    // The body lines the client sent anyway are read as commands.
    assert!(finals[5].starts_with("500 5.5.2"), "{output}");
    assert!(server.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_451_starttls_required() {
    let server = start_scenario("providers/outlook/starttls-required-451").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["type"], "SMTPSenderRefused", "{report}");
    assert_eq!(report["error"]["code"], 451);
    assert!(report["error"]["message"]
        .as_str()
        .expect("text")
        .starts_with("5.7.3 STARTTLS is required to send mail ["));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_offers_no_auth_before_tls() {
    // The 535 5.7.139 itself needs TLS first: see tls_auth.rs, provider_auth_quirks_over_tls.
    let server = start_scenario("providers/outlook/basic-auth-disabled").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nAUTH LOGIN\r\nQUIT\r\n").await;
    assert!(
        output.contains("250-AM3PR05CA0094.outlook.office365.com Hello [127.0.0.1]\r\n"),
        "{output}"
    );
    assert!(!output.contains("AUTH LOGIN XOAUTH2"), "{output}");
    assert!(
        output.contains("502 5.5.1 Command not implemented\r\n"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yahoo_malformed_keyword_and_535() {
    let server = start_scenario("providers/yahoo/bad-auth-535").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert!(
        output.contains("250-8 BITMIME\r\n250 AUTH PLAIN LOGIN XOAUTH2 XYMCOOKIE\r\n"),
        "{output}"
    );
    let report = python(&server, "login", &["--login", "me@yahoo.com", "password"]).await;
    assert_eq!(report["error"]["code"], 535, "{report}");
    assert_eq!(
        report["error"]["message"],
        "5.7.0 (#AUTH005) Too many bad auth attempts."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_553_after_the_dot() {
    let server = start_scenario("providers/zoho/553-after-dot").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["type"], "SMTPDataError", "{report}");
    assert_eq!(report["error"]["code"], 553);
    assert_eq!(report["error"]["message"], "Relaying disallowed as @");
}

#[tokio::test(start_paused = true)]
async fn zoho_ehlo_lines_arrive_in_separate_writes() {
    let server = start_scenario("providers/zoho/split-ehlo-packets").await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    let started = tokio::time::Instant::now();
    stream
        .write_all(b"EHLO client.test\r\n")
        .await
        .expect("write");
    let reply = read_reply(&mut stream, "250").await;
    assert_eq!(
        reply,
        "250-mx.zohomail.com Hello client.test\r\n250-STARTTLS\r\n250 SIZE 53477376\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ses_throttling_454() {
    let server = start_scenario("providers/ses/throttling-454").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["code"], 454, "{report}");
    assert_eq!(
        report["error"]["message"],
        "Throttling failure: Maximum sending rate exceeded."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greylisting_refuses_the_first_attempt_and_an_early_retry() {
    let server = start_scenario("behaviours/greylisting").await;
    let first = python(&server, "send", &[]).await;
    assert_eq!(first["error"]["type"], "SMTPRecipientsRefused", "{first}");
    assert_eq!(
        first["error"]["recipients"]["bob@example.org"],
        serde_json::json!([451, "4.7.1 Greylisted, please try again later"])
    );
    // Another pair is greylisted on its own.
    let other = python(&server, "send", &["--to", "carol@example.org"]).await;
    assert_eq!(other["error"]["type"], "SMTPRecipientsRefused", "{other}");
}

#[tokio::test(start_paused = true)]
async fn greylisting_accepts_a_retry_after_the_delay() {
    let server = start_scenario("behaviours/greylisting").await;
    let attempt = || async {
        converse(
            server.smtp_addr(),
            b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nQUIT\r\n",
        )
        .await
    };
    assert!(attempt().await.contains("451 4.7.1 Greylisted"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(attempt().await.contains("451 4.7.1 Greylisted"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let retry = attempt().await;
    assert!(
        retry.contains("250 2.1.5 Recipient <b@example.org> OK"),
        "{retry}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_closes_with_421_at_the_fourth_message() {
    let server = start_scenario("behaviours/rate-limit-421").await;
    let report = python(&server, "send", &["--count", "5"]).await;
    assert_eq!(report["sent"], 3, "{report}");
    assert_eq!(report["error"]["code"], 421, "{report}");
    assert_eq!(
        server
            .wait_for_messages(3, WAIT)
            .await
            .expect("three")
            .len(),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn tarpit_trickles_the_greeting() {
    let server = start_scenario("behaviours/tarpit").await;
    let started = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    let greeting = read_reply(&mut stream, "220").await;
    assert_eq!(greeting, "220 localhost ESMTP fake-smtp ready\r\n");
    // 2s first, then 100ms between each of the 37 octets.
    assert!(
        started.elapsed() >= Duration::from_millis(2000 + 36 * 100),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_refused_at_mail() {
    let server = start_scenario("behaviours/size-refused-at-mail").await;
    let report = python(&server, "send", &["--body-size", "20000"]).await;
    assert_eq!(report["error"]["type"], "SMTPSenderRefused", "{report}");
    assert_eq!(report["error"]["code"], 552);
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert!(output.contains("250-SIZE 10240\r\n"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_rejection_of_the_second_recipient() {
    let server = start_scenario("behaviours/pipelined-rejection").await;
    let report = python(
        &server,
        "send",
        &["--to", "one@example.org,two@example.org"],
    )
    .await;
    assert_eq!(
        report["refused"]["two@example.org"],
        serde_json::json!([550, "5.1.1 No such user here"]),
        "{report}"
    );
    let messages = server
        .wait_for_messages(1, WAIT)
        .await
        .expect("sent to the first");
    assert_eq!(messages[0].rcpt_to(), ["<one@example.org>"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_in_the_middle_of_data() {
    let server = start_scenario("behaviours/disconnect-mid-data").await;
    let report = python(&server, "send", &["--body-size", "2000000"]).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        [
            "SMTPServerDisconnected",
            "ConnectionResetError",
            "BrokenPipeError"
        ]
        .contains(&report["error"]["type"].as_str().expect("type")),
        "{report}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test(start_paused = true)]
async fn slow_multiline_greeting() {
    let server = start_scenario("behaviours/slow-greeting").await;
    let started = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    let greeting = read_reply(&mut stream, "220").await;
    assert_eq!(
        greeting,
        "220-localhost slow greeting, line 1\r\n220-line 2\r\n220 localhost ESMTP ready\r\n"
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_554_greeting_refuses_service() {
    let server = start_scenario("behaviours/greeting-554").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["type"], "SMTPConnectError", "{report}");
    assert_eq!(report["error"]["code"], 554);
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert_eq!(
        output,
        "554 localhost No SMTP service here\r\n503 5.5.1 Bad sequence of commands\r\n221 2.0.0 localhost closing connection\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_greeting_closes() {
    let server = start_scenario("behaviours/greeting-421").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\n").await;
    assert_eq!(
        output,
        "421 4.3.2 localhost Service not available, closing transmission channel\r\n"
    );
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["error"]["code"], 421, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multiline_greeting_is_read_whole_by_smtplib() {
    let server = start_scenario("behaviours/multiline-greeting").await;
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["ok"], true, "{report}");
    let output = converse(server.smtp_addr(), b"QUIT\r\n").await;
    assert!(output.starts_with("220-localhost ESMTP Exim 4.98 #2\r\n220-We do not authorize the use of this system to transport unsolicited, \r\n220 and/or bulk e-mail.\r\n"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pipelined_input() {
    let server = start_scenario("behaviours/drop-pipelined-input").await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    stream
        .write_all(b"EHLO x\r\nNOOP\r\nNOOP\r\n")
        .await
        .expect("write");
    read_reply(&mut stream, "250").await;
    // The NOOPs were lost; the next command, sent alone, is answered.
    stream.write_all(b"QUIT\r\n").await.expect("write");
    assert_eq!(
        read_all(&mut stream).await,
        "221 2.0.0 localhost closing connection\r\n"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    assert!(sessions[0]
        .transcript
        .render(false)
        .contains("12 pipelined octets discarded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_pipelining() {
    let server = start_scenario("behaviours/refuse-pipelining").await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n",
    )
    .await;
    assert!(
        output.ends_with("554 5.5.0 Pipelining not supported\r\n"),
        "{output}"
    );
    // A client that waits for each reply is served.
    let report = python(&server, "send", &[]).await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_extensions_are_neither_advertised_nor_honoured() {
    let server = start_scenario("behaviours/no-8bitmime").await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@b.c> BODY=8BITMIME\r\nQUIT\r\n",
    )
    .await;
    assert!(!output.contains("8BITMIME\r\n"), "{output}");
    assert!(!output.contains("SMTPUTF8"), "{output}");
    assert!(output.contains("250-CHUNKING\r\n"), "{output}");
    assert!(output.contains("\r\n555 "), "{output}");
    let server = start_scenario("behaviours/no-chunking").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert!(
        !output.contains("CHUNKING") && !output.contains("BINARYMIME"),
        "{output}"
    );
    assert!(output.contains("250-8BITMIME\r\n"), "{output}");
    let server = start_scenario("behaviours/no-smtputf8").await;
    let output = converse(server.smtp_addr(), b"EHLO x\r\nQUIT\r\n").await;
    assert!(!output.contains("SMTPUTF8"), "{output}");
    assert!(output.contains("250-8BITMIME\r\n"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_data_rules_look_at_headers_body_and_size() {
    let scenario = Scenario::from_yaml(
        "content",
        r#"
server: { max-recipients: 100 }
on:
  end-of-data:
    - when: { header: { name: subject, value: "(?i)viagra" } }
      reply: "554 5.7.1 Spam (subject)"
    - when: { body: "(?mR)^BAD WORD$" }
      reply: "554 5.7.1 Spam (body)"
    - when: { size: { at-least: 3000 } }
      reply: "552 5.3.4 Too big for this scenario"
"#,
    )
    .expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let send = |content: String| {
        let address = server.smtp_addr();
        async move {
            converse(
                address,
                format!("EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n{content}.\r\nQUIT\r\n").as_bytes(),
            )
            .await
        }
    };
    assert!(
        send("Subject: cheap\r\n  VIAGRA here\r\n\r\nhello\r\n".into())
            .await
            .contains("554 5.7.1 Spam (subject)")
    );
    assert!(send("Subject: hi\r\n\r\nsome text\r\nBAD WORD\r\n".into())
        .await
        .contains("554 5.7.1 Spam (body)"));
    assert!(
        send(format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(3000)))
            .await
            .contains("552 5.3.4 Too big")
    );
    assert!(send("Subject: fine\r\n\r\nBAD WORDS are fine\r\n".into())
        .await
        .contains("250 2.0.0 OK queued as"));
    assert_eq!(
        server.wait_for_messages(1, WAIT).await.expect("one").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_limits_apply() {
    let scenario = Scenario::from_yaml("limits", "server: { max-recipients: 100, size: 2000 }\n")
        .expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let mut input = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n".to_vec();
    for i in 0..101 {
        input.extend_from_slice(format!("RCPT TO:<r{i}@d.e>\r\n").as_bytes());
    }
    input.extend_from_slice(b"QUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    assert!(output.contains("250-SIZE 2000\r\n"), "{output}");
    assert_eq!(output.matches("250 2.1.5").count(), 100);
    assert!(
        output.contains("452 4.5.3 Too many recipients\r\n"),
        "{output}"
    );
}

/// Office 365 refuses a message whose sender is not the authenticated user, at the end of
/// data (provider-quirks.md: `554 5.2.252 SendAsDenied`).
const SEND_AS_DENIED: &str = r#"
auth: { mechanisms: [PLAIN], in-cleartext: true }
on:
  rcpt:
    - when: { recipient: "^blocked@" }
      reply: "550 5.1.1 {recipient} unknown (sent by {user})"
  end-of-data:
    - when: { sender-is-user: false }
      reply: "554 5.2.252 SendAsDenied; {user} not allowed to send as {sender}; {recipient}"
    - when: { sender: "^alice@", recipient: "^bob@", recipients: { equals: 2 } }
      reply: "250 2.0.0 OK two for {recipient} from {sender} by {user} <{queue-id}>"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_data_rules_see_the_envelope_and_the_user() {
    let scenario = Scenario::from_yaml("send-as", SEND_AS_DENIED).expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    // AGFsaWNlQGV4YW1wbGUuY29tAHB3 is "\0alice@example.com\0pw".
    let login = "EHLO x\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHB3\r\n";
    let output = converse(
        server.smtp_addr(),
        format!(
            "{login}MAIL FROM:<boss@example.com>\r\nRCPT TO:<bob@example.org>\r\n\
             RCPT TO:<blocked@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(
        output.contains("550 5.1.1 blocked@example.org unknown (sent by alice@example.com)\r\n"),
        "{output}"
    );
    assert!(
        output.contains(
            "554 5.2.252 SendAsDenied; alice@example.com not allowed to send as \
             boss@example.com; bob@example.org\r\n"
        ),
        "{output}"
    );
    let output = converse(
        server.smtp_addr(),
        format!(
            "{login}MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n\
             RCPT TO:<carol@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(
        output.contains(
            "250 2.0.0 OK two for bob@example.org from alice@example.com by alice@example.com <"
        ),
        "{output}"
    );
    assert_eq!(
        server.wait_for_messages(1, WAIT).await.expect("one").len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_421_closes_unless_the_rule_keeps_the_connection_open() {
    let scenario = Scenario::from_yaml(
        "mail-421",
        "on:\n  mail:\n    - when: { sender: keep }\n      reply: \"421 4.7.0 Try again later\"\n      then: keep-open\n    - reply: \"421 4.7.0 Try again later\"\n",
    )
    .expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n",
    )
    .await;
    assert!(
        output.ends_with("250 HELP\r\n421 4.7.0 Try again later\r\n"),
        "{output}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    // RCPT was sent before the 421: recorded, neither run nor answered.
    assert!(
        transcript.contains("S: 421 4.7.0 Try again later\nC: RCPT TO:<c@d.example>\n"),
        "{transcript}"
    );
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<keep@b.example>\r\nRCPT TO:<c@d.example>\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.ends_with(
            "421 4.7.0 Try again later\r\n503 5.5.1 Need MAIL before RCPT\r\n\
             221 2.0.0 localhost closing connection\r\n"
        ),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_initial_response_can_still_be_refused() {
    let yaml =
        "auth: { mechanisms: [LOGIN], in-cleartext: true, login-initial-response: refuse }\n";
    let scenario = Scenario::from_yaml("strict-login", yaml).expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nAUTH LOGIN dXNlcg==\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.contains("501 5.7.0 Initial response not allowed for this mechanism\r\n"),
        "{output}"
    );
    let scenario = Scenario::from_yaml(
        "default-login",
        "auth: { mechanisms: [LOGIN], in-cleartext: true }\n",
    )
    .expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nAUTH LOGIN dXNlcg==\r\nQUIT\r\n",
    )
    .await;
    assert!(output.contains("334 UGFzc3dvcmQ6\r\n"), "{output}");
}

/// Sends `input`, half-closes and returns every octet the server wrote, as octets.
async fn converse_octets(server: &Server, input: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    stream.write_all(input).await.expect("write");
    stream.shutdown().await.expect("half-close");
    let mut output = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut output))
        .await
        .expect("in time")
        .expect("read");
    output
}

/// Issue 9 item 9: reply text that is not UTF-8 goes out as the octets written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qq_gbk_535_is_sent_as_gbk_octets() {
    let server = start_scenario("providers/qq/auth-code-gbk-535").await;
    let output = converse_octets(&server, b"EHLO x\r\nAUTH PLAIN AHUAcA==\r\nQUIT\r\n").await;
    let expected: &[u8] = b"535 Error: \xc7\xeb\xca\xb9\xd3\xc3\xca\xda\xc8\xa8\xc2\xeb\xb5\xc7\xc2\xbc\xa1\xa3\xcf\xea\xc7\xe9\xc7\xeb\xbf\xb4: http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256\r\n221 Bye.\r\n";
    assert!(
        output.ends_with(expected),
        "{}",
        String::from_utf8_lossy(&output)
    );
    // The transcript shows the octets that are not UTF-8 escaped.
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(transcript.contains("535 Error: \\xc7\\xeb"), "{transcript}");
}

/// Issue 9 item 11: `default` is what the scenario would send without the rule, what it
/// extends included (QQ's end-of-data text), not the RFC text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_in_steps_is_what_the_extended_scenario_sends() {
    let yaml = "extends: providers/qq/base\n\
                on:\n  end-of-data:\n    - steps: [{ delay: 10ms }, default]\n  \
                quit:\n    - when: { nth: 5 }\n      reply: \"221 never\"\n    \
                - steps: [default, close]\n";
    let scenario = Scenario::from_yaml("default-inherits", yaml).expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n\
          Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.ends_with(
            "354 End data with <CR><LF>.<CR><LF>.\r\n250 OK: queued as.\r\n221 Bye.\r\n"
        ),
        "{output}"
    );
}

/// Issue 9 item 14: output scheduled with `after` does not hold the session up: a command
/// sent meanwhile is answered at once, and the octets come unprompted when due.
#[tokio::test(start_paused = true)]
async fn after_writes_later_while_the_session_goes_on() {
    let yaml = "on:\n  noop:\n    - steps:\n        - default\n        \
                - { after: 1s, raw: { hex: \"00 00 00 1A 00 00 00\" } }\n";
    let scenario = Scenario::from_yaml("timer", yaml).expect("valid");
    let server = start_with(Server::builder().scenario(scenario)).await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    let started = tokio::time::Instant::now();
    stream.write_all(b"NOOP\r\n").await.expect("write");
    read_reply(&mut stream, "250").await;
    stream.write_all(b"RSET\r\n").await.expect("write");
    read_reply(&mut stream, "250").await;
    // Answered at once: the timer holds nothing up (a `delay` would have).
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let mut garbage = [0u8; 7];
    {
        use tokio::io::AsyncReadExt;
        stream
            .read_exact(&mut garbage)
            .await
            .expect("the timer's octets");
    }
    assert_eq!(garbage, [0, 0, 0, 0x1a, 0, 0, 0]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // QUIT before a timer is due: answered at once, and the timer is dropped with the session.
    stream.write_all(b"NOOP\r\nQUIT\r\n").await.expect("write");
    let rest = read_all(&mut stream).await;
    assert_eq!(
        rest,
        "250 2.0.0 OK\r\n221 2.0.0 localhost closing connection\r\n"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("the server writes unprompted (1s after it was scheduled)"),
        "{transcript}"
    );
}
