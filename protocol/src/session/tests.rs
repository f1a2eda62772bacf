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
            // Timers never fire in these dialogs (see `timers_run_steps_later`).
            Action::SetTimer { .. } => {}
        }
    }
}

fn converse_with<P: Policy>(
    config: SessionConfig,
    policy: P,
    chunks: &[&[u8]],
    eof: bool,
) -> Outcome {
    converse_recorded(config, policy, chunks, eof).0
}

/// Like [`converse_with`], with the session's transcript as text.
fn converse_recorded<P: Policy>(
    config: SessionConfig,
    policy: P,
    chunks: &[&[u8]],
    eof: bool,
) -> (Outcome, String) {
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
    let transcript = session.transcript().render(false);
    (outcome, transcript)
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

/// A policy that answers QUIT with QQ Mail's NUL bytes and closes (docs/providers.md §0).
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

/// A policy that answers NOOP at once and schedules octets for 1s later (QQ's garbage after
/// the 250, unprompted), and answers AUTH with GBK octets.
struct Later;
impl Policy for Later {
    fn decide(
        &mut self,
        _: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        match point {
            DecisionPoint::Command {
                command: Command::Noop { .. },
                ..
            } => Response {
                steps: vec![
                    Step::Reply(default),
                    Step::After {
                        delay: Duration::from_secs(1),
                        steps: vec![Step::Raw(b"\0\0\0\x1a\0\0\0".to_vec())],
                    },
                ],
            },
            DecisionPoint::Command {
                command: Command::Rset,
                ..
            } => Response {
                steps: vec![Step::ReplyOctets(b"250 \xc7\xeb OK\r\n".to_vec())],
            },
            _ => Response::reply(default),
        }
    }
}

#[test]
fn timers_run_steps_later_while_the_session_goes_on() {
    let peer = PeerInfo {
        peer: "127.0.0.1:50000".into(),
        local: "127.0.0.1:1025".into(),
        tls: None,
        random: "r".into(),
        unix_time: 0,
        listener: None,
    };
    let mut session = Session::new(
        Arc::new(SessionConfig::default()),
        Later,
        peer,
        Duration::ZERO,
    );
    let _greeting = session.poll_action();
    session.receive(MS, b"NOOP\r\n");
    assert!(matches!(session.poll_action(), Some(Action::Send(b)) if b == b"250 2.0.0 OK\r\n"));
    let Some(Action::SetTimer { id, after }) = session.poll_action() else {
        panic!("no timer");
    };
    assert_eq!(after, Duration::from_secs(1));
    assert!(session.poll_action().is_none());
    // The session is not held up: the next command is answered at once.
    session.receive(2 * MS, b"RSET\r\n");
    // Octets that are not UTF-8 are written as they are, and count as a reply.
    assert!(matches!(session.poll_action(), Some(Action::Send(b)) if b == b"250 \xc7\xeb OK\r\n"));
    assert!(session.poll_action().is_none());
    session.timer_fired(Duration::from_secs(1), id);
    assert!(matches!(session.poll_action(), Some(Action::Send(b)) if b == b"\0\0\0\x1a\0\0\0"));
    // A timer fires once.
    session.timer_fired(Duration::from_secs(2), id);
    assert!(session.poll_action().is_none());
    // After QUIT, a timer set before is dropped.
    session.receive(Duration::from_secs(3), b"NOOP\r\nQUIT\r\n");
    let mut timer = None;
    while let Some(action) = session.poll_action() {
        if let Action::SetTimer { id, .. } = action {
            timer = Some(id);
        }
    }
    assert!(session.is_closed());
    session.timer_fired(Duration::from_secs(4), timer.expect("a second timer"));
    assert!(session.poll_action().is_none());
    let transcript = session.transcript().render(false);
    assert!(
        transcript.contains("the server writes unprompted (1s after it was scheduled)"),
        "{transcript}"
    );
}

/// The final reply lines (no EHLO continuation lines), without the greeting.
fn final_replies(outcome: &Outcome) -> Vec<&str> {
    replies(outcome)
        .into_iter()
        .filter(|l| !l.starts_with("250-"))
        .collect()
}

const BDAT_REFUSED: [&[u8]; 5] = [
    // Before EHLO: 503, and the 19 octets are the chunk, not a command.
    b"BDAT 19 LAST\r\nEHLO evil.example\r\nQUIT\r\n",
    // A malformed flag with a readable size: the chunk is read, then 501.
    b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 6 FINAL\r\nRSET\r\nMAIL FROM:<a@b.c>\r\nQUIT\r\n",
    b"EHLO x\r\nBDAT 6 LAST extra\r\nRSET\r\nQUIT\r\n",
    // CHUNKING not offered (HELO).
    b"HELO x\r\nBDAT 6\r\nRSET\r\nQUIT\r\n",
    // A size too large to read: the framing is lost, 421 and close.
    b"EHLO x\r\nBDAT 99999999999999999999999 LAST\r\nNOOP\r\n",
];

#[test]
fn a_refused_bdat_chunk_is_read_and_discarded() {
    let expected: [&[&str]; 5] = [
        &[
            "503 5.5.1 Send EHLO or HELO first",
            "221 2.0.0 localhost closing connection",
        ],
        &[
            "250 HELP",
            "250 2.1.0 Sender <a@b.c> OK",
            "250 2.1.5 Recipient <d@e.f> OK",
            "501 5.5.4 Syntax error: expected BDAT size [LAST]",
            // The RSET inside the chunk did not run: the transaction is in doubt.
            "503 5.5.1 RSET required after a failed BDAT",
            "221 2.0.0 localhost closing connection",
        ],
        &[
            "250 HELP",
            "501 5.5.4 Syntax error: expected BDAT size [LAST]",
            "221 2.0.0 localhost closing connection",
        ],
        &[
            "250 localhost greets x",
            "502 5.5.1 Command not implemented",
            "221 2.0.0 localhost closing connection",
        ],
        &[
            "250 HELP",
            "421 4.5.0 localhost BDAT chunk size unreadable, closing connection",
        ],
    ];
    for (input, expected) in BDAT_REFUSED.iter().zip(expected) {
        let outcome = converse(input);
        assert_eq!(
            final_replies(&outcome),
            expected,
            "{}",
            String::from_utf8_lossy(input)
        );
        assert!(outcome.stored.is_empty());
        assert_split_invariant(input);
    }
    let (_, transcript) = converse_recorded(
        SessionConfig::default(),
        DefaultPolicy,
        &[BDAT_REFUSED[1]],
        true,
    );
    assert!(
        transcript.contains(
            "C: BDAT 6 FINAL\n** 6 octets after the malformed BDAT line read and discarded\nS: 501"
        ),
        "{transcript}"
    );
    let (outcome, transcript) = converse_recorded(
        SessionConfig::default(),
        DefaultPolicy,
        &[BDAT_REFUSED[4]],
        false,
    );
    assert!(outcome.closed);
    // NOOP was sent before the 421: recorded, not executed.
    assert!(
        transcript.contains(
            "S: 421 4.5.0 localhost BDAT chunk size unreadable, closing connection\nC: NOOP\n"
        ),
        "{transcript}"
    );
}

#[test]
fn a_twenty_digit_size_over_64_bits_is_too_large_not_malformed() {
    let outcome = converse(
        b"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=99999999999999999999\r\n\
          MAIL FROM:<a@b.c> SIZE=18446744073709551616\r\n\
          MAIL FROM:<a@b.c> SIZE=999999999999999999999\r\n",
    );
    assert_eq!(
        &final_replies(&outcome)[1..],
        [
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "552 5.3.4 Message size exceeds fixed maximum message size",
            "501 5.5.4 Syntax error in parameters: invalid value for SIZE",
        ]
    );
    // Without a limit too: no message can be that large.
    let config = SessionConfig {
        max_message_size: 0,
        ..SessionConfig::default()
    };
    let outcome = converse_with(
        config,
        DefaultPolicy,
        &[b"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=99999999999999999999\r\n"],
        true,
    );
    assert_eq!(
        final_replies(&outcome).last(),
        Some(&"552 5.3.4 Message size exceeds fixed maximum message size")
    );
}

fn auth_config(mechanisms: Vec<crate::sasl::Mechanism>) -> SessionConfig {
    SessionConfig {
        auth: AuthConfig {
            mechanisms,
            in_cleartext: true,
            ..AuthConfig::default()
        },
        ..SessionConfig::default()
    }
}

#[test]
fn an_auth_line_over_the_limit_gets_500_5_5_6() {
    use crate::sasl::Mechanism;
    // AUTH offered: the limit is the AUTH line limit (12288).
    let mut input = b"EHLO x\r\nAUTH PLAIN ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 13_000));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let outcome = converse_with(
        auth_config(vec![Mechanism::Plain]),
        DefaultPolicy,
        &[&input],
        true,
    );
    assert_eq!(
        &final_replies(&outcome)[1..],
        [
            "500 5.5.6 Authentication Exchange line is too long",
            "250 2.0.0 OK"
        ]
    );
    // AUTH not offered (HELO): over 512 octets.
    let mut input = b"HELO x\r\nAUTH PLAIN ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 600));
    input.extend_from_slice(b"\r\n");
    let outcome = converse(&input);
    assert_eq!(
        final_replies(&outcome).last(),
        Some(&"500 5.5.6 Authentication Exchange line is too long")
    );
    // AUTH not offered, but MAIL's allowance widens the framer's limit past 512.
    let mut input = b"EHLO x\r\nauth PLAIN ".to_vec();
    input.extend(std::iter::repeat_n(b'A', 600));
    input.extend_from_slice(b"\r\n");
    let outcome = converse(&input);
    assert_eq!(
        final_replies(&outcome).last(),
        Some(&"500 5.5.6 Authentication Exchange line is too long")
    );
}

