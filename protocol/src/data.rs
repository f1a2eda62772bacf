//! Message content: the DATA decoder (RFC 5321 §4.1.1.4, §4.5.2) and the BDAT chunk reader
//! (RFC 3030), with what they observed that a conformance check cares about.
//!
//! End of data is recognised only on the exact octets CR LF "." CR LF, where the first CRLF may
//! be the one that ended the DATA command (S-5321-EOD-ONLY-CRLF-DOT-CRLF). The look-alikes used
//! for SMTP smuggling (CVE-2023-51764/5/6) are content, and are reported with their offsets.

use serde::{Deserialize, Serialize};

/// An end-of-data look-alike seen in the content (C-5321-SMUGGLE-EOD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lookalike {
    #[serde(rename = "LF.LF")]
    LfDotLf,
    #[serde(rename = "LF.CRLF")]
    LfDotCrLf,
    #[serde(rename = "CRLF.LF")]
    CrLfDotLf,
    #[serde(rename = "CR.CRLF")]
    CrDotCrLf,
    #[serde(rename = "CR.LF")]
    CrDotLf,
    #[serde(rename = "CR.CR")]
    CrDotCr,
    #[serde(rename = "CRLF.CR")]
    CrLfDotCr,
    #[serde(rename = "LF.CR")]
    LfDotCr,
}

impl Lookalike {
    /// Every look-alike.
    pub const ALL: [Lookalike; 8] = [
        Lookalike::LfDotLf,
        Lookalike::LfDotCrLf,
        Lookalike::CrLfDotLf,
        Lookalike::CrDotCrLf,
        Lookalike::CrDotLf,
        Lookalike::CrDotCr,
        Lookalike::CrLfDotCr,
        Lookalike::LfDotCr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lookalike::LfDotLf => "<LF>.<LF>",
            Lookalike::LfDotCrLf => "<LF>.<CR><LF>",
            Lookalike::CrLfDotLf => "<CR><LF>.<LF>",
            Lookalike::CrDotCrLf => "<CR>.<CR><LF>",
            Lookalike::CrDotLf => "<CR>.<LF>",
            Lookalike::CrDotCr => "<CR>.<CR>",
            Lookalike::CrLfDotCr => "<CR><LF>.<CR>",
            Lookalike::LfDotCr => "<LF>.<CR>",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookalikeAt {
    pub kind: Lookalike,
    /// Offset of the sequence's last octet in the raw content.
    pub offset: u64,
}

/// Observations on one message's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentReport {
    /// Octets received on the wire for the content (before dot-unstuffing, without the final
    /// `.` line).
    pub wire_octets: u64,
    /// Octets of the message after unstuffing.
    pub octets: u64,
    pub bare_cr: u64,
    pub bare_lf: u64,
    /// Longest line in octets, without its line end.
    pub longest_line: u64,
    /// Lines longer than the text-line limit (RFC 5321 §4.5.3.1.6: 1000 with CRLF).
    pub long_lines: u64,
    pub eight_bit: bool,
    pub nul: bool,
    pub lookalikes: Vec<LookalikeAt>,
    /// Lines whose leading dot was removed (S-5321-DOT-UNSTUFF).
    pub unstuffed_dots: u64,
}

impl ContentReport {
    pub fn has_bare_line_ends(&self) -> bool {
        self.bare_cr > 0 || self.bare_lf > 0
    }
}

/// At most this many look-alikes are kept per message (the count keeps going).
const MAX_LOOKALIKES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart,
    Text,
    /// A CR was seen and not yet emitted.
    Cr,
    /// CRLF "." at the start of a line.
    Dot,
    /// CRLF "." CR.
    DotCr,
    Done,
}

/// Line statistics shared by the DATA decoder and the BDAT reader.
#[derive(Debug, Clone)]
struct LineStats {
    text_line_limit: u64,
    line_len: u64,
    report: ContentReport,
    /// The last raw octets, oldest first, for look-alike detection.
    tail: [u8; 5],
}

