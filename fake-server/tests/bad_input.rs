//! Bad input over real sockets: each gets the RFC's reply or a clean close, a line in the
//! transcript, and afterwards the server serves the next client normally.

mod common;

use common::*;
use fake_server::{Server, SessionConfig};
use smtp_protocol::sasl::Mechanism;
use smtp_protocol::session::AuthConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_mebibyte_line_without_crlf() {
    let server = start().await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    read_reply(&mut stream, "220").await;
    let line = vec![b'A'; 1024 * 1024];
    stream.write_all(&line).await.expect("write the long line");
    let reply = read_reply(&mut stream, "500").await;
    assert!(reply.ends_with("500 5.5.2 Line too long\r\n"), "{reply}");
    stream
        .write_all(b"\r\nNOOP\r\nQUIT\r\n")
        .await
        .expect("write");
    let rest = read_all(&mut stream).await;
    assert_eq!(
        rest,
        "250 2.0.0 OK\r\n221 2.0.0 localhost closing connection\r\n"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    assert!(sessions[0]
        .transcript
        .render(false)
        .contains("!! C-5321-CMD-LINE-512: command line over"));
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_and_binary_garbage_in_commands() {
    let server = start().await;
    let mut garbage = b"\0\0\0\x1a\0\0\0\r\n".to_vec();
    garbage.extend(
        (0u8..=255)
            .cycle()
            .take(2000)
            .map(|b| if b == b'\n' { b'x' } else { b }),
    );
    garbage.extend_from_slice(b"\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\nQUIT\r\n");
    let output = converse(server.smtp_addr(), &garbage).await;
    let replies: Vec<&str> = output.lines().collect();
    assert_eq!(replies[1], "500 5.5.2 Syntax error - invalid character");
    assert_eq!(
        replies.last(),
        Some(&"221 2.0.0 localhost closing connection")
    );
    assert!(
        replies[1..replies.len() - 1]
            .iter()
            .all(|r| r.starts_with("500 5.5.2")),
        "{replies:?}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    assert!(sessions[0]
        .transcript
        .render(false)
        .contains("C: \\x00\\x00\\x00\\x1a"));
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_lf_line_endings() {
    let server = start().await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO lf.example\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.org>\nDATA\n\
          Subject: lf\n\nbody\n.\nstill content\r\n.\r\nQUIT\n",
    )
    .await;
    // The commands are answered; the content ends only at CRLF.CRLF (RFC 5321 §4.1.1.4) and
    // holds a <LF>.<LF> look-alike, so it is refused.
    assert!(output.contains("354 "), "{output}");
    assert!(output.contains("554 5.5.2"), "{output}");
    assert!(
        output.ends_with("221 2.0.0 localhost closing connection\r\n"),
        "{output}"
    );
    assert!(server.messages().is_empty());
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(transcript.contains("!! C-5321-LINE-CRLF"), "{transcript}");
    assert!(
        transcript.contains("!! C-5321-SMUGGLE-EOD: end-of-data look-alike <LF>.<LF>"),
        "{transcript}"
    );
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_in_the_middle_of_data() {
    let server = start().await;
    let mut stream = TcpStream::connect(server.smtp_addr())
        .await
        .expect("connect");
    stream
        .write_all(b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        .await
        .expect("write");
    read_reply(&mut stream, "354").await;
    stream
        .write_all(b"Subject: cut\r\n\r\nhalf of the")
        .await
        .expect("write");
    drop(stream);
    let sessions = server.wait_for_sessions(1, WAIT).await;
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].messages.is_empty());
    assert!(sessions[0]
        .transcript
        .render(false)
        .contains("connection closed during a transaction; nothing stored"));
    assert!(server.messages().is_empty());
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_half_closes_gets_every_reply() {
    let server = start().await;
    // `converse` writes everything, shuts down its sending side, then reads to the end.
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nhi\r\n.\r\n",
    )
    .await;
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    assert_eq!(
        server
            .wait_for_messages(1, WAIT)
            .await
            .expect("stored")
            .len(),
        1
    );
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pipelined_commands_in_one_write() {
    let server = start().await;
    let mut input = b"EHLO pipe\r\n".to_vec();
    for i in 0..333 {
        input.extend_from_slice(
            format!("MAIL FROM:<s{i}@example.com>\r\nRCPT TO:<r{i}@example.org>\r\nRSET\r\n")
                .as_bytes(),
        );
    }
    input.extend_from_slice(b"QUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    let finals: Vec<&str> = output.lines().filter(|l| !l.starts_with("250-")).collect();
    // greeting + EHLO + 999 + QUIT, in order.
    assert_eq!(finals.len(), 1 + 1 + 999 + 1);
    for i in 0..333 {
        assert_eq!(
            finals[2 + 3 * i],
            format!("250 2.1.0 Sender <s{i}@example.com> OK")
        );
        assert_eq!(
            finals[3 + 3 * i],
            format!("250 2.1.5 Recipient <r{i}@example.org> OK")
        );
        assert_eq!(finals[4 + 3 * i], "250 2.0.0 Reset OK");
    }
    assert_eq!(
        finals.last(),
        Some(&"221 2.0.0 localhost closing connection")
    );
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit() {
    let server = start_with(Server::builder().session_config(SessionConfig {
        max_message_size: 1024,
        ..SessionConfig::default()
    }))
    .await;
    let mut input =
        b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n".to_vec();
    input.extend(std::iter::repeat_n(b"0123456789abcdef0123456789abcdef\r\n", 100).flatten());
    input.extend_from_slice(b".\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    assert!(
        output.contains("552 5.3.4 Message size exceeds fixed maximum message size\r\n"),
        "{output}"
    );
    assert!(output.contains("250 2.0.0 OK queued as"), "{output}");
    let messages = server
        .wait_for_messages(1, WAIT)
        .await
        .expect("the small one");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].raw, b"small\r\n");
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_in_every_wrong_order() {
    let server = start().await;
    let output = converse(
        server.smtp_addr(),
        b"DATA\r\nRCPT TO:<b@example.org>\r\nMAIL FROM:<a@example.com>\r\nBDAT 4 LAST\r\nxy\r\nHELO x\r\n\
          DATA\r\nRCPT TO:<b@example.org>\r\nMAIL FROM:<a@example.com>\r\nMAIL FROM:<a@example.com>\r\n\
          DATA\r\nQUIT\r\n",
    )
    .await;
    let codes: Vec<&str> = output.lines().map(|l| &l[..3]).collect();
    // Before EHLO, BDAT gets 503 and its 4 octets ("xy" and CRLF) are read and discarded,
    // never run as a command (RFC 3030 §2).
    assert_eq!(
        codes,
        ["220", "503", "503", "503", "503", "250", "503", "503", "250", "503", "554", "221"],
        "{output}"
    );
    assert_serves_normally(&server).await;
}

/// The final reply lines, EHLO's continuation lines left out.
fn finals(output: &str) -> Vec<&str> {
    output.lines().filter(|l| !l.starts_with("250-")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bdat_chunk_never_runs_as_commands() {
    let server = start().await;
    // 19 octets: "EHLO evil.example" and its CRLF; 6: "RSET" and its CRLF.
    let output = converse(
        server.smtp_addr(),
        b"BDAT 19 LAST\r\nEHLO evil.example\r\nEHLO x\r\nMAIL FROM:<a@example.com>\r\n\
          RCPT TO:<b@example.org>\r\nBDAT 6 FINAL\r\nRSET\r\nBDAT 6 LAST extra\r\nRSET\r\n\
          MAIL FROM:<a@example.com>\r\nQUIT\r\n",
    )
    .await;
    assert_eq!(
        finals(&output),
        [
            "220 localhost ESMTP fake-smtp ready",
            "503 5.5.1 Send EHLO or HELO first",
            "250 HELP",
            "250 2.1.0 Sender <a@example.com> OK",
            "250 2.1.5 Recipient <b@example.org> OK",
            "501 5.5.4 Syntax error: expected BDAT size [LAST]",
            "501 5.5.4 Syntax error: expected BDAT size [LAST]",
            // Neither RSET ran: the failed BDAT still holds the transaction.
            "503 5.5.1 RSET required after a failed BDAT",
            "221 2.0.0 localhost closing connection",
        ],
        "{output}"
    );
    // HELO offers no CHUNKING: 502, and the chunk is still read.
    let output = converse(
        server.smtp_addr(),
        b"HELO x\r\nBDAT 6 LAST\r\nRSET\r\nQUIT\r\n",
    )
    .await;
    assert_eq!(
        finals(&output)[2..],
        [
            "502 5.5.1 Command not implemented",
            "221 2.0.0 localhost closing connection"
        ],
        "{output}"
    );
    // A size that cannot be read: where the chunk ends is unknown, so 421 and close.
    let output = converse(server.smtp_addr(), b"EHLO x\r\nBDAT 1x LAST\r\nNOOP\r\n").await;
    assert!(
        output.ends_with(
            "250 HELP\r\n421 4.5.0 localhost BDAT chunk size unreadable, closing connection\r\n"
        ),
        "{output}"
    );
    assert!(server.messages().is_empty());
    assert_serves_normally(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_digit_size_is_too_large_not_a_syntax_error() {
    let server = start().await;
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nMAIL FROM:<a@b.example> SIZE=99999999999999999999\r\n\
          MAIL FROM:<a@b.example> SIZE=999999999999999999999\r\nQUIT\r\n",
    )
    .await;
    assert_eq!(
        finals(&output)[2..],
        [
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "501 5.5.4 Syntax error in parameters: invalid value for SIZE",
            "221 2.0.0 localhost closing connection"
        ],
        "{output}"
    );
}

fn with_auth() -> SessionConfig {
    SessionConfig {
        auth: AuthConfig {
            mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            in_cleartext: true,
            ..AuthConfig::default()
        },
        ..SessionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_line_over_the_limit_gets_500_5_5_6() {
    let server = start_with(Server::builder().session_config(with_auth())).await;
    let mut input = b"EHLO x\r\nAUTH PLAIN ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 20_000));
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let output = converse(server.smtp_addr(), &input).await;
    assert!(
        output.ends_with(
            "500 5.5.6 Authentication Exchange line is too long\r\n\
             221 2.0.0 localhost closing connection\r\n"
        ),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_with_an_initial_response_is_accepted_as_the_user_name() {
    let server = start_with(Server::builder().session_config(with_auth())).await;
    // dXNlcg== is "user"; cGFzcw== "pass".
    let output = converse(
        server.smtp_addr(),
        b"EHLO x\r\nAUTH LOGIN dXNlcg==\r\ncGFzcw==\r\nQUIT\r\n",
    )
    .await;
    assert!(
        output.ends_with(
            "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n\
             221 2.0.0 localhost closing connection\r\n"
        ),
        "{output}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("** AUTH LOGIN with an initial response: taken as the user name"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_cr_in_a_command_is_refused_and_recorded_like_a_bare_lf() {
    let server = start().await;
    let output = converse(server.smtp_addr(), b"NOOP\nNOOP\rNOOP\r\nQUIT\r\n").await;
    assert_eq!(
        finals(&output)[1..],
        [
            "250 2.0.0 OK",
            "500 5.5.2 Syntax error - invalid character",
            "221 2.0.0 localhost closing connection"
        ],
        "{output}"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await;
    let transcript = sessions[0].transcript.render(false);
    assert!(
        transcript.contains("C: NOOP\n!! C-5321-LINE-CRLF: command line ended with a bare LF"),
        "{transcript}"
    );
    assert!(
        transcript.contains("C: NOOP\\rNOOP\n!! C-5321-LINE-CRLF: bare CR inside a command line"),
        "{transcript}"
    );
}