#[test]
fn auth_login_with_an_initial_response_takes_it_as_the_user_name() {
    use crate::sasl::{LoginInitialResponse, Mechanism};
    // dXNlcg== is "user", cGFzcw== "pass".
    let input: &[u8] = b"EHLO x\r\nAUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n";
    let (outcome, transcript) = converse_recorded(
        auth_config(vec![Mechanism::Login]),
        DefaultPolicy,
        &[input],
        true,
    );
    assert_eq!(
        &final_replies(&outcome)[1..],
        ["334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful"]
    );
    assert!(
        transcript.contains("** AUTH LOGIN with an initial response: taken as the user name"),
        "{transcript}"
    );
    assert!(
        transcript.contains("** authenticated as \"user\" with LOGIN"),
        "{transcript}"
    );
    // The strict reading stays available.
    let mut config = auth_config(vec![Mechanism::Login]);
    config.auth.login_initial_response = LoginInitialResponse::Refuse;
    let outcome = converse_with(config, DefaultPolicy, &[input], true);
    assert_eq!(
        final_replies(&outcome)[1],
        "501 5.7.0 Initial response not allowed for this mechanism"
    );
}

#[test]
fn bare_cr_and_bare_lf_in_commands_are_both_recorded_with_their_check() {
    let (outcome, transcript) = converse_recorded(
        SessionConfig::default(),
        DefaultPolicy,
        &[b"NOOP\nNOOP\rNOOP\r\nQUIT\r\n"],
        true,
    );
    // LF ends a line; a CR inside one ends nothing and makes it invalid.
    assert_eq!(
        final_replies(&outcome),
        [
            "250 2.0.0 OK",
            "500 5.5.2 Syntax error - invalid character",
            "221 2.0.0 localhost closing connection"
        ]
    );
    assert!(
        transcript.contains("!! C-5321-LINE-CRLF: command line ended with a bare LF"),
        "{transcript}"
    );
    // The CR stays visible in the line as the client sent it.
    assert!(
        transcript.contains("C: NOOP\\rNOOP\n!! C-5321-LINE-CRLF: bare CR inside a command line"),
        "{transcript}"
    );
}

