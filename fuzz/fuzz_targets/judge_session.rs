//! The session checks, `smtp_conformance::judge_session`, on a transcript built from any
//! events (client lines, server replies, content reports, TLS, notes, stores, closes, in any
//! order and with any text), as `conformance/tests/robustness.rs` builds them.
//!
//! Proves: no panic in any session judge, and every check gives a result.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtp_protocol::data::ContentReport;
use smtp_protocol::transcript::{CloseReason, Event, LineMeta, Transcript};

#[derive(Arbitrary, Debug)]
enum Step<'a> {
    ClientLine {
        line: &'a [u8],
        pipelined: bool,
        bare_lf: bool,
        octets: Option<u64>,
    },
    /// Octets the server wrote (replies, split anywhere).
    Server(&'a [u8]),
    /// One well-formed reply line with this code.
    Reply(u16, &'a str),
    Content {
        octets: u64,
        pipelined: bool,
        bare_lf: u64,
        bare_cr: u64,
        eight_bit: bool,
        nul: bool,
    },
    Tls(Option<&'a str>),
    Note(Option<&'a str>, &'a str),
    Stored(&'a str),
    Closed(u8),
    Advance(u16),
}

fuzz_target!(|steps: Vec<Step<'_>>| {
    let mut t = Transcript::new();
    let mut at = Duration::ZERO;
    t.push(
        at,
        Event::Connected {
            peer: "192.0.2.1:50000".into(),
            local: "192.0.2.2:25".into(),
            listener: Some("smtp".into()),
        },
    );
    for step in steps {
        at += Duration::from_millis(1);
        match step {
            Step::ClientLine {
                line,
                pipelined,
                bare_lf,
                octets,
            } => t.client_line(
                at,
                line,
                LineMeta {
                    pipelined,
                    bare_lf,
                    octets,
                },
            ),
            Step::Server(bytes) => t.server_bytes(at, bytes),
            Step::Reply(code, text) => t.server_bytes(
                at,
                format!(
                    "{} {}\r\n",
                    100 + code % 500,
                    text.replace(['\r', '\n'], " ")
                )
                .as_bytes(),
            ),
            Step::Content {
                octets,
                pipelined,
                bare_lf,
                bare_cr,
                eight_bit,
                nul,
            } => t.push(
                at,
                Event::Content {
                    octets,
                    summary: String::new(),
                    pipelined,
                    report: Some(Box::new(ContentReport {
                        wire_octets: octets,
                        octets,
                        bare_lf,
                        bare_cr,
                        eight_bit,
                        nul,
                        ..ContentReport::default()
                    })),
                },
            ),
            Step::Tls(sni) => t.push(
                at,
                Event::TlsEstablished {
                    version: "TLSv1.3".into(),
                    cipher: "TLS13_AES_128_GCM_SHA256".into(),
                    sni: sni.map(str::to_owned),
                },
            ),
            Step::Note(check, text) => t.note(at, check, text),
            Step::Stored(id) => t.push(at, Event::Stored { id: id.to_owned() }),
            Step::Closed(reason) => t.push(
                at,
                Event::Closed {
                    reason: CloseReason::ALL[usize::from(reason) % CloseReason::ALL.len()],
                },
            ),
            Step::Advance(ms) => at += Duration::from_millis(ms.into()),
        }
    }
    let report = smtp_conformance::judge_session(&t);
    assert!(!report.results.is_empty());
});
