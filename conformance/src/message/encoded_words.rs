//! Checks of section A.16 (RFC 2047 encoded-words).
//!
//! One scanner reads the header fields of every entity and finds the encoded-words
//! (`=?charset[*language]?B|Q?encoded-text?=`, RFC 2047 §2 and RFC 2231 §5), each with the
//! place it stands in (RFC 2047 §5): the `*text` of an unstructured field, a comment, a
//! phrase, a quoted-string, an addr-spec, a MIME parameter, a Received field, or elsewhere
//! in a structured field. The judges then read the words they care about.
//!
//! The scanner works on the raw (folded) field values, so that offsets point into the
//! content; folding line ends count as white space. It is linear: a field whose value has no
//! `=?` is not lexed at all, and a failed attempt at a word never reads past the next `=?`.

use std::ops::Range;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::message::model::{comment_end, quoted_end, HeaderField, MessageModel};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-2047-MAX-75",
        looks_at: "every encoded-word in every header field: at most 75 characters from `=?` to `?=`",
        example: "Subject: =?UTF-8?Q?a_subject_written_as_one_single_encoded_word_much_longer_than_the_limit?=",
        run: Run::Message(max_75),
    },
    Judge {
        id: "C-2047-LINE-76",
        looks_at: "every line of a header field holding an encoded-word (the field name counts on the first line): at most 76 characters",
        example: "Subject: Re: a long plain prefix before =?UTF-8?Q?caf=C3=A9?= and more words after it",
        run: Run::Message(line_76),
    },
    Judge {
        id: "C-2047-NO-WHITESPACE-INSIDE",
        looks_at: "every encoded-word: no space, tab or folding line break between `=?` and `?=`",
        example: "Subject: =?UTF-8?Q?caf=C3=A9 au lait?=",
        run: Run::Message(no_whitespace_inside),
    },
    Judge {
        id: "C-2047-NOT-IN-QUOTED-STRING",
        looks_at: "quoted-strings of structured header fields (display names and the like): no encoded-word inside",
        example: "From: \"=?UTF-8?B?SsO2cmc=?=\" <j@example.com>",
        run: Run::Message(not_in_quoted_string),
    },
    Judge {
        id: "C-2047-NOT-IN-ADDR-SPEC",
        looks_at: "the addresses of address fields (From, To, Cc, Reply-To, Return-Path ...): no encoded-word in an addr-spec",
        example: "To: =?UTF-8?Q?j=C3=B6rg?=@example.com",
        run: Run::Message(not_in_addr_spec),
    },
    Judge {
        id: "C-2047-NOT-IN-MIME-PARAMS",
        looks_at: "the parameters of Content-Type and Content-Disposition: no encoded-word (RFC 2231 is the way to encode them)",
        example: "Content-Disposition: attachment; filename=\"=?UTF-8?B?5Lit5paH?=.pdf\"",
        run: Run::Message(not_in_mime_params),
    },
    Judge {
        id: "C-2047-NOT-IN-RECEIVED",
        looks_at: "Received header fields: no encoded-word anywhere in them",
        example: "Received: from =?UTF-8?Q?h=C3=B6st?= by mx.example; Mon, 1 Jan 2024 00:00:00 +0000",
        run: Run::Message(not_in_received),
    },
    Judge {
        id: "C-2047-ALLOWED-LOCATIONS",
        looks_at: "encoded-words in structured header fields: only inside a comment or as a word of a phrase",
        example: "Message-ID: <=?UTF-8?Q?x?=@example.com>",
        run: Run::Message(allowed_locations),
    },
    Judge {
        id: "C-2047-SEPARATION",
        looks_at: "encoded-words in unstructured text, phrases and comments: white space between them and any neighbouring text, word or special",
        example: "Subject: Re:=?UTF-8?Q?caf=C3=A9?=",
        run: Run::Message(separation),
    },
    Judge {
        id: "C-2047-PHRASE-Q-CHARSET",
        looks_at: "Q encoded-words in display names and other phrases: only letters, digits and ! * + - / = _ in the encoded text",
        example: "From: =?UTF-8?Q?M=C3=BCller,_J.?= <j@example.com>",
        run: Run::Message(phrase_q_charset),
    },
    Judge {
        id: "C-2047-SELF-CONTAINED",
        looks_at: "every encoded-word decoded on its own: B text a multiple of 4 with proper padding, and whole characters of its charset (no character split across two words)",
        example: "Subject: =?UTF-8?B?5Lg=?= =?UTF-8?B?rQ==?=",
        run: Run::Message(self_contained),
    },
    Judge {
        id: "C-2047-SYNTAX-AND-ENCODING",
        looks_at: "every encoded-word's grammar: a charset token, encoding B or Q, encoded text of printable ASCII, Q escapes as `=` and two (upper-case) hex digits, B text of the base64 alphabet",
        example: "Subject: =?UTF-8?X?abc?=",
        run: Run::Message(syntax_and_encoding),
    },
    Judge {
        id: "C-2047-PURE-ASCII",
        looks_at: "encoded-words (and runs of adjacent ones) that decode to plain ASCII text, which needs no encoding",
        example: "Subject: =?UTF-8?Q?Hello_world?=",
        run: Run::Message(pure_ascii),
    },
];

/// Why a judge of this section has nothing to look at.
const NO_WORDS: &str = "the message's header fields hold no encoded-words";
const NO_B_OR_Q: &str = "the message has no B or Q encoded-words";

/// The report keeps this many findings per check; more are not gathered.
const MAX_FINDINGS: usize = 8;

/// RFC 2047 §2: "An 'encoded-word' may not be more than 75 characters long".
const MAX_WORD: usize = 75;

/// RFC 2047 §2: "each line of a header field that contains one or more 'encoded-word's is
/// limited to 76 characters".
const MAX_LINE: usize = 76;

/// A would-be encoded-word with white space inside must close within this many octets.
const LOOSE_MAX: usize = 128;

// ---------------------------------------------------------------------------------------
// The judges
// ---------------------------------------------------------------------------------------

/// RFC 2047 §2: at most 75 characters, delimiters included.
fn max_75(model: &MessageModel<'_>) -> Outcome {
    judge_words(model, NO_WORDS, |word, findings| {
        if !word.whitespace && word.octets.len() > MAX_WORD {
            findings.push(Finding::in_message(
                word.offset,
                word.octets,
                format!(
                    "an encoded-word of {} characters: at most 75 are allowed, delimiters included",
                    word.octets.len()
                ),
            ));
        }
        true
    })
}

/// RFC 2047 §2: each line of a field holding an encoded-word is at most 76 characters.
fn line_76(model: &MessageModel<'_>) -> Outcome {
    let content = model.content();
    let mut findings = Findings::default();
    let mut last_field = None;
    let looked = visit_words(model, &mut |field, _| {
        // The words of a field come one after another: look at its lines once.
        if last_field == Some(field.span.start) || findings.full() {
            return;
        }
        last_field = Some(field.span.start);
        if let Some((offset, line)) = first_long_line(content, field) {
            findings.push(Finding::in_message(
                offset,
                line,
                format!(
                    "a line of {} characters in a header field holding encoded-words: at most 76 are allowed",
                    characters(line)
                ),
            ));
        }
    });
    findings.outcome(looked, NO_WORDS)
}

