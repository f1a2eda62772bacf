//! Scalar values of the scenario format that need checking when they are read (so that an
//! error points at the file, line and column): replies written as on the wire, raw octets,
//! durations and regular expressions. Each also describes itself in the JSON Schema.

#[cfg(feature = "schema")]
use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

#[cfg(feature = "schema")]
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use smtp_protocol::reply::{EnhancedCode, Reply};

use crate::duration::parse_duration;

/// A duration such as `200ms`, `5s`, `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text)
            .map(DurationValue)
            .map_err(de::Error::custom)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for DurationValue {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|min|h)?$",
            "description": "A duration: 200ms, 5s, 2m, 1h."
        })
    }
}

/// A regular expression, compiled when the scenario is read. Matching is on text; `(?i)`
/// makes it case-insensitive.
#[derive(Debug, Clone)]
pub struct RegexValue(pub regex::Regex);

impl RegexValue {
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl<'de> Deserialize<'de> for RegexValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::Regex::new(&text)
            .map(RegexValue)
            .map_err(|e| de::Error::custom(format!("invalid regular expression: {e}")))
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for RegexValue {
    fn schema_name() -> Cow<'static, str> {
        "Regex".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A regular expression (Rust regex syntax); (?i) for any case."
        })
    }
}

/// A byte-level regular expression, for message bodies that need not be UTF-8.
#[derive(Debug, Clone)]
pub struct BytesRegexValue(pub regex::bytes::Regex);

impl<'de> Deserialize<'de> for BytesRegexValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::bytes::Regex::new(&text)
            .map(BytesRegexValue)
            .map_err(|e| de::Error::custom(format!("invalid regular expression: {e}")))
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for BytesRegexValue {
    fn schema_name() -> Cow<'static, str> {
        "Regex".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        RegexValue::json_schema(generator)
    }
}

/// A reply, written the way it appears on the wire: one line (`"451 4.7.1 Try later"`), a
/// list of lines (`["535-5.7.8 Bad", "535 5.7.8 credentials"]`), or a structured form
/// (`{code: 535, enhanced: 5.7.8, text: ...}` or `lines: [...]`). Text may hold the
/// placeholders `{hostname}`, `{helo}`, `{sender}`, `{recipient}`, `{user}`, `{peer-ip}`,
/// `{random:N}` and, after DATA, `{queue-id}` (see [`PLACEHOLDERS`]).
///
/// Text that is not UTF-8 (QQ's GBK `535`) is given as octets in the structured form:
/// `text: {hex: "c7 eb ..."}`, or a `{hex: ...}` item of `lines`. YAML strings are Unicode:
/// `"\xc7"` is the character U+00C7, sent as its UTF-8 (`c3 87`), not the octet `c7`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyValue {
    /// Text: written as UTF-8, placeholders filled in.
    Text(Reply),
    /// A reply with text given as octets: its exact wire form (lines ending in CRLF),
    /// written as it is (no placeholders).
    Octets(Vec<u8>),
}

/// The text of a reply line: a string, or octets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReplyText {
    Text(String),
    Octets(Vec<u8>),
}

