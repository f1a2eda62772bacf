//! A short summary of a message (subject, From, To, Cc, attachments) for listings and events,
//! read with mail-parser. Content defects never fail this: missing parts are just absent.

use mail_parser::MimeHeaders;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Addresses in the From header.
    pub from: Vec<String>,
    /// Addresses in the To header.
    pub to: Vec<String>,
    /// Addresses in the Cc header (the envelope recipients, Bcc included, are the message's
    /// `rcpt_to`).
    pub cc: Vec<String>,
    /// File names (or content types) of the attachments.
    pub attachments: Vec<String>,
}

pub fn summarise(raw: &[u8]) -> Summary {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return Summary::default();
    };
    let addresses = |address: Option<&mail_parser::Address<'_>>| -> Vec<String> {
        address
            .map(|a| {
                a.iter()
                    .filter_map(|addr| addr.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let attachments = message
        .attachments()
        .map(|part| {
            part.attachment_name()
                .map(str::to_owned)
                .or_else(|| {
                    part.content_type().map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{sub}", ct.ctype()),
                        None => ct.ctype().to_owned(),
                    })
                })
                .unwrap_or_else(|| "attachment".to_owned())
        })
        .collect();
    Summary {
        subject: message.subject().map(str::to_owned),
        from: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_a_multipart_message() {
        let raw = b"From: Ann <ann@example.com>\r\nTo: bob@example.org, Cy <cy@example.org>\r\n\
Cc: dee@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nxx\r\n--b--\r\n";
        let summary = summarise(raw);
        assert_eq!(summary.subject.as_deref(), Some("café"));
        assert_eq!(summary.from, ["ann@example.com"]);
        assert_eq!(summary.to, ["bob@example.org", "cy@example.org"]);
        assert_eq!(summary.cc, ["dee@example.net"]);
        assert_eq!(summary.attachments, ["a.pdf"]);
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        let summary = summarise(b"\0\xff not a message");
        assert_eq!(summary.subject, None);
        assert!(summary.from.is_empty());
    }
}