/// Answers MAIL with 421, optionally keeping the connection open.
struct Mail421 {
    keep_open: bool,
}
impl Policy for Mail421 {
    fn decide(
        &mut self,
        _: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        match point {
            DecisionPoint::Command {
                command: Command::Mail { .. },
                ..
            } => {
                let mut steps = vec![Step::Reply(Reply::new(421, None, "4.7.0 Try again later"))];
                if self.keep_open {
                    steps.push(Step::KeepOpen);
                }
                Response { steps }
            }
            _ => Response::reply(default),
        }
    }
}

#[test]
fn a_421_anywhere_closes_and_what_was_pipelined_is_recorded_unanswered() {
    let input: &[u8] = b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
    let (outcome, transcript) = converse_recorded(
        SessionConfig::default(),
        Mail421 { keep_open: false },
        &[input],
        false,
    );
    assert!(outcome.closed);
    assert_eq!(
        final_replies(&outcome).last(),
        Some(&"421 4.7.0 Try again later")
    );
    assert!(
        transcript.contains(
            "S: 421 4.7.0 Try again later\nC: RCPT TO:<d@e.f>\nC: DATA\n\
             ** closed with 2 lines from the client unread\n** closed (Policy)\n"
        ),
        "{transcript}"
    );
    // A rule may keep the connection open.
    let outcome = converse_with(
        SessionConfig::default(),
        Mail421 { keep_open: true },
        &[input],
        false,
    );
    assert!(!outcome.closed);
    assert_eq!(
        &final_replies(&outcome)[1..],
        [
            "421 4.7.0 Try again later",
            "503 5.5.1 Need MAIL before RCPT",
            "503 5.5.1 Need MAIL command"
        ]
    );
}

