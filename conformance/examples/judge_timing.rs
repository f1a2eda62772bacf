//! How long judging takes, in release mode: `cargo run --release -p smtp-conformance
//! --example judge_timing`. Prints the median of several rounds for a 1 KiB message, a
//! 10 MiB message of 1,000 parts, a 50 MiB header field, and a one-message session's
//! transcript. A measurement to report, not a test: timings depend on the machine.

use std::time::{Duration, Instant};

use smtp_conformance::{judge_message, judge_session, MessageInput};
use smtp_protocol::session::Transfer;
use smtp_protocol::transcript::{Event, LineMeta, Transcript};

fn input(content: &[u8]) -> MessageInput<'_> {
    MessageInput {
        content,
        id: Some("T"),
        transfer: Transfer::Data,
        body: None,
        smtputf8: false,
        null_sender: false,
        recipients: &[],
    }
}

fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn small_message() -> Vec<u8> {
    let mut m = b"From: Alice <a@example.com>\r\nTo: Bob <b@example.org>\r\nSubject: hello\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        .to_vec();
    while m.len() < 1024 {
        m.extend_from_slice(b"A line of text of a quite ordinary length, as mail has it.\r\n");
    }
    m
}

fn big_message() -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: parts\r\n\
Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <2@example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
        .to_vec();
    let line = [b'Q'; 76];
    for i in 0..1000 {
        m.extend_from_slice(
            format!("--outer\r\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes(),
        );
        for _ in 0..(10 * 1024 * 1024 / 1000 / 78) {
            m.extend_from_slice(&line);
            m.extend_from_slice(b"\r\n");
        }
    }
    m.extend_from_slice(b"--outer--\r\n");
    m
}

fn huge_header() -> Vec<u8> {
    let mut m = b"Subject: ".to_vec();
    for _ in 0..(50 * 1024 * 1024 / 900) {
        m.extend(std::iter::repeat_n(b'x', 900));
        m.extend_from_slice(b"\r\n ");
    }
    m.extend_from_slice(b"end\r\n\r\nbody\r\n");
    m
}

fn session() -> Transcript {
    let mut t = Transcript::new();
    let at = Duration::ZERO;
    t.push(
        at,
        Event::Connected {
            peer: "127.0.0.1:1".into(),
            local: "127.0.0.1:25".into(),
            listener: Some("smtp".into()),
        },
    );
    t.server_bytes(at, b"220 localhost ESMTP\r\n");
    let line = |t: &mut Transcript, l: &[u8]| t.client_line(at, l, LineMeta::default());
    line(&mut t, b"EHLO client.example.com");
    t.server_bytes(
        at,
        b"250-localhost\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250 8BITMIME\r\n",
    );
    line(&mut t, b"MAIL FROM:<a@example.com>");
    t.server_bytes(at, b"250 2.1.0 OK\r\n");
    line(&mut t, b"RCPT TO:<b@example.org>");
    t.server_bytes(at, b"250 2.1.5 OK\r\n");
    line(&mut t, b"DATA");
    t.server_bytes(at, b"354 go ahead\r\n");
    t.content(
        at,
        &smtp_protocol::data::ContentReport {
            octets: 1024,
            wire_octets: 1027,
            ..Default::default()
        },
        false,
    );
    t.push(at, Event::Stored { id: "X".into() });
    t.server_bytes(at, b"250 2.0.0 OK queued as X\r\n");
    line(&mut t, b"QUIT");
    t.server_bytes(at, b"221 bye\r\n");
    t
}

fn main() {
    let small = small_message();
    let big = big_message();
    let huge = huge_header();
    let transcript = session();
    if std::env::args().any(|a| a == "--small-only") {
        // For a profiler: the common case, many times.
        for _ in 0..200_000 {
            drop(judge_message(input(&small)));
            drop(judge_session(&transcript));
        }
        return;
    }
    if std::env::args().any(|a| a == "--per-judge") {
        per_judge(&small, &transcript);
        return;
    }
    println!(
        "1 KiB message, every message check:          {:?}",
        median(201, || drop(judge_message(input(&small))))
    );
    println!(
        "one-message session, every session check:    {:?}",
        median(201, || drop(judge_session(&transcript)))
    );
    println!(
        "the same, session and message checks merged: {:?}",
        median(201, || drop(smtp_conformance::judge(
            &transcript,
            &[input(&small)]
        )))
    );
    println!(
        "{} MiB message of 1,000 parts:                {:?}",
        big.len() / (1024 * 1024),
        median(9, || drop(judge_message(input(&big))))
    );
    println!(
        "{} MiB header field:                          {:?}",
        huge.len() / (1024 * 1024),
        median(5, || drop(judge_message(input(&huge))))
    );
}

/// The slowest judges on the 1 KiB message and the session (with `--per-judge`).
fn per_judge(small: &[u8], transcript: &Transcript) {
    use smtp_conformance::{judges, MessageModel, Run, SessionModel};
    let mut times = Vec::new();
    let model = MessageModel::build(input(small));
    let session = SessionModel::build(transcript);
    println!(
        "message model: {:?}, session model: {:?}",
        median(201, || drop(MessageModel::build(input(small)))),
        median(201, || drop(SessionModel::build(transcript)))
    );
    for judge in judges::all() {
        let t = match judge.run {
            Run::Message(run) => median(301, || drop(run(&model))),
            Run::Session(_) if std::env::args().any(|a| a == "--messages") => continue,
            Run::Session(run) => median(301, || drop(run(&session))),
        };
        times.push((t, judge.id));
    }
    times.sort();
    times.reverse();
    let total: Duration = times.iter().map(|(t, _)| *t).sum();
    println!("sum of judges: {total:?}");
    for (t, id) in times.iter().take(40) {
        println!("  {t:?} {id}");
    }
}
