//! Content-Transfer-Encodings (RFC 2045 §6) and how a careful client picks one per part:
//! 7bit when the octets allow it, 8bit or binary only when the server offers 8BITMIME
//! (RFC 6152) or BINARYMIME with CHUNKING (RFC 3030), else a downgrade to quoted-printable or
//! base64 (RFC 6152 §3), each decision said in words for the transcript.

use std::fmt;

/// RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: 998 octets per line, CRLF excluded.
pub const MAX_LINE: usize = 998;
/// RFC 2045 §6.7 (5) and §6.8: encoded lines are at most 76 characters.
const ENCODED_LINE: usize = 76;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cte {
    SevenBit,
    EightBit,
    Binary,
    QuotedPrintable,
    Base64,
}

impl Cte {
    pub fn as_str(self) -> &'static str {
        match self {
            Cte::SevenBit => "7bit",
            Cte::EightBit => "8bit",
            Cte::Binary => "binary",
            Cte::QuotedPrintable => "quoted-printable",
            Cte::Base64 => "base64",
        }
    }
}

impl fmt::Display for Cte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server offered that matters to the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    pub eight_bit_mime: bool,
    /// BINARYMIME and CHUNKING both (RFC 3030 §3: BINARYMIME only with BDAT).
    pub binary_mime: bool,
    pub smtputf8: bool,
}

impl Offered {
    /// A server offering everything.
    pub const ALL: Offered = Offered {
        eight_bit_mime: true,
        binary_mime: true,
        smtputf8: true,
    };
    /// A server offering nothing (plain RFC 5321).
    pub const NONE: Offered = Offered {
        eight_bit_mime: false,
        binary_mime: false,
        smtputf8: false,
    };
}

/// What the octets of a part need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// Octets of 0x80 and above.
    pub high: usize,
    /// NUL, or a CR or LF that is not part of a CRLF.
    pub binary: bool,
    pub longest_line: usize,
    pub len: usize,
}

pub fn analyse(octets: &[u8]) -> Shape {
    let mut shape = Shape {
        len: octets.len(),
        ..Shape::default()
    };
    let mut line = 0;
    let mut i = 0;
    while i < octets.len() {
        let octet = octets[i];
        match octet {
            b'\r' if octets.get(i + 1) == Some(&b'\n') => {
                shape.longest_line = shape.longest_line.max(line);
                line = 0;
                i += 2;
                continue;
            }
            b'\r' | b'\n' | 0 => shape.binary = true,
            _ => {}
        }
        if octet >= 0x80 {
            shape.high += 1;
        }
        line += 1;
        i += 1;
    }
    shape.longest_line = shape.longest_line.max(line);
    shape
}

/// The encoding chosen for one part, and the downgrade note when one was needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub cte: Cte,
    /// Set when the part would have gone as 8bit or binary with a server that offered more.
    pub downgrade: Option<String>,
}

/// Picks the encoding of a leaf part. `text`: a text/* part (line breaks are CRLF and carry
/// meaning); otherwise the octets are opaque.
pub fn choose(octets: &Shape, text: bool, offered: Offered) -> Choice {
    let plain = |cte| Choice {
        cte,
        downgrade: None,
    };
    if !text {
        if offered.binary_mime {
            return plain(Cte::Binary);
        }
        return plain(Cte::Base64);
    }
    let fits_lines = octets.longest_line <= MAX_LINE && !octets.binary;
    if octets.high == 0 && fits_lines {
        return plain(Cte::SevenBit);
    }
    if !fits_lines {
        // Lines too long for SMTP (or bare CR/LF): no 8bit either way.
        return plain(readable(octets));
    }
    if offered.eight_bit_mime {
        return plain(Cte::EightBit);
    }
    let cte = readable(octets);
    Choice {
        cte,
        downgrade: Some(format!(
            "8bit -> {cte}: the server does not offer 8BITMIME (RFC 6152 §3)"
        )),
    }
}

/// Quoted-printable for text that is mostly ASCII, base64 when more than one octet in six
/// would need escaping (QP would then be larger than base64).
fn readable(octets: &Shape) -> Cte {
    if octets.high * 6 > octets.len {
        Cte::Base64
    } else {
        Cte::QuotedPrintable
    }
}

