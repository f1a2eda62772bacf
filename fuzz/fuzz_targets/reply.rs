//! The reply parsers: `Reply::parse` on any text and `ReplyParser` fed its lines one by one.
//! Input: one octet (the streaming parser's longest line, in units of 8 octets; 0 = no
//! limit), then the reply text.
//!
//! Proves: no panic; every reply that parses prints (`to_bytes`) as CRLF-terminated lines that
//! parse back to the same reply (parse ∘ print = id on parsed replies), and a `ReplyParser`
//! fed those printed lines one by one gives the same reply.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use smtp_protocol::reply::{Reply, ReplyParser};

fn round_trip(reply: &Reply) {
    let wire = reply.to_bytes();
    assert!(wire.ends_with(b"\r\n"));
    let text = String::from_utf8(wire).expect("a printed reply is UTF-8");
    let again = Reply::parse(&text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    assert_eq!(&again, reply, "{text:?}");
    let mut parser = ReplyParser::new(usize::MAX);
    let mut last = None;
    for line in text.split_terminator("\r\n") {
        assert!(
            last.is_none(),
            "a reply ended before its last line: {text:?}"
        );
        last = parser
            .push_line(line.as_bytes())
            .expect("a printed line parses");
    }
    assert_eq!(last.as_ref(), Some(reply), "{text:?}");
}

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let max_line = match header.u8() {
        0 => usize::MAX,
        n => usize::from(n) * 8,
    };
    let bytes = header.rest();
    if let Ok(reply) = Reply::parse(&String::from_utf8_lossy(bytes)) {
        round_trip(&reply);
    }
    let mut parser = ReplyParser::new(max_line);
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parser.push_line(line) {
            Ok(Some(reply)) => {
                let _ = reply.text();
                round_trip(&reply);
            }
            Ok(None) => {}
            // A client gives up on a bad reply; start over as it would with the next one.
            Err(error) => {
                let _ = error.to_string();
                parser = ReplyParser::new(max_line);
            }
        }
    }
});
