//! EHLO keywords (RFC 5321 §4.1.1.1 `ehlo-line`): what a server advertises, parsed from and
//! printed to the lines of a 250 reply after the greeting line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One EHLO line. Keywords are case-insensitive on input (C-5321-EXT-KEYWORD-CASE); known ones
/// print in upper case, unknown ones exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extension {
    Pipelining,
    /// `SIZE [n]`; 0 or absent means no fixed maximum (RFC 1870 §3).
    Size(Option<u64>),
    EightBitMime,
    SmtpUtf8,
    EnhancedStatusCodes,
    Chunking,
    BinaryMime,
    Dsn,
    StartTls,
    /// `AUTH mech...` (RFC 4954 §3), mechanisms as written.
    Auth(Vec<String>),
    Help,
    Other {
        keyword: String,
        params: Vec<String>,
    },
}

impl Extension {
    /// Parses one EHLO line such as `SIZE 10485760` or `AUTH PLAIN LOGIN`.
    pub fn parse(line: &str) -> Extension {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let keyword = words.next().unwrap_or("");
        let params: Vec<String> = words.map(str::to_owned).collect();
        let upper = keyword.to_ascii_uppercase();
        let other = || Extension::Other {
            keyword: keyword.to_owned(),
            params: params.clone(),
        };
        match (upper.as_str(), params.as_slice()) {
            ("PIPELINING", []) => Extension::Pipelining,
            ("SIZE", []) => Extension::Size(None),
            ("SIZE", [n]) if n.bytes().all(|b| b.is_ascii_digit()) => match n.parse() {
                Ok(n) => Extension::Size(Some(n)),
                Err(_) => other(),
            },
            ("8BITMIME", []) => Extension::EightBitMime,
            ("SMTPUTF8", []) => Extension::SmtpUtf8,
            ("ENHANCEDSTATUSCODES", []) => Extension::EnhancedStatusCodes,
            ("CHUNKING", []) => Extension::Chunking,
            ("BINARYMIME", []) => Extension::BinaryMime,
            ("DSN", []) => Extension::Dsn,
            ("STARTTLS", []) => Extension::StartTls,
            ("HELP", []) => Extension::Help,
            ("AUTH", mechs) if !mechs.is_empty() => Extension::Auth(mechs.to_vec()),
            _ => other(),
        }
    }

    /// The keyword in upper case (unknown keywords as written).
    pub fn keyword(&self) -> &str {
        match self {
            Extension::Pipelining => "PIPELINING",
            Extension::Size(_) => "SIZE",
            Extension::EightBitMime => "8BITMIME",
            Extension::SmtpUtf8 => "SMTPUTF8",
            Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Extension::Chunking => "CHUNKING",
            Extension::BinaryMime => "BINARYMIME",
            Extension::Dsn => "DSN",
            Extension::StartTls => "STARTTLS",
            Extension::Auth(_) => "AUTH",
            Extension::Help => "HELP",
            Extension::Other { keyword, .. } => keyword,
        }
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extension::Size(Some(n)) => write!(f, "SIZE {n}"),
            Extension::Auth(mechs) => write!(f, "AUTH {}", mechs.join(" ")),
            Extension::Other { keyword, params } => {
                f.write_str(keyword)?;
                params.iter().try_for_each(|p| write!(f, " {p}"))
            }
            other => f.write_str(other.keyword()),
        }
    }
}

/// What a server advertised in its last EHLO reply, for quick questions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extensions(pub Vec<Extension>);

impl Extensions {
    /// Reads the keywords from the lines of an EHLO reply (the first line is the greeting).
    pub fn from_ehlo_lines(lines: &[String]) -> Extensions {
        Extensions(lines.iter().skip(1).map(|l| Extension::parse(l)).collect())
    }

    pub fn has(&self, keyword: &str) -> bool {
        self.0
            .iter()
            .any(|e| e.keyword().eq_ignore_ascii_case(keyword))
    }

    /// The advertised SIZE limit; `None` without SIZE, `Some(0)` for "no fixed limit".
    pub fn size(&self) -> Option<u64> {
        self.0.iter().find_map(|e| match e {
            Extension::Size(n) => Some(n.unwrap_or(0)),
            _ => None,
        })
    }

    pub fn auth_mechanisms(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|e| match e {
                Extension::Auth(mechs) => Some(mechs.iter().map(String::as_str)),
                _ => None,
            })
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let cases = [
            ("PIPELINING", Extension::Pipelining),
            ("size 35882577", Extension::Size(Some(35882577))),
            ("SIZE", Extension::Size(None)),
            (
                "AUTH LOGIN PLAIN XOAUTH2",
                Extension::Auth(vec!["LOGIN".into(), "PLAIN".into(), "XOAUTH2".into()]),
            ),
            (
                "8 BITMIME",
                Extension::Other {
                    keyword: "8".into(),
                    params: vec!["BITMIME".into()],
                },
            ),
            (
                "AUTH=LOGIN",
                Extension::Other {
                    keyword: "AUTH=LOGIN".into(),
                    params: vec![],
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(Extension::parse(line), expected, "{line}");
        }
        assert_eq!(
            Extension::parse("AUTH=LOGIN PLAIN").to_string(),
            "AUTH=LOGIN PLAIN"
        );
    }

    #[test]
    fn advertised_set() {
        let lines: Vec<String> = ["mx greets", "SIZE 10", "AUTH PLAIN", "CHUNKING"]
            .map(String::from)
            .to_vec();
        let set = Extensions::from_ehlo_lines(&lines);
        assert!(set.has("chunking"));
        assert!(!set.has("PIPELINING"));
        assert_eq!(set.size(), Some(10));
        assert_eq!(set.auth_mechanisms(), ["PLAIN"]);
    }
}
