//! Property tests: print and parse are inverses for every wire type, and no input panics the
//! parsers, the content decoders or the session.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use smtp_protocol::data::{ChunkReader, DataDecoder};
use smtp_protocol::extension::Extension;
use smtp_protocol::params::{Body, MailParam, Notify, NotifyOn, RcptParam, Ret};
use smtp_protocol::session::{Action, DefaultPolicy, PeerInfo, Session, SessionConfig};
use smtp_protocol::{Command, EnhancedCode, ForwardPath, Mailbox, Path, Reply, ReversePath};

fn atom() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}"
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 1..4).prop_map(|l| l.join(".")),
        any::<[u8; 4]>().prop_map(|ip| format!("[{}.{}.{}.{}]", ip[0], ip[1], ip[2], ip[3])),
        Just("[IPv6:::1]".to_owned()),
        Just("例子.广告".to_owned()),
    ]
}

fn local_part() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(atom(), 1..4).prop_map(|a| a.join(".")),
        "[ !#-\\[\\]-~]{0,10}".prop_map(|q| format!("\"{q}\"")),
        Just("用户".to_owned()),
    ]
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    (local_part(), domain())
        .prop_map(|(l, d)| Mailbox::parse(&format!("{l}@{d}")).expect("generated mailbox is valid"))
}

fn path() -> impl Strategy<Value = Path> {
    mailbox().prop_map(|mailbox| Path {
        source_route: None,
        mailbox,
    })
}

fn xtext() -> impl Strategy<Value = String> {
    "([!-*,-<>-~]|\\+[0-9A-F]{2}){1,12}"
}

fn mail_param() -> impl Strategy<Value = MailParam> {
    prop_oneof![
        any::<u32>().prop_map(|n| MailParam::Size(n.into())),
        prop_oneof![
            Just(Body::SevenBit),
            Just(Body::EightBitMime),
            Just(Body::BinaryMime)
        ]
        .prop_map(MailParam::Body),
        Just(MailParam::SmtpUtf8),
        prop_oneof![Just(Ret::Full), Just(Ret::Hdrs)].prop_map(MailParam::Ret),
        xtext().prop_map(MailParam::EnvId),
        xtext().prop_map(MailParam::Auth),
        ("X-[A-Z]{1,5}", proptest::option::of("[a-z0-9]{1,5}"))
            .prop_map(|(keyword, value)| MailParam::Other { keyword, value }),
    ]
}

fn rcpt_param() -> impl Strategy<Value = RcptParam> {
    prop_oneof![
        Just(RcptParam::Notify(Notify::Never)),
        Just(RcptParam::Notify(Notify::On(vec![
            NotifyOn::Delay,
            NotifyOn::Success
        ]))),
        xtext().prop_map(|address| RcptParam::Orcpt {
            addr_type: "rfc822".into(),
            address
        }),
    ]
}

