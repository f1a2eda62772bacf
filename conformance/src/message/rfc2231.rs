//! Checks of section A.17 (RFC 2231 parameters).
//!
//! The parameters of every Content-Type and Content-Disposition field of every entity are
//! read from the raw (folded) field value, strictly enough to see RFC 2231's forms:
//! `name*0=`, `name*1*=` (continuations, §3) and `name*=charset'language'value` (§4). The
//! reader is linear and keeps each parameter's offset in the content for the evidence.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::message::model::{comment_end, quoted_end, MessageModel};

/// The judges of this section.
pub static JUDGES: &[Judge] = &[
    Judge {
        id: "C-2231-CONTINUATION-SEQUENCE",
        looks_at: "continued MIME parameters (name*0, name*1 ...): sections numbered from 0 up without gaps, leading zeros or repeats",
        example: "Content-Disposition: attachment; filename*1=\"b.pdf\"; filename*2=\"c\"",
        run: Run::Message(continuation_sequence),
    },
    Judge {
        id: "C-2231-EXTENDED-VALUE-SYNTAX",
        looks_at: "extended MIME parameter values (name*=): both `'` delimiters after the charset and language, `%` followed by two upper-case hex digits, no raw 8-bit octets",
        example: "Content-Disposition: attachment; filename*=UTF-8'%E2%82%AC.txt",
        run: Run::Message(extended_value_syntax),
    },
    Judge {
        id: "C-2231-EXTENDED-NOT-QUOTED",
        looks_at: "extended MIME parameter values (name*=): written bare, never as a quoted-string",
        example: "Content-Disposition: attachment; filename*=\"UTF-8''%E2%82%AC.txt\"",
        run: Run::Message(extended_not_quoted),
    },
    Judge {
        id: "C-2231-FIRST-SEGMENT-ENCODED",
        looks_at: "continued MIME parameters with encoded segments: the first segment is the encoded one (name*0*=) and carries the charset'language' part, later ones do not",
        example: "Content-Type: text/plain; name*0=\"report-\"; name*1*=%E2%82%AC.txt",
        run: Run::Message(first_segment_encoded),
    },
    Judge {
        id: "C-2231-NO-DEFAULT-CHARSET",
        looks_at: "extended MIME parameters whose charset is left blank: only when the value is plain ASCII, never to imply a default charset for 8-bit octets",
        example: "Content-Disposition: attachment; filename*=''%E2%82%AC.txt",
        run: Run::Message(no_default_charset),
    },
    Judge {
        id: "C-2231-ATTRIBUTE-CHARS",
        looks_at: "MIME parameter names and the unencoded characters of extended values: only attribute-chars (no space, controls, `*`, `'`, `%` or tspecials)",
        example: "Content-Disposition: attachment; filename*=UTF-8''report/2024.pdf",
        run: Run::Message(attribute_chars),
    },
];

/// The report keeps this many findings per check; more are not gathered.
const MAX_FINDINGS: usize = 8;

// ---------------------------------------------------------------------------------------
// The judges
// ---------------------------------------------------------------------------------------

/// RFC 2231 §3: "The count starts at 0 and increments by 1 ... neither leading zeroes nor
/// gaps in the sequence are allowed."
fn continuation_sequence(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for group in field.continued() {
            looked = true;
            if let Some(finding) = sequence_fault(field, &group) {
                findings.push(finding);
            }
        }
    }
    findings.outcome(
        looked,
        "the message has no continued MIME parameters (name*0=...)",
    )
}