impl LineStats {
    fn new(text_line_limit: usize) -> LineStats {
        LineStats {
            text_line_limit: text_line_limit.saturating_sub(2) as u64,
            line_len: 0,
            report: ContentReport::default(),
            // As if the CRLF that ended the command line had just been read.
            tail: [0, 0, 0, b'\r', b'\n'],
        }
    }

    fn push_raw(&mut self, bytes: &[u8]) {
        const TAIL: usize = 5;
        if bytes.len() >= TAIL {
            self.tail.copy_from_slice(&bytes[bytes.len() - TAIL..]);
        } else {
            // Byte by byte: `rotate_left` on a five-octet array is a general memmove, and
            // this runs for most octets of a message.
            for &byte in bytes {
                self.tail = [self.tail[1], self.tail[2], self.tail[3], self.tail[4], byte];
            }
        }
        self.report.wire_octets += bytes.len() as u64;
    }

    fn text_run(&mut self, run: &[u8]) {
        self.line_len += run.len() as u64;
        self.text_run_flags(run);
    }

    /// The 8-bit and NUL flags of text octets (CR and LF, neither, may be among them).
    fn text_run_flags(&mut self, run: &[u8]) {
        if !self.report.eight_bit && !run.is_ascii() {
            self.report.eight_bit = true;
        }
        if !self.report.nul && memchr::memchr(0, run).is_some() {
            self.report.nul = true;
        }
    }

    fn end_line(&mut self) {
        self.report.longest_line = self.report.longest_line.max(self.line_len);
        if self.line_len > self.text_line_limit {
            self.report.long_lines += 1;
        }
        self.line_len = 0;
    }

    fn lookalike(&mut self, kind: Lookalike) {
        if self.report.lookalikes.len() < MAX_LOOKALIKES {
            let offset = self.report.wire_octets.saturating_sub(1);
            self.report.lookalikes.push(LookalikeAt { kind, offset });
        }
    }

    /// Called after a LF was pushed: look-alikes ending in LF.
    fn check_lf(&mut self) {
        let before_first_lf_not_cr = |t: &[u8; 5], at: usize| t[at] != b'\r';
        let tail = self.tail;
        if tail[2..] == *b"\n.\n" && before_first_lf_not_cr(&tail, 1) {
            self.lookalike(Lookalike::LfDotLf);
        } else if tail[1..] == *b"\n.\r\n" && before_first_lf_not_cr(&tail, 0) {
            self.lookalike(Lookalike::LfDotCrLf);
        } else if tail[1..] == *b"\r\n.\n" {
            self.lookalike(Lookalike::CrLfDotLf);
        } else if tail[1..] == *b"\r.\r\n" {
            self.lookalike(Lookalike::CrDotCrLf);
        } else if tail[2..] == *b"\r.\n" {
            self.lookalike(Lookalike::CrDotLf);
        }
    }

    /// Called when the CR at the end of the tail turned out to be bare.
    fn check_bare_cr(&mut self) {
        let tail = self.tail;
        if tail[1..] == *b"\r\n.\r" {
            self.lookalike(Lookalike::CrLfDotCr);
        } else if tail[2..] == *b"\n.\r" && tail[1] != b'\r' {
            self.lookalike(Lookalike::LfDotCr);
        } else if tail[2..] == *b"\r.\r" {
            self.lookalike(Lookalike::CrDotCr);
        }
    }
}

/// The largest buffer [`DataDecoder::take`] keeps for the next message. Small, because a
/// session keeps it while it is open: an idle session that has sent mail holds at most this.
pub const RECYCLE_UP_TO: usize = 16 * 1024;

