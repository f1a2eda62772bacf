//! Mailpit's search syntax, parsed once and matched against index entries.
//!
//! A query is a list of terms, all of which must hold. A term is free text (a word or a
//! `"quoted phrase"`, matched case-insensitively anywhere in the sender, recipients,
//! subject, Message-ID, attachment names and the start of the text), or `key:value`:
//! `from:`, `to:` (also Cc and Bcc, as Mailpit), `cc:`, `bcc:`, `reply-to:`, `subject:`,
//! `message-id:`, `tag:`, `is:read`, `is:unread`, `is:tagged`, `has:attachment`,
//! `has:inline`, `before:DATE`, `after:DATE` (`YYYY-MM-DD`, or with `THH:MM[:SS]`, in UTC),
//! `larger:SIZE`, `smaller:SIZE` (`10k`, `2M`), and this tool's own `is:failing` (a client
//! check failed), `is:warned`. A `-` or `!` before a term negates it. A key this syntax does
//! not know is free text, so `http://...` searches as typed. docs/web.md lists it all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::index::Entry;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("unterminated quote in the search query")]
    UnterminatedQuote,
    #[error("{key}:{value} is not a date (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC)")]
    BadDate { key: String, value: String },
    #[error("{key}:{value} is not a size (use octets, or 10k, 2M)")]
    BadSize { key: String, value: String },
    #[error("{key}:{value} is not known (is: read, unread, tagged, failing, warned; has: attachment, inline)")]
    UnknownFlag { key: String, value: String },
    #[error("{key}: needs a value")]
    Empty { key: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    From,
    To,
    Cc,
    Bcc,
    ReplyTo,
    Subject,
    MessageId,
    Tag,
}

#[derive(Debug, Clone)]
enum Test {
    /// Lowercase free text, with its SIMD searcher: free text scans up to 2 KiB of every
    /// message, the most work a query does.
    Text(Box<memchr::memmem::Finder<'static>>),
    Field(Field, String),
    Read,
    Unread,
    Tagged,
    Attachment,
    Inline,
    Failing,
    Warned,
    Before(SystemTime),
    After(SystemTime),
    Larger(u64),
    Smaller(u64),
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    test: Test,
}

/// A parsed query; the empty query matches everything.
#[derive(Debug, Clone, Default)]
pub struct Query {
    terms: Vec<Term>,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for token in tokens(text)? {
            let (negated, token) = match token.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest.to_owned()),
                _ => (false, token),
            };
            terms.push(Term {
                negated,
                test: test_of(&token)?,
            });
        }
        Ok(Query { terms })
    }

    pub fn matches(&self, entry: &Entry) -> bool {
        self.terms
            .iter()
            .all(|term| term.test.holds(entry) != term.negated)
    }
}

