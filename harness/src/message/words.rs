//! Non-ASCII text in header fields: RFC 2047 encoded-words (Q and B, UTF-8 and GBK) folded
//! so that no line exceeds 76 octets and no character is split between two words, and RFC
//! 2231 parameter values (`name*=charset''%XX`, with `name*0*`, `name*1*` continuations cut
//! at character boundaries).

use super::{Charset, MessageError, WordEncoding};

/// RFC 2047 §2: an encoded-word is at most 75 octets; a header line holding one, at most 76.
const MAX_WORD: usize = 75;
const MAX_LINE: usize = 76;
/// RFC 2231 continuations: keep each line of a parameter within RFC 5322's 78.
const MAX_PARAM_LINE: usize = 78;

/// GBK octets of the characters the shapes use (GB 2312 subset; checked against Python's
/// `gbk` codec by `gbk_table_matches_python`). A character missing here is an error, never a
/// silent substitution.
const GBK: &[(char, [u8; 2])] = &[
    ('三', [0xC8, 0xFD]),
    ('与', [0xD3, 0xEB]),
    ('于', [0xD3, 0xDA]),
    ('人', [0xC8, 0xCB]),
    ('会', [0xBB, 0xE1]),
    ('伟', [0xCE, 0xB0]),
    ('关', [0xB9, 0xD8]),
    ('准', [0xD7, 0xBC]),
    ('前', [0xC7, 0xB0]),
    ('加', [0xBC, 0xD3]),
    ('参', [0xB2, 0xCE]),
    ('各', [0xB8, 0xF7]),
    ('告', [0xB8, 0xE6]),
    ('售', [0xCA, 0xDB]),
    ('备', [0xB1, 0xB8]),
    ('季', [0xBC, 0xBE]),
    ('年', [0xC4, 0xEA]),
    ('并', [0xB2, 0xA2]),
    ('度', [0xB6, 0xC8]),
    ('张', [0xD5, 0xC5]),
    ('总', [0xD7, 0xDC]),
    ('报', [0xB1, 0xA8]),
    ('据', [0xBE, 0xDD]),
    ('提', [0xCC, 0xE1]),
    ('数', [0xCA, 0xFD]),
    ('整', [0xD5, 0xFB]),
    ('料', [0xC1, 0xCF]),
    ('时', [0xCA, 0xB1]),
    ('明', [0xC3, 0xF7]),
    ('材', [0xB2, 0xC4]),
    ('汇', [0xBB, 0xE3]),
    ('王', [0xCD, 0xF5]),
    ('的', [0xB5, 0xC4]),
    ('知', [0xD6, 0xAA]),
    ('第', [0xB5, 0xDA]),
    ('算', [0xCB, 0xE3]),
    ('芳', [0xB7, 0xBC]),
    ('表', [0xB1, 0xED]),
    ('议', [0xD2, 0xE9]),
    ('请', [0xC7, 0xEB]),
    ('调', [0xB5, 0xF7]),
    ('负', [0xB8, 0xBA]),
    ('责', [0xD4, 0xF0]),
    ('通', [0xCD, 0xA8]),
    ('部', [0xB2, 0xBF]),
    ('销', [0xCF, 0xFA]),
    ('门', [0xC3, 0xC5]),
    ('预', [0xD4, 0xA4]),
    ('（', [0xA3, 0xA8]),
    ('）', [0xA3, 0xA9]),
    ('：', [0xA3, 0xBA]),
];

/// The octets of one character in `charset`.
pub fn encode_char(c: char, charset: Charset) -> Result<Vec<u8>, MessageError> {
    match charset {
        Charset::Utf8 => Ok(c.to_string().into_bytes()),
        Charset::UsAscii if c.is_ascii() => Ok(vec![c as u8]),
        Charset::Gbk if c.is_ascii() => Ok(vec![c as u8]),
        Charset::Gbk => GBK
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, octets)| octets.to_vec())
            .ok_or(MessageError::NotInCharset { c, charset }),
        Charset::UsAscii => Err(MessageError::NotInCharset { c, charset }),
    }
}

