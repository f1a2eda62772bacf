//! The older part of a long session's tail, kept encoded.
//!
//! A session that outlives [`super::HEAD_ENTRIES`] keeps its last [`super::TAIL_ENTRIES`]
//! entries. Kept as `Entry` values, each new entry replaced one written about a hundred
//! messages earlier: with 20 such sessions about 2.8 MB of entries and their text buffers,
//! scattered over the heap and no longer in the processor's caches, so every line recorded
//! waited on memory and pushed other work out of the caches (ci/bench.sh row C: a build with
//! a 100-entry tail ran 7% faster, at 4 µs less CPU a message). Here the older entries are
//! encoded one after the other into one buffer: written in order, dropped by moving an
//! offset, and decoded only when someone reads the transcript (once, at the session's end).
//!
//! The encoding is private to this process (never stored or sent): a tag octet per event,
//! integers little-endian, texts as a 32-bit length and their UTF-8.

use std::collections::VecDeque;

use super::{CloseReason, Entry, Event, LineMeta};
use crate::data::{ContentReport, Lookalike, LookalikeAt};

/// Encoded entries, oldest first.
#[derive(Debug, Clone, Default)]
pub(super) struct ColdTail {
    /// The encoded entries from `start` on; what lies before `start` was dropped.
    bytes: Vec<u8>,
    start: usize,
    /// Each entry's encoded length, oldest first.
    lens: VecDeque<u32>,
}

/// Dropped octets are moved out of the buffer once they are this many and at least half of
/// it, so that the copy costs less than an octet moved per octet written.
const COMPACT_FROM: usize = 16 * 1024;

