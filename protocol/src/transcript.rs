//! The transcript: every event of a session in order, with its time offset, as data (serde)
//! that prints as the `C:` / `S:` notation of the RFCs. Both the server session and the
//! harness's client record into this type, so their transcripts read the same.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::data::ContentReport;

mod cold;
mod redact;
pub use redact::{fingerprint, Redaction};

use cold::ColdTail;

/// A transcript keeps its first [`HEAD_ENTRIES`] entries and its last [`TAIL_ENTRIES`];
/// what falls between is counted, not kept. A session's opening (greeting, EHLO, TLS, AUTH)
/// and its end (the last transactions, QUIT, the close) are what a reader needs, and memory
/// stays bounded however long a client keeps a connection or however much garbage it sends.
pub const HEAD_ENTRIES: usize = 1000;
/// See [`HEAD_ENTRIES`].
pub const TAIL_ENTRIES: usize = 1000;
/// The newest entries of the tail, kept as they are; older ones are kept encoded (see
/// `cold.rs`): about three messages' worth, so that the entries a session still changes
/// (the last content's report) and the text buffers it reuses are at hand.
const HOT_ENTRIES: usize = 32;

/// Longest client line kept verbatim; longer lines keep their start and their length.
pub const MAX_LINE_SHOWN: usize = 1024;

/// What follows the kept start of an over-long client line: `... (N octets)`.
pub const TRUNCATION_MARK: &str = "... (";

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(from = "TranscriptRepr", into = "TranscriptRepr")]
pub struct Transcript {
    head: Vec<Entry>,
    /// The tail's older entries, encoded; `tail` holds the newest.
    cold: ColdTail,
    tail: VecDeque<Entry>,
    omitted: u64,
    /// `cold` decoded, once someone reads the entries; cleared by every push.
    decoded: OnceLock<Vec<Entry>>,
    /// The text buffer of the last entry encoded, for the next line to reuse.
    spare: Option<String>,
}

impl PartialEq for Transcript {
    fn eq(&self, other: &Transcript) -> bool {
        self.omitted == other.omitted
            && self.omitted_at() == other.omitted_at()
            && self.entries().eq(other.entries())
    }
}

impl Eq for Transcript {}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("entries", &self.entries().collect::<Vec<_>>())
            .field("omitted", &self.omitted)
            .field("omitted_at", &self.omitted_at())
            .finish()
    }
}

/// The serialised form: all entries kept, and where and how many were left out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TranscriptRepr {
    entries: Vec<Entry>,
    #[serde(default, skip_serializing_if = "is_zero")]
    omitted: u64,
    /// Index in `entries` where the omitted ones would have been.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    omitted_at: Option<usize>,
}

impl From<Transcript> for TranscriptRepr {
    fn from(t: Transcript) -> TranscriptRepr {
        let omitted_at = (t.omitted > 0).then_some(t.head.len());
        let cold = t.cold.decode();
        let mut entries = t.head;
        entries.extend(cold);
        entries.extend(t.tail);
        TranscriptRepr {
            entries,
            omitted: t.omitted,
            omitted_at,
        }
    }
}

