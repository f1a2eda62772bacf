//! ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 `esmtp-param`), typed for the extensions
//! this project speaks: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531),
//! RET/ENVID/NOTIFY/ORCPT (RFC 3461) and AUTH= (RFC 4954 §5). Anything else is kept as
//! [`MailParam::Other`] / [`RcptParam::Other`]; whether it is acceptable is the session's call.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a parameter list did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("malformed parameter {0:?}")]
    Malformed(String),
    #[error("invalid value for {keyword}")]
    InvalidValue { keyword: &'static str },
    #[error("{0} given twice")]
    Duplicate(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    #[serde(rename = "7BIT")]
    SevenBit,
    #[serde(rename = "8BITMIME")]
    EightBitMime,
    #[serde(rename = "BINARYMIME")]
    BinaryMime,
}

impl Body {
    fn as_str(self) -> &'static str {
        match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Ret {
    Full,
    Hdrs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum NotifyOn {
    Success,
    Failure,
    Delay,
}

/// `NOTIFY=NEVER` or a list of conditions (RFC 3461 §4.1), in the client's order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notify {
    Never,
    On(Vec<NotifyOn>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailParam {
    Size(u64),
    Body(Body),
    SmtpUtf8,
    Ret(Ret),
    /// The xtext as written.
    EnvId(String),
    /// `AUTH=<>` or an xtext mailbox, as written.
    Auth(String),
    Other {
        keyword: String,
        value: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RcptParam {
    Notify(Notify),
    /// `ORCPT=addr-type;xtext`, both as written.
    Orcpt {
        addr_type: String,
        address: String,
    },
    Other {
        keyword: String,
        value: Option<String>,
    },
}

impl MailParam {
    /// The canonical keyword, upper case for known parameters.
    pub fn keyword(&self) -> &str {
        match self {
            MailParam::Size(_) => "SIZE",
            MailParam::Body(_) => "BODY",
            MailParam::SmtpUtf8 => "SMTPUTF8",
            MailParam::Ret(_) => "RET",
            MailParam::EnvId(_) => "ENVID",
            MailParam::Auth(_) => "AUTH",
            MailParam::Other { keyword, .. } => keyword,
        }
    }
}

impl RcptParam {
    pub fn keyword(&self) -> &str {
        match self {
            RcptParam::Notify(_) => "NOTIFY",
            RcptParam::Orcpt { .. } => "ORCPT",
            RcptParam::Other { keyword, .. } => keyword,
        }
    }
}

impl fmt::Display for MailParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailParam::Size(size) => write!(f, "SIZE={size}"),
            MailParam::Body(body) => write!(f, "BODY={}", body.as_str()),
            MailParam::SmtpUtf8 => f.write_str("SMTPUTF8"),
            MailParam::Ret(Ret::Full) => f.write_str("RET=FULL"),
            MailParam::Ret(Ret::Hdrs) => f.write_str("RET=HDRS"),
            MailParam::EnvId(id) => write!(f, "ENVID={id}"),
            MailParam::Auth(auth) => write!(f, "AUTH={auth}"),
            MailParam::Other { keyword, value } => write_other(f, keyword, value.as_deref()),
        }
    }
}

impl fmt::Display for RcptParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RcptParam::Notify(Notify::Never) => f.write_str("NOTIFY=NEVER"),
            RcptParam::Notify(Notify::On(conditions)) => {
                f.write_str("NOTIFY=")?;
                for (i, condition) in conditions.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(match condition {
                        NotifyOn::Success => "SUCCESS",
                        NotifyOn::Failure => "FAILURE",
                        NotifyOn::Delay => "DELAY",
                    })?;
                }
                Ok(())
            }
            RcptParam::Orcpt { addr_type, address } => write!(f, "ORCPT={addr_type};{address}"),
            RcptParam::Other { keyword, value } => write_other(f, keyword, value.as_deref()),
        }
    }
}

fn write_other(f: &mut fmt::Formatter<'_>, keyword: &str, value: Option<&str>) -> fmt::Result {
    match value {
        Some(value) => write!(f, "{keyword}={value}"),
        None => f.write_str(keyword),
    }
}