impl ColdTail {
    pub(super) fn len(&self) -> usize {
        self.lens.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    pub(super) fn push(&mut self, entry: &Entry) {
        let before = self.bytes.len();
        encode(&mut self.bytes, entry);
        let len = u32::try_from(self.bytes.len() - before).unwrap_or(u32::MAX);
        self.lens.push_back(len);
    }

    pub(super) fn pop_front(&mut self) {
        if let Some(len) = self.lens.pop_front() {
            self.start = (self.start + len as usize).min(self.bytes.len());
        }
        if self.start >= COMPACT_FROM && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }

    pub(super) fn decode(&self) -> Vec<Entry> {
        let mut entries = Vec::with_capacity(self.lens.len());
        let mut reader = Reader {
            bytes: self.bytes.get(self.start..).unwrap_or(&[]),
        };
        for _ in 0..self.lens.len() {
            // Only this module writes the buffer: a failure would be a defect here (the tests
            // stop on it), and in a release build the entries decoded so far are returned.
            match reader.entry() {
                Some(entry) => entries.push(entry),
                None => {
                    debug_assert!(false, "undecodable transcript entry");
                    break;
                }
            }
        }
        entries
    }
}

const CLIENT: u8 = 0;
const SERVER: u8 = 1;
const CONTENT: u8 = 2;
const STORED: u8 = 3;
const SERVER_RAW: u8 = 4;
const NOTE: u8 = 5;
const CONNECTED: u8 = 6;
const TLS_ESTABLISHED: u8 = 7;
const CLOSED: u8 = 8;

fn encode(out: &mut Vec<u8>, entry: &Entry) {
    let put_u64 = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&n.to_le_bytes());
    let put_str = |out: &mut Vec<u8>, text: &str| {
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&text.as_bytes()[..len as usize]);
    };
    let put_opt = |out: &mut Vec<u8>, text: &Option<String>| match text {
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
        None => out.push(0),
    };
    match &entry.event {
        Event::Client { line, meta } => {
            out.push(CLIENT);
            put_u64(out, entry.at_us);
            put_str(out, line);
            let flags = u8::from(meta.pipelined)
                | u8::from(meta.bare_lf) << 1
                | u8::from(meta.octets.is_some()) << 2;
            out.push(flags);
            if let Some(octets) = meta.octets {
                put_u64(out, octets);
            }
        }
        Event::Server { text } => {
            out.push(SERVER);
            put_u64(out, entry.at_us);
            put_str(out, text);
        }
        Event::Content {
            octets,
            summary,
            pipelined,
            report,
        } => {
            out.push(CONTENT);
            put_u64(out, entry.at_us);
            put_u64(out, *octets);
            put_str(out, summary);
            out.push(u8::from(*pipelined));
            match report {
                Some(report) => {
                    out.push(1);
                    for n in [
                        report.wire_octets,
                        report.octets,
                        report.bare_cr,
                        report.bare_lf,
                        report.longest_line,
                        report.long_lines,
                        report.unstuffed_dots,
                    ] {
                        put_u64(out, n);
                    }
                    out.push(u8::from(report.eight_bit) | u8::from(report.nul) << 1);
                    let count = u32::try_from(report.lookalikes.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&count.to_le_bytes());
                    for at in report.lookalikes.iter().take(count as usize) {
                        out.push(code_of(&Lookalike::ALL, &at.kind));
                        put_u64(out, at.offset);
                    }
                }
                None => out.push(0),
            }
        }
        Event::Stored { id } => {
            out.push(STORED);
            put_u64(out, entry.at_us);
            put_str(out, id);
        }
        Event::ServerRaw { bytes } => {
            out.push(SERVER_RAW);
            put_u64(out, entry.at_us);
            put_str(out, bytes);
        }
        Event::Note { check, text } => {
            out.push(NOTE);
            put_u64(out, entry.at_us);
            put_opt(out, check);
            put_str(out, text);
        }
        Event::Connected {
            peer,
            local,
            listener,
        } => {
            out.push(CONNECTED);
            put_u64(out, entry.at_us);
            put_str(out, peer);
            put_str(out, local);
            put_opt(out, listener);
        }
        Event::TlsEstablished {
            version,
            cipher,
            sni,
        } => {
            out.push(TLS_ESTABLISHED);
            put_u64(out, entry.at_us);
            put_str(out, version);
            put_str(out, cipher);
            put_opt(out, sni);
        }
        Event::Closed { reason } => {
            out.push(CLOSED);
            put_u64(out, entry.at_us);
            out.push(code_of(&CloseReason::ALL, reason));
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (taken, rest) = (self.bytes.get(..n)?, self.bytes.get(n..)?);
        self.bytes = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    fn opt_string(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            _ => self.string().map(Some),
        }
    }

    fn entry(&mut self) -> Option<Entry> {
        let tag = self.u8()?;
        let at_us = self.u64()?;
        let event = match tag {
            CLIENT => {
                let line = self.string()?;
                let flags = self.u8()?;
                let octets = if flags & 4 != 0 {
                    Some(self.u64()?)
                } else {
                    None
                };
                Event::Client {
                    line,
                    meta: LineMeta {
                        pipelined: flags & 1 != 0,
                        bare_lf: flags & 2 != 0,
                        octets,
                    },
                }
            }
            SERVER => Event::Server {
                text: self.string()?,
            },
            CONTENT => {
                let octets = self.u64()?;
                let summary = self.string()?;
                let pipelined = self.u8()? != 0;
                let report = match self.u8()? {
                    0 => None,
                    _ => Some(Box::new(self.report()?)),
                };
                Event::Content {
                    octets,
                    summary,
                    pipelined,
                    report,
                }
            }
            STORED => Event::Stored { id: self.string()? },
            SERVER_RAW => Event::ServerRaw {
                bytes: self.string()?,
            },
            NOTE => Event::Note {
                check: self.opt_string()?,
                text: self.string()?,
            },
            CONNECTED => Event::Connected {
                peer: self.string()?,
                local: self.string()?,
                listener: self.opt_string()?,
            },
            TLS_ESTABLISHED => Event::TlsEstablished {
                version: self.string()?,
                cipher: self.string()?,
                sni: self.opt_string()?,
            },
            CLOSED => Event::Closed {
                reason: value_of(&CloseReason::ALL, self.u8()?)?,
            },
            _ => return None,
        };
        Some(Entry { at_us, event })
    }

    fn report(&mut self) -> Option<ContentReport> {
        let mut report = ContentReport {
            wire_octets: self.u64()?,
            octets: self.u64()?,
            bare_cr: self.u64()?,
            bare_lf: self.u64()?,
            longest_line: self.u64()?,
            long_lines: self.u64()?,
            unstuffed_dots: self.u64()?,
            ..ContentReport::default()
        };
        let flags = self.u8()?;
        report.eight_bit = flags & 1 != 0;
        report.nul = flags & 2 != 0;
        for _ in 0..self.u32()? {
            let kind = value_of(&Lookalike::ALL, self.u8()?)?;
            let offset = self.u64()?;
            report.lookalikes.push(LookalikeAt { kind, offset });
        }
        Some(report)
    }
}

/// A value's position in its type's list of every value, as an octet.
fn code_of<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter()
        .position(|v| v == value)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