/// Decodes DATA content: removes dot-stuffing, finds the end, and reports what it saw. The
/// message is kept up to `max_size` octets; past that it is only counted, so a client cannot
/// make the server hold more than the limit.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    state: State,
    stats: LineStats,
    content: Vec<u8>,
    max_size: u64,
    /// This message has a bare CR inside a line: its plain lines are found by looking at
    /// every CR and LF, for the search by LF alone would pass such a line each time and
    /// search on (a bare CR in every line would make the work grow with the square of the
    /// message's size).
    bare_cr_inside: bool,
    /// Octets the plain-line searches looked at, for the test that they stay linear.
    #[cfg(test)]
    searched: usize,
}

impl DataDecoder {
    /// `max_size` 0 means no limit.
    pub fn new(max_size: u64, text_line_limit: usize) -> DataDecoder {
        DataDecoder::with_capacity(max_size, text_line_limit, 0)
    }

    /// Like [`DataDecoder::new`], reserving room for `expected` octets (a declared SIZE), up
    /// to the limit and to 1 MiB: a client's claim is not a reason to hold memory.
    pub fn with_capacity(max_size: u64, text_line_limit: usize, expected: u64) -> DataDecoder {
        let mut decoder = DataDecoder {
            state: State::LineStart,
            stats: LineStats::new(text_line_limit),
            content: Vec::new(),
            max_size: 0,
            bare_cr_inside: false,
            #[cfg(test)]
            searched: 0,
        };
        decoder.restart(max_size, text_line_limit, expected);
        decoder
    }

