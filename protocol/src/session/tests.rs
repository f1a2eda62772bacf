//! Dialog tests of the session: known answers, and the same dialog fed split at every byte.

use std::sync::Arc;

use super::*;

const MS: Duration = Duration::from_millis(1);

/// What a dialog produced: every octet the server wrote, the messages stored, and whether it
/// closed.
#[derive(Debug, PartialEq)]
struct Outcome {
    output: String,
    stored: Vec<ReceivedMessage>,
    closed: bool,
}

/// Drives a session like the runtime does: Store succeeds with ids M1, M2...; Wait resumes.
fn drive<P: Policy>(session: &mut Session<P>, outcome: &mut Outcome) {
    while let Some(action) = session.poll_action() {
        match action {
            Action::Send(bytes) => outcome.output.push_str(&String::from_utf8_lossy(&bytes)),
            Action::Store(message) => {
                outcome.stored.push(*message);
                let id = format!("M{}", outcome.stored.len());
                session.message_stored(MS, Ok(id));
            }
            Action::Wait(_) => session.resume(MS),
            Action::StartTls => session.tls_established(
                MS,
                TlsDetails {
                    version: "TLSv1.3".into(),
                    cipher: "TLS_AES_128_GCM_SHA256".into(),
                    sni: None,
                },
            ),
            Action::Close(_) => outcome.closed = true,
        }
    }
}

fn converse_with<P: Policy>(
    config: SessionConfig,
    policy: P,
    chunks: &[&[u8]],
    eof: bool,
) -> Outcome {
    let peer = PeerInfo {
        peer: "127.0.0.1:50000".into(),
        local: "127.0.0.1:1025".into(),
        tls: None,
        random: "r4nd0m".into(),
        unix_time: 0,
        listener: None,
    };
    let mut session = Session::new(Arc::new(config), policy, peer, Duration::ZERO);
    let mut outcome = Outcome {
        output: String::new(),
        stored: Vec::new(),
        closed: false,
    };
    drive(&mut session, &mut outcome);
    for chunk in chunks {
        session.receive(MS, chunk);
        drive(&mut session, &mut outcome);
    }
    if eof {
        session.peer_closed(MS);
        drive(&mut session, &mut outcome);
    }
    outcome
}

fn converse(input: &[u8]) -> Outcome {
    converse_with(SessionConfig::default(), DefaultPolicy, &[input], true)
}