impl From<TranscriptRepr> for Transcript {
    fn from(mut r: TranscriptRepr) -> Transcript {
        let split = r.omitted_at.unwrap_or(r.entries.len()).min(r.entries.len());
        let tail = r.entries.split_off(split);
        Transcript {
            head: r.entries,
            tail: tail.into(),
            omitted: r.omitted,
            ..Transcript::default()
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a client line came, beside its text: the facts a conformance check needs that the
/// text alone does not show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineMeta {
    /// The line's first octet arrived before the server had written its answer to what came
    /// before (the greeting, the previous command's reply, a 334 challenge): the client did
    /// not wait. With PIPELINING that is allowed within a group (RFC 2920); without, or past a
    /// command that must end a group, it is a fault.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pipelined: bool,
    /// The line ended with a bare LF instead of CRLF (RFC 5321 §2.3.8).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bare_lf: bool,
    /// The line's full length in octets, without its terminator, when the text kept is
    /// shorter (over-long lines keep their start only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub octets: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Microseconds since the session started.
    pub at_us: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseReason {
    /// After QUIT and 221.
    Quit,
    /// The client closed (or half-closed) the connection without QUIT.
    PeerClosed,
    /// No command or data within the timeout; 421 sent.
    Timeout,
    /// The server is shutting down; 421 sent.
    Shutdown,
    /// Too many connections; 421 sent.
    TooManyConnections,
    /// The policy (a scenario) closed the connection.
    Policy,
    /// A network or TLS error.
    Error,
}

impl CloseReason {
    /// Every reason.
    pub const ALL: [CloseReason; 7] = [
        CloseReason::Quit,
        CloseReason::PeerClosed,
        CloseReason::Timeout,
        CloseReason::Shutdown,
        CloseReason::TooManyConnections,
        CloseReason::Policy,
        CloseReason::Error,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    Connected {
        peer: String,
        local: String,
        /// The listener's name (`smtp`, `submission`, `smtps`): checks of the submission
        /// profile (RFC 6409) apply only on a submission port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        listener: Option<String>,
    },
    /// A line from the client (command or SASL response), escaped where not printable (see
    /// [`escape_bytes`]; [`unescape`] gives the octets back).
    Client {
        line: String,
        /// What the conformance checks need to know about how the line came.
        #[serde(flatten)]
        meta: LineMeta,
    },
    /// Reply lines from the server, without the final CRLF, joined by CRLF.
    Server {
        text: String,
    },
    /// Octets from the server that are not a well-formed reply (a scenario's raw bytes).
    ServerRaw {
        bytes: String,
    },
    /// Message content from the client (DATA or a BDAT chunk).
    Content {
        octets: u64,
        summary: String,
        /// The content's first octet arrived before the server had answered what came before
        /// it (for DATA: before the 354).
        #[serde(default, skip_serializing_if = "is_false")]
        pipelined: bool,
        /// What the decoder saw in the whole message: on the DATA content, and on the last
        /// chunk of a BDAT transfer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<Box<ContentReport>>,
    },
    TlsEstablished {
        version: String,
        cipher: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sni: Option<String>,
    },
    /// Something worth knowing: a conformance observation (with its checklist ID) or a fact.
    Note {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check: Option<String>,
        text: String,
    },
    /// The message was stored under this id.
    Stored {
        id: String,
    },
    Closed {
        reason: CloseReason,
    },
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript {
            // Small, so that an idle connection costs little (ci/bench.sh row I); a
            // one-message session grows it twice.
            head: Vec::with_capacity(8),
            ..Transcript::default()
        }
    }

    pub fn push(&mut self, at: Duration, event: Event) {
        let at_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
        let entry = Entry { at_us, event };
        if self.head.len() < HEAD_ENTRIES {
            self.head.push(entry);
            return;
        }
        if self.cold.len() + self.tail.len() >= TAIL_ENTRIES {
            if self.cold.is_empty() {
                self.tail.pop_front();
            } else {
                self.cold.pop_front();
            }
            self.omitted += 1;
        }
        if self.tail.len() >= HOT_ENTRIES {
            if let Some(mut oldest) = self.tail.pop_front() {
                self.cold.push(&oldest);
                if let Event::Client { line: text, .. } | Event::Server { text } = &mut oldest.event
                {
                    self.spare = Some(std::mem::take(text));
                }
            }
        }
        self.tail.push_back(entry);
        self.decoded.take();
    }

    /// Ends the recording: the tail's encoded entries are decoded into it, so that a finished
    /// transcript (kept, judged, shown, measured) holds each entry once, as a value.
    pub fn settle(&mut self) {
        if self.cold.is_empty() {
            return;
        }
        let decoded = self.decoded.take().unwrap_or_else(|| self.cold.decode());
        let mut tail = VecDeque::from(decoded);
        tail.append(&mut self.tail);
        self.tail = tail;
        self.cold = ColdTail::default();
        self.spare = None;
    }

    /// The entries kept, in order (see [`HEAD_ENTRIES`]). The tail's older entries are
    /// decoded when the iteration reaches them, once until the next push.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        let cold = std::iter::once_with(|| self.decoded.get_or_init(|| self.cold.decode()).iter())
            .flatten();
        self.head.iter().chain(cold).chain(self.tail.iter())
    }

    /// Entries left out between the head and the tail.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The index (in [`Transcript::entries`]) where left-out entries would have been.
    pub fn omitted_at(&self) -> Option<usize> {
        (self.omitted > 0).then_some(self.head.len())
    }

    /// Why the session ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.entries().rev().find_map(|e| match e.event {
            Event::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    /// Records a client line (without its terminator). Lines over [`MAX_LINE_SHOWN`] octets
    /// keep their start, followed by `... (N octets)`, and their length in `meta.octets`.
    pub fn client_line(&mut self, at: Duration, line: &[u8], mut meta: LineMeta) {
        let mut shown = self.recycled_text();
        if line.len() > MAX_LINE_SHOWN {
            escape_bytes_into(&mut shown, &line[..MAX_LINE_SHOWN]);
            let _ = write!(shown, "{TRUNCATION_MARK}{} octets)", line.len());
            meta.octets = Some(meta.octets.unwrap_or(0).max(line.len() as u64));
        } else {
            escape_bytes_into(&mut shown, line);
        }
        self.push(at, Event::Client { line: shown, meta });
    }

    /// Attaches the decoder's report of a whole message to the last content event (the last
    /// chunk of a BDAT transfer).
    pub fn attach_report(&mut self, report: &ContentReport) {
        let last = match self.tail.back_mut() {
            Some(entry) => Some(entry),
            None => self.head.last_mut(),
        };
        if let Some(Entry {
            event: Event::Content { report: slot, .. },
            ..
        }) = last
        {
            *slot = Some(Box::new(report.clone()));
        }
    }

    /// An empty string for the next line, reusing the buffer of the last entry the tail
    /// encoded. Long sessions record lines at a steady rate once the tail is full; reusing
    /// the buffer saves an allocation and a free per line.
    fn recycled_text(&mut self) -> String {
        let mut buffer = self.spare.take().unwrap_or_default();
        buffer.clear();
        buffer
    }

    /// Records octets the server wrote: as reply lines when they are printable text ending in
    /// CRLF, raw otherwise.
    pub fn server_bytes(&mut self, at: Duration, bytes: &[u8]) {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.ends_with("\r\n") && !has_control(&text[..text.len() - 2]) => {
                let mut recorded = self.recycled_text();
                recorded.push_str(&text[..text.len() - 2]);
                self.push(at, Event::Server { text: recorded });
            }
            _ => self.push(
                at,
                Event::ServerRaw {
                    bytes: escape_bytes(bytes),
                },
            ),
        }
    }

    pub fn note(&mut self, at: Duration, check: Option<&str>, text: impl Into<String>) {
        self.push(
            at,
            Event::Note {
                check: check.map(str::to_owned),
                text: text.into(),
            },
        );
    }

    /// Records a whole message's content (DATA) with the decoder's report.
    pub fn content(&mut self, at: Duration, report: &ContentReport, pipelined: bool) {
        self.push(
            at,
            Event::Content {
                octets: report.octets,
                summary: summarise_content(report),
                pipelined,
                report: Some(Box::new(report.clone())),
            },
        );
    }

    /// The readable form; `with_times` adds each entry's offset in seconds.
    pub fn render(&self, with_times: bool) -> String {
        let mut out = String::new();
        for (i, entry) in self.entries().enumerate() {
            if i == self.head.len() && self.omitted > 0 {
                let _ = writeln!(out, "** {} entries omitted", self.omitted);
            }
            let prefix = if with_times {
                format!("{:>9.3} ", entry.at_us as f64 / 1e6)
            } else {
                String::new()
            };
            match &entry.event {
                Event::Server { text } => {
                    for line in text.split("\r\n") {
                        let _ = writeln!(out, "{prefix}S: {line}");
                    }
                }
                event => {
                    let _ = writeln!(out, "{prefix}{event}");
                }
            }
        }
        out
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connected { peer, local, .. } => write!(f, "** connected {peer} -> {local}"),
            Event::Client { line, .. } => write!(f, "C: {line}"),
            Event::Server { text } => write!(f, "S: {}", text.replace("\r\n", "\nS: ")),
            Event::ServerRaw { bytes } => write!(f, "S (raw): {bytes}"),
            Event::Content { summary, .. } => write!(f, "C: <{summary}>"),
            Event::TlsEstablished {
                version,
                cipher,
                sni,
            } => {
                write!(f, "** TLS established: {version}, {cipher}")?;
                match sni {
                    Some(sni) => write!(f, ", SNI {sni}"),
                    None => Ok(()),
                }
            }
            Event::Note {
                check: Some(check),
                text,
            } => write!(f, "!! {check}: {text}"),
            Event::Note { check: None, text } => write!(f, "** {text}"),
            Event::Stored { id } => write!(f, "** stored as {id}"),
            Event::Closed { reason } => write!(f, "** closed ({reason:?})"),
        }
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Whether `text` holds a control character other than CR, LF and TAB (C0, DEL or C1).
/// Replies are nearly always ASCII: they are tested octet by octet, without decoding.
fn has_control(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().fold(false, |found, b| {
            found | (b < 0x20 && !matches!(b, b'\r' | b'\n' | b'\t')) | (b == 0x7f)
        })
    } else {
        text.chars()
            .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    }
}

fn summarise_content(report: &ContentReport) -> String {
    // Built by hand: one a message on the session's thread, and `format!` costs several
    // hundred instructions more.
    let mut summary = String::with_capacity(48);
    summary.push_str(itoa::Buffer::new().format(report.octets));
    summary.push_str(" octets of content");
    if report.unstuffed_dots > 0 {
        let _ = write!(summary, ", {} dot-stuffed lines", report.unstuffed_dots);
    }
    summary
}

/// Printable ASCII and non-control Unicode as they are; everything else as `\xNN` (`\r`, `\n`
/// and `\t` by name), octet by octet so that [`unescape`] gives the octets back. A line that
/// is not valid UTF-8 has every octet above 0x7F escaped: it is in some other charset (QQ's
/// GBK replies), and the pairs that happen to decode as UTF-8 would print as unrelated
/// characters.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    escape_bytes_into(&mut out, bytes);
    out
}