    /// Makes this decoder ready for the next message, as [`DataDecoder::with_capacity`] makes a
    /// new one, but keeping its (emptied) buffer: a session that sends many messages then
    /// allocates no buffer per message.
    pub fn restart(&mut self, max_size: u64, text_line_limit: usize, expected: u64) {
        const MAX_RESERVATION: u64 = 1024 * 1024;
        let max_size = if max_size == 0 { u64::MAX } else { max_size };
        // Without a declared size, room for a typical small message: growing from nothing
        // costs a dozen reallocations and copies per message.
        const TYPICAL: u64 = 4096;
        let wanted = if expected > 0 { expected } else { TYPICAL };
        let capacity = usize::try_from(wanted.min(max_size).min(MAX_RESERVATION)).unwrap_or(0);
        self.state = State::LineStart;
        self.stats = LineStats::new(text_line_limit);
        self.max_size = max_size;
        self.bare_cr_inside = false;
        self.content.clear();
        self.content.reserve(capacity);
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True when the content passed `max_size`.
    pub fn is_oversized(&self) -> bool {
        self.stats.report.octets > self.max_size
    }

    pub fn report(&self) -> &ContentReport {
        &self.stats.report
    }

    /// Takes the decoded content and the report (meaningful once done). The buffer is not
    /// shrunk (a copy: the whole message twice at once); [`append_bounded`] keeps its unused
    /// room small for large messages.
    pub fn finish(self) -> (Vec<u8>, ContentReport) {
        (self.content, self.stats.report)
    }

    /// [`DataDecoder::finish`] for a decoder that will be [restarted](DataDecoder::restart):
    /// content up to [`RECYCLE_UP_TO`] octets of buffer is copied out, at its exact size, and
    /// the buffer stays here for the next message; a larger buffer is handed over whole (no
    /// copy: a large message is never held twice).
    pub fn take(&mut self) -> (Vec<u8>, ContentReport) {
        let report = std::mem::take(&mut self.stats.report);
        let content = if self.content.capacity() <= RECYCLE_UP_TO {
            let exact = self.content.as_slice().to_vec();
            self.content.clear();
            exact
        } else {
            std::mem::take(&mut self.content)
        };
        (content, report)
    }

    fn emit(&mut self, bytes: &[u8]) {
        let report = &mut self.stats.report;
        report.octets += bytes.len() as u64;
        if report.octets <= self.max_size {
            append_bounded(&mut self.content, bytes);
        }
    }

    /// Feeds raw octets; returns how many were consumed. Fewer than `input.len()` only when the
    /// end of data was reached: the rest belongs to the next command.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::LineStart {
                // Fast path: most lines are plain text ending in CRLF; take a run of them in
                // one go.
                let len = self.plain_lines(&input[i..]);
                if len > 0 {
                    i += len;
                    continue;
                }
            } else if self.state == State::Text {
                // Fast path: copy up to the next CR or LF in one go.
                let rest = &input[i..];
                let run_len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                if run_len > 0 {
                    let run = &rest[..run_len];
                    self.stats.text_run(run);
                    self.stats.push_raw(run);
                    self.emit(run);
                    i += run_len;
                    continue;
                }
            }
            let byte = input[i];
            i += 1;
            self.stats.push_raw(&[byte]);
            self.step(byte);
        }
        i
    }

    /// At line start: takes the whole plain lines `rest` starts with (each ending in CRLF,
    /// none starting with a dot, no other CR or LF in them) and returns their length, with
    /// the same effects as stepping through them line by line. Line ends are found by one
    /// search for LF over the run and the 8-bit and NUL tests run once over it: a line at a
    /// time, three searches' start-up cost a line made this about a sixth of the session
    /// thread's work under ci/bench.sh row C (callgrind).
    fn plain_lines(&mut self, rest: &[u8]) -> usize {
        // The content keeps whole lines up to the size limit and nothing after the first
        // that crosses it, as line by line: a run ends before that line, which goes alone.
        let octets = self.stats.report.octets;
        let room = (octets <= self.max_size).then(|| self.max_size - octets);
        let limit = self.stats.text_line_limit;
        let mut run = PlainRun::default();
        if !self.bare_cr_inside {
            run = PlainRun::by_lf(rest, room, limit);
            // A run of n plain lines holds exactly n CRs; one more is a bare CR inside a
            // line: then the lines before it, found by looking at every CR too.
            self.bare_cr_inside = count_cr(&rest[..run.end]) != run.lines;
            #[cfg(test)]
            {
                self.searched += run.searched + run.end;
            }
        }
        if self.bare_cr_inside {
            run = PlainRun::by_cr_and_lf(rest, room, limit);
            #[cfg(test)]
            {
                self.searched += run.searched;
            }
        }
        if run.end > 0 {
            let bytes = &rest[..run.end];
            let report = &mut self.stats.report;
            report.longest_line = report.longest_line.max(run.longest);
            report.long_lines += run.long;
            self.stats.line_len = 0;
            self.stats.text_run_flags(bytes);
            self.stats.push_raw(bytes);
            self.emit(bytes);
        }
        // No `check_lf`: a look-alike ending in a plain line's LF needs a dot after a CR or
        // LF, so the dot would be a line's first octet, and a plain line never starts with one.
        run.end
    }

    fn step(&mut self, byte: u8) {
        match (self.state, byte) {
            (State::Done, _) => {}
            (State::Cr, b'\n') => {
                self.emit(b"\r\n");
                self.stats.end_line();
                self.stats.check_lf();
                self.state = State::LineStart;
            }
            (State::Cr, _) => {
                // The pending CR was bare: emit it, then handle this octet as text.
                self.bare_cr();
                self.emit(b"\r");
                self.stats.line_len += 1;
                self.state = State::Text;
                self.text_byte(byte);
            }
            (State::LineStart, b'.') => self.state = State::Dot,
            (State::Dot, b'\r') => self.state = State::DotCr,
            (State::Dot, _) => {
                // A stuffed dot: drop it (S-5321-DOT-UNSTUFF), keep the octet.
                self.stats.report.unstuffed_dots += 1;
                self.stats.line_len += 1;
                self.state = State::Text;
                self.text_byte(byte);
            }
            (State::DotCr, b'\n') => {
                // The final ".\r\n" is not content.
                self.stats.report.wire_octets -= 3;
                self.state = State::Done;
            }
            (State::DotCr, _) => {
                // CRLF "." CR x: the dot was stuffing, the CR is bare.
                self.stats.report.unstuffed_dots += 1;
                self.stats.line_len += 1;
                self.bare_cr();
                self.emit(b"\r");
                self.stats.line_len += 1;
                self.state = State::Text;
                self.text_byte(byte);
            }
            (State::LineStart | State::Text, _) => self.text_byte(byte),
        }
    }

    /// Records a bare CR. The octet after it is already in the tail; look-alikes ending in the
    /// CR are judged on the tail without it.
    fn bare_cr(&mut self) {
        self.stats.report.bare_cr += 1;
        let saved = self.stats.tail;
        self.stats.tail.rotate_right(1);
        self.stats.tail[0] = 0;
        self.stats.check_bare_cr();
        self.stats.tail = saved;
    }

    fn text_byte(&mut self, byte: u8) {
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => {
                self.stats.report.bare_lf += 1;
                self.emit(b"\n");
                self.stats.end_line();
                self.stats.check_lf();
                self.state = State::Text;
            }
            _ => {
                self.stats.text_run(&[byte]);
                self.emit(&[byte]);
                self.state = State::Text;
            }
        }
    }
}