/// The octets of `text` in `charset`.
pub fn encode_text(text: &str, charset: Charset) -> Result<Vec<u8>, MessageError> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        out.extend(encode_char(c, charset)?);
    }
    Ok(out)
}

/// Where an encoded-word stands decides which octets Q may leave as they are.
fn q_safe(octet: u8) -> bool {
    // RFC 2047 §5 (3): in a phrase only letters, digits and "!*+-/=_" (with "=" and "_"
    // having their Q meanings); used everywhere, being the strictest.
    octet.is_ascii_alphanumeric() || matches!(octet, b'!' | b'*' | b'+' | b'-' | b'/')
}

fn q_encode(octets: &[u8], out: &mut String) {
    for &octet in octets {
        if octet == b' ' {
            out.push('_');
        } else if q_safe(octet) {
            out.push(octet as char);
        } else {
            out.push_str(&format!("={octet:02X}"));
        }
    }
}

fn q_len(octets: &[u8]) -> usize {
    octets
        .iter()
        .map(|&o| if o == b' ' || q_safe(o) { 1 } else { 3 })
        .sum()
}

fn b_len(octets: usize) -> usize {
    octets.div_ceil(3) * 4
}

/// Q or B, whichever is shorter for `octets` (what [`WordEncoding::Auto`] picks).
fn pick(encoding: WordEncoding, octets: &[u8]) -> WordEncoding {
    match encoding {
        WordEncoding::Auto if q_len(octets) <= b_len(octets.len()) => WordEncoding::Q,
        WordEncoding::Auto => WordEncoding::B,
        other => other,
    }
}

/// `text` as encoded-words for a header field whose name is `name_len` octets long: the
/// field's value (after `Name: `), folded with CRLF SP between words. Every word holds whole
/// characters only and fits [`MAX_WORD`]; every line fits [`MAX_LINE`]. `suffix` (an address,
/// say) follows the last word, on the same line when it fits, else on a line of its own.
pub fn encoded_words(
    text: &str,
    charset: Charset,
    encoding: WordEncoding,
    name_len: usize,
    suffix: &str,
) -> Result<String, MessageError> {
    let octets = encode_text(text, charset)?;
    let encoding = pick(encoding, &octets);
    let (letter, overhead) = {
        let letter = match encoding {
            WordEncoding::B => 'B',
            _ => 'Q',
        };
        // "=?" charset "?" letter "?" ... "?="
        (letter, charset.name().len() + 7)
    };
    let mut words: Vec<String> = Vec::new();
    let mut chunk: Vec<u8> = Vec::new();
    // The first line already holds "Name: ".
    let room = |first: bool| {
        let line_room = if first {
            MAX_LINE - name_len - 2
        } else {
            MAX_LINE - 1
        };
        line_room.min(MAX_WORD) - overhead
    };
    let size = |octets: &[u8]| match encoding {
        WordEncoding::B => b_len(octets.len()),
        _ => q_len(octets),
    };
    let flush = |chunk: &[u8], words: &mut Vec<String>| {
        let mut word = format!("=?{}?{letter}?", charset.name());
        match encoding {
            WordEncoding::B => word.push_str(&base64(chunk)),
            _ => q_encode(chunk, &mut word),
        }
        word.push_str("?=");
        words.push(word);
    };
    for c in text.chars() {
        let bytes = encode_char(c, charset)?;
        let mut candidate = chunk.clone();
        candidate.extend_from_slice(&bytes);
        if size(&candidate) > room(words.is_empty()) && !chunk.is_empty() {
            flush(&chunk, &mut words);
            chunk = bytes;
        } else {
            chunk = candidate;
        }
    }
    if !chunk.is_empty() || words.is_empty() {
        flush(&chunk, &mut words);
    }
    let mut value = words.join("\r\n ");
    if !suffix.is_empty() {
        let last_line = value.rsplit("\r\n").next().map_or(0, str::len);
        let used = if words.len() == 1 {
            name_len + 2 + last_line
        } else {
            last_line
        };
        if used + 1 + suffix.len() <= MAX_LINE {
            value.push(' ');
        } else {
            value.push_str("\r\n ");
        }
        value.push_str(suffix);
    }
    Ok(value)
}