/// [`escape_bytes`], appending to `out`.
pub fn escape_bytes_into(out: &mut String, bytes: &[u8]) {
    let utf8 = match std::str::from_utf8(bytes) {
        Ok(text)
            if text
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'\\') =>
        {
            // The common case, printable ASCII, is copied as it is.
            out.push_str(text);
            return;
        }
        Ok(_) => true,
        Err(_) => false,
    };
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() || (!utf8 && !c.is_ascii()) => {
                    let mut encoded = [0; 4];
                    for b in c.encode_utf8(&mut encoded).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// The inverse of [`escape_bytes`]: `\\r`, `\\n`, `\\t`, `\\\\` and `\\xNN` back to their octets.
/// An escape that [`escape_bytes`] never writes is kept as it is.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |at: usize| {
            bytes
                .get(at..at + 2)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        };
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') if hex(i + 2).is_some() => {
                out.extend(hex(i + 2));
                i += 4;
                continue;
            }
            _ => {
                out.push(b'\\');
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ASCII fast path of `has_control` says what the character test says, for every
    /// octet, and C1 controls (U+0080-U+009F) still count outside ASCII.
    #[test]
    fn has_control_matches_the_character_test() {
        for b in 0u8..0x80 {
            let text = format!("250 ok{}x", b as char);
            let by_chars = text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'));
            assert_eq!(has_control(&text), by_chars, "octet {b:#04x}");
        }
        assert!(has_control("250 caf\u{e9}\u{85}"));
        assert!(!has_control("250 caf\u{e9} ok\r\n250 more"));
        assert!(!has_control(""));
    }

    #[test]
    fn escapes_what_is_not_printable() {
        assert_eq!(escape_bytes(b"EHLO x"), "EHLO x");
        assert_eq!(escape_bytes(b"\0\0\0\x1a\0"), "\\x00\\x00\\x00\\x1a\\x00");
        assert_eq!(escape_bytes(b"a\xffb\r\n"), "a\\xffb\\r\\n");
        // UTF-8 text stays readable; a C1 control is escaped octet by octet.
        assert_eq!(escape_bytes("é\u{85}".as_bytes()), "é\\xc2\\x85");
        // GBK (QQ's "请使用"): not UTF-8, so no octet pair is shown as a character.
        assert_eq!(
            escape_bytes(b"535 \xc7\xeb\xca\xb9\xd3\xc3"),
            "535 \\xc7\\xeb\\xca\\xb9\\xd3\\xc3"
        );
        assert_eq!(escape_bytes("é".as_bytes()), "é");
    }

    #[test]
    fn unescape_reverses_escape() {
        for bytes in [
            &b"EHLO x"[..],
            b"\0\0\0\x1a\0",
            b"a\xffb\r\n\\x41",
            "é\t€".as_bytes(),
            b"\\\\\\",
            "é\u{85}".as_bytes(),
            b"535 \xc7\xeb\xca\xb9",
        ] {
            assert_eq!(unescape(&escape_bytes(bytes)), bytes);
        }
    }

    #[test]
    fn renders_the_rfc_notation() {
        let mut t = Transcript::new();
        let ms = Duration::from_millis;
        t.server_bytes(ms(0), b"220 mx ESMTP\r\n");
        t.client_line(ms(1), b"EHLO x", LineMeta::default());
        t.server_bytes(ms(2), b"250-mx\r\n250 SIZE 10\r\n");
        t.server_bytes(ms(3), b"\0\0\0\x1a\0\0\0");
        t.push(
            ms(4),
            Event::Closed {
                reason: CloseReason::Quit,
            },
        );
        assert_eq!(
            t.render(false),
            "S: 220 mx ESMTP\nC: EHLO x\nS: 250-mx\nS: 250 SIZE 10\n\
             S (raw): \\x00\\x00\\x00\\x1a\\x00\\x00\\x00\n** closed (Quit)\n"
        );
        assert!(t.render(true).starts_with("    0.000 S: 220"));
        let json = serde_json::to_string(t.entries().nth(1).expect("entry")).expect("json");
        assert_eq!(json, r#"{"at_us":1000,"kind":"client","line":"EHLO x"}"#);
    }

    #[test]
    fn keeps_the_head_and_the_tail_of_a_long_session() {
        let mut t = Transcript::new();
        let total = HEAD_ENTRIES + TAIL_ENTRIES + 500;
        for i in 0..total {
            t.client_line(
                Duration::ZERO,
                format!("NOOP {i}").as_bytes(),
                LineMeta::default(),
            );
        }
        assert_eq!(t.omitted(), 500);
        assert_eq!(t.entries().count(), HEAD_ENTRIES + TAIL_ENTRIES);
        let last = format!("C: NOOP {}", total - 1);
        assert!(t.render(false).ends_with(&format!("{last}\n")));
        assert!(t
            .render(false)
            .contains("C: NOOP 999\n** 500 entries omitted\nC: NOOP 1500\n"));
        let json = serde_json::to_string(&t).expect("json");
        let back: Transcript = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, t);
    }

    /// Every kind of event survives the tail's encoding: a long session of all of them reads
    /// back as its first and last entries, before and after a push, through serde, and a BDAT
    /// report attached to the newest content lands on it.
    #[test]
    fn a_long_session_of_every_event_reads_back_as_recorded() {
        let report = ContentReport {
            octets: 12,
            bare_lf: 1,
            eight_bit: true,
            lookalikes: vec![crate::data::LookalikeAt {
                kind: crate::data::Lookalike::CrDotLf,
                offset: 9,
            }],
            ..ContentReport::default()
        };
        let mut t = Transcript::new();
        let mut pushed: Vec<Entry> = Vec::new();
        for i in 0..(HEAD_ENTRIES + TAIL_ENTRIES) * 2 + 7 {
            let at = Duration::from_micros(i as u64);
            let event = match i % 9 {
                0 => Event::Client {
                    line: format!("MAIL FROM:<a{i}@example.com>"),
                    meta: LineMeta {
                        pipelined: i % 2 == 0,
                        bare_lf: i % 3 == 0,
                        octets: (i % 4 == 0).then_some(i as u64),
                    },
                },
                1 => Event::Server {
                    text: format!("250 ok {i} é"),
                },
                2 => Event::ServerRaw {
                    bytes: format!("\\x00raw {i}"),
                },
                3 => Event::Content {
                    octets: i as u64,
                    summary: format!("{i} octets of content"),
                    pipelined: i % 2 == 1,
                    report: (i % 4 == 3).then(|| Box::new(report.clone())),
                },
                4 => Event::Stored {
                    id: format!("Q{i}"),
                },
                5 => Event::Note {
                    check: (i % 2 == 0).then(|| "C-5321-X".to_owned()),
                    text: format!("note {i}"),
                },
                6 => Event::Connected {
                    peer: "127.0.0.1:1".to_owned(),
                    local: "127.0.0.1:2".to_owned(),
                    listener: Some("smtp".to_owned()),
                },
                7 => Event::TlsEstablished {
                    version: "TLSv1.3".to_owned(),
                    cipher: "X".to_owned(),
                    sni: None,
                },
                _ => Event::Closed {
                    reason: CloseReason::Timeout,
                },
            };
            t.push(at, event.clone());
            pushed.push(Entry {
                at_us: i as u64,
                event,
            });
        }
        let expected = |pushed: &[Entry]| -> Vec<Entry> {
            let mut kept = pushed[..HEAD_ENTRIES].to_vec();
            kept.extend_from_slice(&pushed[pushed.len() - TAIL_ENTRIES..]);
            kept
        };
        let entries: Vec<Entry> = t.entries().cloned().collect();
        assert_eq!(entries, expected(&pushed));
        assert_eq!(
            t.omitted(),
            (pushed.len() - HEAD_ENTRIES - TAIL_ENTRIES) as u64
        );
        // Read, then pushed to: the decoded entries are not served stale.
        let content = Event::Content {
            octets: 3,
            summary: "3 octets".to_owned(),
            pipelined: false,
            report: None,
        };
        t.push(Duration::from_micros(1), content.clone());
        t.attach_report(&report);
        let Event::Content {
            octets,
            summary,
            pipelined,
            ..
        } = content
        else {
            unreachable!()
        };
        pushed.push(Entry {
            at_us: 1,
            event: Event::Content {
                octets,
                summary,
                pipelined,
                report: Some(Box::new(report.clone())),
            },
        });
        let entries: Vec<Entry> = t.entries().cloned().collect();
        assert_eq!(entries, expected(&pushed));
        let json = serde_json::to_string(&t).expect("json");
        let back: Transcript = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, t);
        assert_eq!(
            back.entries().cloned().collect::<Vec<_>>(),
            expected(&pushed)
        );
        // Settled, it holds the same entries as values, and records on as before.
        let mut settled = t.clone();
        settled.settle();
        assert!(settled.cold.is_empty());
        assert_eq!(settled, t);
        let closed = Event::Closed {
            reason: CloseReason::Quit,
        };
        settled.push(Duration::from_micros(2), closed.clone());
        pushed.push(Entry {
            at_us: 2,
            event: closed,
        });
        assert_eq!(
            settled.entries().cloned().collect::<Vec<_>>(),
            expected(&pushed)
        );
    }

    #[test]
    fn recycled_buffers_never_leak_old_text_into_new_entries() {
        // Mixed events, so that the entry being recycled is sometimes a line, sometimes not,
        // and new lines are both shorter and longer than the one whose buffer they reuse.
        let mut t = Transcript::new();
        let mut expected = Vec::new();
        for i in 0..(HEAD_ENTRIES + TAIL_ENTRIES) * 2 {
            let entry = match i % 3 {
                0 => {
                    let line = "x".repeat(i % 17);
                    t.client_line(
                        Duration::ZERO,
                        format!("RCPT TO:<{line}>").as_bytes(),
                        LineMeta::default(),
                    );
                    format!("C: RCPT TO:<{line}>")
                }
                1 => {
                    t.server_bytes(Duration::ZERO, format!("250 ok {i}\r\n").as_bytes());
                    format!("S: 250 ok {i}")
                }
                _ => {
                    t.note(Duration::ZERO, None, format!("note {i}"));
                    format!("** note {i}")
                }
            };
            expected.push(entry);
        }
        let rendered: Vec<String> = t.entries().map(|e| e.event.to_string()).collect();
        assert_eq!(rendered[..HEAD_ENTRIES], expected[..HEAD_ENTRIES]);
        assert_eq!(
            rendered[HEAD_ENTRIES..],
            expected[expected.len() - TAIL_ENTRIES..]
        );
    }
}