/// Whole plain lines at the start of some input (see [`DataDecoder::plain_lines`]).
#[derive(Debug, Default)]
struct PlainRun {
    /// Their length, CRLFs included.
    end: usize,
    lines: usize,
    /// The longest line's text, and how many are over the text line limit.
    longest: u64,
    long: u64,
    /// Up to where the search looked (for the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    searched: usize,
}

impl PlainRun {
    /// Adds the line from `self.end` to the CR expected at `cr` (followed by its LF), if the
    /// line is plain and within `room`.
    fn take(&mut self, rest: &[u8], cr: usize, room: Option<u64>, limit: u64) -> bool {
        let plain = rest[self.end] != b'.' && rest[cr] == b'\r' && rest.get(cr + 1) == Some(&b'\n');
        let crosses_limit = room.is_some_and(|room| self.end > 0 && (cr + 2) as u64 > room);
        if !plain || crosses_limit {
            return false;
        }
        let text = (cr - self.end) as u64;
        self.longest = self.longest.max(text);
        self.long += u64::from(text > limit);
        self.lines += 1;
        self.end = cr + 2;
        true
    }

    /// Assumes no bare CR: each LF must follow a CR.
    fn by_lf(rest: &[u8], room: Option<u64>, limit: u64) -> PlainRun {
        let mut run = PlainRun {
            searched: rest.len(),
            ..PlainRun::default()
        };
        for lf in memchr::memchr_iter(b'\n', rest) {
            // A LF first in its line is bare: `rest[lf]` is then no CR, and the line ends.
            let cr = lf.saturating_sub(1).max(run.end);
            if !run.take(rest, cr, room, limit) {
                run.searched = lf + 1;
                break;
            }
        }
        run
    }

    fn by_cr_and_lf(rest: &[u8], room: Option<u64>, limit: u64) -> PlainRun {
        let mut run = PlainRun {
            searched: rest.len(),
            ..PlainRun::default()
        };
        let mut line_ends = memchr::memchr2_iter(b'\r', b'\n', rest);
        while let Some(at) = line_ends.next() {
            if !run.take(rest, at, room, limit) {
                run.searched = at + 1;
                break;
            }
            // The LF after this CR is the next match.
            line_ends.next();
        }
        run
    }
}

/// How many CRs `bytes` holds (memchr counts with vector instructions).
fn count_cr(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\r', bytes).count()
}

/// Above this, a message buffer grows by an eighth at a time instead of doubling.
const BOUNDED_GROWTH_FROM: usize = 1024 * 1024;

