//! Line framing with a hard length limit and an explicit "need more bytes" result.
//!
//! A line ends at LF. CRLF is the only terminator RFC 5321 §2.3.8 allows; a line that ends in a
//! bare LF is still delivered (so that a `\n`-only client gets replies instead of hanging), and
//! flagged so that the session can note it (C-5321-LINE-CRLF). A CR not followed by LF is no
//! terminator: it stays in the line, where the session notes it (C-5321-LINE-CRLF too) and
//! the command parser refuses it as a control character (`500 5.5.2`), since no reading of it
//! as a line end is safe. A line longer than the limit is
//! reported once, as soon as the limit is passed, and the rest of it is skipped up to its LF:
//! memory stays bounded whatever the client sends (S-5321-LINE-TOO-LONG).

/// How a framed line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    CrLf,
    BareLf,
}

/// One step of framing. `consumed` octets of the input are used up in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A complete line, terminator removed.
    Line {
        line: &'a [u8],
        ending: LineEnding,
        consumed: usize,
    },
    /// No complete line yet; nothing was consumed.
    NeedMore,
    /// The current line passed the limit. `consumed` octets were dropped; if `complete` is
    /// false the framer skips the rest of the line (up to LF) on later calls.
    TooLong { consumed: usize, complete: bool },
    /// Skipping the rest of an over-long line: `consumed` octets dropped; `complete` once its
    /// LF was reached.
    Skipped { consumed: usize, complete: bool },
}

/// Frames lines out of a buffer the caller owns; the caller drops `consumed` octets after each
/// call. `max_line` counts the terminator, like RFC 5321's "512 octets including CRLF".
#[derive(Debug, Clone)]
pub struct LineFramer {
    max_line: usize,
    skipping: bool,
}

impl LineFramer {
    pub fn new(max_line: usize) -> LineFramer {
        LineFramer {
            max_line: max_line.max(2),
            skipping: false,
        }
    }

    pub fn max_line(&self) -> usize {
        self.max_line
    }

    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line.max(2);
    }

    /// True while the rest of an over-long line is being skipped.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    pub fn next_line<'a>(&mut self, input: &'a [u8]) -> Framed<'a> {
        let newline = memchr::memchr(b'\n', input);
        if self.skipping {
            return match newline {
                Some(i) => {
                    self.skipping = false;
                    Framed::Skipped {
                        consumed: i + 1,
                        complete: true,
                    }
                }
                None if input.is_empty() => Framed::NeedMore,
                None => Framed::Skipped {
                    consumed: input.len(),
                    complete: false,
                },
            };
        }
        match newline {
            Some(i) => {
                let (line, ending) = match i.checked_sub(1).map(|j| input[j]) {
                    Some(b'\r') => (&input[..i - 1], LineEnding::CrLf),
                    _ => (&input[..i], LineEnding::BareLf),
                };
                // Measured with a two-octet terminator, as if it had been CRLF.
                if line.len() + 2 > self.max_line {
                    Framed::TooLong {
                        consumed: i + 1,
                        complete: true,
                    }
                } else {
                    Framed::Line {
                        line,
                        ending,
                        consumed: i + 1,
                    }
                }
            }
            // A pending CR may still be the first half of the CRLF, so allow one octet more.
            None if input.len() > self.max_line - 1 => {
                self.skipping = true;
                Framed::TooLong {
                    consumed: input.len(),
                    complete: false,
                }
            }
            None => Framed::NeedMore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames `input` delivered in pieces of `chunk` octets; returns a readable event log.
    fn frame_in_chunks(input: &[u8], chunk: usize, max: usize) -> Vec<String> {
        let mut framer = LineFramer::new(max);
        let mut buffer = Vec::new();
        let mut events = Vec::new();
        for piece in input.chunks(chunk) {
            buffer.extend_from_slice(piece);
            loop {
                let (event, consumed) = match framer.next_line(&buffer) {
                    Framed::NeedMore => break,
                    Framed::Line {
                        line,
                        ending,
                        consumed,
                    } => (
                        format!("{:?} {:?}", String::from_utf8_lossy(line), ending),
                        consumed,
                    ),
                    Framed::TooLong { consumed, complete } => {
                        (format!("too long complete={complete}"), consumed)
                    }
                    Framed::Skipped { consumed, complete } => {
                        if complete {
                            ("end of long line".to_owned(), consumed)
                        } else {
                            buffer.drain(..consumed);
                            continue;
                        }
                    }
                };
                events.push(event);
                buffer.drain(..consumed);
            }
        }
        events
    }

    #[test]
    fn same_events_at_every_split() {
        let input = b"EHLO a\r\nNOOP\nTHIS LINE IS FAR TOO LONG FOR THE LIMIT\r\nQUIT\r\n";
        let whole = frame_in_chunks(input, input.len(), 16);
        assert_eq!(
            whole,
            [
                "\"EHLO a\" CrLf",
                "\"NOOP\" BareLf",
                "too long complete=true",
                "\"QUIT\" CrLf"
            ]
        );
        for chunk in 1..input.len() {
            let events = frame_in_chunks(input, chunk, 16);
            // Split delivery may detect the long line before its end; the lines around it
            // must come out the same.
            let normalised: Vec<_> = events
                .iter()
                .filter(|e| !e.starts_with("too long") && *e != "end of long line")
                .collect();
            assert_eq!(
                normalised,
                ["\"EHLO a\" CrLf", "\"NOOP\" BareLf", "\"QUIT\" CrLf"]
            );
            assert_eq!(
                events.iter().filter(|e| e.starts_with("too long")).count(),
                1,
                "chunk {chunk}: {events:?}"
            );
        }
    }

    #[test]
    fn exact_limit_is_accepted() {
        let mut framer = LineFramer::new(8);
        assert!(matches!(
            framer.next_line(b"123456\r\n"),
            Framed::Line { consumed: 8, .. }
        ));
        assert!(matches!(
            framer.next_line(b"1234567\r\n"),
            Framed::TooLong { complete: true, .. }
        ));
        // Seven octets and a CR still fit if an LF follows.
        assert_eq!(framer.next_line(b"123456\r"), Framed::NeedMore);
    }
}
