//! The JSON shapes of Mailpit's API v1, field for field (names, casing, and which fields are
//! arrays even when empty), so that clients written for Mailpit read this server unchanged.
//! docs/web.md says where this server differs and why.

use std::collections::BTreeMap;

use mail_parser::MessageParser;
use serde::Serialize;
use sha1::Digest as _;

use super::entry::Contact;
use super::index::{CheckCounts, Entry};
use super::mime::{self, PartKind};
use crate::events::rfc3339;

/// An entry of a list or search, and the `new` event's data.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageSummary<'e> {
    #[serde(rename = "ID")]
    pub id: &'e str,
    #[serde(rename = "MessageID")]
    pub message_id: &'e str,
    pub read: bool,
    pub from: Contact,
    pub to: &'e [Contact],
    pub cc: &'e [Contact],
    pub bcc: &'e [Contact],
    pub reply_to: &'e [Contact],
    pub subject: &'e str,
    pub created: String,
    pub username: &'e str,
    pub tags: &'e [String],
    pub size: u64,
    pub attachments: u32,
    pub snippet: &'e str,
    /// This server's own: the client checks that failed and warned (absent when not judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<CheckCounts>,
}

impl<'e> MessageSummary<'e> {
    pub fn of(entry: &'e Entry) -> MessageSummary<'e> {
        let h = &entry.headline;
        MessageSummary {
            id: &entry.id,
            message_id: &h.message_id,
            read: entry.read,
            from: h.from.clone().unwrap_or_default(),
            to: &h.to,
            cc: &h.cc,
            bcc: &h.bcc,
            reply_to: &h.reply_to,
            subject: &h.subject,
            created: rfc3339(entry.created),
            username: &entry.username,
            tags: &entry.tags,
            size: entry.size,
            attachments: h.attachments,
            snippet: &h.snippet,
            checks: entry.checks,
        }
    }
}

/// `GET /api/v1/messages` and `/api/v1/search`.
#[derive(Debug, Serialize)]
pub struct MessagesSummary<'e> {
    pub total: usize,
    pub unread: usize,
    /// Legacy in Mailpit, still sent (and required by some clients): the page's length.
    pub count: usize,
    pub messages_count: usize,
    pub messages_unread: usize,
    pub start: usize,
    pub tags: Vec<String>,
    pub messages: Vec<MessageSummary<'e>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUnsubscribe {
    pub header: String,
    pub links: Vec<String>,
    pub errors: String,
    pub header_post: String,
}

#[derive(Debug, Serialize)]
pub struct Checksums {
    #[serde(rename = "MD5")]
    pub md5: String,
    #[serde(rename = "SHA1")]
    pub sha1: String,
    #[serde(rename = "SHA256")]
    pub sha256: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentJson {
    #[serde(rename = "PartID")]
    pub part_id: String,
    pub file_name: String,
    pub content_type: String,
    #[serde(rename = "ContentID")]
    pub content_id: String,
    pub size: usize,
    pub checksums: Checksums,
}

/// `GET /api/v1/message/{ID}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageJson<'e> {
    #[serde(rename = "ID")]
    pub id: &'e str,
    #[serde(rename = "MessageID")]
    pub message_id: &'e str,
    /// Not in Mailpit's Message (opening marks it read, so it is always true here), but
    /// required by the `mailpit-api-client` package's model.
    pub read: bool,
    pub from: Contact,
    pub to: &'e [Contact],
    pub cc: &'e [Contact],
    pub bcc: &'e [Contact],
    pub reply_to: &'e [Contact],
    pub return_path: String,
    pub subject: &'e str,
    pub list_unsubscribe: ListUnsubscribe,
    pub date: String,
    pub tags: &'e [String],
    pub username: &'e str,
    pub text: String,
    #[serde(rename = "HTML")]
    pub html: String,
    pub size: u64,
    pub inline: Vec<AttachmentJson>,
    pub attachments: Vec<AttachmentJson>,
}