/// RFC 2047 §2 and §4.2: no unencoded SPACE or TAB (nor a fold) inside an encoded-word.
fn no_whitespace_inside(model: &MessageModel<'_>) -> Outcome {
    judge_words(model, NO_WORDS, |word, findings| {
        if word.whitespace {
            findings.push(Finding::in_message(
                word.offset,
                word.octets,
                "white space inside an encoded-word: spaces must be encoded (`_` or `=20` in Q) and a fold may only fall between words",
            ));
        }
        true
    })
}

/// RFC 2047 §5: "An 'encoded-word' MUST NOT appear within a 'quoted-string'."
fn not_in_quoted_string(model: &MessageModel<'_>) -> Outcome {
    judge_place(
        model,
        Place::QuotedString,
        "an encoded-word inside a quoted-string is not decoded: it must stand outside the quotes",
    )
}

/// RFC 2047 §5: "An 'encoded-word' MUST NOT appear in any portion of an 'addr-spec'."
fn not_in_addr_spec(model: &MessageModel<'_>) -> Outcome {
    judge_place(
        model,
        Place::AddrSpec,
        "an encoded-word in an address (addr-spec), or where an address is expected",
    )
}

/// RFC 2047 §5: no encoded-word in a Content-Type or Content-Disposition parameter.
fn not_in_mime_params(model: &MessageModel<'_>) -> Outcome {
    judge_place(
        model,
        Place::Parameter,
        "an encoded-word in a MIME parameter: parameters are encoded as RFC 2231 says (name*=charset''value)",
    )
}

/// RFC 2047 §5: "An 'encoded-word' MUST NOT be used in a Received header field."
fn not_in_received(model: &MessageModel<'_>) -> Outcome {
    judge_place(
        model,
        Place::Received,
        "an encoded-word in a Received header field",
    )
}

/// RFC 2047 §5: in a structured field, only inside a comment or as a word of a phrase.
fn allowed_locations(model: &MessageModel<'_>) -> Outcome {
    judge_place(
        model,
        Place::Structured,
        "an encoded-word in a structured header field outside a comment or a phrase",
    )
}

/// The words standing in `place` are the findings.
fn judge_place(model: &MessageModel<'_>, place: Place, detail: &'static str) -> Outcome {
    judge_words(model, NO_WORDS, |word, findings| {
        if word.place == place {
            findings.push(Finding::in_message(word.offset, word.octets, detail));
        }
        true
    })
}

/// RFC 2047 §5 (1), (2), (3): white space between an encoded-word and adjacent text,
/// words, specials (in a phrase) or ctext (in a comment).
fn separation(model: &MessageModel<'_>) -> Outcome {
    judge_words(
        model,
        "the message has no encoded-words in unstructured text, phrases or comments",
        |word, findings| {
            if !matches!(word.place, Place::Text | Place::Phrase | Place::Comment) {
                return false;
            }
            if let Some(detail) = separation_fault(word) {
                findings.push(Finding::in_message(word.offset, word.octets, detail));
            }
            true
        },
    )
}

/// What touches `word` without white space between, if anything.
fn separation_fault(word: &Word<'_>) -> Option<String> {
    let (open, close) = match word.place {
        Place::Comment => (Some(b'('), Some(b')')),
        _ => (None, None),
    };
    let allowed = |octet: Option<u8>, delimiter: Option<u8>| match octet {
        None => true,
        Some(o) => is_wsp(o) || Some(o) == delimiter,
    };
    let what = match word.place {
        Place::Text => "text or another encoded-word",
        Place::Phrase => "a word, text or special",
        _ => "ctext or another encoded-word",
    };
    if !allowed(word.before, open) {
        return Some(format!(
            "an encoded-word run into the preceding {what} (`{}`) without white space between",
            shown(word.before)
        ));
    }
    if !allowed(word.after, close) {
        return Some(format!(
            "an encoded-word run into the following {what} (`{}`) without white space between",
            shown(word.after)
        ));
    }
    None
}

/// RFC 2047 §5 (3): the characters a Q encoded-word may use in a phrase.
fn phrase_q_charset(model: &MessageModel<'_>) -> Outcome {
    judge_words(
        model,
        "the message has no Q encoded-words in a phrase",
        |word, findings| {
            if word.place != Place::Phrase || word.encoding() != Some(Encoding::Q) {
                return false;
            }
            if let Some(&bad) = word.text.iter().find(|&&b| !is_phrase_q_char(b)) {
                findings.push(Finding::in_message(
                    word.offset,
                    word.octets,
                    format!(
                        "a Q encoded-word in a phrase holds `{}`: only letters, digits and ! * + - / = _ may appear there",
                        shown(Some(bad))
                    ),
                ));
            }
            true
        },
    )
}

/// RFC 2047 §5: each encoded-word encodes whole octets and whole characters on its own.
fn self_contained(model: &MessageModel<'_>) -> Outcome {
    judge_words(model, NO_B_OR_Q, |word, findings| {
        let Some(encoding) = word.encoding() else {
            return false;
        };
        if word.whitespace {
            return false;
        }
        let fault = match encoding {
            Encoding::B => b_octet_fault(word.text),
            Encoding::Q => None,
        }
        .or_else(|| character_fault(&word.charset_name(), &word.decode()));
        if let Some(detail) = fault {
            findings.push(Finding::in_message(word.offset, word.octets, detail));
        }
        true
    })
}

/// RFC 2047 §2, §4, §4.2, §5: the grammar of each encoded-word.
fn syntax_and_encoding(model: &MessageModel<'_>) -> Outcome {
    judge_words(model, NO_WORDS, |word, findings| {
        if let Some(finding) = syntax_fault(word) {
            findings.push(finding);
        }
        true
    })
}

/// The first grammar fault of `word`, as a finding (a lower-case hex digit only warns).
fn syntax_fault(word: &Word<'_>) -> Option<Finding> {
    let found = |detail: String| Finding::in_message(word.offset, word.octets, detail);
    if let Some(detail) = charset_fault(word.charset) {
        return Some(found(detail));
    }
    let Some(encoding) = word.encoding() else {
        return Some(found(format!(
            "encoding `{}` in an encoded-word: only B and Q are defined",
            String::from_utf8_lossy(word.encoding)
        )));
    };
    if word.text.is_empty() {
        return Some(found("an encoded-word with empty encoded text".to_owned()));
    }
    if word.raw_question {
        return Some(found(
            "a raw `?` inside encoded text: it must be encoded".to_owned(),
        ));
    }
    if let Some(&bad) = word
        .text
        .iter()
        .find(|&&b| !(0x21..=0x7e).contains(&b) && !is_wsp(b))
    {
        return Some(found(format!(
            "a raw octet {} in encoded text: only printable ASCII may appear there",
            shown(Some(bad))
        )));
    }
    match encoding {
        Encoding::B => word
            .text
            .iter()
            .find(|&&b| base64_value(b).is_none() && b != b'=' && !is_wsp(b))
            .map(|&bad| {
                found(format!(
                    "`{}` in B encoded text: only the base64 alphabet and `=` padding may appear there",
                    shown(Some(bad))
                ))
            }),
        Encoding::Q => q_fault(word).map(|(detail, warn_only)| {
            let finding = found(detail);
            if warn_only {
                finding.warn()
            } else {
                finding
            }
        }),
    }
}