/// Appends to a message buffer. Small buffers grow as `Vec` does (doubling: few copies);
/// from [`BOUNDED_GROWTH_FROM`] on they grow by an eighth, so that a large message never holds
/// more than about 1.125 times its size (doubling left up to twice its size allocated, and
/// shrinking it afterwards copied it whole).
pub fn append_bounded(buffer: &mut Vec<u8>, bytes: &[u8]) {
    let needed = buffer.len() + bytes.len();
    if needed > buffer.capacity() && needed > BOUNDED_GROWTH_FROM {
        let step = (buffer.len() / 8).max(64 * 1024);
        buffer.reserve_exact(bytes.len().max(step));
    }
    buffer.extend_from_slice(bytes);
}

/// Reads BDAT chunks (RFC 3030 §2): exactly the announced octets, no dot-stuffing, no end
/// marker. Keeps the message up to `max_size` and reports line ends like the DATA decoder.
#[derive(Debug, Clone)]
pub struct ChunkReader {
    stats: LineStats,
    pending_cr: bool,
    content: Vec<u8>,
    max_size: u64,
    remaining: u64,
}

impl ChunkReader {
    pub fn new(max_size: u64, text_line_limit: usize) -> ChunkReader {
        ChunkReader {
            stats: LineStats::new(text_line_limit),
            pending_cr: false,
            content: Vec::new(),
            max_size: if max_size == 0 { u64::MAX } else { max_size },
            remaining: 0,
        }
    }

    /// Starts reading a chunk of `size` octets.
    pub fn start_chunk(&mut self, size: u64) {
        self.remaining = size;
    }