/// The first fault in the section numbers of one continued parameter.
fn sequence_fault(field: &Field<'_>, group: &[usize]) -> Option<Finding> {
    let at = |index: usize, detail: String| {
        field
            .parameters
            .get(index)
            .map(|p| Finding::in_message(p.offset, p.octets, detail))
    };
    for &index in group {
        let parameter = field.parameters.get(index)?;
        if let Some(Section::Number {
            leading_zero: true, ..
        }) = parameter.name.section
        {
            return at(
                index,
                format!(
                    "section number with a leading zero in `{}`",
                    lossy(parameter.name.written)
                ),
            );
        }
    }
    let mut numbers: Vec<(u64, usize)> = group
        .iter()
        .filter_map(|&i| match field.parameters.get(i)?.name.section {
            Some(Section::Number { value, .. }) => Some((value, i)),
            _ => None,
        })
        .collect();
    numbers.sort_unstable();
    let mut expected = 0u64;
    for (k, &(number, index)) in numbers.iter().enumerate() {
        let attribute = field
            .parameters
            .get(index)
            .map(|p| lossy(p.name.attribute))
            .unwrap_or_default();
        if number != expected {
            let repeated = k > 0 && numbers.get(k - 1).is_some_and(|&(n, _)| n == number);
            let detail = if repeated {
                format!("section {number} of parameter `{attribute}` appears twice")
            } else if expected == 0 {
                format!("parameter `{attribute}` is continued but has no section 0")
            } else {
                format!(
                    "parameter `{attribute}` jumps from section {} to {number}",
                    expected - 1
                )
            };
            return at(index, detail);
        }
        expected = number.saturating_add(1);
    }
    None
}

/// RFC 2231 §4 and §7: the grammar of extended values.
fn extended_value_syntax(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for parameter in field.parameters.iter().filter(|p| p.name.extended) {
            looked = true;
            if let Some(detail) = extended_fault(parameter) {
                findings.push(Finding::in_message(
                    parameter.offset,
                    parameter.octets,
                    detail,
                ));
            }
        }
    }
    findings.outcome(looked, NO_EXTENDED)
}

/// What is wrong with an extended value's delimiters, escapes or octets.
fn extended_fault(parameter: &Parameter<'_>) -> Option<String> {
    let (prefix, rest) = match parameter.name.is_initial() {
        true => match split_initial(parameter.value) {
            Some((charset, language, rest)) => (Some((charset, language)), rest),
            None => {
                return Some(
                    "an extended value without both `'` delimiters: charset'language' must be written even when empty"
                        .to_owned(),
                )
            }
        },
        false => (None, parameter.value),
    };
    if let Some((charset, language)) = prefix {
        if !charset.iter().all(|&b| is_attribute_char(b)) {
            return Some(format!(
                "charset `{}` is not a charset name",
                lossy(charset)
            ));
        }
        if !language
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some(format!(
                "language `{}` is not a language tag",
                lossy(language)
            ));
        }
    }
    let mut i = 0;
    while let Some(&octet) = rest.get(i) {
        if octet == b'%' {
            let digits = (rest.get(i + 1).copied(), rest.get(i + 2).copied());
            match digits {
                (Some(h), Some(l)) if is_upper_hex(h) && is_upper_hex(l) => {
                    i += 3;
                    continue;
                }
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    return Some(format!(
                        "lower-case hex digits in `%{}{}`: ext-octet takes 0-9 and A-F",
                        h as char, l as char
                    ))
                }
                _ => return Some("`%` not followed by two hex digits".to_owned()),
            }
        }
        if octet >= 0x80 {
            return Some(format!(
                "a raw 8-bit octet 0x{octet:02X} in an extended value: it must be written as %{octet:02X}"
            ));
        }
        i += 1;
    }
    None
}

/// RFC 2231 §7: an extended value is `*(ext-octet / attribute-char)`, no quoted-string.
fn extended_not_quoted(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for parameter in field.parameters.iter().filter(|p| p.name.extended) {
            looked = true;
            if parameter.quoted {
                findings.push(Finding::in_message(
                    parameter.offset,
                    parameter.octets,
                    "an extended (name*=) value written as a quoted-string: it must be bare, %-encoded",
                ));
            }
        }
    }
    findings.outcome(looked, NO_EXTENDED)
}