/// The server's replies as lines, without the greeting.
fn replies(outcome: &Outcome) -> Vec<&str> {
    outcome
        .output
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The same conversation must give the same output however the input is split.
fn assert_split_invariant(input: &[u8]) {
    let whole = converse(input);
    for split in 1..input.len() {
        let parts = converse_with(
            SessionConfig::default(),
            DefaultPolicy,
            &[&input[..split], &input[split..]],
            true,
        );
        assert_eq!(parts, whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let one_by_one = converse_with(SessionConfig::default(), DefaultPolicy, &bytes, true);
    assert_eq!(one_by_one, whole, "one byte at a time");
}

const TRANSACTION: &[u8] = b"EHLO client.example\r\n\
MAIL FROM:<a@example.com> SIZE=40 BODY=8BITMIME\r\n\
RCPT TO:<b@example.org>\r\n\
RCPT TO:<c@example.org> NOTIFY=FAILURE\r\n\
DATA\r\n\
Subject: hi\r\n\
\r\n\
..dot\r\n\
.\r\n\
QUIT\r\n";

#[test]
fn a_pipelined_transaction_gets_every_reply_in_order() {
    let outcome = converse(TRANSACTION);
    assert_eq!(
        outcome.output,
        "220 localhost ESMTP fake-smtp ready\r\n\
         250-localhost greets client.example\r\n\
         250-PIPELINING\r\n\
         250-SIZE 10485760\r\n\
         250-8BITMIME\r\n\
         250-SMTPUTF8\r\n\
         250-ENHANCEDSTATUSCODES\r\n\
         250-CHUNKING\r\n\
         250-BINARYMIME\r\n\
         250-DSN\r\n\
         250 HELP\r\n\
         250 2.1.0 Sender <a@example.com> OK\r\n\
         250 2.1.5 Recipient <b@example.org> OK\r\n\
         250 2.1.5 Recipient <c@example.org> OK\r\n\
         354 Start mail input; end with <CRLF>.<CRLF>\r\n\
         250 2.0.0 OK queued as M1\r\n\
         221 2.0.0 localhost closing connection\r\n"
    );
    assert!(outcome.closed);
    let message = &outcome.stored[0];
    assert_eq!(message.content, b"Subject: hi\r\n\r\n.dot\r\n");
    assert_eq!(message.transaction.recipients.len(), 2);
    assert_eq!(message.helo.as_deref(), Some("client.example"));
}

#[test]
fn the_transaction_is_split_invariant() {
    assert_split_invariant(TRANSACTION);
}

#[test]
fn bad_input_is_split_invariant() {
    assert_split_invariant(b"\0\x01garbage\r\nEHLO x\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\na\nb\r\n.\r\nQUIT\r\n");
}

#[test]
fn commands_in_every_wrong_order_get_503_and_keep_the_state() {
    let outcome = converse(
        b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nEHLO x\r\nRCPT TO:<d@e.f>\r\nDATA\r\n\
          MAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nDATA\r\nRSET\r\nRCPT TO:<d@e.f>\r\nQUIT\r\n",
    );
    let replies = replies(&outcome);
    let codes: Vec<&str> = replies
        .iter()
        .map(|l| &l[..4])
        .filter(|c| *c != "250-")
        .collect();
    assert_eq!(
        codes,
        [
            "503 ", "503 ", "503 ", // MAIL, RCPT, DATA before EHLO
            "250 ", // EHLO
            "503 ", "503 ", // RCPT, DATA before MAIL
            "250 ", "503 ", // MAIL, nested MAIL
            "554 ", // DATA without recipients
            "250 ", "503 ", // RSET, RCPT after reset
            "221 "
        ]
    );
    assert!(outcome.stored.is_empty());
}

#[test]
fn malformed_commands_get_the_rfc_replies() {
    let cases: [(&[u8], &str); 14] = [
        (b"FOO", "500 5.5.2 Command unrecognized"),
        (b"", "500 5.5.2 Syntax error, command unrecognized"),
        (b"NO\0OP", "500 5.5.2 Syntax error - invalid character"),
        (b"\xff\xfe", "500 5.5.2 Syntax error - invalid character"),
        (b"TURN", "502 5.5.1 Command not implemented"),
        (b"EXPN list", "502 5.5.1 Command not implemented"),
        (b"EHLO under_score", "501 Syntax: EHLO hostname"),
        (
            b"VRFY x",
            "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
        ),
        (b"RSET now", "501 5.5.4 Syntax error: no parameters allowed"),
        (b"QUIT now", "501 5.5.4 Syntax error: no parameters allowed"),
        (b"NOOP whatever", "250 2.0.0 OK"),
        (b"HELP rcpt", "214 2.0.0 RCPT TO:<forward-path> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=type;xtext]"),
        (b"HELP frobnicate", "504 5.5.4 HELP topic not available"),
        (b"STARTTLS", "502 5.5.1 Command not implemented"),
    ];
    for (line, expected) in cases {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\r\n");
        let outcome = converse(&input);
        assert_eq!(
            replies(&outcome),
            [expected],
            "{:?}",
            String::from_utf8_lossy(line)
        );
        assert!(outcome.closed);
    }
}

#[test]
fn parameters_not_advertised_or_malformed() {
    let outcome = converse(
        b"HELO x\r\nMAIL FROM:<a@b.c> SIZE=10\r\nEHLO x\r\nMAIL FROM:<a@b.c> X-FOO=1\r\n\
          MAIL FROM:<a@b.c> BODY=9BIT\r\nMAIL FROM:<a@b.c> SIZE=99999999999\r\n\
          MAIL FROM: <a@b.c>\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x> \r\nRCPT TO:<\xc3\xa9@b.c>\r\n",
    );
    let replies: Vec<&str> = replies(&outcome)
        .into_iter()
        .filter(|l| !l.starts_with("250-"))
        .collect();
    assert_eq!(
        replies,
        [
            "250 localhost greets x",
            "555 5.5.4 MAIL parameter SIZE not recognized",
            "250 HELP",
            "555 5.5.4 MAIL parameter X-FOO not recognized",
            "501 5.5.4 Syntax error in parameters: invalid value for BODY",
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "501 5.1.7 Bad sender address syntax: the path must be enclosed in angle brackets",
            "250 2.1.0 Sender <a@b.c> OK",
            "501 5.1.3 Bad recipient address syntax: the mailbox has no '@' and a domain",
            "553 5.6.7 Non-ASCII address requires SMTPUTF8",
        ]
    );
}

#[test]
fn utf8_addresses_with_smtputf8() {
    let outcome = converse(
        "EHLO x\r\nMAIL FROM:<用户@例子.广告> SMTPUTF8\r\nRCPT TO:<δοκιμή@παράδειγμα.δοκιμή>\r\nDATA\r\n\
         Subject: é\r\n\r\nbody\r\n.\r\n"
            .as_bytes(),
    );
    assert_eq!(outcome.stored.len(), 1);
    assert!(outcome.output.contains("250 2.0.0 OK queued as M1"));
}

#[test]
fn oversized_content_gets_552_and_the_session_goes_on() {
    let config = SessionConfig {
        max_message_size: 20,
        ..SessionConfig::default()
    };
    let big = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n\
        0123456789012345678901234567890123456789\r\n.\r\n\
        MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nsmall\r\n.\r\n";
    let outcome = converse_with(config, DefaultPolicy, &[big], true);
    let replies = replies(&outcome);
    assert!(replies.contains(&"552 5.3.4 Message size exceeds fixed maximum message size"));
    assert_eq!(replies.last(), Some(&"250 2.0.0 OK queued as M1"));
    assert_eq!(outcome.stored.len(), 1);
    assert_eq!(outcome.stored[0].content, b"small\r\n");
}

#[test]
fn bare_line_ends_in_content_are_refused_after_the_real_end() {
    let outcome = converse(
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nsmuggled\n.\nMAIL FROM:<evil@x.y>\r\n.\r\nNOOP\r\n",
    );
    let replies = replies(&outcome);
    assert!(
        replies.contains(&"554 5.5.2 Message contains bare CR or LF (SMTP smuggling protection)"),
        "{replies:?}"
    );
    // The look-alike did not end the data: MAIL inside it was never a command.
    assert_eq!(replies.iter().filter(|r| r.contains("Sender")).count(), 1);
    assert_eq!(replies.last(), Some(&"250 2.0.0 OK"));
    assert!(outcome.stored.is_empty());
}

#[test]
fn a_long_line_gets_500_and_the_next_command_works() {
    let mut input = b"EHLO x\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'A', 100_000));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let outcome = converse(&input);
    let replies = replies(&outcome);
    assert_eq!(
        &replies[replies.len() - 2..],
        ["500 5.5.2 Line too long", "250 2.0.0 OK"]
    );
}

#[test]
fn bdat_chunks_and_failures() {
    let outcome = converse(
        b"EHLO x\r\nBDAT 3\r\nabcMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 5\r\nhello\
          BDAT 8 LAST\r\n world\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 0 LAST\r\n",
    );
    let replies: Vec<&str> = replies(&outcome)
        .into_iter()
        .filter(|l| !l.starts_with("250-"))
        .collect();
    assert_eq!(
        replies,
        [
            "250 HELP",
            "503 5.5.1 Need MAIL command",
            "250 2.1.0 Sender <a@b.c> OK",
            "250 2.1.5 Recipient <d@e.f> OK",
            "250 2.0.0 5 octets received",
            "250 2.0.0 OK queued as M1",
            "503 5.5.1 Need MAIL command",
            "250 2.1.0 Sender <a@b.c> OK",
            "250 2.1.5 Recipient <d@e.f> OK",
            "250 2.0.0 OK queued as M2",
        ]
    );
    assert_eq!(outcome.stored[0].content, b"hello world\r\n");
    assert_eq!(outcome.stored[0].transfer, Transfer::Bdat);
    assert_eq!(outcome.stored[1].content, b"");
}

#[test]
fn bare_line_end_policies() {
    let input: &[u8] =
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nlf only\nhere\r\n.\r\n";
    let stored_with = |bare_line_ends| {
        let config = SessionConfig {
            bare_line_ends,
            ..SessionConfig::default()
        };
        converse_with(config, DefaultPolicy, &[input], true)
            .stored
            .len()
    };
    assert_eq!(stored_with(BareLineEnds::Reject), 0);
    assert_eq!(stored_with(BareLineEnds::RejectLookalikes), 1);
    assert_eq!(stored_with(BareLineEnds::Accept), 1);
}

#[test]
fn a_failed_bdat_needs_rset() {
    let config = SessionConfig {
        max_message_size: 4,
        ..SessionConfig::default()
    };
    let outcome = converse_with(
        config,
        DefaultPolicy,
        &[b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 6\r\n123456BDAT 2 LAST\r\n78MAIL FROM:<a@b.c>\r\nRSET\r\nMAIL FROM:<a@b.c>\r\n"],
        true,
    );
    let replies: Vec<&str> = replies(&outcome).into_iter().skip(10).collect();
    assert_eq!(
        replies,
        [
            "250 2.1.0 Sender <a@b.c> OK",
            "250 2.1.5 Recipient <d@e.f> OK",
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "503 5.5.1 RSET required after a failed BDAT",
            "503 5.5.1 RSET required after a failed BDAT",
            "250 2.0.0 Reset OK",
            "250 2.1.0 Sender <a@b.c> OK",
        ]
    );
}

#[test]
fn a_client_gone_mid_data_stores_nothing() {
    let outcome =
        converse(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhalf a mess");
    assert!(outcome.stored.is_empty());
    assert!(outcome.closed);
}

#[test]
fn a_half_closed_client_still_gets_its_replies() {
    let outcome =
        converse(b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nok\r\n.\r\n");
    assert_eq!(outcome.stored.len(), 1);
    assert!(outcome.output.ends_with("250 2.0.0 OK queued as M1\r\n"));
    assert!(outcome.closed);
}

#[test]
fn a_thousand_pipelined_commands_get_a_thousand_replies() {
    let mut input = b"EHLO x\r\n".to_vec();
    for _ in 0..1000 {
        input.extend_from_slice(b"RSET\r\n");
    }
    let outcome = converse(&input);
    assert_eq!(
        replies(&outcome)
            .iter()
            .filter(|r| **r == "250 2.0.0 Reset OK")
            .count(),
        1000
    );
}

#[test]
fn replies_to_bufferable_commands_are_sent_together() {
    let mut session = Session::new(
        Arc::new(SessionConfig::default()),
        DefaultPolicy,
        PeerInfo {
            peer: "p".into(),
            local: "l".into(),
            tls: None,
            random: "r4nd0m".into(),
            unix_time: 0,
            listener: None,
        },
        Duration::ZERO,
    );
    let _greeting = session.poll_action();
    session.receive(
        MS,
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<g@e.f>\r\nDATA\r\n",
    );
    let sends: Vec<String> = std::iter::from_fn(|| session.poll_action())
        .map(|a| match a {
            Action::Send(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // EHLO is sent alone (RFC 2920 §3.2 (5)); MAIL, RCPT, RCPT and DATA's 354 together.
    assert_eq!(sends.len(), 2, "{sends:?}");
    assert!(
        sends[1].starts_with("250 2.1.0")
            && sends[1].ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n")
    );
}

#[test]
fn timeout_and_shutdown_send_421() {
    let mut session = Session::new(
        Arc::new(SessionConfig::default()),
        DefaultPolicy,
        PeerInfo {
            peer: "p".into(),
            local: "l".into(),
            tls: None,
            random: "r4nd0m".into(),
            unix_time: 0,
            listener: None,
        },
        Duration::ZERO,
    );
    assert_eq!(session.timeout(), Duration::from_secs(300));
    let _ = session.poll_action();
    assert!(session.is_idle());
    session.timed_out(Duration::from_secs(300));
    let Some(Action::Send(bytes)) = session.poll_action() else {
        panic!("no reply")
    };
    assert_eq!(
        bytes,
        b"421 4.4.2 localhost Timeout, closing connection\r\n"
    );
    assert!(matches!(session.poll_action(), Some(Action::Close(_))));

    let mut session = Session::new(
        Arc::new(SessionConfig::default()),
        DefaultPolicy,
        PeerInfo {
            peer: "p".into(),
            local: "l".into(),
            tls: None,
            random: "r4nd0m".into(),
            unix_time: 0,
            listener: None,
        },
        Duration::ZERO,
    );
    let _ = session.poll_action();
    session.receive(MS, b"EHLO x\r\nMAIL FROM:<a@b.c>\r\n");
    while session.poll_action().is_some() {}
    assert!(!session.is_idle());
    session.shutdown(MS);
    let Some(Action::Send(bytes)) = session.poll_action() else {
        panic!("no reply")
    };
    assert_eq!(bytes, b"421 4.3.2 localhost Service shutting down\r\n");
}

#[test]
fn a_failed_store_is_never_acknowledged() {
    let mut session = Session::new(
        Arc::new(SessionConfig::default()),
        DefaultPolicy,
        PeerInfo {
            peer: "p".into(),
            local: "l".into(),
            tls: None,
            random: "r4nd0m".into(),
            unix_time: 0,
            listener: None,
        },
        Duration::ZERO,
    );
    session.receive(
        MS,
        b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n",
    );
    let mut output = String::new();
    while let Some(action) = session.poll_action() {
        match action {
            Action::Send(b) => output.push_str(&String::from_utf8_lossy(&b)),
            Action::Store(_) => {
                assert!(!output.contains("queued"));
                session.message_stored(MS, Err(StoreError::Local("disk".into())));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(output.ends_with(
        "451 4.3.0 Requested action aborted: local error in processing\r\n250 2.0.0 OK\r\n"
    ));
    assert_eq!(session.messages(), 0);
}

/// A policy that refuses service at the greeting.
struct Refuse;
impl Policy for Refuse {
    fn decide(
        &mut self,
        _: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        match point {
            DecisionPoint::Greeting => {
                Response::reply(Reply::new(554, None, "mx No SMTP service here"))
            }
            _ => Response::reply(default),
        }
    }
}

#[test]
fn after_a_554_greeting_everything_but_quit_gets_503() {
    let outcome = converse_with(
        SessionConfig::default(),
        Refuse,
        &[b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n"],
        false,
    );
    assert_eq!(
        outcome.output,
        "554 mx No SMTP service here\r\n503 5.5.1 Bad sequence of commands\r\n\
         503 5.5.1 Bad sequence of commands\r\n221 2.0.0 localhost closing connection\r\n"
    );
}

/// A policy that answers QUIT with QQ Mail's NUL bytes and closes (provider-quirks.md §0).
struct QuitGarbage;
impl Policy for QuitGarbage {
    fn decide(
        &mut self,
        _: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        match point {
            DecisionPoint::Command {
                command: Command::Quit,
                ..
            } => Response {
                steps: vec![
                    Step::Delay(Duration::from_millis(5)),
                    Step::Raw(b"\0\0\0\x1a\0\0\0".to_vec()),
                    Step::Close(CloseMode::Graceful),
                ],
            },
            _ => Response::reply(default),
        }
    }
}

#[test]
fn a_policy_can_answer_with_raw_octets_and_close() {
    let outcome = converse_with(
        SessionConfig::default(),
        QuitGarbage,
        &[b"QUIT\r\nNOOP\r\n"],
        false,
    );
    assert!(outcome.output.ends_with("ready\r\n\0\0\0\x1a\0\0\0"));
    assert!(outcome.closed);
}