    /// Octets of the current chunk still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_oversized(&self) -> bool {
        self.stats.report.octets > self.max_size
    }

    pub fn report(&self) -> &ContentReport {
        &self.stats.report
    }

    /// Takes the content and the report, counting a trailing CR as bare.
    pub fn finish(mut self) -> (Vec<u8>, ContentReport) {
        if self.pending_cr {
            self.stats.report.bare_cr += 1;
        }
        self.stats.end_line();
        (self.content, self.stats.report)
    }

    /// Feeds octets of the current chunk; returns how many belonged to it.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let take = input
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let chunk = &input[..take];
        self.remaining -= take as u64;
        self.inspect(chunk);
        let report = &mut self.stats.report;
        report.octets += take as u64;
        if report.octets <= self.max_size {
            append_bounded(&mut self.content, chunk);
        }
        take
    }

    fn inspect(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.pending_cr {
                self.pending_cr = false;
                if rest[0] == b'\n' {
                    self.stats.push_raw(b"\n");
                    self.stats.end_line();
                    rest = &rest[1..];
                    continue;
                }
                self.stats.report.bare_cr += 1;
                self.stats.line_len += 1;
            }
            let run_len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            self.stats.text_run(&rest[..run_len]);
            self.stats.push_raw(&rest[..run_len]);
            match rest.get(run_len) {
                Some(b'\r') => {
                    self.stats.push_raw(b"\r");
                    self.pending_cr = true;
                }
                Some(_) => {
                    self.stats.push_raw(b"\n");
                    self.stats.report.bare_lf += 1;
                    self.stats.end_line();
                }
                None => {}
            }
            rest = &rest[(run_len + 1).min(rest.len())..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the size limit the content keeps the whole lines that fit, whether the lines
    /// come in one read or one at a time.
    #[test]
    fn an_oversized_message_keeps_the_lines_that_fit() {
        let input = b"aaa\r\nbbb\r\nccc\r\nddd\r\n.\r\n";
        let mut whole = DataDecoder::new(12, 1000);
        whole.feed(input);
        let mut lines = DataDecoder::new(12, 1000);
        for line in input.split_inclusive(|&b| b == b'\n') {
            lines.feed(line);
        }
        for decoder in [whole, lines] {
            assert!(decoder.is_done() && decoder.is_oversized());
            let (content, report) = decoder.finish();
            assert_eq!(content, b"aaa\r\nbbb\r\n");
            assert_eq!(report.octets, 20);
        }
    }

    /// A bare CR in every line does not make the plain-line search go over the rest of the
    /// input again for each line: the octets searched stay a small multiple of the input.
    #[test]
    fn bare_crs_in_every_line_keep_the_search_linear() {
        let mut input = b"plain\r\n".repeat(100);
        input.extend(b"a\rb\r\n".repeat(20_000));
        input.extend_from_slice(b".\r\n");
        let mut decoder = DataDecoder::new(0, 1000);
        assert_eq!(decoder.feed(&input), input.len());
        assert!(decoder.is_done());
        assert!(
            decoder.searched <= 3 * input.len(),
            "{} octets searched for {}",
            decoder.searched,
            input.len()
        );
        let (content, report) = decoder.finish();
        assert_eq!(report.bare_cr, 20_000);
        assert_eq!(content.len(), input.len() - 3);
    }

    /// A restarted decoder decodes the next message from scratch in the buffer it kept; the
    /// content handed out is an exact-size copy; a buffer grown past [`RECYCLE_UP_TO`] is
    /// handed over itself and not kept.
    #[test]
    fn a_restarted_decoder_reuses_its_buffer() {
        let mut decoder = DataDecoder::new(0, 1000);
        decoder.feed(b"Subject: one\r\n\r\n..dot\r\n.\r\n");
        assert!(decoder.is_done());
        let kept = decoder.content.as_ptr();
        let (content, report) = decoder.take();
        assert_eq!(content, b"Subject: one\r\n\r\n.dot\r\n");
        assert_eq!(content.capacity(), content.len());
        assert_eq!(report.octets, content.len() as u64);

        decoder.restart(0, 1000, 0);
        assert!(!decoder.is_done());
        assert_eq!(decoder.report().octets, 0);
        decoder.feed(b"two\r\n.\r\n");
        assert_eq!(decoder.content.as_ptr(), kept, "the buffer was kept");
        let (content, _) = decoder.take();
        assert_eq!(content, b"two\r\n");

        decoder.restart(0, 1000, 0);
        let line = vec![b'x'; 998];
        while decoder.content.len() <= RECYCLE_UP_TO {
            decoder.feed(&line);
            decoder.feed(b"\r\n");
        }
        decoder.feed(b".\r\n");
        let grown = decoder.content.as_ptr();
        let (content, _) = decoder.take();
        assert_eq!(
            content.as_ptr(),
            grown,
            "a large buffer is handed over, not copied"
        );
        assert_eq!(decoder.content.capacity(), 0);
        decoder.restart(0, 1000, 0);
        assert!(decoder.content.capacity() >= 4096);
    }

    /// Issue 10, item 3: a large message's buffer is at most about 1.125 times its size, and
    /// is handed over without a copy.
    #[test]
    fn a_large_message_holds_little_unused_room() {
        let line = [b'x'; 998];
        let mut decoder = DataDecoder::new(0, 1000);
        let mut total = 0;
        while total < 32 * 1024 * 1024 {
            let mut wire = line.to_vec();
            wire.extend_from_slice(b"\r\n");
            decoder.feed(&wire);
            total += wire.len();
            // While it is received too, not only once shrunk (a shrink is a copy).
            assert!(decoder.content.capacity() as f64 <= (total as f64 * 1.13).max(4.0e6));
        }
        decoder.feed(b".\r\n");
        let (content, _) = decoder.finish();
        assert_eq!(content.len(), total);
        assert!(
            content.capacity() as f64 <= content.len() as f64 * 1.13,
            "{} octets in a buffer of {}",
            content.len(),
            content.capacity()
        );
        let mut reader = ChunkReader::new(0, 1000);
        reader.start_chunk(total as u64);
        let chunk = vec![b'y'; total];
        for piece in chunk.chunks(64 * 1024) {
            reader.feed(piece);
        }
        let (content, _) = reader.finish();
        assert!(content.capacity() as f64 <= content.len() as f64 * 1.13);
    }

    fn decode(input: &[u8]) -> (Vec<u8>, ContentReport, usize) {
        let mut decoder = DataDecoder::new(0, 1000);
        let consumed = decoder.feed(input);
        assert!(decoder.is_done(), "not done: {input:?}");
        let (content, report) = decoder.finish();
        (content, report, consumed)
    }

    #[test]
    fn unstuffs_and_stops_at_the_exact_terminator() {
        let (content, report, consumed) =
            decode(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n");
        assert_eq!(content, b"Subject: x\r\n\r\n.leading dot\r\n");
        assert_eq!(consumed, 32);
        assert_eq!(report.unstuffed_dots, 1);
        assert_eq!(report.octets, content.len() as u64);
        assert!(!report.has_bare_line_ends());
    }

    #[test]
    fn empty_message_ends_at_once() {
        let (content, report, consumed) = decode(b".\r\n");
        assert_eq!((content.len(), consumed, report.wire_octets), (0, 3, 0));
    }

    #[test]
    fn lookalikes_are_content_and_reported() {
        let cases: [(&[u8], Lookalike); 8] = [
            (b"a\n.\nb", Lookalike::LfDotLf),
            (b"a\n.\r\nb", Lookalike::LfDotCrLf),
            (b"a\r\n.\nb", Lookalike::CrLfDotLf),
            (b"a\r.\r\nb", Lookalike::CrDotCrLf),
            (b"a\r.\nb", Lookalike::CrDotLf),
            (b"a\r.\rb", Lookalike::CrDotCr),
            (b"a\r\n.\rb", Lookalike::CrLfDotCr),
            (b"a\n.\rb", Lookalike::LfDotCr),
        ];
        for (body, kind) in cases {
            let mut input = body.to_vec();
            input.extend_from_slice(b"\r\n.\r\n");
            for chunk in 1..=input.len() {
                let mut decoder = DataDecoder::new(0, 1000);
                let mut consumed = 0;
                for piece in input.chunks(chunk) {
                    consumed += decoder.feed(piece);
                }
                assert!(decoder.is_done());
                assert_eq!(consumed, input.len());
                let (_, report) = decoder.finish();
                let kinds: Vec<_> = report.lookalikes.iter().map(|l| l.kind).collect();
                assert_eq!(kinds, [kind], "{body:?} in chunks of {chunk}");
                assert!(report.has_bare_line_ends(), "{body:?}");
            }
        }
    }

    #[test]
    fn counts_long_lines_and_eight_bit() {
        let mut input = vec![b'x'; 1200];
        input.extend_from_slice("\r\né\r\n.\r\n".as_bytes());
        let (_, report, _) = decode(&input);
        assert_eq!((report.long_lines, report.longest_line), (1, 1200));
        assert!(report.eight_bit);
    }

    #[test]
    fn oversized_content_is_counted_not_kept() {
        let mut decoder = DataDecoder::new(10, 1000);
        decoder.feed(b"0123456789abcdef\r\n.\r\n");
        assert!(decoder.is_done() && decoder.is_oversized());
        let (content, report) = decoder.finish();
        assert!(content.len() <= 10);
        assert_eq!(report.octets, 18);
    }

    #[test]
    fn chunk_reader_counts_exactly() {
        let mut reader = ChunkReader::new(0, 1000);
        reader.start_chunk(5);
        assert_eq!(reader.feed(b"ab\r\ncdef"), 5);
        assert_eq!(reader.remaining(), 0);
        reader.start_chunk(3);
        assert_eq!(reader.feed(b"d\ne"), 3);
        let (content, report) = reader.finish();
        assert_eq!(content, b"ab\r\ncd\ne");
        assert_eq!((report.bare_lf, report.bare_cr), (1, 0));
    }
}