/// Splits on whitespace outside double quotes; quotes are removed (`subject:"a b"` is one
/// token, `subject:a b`).
fn tokens(text: &str) -> Result<Vec<String>, QueryError> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut had_quote = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                had_quote = true;
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() || had_quote {
                    tokens.push(std::mem::take(&mut current));
                }
                had_quote = false;
            }
            c => current.push(c),
        }
    }
    if quoted {
        return Err(QueryError::UnterminatedQuote);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

fn test_of(token: &str) -> Result<Test, QueryError> {
    let Some((key, value)) = token.split_once(':') else {
        return Ok(text(token));
    };
    let key_lower = key.to_ascii_lowercase();
    let field = match key_lower.as_str() {
        "from" => Some(Field::From),
        "to" => Some(Field::To),
        "cc" => Some(Field::Cc),
        "bcc" => Some(Field::Bcc),
        "reply-to" => Some(Field::ReplyTo),
        "subject" => Some(Field::Subject),
        "message-id" => Some(Field::MessageId),
        "tag" => Some(Field::Tag),
        _ => None,
    };
    let empty = || QueryError::Empty {
        key: key.to_owned(),
    };
    if let Some(field) = field {
        if value.is_empty() {
            return Err(empty());
        }
        let value = value.to_lowercase();
        let value = match field {
            Field::MessageId => value
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
            _ => value,
        };
        return Ok(Test::Field(field, value));
    }
    let flag_error = || QueryError::UnknownFlag {
        key: key.to_owned(),
        value: value.to_owned(),
    };
    match key_lower.as_str() {
        "is" => match value.to_ascii_lowercase().as_str() {
            "read" => Ok(Test::Read),
            "unread" => Ok(Test::Unread),
            "tagged" => Ok(Test::Tagged),
            "failing" | "failed" => Ok(Test::Failing),
            "warned" => Ok(Test::Warned),
            _ => Err(flag_error()),
        },
        "has" => match value.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" => Ok(Test::Attachment),
            "inline" => Ok(Test::Inline),
            _ => Err(flag_error()),
        },
        "before" | "after" => {
            let at = parse_date(value).ok_or_else(|| QueryError::BadDate {
                key: key.to_owned(),
                value: value.to_owned(),
            })?;
            Ok(if key_lower == "before" {
                Test::Before(at)
            } else {
                Test::After(at)
            })
        }
        "larger" | "smaller" => {
            let size = parse_size(value).ok_or_else(|| QueryError::BadSize {
                key: key.to_owned(),
                value: value.to_owned(),
            })?;
            Ok(if key_lower == "larger" {
                Test::Larger(size)
            } else {
                Test::Smaller(size)
            })
        }
        _ => Ok(text(token)),
    }
}

fn text(token: &str) -> Test {
    Test::Text(Box::new(
        memchr::memmem::Finder::new(token.to_lowercase().as_bytes()).into_owned(),
    ))
}

impl Test {
    fn holds(&self, entry: &Entry) -> bool {
        let h = &entry.headline;
        match self {
            Test::Text(finder) => finder.find(h.search_text.as_bytes()).is_some(),
            Test::Field(field, value) => {
                let contact_matches = |c: &super::entry::Contact| {
                    contains_lower(&c.address, value) || contains_lower(&c.name, value)
                };
                match field {
                    Field::From => h.from.iter().any(contact_matches),
                    // Mailpit's to: looks in To, Cc and Bcc.
                    Field::To => h.to.iter().chain(&h.cc).chain(&h.bcc).any(contact_matches),
                    Field::Cc => h.cc.iter().any(contact_matches),
                    Field::Bcc => h.bcc.iter().any(contact_matches),
                    Field::ReplyTo => h.reply_to.iter().any(contact_matches),
                    Field::Subject => {
                        memchr::memmem::find(h.subject_lower.as_bytes(), value.as_bytes()).is_some()
                    }
                    Field::MessageId => contains_lower(&h.message_id, value),
                    Field::Tag => entry.tags.iter().any(|t| t.eq_ignore_ascii_case(value)),
                }
            }
            Test::Read => entry.read,
            Test::Unread => !entry.read,
            Test::Tagged => !entry.tags.is_empty(),
            Test::Attachment => h.attachments > 0,
            Test::Inline => h.inline > 0,
            Test::Failing => entry.checks.is_some_and(|c| c.fail > 0),
            Test::Warned => entry.checks.is_some_and(|c| c.warn > 0),
            Test::Before(at) => entry.created < *at,
            Test::After(at) => entry.created >= *at,
            Test::Larger(size) => entry.size > *size,
            Test::Smaller(size) => entry.size < *size,
        }
    }
}

/// Whether `haystack` contains `needle_lower` (already lowercase), ignoring case. ASCII text
/// (nearly every address and most subjects) is compared without allocating.
fn contains_lower(haystack: &str, needle_lower: &str) -> bool {
    if haystack.is_ascii() && needle_lower.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    haystack.to_lowercase().contains(needle_lower)
}

/// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM[:SS]` (a space also separates), in UTC.
fn parse_date(text: &str) -> Option<SystemTime> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time.trim_end_matches(['Z', 'z']))),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = crate::civil::days_from_civil(year, month, day).checked_mul(86_400)?;
    if let Some(time) = time {
        let mut fields = time.split(':');
        let hours: i64 = fields.next()?.parse().ok()?;
        let minutes: i64 = fields.next()?.parse().ok()?;
        let secs: i64 = match fields.next() {
            Some(s) => s.parse().ok()?,
            None => 0,
        };
        if fields.next().is_some() || hours > 23 || minutes > 59 || secs > 60 {
            return None;
        }
        seconds += hours * 3600 + minutes * 60 + secs;
    }
    let seconds = u64::try_from(seconds).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Octets, or with a `k`/`m` suffix (binary: `1k` = 1024).
fn parse_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, unit) = match lower.strip_suffix(['k', 'm']) {
        Some(digits) if lower.ends_with('k') => (digits, 1024),
        Some(digits) => (digits, 1024 * 1024),
        None => (lower.as_str(), 1),
    };
    let digits = digits.strip_suffix('b').unwrap_or(digits);
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::super::entry::{Contact, Headline};
    use super::*;

    fn entry(subject: &str, from: &str, to: &str) -> Entry {
        let mut entry = Entry::for_test("ID1");
        entry.headline = Headline {
            from: Some(Contact {
                name: "Sender Name".into(),
                address: from.into(),
            }),
            to: vec![Contact {
                name: String::new(),
                address: to.into(),
            }],
            subject: subject.into(),
            subject_lower: subject.to_lowercase(),
            message_id: "abc@example.com".into(),
            search_text: format!("{from} {to} {subject} body text").to_lowercase(),
            ..Headline::default()
        };
        entry
    }

    #[test]
    fn fields_free_text_and_negation() {
        let e = entry(
            "Your code is 1234",
            "noreply@shop.example",
            "ann@example.org",
        );
        for (query, expected) in [
            ("", true),
            ("code", true),
            ("CODE", true),
            ("\"code is\"", true),
            ("\"is code\"", false),
            ("from:shop", true),
            ("from:\"sender name\"", true),
            ("to:ann@example.org", true),
            ("to:bob", false),
            ("subject:1234 from:noreply", true),
            ("subject:1234 from:other", false),
            ("-subject:1234", false),
            ("!to:bob", true),
            ("message-id:<abc@example.com>", true),
            ("is:unread", true),
            ("is:read", false),
            ("has:attachment", false),
            ("-has:attachment", true),
            ("tag:x", false),
            ("after:2000-01-01", true),
            ("before:2000-01-01", false),
            ("larger:1k", false),
            ("smaller:1M", true),
            ("http://x", false),
        ] {
            let q = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(q.matches(&e), expected, "{query}");
        }
    }

    #[test]
    fn bad_queries_say_why() {
        assert!(matches!(
            Query::parse("subject:\"open"),
            Err(QueryError::UnterminatedQuote)
        ));
        assert!(matches!(
            Query::parse("before:yesterday"),
            Err(QueryError::BadDate { .. })
        ));
        assert!(matches!(
            Query::parse("is:purple"),
            Err(QueryError::UnknownFlag { .. })
        ));
        assert!(matches!(
            Query::parse("from:"),
            Err(QueryError::Empty { .. })
        ));
        assert!(matches!(
            Query::parse("larger:lots"),
            Err(QueryError::BadSize { .. })
        ));
    }

    #[test]
    fn dates_are_days_since_the_epoch() {
        // `date -u -d 2026-11-30 +%s`
        assert_eq!(
            parse_date("2026-11-30"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_996_800))
        );
        assert_eq!(
            parse_date("1970-01-02T00:00:01"),
            Some(UNIX_EPOCH + Duration::from_secs(86_401))
        );
        assert_eq!(parse_date("2026-13-01"), None);
    }
}