impl<'de> Deserialize<'de> for ReplyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = ReplyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("reply text: a string, or {hex: \"c7 eb ...\"} for octets")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ReplyText, E> {
                Ok(ReplyText::Text(text.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ReplyText, A::Error> {
                hex_map(map).map(ReplyText::Octets)
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for ReplyText {
    fn schema_name() -> Cow<'static, str> {
        "ReplyText".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Reply text: a string (UTF-8; a YAML \"\\xNN\" above 7F is a Unicode character, not an octet), or {hex: \"c7 eb ...\"} for octets written as they are (text in GBK or Latin-1).",
            "oneOf": [
                {"type": "string"},
                hex_schema()
            ]
        })
    }
}

/// The placeholders a reply's text (or a raw string) may hold, as the schema describes them.
pub const PLACEHOLDERS: &str = "Placeholders: {hostname} (the server's name), {helo} (the \
client's EHLO/HELO argument), {sender} (the MAIL FROM mailbox, without brackets), {recipient} \
(the RCPT's own recipient; at other events, the transaction's first), {user} (the \
authenticated user name; empty before AUTH), {peer-ip} (the client's address), {random:N} (N \
random letters and digits) and, at the end of data, {queue-id} (the stored message's id).";

/// The structured form.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
struct StructuredReply {
    code: u16,
    #[serde(default)]
    enhanced: Option<String>,
    #[serde(default)]
    text: Option<ReplyText>,
    #[serde(default)]
    lines: Option<Vec<ReplyText>>,
}

fn reply_from_lines<E: de::Error>(lines: &[String]) -> Result<Reply, E> {
    if lines.is_empty() {
        return Err(E::custom("a reply needs at least one line"));
    }
    let last = lines.len() - 1;
    let mut wire = String::new();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(['\r', '\n']) {
            return Err(E::custom(format!(
                "a reply line cannot hold CR or LF: {line:?}"
            )));
        }
        // Each line is written as on the wire; the separator after the code tells where
        // the reply ends, so it must agree with the line's position.
        let separator = line.as_bytes().get(3).copied();
        let expected = if i == last {
            [Some(b' '), None]
        } else {
            [Some(b'-'), Some(b'-')]
        };
        if !expected.contains(&separator) {
            let want = if i == last {
                "\"ddd text\" (a space after the code)"
            } else {
                "\"ddd-text\" (a hyphen after the code)"
            };
            return Err(E::custom(format!(
                "reply line {} {line:?}: expected {want}",
                i + 1
            )));
        }
        wire.push_str(line);
        wire.push_str("\r\n");
    }
    Reply::parse(&wire).map_err(|e| E::custom(format!("invalid reply {lines:?}: {e}")))
}

impl<'de> Deserialize<'de> for ReplyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReplyVisitor;
        impl<'de> Visitor<'de> for ReplyVisitor {
            type Value = ReplyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a reply: \"250 2.0.0 OK\", a list of such lines, or {code, enhanced, text}",
                )
            }
            fn visit_str<E: de::Error>(self, line: &str) -> Result<ReplyValue, E> {
                reply_from_lines(&[line.to_owned()]).map(ReplyValue::Text)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReplyValue, A::Error> {
                let mut lines = Vec::new();
                while let Some(line) = seq.next_element::<String>()? {
                    lines.push(line);
                }
                reply_from_lines(&lines).map(ReplyValue::Text)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ReplyValue, A::Error> {
                let s = StructuredReply::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if !(200..=599).contains(&s.code) {
                    return Err(de::Error::custom(format!(
                        "reply code {} is outside 200-599 (write the line as a string or use raw: to send it anyway)",
                        s.code
                    )));
                }
                let enhanced = match s.enhanced {
                    Some(text) => Some(text.parse::<EnhancedCode>().map_err(|e| {
                        de::Error::custom(format!("enhanced status code {text:?}: {e}"))
                    })?),
                    None => None,
                };
                let lines = match (s.text, s.lines) {
                    (Some(text), None) => vec![text],
                    (None, Some(lines)) if !lines.is_empty() => lines,
                    (None, None) => vec![ReplyText::Text(String::new())],
                    _ => {
                        return Err(de::Error::custom(
                            "give either text or lines (not both, not an empty list)",
                        ))
                    }
                };
                let octets_of = |line: &ReplyText| match line {
                    ReplyText::Text(text) => text.as_bytes().to_vec(),
                    ReplyText::Octets(octets) => octets.clone(),
                };
                if lines
                    .iter()
                    .any(|l| octets_of(l).iter().any(|b| matches!(b, b'\r' | b'\n')))
                {
                    return Err(de::Error::custom("reply text cannot hold CR or LF"));
                }
                if lines.iter().all(|l| matches!(l, ReplyText::Text(_))) {
                    let lines = lines
                        .into_iter()
                        .map(|l| match l {
                            ReplyText::Text(text) => text,
                            ReplyText::Octets(_) => String::new(),
                        })
                        .collect();
                    return Ok(ReplyValue::Text(Reply::multiline(s.code, enhanced, lines)));
                }
                // Some text is octets: build the wire form as `Reply` would, byte by byte.
                let mut wire = Vec::new();
                let last = lines.len() - 1;
                for (i, line) in lines.iter().enumerate() {
                    wire.extend_from_slice(s.code.to_string().as_bytes());
                    wire.push(if i == last { b' ' } else { b'-' });
                    let text = octets_of(line);
                    if let Some(enhanced) = &enhanced {
                        wire.extend_from_slice(enhanced.to_string().as_bytes());
                        if !text.is_empty() {
                            wire.push(b' ');
                        }
                    }
                    wire.extend_from_slice(&text);
                    wire.extend_from_slice(b"\r\n");
                }
                Ok(ReplyValue::Octets(wire))
            }
        }
        deserializer.deserialize_any(ReplyVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for ReplyValue {
    fn schema_name() -> Cow<'static, str> {
        "Reply".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let structured = generator.subschema_for::<StructuredReply>();
        json_schema!({
            "description": format!("A reply as on the wire: one line, a list of lines, or {{code, enhanced, text|lines}}; text that is not UTF-8 (GBK, Latin-1) as {{code, text: {{hex: \"c7 eb ...\"}}}} (YAML strings are Unicode: \"\\xc7\" is U+00C7, sent as the UTF-8 octets c3 87). {PLACEHOLDERS}"),
            "oneOf": [
                {"type": "string", "pattern": "^[0-9]{3}( .*)?$"},
                {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{3}[- ].*$"}, "minItems": 1},
                structured
            ]
        })
    }
}

/// Octets written exactly: a string (sent as its UTF-8 encoding, with the reply placeholders
/// filled in; YAML escapes such as `\0` and `\x1a` work in double quotes, but `\xNN` above
/// `\x7f` is a Unicode character, sent as two UTF-8 octets) or `{hex: "00 00 1A"}` for
/// anything else (never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    pub bytes: Vec<u8>,
    /// Written as a string: placeholders apply.
    pub text: bool,
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or {hex: \"00 00 1A\"}")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawValue, E> {
                Ok(RawValue {
                    bytes: text.as_bytes().to_vec(),
                    text: true,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
                hex_map(map).map(|bytes| RawValue { bytes, text: false })
            }
        }
        deserializer.deserialize_any(RawVisitor)
    }
}

/// Reads `{hex: "00 00 1A"}`.
fn hex_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<u8>, A::Error> {
    let Some((key, hex)) = map.next_entry::<String, String>()? else {
        return Err(de::Error::custom("expected {hex: ...}"));
    };
    if key != "hex" || map.next_key::<String>()?.is_some() {
        return Err(de::Error::custom("expected exactly one key, hex"));
    }
    parse_hex(&hex).map_err(de::Error::custom)
}

/// The schema of `{hex: ...}`.
#[cfg(feature = "schema")]
fn hex_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {"hex": {"type": "string", "pattern": "^[0-9A-Fa-f\\s]*$"}}, "required": ["hex"], "additionalProperties": false})
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex {text:?} has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "hex {text:?}: {:?} is not a hex octet",
                        String::from_utf8_lossy(pair)
                    )
                })
        })
        .collect()
}

