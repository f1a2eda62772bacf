//! Any octets a client can send produce results, never a panic: random sessions (lines,
//! replies, content, TLS, notes in any order) and random messages (broken MIME, deep
//! nesting, NULs, huge header fields) through the whole engine, every check at once.

use std::time::Duration;

use proptest::prelude::*;
use smtp_conformance::{judge, judge_session, MessageInput, Status};
use smtp_protocol::data::ContentReport;
use smtp_protocol::params::Body;
use smtp_protocol::session::Transfer;
use smtp_protocol::transcript::{CloseReason, Event, LineMeta, Transcript};

/// One event of a random session.
fn event() -> impl Strategy<Value = (u8, Vec<u8>, bool, bool)> {
    let verbs = prop_oneof![
        Just(b"EHLO c.example".to_vec()),
        Just(b"HELO c.example".to_vec()),
        Just(b"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME".to_vec()),
        Just(b"RCPT TO:<c@d.example> NOTIFY=SUCCESS ORCPT=rfc822;c@d.example".to_vec()),
        Just(b"DATA".to_vec()),
        Just(b"BDAT 5 LAST".to_vec()),
        Just(b"AUTH PLAIN AGEAYg==".to_vec()),
        Just(b"AUTH SCRAM-SHA-256 biwsbj11LHI9YWJj".to_vec()),
        Just(b"STARTTLS".to_vec()),
        Just(b"QUIT".to_vec()),
        Just(b"*".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..80),
    ];
    (0u8..8, verbs, any::<bool>(), any::<bool>())
}

fn session(events: &[(u8, Vec<u8>, bool, bool)]) -> Transcript {
    let mut t = Transcript::new();
    let ms = Duration::from_millis;
    t.push(
        ms(0),
        Event::Connected {
            peer: "127.0.0.1:1".into(),
            local: "127.0.0.1:2".into(),
            listener: None,
        },
    );
    for (i, (kind, bytes, pipelined, bare_lf)) in events.iter().enumerate() {
        let at = ms(i as u64);
        let text = String::from_utf8_lossy(bytes).into_owned();
        match kind {
            0 | 1 => t.client_line(
                at,
                bytes,
                LineMeta {
                    pipelined: *pipelined,
                    bare_lf: *bare_lf,
                    octets: None,
                },
            ),
            2 => t.server_bytes(
                at,
                format!("{}\r\n", text.replace(['\r', '\n'], " ")).as_bytes(),
            ),
            3 => t.server_bytes(at, b"334 \r\n"),
            4 => t.push(
                at,
                Event::Content {
                    octets: bytes.len() as u64,
                    summary: String::new(),
                    pipelined: *pipelined,
                    report: bare_lf.then(|| {
                        Box::new(ContentReport {
                            octets: bytes.len() as u64,
                            eight_bit: true,
                            bare_lf: 1,
                            ..ContentReport::default()
                        })
                    }),
                },
            ),
            5 => t.push(
                at,
                Event::TlsEstablished {
                    version: "TLSv1.3".into(),
                    cipher: "x".into(),
                    sni: None,
                },
            ),
            6 => t.note(at, Some("C-3207-LAST-IN-GROUP"), text),
            _ => t.server_bytes(at, bytes),
        }
    }
    t.push(
        ms(9999),
        Event::Closed {
            reason: CloseReason::PeerClosed,
        },
    );
    t
}

fn input(content: &[u8], flags: u8) -> MessageInput<'_> {
    MessageInput {
        content,
        id: Some("P"),
        transfer: if flags & 1 == 0 {
            Transfer::Data
        } else {
            Transfer::Bdat
        },
        body: [
            None,
            Some(Body::SevenBit),
            Some(Body::EightBitMime),
            Some(Body::BinaryMime),
        ][usize::from(flags >> 1) % 4],
        smtputf8: flags & 8 != 0,
        null_sender: flags & 16 != 0,
        recipients: &[],
    }
}

/// Message pieces that make broken MIME likely.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec()),
        Just(b"Content-Type: multipart/alternative; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: message/rfc822\r\n".to_vec()),
        Just(b"Content-Type: text/plain; charset*0*=utf-8''%E4; charset*1=x\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"Subject: =?utf-8?B?5Lit?= =?gbk?Q?=D6=D0?=\r\n".to_vec()),
        Just(b"From: \"a\" <a@b>, =?x?q?y?= <@c:d@e>\r\n".to_vec()),
        Just(b"Date: Mon, 31 Feb 26 25:61:61 GMT\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"--b\r\n".to_vec()),
        Just(b"--b--\r\n".to_vec()),
        Just(b"=ZZ=\r\n".to_vec()),
        Just(b"\0\r\x1b\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..60),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_session_is_judged_without_a_panic(events in proptest::collection::vec(event(), 0..40)) {
        let report = judge_session(&session(&events));
        prop_assert!(!report.results.is_empty());
    }

    #[test]
    fn any_message_is_judged_without_a_panic(
        pieces in proptest::collection::vec(piece(), 0..40),
        flags in any::<u8>(),
    ) {
        let content: Vec<u8> = pieces.concat();
        let transcript = session(&[]);
        let report = judge(&transcript, &[input(&content, flags)]);
        prop_assert!(report.results.iter().any(|r| r.id == "C-5322-DATE-PRESENT"));
    }
}

#[test]
fn pathological_messages_are_judged() {
    // MIME nested 100 deep, never closed.
    let mut nested = Vec::new();
    for i in 0..100 {
        nested.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    nested.extend_from_slice(b"\r\nleaf\r\n");
    // A 50 MiB single header field, folded every 900 octets.
    let mut huge = b"Subject: ".to_vec();
    for _ in 0..(50 * 1024 * 1024 / 900) {
        huge.extend(std::iter::repeat_n(b'x', 900));
        huge.extend_from_slice(b"\r\n ");
    }
    huge.extend_from_slice(b"end\r\n\r\nbody\r\n");
    // NULs everywhere.
    let nuls = vec![0u8; 100_000];
    let transcript = session(&[]);
    for content in [&nested[..], &huge[..], &nuls[..]] {
        let report = judge(&transcript, &[input(content, 0)]);
        assert!(report.status("C-5322-DATE-PRESENT") == Some(Status::Fail));
    }
}