/// RFC 2231 §4.1 (4) and (5): in a continued parameter with encoded segments, the first
/// segment is encoded and carries the charset'language' part (delimiters even when empty).
fn first_segment_encoded(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for group in field.continued() {
            let segments: Vec<&Parameter<'_>> = group
                .iter()
                .filter_map(|&i| field.parameters.get(i))
                .filter(|p| matches!(p.name.section, Some(Section::Number { .. })))
                .collect();
            if !segments.iter().any(|p| p.name.extended) {
                continue;
            }
            looked = true;
            if let Some((parameter, detail)) = first_segment_fault(&segments) {
                findings.push(Finding::in_message(
                    parameter.offset,
                    parameter.octets,
                    detail,
                ));
            }
        }
    }
    findings.outcome(
        looked,
        "the message has no continued MIME parameters with encoded segments (name*1*=...)",
    )
}

fn first_segment_fault<'p, 'a>(
    segments: &[&'p Parameter<'a>],
) -> Option<(&'p Parameter<'a>, &'static str)> {
    let first = segments.iter().find(|p| p.name.is_initial());
    for &segment in segments {
        if segment.name.is_initial() {
            if segment.name.extended && split_initial(segment.value).is_none() {
                return Some((
                    segment,
                    "the encoded first segment lacks the charset'language' delimiters (two `'`), which must be present even when empty",
                ));
            }
            continue;
        }
        if !segment.name.extended {
            continue;
        }
        if first.is_some_and(|f| !f.name.extended) {
            return Some((
                segment,
                "a later segment is encoded but the first is not: the first segment (name*0*=) must be the encoded one, with the charset",
            ));
        }
        if looks_like_initial(segment.value) {
            return Some((
                segment,
                "charset'language' given on a later segment: only the first segment (name*0*=) carries them",
            ));
        }
    }
    None
}

/// RFC 2231 §4: blank charset and language fields "MUST NOT be done in order to indicate a
/// default character set". A blank charset on a value with 8-bit octets does just that.
fn no_default_charset(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for (index, parameter) in field.parameters.iter().enumerate() {
            if !parameter.name.extended || !parameter.name.is_initial() {
                continue;
            }
            let Some((charset, _, rest)) = split_initial(parameter.value) else {
                continue;
            };
            looked = true;
            if !charset.is_empty() {
                continue;
            }
            let later = field.later_segments(index);
            let eight_bit = has_eight_bit(rest)
                || later
                    .iter()
                    .any(|p| p.name.extended && has_eight_bit(p.value));
            if eight_bit {
                findings.push(Finding::in_message(
                    parameter.offset,
                    parameter.octets,
                    "an extended value with 8-bit octets and a blank charset: the charset must be named, not left to a default",
                ));
            }
        }
    }
    findings.outcome(
        looked,
        "the message has no extended MIME parameters with a charset'language' part",
    )
}

/// RFC 2231 §7: `attribute-char := <any (US-ASCII) CHAR except SPACE, CTLs, "*", "'",
/// "%", or tspecials>`, for parameter names and the unencoded part of extended values.
fn attribute_chars(model: &MessageModel<'_>) -> Outcome {
    let fields = read_fields(model);
    let mut findings = Findings::default();
    let mut looked = false;
    for field in &fields {
        for parameter in &field.parameters {
            looked = true;
            if let Some(detail) = attribute_fault(parameter) {
                findings.push(Finding::in_message(
                    parameter.offset,
                    parameter.octets,
                    detail,
                ));
            }
        }
    }
    findings.outcome(
        looked,
        "the message has no Content-Type or Content-Disposition parameters",
    )
}

fn attribute_fault(parameter: &Parameter<'_>) -> Option<String> {
    let name = &parameter.name;
    if name.attribute.is_empty() {
        return Some("a parameter without a name".to_owned());
    }
    if let Some(&bad) = name.attribute.iter().find(|&&b| !is_attribute_char(b)) {
        return Some(format!(
            "`{}` in parameter name `{}`: only attribute-chars may appear there",
            shown(bad),
            lossy(name.written)
        ));
    }
    if name.section == Some(Section::Malformed) {
        return Some(format!(
            "`*` in parameter name `{}` is neither a section number nor the extended-value mark",
            lossy(name.written)
        ));
    }
    if !name.extended {
        return None;
    }
    let rest = if name.is_initial() {
        split_initial(parameter.value).map_or(parameter.value, |(_, _, rest)| rest)
    } else {
        parameter.value
    };
    let bad = rest
        .iter()
        .find(|&&b| b < 0x80 && b != b'%' && !is_attribute_char(b))?;
    Some(format!(
        "`{}` in an extended value: characters other than attribute-chars must be %-encoded",
        shown(*bad)
    ))
}

