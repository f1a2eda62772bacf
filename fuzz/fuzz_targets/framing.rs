//! The command line framer, `LineFramer`, on any octets delivered in any pieces. Input: the
//! line limit (2 octets, little-endian), how to cut the reads (1 octet), then the octets.
//!
//! Proves: no panic; every call consumes what it says and no more than it was given; a line
//! never holds an LF and never passes the limit; and the lines (and over-long lines) found do
//! not depend on how the input was split into reads.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use smtp_protocol::framing::{Framed, LineEnding, LineFramer};

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Line(Vec<u8>, LineEnding),
    TooLong,
}

/// Frames the pieces read one after the other; returns what was seen and what is left
/// unframed (a partial line).
fn frame(max_line: usize, pieces: &[&[u8]]) -> (Vec<Seen>, Vec<u8>) {
    let mut framer = LineFramer::new(max_line);
    let mut buffer = Vec::new();
    let mut seen = Vec::new();
    for piece in pieces {
        buffer.extend_from_slice(piece);
        loop {
            let consumed = match framer.next_line(&buffer) {
                Framed::NeedMore => break,
                Framed::Line {
                    line,
                    ending,
                    consumed,
                } => {
                    assert!(!line.contains(&b'\n'));
                    assert!(line.len() + 2 <= framer.max_line());
                    seen.push(Seen::Line(line.to_vec(), ending));
                    consumed
                }
                Framed::TooLong { consumed, .. } => {
                    seen.push(Seen::TooLong);
                    consumed
                }
                Framed::Skipped { consumed, .. } => consumed,
            };
            assert!(consumed > 0 && consumed <= buffer.len());
            buffer.drain(..consumed);
        }
    }
    (seen, buffer)
}

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let max_line = usize::from(header.u16());
    let seed = header.u8();
    let bytes = header.rest();
    let whole = frame(max_line, &[bytes]);
    let split = frame(max_line, &pieces::cut(bytes, seed));
    assert_eq!(whole, split);
});