/// Refuses at the end of data when the sender is not the one it expects, as a scenario does.
struct SendAs;
impl Policy for SendAs {
    fn decide(
        &mut self,
        session: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        match (point, session.transaction) {
            (DecisionPoint::EndOfData { .. }, Some(t)) => Response::reply(Reply::new(
                554,
                None,
                format!(
                    "5.2.252 SendAsDenied; not allowed to send as {}",
                    t.reverse_path
                ),
            )),
            (DecisionPoint::EndOfData { .. }, None) => {
                Response::reply(Reply::new(451, None, "no envelope"))
            }
            _ => Response::reply(default),
        }
    }
}

#[test]
fn the_policy_sees_the_envelope_at_the_end_of_data() {
    let outcome = converse_with(
        SessionConfig::default(),
        SendAs,
        &[b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<a@b.c>\r\n"],
        true,
    );
    let replies = final_replies(&outcome);
    assert!(
        replies.contains(&"554 5.2.252 SendAsDenied; not allowed to send as <a@b.c>"),
        "{replies:?}"
    );
    // The transaction still ended.
    assert_eq!(replies.last(), Some(&"250 2.1.0 Sender <a@b.c> OK"));
    assert!(outcome.stored.is_empty());
}

/// Every `{queue-id}` in a step's text is filled in, replies and raw octets alike; text
/// without one is kept as it is.
#[test]
fn queue_ids_are_filled_in() {
    assert_eq!(
        fill_queue_id(b"{queue-id} and {queue-id}{queue-id}.", "Q1").as_deref(),
        Some(&b"Q1 and Q1Q1."[..])
    );
    assert_eq!(fill_queue_id(b"{queue-i} {queue-ID}", "Q1"), None);
    let reply = Reply::new(250, None, "OK queued as {queue-id}");
    match with_queue_id(Step::Reply(reply), "ABC") {
        Step::Reply(reply) => assert_eq!(reply.lines, ["OK queued as ABC"]),
        other => panic!("{other:?}"),
    }
    match with_queue_id(Step::ReplyOctets(b"250 {queue-id}\r\n".to_vec()), "ABC") {
        Step::ReplyOctets(bytes) => assert_eq!(bytes, b"250 ABC\r\n"),
        other => panic!("{other:?}"),
    }
}