impl<'e> MessageJson<'e> {
    pub fn of(entry: &'e Entry, raw: &[u8]) -> MessageJson<'e> {
        let h = &entry.headline;
        let parsed = MessageParser::default().parse(raw);
        let (mut text, html, mut inline, mut attachments) =
            (String::new(), String::new(), Vec::new(), Vec::new());
        let mut html = html;
        let mut list_unsubscribe = String::new();
        if let Some(message) = &parsed {
            text = message
                .body_text(0)
                .map(|t| t.into_owned())
                .unwrap_or_default();
            html = message
                .html_part(0)
                .filter(|p| p.is_text_html())
                .and_then(|_| message.body_html(0))
                .map(|t| t.into_owned())
                .unwrap_or_default();
            list_unsubscribe = message
                .header_raw("List-Unsubscribe")
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            for part in mime::parts(message) {
                let list = match part.kind {
                    PartKind::Inline => &mut inline,
                    PartKind::Attachment => &mut attachments,
                    _ => continue,
                };
                let content = message
                    .parts
                    .get(part.index)
                    .map(|p| p.contents())
                    .unwrap_or_default();
                list.push(AttachmentJson {
                    file_name: if part.file_name.is_empty() {
                        part.content_id.clone()
                    } else {
                        part.file_name.clone()
                    },
                    part_id: part.part_id,
                    content_type: part.content_type,
                    content_id: part.content_id,
                    size: content.len(),
                    checksums: checksums(content),
                });
            }
        }
        MessageJson {
            id: &entry.id,
            message_id: &h.message_id,
            read: true,
            from: h.from.clone().unwrap_or_default(),
            to: &h.to,
            cc: &h.cc,
            bcc: &h.bcc,
            reply_to: &h.reply_to,
            return_path: entry.return_path.clone(),
            subject: &h.subject,
            list_unsubscribe: ListUnsubscribe {
                links: unsubscribe_links(&list_unsubscribe),
                header: list_unsubscribe,
                errors: String::new(),
                header_post: String::new(),
            },
            date: rfc3339(h.date.unwrap_or(entry.created)),
            tags: &entry.tags,
            username: &entry.username,
            text,
            html,
            size: entry.size,
            inline,
            attachments,
        }
    }
}

fn unsubscribe_links(header: &str) -> Vec<String> {
    header
        .split(',')
        .filter_map(|item| {
            let item = item.trim();
            Some(item.strip_prefix('<')?.strip_suffix('>')?.to_owned())
        })
        .collect()
}

fn checksums(content: &[u8]) -> Checksums {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Checksums {
        md5: hex(&md5::Md5::digest(content)),
        sha1: hex(&sha1::Sha1::digest(content)),
        sha256: hex(&sha2::Sha256::digest(content)),
    }
}

/// `GET /api/v1/message/{ID}/headers`: every field of the message as delivered to the
/// sink's mailbox (with the trace fields a delivery agent adds first: `Return-Path`, one
/// `Delivered-To` per envelope recipient, `Received`), names in Go's canonical form as
/// Mailpit writes them (`Message-Id`, `Content-Type`), values unfolded and not decoded.
pub fn headers_json(
    delivered_trace: &[(String, String)],
    raw: &[u8],
) -> BTreeMap<String, Vec<String>> {
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in delivered_trace {
        headers
            .entry(canonical_header_name(name))
            .or_default()
            .push(value.clone());
    }
    let parsed = crate::mailbox::ParsedMessage::parse(raw);
    for (name, value) in parsed.headers() {
        headers
            .entry(canonical_header_name(name))
            .or_default()
            .push(value.trim().to_owned());
    }
    headers
}

/// Go's `CanonicalMIMEHeaderKey`: the first letter and every letter after a hyphen upper
/// case, the rest lower case.
pub fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// `GET /api/v1/info`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInformation {
    pub version: String,
    pub latest_version: String,
    pub database: String,
    pub database_size: u64,
    pub messages: usize,
    pub unread: usize,
    pub tags: BTreeMap<String, usize>,
    pub runtime_stats: RuntimeStats,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeStats {
    pub uptime: u64,
    pub memory: u64,
    pub messages_deleted: u64,
    #[serde(rename = "SMTPAccepted")]
    pub smtp_accepted: u64,
    #[serde(rename = "SMTPAcceptedSize")]
    pub smtp_accepted_size: u64,
    #[serde(rename = "SMTPRejected")]
    pub smtp_rejected: u64,
    #[serde(rename = "SMTPIgnored")]
    pub smtp_ignored: u64,
}

/// `GET /api/v1/webui`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebUiConfiguration {
    pub label: String,
    pub message_relay: MessageRelay,
    pub spam_assassin: bool,
    pub chaos_enabled: bool,
    pub duplicates_ignored: bool,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MessageRelay {
    pub enabled: bool,
    #[serde(rename = "SMTPServer")]
    pub smtp_server: String,
    pub return_path: String,
    pub allowed_recipients: String,
    pub blocked_recipients: String,
    pub override_from: String,
    pub recipient_allowlist: String,
}

/// One WebSocket frame of `/api/events`: `{"Type": ..., "Data": ...}`.
pub fn event_frame(kind: &str, data: &impl Serialize) -> String {
    #[derive(Serialize)]
    struct Frame<'a, T> {
        #[serde(rename = "Type")]
        kind: &'a str,
        #[serde(rename = "Data")]
        data: &'a T,
    }
    serde_json::to_string(&Frame { kind, data }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_canonical_as_in_go() {
        assert_eq!(canonical_header_name("message-ID"), "Message-Id");
        assert_eq!(canonical_header_name("CONTENT-TYPE"), "Content-Type");
        assert_eq!(canonical_header_name("x-mailer"), "X-Mailer");
    }

    #[test]
    fn list_unsubscribe_links() {
        assert_eq!(
            unsubscribe_links("<mailto:u@example.com>, <https://example.com/u?x=1>"),
            ["mailto:u@example.com", "https://example.com/u?x=1"]
        );
    }
}
