//! Message content for the wire, the inverse of [`crate::data`]'s decoder: CRLF line ends
//! only (C-5321-NO-BARE-CR-LF) and dot-stuffing for DATA (RFC 5321 §4.5.2,
//! C-5321-DOT-STUFFING). BDAT sends the normalised content as it is (RFC 3030: no stuffing).
//! The harness's reference client and the web sink's release both send with it.

/// Makes every line end in CRLF (a bare CR or LF becomes CRLF) and the content end in one.
pub fn normalise_line_ends(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 40 + 2);
    let mut i = 0;
    while i < content.len() {
        match content[i] {
            b'\r' if content.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            byte => out.push(byte),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The end-of-data line, after content that ends in CRLF.
pub const END_OF_DATA: &[u8] = b".\r\n";

/// Doubles a leading dot on every line and appends the end-of-data line. `content` must be
/// normalised (CRLF line ends, ending in CRLF).
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 16);
    DotStuffer::default().stuff(content, &mut out);
    out.extend_from_slice(END_OF_DATA);
    out
}

/// Dot-stuffing of content that comes in chunks: remembers whether the next octet starts a
/// line across chunk boundaries.
#[derive(Debug, Clone, Copy)]
pub struct DotStuffer {
    line_start: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer { line_start: true }
    }
}

impl DotStuffer {
    /// Appends `chunk` to `out` with every line's leading dot doubled.
    pub fn stuff(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + 16);
        for &byte in chunk {
            if self.line_start && byte == b'.' {
                out.push(b'.');
            }
            out.push(byte);
            self.line_start = byte == b'\n';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_stuffing() {
        assert_eq!(
            normalise_line_ends(b"a\nb\r\nc\rd"),
            b"a\r\nb\r\nc\r\nd\r\n"
        );
        assert_eq!(normalise_line_ends(b""), b"\r\n");
        assert_eq!(
            dot_stuff(b".one\r\ntwo\r\n.\r\n"),
            b"..one\r\ntwo\r\n..\r\n.\r\n"
        );
    }

    #[test]
    fn stuffing_across_chunks() {
        let content = b"a\r\n.b\r\n.c\r\n";
        for cut in 0..content.len() {
            let mut stuffer = DotStuffer::default();
            let mut out = Vec::new();
            stuffer.stuff(&content[..cut], &mut out);
            stuffer.stuff(&content[cut..], &mut out);
            out.extend_from_slice(END_OF_DATA);
            assert_eq!(out, dot_stuff(content), "cut at {cut}");
        }
    }

    #[test]
    fn stuffed_content_decodes_back() {
        use crate::data::DataDecoder;
        let content = normalise_line_ends(b".leading\n..two\nplain\n.\n");
        let mut decoder = DataDecoder::new(0, 1000);
        decoder.feed(&dot_stuff(&content));
        assert!(decoder.is_done());
        assert_eq!(decoder.finish().0, content);
    }
}