/// The value at an octet's position in its type's list of every value.
fn value_of<T: Copy>(all: &[T], code: u8) -> Option<T> {
    all.get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        // ASCII, multi-octet characters, and the empty text.
        "[a-zA-Z0-9 <>@:\\\\\\.é€😀]{0,40}"
    }

    fn report() -> impl Strategy<Value = ContentReport> {
        (
            prop::array::uniform7(any::<u64>()),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec((0usize..8, any::<u64>()), 0..4),
        )
            .prop_map(|(n, eight_bit, nul, lookalikes)| ContentReport {
                wire_octets: n[0],
                octets: n[1],
                bare_cr: n[2],
                bare_lf: n[3],
                longest_line: n[4],
                long_lines: n[5],
                unstuffed_dots: n[6],
                eight_bit,
                nul,
                lookalikes: lookalikes
                    .into_iter()
                    .map(|(k, offset)| LookalikeAt {
                        kind: Lookalike::ALL[k],
                        offset,
                    })
                    .collect(),
            })
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (text(), any::<bool>(), any::<bool>(), any::<Option<u64>>()).prop_map(
                |(line, pipelined, bare_lf, octets)| Event::Client {
                    line,
                    meta: LineMeta {
                        pipelined,
                        bare_lf,
                        octets,
                    },
                }
            ),
            text().prop_map(|text| Event::Server { text }),
            (
                any::<u64>(),
                text(),
                any::<bool>(),
                prop::option::of(report())
            )
                .prop_map(|(octets, summary, pipelined, report)| Event::Content {
                    octets,
                    summary,
                    pipelined,
                    report: report.map(Box::new),
                }),
            text().prop_map(|id| Event::Stored { id }),
            text().prop_map(|bytes| Event::ServerRaw { bytes }),
            (prop::option::of(text()), text())
                .prop_map(|(check, text)| Event::Note { check, text }),
            (text(), text(), prop::option::of(text())).prop_map(|(peer, local, listener)| {
                Event::Connected {
                    peer,
                    local,
                    listener,
                }
            }),
            (text(), text(), prop::option::of(text())).prop_map(|(version, cipher, sni)| {
                Event::TlsEstablished {
                    version,
                    cipher,
                    sni,
                }
            }),
            (0usize..7).prop_map(|r| Event::Closed {
                reason: CloseReason::ALL[r],
            }),
        ]
    }

    fn entry() -> impl Strategy<Value = Entry> {
        (any::<u64>(), event()).prop_map(|(at_us, event)| Entry { at_us, event })
    }

    proptest! {
        /// Whatever is pushed comes back, in order, less what was dropped from the front.
        #[test]
        fn entries_come_back_as_pushed(
            entries in prop::collection::vec(entry(), 0..40),
            dropped in 0usize..45,
        ) {
            let mut cold = ColdTail::default();
            for entry in &entries {
                cold.push(entry);
            }
            for _ in 0..dropped {
                cold.pop_front();
            }
            let kept = &entries[dropped.min(entries.len())..];
            prop_assert_eq!(cold.len(), kept.len());
            prop_assert_eq!(cold.decode(), kept.to_vec());
        }
    }

    /// The lists the encoding numbers values by hold every value, once, in a fixed order (a
    /// new variant stops this from compiling until it is listed).
    #[test]
    fn every_close_reason_and_lookalike_has_a_code() {
        let reason_index = |r: CloseReason| match r {
            CloseReason::Quit => 0,
            CloseReason::PeerClosed => 1,
            CloseReason::Timeout => 2,
            CloseReason::Shutdown => 3,
            CloseReason::TooManyConnections => 4,
            CloseReason::Policy => 5,
            CloseReason::Error => 6,
        };
        for (i, reason) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(reason_index(*reason), i);
            assert_eq!(
                value_of(&CloseReason::ALL, code_of(&CloseReason::ALL, reason)),
                Some(*reason)
            );
        }
        let lookalike_index = |k: Lookalike| match k {
            Lookalike::LfDotLf => 0,
            Lookalike::LfDotCrLf => 1,
            Lookalike::CrLfDotLf => 2,
            Lookalike::CrDotCrLf => 3,
            Lookalike::CrDotLf => 4,
            Lookalike::CrDotCr => 5,
            Lookalike::CrLfDotCr => 6,
            Lookalike::LfDotCr => 7,
        };
        for (i, kind) in Lookalike::ALL.iter().enumerate() {
            assert_eq!(lookalike_index(*kind), i);
            assert_eq!(
                value_of(&Lookalike::ALL, code_of(&Lookalike::ALL, kind)),
                Some(*kind)
            );
        }
    }

    /// A long run of pushes and drops keeps the buffer bounded: dropped octets are moved out.
    #[test]
    fn the_buffer_stays_bounded() {
        let mut cold = ColdTail::default();
        let entry = Entry {
            at_us: 7,
            event: Event::Server {
                text: "250 2.1.5 Recipient <someone@example.com> OK".to_owned(),
            },
        };
        for i in 0..100_000 {
            cold.push(&entry);
            if i >= 968 {
                cold.pop_front();
            }
        }
        assert_eq!(cold.len(), 968);
        assert!(
            cold.bytes.len() < 4 * COMPACT_FROM + 968 * 64,
            "{}",
            cold.bytes.len()
        );
        assert_eq!(cold.decode().len(), 968);
        assert!(cold.decode().iter().all(|e| *e == entry));
    }
}