const NO_EXTENDED: &str = "the message has no extended MIME parameters (name*=...)";

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

    fn outcome(self, looked: bool, why: &'static str) -> Outcome {
        Outcome::judged(looked, why, self.0)
    }
}

// ---------------------------------------------------------------------------------------
// Reading parameters
// ---------------------------------------------------------------------------------------

/// The parameters of one Content-Type or Content-Disposition field.
#[derive(Debug)]
struct Field<'a> {
    parameters: Vec<Parameter<'a>>,
}

/// One `name=value` parameter.
#[derive(Debug)]
struct Parameter<'a> {
    /// Offset of the name in the content.
    offset: usize,
    /// `name=value` as written (quotes included).
    octets: &'a [u8],
    name: Name<'a>,
    /// The value; inside the quotes when quoted (quoted-pairs left as written).
    value: &'a [u8],
    quoted: bool,
}

/// A parameter name split as RFC 2231 §7 reads it: `attribute [section] ["*"]`.
#[derive(Debug)]
struct Name<'a> {
    written: &'a [u8],
    /// Before the first `*`.
    attribute: &'a [u8],
    section: Option<Section>,
    /// It ends in `*`: the value is extended (charset, language, %-octets).
    extended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Number {
        value: u64,
        leading_zero: bool,
    },
    /// A `*` followed by something that is no section number.
    Malformed,
}

impl Name<'_> {
    /// The value this name carries starts the parameter: no section, or section 0.
    fn is_initial(&self) -> bool {
        matches!(
            self.section,
            None | Some(Section::Number {
                value: 0,
                leading_zero: false
            })
        )
    }
}

fn split_name(written: &[u8]) -> Name<'_> {
    let Some(star) = written.iter().position(|&b| b == b'*') else {
        return Name {
            written,
            attribute: written,
            section: None,
            extended: false,
        };
    };
    let attribute = written.get(..star).unwrap_or_default();
    let after = written.get(star + 1..).unwrap_or_default();
    let (digits, extended) = match after.strip_suffix(b"*") {
        Some(digits) => (digits, true),
        None => (after, false),
    };
    let section = if digits.is_empty() && extended && after.len() == 1 {
        // `name**` is neither.
        Some(Section::Malformed)
    } else if digits.is_empty() && after.is_empty() {
        None
    } else if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        let value = digits.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        Some(Section::Number {
            value,
            leading_zero: digits.len() > 1 && digits.first() == Some(&b'0'),
        })
    } else {
        Some(Section::Malformed)
    };
    // `name*` alone: extended, no section.
    let (section, extended) = if after.is_empty() {
        (None, true)
    } else {
        (section, extended)
    };
    Name {
        written,
        attribute,
        section,
        extended,
    }
}

impl<'a> Field<'a> {
    /// The continued parameters: for each attribute (case-insensitive) with sections, the
    /// indices of its parameters that have a section number.
    fn continued(&self) -> Vec<Vec<usize>> {
        let mut groups: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for (index, parameter) in self.parameters.iter().enumerate() {
            if matches!(parameter.name.section, Some(Section::Number { .. })) {
                groups
                    .entry(parameter.name.attribute.to_ascii_lowercase())
                    .or_default()
                    .push(index);
            }
        }
        groups.into_values().collect()
    }

    /// The segments after the first of the parameter at `index` (when it is section 0).
    fn later_segments(&self, index: usize) -> Vec<&Parameter<'a>> {
        let Some(first) = self.parameters.get(index) else {
            return Vec::new();
        };
        if first.name.section.is_none() {
            return Vec::new();
        }
        self.parameters
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                *i != index
                    && p.name.attribute.eq_ignore_ascii_case(first.name.attribute)
                    && matches!(p.name.section, Some(Section::Number { value, .. }) if value > 0)
            })
            .map(|(_, p)| p)
            .collect()
    }
}