/// Splits `esmtp-param *(SP esmtp-param)` into keyword/value pairs, checking their syntax:
/// `esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")` and
/// `esmtp-value = 1*(%d33-60 / %d62-126)`, widened to UTF-8 by RFC 6531.
fn split_params(input: &str) -> Result<Vec<(&str, Option<&str>)>, ParamError> {
    let mut params = Vec::new();
    for raw in input.split(' ').filter(|p| !p.is_empty()) {
        let (keyword, value) = match raw.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (raw, None),
        };
        let keyword_ok = keyword.starts_with(|c: char| c.is_ascii_alphanumeric())
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.chars()
                    .all(|c| (c > ' ' && c != '=' && c != '\x7f') || !c.is_ascii())
        });
        if !keyword_ok || !value_ok {
            return Err(ParamError::Malformed(raw.to_owned()));
        }
        if params
            .iter()
            .any(|(k, _): &(&str, _)| k.eq_ignore_ascii_case(keyword))
        {
            return Err(ParamError::Duplicate(keyword.to_ascii_uppercase()));
        }
        params.push((keyword, value));
    }
    Ok(params)
}

/// `xtext = *( xchar / hexchar )` (RFC 3461 §4): printable ASCII except `+` and `=`, or `+XX`.
pub fn is_xtext(input: &str) -> bool {
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
                if i + 2 >= bytes.len() {
                    return false;
                }
                if !(hex(bytes[i + 1]) && hex(bytes[i + 2])) {
                    return false;
                }
                i += 3;
            }
            b'!'..=b'~' if bytes[i] != b'=' => i += 1,
            _ => return false,
        }
    }
    true
}

pub(crate) fn parse_mail_params(input: &str) -> Result<Vec<MailParam>, ParamError> {
    split_params(input)?
        .into_iter()
        .map(|(keyword, value)| {
            let upper = keyword.to_ascii_uppercase();
            Ok(match (upper.as_str(), value) {
                ("SIZE", Some(v)) => MailParam::Size(parse_size(v)?),
                ("SIZE", None) => return Err(ParamError::InvalidValue { keyword: "SIZE" }),
                ("BODY", v) => MailParam::Body(match v.map(str::to_ascii_uppercase).as_deref() {
                    Some("7BIT") => Body::SevenBit,
                    Some("8BITMIME") => Body::EightBitMime,
                    Some("BINARYMIME") => Body::BinaryMime,
                    _ => return Err(ParamError::InvalidValue { keyword: "BODY" }),
                }),
                ("SMTPUTF8", None) => MailParam::SmtpUtf8,
                ("SMTPUTF8", Some(_)) => {
                    return Err(ParamError::InvalidValue {
                        keyword: "SMTPUTF8",
                    })
                }
                ("RET", v) => MailParam::Ret(match v.map(str::to_ascii_uppercase).as_deref() {
                    Some("FULL") => Ret::Full,
                    Some("HDRS") => Ret::Hdrs,
                    _ => return Err(ParamError::InvalidValue { keyword: "RET" }),
                }),
                ("ENVID", Some(v)) if is_xtext(v) && v.len() <= 100 => {
                    MailParam::EnvId(v.to_owned())
                }
                ("ENVID", _) => return Err(ParamError::InvalidValue { keyword: "ENVID" }),
                ("AUTH", Some(v)) if v == "<>" || is_xtext(v) => MailParam::Auth(v.to_owned()),
                ("AUTH", _) => return Err(ParamError::InvalidValue { keyword: "AUTH" }),
                _ => MailParam::Other {
                    keyword: keyword.to_owned(),
                    value: value.map(str::to_owned),
                },
            })
        })
        .collect()
}

pub(crate) fn parse_rcpt_params(input: &str) -> Result<Vec<RcptParam>, ParamError> {
    split_params(input)?
        .into_iter()
        .map(|(keyword, value)| {
            let upper = keyword.to_ascii_uppercase();
            Ok(match (upper.as_str(), value) {
                ("NOTIFY", Some(v)) => RcptParam::Notify(parse_notify(v)?),
                ("NOTIFY", None) => return Err(ParamError::InvalidValue { keyword: "NOTIFY" }),
                ("ORCPT", Some(v)) => {
                    let (addr_type, address) = v
                        .split_once(';')
                        .ok_or(ParamError::InvalidValue { keyword: "ORCPT" })?;
                    let type_ok = crate::address::domain_len(addr_type) == Some(addr_type.len())
                        && addr_type.is_ascii();
                    if !type_ok || address.is_empty() || !is_xtext(address) {
                        return Err(ParamError::InvalidValue { keyword: "ORCPT" });
                    }
                    RcptParam::Orcpt {
                        addr_type: addr_type.to_owned(),
                        address: address.to_owned(),
                    }
                }
                ("ORCPT", None) => return Err(ParamError::InvalidValue { keyword: "ORCPT" }),
                _ => RcptParam::Other {
                    keyword: keyword.to_owned(),
                    value: value.map(str::to_owned),
                },
            })
        })
        .collect()
}