/// RFC 2047 §2: `charset = token`; RFC 2231 §5: `charset ["*" language]`.
fn charset_fault(charset: &[u8]) -> Option<String> {
    let (name, language) = match charset.iter().position(|&b| b == b'*') {
        Some(star) => (&charset[..star], Some(&charset[star + 1..])),
        None => (charset, None),
    };
    if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
        return Some(format!(
            "charset `{}` of an encoded-word is not a token",
            String::from_utf8_lossy(charset)
        ));
    }
    match language {
        Some(tag)
            if tag.is_empty() || !tag.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Some(format!(
                "language `{}` of an encoded-word is not a language tag",
                String::from_utf8_lossy(tag)
            ))
        }
        _ => None,
    }
}

/// A Q encoded text's fault: `=` without two hex digits (§4.2 (1), §5), lower-case hex
/// digits (§4.2: "Upper case should be used", only a warning), and in a comment a raw `(`,
/// `)` or `"` (§5 (2)). The flag says whether it only warns.
fn q_fault(word: &Word<'_>) -> Option<(String, bool)> {
    let text = word.text;
    let mut lower_case = None;
    let mut i = 0;
    while i < text.len() {
        let octet = text.get(i).copied().unwrap_or(0);
        if octet == b'=' {
            let (high, low) = (text.get(i + 1).copied(), text.get(i + 2).copied());
            match (high, low) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    if lower_case.is_none() && (h.is_ascii_lowercase() || l.is_ascii_lowercase()) {
                        lower_case = Some(i);
                    }
                    i += 3;
                    continue;
                }
                _ => {
                    return Some((
                        format!(
                            "`=` not followed by two hex digits in Q encoded text (`{}`)",
                            String::from_utf8_lossy(
                                text.get(i..(i + 3).min(text.len())).unwrap_or_default()
                            )
                        ),
                        false,
                    ))
                }
            }
        }
        if word.place == Place::Comment && matches!(octet, b'(' | b')' | b'"') {
            return Some((
                format!(
                    "a raw `{}` in a Q encoded-word inside a comment: it must be encoded",
                    octet as char
                ),
                false,
            ));
        }
        i += 1;
    }
    lower_case.map(|at| {
        (
            format!(
                "lower-case hex digits in Q encoded text (`{}`): upper case should be used",
                String::from_utf8_lossy(text.get(at..(at + 3).min(text.len())).unwrap_or_default())
            ),
            true,
        )
    })
}

/// RFC 2047 §5: a B encoded text is a multiple of 4 characters, `=` only as final padding.
fn b_octet_fault(text: &[u8]) -> Option<String> {
    if !text.len().is_multiple_of(4) {
        return Some(format!(
            "B encoded text of {} characters: not a multiple of 4, so not a whole number of octets",
            text.len()
        ));
    }
    let padding = text.iter().rev().take_while(|&&b| b == b'=').count();
    let misplaced = text[..text.len() - padding].contains(&b'=');
    if padding > 2 || misplaced {
        return Some(
            "`=` padding in the middle of B encoded text, or more than two `=`".to_owned(),
        );
    }
    None
}

/// Whether `octets` are whole characters of `charset` (lower case, language cut off).
/// UTF-8 is checked fully; the double-byte Asian charsets and UTF-16/32 for a character cut
/// at the end; other charsets have every octet a character.
fn character_fault(charset: &str, octets: &[u8]) -> Option<String> {
    match charset_family(charset) {
        Family::Utf8 => utf8_fault(octets),
        Family::Units(size) if !octets.len().is_multiple_of(size) => Some(format!(
            "the decoded octets are not whole {charset} code units: a character is split across encoded-words"
        )),
        Family::DoubleByte(lead) if ends_inside_character(octets, lead) => Some(format!(
            "the decoded octets end in the middle of a {charset} character: a character is split across encoded-words"
        )),
        _ => None,
    }
}

fn utf8_fault(octets: &[u8]) -> Option<String> {
    let error = std::str::from_utf8(octets).err()?;
    let at = error.valid_up_to();
    let detail = if error.error_len().is_none() {
        "the decoded octets end in the middle of a UTF-8 character: a character is split across encoded-words"
    } else if at == 0 && octets.first().is_some_and(|&b| (0x80..0xc0).contains(&b)) {
        "the decoded octets begin in the middle of a UTF-8 character: a character is split across encoded-words"
    } else {
        "the decoded octets are not whole UTF-8 characters"
    };
    Some(detail.to_owned())
}

/// RFC 2047 §5: "Use of 'encoded-word's to represent strings of purely ASCII characters is
/// allowed, but discouraged." Adjacent words (only white space between) are one string.
fn pure_ascii(model: &MessageModel<'_>) -> Outcome {
    let mut findings = Findings::default();
    let mut looked = false;
    // The first word of the current run (offset, octets), and whether all were ASCII.
    let mut run: Option<(usize, &[u8], bool)> = None;
    visit_words(model, &mut |_, word| {
        if !word.joins_previous {
            flush_ascii_run(run.take(), &mut findings);
        }
        if looked && findings.full() {
            return;
        }
        let ascii = match word.encoding() {
            Some(_) if !word.whitespace => {
                looked = true;
                is_ascii_text(&word.charset_name(), &word.decode())
            }
            _ => false,
        };
        run = match run {
            Some((offset, octets, all)) => Some((offset, octets, all && ascii)),
            None => Some((word.offset, word.octets, ascii)),
        };
    });
    flush_ascii_run(run, &mut findings);
    findings.outcome(looked, NO_B_OR_Q)
}

fn flush_ascii_run(run: Option<(usize, &[u8], bool)>, findings: &mut Findings) {
    if let Some((offset, octets, true)) = run {
        findings.push(Finding::in_message(
            offset,
            octets,
            "an encoded-word that decodes to plain ASCII text, which needs no encoding",
        ));
    }
}

/// Decoded octets that are plain ASCII text in an ASCII-compatible charset.
fn is_ascii_text(charset: &str, octets: &[u8]) -> bool {
    let not_ascii_based = matches!(charset_family(charset), Family::Units(_))
        || charset.starts_with("utf-7")
        || charset.starts_with("hz");
    !not_ascii_based
        && !octets.is_empty()
        && octets
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
}

// ---------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------