#[cfg(feature = "schema")]
impl JsonSchema for RawValue {
    fn schema_name() -> Cow<'static, str> {
        "Raw".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": format!("Octets written exactly: a string (UTF-8; placeholders are filled in; a YAML \"\\xNN\" above 7F is a Unicode character, sent as two UTF-8 octets), or {{hex: \"00 00 1A\"}} (never changed). {PLACEHOLDERS}"),
            "oneOf": [
                {"type": "string"},
                hex_schema()
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(yaml: &str) -> Result<Reply, String> {
        match serde_yaml::from_str::<ReplyValue>(yaml).map_err(|e| e.to_string())? {
            ReplyValue::Text(reply) => Ok(reply),
            ReplyValue::Octets(octets) => Err(format!("octets {octets:?}")),
        }
    }

    fn octets(yaml: &str) -> Vec<u8> {
        match serde_yaml::from_str::<ReplyValue>(yaml).expect("a reply") {
            ReplyValue::Octets(octets) => octets,
            ReplyValue::Text(reply) => panic!("text {reply:?}"),
        }
    }

    #[test]
    fn reply_text_as_octets() {
        // QQ's old 535, in GBK (docs/providers.md §1).
        assert_eq!(
            octets("{code: 535, text: {hex: \"c7 eb ca b9\"}}"),
            b"535 \xc7\xeb\xca\xb9\r\n"
        );
        assert_eq!(
            octets("{code: 535, enhanced: 5.7.8, lines: [\"first\", {hex: \"c7eb\"}]}"),
            b"535-5.7.8 first\r\n535 5.7.8 \xc7\xeb\r\n"
        );
        assert!(
            serde_yaml::from_str::<ReplyValue>("{code: 535, text: {hex: \"0d0a\"}}")
                .expect_err("CRLF")
                .to_string()
                .contains("CR or LF")
        );
        // A YAML "\xc7" is the character U+00C7: its UTF-8, not the octet.
        let text = reply("\"535 \\xc7\"").expect("text");
        assert_eq!(text.to_bytes(), "535 \u{c7}\r\n".as_bytes());
        assert_eq!(&text.to_bytes()[4..6], [0xc3, 0x87]);
    }

    #[test]
    fn replies_in_every_form() {
        let gmail =
            reply("[\"535-5.7.8 Username and Password not accepted.\", \"535 5.7.8 Learn more\"]")
                .expect("two lines");
        assert_eq!(
            gmail.to_string(),
            "535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 Learn more\r\n"
        );
        let one = reply("\"451 4.7.1 Greylisted, please try again later\"").expect("one line");
        assert_eq!(one.enhanced, Some(EnhancedCode::new(4, 7, 1)));
        let structured = reply("{code: 554, text: \"DT:SPM 163 smtp12\"}").expect("map");
        assert_eq!(structured.to_string(), "554 DT:SPM 163 smtp12\r\n");
        assert!(reply("\"hello\"").is_err());
        assert!(reply("[\"250 a\", \"250 b\"]")
            .expect_err("separator")
            .contains("hyphen"));
        assert!(reply("{code: 700, text: x}")
            .expect_err("range")
            .contains("outside 200-599"));
        assert!(reply("{code: 250, enhanced: 2.0, text: x}").is_err());
    }

    #[test]
    fn raw_octets() {
        let raw: RawValue = serde_yaml::from_str("\"\\0\\0\\0\\x1a\\0\\0\\0\"").expect("escapes");
        assert_eq!(raw.bytes, b"\0\0\0\x1a\0\0\0");
        let raw: RawValue = serde_yaml::from_str("{hex: \"c7 eb CA\"}").expect("hex");
        assert_eq!(raw.bytes, [0xc7, 0xeb, 0xca]);
        assert!(serde_yaml::from_str::<RawValue>("{hex: \"zz\"}").is_err());
        assert!(serde_yaml::from_str::<RawValue>("{hex: \"abc\"}").is_err());
    }
}
