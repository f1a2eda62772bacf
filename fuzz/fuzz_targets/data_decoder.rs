//! The DATA decoder, `DataDecoder`, on any octets delivered in any pieces. Input: the size
//! limit and the text line limit (2 octets each, little-endian), how to cut the reads (1
//! octet), then the octets after `DATA`.
//!
//! Proves: no panic; the report, where the end of data was found and (within the size
//! limit) the content do not depend on how the input was split into reads; the end is found exactly after a
//! `CRLF . CRLF`; the kept content never passes the size limit; and dot-stuffing round
//! trips: a message of CRLF lines, stuffed and ended as a client sends it, decodes to itself.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use smtp_protocol::data::{ContentReport, DataDecoder};

struct Input {
    max_size: u16,
    text_line_limit: u16,
}

struct Outcome {
    oversized: bool,
    consumed: usize,
    done: bool,
    content: Vec<u8>,
    report: ContentReport,
}

fn decode(input: &Input, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = DataDecoder::new(input.max_size.into(), input.text_line_limit.into());
    let mut consumed = 0;
    for piece in pieces {
        if decoder.is_done() {
            break;
        }
        let used = decoder.feed(piece);
        assert!(used <= piece.len());
        assert!(used == piece.len() || decoder.is_done());
        consumed += used;
    }
    let done = decoder.is_done();
    let oversized = decoder.is_oversized();
    let (content, report) = decoder.finish();
    if input.max_size > 0 {
        assert!(content.len() <= usize::from(input.max_size));
    }
    if !oversized {
        assert_eq!(content.len() as u64, report.octets);
    }
    Outcome {
        oversized,
        consumed,
        done,
        content,
        report,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let input = Input {
        max_size: header.u16(),
        text_line_limit: header.u16(),
    };
    let seed = header.u8();
    let bytes = header.rest();
    let whole = decode(&input, &[bytes]);
    if whole.done {
        let read = &bytes[..whole.consumed];
        assert!(read.ends_with(b".\r\n"));
        assert!(read.len() == 3 || read[..read.len() - 3].ends_with(b"\r\n"));
    } else {
        assert_eq!(whole.consumed, bytes.len());
    }

    let split = decode(&input, &pieces::cut(bytes, seed));
    assert_eq!(whole.consumed, split.consumed);
    assert_eq!(whole.done, split.done);
    // Past the limit the message is refused; what was kept depends on the reads.
    if !whole.oversized {
        assert_eq!(whole.content, split.content);
    }
    assert_eq!(whole.report, split.report);

    // Dot-stuffing round trip (RFC 5321 §4.5.2): the octets' lines (CR taken out) as a message.
    let mut message = Vec::new();
    let mut wire = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let line: Vec<u8> = line
            .iter()
            .copied()
            .filter(|b| !matches!(b, b'\r' | b'\n'))
            .collect();
        message.extend_from_slice(&line);
        message.extend_from_slice(b"\r\n");
        if line.first() == Some(&b'.') {
            wire.push(b'.');
        }
        wire.extend_from_slice(&line);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    let mut decoder = DataDecoder::new(0, input.text_line_limit.into());
    assert_eq!(decoder.feed(&wire), wire.len());
    assert!(decoder.is_done());
    let (content, report) = decoder.finish();
    assert_eq!(content, message);
    assert!(!report.has_bare_line_ends() && report.lookalikes.is_empty());
});