/// The parameters of every Content-Type and Content-Disposition field of every entity.
fn read_fields<'a>(model: &MessageModel<'a>) -> Vec<Field<'a>> {
    let content: &'a [u8] = model.content();
    let mut fields = Vec::new();
    for entity in &model.entities {
        for field in &entity.fields {
            if !(field.is(content, "Content-Type") || field.is(content, "Content-Disposition")) {
                continue;
            }
            let Some(value) = content.get(field.value.clone()) else {
                continue;
            };
            let parameters = raw_parameters(value)
                .into_iter()
                .map(|raw| {
                    let slice = |r: Range<usize>| value.get(r).unwrap_or_default();
                    Parameter {
                        offset: field.value.start + raw.name.start,
                        octets: slice(raw.name.start..raw.end),
                        name: split_name(slice(raw.name)),
                        value: slice(raw.value),
                        quoted: raw.quoted,
                    }
                })
                .collect();
            fields.push(Field { parameters });
        }
    }
    fields
}

/// A parameter by offsets into its field value.
#[derive(Debug)]
struct RawParameter {
    name: Range<usize>,
    value: Range<usize>,
    quoted: bool,
    /// After the value (its closing quote included).
    end: usize,
}

/// Reads `value; name=value; name="value"` (RFC 2045 §5.1), comments and folding white
/// space allowed between the parts. What is not a parameter is skipped to the next `;`.
fn raw_parameters(value: &[u8]) -> Vec<RawParameter> {
    let mut parameters = Vec::new();
    let mut i = next_semicolon(value, 0);
    while i < value.len() {
        i = skip_cfws(value, i + 1);
        let name_start = i;
        while value
            .get(i)
            .is_some_and(|&b| !is_wsp(b) && !matches!(b, b'=' | b';' | b'(' | b'"'))
        {
            i += 1;
        }
        let name = name_start..i;
        i = skip_cfws(value, i);
        if name.is_empty() && value.get(i) != Some(&b'=') {
            i = next_semicolon(value, i);
            continue;
        }
        if value.get(i) != Some(&b'=') {
            i = next_semicolon(value, i);
            continue;
        }
        i = skip_cfws(value, i + 1);
        let (range, quoted, end) = if value.get(i) == Some(&b'"') {
            let close = quoted_end(value, i);
            (i + 1..close, true, (close + 1).min(value.len()))
        } else {
            let start = i;
            while value
                .get(i)
                .is_some_and(|&b| !is_wsp(b) && !matches!(b, b';' | b'(' | b'"'))
            {
                i += 1;
            }
            (start..i, false, i)
        };
        parameters.push(RawParameter {
            name,
            value: range,
            quoted,
            end,
        });
        i = next_semicolon(value, end);
    }
    parameters
}

/// The offset of the next `;` outside quoted-strings and comments, or the end.
fn next_semicolon(value: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&octet) = value.get(i) {
        match octet {
            b';' => return i,
            b'"' => i = quoted_end(value, i) + 1,
            b'(' => i = comment_end(value, i) + 1,
            _ => i += 1,
        }
    }
    value.len()
}

/// Skips white space (folds included) and comments.
fn skip_cfws(value: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(&octet) = value.get(i) {
        match octet {
            o if is_wsp(o) => i += 1,
            b'(' => i = comment_end(value, i) + 1,
            _ => return i,
        }
    }
    value.len()
}

// ---------------------------------------------------------------------------------------
// Extended values
// ---------------------------------------------------------------------------------------

/// `[charset] "'" [language] "'" rest` (RFC 2231 §7 extended-initial-value), if both
/// delimiters are there.
fn split_initial(value: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = value.iter().position(|&b| b == b'\'')?;
    let after = value.get(first + 1..)?;
    let second = after.iter().position(|&b| b == b'\'')?;
    Some((
        value.get(..first)?,
        after.get(..second)?,
        after.get(second + 1..)?,
    ))
}