/// Standard base64 without line breaks (for encoded-words).
pub fn base64(octets: &[u8]) -> String {
    let mut out = String::with_capacity(b_len(octets.len()));
    super::encode::base64_into(octets, &mut out);
    out
}

/// RFC 2231 §7 attribute-char: what may stand unencoded in an extended value.
fn attribute_char(octet: u8) -> bool {
    octet.is_ascii_alphanumeric()
        || matches!(
            octet,
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

fn percent(octets: &[u8]) -> String {
    let mut out = String::new();
    for &octet in octets {
        if attribute_char(octet) {
            out.push(octet as char);
        } else {
            out.push_str(&format!("%{octet:02X}"));
        }
    }
    out
}

/// One parameter, RFC 2231 style: `; name*=charset''value` on a line of its own, or
/// `; name*0*=charset''...` `; name*1*=...` when it does not fit one line. Starts with ";".
pub fn rfc2231_parameter(
    name: &str,
    value: &str,
    charset: Charset,
) -> Result<String, MessageError> {
    let prefix = format!("{}''", charset.name());
    let whole = format!("{prefix}{}", percent(&encode_text(value, charset)?));
    // " name*=" value ";"
    if 1 + name.len() + 2 + whole.len() < MAX_PARAM_LINE {
        return Ok(format!(";\r\n {name}*={whole}"));
    }
    let mut sections: Vec<String> = Vec::new();
    let mut current = prefix;
    for c in value.chars() {
        let piece = percent(&encode_char(c, charset)?);
        let label = format!(" {name}*{}*=", sections.len());
        if label.len() + current.len() + piece.len() + 1 > MAX_PARAM_LINE && !current.is_empty() {
            sections.push(std::mem::take(&mut current));
        }
        current.push_str(&piece);
    }
    if !current.is_empty() {
        sections.push(current);
    }
    Ok(sections
        .iter()
        .enumerate()
        .map(|(i, section)| format!(";\r\n {name}*{i}*={section}"))
        .collect())
}

/// The legacy form many clients still send (and RFC 2047 §5 forbids): a quoted parameter
/// holding encoded-words, `; name="=?UTF-8?B?...?="`.
pub fn legacy_parameter(name: &str, value: &str, charset: Charset) -> Result<String, MessageError> {
    // The first line holds ` name="` before the word and `";` after it.
    let words = encoded_words(value, charset, WordEncoding::B, name.len() + 3, "")?;
    // One quoted string: the words stay on one logical line, separated by folding.
    Ok(format!(";\r\n {name}=\"{words}\""))
}

/// A plain parameter: a token as it is, anything else quoted.
pub fn plain_parameter(name: &str, value: &str) -> String {
    let token = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    if token {
        format!("; {name}={value}")
    } else {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("; {name}=\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(value: &str, name_len: usize) -> Vec<usize> {
        let full = format!("{}: {value}", "X".repeat(name_len));
        full.split("\r\n").map(str::len).collect()
    }

    #[test]
    fn words_fold_within_76_and_keep_characters_whole() {
        let text =
            "关于第三季度销售报告与明年预算调整的会议通知：请各部门负责人准时参加并提前准备材料";
        for charset in [Charset::Utf8, Charset::Gbk] {
            for encoding in [WordEncoding::B, WordEncoding::Q] {
                let value = encoded_words(text, charset, encoding, 7, "").expect("encodes");
                assert!(value.contains("\r\n "), "{value}");
                for len in lines(&value, 7) {
                    assert!(len <= MAX_LINE, "{value}");
                }
                // Each word decodes on its own to whole characters.
                let mut decoded = String::new();
                for word in value.split("\r\n ") {
                    assert!(word.len() <= MAX_WORD, "{word}");
                    let inner = &word[2..word.len() - 2];
                    let mut fields = inner.splitn(3, '?');
                    let (_, letter, data) = (fields.next(), fields.next(), fields.next());
                    let octets = match (letter, data) {
                        (Some("B"), Some(data)) => decode_b(data),
                        (Some("Q"), Some(data)) => decode_q(data),
                        _ => panic!("{word}"),
                    };
                    decoded.push_str(&decode_charset(&octets, charset));
                }
                assert_eq!(decoded, text);
            }
        }
    }

    fn decode_b(data: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for b in data.bytes().filter(|&b| b != b'=') {
            let v = ALPHABET.iter().position(|&a| a == b).expect("base64") as u32;
            bits = (bits << 6) | v;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }

    fn decode_q(data: &str) -> Vec<u8> {
        let bytes = data.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'_' => out.push(b' '),
                b'=' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                    out.push(u8::from_str_radix(hex, 16).expect("hex"));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        out
    }

    fn decode_charset(octets: &[u8], charset: Charset) -> String {
        match charset {
            Charset::Gbk => {
                let mut out = String::new();
                let mut i = 0;
                while i < octets.len() {
                    if octets[i] < 0x80 {
                        out.push(octets[i] as char);
                        i += 1;
                    } else {
                        let pair = [octets[i], octets[i + 1]];
                        let c = GBK.iter().find(|(_, o)| *o == pair).expect("in table").0;
                        out.push(c);
                        i += 2;
                    }
                }
                out
            }
            _ => String::from_utf8(octets.to_vec()).expect("whole characters"),
        }
    }

    #[test]
    fn q_words_escape_what_a_phrase_forbids() {
        let value = encoded_words("Jörg O'Brien", Charset::Utf8, WordEncoding::Q, 4, "<j@x>")
            .expect("encodes");
        assert_eq!(value, "=?UTF-8?Q?J=C3=B6rg_O=27Brien?= <j@x>");
    }

    #[test]
    fn rfc2231_sections_split_at_characters() {
        let name = "第三季度销售数据汇总表第三季度销售数据汇总表第三季度销售数据汇总表.xlsx";
        let param = rfc2231_parameter("filename", name, Charset::Utf8).expect("encodes");
        assert!(
            param.starts_with(";\r\n filename*0*=UTF-8''%E7%AC%AC"),
            "{param}"
        );
        assert!(param.contains(" filename*1*="), "{param}");
        for line in param.split("\r\n") {
            assert!(line.len() <= MAX_PARAM_LINE, "{line}");
        }
        // Every section holds whole UTF-8 sequences: 9 octets (%XX) per character.
        for line in param.split("\r\n").skip(1) {
            let value = line.rsplit_once('=').map(|(_, v)| v).unwrap_or_default();
            let value = value.trim_start_matches("UTF-8''");
            let escapes = value.matches('%').count();
            assert_eq!(escapes % 3, 0, "{line}");
        }
        let short = rfc2231_parameter("filename", "报告.pdf", Charset::Gbk).expect("encodes");
        assert_eq!(short, ";\r\n filename*=GBK''%B1%A8%B8%E6.pdf");
    }

    #[test]
    fn unknown_gbk_character_is_an_error() {
        assert!(matches!(
            encode_text("鑫", Charset::Gbk),
            Err(MessageError::NotInCharset { c: '鑫', .. })
        ));
    }

    #[test]
    fn gbk_table_matches_python() {
        let text: String = GBK.iter().map(|(c, _)| *c).collect();
        let expected: Vec<u8> = GBK.iter().flat_map(|(_, o)| *o).collect();
        let output = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; sys.stdout.buffer.write(sys.argv[1].encode('gbk'))",
                &text,
            ])
            .output()
            .expect("python3 runs (ci/setup.sh installs it)");
        assert!(output.status.success());
        assert_eq!(output.stdout, expected);
    }
}