/// Parameters with distinct keywords (duplicates are an error by design).
fn distinct<T: Clone>(params: Vec<T>, keyword: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    params
        .into_iter()
        .filter(|p| seen.insert(keyword(p).to_ascii_uppercase()))
        .collect()
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        domain().prop_map(|domain| Command::Ehlo { domain }),
        domain().prop_map(|domain| Command::Helo { domain }),
        (
            prop_oneof![Just(ReversePath::Null), path().prop_map(ReversePath::Path)],
            prop::collection::vec(mail_param(), 0..4)
        )
            .prop_map(|(reverse_path, params)| Command::Mail {
                reverse_path,
                params: distinct(params, |p| p.keyword().to_owned()),
            }),
        (
            prop_oneof![
                Just(ForwardPath::Postmaster("PostMaster".into())),
                path().prop_map(ForwardPath::Path)
            ],
            prop::collection::vec(rcpt_param(), 0..3)
        )
            .prop_map(|(forward_path, params)| Command::Rcpt {
                forward_path,
                params: distinct(params, |p| p.keyword().to_owned()),
            }),
        Just(Command::Data),
        (any::<u32>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat {
            size: size.into(),
            last
        }),
        Just(Command::Rset),
        Just(Command::Quit),
        Just(Command::StartTls),
        "[a-z]{1,8}".prop_map(|argument| Command::Vrfy { argument }),
        proptest::option::of("[a-z]{1,8}").prop_map(|topic| Command::Help { topic }),
        proptest::option::of("[a-z ]{0,8}[a-z]").prop_map(|argument| Command::Noop { argument }),
        (
            "[A-Z0-9-]{1,12}",
            proptest::option::of("[A-Za-z0-9+/=]{1,40}")
        )
            .prop_map(|(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        200u16..=599,
        any::<bool>(),
        0u16..=9,
        0u16..=999,
        prop::collection::vec("[A-Za-z][ -~]{0,30}", 1..4),
    )
        .prop_map(|(code, with_enhanced, subject, detail, lines)| {
            let class = (code / 100) as u8;
            let enhanced =
                (with_enhanced && class != 3).then(|| EnhancedCode::new(class, subject, detail));
            Reply::multiline(code, enhanced, lines)
        })
}

proptest! {
    #[test]
    fn commands_print_and_parse_back(command in command()) {
        let line = command.to_string();
        prop_assert_eq!(Command::parse(line.as_bytes()), Ok(command));
    }

    #[test]
    fn replies_print_and_parse_back(reply in reply()) {
        let text = reply.to_string();
        prop_assert_eq!(Reply::parse(&text), Ok(reply));
    }

    #[test]
    fn extensions_print_and_parse_back(line in prop_oneof![
        Just("PIPELINING".to_owned()),
        any::<u32>().prop_map(|n| format!("SIZE {n}")),
        "AUTH( [A-Z0-9-]{1,10}){1,4}",
        "X[A-Z]{1,6}( [a-z0-9]{1,5}){0,3}",
    ]) {
        let extension = Extension::parse(&line);
        prop_assert_eq!(extension.to_string(), line.clone());
        prop_assert_eq!(Extension::parse(&extension.to_string()), extension);
    }

    #[test]
    fn no_command_line_panics(line in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Command::parse(&line);
    }

    #[test]
    fn no_smtp_alphabet_line_panics(line in "[A-Za-z:<>@. =\\[\\]\"\\\\0-9,;+-]{0,80}") {
        let _ = Command::parse(line.as_bytes());
    }

    #[test]
    fn no_reply_text_panics(text in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Reply::parse(&String::from_utf8_lossy(&text));
    }

    #[test]
    fn data_decoding_does_not_depend_on_the_split(
        body in prop::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), Just(0xc3u8)
        ], 0..60),
        split in any::<prop::sample::Index>(),
    ) {
        let mut input = body.clone();
        input.extend_from_slice(b"\r\n.\r\n");
        let mut whole = DataDecoder::new(0, 1000);
        let consumed = whole.feed(&input);
        let at = split.index(input.len());
        let mut parts = DataDecoder::new(0, 1000);
        let mut consumed_parts = parts.feed(&input[..at]);
        if !parts.is_done() {
            consumed_parts += parts.feed(&input[at..]);
        }
        prop_assert!(whole.is_done());
        prop_assert_eq!(consumed, consumed_parts);
        prop_assert_eq!(whole.finish(), parts.finish());
    }

    #[test]
    fn whole_lines_decode_like_single_octets(
        lines in prop::collection::vec(prop_oneof![
            "[a.]{0,4}\r\n", "[a.\r\n]{0,6}", "\\.[a\r]{0,3}\r\n", "\r\n",
            "[a\u{0}é]{0,3}\r\n",
        ], 0..12),
        max_size in prop_oneof![Just(0u64), 1u64..40],
    ) {
        // The decoder takes runs of plain lines whole (its fast path) but never sees one when
        // fed an octet at a time: both must agree on the report and the end, and on the
        // content when it is within the size limit (0: none). Past the limit each keeps what
        // it had taken whole before it: a prefix of the content, at most the limit.
        let mut input = lines.concat().into_bytes();
        input.extend_from_slice(b"\r\n.\r\n");
        let mut whole = DataDecoder::new(max_size, 5);
        let consumed = whole.feed(&input);
        let mut single = DataDecoder::new(max_size, 5);
        let mut consumed_single = 0;
        while !single.is_done() && consumed_single < input.len() {
            consumed_single += single.feed(&input[consumed_single..=consumed_single]);
        }
        let mut unlimited = DataDecoder::new(0, 5);
        unlimited.feed(&input);
        prop_assert_eq!(consumed, consumed_single);
        let oversized = whole.is_oversized();
        prop_assert_eq!(oversized, single.is_oversized());
        let ((content, report), (content_single, report_single)) = (whole.finish(), single.finish());
        prop_assert_eq!(&report, &report_single);
        let (full, _) = unlimited.finish();
        if oversized {
            prop_assert!(content.len() as u64 <= max_size && full.starts_with(&content));
        } else {
            prop_assert_eq!(&content, &content_single);
            prop_assert_eq!(&content, &full);
        }
    }

    #[test]
    fn unstuffed_content_round_trips(lines in prop::collection::vec("[.a-z]{0,6}", 0..8)) {
        // Dot-stuff a message the way a client must (RFC 5321 §4.5.2), then decode it.
        let message: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
        let stuffed: String = lines
            .iter()
            .map(|l| if l.starts_with('.') { format!(".{l}\r\n") } else { format!("{l}\r\n") })
            .collect();
        let mut decoder = DataDecoder::new(0, 1000);
        decoder.feed(format!("{stuffed}.\r\n").as_bytes());
        prop_assert!(decoder.is_done());
        let (content, report) = decoder.finish();
        prop_assert_eq!(content, message.into_bytes());
        prop_assert!(!report.has_bare_line_ends());
    }

    #[test]
    fn chunks_take_exactly_their_size(data in prop::collection::vec(any::<u8>(), 0..100), size in 0u64..120) {
        let mut reader = ChunkReader::new(0, 1000);
        reader.start_chunk(size);
        let taken = reader.feed(&data);
        prop_assert_eq!(taken as u64, size.min(data.len() as u64));
    }

    #[test]
    fn no_input_panics_the_session(chunks in prop::collection::vec(
        prop::collection::vec(prop_oneof![
            any::<u8>(),
            Just(b'\r'), Just(b'\n'),
        ], 0..64), 0..8),
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"EHLO x\r\n"[..]),
            Just(&b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"[..]),
            Just(&b"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 10\r\n"[..]),
        ],
    ) {
        let mut session = Session::new(
            Arc::new(SessionConfig::default()),
            DefaultPolicy,
            PeerInfo { peer: "p".into(), local: "l".into(), tls: None, random: "r4nd0m".into(), unix_time: 0, listener: None },
            Duration::ZERO,
        );
        session.receive(Duration::ZERO, prefix);
        for chunk in &chunks {
            session.receive(Duration::ZERO, chunk);
            while let Some(action) = session.poll_action() {
                if let Action::Store(_) = action {
                    session.message_stored(Duration::ZERO, Ok("id".into()));
                }
            }
        }
        session.peer_closed(Duration::ZERO);
        while session.poll_action().is_some() {}
        prop_assert!(session.is_closed());
    }
}