/// Whether a later segment's value starts with what looks like `charset'language'`.
fn looks_like_initial(value: &[u8]) -> bool {
    split_initial(value).is_some_and(|(charset, language, _)| {
        charset.iter().all(|&b| is_attribute_char(b))
            && language
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// Whether an extended value stands for 8-bit octets: `%XX` of 0x80 or more, or a raw one.
fn has_eight_bit(value: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&octet) = value.get(i) {
        if octet >= 0x80 {
            return true;
        }
        if octet == b'%' {
            let high = value.get(i + 1).and_then(|&b| (b as char).to_digit(16));
            if high.is_some_and(|h| h >= 8)
                && value.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit())
            {
                return true;
            }
        }
        i += 1;
    }
    false
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

fn is_wsp(octet: u8) -> bool {
    matches!(octet, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 2231 §7 attribute-char: US-ASCII but SPACE, CTLs, `*`, `'`, `%` and the RFC 2045
/// tspecials.
fn is_attribute_char(octet: u8) -> bool {
    (0x21..0x7f).contains(&octet)
        && !matches!(
            octet,
            b'*' | b'\''
                | b'%'
                | b'('
                | b')'
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
                | b'='
        )
}

/// RFC 2231 §7 ext-octet digits: `DIGIT / "A" / "B" / "C" / "D" / "E" / "F"`.
fn is_upper_hex(octet: u8) -> bool {
    octet.is_ascii_digit() || (b'A'..=b'F').contains(&octet)
}

fn lossy(octets: &[u8]) -> String {
    String::from_utf8_lossy(octets).into_owned()
}

/// An octet for a detail: printable as itself, else `0xNN`.
fn shown(octet: u8) -> String {
    match octet {
        0x21..=0x7e => (octet as char).to_string(),
        b' ' => "SPACE".to_owned(),
        _ => format!("0x{octet:02X}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::check::Status;
    use crate::testing::*;

    fn with(header: &str) -> Vec<u8> {
        format!("MIME-Version: 1.0\r\n{header}\r\n\r\nbody\r\n").into_bytes()
    }

    fn check(id: &str, header: &str, want: Status) {
        let content = with(header);
        message_status(id, message(&content), want);
    }

    /// Real-world shapes that pass every check.
    const GOOD: [&str; 5] = [
        "Content-Disposition: attachment; filename*=UTF-8''%E4%B8%AD.pdf",
        "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E4%B8%AD%E6%96%87;\r\n filename*1*=%E6%96%87.pdf",
        // RFC 2231 §4.1's own example.
        "Content-Type: application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n \
         title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
        "Content-Type: message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"",
        "Content-Type: text/plain; charset=\"utf-8\"; format=flowed (a comment; here)",
    ];

    fn all_good(id: &str) {
        for header in GOOD {
            let content = with(header);
            let outcome = message(&content).outcome(id);
            assert!(
                outcome.findings().is_empty(),
                "{id} on {header}: {outcome:#?}"
            );
        }
    }

    #[test]
    fn continuation_sequence() {
        let id = "C-2231-CONTINUATION-SEQUENCE";
        all_good(id);
        check(id, GOOD[3], Status::Pass);
        check(id, "Content-Type: text/plain; name*1=\"b\"", Status::Fail);
        check(
            id,
            "Content-Type: text/plain; name*0=a; name*2=c",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: text/plain; name*0=a; name*01=b",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: text/plain; name*0=a; name*0*=''b",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: text/plain; NAME*0=a; name*1=b",
            Status::Pass,
        );
        check(
            id,
            "Content-Type: text/plain; name*99999999999999999999999=a",
            Status::Fail,
        );
        check(id, GOOD[0], Status::NotApplicable);
    }

    #[test]
    fn extended_value_syntax() {
        let id = "C-2231-EXTENDED-VALUE-SYNTAX";
        all_good(id);
        check(id, GOOD[0], Status::Pass);
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8'%E2%82%AC.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=%E2%82%AC.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8''%e2%82%ac.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8''%E2%8.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8''\u{20ac}.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8'e n'a.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename=a.txt",
            Status::NotApplicable,
        );
    }

    #[test]
    fn extended_not_quoted() {
        let id = "C-2231-EXTENDED-NOT-QUOTED";
        all_good(id);
        check(id, GOOD[0], Status::Pass);
        check(
            id,
            "Content-Disposition: attachment; filename*=\"UTF-8''%E2%82%AC.txt\"",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename=\"a b.txt\"",
            Status::NotApplicable,
        );
    }

    #[test]
    fn first_segment_encoded() {
        let id = "C-2231-FIRST-SEGMENT-ENCODED";
        all_good(id);
        check(id, GOOD[1], Status::Pass);
        check(id, GOOD[2], Status::Pass);
        check(
            id,
            "Content-Type: text/plain; name*0=\"report-\"; name*1*=%E2%82%AC.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: text/plain; name*0*=%E2%82; name*1*=%AC.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Type: text/plain; name*0*=UTF-8''a; name*1*=UTF-8''b",
            Status::Fail,
        );
        check(id, GOOD[3], Status::NotApplicable);
    }

    #[test]
    fn no_default_charset() {
        let id = "C-2231-NO-DEFAULT-CHARSET";
        all_good(id);
        check(id, GOOD[0], Status::Pass);
        check(
            id,
            "Content-Disposition: attachment; filename*=''%E2%82%AC.txt",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*='en'%E2%82%AC",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=''plain.txt",
            Status::Pass,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*0*=''a; filename*1*=%E2%82%AC",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename=a.txt",
            Status::NotApplicable,
        );
    }

    #[test]
    fn attribute_chars() {
        let id = "C-2231-ATTRIBUTE-CHARS";
        all_good(id);
        check(id, GOOD[0], Status::Pass);
        check(id, "Content-Type: text/plain; file%name=x", Status::Fail);
        check(id, "Content-Type: text/plain; na'me=x", Status::Fail);
        check(id, "Content-Type: text/plain; name*x=y", Status::Fail);
        check(id, "Content-Type: text/plain; name**=y", Status::Fail);
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8''report/2024.pdf",
            Status::Fail,
        );
        check(
            id,
            "Content-Disposition: attachment; filename*=UTF-8''a=b.pdf",
            Status::Fail,
        );
        check(id, "Content-Type: text/plain", Status::NotApplicable);
    }

    #[test]
    fn evidence_points_at_the_parameter() {
        let content = with("Content-Disposition: attachment;\r\n filename*=\"UTF-8''x\"");
        let outcome = message(&content).outcome("C-2231-EXTENDED-NOT-QUOTED");
        let finding = outcome.findings().first().expect("a finding");
        let crate::check::Location::Message { offset } = finding.location else {
            panic!("not in the message");
        };
        let at = usize::try_from(offset).expect("offset");
        assert!(content[at..].starts_with(b"filename*=\"UTF-8''x\""));
        assert_eq!(finding.octets, "filename*=\"UTF-8''x\"");
    }

    proptest::proptest! {
        #[test]
        fn any_parameters_are_judged_without_panic(
            value in proptest::collection::vec(
                proptest::sample::select(b"ab*0123'%EFef=;\"()\\/ \t\r\n\xe2".to_vec()),
                0..120,
            ),
        ) {
            let mut content = b"Content-Type: a/b;".to_vec();
            content.extend_from_slice(&value);
            content.extend_from_slice(b"\r\n\r\nbody\r\n");
            for judge in super::JUDGES {
                let _ = message(&content).outcome(judge.id);
            }
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let inputs: [&[u8]; 7] = [
            b"Content-Type: a/b; x*=",
            b"Content-Type: a/b; x*=\"",
            b"Content-Type: a/b; *=''%",
            b"Content-Type: a/b; x*0*='",
            b"Content-Type: a/b; (;",
            b"Content-Type: a/b; x=\"\\",
            b"Content-Type: a/b;;;; =; x*1*=%\xff",
        ];
        for content in inputs {
            for judge in super::JUDGES {
                let _ = message(content).outcome(judge.id);
            }
        }
    }
}