/// Findings, at most [`MAX_FINDINGS`].
#[derive(Debug, Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, finding: Finding) {
        if self.0.len() < MAX_FINDINGS {
            self.0.push(finding);
        }
    }

    fn full(&self) -> bool {
        self.0.len() >= MAX_FINDINGS
    }

    fn outcome(self, looked: bool, why: &'static str) -> Outcome {
        Outcome::judged(looked, why, self.0)
    }
}

// ---------------------------------------------------------------------------------------
// The scanner
// ---------------------------------------------------------------------------------------

/// Where an encoded-word stands (RFC 2047 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The `*text` of an unstructured field: Subject, Comments, Content-Description, X- and
    /// unknown (extension) fields. §5 (1)
    Text,
    /// Inside a comment of a structured field. §5 (2)
    Comment,
    /// A word of a phrase: a display name, a group name, Keywords. §5 (3)
    Phrase,
    /// Inside a quoted-string (other than in an addr-spec or a parameter).
    QuotedString,
    /// In an addr-spec, or where an address is expected.
    AddrSpec,
    /// In a Content-Type or Content-Disposition parameter.
    Parameter,
    /// Anywhere in a Received field.
    Received,
    /// Anywhere else in a structured field.
    Structured,
}

/// The two encodings RFC 2047 §4 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    B,
    Q,
}

/// One encoded-word found in a header field (or what was meant as one).
#[derive(Debug)]
struct Word<'a> {
    /// Offset of its `=?` in the content.
    offset: usize,
    /// From `=?` to `?=`.
    octets: &'a [u8],
    /// The charset, with `*language` if given.
    charset: &'a [u8],
    encoding: &'a [u8],
    text: &'a [u8],
    /// White space (or a fold) inside it.
    whitespace: bool,
    /// A raw `?` inside its text.
    raw_question: bool,
    place: Place,
    /// The octets just before and after it in the field value (`None` at its edges).
    before: Option<u8>,
    after: Option<u8>,
    /// It follows the previous word of the same field with only white space between.
    joins_previous: bool,
}

impl Word<'_> {
    fn encoding(&self) -> Option<Encoding> {
        if self.encoding.eq_ignore_ascii_case(b"B") {
            Some(Encoding::B)
        } else if self.encoding.eq_ignore_ascii_case(b"Q") {
            Some(Encoding::Q)
        } else {
            None
        }
    }

    /// The charset in lower case, without the language.
    fn charset_name(&self) -> String {
        let name = self
            .charset
            .split(|&b| b == b'*')
            .next()
            .unwrap_or_default();
        String::from_utf8_lossy(name).to_ascii_lowercase()
    }

    /// The octets it stands for (what can be decoded of them).
    fn decode(&self) -> Vec<u8> {
        match self.encoding() {
            Some(Encoding::B) => decode_b(self.text),
            Some(Encoding::Q) => decode_q(self.text),
            None => Vec::new(),
        }
    }
}

/// Runs `judge` over every encoded-word of the message's header fields; it adds its
/// findings and says whether the word was one it looks at.
fn judge_words<'a>(
    model: &'a MessageModel<'_>,
    why: &'static str,
    mut judge: impl FnMut(&Word<'a>, &mut Findings) -> bool,
) -> Outcome {
    let mut findings = Findings::default();
    let mut looked = false;
    visit_words(model, &mut |_, word| {
        // Once the findings are full, more words cannot change the outcome.
        if !(looked && findings.full()) {
            looked |= judge(word, &mut findings);
        }
    });
    findings.outcome(looked, why)
}

/// Whether `value` holds `=?`, where an encoded-word may start.
fn has_word_start(value: &[u8]) -> bool {
    memchr::memchr_iter(b'=', value).any(|at| value.get(at + 1) == Some(&b'?'))
}

/// Calls `visit` with every encoded-word of every entity's header fields, in order, and the
/// field it is in. Says whether there was any. Nothing is gathered: a header of a million
/// words costs no more memory than one of a few.
fn visit_words<'a>(
    model: &'a MessageModel<'_>,
    visit: &mut dyn FnMut(&'a HeaderField, &Word<'a>),
) -> bool {
    let content: &'a [u8] = model.content();
    // Most messages have no encoded-word at all: that is found once for all the checks.
    let any_word_start = model.derived.any_word_start.get_or_init(|| {
        model.entities.iter().any(|entity| {
            entity
                .fields
                .iter()
                .any(|field| content.get(field.value.clone()).is_some_and(has_word_start))
        })
    });
    if !any_word_start {
        return false;
    }
    let mut any = false;
    for entity in &model.entities {
        for field in &entity.fields {
            let Some(value) = content.get(field.value.clone()) else {
                continue;
            };
            if !has_word_start(value) {
                continue;
            }
            let name = content.get(field.name.clone()).unwrap_or_default();
            let mut previous_end: Option<usize> = None;
            words_of_field(name, value, &mut |candidate, place| {
                any = true;
                let range = candidate.range.clone();
                let joins_previous = previous_end.is_some_and(|end| {
                    value
                        .get(end..range.start)
                        .is_some_and(|gap| gap.iter().all(|&b| is_wsp(b)))
                });
                previous_end = Some(range.end);
                let slice = |r: Range<usize>| value.get(r).unwrap_or_default();
                let word = Word {
                    offset: field.value.start + range.start,
                    octets: slice(range.clone()),
                    charset: slice(candidate.charset),
                    encoding: slice(candidate.encoding),
                    text: slice(candidate.text),
                    whitespace: candidate.whitespace,
                    raw_question: candidate.raw_question,
                    place,
                    before: range
                        .start
                        .checked_sub(1)
                        .and_then(|i| value.get(i).copied()),
                    after: value.get(range.end).copied(),
                    joins_previous,
                };
                visit(field, &word);
            });
        }
    }
    any
}

/// How a field's body is read, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    /// `*text` (RFC 2047 §5 (1)): Subject, Comments, Content-Description, X- and unknown.
    Unstructured,
    /// A list of addresses (RFC 5322 §3.4), or Return-Path.
    Addresses,
    /// A list of phrases (Keywords, RFC 5322 §3.6.5).
    Phrases,
    /// A MIME field with parameters (Content-Type, Content-Disposition).
    Parameters,
    Received,
    /// Another structured field RFC 5322 or MIME defines.
    Structured,
}

fn field_kind(name: &[u8]) -> FieldKind {
    let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
    match name.as_str() {
        "from"
        | "sender"
        | "reply-to"
        | "to"
        | "cc"
        | "bcc"
        | "resent-from"
        | "resent-sender"
        | "resent-to"
        | "resent-cc"
        | "resent-bcc"
        | "return-path"
        | "disposition-notification-to" => FieldKind::Addresses,
        "keywords" => FieldKind::Phrases,
        "content-type" | "content-disposition" => FieldKind::Parameters,
        "received" => FieldKind::Received,
        "date"
        | "resent-date"
        | "message-id"
        | "resent-message-id"
        | "in-reply-to"
        | "references"
        | "mime-version"
        | "content-transfer-encoding"
        | "content-id"
        | "content-language"
        | "content-md5" => FieldKind::Structured,
        _ => FieldKind::Unstructured,
    }
}