/// Appends base64 of `octets` without line breaks.
pub fn base64_into(octets: &[u8], out: &mut String) {
    for chunk in octets.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Base64 in lines of 76 characters, each ending in CRLF. `octets` should be a multiple of
/// 57 long except at the very end, so that lines of consecutive calls join up.
pub fn base64_lines(octets: &[u8], out: &mut Vec<u8>) {
    let mut text = String::with_capacity(octets.len() / 3 * 4 + 4);
    for line in octets.chunks(57) {
        text.clear();
        base64_into(line, &mut text);
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The size of [`base64_lines`] over `len` octets.
pub fn base64_lines_len(len: u64) -> u64 {
    let full = len / 57;
    let rest = len % 57;
    full * 78
        + if rest > 0 {
            rest.div_ceil(3) * 4 + 2
        } else {
            0
        }
}

/// Quoted-printable (RFC 2045 §6.7) of text whose line breaks are CRLF: hard breaks stay
/// CRLF, lines are cut with soft breaks at 76 characters, "=", octets outside printable
/// ASCII, and white space at the end of a line are escaped; hex is upper case.
pub fn quoted_printable(octets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(octets.len() + octets.len() / 8);
    let lines: Vec<&[u8]> = split_crlf(octets);
    for (n, line) in lines.iter().enumerate() {
        let mut column = 0;
        for (i, &octet) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal = (octet == b' ' || octet == b'\t') && !last
                || (0x21..=0x7E).contains(&octet) && octet != b'=';
            let width = if literal { 1 } else { 3 };
            // Room for the soft break "=" unless this is the line's last octet.
            let limit = if last { ENCODED_LINE } else { ENCODED_LINE - 1 };
            if column + width > limit {
                out.extend_from_slice(b"=\r\n");
                column = 0;
            }
            if literal {
                out.push(octet);
            } else {
                out.extend_from_slice(format!("={octet:02X}").as_bytes());
            }
            column += width;
        }
        if n + 1 < lines.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Lines of CRLF-separated text; a final CRLF gives an empty last line.
fn split_crlf(octets: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < octets.len() {
        if octets[i] == b'\r' && octets[i + 1] == b'\n' {
            lines.push(&octets[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    lines.push(&octets[start..]);
    lines
}

/// Deterministic pseudo-random octets (splitmix64): the large attachment, made at run time
/// and never stored. `offset` must be a multiple of 8.
pub fn generated(seed: u64, offset: u64, out: &mut [u8]) {
    let mut state = seed.wrapping_add((offset / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let bytes = z.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// All `len` generated octets (tests compare the decoded attachment with them).
pub fn generated_vec(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    generated(seed, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices() {
        let ascii = analyse(b"hello\r\nworld\r\n");
        let utf8 = analyse("caf\u{e9} au lait\r\n".as_bytes());
        let cjk = analyse("你好，世界\r\n".as_bytes());
        let long = analyse(&[b'a'; 999]);
        assert_eq!(choose(&ascii, true, Offered::NONE).cte, Cte::SevenBit);
        assert_eq!(choose(&utf8, true, Offered::ALL).cte, Cte::EightBit);
        let down = choose(&utf8, true, Offered::NONE);
        assert_eq!(down.cte, Cte::QuotedPrintable);
        assert!(down.downgrade.is_some());
        assert_eq!(choose(&cjk, true, Offered::NONE).cte, Cte::Base64);
        assert_eq!(choose(&long, true, Offered::ALL).cte, Cte::QuotedPrintable);
        assert_eq!(choose(&ascii, false, Offered::NONE).cte, Cte::Base64);
        assert_eq!(choose(&ascii, false, Offered::ALL).cte, Cte::Binary);
        assert_eq!(analyse(&[b'a'; 998]).longest_line, 998);
    }

    #[test]
    fn base64_known_answers() {
        let mut s = String::new();
        base64_into(b"foobar", &mut s);
        base64_into(b"fo", &mut s);
        base64_into(b"f", &mut s);
        assert_eq!(s, "Zm9vYmFyZm8=Zg==");
        for len in [0u64, 1, 56, 57, 58, 114, 1000] {
            let mut out = Vec::new();
            base64_lines(&vec![7; len as usize], &mut out);
            assert_eq!(out.len() as u64, base64_lines_len(len), "{len}");
        }
    }

    #[test]
    fn quoted_printable_rules() {
        let qp = quoted_printable("a=b caf\u{e9} \r\nend\t".as_bytes());
        assert_eq!(qp, b"a=3Db caf=C3=A9=20\r\nend=09");
        let long = quoted_printable(&[b'x'; 200]);
        for line in long.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "{}", String::from_utf8_lossy(line));
        }
        let escapes = quoted_printable(&[0xE4; 60]);
        for line in escapes.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(line.len() <= 76);
            // Never a "=XX" cut by a soft break.
            assert!(line.len() % 3 == 1 || line.len() % 3 == 0);
        }
    }

    #[test]
    fn generated_is_deterministic_and_seekable() {
        let all = generated_vec(7, 64);
        let mut tail = [0u8; 32];
        generated(7, 32, &mut tail);
        assert_eq!(&all[32..], &tail);
        assert_ne!(generated_vec(8, 64), all);
    }
}
