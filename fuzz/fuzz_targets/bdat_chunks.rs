//! The BDAT chunk reader, `ChunkReader`, on chunks of any size fed in any pieces. Input: the
//! size limit and the text line limit (2 octets each, little-endian), how to cut the reads (1
//! octet), the number of chunks (1 octet) and each chunk's announced size (2 octets each),
//! then the octets.
//!
//! Proves: no panic; a chunk takes exactly its announced octets, never more; the content is
//! exactly the octets taken (up to the size limit, which it never passes); and the report,
//! and the content of a message within the limit, do not depend on how the octets were split
//! into reads.
#![no_main]

#[path = "common/pieces.rs"]
mod pieces;

use libfuzzer_sys::fuzz_target;
use smtp_protocol::data::{ChunkReader, ContentReport};

/// Reads chunks of the given sizes from `bytes` cut into reads by `seed`.
fn read(
    max_size: u16,
    text_line_limit: u16,
    sizes: &[u16],
    bytes: &[u8],
    seed: u8,
) -> (Option<Vec<u8>>, ContentReport) {
    let mut reader = ChunkReader::new(max_size.into(), text_line_limit.into());
    let mut taken = Vec::new();
    let mut reads = pieces::cut(bytes, seed).into_iter();
    let mut current: &[u8] = &[];
    for &size in sizes {
        reader.start_chunk(size.into());
        while reader.remaining() > 0 {
            if current.is_empty() {
                match reads.next() {
                    Some(next) => current = next,
                    None => break,
                }
            }
            let remaining = reader.remaining();
            let used = reader.feed(current);
            assert!(used as u64 <= remaining);
            assert_eq!(reader.remaining(), remaining - used as u64);
            assert!(used == current.len() || reader.remaining() == 0);
            taken.extend_from_slice(&current[..used]);
            current = &current[used..];
        }
    }
    let oversized = reader.is_oversized();
    let (content, report) = reader.finish();
    assert_eq!(report.octets, taken.len() as u64);
    if max_size > 0 {
        assert!(content.len() <= usize::from(max_size));
    }
    if oversized {
        // Past the limit the message is refused; what was kept depends on the reads.
        return (None, report);
    }
    assert_eq!(content, taken);
    (Some(content), report)
}

fuzz_target!(|data: &[u8]| {
    let mut header = pieces::Header::new(data);
    let max_size = header.u16();
    let text_line_limit = header.u16();
    let seed = header.u8();
    let sizes: Vec<u16> = (0..header.u8() % 16).map(|_| header.u16()).collect();
    let bytes = header.rest();
    let whole = read(max_size, text_line_limit, &sizes, bytes, 0);
    let split = read(max_size, text_line_limit, &sizes, bytes, seed);
    assert_eq!(whole, split);
});