/// Gives `emit` the encoded-words of one field value, with their places, in order.
fn words_of_field(name: &[u8], value: &[u8], emit: &mut dyn FnMut(Candidate, Place)) {
    let kind = field_kind(name);
    if kind == FieldKind::Unstructured {
        find_words(value, 0..value.len(), &mut |c| emit(c, Place::Text));
        return;
    }
    let tokens = lex(value);
    let roles = match kind {
        FieldKind::Addresses => address_roles(&tokens),
        FieldKind::Phrases => vec![Place::Phrase; tokens.len()],
        FieldKind::Parameters => parameter_roles(&tokens),
        FieldKind::Received => vec![Place::Received; tokens.len()],
        _ => vec![Place::Structured; tokens.len()],
    };
    for (token, &role) in tokens.into_iter().zip(roles.iter()) {
        match token.kind {
            Kind::Word => {
                if let Some(candidate) = token.word {
                    emit(candidate, role);
                }
            }
            Kind::Quoted => {
                let place = match role {
                    Place::Phrase | Place::Structured => Place::QuotedString,
                    other => other,
                };
                find_words(value, token.range, &mut |c| emit(c, place));
            }
            Kind::Comment => {
                let place = if kind == FieldKind::Received {
                    Place::Received
                } else {
                    Place::Comment
                };
                find_words(value, token.range, &mut |c| emit(c, place));
            }
            Kind::Special(_) | Kind::Atom => {}
        }
    }
}

/// A lexical token of a structured field (RFC 5322 §3.2), encoded-words taken whole.
#[derive(Debug)]
struct Token {
    kind: Kind,
    /// The token; the inside of a comment or quoted-string, without its delimiters.
    range: Range<usize>,
    word: Option<Candidate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Quoted,
    Comment,
    Special(u8),
    Atom,
}

/// Splits a structured field value into tokens; white space is dropped.
fn lex(value: &[u8]) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while let Some(&octet) = value.get(i) {
        let token = |kind, range| Token {
            kind,
            range,
            word: None,
        };
        match octet {
            o if is_wsp(o) => i += 1,
            b'(' => {
                let close = comment_end(value, i);
                tokens.push(token(Kind::Comment, i + 1..close));
                i = close + 1;
            }
            b'"' => {
                let close = quoted_end(value, i);
                tokens.push(token(Kind::Quoted, i + 1..close));
                i = close + 1;
            }
            b'=' if value.get(i + 1) == Some(&b'?') => match parse_word(value, i, value.len()) {
                Some(candidate) => {
                    let range = candidate.range.clone();
                    i = range.end;
                    tokens.push(Token {
                        kind: Kind::Word,
                        range,
                        word: Some(candidate),
                    });
                }
                None => {
                    push_atom(&mut tokens, i);
                    i += 1;
                }
            },
            b'<' | b'>' | b'[' | b']' | b':' | b';' | b'@' | b'\\' | b',' | b'.' | b')' => {
                tokens.push(token(Kind::Special(octet), i..i + 1));
                i += 1;
            }
            _ => {
                push_atom(&mut tokens, i);
                i += 1;
            }
        }
    }
    tokens
}

/// Adds the octet at `at` to the atom just before it, or starts one.
fn push_atom(tokens: &mut Vec<Token>, at: usize) {
    if let Some(last) = tokens.last_mut() {
        if last.kind == Kind::Atom && last.range.end == at {
            last.range.end = at + 1;
            return;
        }
    }
    tokens.push(Token {
        kind: Kind::Atom,
        range: at..at + 1,
        word: None,
    });
}

/// The places of the tokens of an address list (RFC 5322 §3.4): what comes before `<` or a
/// group's `:` is a phrase; inside `<>`, or a whole address without `<`, is an addr-spec.
/// Each token is settled once, so this is linear.
fn address_roles(tokens: &[Token]) -> Vec<Place> {
    let mut roles = vec![Place::Structured; tokens.len()];
    let mut pending: Vec<usize> = Vec::new();
    let mut in_angle = false;
    let mut after_angle = false;
    let settle = |roles: &mut Vec<Place>, pending: &mut Vec<usize>, place: Place| {
        for k in pending.drain(..) {
            if let Some(role) = roles.get_mut(k) {
                *role = place;
            }
        }
    };
    for (k, token) in tokens.iter().enumerate() {
        if token.kind == Kind::Comment {
            continue;
        }
        if in_angle {
            if token.kind == Kind::Special(b'>') {
                in_angle = false;
                after_angle = true;
            } else if let Some(role) = roles.get_mut(k) {
                *role = Place::AddrSpec;
            }
            continue;
        }
        match token.kind {
            Kind::Special(b'<') => {
                settle(&mut roles, &mut pending, Place::Phrase);
                in_angle = true;
            }
            Kind::Special(b':') => {
                settle(&mut roles, &mut pending, Place::Phrase);
                after_angle = false;
            }
            Kind::Special(b',' | b';') => {
                settle(&mut roles, &mut pending, Place::AddrSpec);
                after_angle = false;
            }
            _ if after_angle => {}
            _ => pending.push(k),
        }
    }
    settle(&mut roles, &mut pending, Place::AddrSpec);
    roles
}

/// The places of the tokens of Content-Type or Content-Disposition: the value before the
/// first `;`, then the parameters.
fn parameter_roles(tokens: &[Token]) -> Vec<Place> {
    let mut in_parameters = false;
    tokens
        .iter()
        .map(|token| {
            if token.kind == Kind::Special(b';') {
                in_parameters = true;
            }
            if in_parameters {
                Place::Parameter
            } else {
                Place::Structured
            }
        })
        .collect()
}

/// A would-be encoded-word, by offsets into its field value.
#[derive(Debug, Clone)]
struct Candidate {
    /// From `=?` to after `?=`.
    range: Range<usize>,
    charset: Range<usize>,
    encoding: Range<usize>,
    text: Range<usize>,
    whitespace: bool,
    raw_question: bool,
}