fn parse_size(value: &str) -> Result<u64, ParamError> {
    // size-value = 1*20DIGIT (RFC 1870 §3)
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParamError::InvalidValue { keyword: "SIZE" });
    }
    // Twenty digits may exceed 2^64 - 1: such a size is valid, and larger than any message
    // (it is refused with 552 by the session), so it is kept as u64::MAX.
    Ok(value.parse().unwrap_or(u64::MAX))
}

fn parse_notify(value: &str) -> Result<Notify, ParamError> {
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(Notify::Never);
    }
    let mut conditions = Vec::new();
    for item in value.split(',') {
        let condition = match item.to_ascii_uppercase().as_str() {
            "SUCCESS" => NotifyOn::Success,
            "FAILURE" => NotifyOn::Failure,
            "DELAY" => NotifyOn::Delay,
            _ => return Err(ParamError::InvalidValue { keyword: "NOTIFY" }),
        };
        if conditions.contains(&condition) {
            return Err(ParamError::InvalidValue { keyword: "NOTIFY" });
        }
        conditions.push(condition);
    }
    Ok(Notify::On(conditions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_params_known_answers() {
        assert_eq!(
            parse_mail_params("SIZE=1024 body=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>"),
            Ok(vec![
                MailParam::Size(1024),
                MailParam::Body(Body::EightBitMime),
                MailParam::SmtpUtf8,
                MailParam::Ret(Ret::Hdrs),
                MailParam::EnvId("QQ+2B1".into()),
                MailParam::Auth("<>".into()),
            ])
        );
        assert_eq!(
            parse_mail_params("X-FOO=bar XBAZ"),
            Ok(vec![
                MailParam::Other {
                    keyword: "X-FOO".into(),
                    value: Some("bar".into())
                },
                MailParam::Other {
                    keyword: "XBAZ".into(),
                    value: None
                },
            ])
        );
        let errors = [
            ("SIZE=abc", ParamError::InvalidValue { keyword: "SIZE" }),
            ("SIZE", ParamError::InvalidValue { keyword: "SIZE" }),
            ("BODY=9BIT", ParamError::InvalidValue { keyword: "BODY" }),
            (
                "SMTPUTF8=yes",
                ParamError::InvalidValue {
                    keyword: "SMTPUTF8",
                },
            ),
            ("SIZE=1 size=2", ParamError::Duplicate("SIZE".into())),
            ("=x", ParamError::Malformed("=x".into())),
            ("A=", ParamError::Malformed("A=".into())),
            ("ENVID=a+zz", ParamError::InvalidValue { keyword: "ENVID" }),
        ];
        for (input, error) in errors {
            assert_eq!(parse_mail_params(input), Err(error), "{input}");
        }
    }

    #[test]
    fn size_takes_twenty_digits() {
        // RFC 1870: size-value = 1*20DIGIT. Over 2^64 - 1 it is kept as u64::MAX.
        assert_eq!(
            parse_mail_params("SIZE=99999999999999999999"),
            Ok(vec![MailParam::Size(u64::MAX)])
        );
        assert_eq!(
            parse_mail_params("SIZE=18446744073709551615"),
            Ok(vec![MailParam::Size(u64::MAX)])
        );
        assert!(parse_mail_params("SIZE=999999999999999999999").is_err());
    }

    #[test]
    fn rcpt_params_known_answers() {
        assert_eq!(
            parse_rcpt_params("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b.c"),
            Ok(vec![
                RcptParam::Notify(Notify::On(vec![NotifyOn::Success, NotifyOn::Failure])),
                RcptParam::Orcpt {
                    addr_type: "rfc822".into(),
                    address: "a+40b.c".into()
                },
            ])
        );
        for bad in [
            "NOTIFY=NEVER,SUCCESS",
            "NOTIFY=SOMETIMES",
            "ORCPT=rfc822",
            "NOTIFY",
        ] {
            assert!(parse_rcpt_params(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn xtext() {
        assert!(is_xtext("abc+2Bdef"));
        assert!(!is_xtext("a+2"));
        assert!(!is_xtext("a+"));
        assert!(!is_xtext("a b"));
        assert!(!is_xtext("a=b"));
    }
}