/// Gives `emit` every encoded-word in `value[range]`, wherever it starts.
fn find_words(value: &[u8], range: Range<usize>, emit: &mut dyn FnMut(Candidate)) {
    let end = range.end.min(value.len());
    let mut i = range.start;
    while i + 1 < end {
        if value.get(i) == Some(&b'=') && value.get(i + 1) == Some(&b'?') {
            if let Some(candidate) = parse_word(value, i, end) {
                i = candidate.range.end;
                emit(candidate);
                continue;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// Reads an encoded-word starting at `start` (its `=?`), not past `end`:
/// `"=?" charset "?" encoding "?" encoded-text "?="` (RFC 2047 §2). The text may hold white
/// space (a fault, reported) only if it closes soon after and the encoding is B or Q. A
/// failed read stops at the next `=?`, so reads never overlap much.
fn parse_word(value: &[u8], start: usize, end: usize) -> Option<Candidate> {
    let end = end.min(value.len());
    if value.get(start..start + 2) != Some(b"=?") {
        return None;
    }
    let charset = word_token(value, start + 2, end);
    if charset.is_empty() || value.get(charset.end) != Some(&b'?') {
        return None;
    }
    let encoding = word_token(value, charset.end + 1, end);
    if encoding.is_empty() || value.get(encoding.end) != Some(&b'?') {
        return None;
    }
    let b_or_q = value
        .get(encoding.clone())
        .is_some_and(|e| e.eq_ignore_ascii_case(b"B") || e.eq_ignore_ascii_case(b"Q"));
    let text_start = encoding.end + 1;
    let mut whitespace = false;
    let mut raw_question = false;
    let mut j = text_start;
    while j < end {
        let octet = *value.get(j)?;
        match octet {
            b'?' if j + 1 < end && value.get(j + 1) == Some(&b'=') => {
                return Some(Candidate {
                    range: start..j + 2,
                    charset,
                    encoding,
                    text: text_start..j,
                    whitespace,
                    raw_question,
                });
            }
            // "=?" inside the text: another word starts there, this was none.
            b'?' if j > text_start && value.get(j - 1) == Some(&b'=') => return None,
            b'?' => raw_question = true,
            o if is_wsp(o) => {
                if !b_or_q {
                    return None;
                }
                whitespace = true;
            }
            b'"' | b'(' | b')' | b'<' | b'>' | b',' | b';' if whitespace => return None,
            o if o < 0x20 || o == 0x7f => return None,
            _ => {}
        }
        if whitespace && j - start >= LOOSE_MAX {
            return None;
        }
        j += 1;
    }
    None
}

/// The run of octets from `from` that can make a charset or an encoding: printable ASCII
/// other than the delimiters that end one (`?`, `=`, space) and what structures a field.
fn word_token(value: &[u8], from: usize, end: usize) -> Range<usize> {
    let mut j = from;
    while j < end
        && value.get(j).is_some_and(|&b| {
            (0x21..0x7f).contains(&b)
                && !matches!(
                    b,
                    b'?' | b'=' | b'"' | b'(' | b')' | b'\\' | b'<' | b'>' | b',' | b';'
                )
        })
    {
        j += 1;
    }
    from..j
}

// ---------------------------------------------------------------------------------------
// Decoding and characters
// ---------------------------------------------------------------------------------------

/// Decodes B text as far as it goes (padding and bad characters ignored).
fn decode_b(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let mut accumulator: u32 = 0;
    let mut bits = 0u32;
    for &octet in text {
        if octet == b'=' {
            break;
        }
        let Some(value) = base64_value(octet) else {
            continue;
        };
        accumulator = (accumulator << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    out
}

fn base64_value(octet: u8) -> Option<u8> {
    match octet {
        b'A'..=b'Z' => Some(octet - b'A'),
        b'a'..=b'z' => Some(octet - b'a' + 26),
        b'0'..=b'9' => Some(octet - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes Q text (RFC 2047 §4.2): `_` is a space, `=XX` an octet; a bad `=` is dropped.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&octet) = text.get(i) {
        match octet {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = |k: usize| text.get(k).and_then(|&b| (b as char).to_digit(16));
                if let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// How a charset's characters are made of octets (for the checks that need it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Utf8,
    /// Fixed code units of this many octets (UTF-16, UTF-32).
    Units(usize),
    /// Octets in the range are lead octets of two-octet characters (GB18030 has four-octet
    /// ones, a second octet of 0x30–0x39).
    DoubleByte(Lead),
    /// One octet, one character (or not known here).
    Other,
}

/// The lead octets of a double-byte charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// GBK, GB2312, GB18030: 0x81–0xFE, four-octet sequences when a digit follows.
    Gb,
    /// Big5, EUC-KR, UHC: 0x81–0xFE.
    Wide,
    /// Shift_JIS: 0x81–0x9F and 0xE0–0xFC.
    ShiftJis,
    /// EUC-JP: 0x8E and 0xA1–0xFE two octets, 0x8F three.
    EucJp,
}

fn charset_family(charset: &str) -> Family {
    match charset {
        "utf-8" | "utf8" => Family::Utf8,
        "utf-16" | "utf-16be" | "utf-16le" | "ucs-2" | "unicode-1-1" => Family::Units(2),
        "utf-32" | "utf-32be" | "utf-32le" | "ucs-4" => Family::Units(4),
        "gbk" | "gb2312" | "gb18030" | "cp936" | "x-gbk" | "euc-cn" | "windows-936" => {
            Family::DoubleByte(Lead::Gb)
        }
        "big5" | "big5-hkscs" | "cp950" | "euc-kr" | "ks_c_5601-1987" | "cp949" | "uhc"
        | "windows-949" => Family::DoubleByte(Lead::Wide),
        "shift_jis" | "shift-jis" | "sjis" | "x-sjis" | "windows-31j" | "cp932" => {
            Family::DoubleByte(Lead::ShiftJis)
        }
        "euc-jp" | "x-euc-jp" => Family::DoubleByte(Lead::EucJp),
        _ => Family::Other,
    }
}

/// Whether the last character of `octets` in a double-byte charset is cut short.
fn ends_inside_character(octets: &[u8], lead: Lead) -> bool {
    let mut i = 0;
    while let Some(&octet) = octets.get(i) {
        let length = match lead {
            Lead::Gb if (0x81..=0xfe).contains(&octet) => {
                if octets.get(i + 1).is_some_and(|b| b.is_ascii_digit()) {
                    4
                } else {
                    2
                }
            }
            Lead::Wide if (0x81..=0xfe).contains(&octet) => 2,
            Lead::ShiftJis if (0x81..=0x9f).contains(&octet) || (0xe0..=0xfc).contains(&octet) => 2,
            Lead::EucJp if octet == 0x8f => 3,
            Lead::EucJp if octet == 0x8e || (0xa1..=0xfe).contains(&octet) => 2,
            _ => 1,
        };
        i += length;
    }
    i > octets.len()
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// White space in a raw field value: SPACE, HTAB, and the CR LF of a fold.
fn is_wsp(octet: u8) -> bool {
    matches!(octet, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 2045 §5.1 / RFC 2047 §2 `token`: printable ASCII but especials.
fn is_token_char(octet: u8) -> bool {
    (0x21..0x7f).contains(&octet)
        && !matches!(
            octet,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'.'
                | b'='
        )
}

/// RFC 2047 §5 (3): the characters of a Q encoded-word in a phrase.
fn is_phrase_q_char(octet: u8) -> bool {
    octet.is_ascii_alphanumeric() || matches!(octet, b'!' | b'*' | b'+' | b'-' | b'/' | b'=' | b'_')
}

/// An octet for a detail: printable as itself, else `0xNN`.
fn shown(octet: Option<u8>) -> String {
    match octet {
        Some(o) if (0x21..0x7f).contains(&o) => (o as char).to_string(),
        Some(b' ') => "SPACE".to_owned(),
        Some(o) => format!("0x{o:02X}"),
        None => String::new(),
    }
}

/// The first line of `field` longer than [`MAX_LINE`] characters: its offset and octets.
fn first_long_line<'a>(content: &'a [u8], field: &HeaderField) -> Option<(usize, &'a [u8])> {
    let span = content.get(field.span.clone())?;
    let mut start = 0;
    while start < span.len() {
        let rest = span.get(start..)?;
        let (length, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => (lf, start + lf + 1),
            None => (rest.len(), span.len()),
        };
        let line = rest.get(..length)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if characters(line) > MAX_LINE {
            return Some((field.span.start + start, line));
        }
        start = next;
    }
    None
}

/// The length of a line in characters: UTF-8 characters if it is UTF-8, else octets.
fn characters(line: &[u8]) -> usize {
    match std::str::from_utf8(line) {
        Ok(text) => text.chars().count(),
        Err(_) => line.len(),
    }
}

#[cfg(test)]
mod tests {
    use crate::check::Status;
    use crate::testing::*;

    /// A message with these header lines (CRLF-separated) and a short body.
    fn with(header: &str) -> Vec<u8> {
        format!("{header}\r\n\r\nbody\r\n").into_bytes()
    }

    fn check(id: &str, header: &str, want: Status) {
        let content = with(header);
        message_status(id, message(&content), want);
    }

    const PLAIN: &str = "From: a@example.com\r\nSubject: plain";
    /// Thunderbird's shape: one UTF-8 B word per fold ("中文" then "主题").
    const THUNDERBIRD: &str =
        "From: a@example.com\r\nSubject: =?UTF-8?B?5Lit5paH?=\r\n =?UTF-8?B?5Li76aKY?=";
    /// A GBK subject ("中文").
    const GBK: &str = "Subject: =?GBK?B?1tDOxA==?=";
    const OUTLOOK: &str =
        "Subject: =?utf-8?Q?Caf=C3=A9_au_lait?=\r\nFrom: =?utf-8?Q?J=C3=B6rg?= <j@example.com>";

    #[test]
    fn max_75() {
        let id = "C-2047-MAX-75";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, GBK, Status::Pass);
        let long = format!("Subject: =?UTF-8?Q?{}=C3=A9?=", "a".repeat(60));
        check(id, &long, Status::Fail);
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn line_76() {
        let id = "C-2047-LINE-76";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, OUTLOOK, Status::Pass);
        let long = format!("Subject: {} =?UTF-8?Q?caf=C3=A9?=", "word ".repeat(14));
        check(id, &long, Status::Fail);
        // A long line in a field without encoded-words is not this check's business.
        let plain_long = format!(
            "Subject: {}\r\nX-Y: =?UTF-8?Q?caf=C3=A9?=",
            "word ".repeat(20)
        );
        check(id, &plain_long, Status::Pass);
        // The continuation lines are measured too.
        let folded = format!("Subject: =?UTF-8?Q?caf=C3=A9?=\r\n {}", "x".repeat(80));
        check(id, &folded, Status::Fail);
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn no_whitespace_inside() {
        let id = "C-2047-NO-WHITESPACE-INSIDE";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, "Subject: =?UTF-8?Q?caf=C3=A9 au lait?=", Status::Fail);
        // A word folded in its middle.
        check(id, "Subject: =?UTF-8?B?5Lit\r\n 5paH?=", Status::Fail);
        // Plain text that merely holds "=?" is no word.
        check(
            id,
            "Subject: what is =? in a subject ?= anyway",
            Status::NotApplicable,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn not_in_quoted_string() {
        let id = "C-2047-NOT-IN-QUOTED-STRING";
        check(id, OUTLOOK, Status::Pass);
        check(
            id,
            "From: \"=?UTF-8?B?SsO2cmc=?=\" <j@example.com>",
            Status::Fail,
        );
        check(
            id,
            "To: \"M\\\"x =?UTF-8?Q?J=C3=B6rg?=\" <j@example.com>, b@example.com",
            Status::Fail,
        );
        // In a comment it is allowed.
        check(
            id,
            "From: j@example.com (=?UTF-8?Q?J=C3=B6rg?=)",
            Status::Pass,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn not_in_addr_spec() {
        let id = "C-2047-NOT-IN-ADDR-SPEC";
        check(id, OUTLOOK, Status::Pass);
        check(id, "To: =?UTF-8?Q?j=C3=B6rg?=@example.com", Status::Fail);
        check(
            id,
            "To: Jorg <=?UTF-8?Q?j=C3=B6rg?=@example.com>",
            Status::Fail,
        );
        check(id, "Return-Path: <=?UTF-8?Q?x?=@example.com>", Status::Fail);
        // A group's name is a phrase.
        check(
            id,
            "To: =?UTF-8?Q?Gr=C3=BCppe?=: a@example.com, b@example.com;",
            Status::Pass,
        );
        // Several addresses, the word in the second display name.
        check(
            id,
            "Cc: a@example.com, =?UTF-8?Q?J=C3=B6rg?= <j@example.com>",
            Status::Pass,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn not_in_mime_params() {
        let id = "C-2047-NOT-IN-MIME-PARAMS";
        let good = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
                    Content-Disposition: attachment; filename*=UTF-8''%E4%B8%AD.pdf\r\n\
                    Subject: =?UTF-8?B?5Lit5paH?=";
        check(id, good, Status::Pass);
        check(
            id,
            "Content-Disposition: attachment;\r\n filename=\"=?UTF-8?B?5Lit5paH?=.pdf\"",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: application/pdf; name==?UTF-8?B?5Lit5paH?=",
            Status::Fail,
        );
        // In a comment of the field it is allowed.
        check(
            id,
            "Content-Type: text/plain (=?UTF-8?Q?caf=C3=A9?=); charset=utf-8",
            Status::Pass,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn not_in_received() {
        let id = "C-2047-NOT-IN-RECEIVED";
        check(id, THUNDERBIRD, Status::Pass);
        check(
            id,
            "Received: from x (=?UTF-8?Q?h=C3=B6st?=) by mx.example; Mon, 1 Jan 2024 00:00:00 +0000",
            Status::Fail,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn allowed_locations() {
        let id = "C-2047-ALLOWED-LOCATIONS";
        check(id, OUTLOOK, Status::Pass);
        check(id, "Keywords: =?UTF-8?Q?caf=C3=A9?=, tea", Status::Pass);
        check(id, "Message-ID: <=?UTF-8?Q?x?=@example.com>", Status::Fail);
        check(id, "Content-Type: =?UTF-8?Q?text?=/plain", Status::Fail);
        check(
            id,
            "Date: Mon, 1 Jan 2024 00:00:00 +0000 (=?UTF-8?Q?Montag?=)",
            Status::Pass,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn separation() {
        let id = "C-2047-SEPARATION";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, OUTLOOK, Status::Pass);
        check(id, "Subject: Re: =?UTF-8?Q?caf=C3=A9?= again", Status::Pass);
        check(id, "Subject: Re:=?UTF-8?Q?caf=C3=A9?=", Status::Fail);
        check(
            id,
            "Subject: =?UTF-8?Q?a=C3=A9?==?UTF-8?Q?b=C3=A9?=",
            Status::Fail,
        );
        check(
            id,
            "From: =?UTF-8?Q?J=C3=B6rg?=<j@example.com>",
            Status::Fail,
        );
        check(
            id,
            "From: j@example.com (=?UTF-8?Q?J=C3=B6rg?=)",
            Status::Pass,
        );
        check(
            id,
            "From: j@example.com (x=?UTF-8?Q?J=C3=B6rg?=)",
            Status::Fail,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn phrase_q_charset() {
        let id = "C-2047-PHRASE-Q-CHARSET";
        check(id, OUTLOOK, Status::Pass);
        check(
            id,
            "From: =?UTF-8?Q?M=C3=BCller,_J.?= <j@example.com>",
            Status::Fail,
        );
        check(id, "To: =?UTF-8?Q?a@b?= <j@example.com>", Status::Fail);
        // The same text in a Subject is fine.
        check(
            id,
            "Subject: =?UTF-8?Q?M=C3=BCller,_J.?=",
            Status::NotApplicable,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn self_contained() {
        let id = "C-2047-SELF-CONTAINED";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, GBK, Status::Pass);
        check(id, OUTLOOK, Status::Pass);
        // "中" (E4 B8 AD) cut in two.
        check(
            id,
            "Subject: =?UTF-8?B?5Lg=?= =?UTF-8?B?rQ==?=",
            Status::Fail,
        );
        check(
            id,
            "Subject: =?UTF-8?Q?=E4=B8?= =?UTF-8?Q?=AD?=",
            Status::Fail,
        );
        // GBK "中" (D6 D0) cut in two.
        check(id, "Subject: =?GBK?B?1g==?= =?GBK?B?0A==?=", Status::Fail);
        // Unpadded B text.
        check(id, "Subject: =?UTF-8?B?5Lit5pa?=", Status::Fail);
        check(id, "Subject: =?UTF-8?B?5L=t5paH?=", Status::Fail);
        // Octets of another charset are whole characters.
        check(id, "Subject: =?ISO-8859-1?Q?caf=E9?=", Status::Pass);
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn syntax_and_encoding() {
        let id = "C-2047-SYNTAX-AND-ENCODING";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, GBK, Status::Pass);
        check(id, OUTLOOK, Status::Pass);
        check(id, "Subject: =?utf-8?b?5Lit5paH?=", Status::Pass);
        check(id, "Subject: =?UTF-8*en?Q?tea?=", Status::Pass);
        check(id, "Subject: =?UTF-8?X?abc?=", Status::Fail);
        check(id, "Subject: =?UTF-8?Q?caf=C?=", Status::Fail);
        check(id, "Subject: =?UTF-8?Q?caf=c3=a9?=", Status::Warn);
        check(id, "Subject: =?UTF-8?Q?what?_now?=", Status::Fail);
        check(id, "Subject: =?UTF-8?B?5Li!5paH?=", Status::Fail);
        check(id, "Subject: =?UTF-8?Q??=", Status::Fail);
        check(id, "Subject: =?utf.8?Q?a?=", Status::Fail);
        check(id, "Subject: =?UTF-8?Q?caf\u{e9}?=", Status::Fail);
        check(
            id,
            "Comments: x\r\nFrom: j@example.com (=?UTF-8?Q?a\"b?=)",
            Status::Fail,
        );
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn pure_ascii() {
        let id = "C-2047-PURE-ASCII";
        check(id, THUNDERBIRD, Status::Pass);
        check(id, "Subject: =?UTF-8?Q?Hello_world?=", Status::Warn);
        check(id, "Subject: =?UTF-8?B?SGVsbG8=?=", Status::Warn);
        // An ASCII chunk of a longer non-ASCII run is part of one string.
        check(
            id,
            "Subject: =?UTF-8?Q?Hello_?= =?UTF-8?B?5Lit5paH?=",
            Status::Pass,
        );
        // An ASCII word apart from the other.
        check(
            id,
            "Subject: =?UTF-8?Q?Hello?= plain =?UTF-8?B?5Lit5paH?=",
            Status::Warn,
        );
        check(id, "Subject: =?UTF-16?B?AGE=?=", Status::Pass);
        check(id, PLAIN, Status::NotApplicable);
    }

    #[test]
    fn every_entity_is_read() {
        let content = b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; name=\"=?UTF-8?B?5Lit5paH?=\"\r\n\r\nx\r\n--b--\r\n";
        message_status("C-2047-NOT-IN-MIME-PARAMS", message(content), Status::Fail);
    }

    #[test]
    fn evidence_points_into_the_folded_value() {
        let content = with("X-A: b\r\nSubject: a\r\n\t=?UTF-8?Q?caf=C3=A9?=,");
        let outcome = message(&content).outcome("C-2047-SEPARATION");
        let finding = outcome.findings().first().expect("a finding");
        let crate::check::Location::Message { offset } = finding.location else {
            panic!("not in the message");
        };
        let at = usize::try_from(offset).expect("offset");
        assert!(content[at..].starts_with(b"=?UTF-8?Q?caf=C3=A9?="));
        assert_eq!(finding.octets, "=?UTF-8?Q?caf=C3=A9?=");
    }

    proptest::proptest! {
        #[test]
        fn any_header_is_judged_without_panic(
            name in proptest::sample::select(vec!["Subject", "From", "To", "Content-Type", "Received", "Date", "Keywords"]),
            value in proptest::collection::vec(
                proptest::sample::select(b"=?=?QqBb8aZ_%\"()<>,;:@\\. \t\r\n\xc3\xa9".to_vec()),
                0..120,
            ),
        ) {
            let mut content = format!("{name}:").into_bytes();
            content.extend_from_slice(&value);
            content.extend_from_slice(b"\r\n\r\nbody\r\n");
            for judge in super::JUDGES {
                let _ = message(&content).outcome(judge.id);
            }
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let inputs: [&[u8]; 8] = [
            b"Subject: =?",
            b"Subject: =?a?",
            b"Subject: =?a?b?",
            b"From: \"=?a?Q?x",
            b"From: (=?a?Q?x?= (",
            b"To: <=?a?B?====?=",
            b"Subject: =?a?Q?=\r\n",
            b"Content-Type: a/b; x==?a?Q?\xff\xfe?=",
        ];
        for content in inputs {
            for judge in super::JUDGES {
                let _ = message(content).outcome(judge.id);
            }
        }
        let mut big = b"Subject: ".to_vec();
        for _ in 0..20_000 {
            big.extend_from_slice(b"=?a?b?c =?a?Q?x?==?");
        }
        big.extend_from_slice(b"\r\n\r\n");
        for judge in super::JUDGES {
            let _ = message(&big).outcome(judge.id);
        }
    }
}
