//! A message's MIME tree as the web sink shows it: every part with Mailpit's part id (the
//! children of a multipart root are `1`, `2`, ..., theirs `1.1`, `1.2`, ...), which parts
//! are attachments and which are inline (shown in the HTML by Content-ID), and a part's
//! decoded content by id.

use std::collections::HashSet;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use serde::Serialize;

/// One part of the tree, for the API's `parts` endpoint and the UI's MIME view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartInfo {
    #[serde(rename = "PartID")]
    pub part_id: String,
    pub depth: usize,
    pub content_type: String,
    pub charset: String,
    pub encoding: String,
    pub disposition: String,
    pub file_name: String,
    #[serde(rename = "ContentID")]
    pub content_id: String,
    /// Decoded size in octets (0 for a multipart container).
    pub size: usize,
    /// An attachment or an inline part (listed in Mailpit's `Attachments` or `Inline`).
    pub kind: PartKind,
    /// Index in mail-parser's flat list of parts.
    #[serde(skip)]
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Container,
    Body,
    Attachment,
    Inline,
}

/// The tree of a parsed message, depth first.
pub fn parts(message: &Message<'_>) -> Vec<PartInfo> {
    let mut out = Vec::new();
    let related = crate::mailbox::parsed::related_children(message);
    let body_parts: Vec<u32> = message
        .text_body
        .iter()
        .chain(&message.html_body)
        .copied()
        .collect();
    let Some(root) = message.parts.first() else {
        return out;
    };
    match &root.body {
        PartType::Multipart(children) => {
            out.push(info(root, 0, "0".to_owned(), 0, &related, &body_parts));
            walk(message, children, "", 1, &related, &body_parts, &mut out);
        }
        _ => out.push(info(root, 0, "1".to_owned(), 0, &related, &body_parts)),
    }
    out
}

fn walk(
    message: &Message<'_>,
    children: &[u32],
    prefix: &str,
    depth: usize,
    related: &HashSet<u32>,
    body_parts: &[u32],
    out: &mut Vec<PartInfo>,
) {
    for (n, &child) in children.iter().enumerate() {
        let Some(part) = message.parts.get(child as usize) else {
            continue;
        };
        let id = if prefix.is_empty() {
            format!("{}", n + 1)
        } else {
            format!("{prefix}.{}", n + 1)
        };
        out.push(info(
            part,
            child as usize,
            id.clone(),
            depth,
            related,
            body_parts,
        ));
        if let PartType::Multipart(grandchildren) = &part.body {
            walk(
                message,
                grandchildren,
                &id,
                depth + 1,
                related,
                body_parts,
                out,
            );
        }
    }
}

fn info(
    part: &MessagePart<'_>,
    index: usize,
    part_id: String,
    depth: usize,
    related: &HashSet<u32>,
    body_parts: &[u32],
) -> PartInfo {
    let content_type = part.content_type().map_or_else(
        || "text/plain".to_owned(),
        |ct| match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
    );
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or_default()
        .to_owned();
    let disposition = part
        .content_disposition()
        .map(|d| d.ctype().to_ascii_lowercase())
        .unwrap_or_default();
    let content_id = part
        .content_id()
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .unwrap_or_default();
    let file_name = part.attachment_name().unwrap_or_default().to_owned();
    let is_container = matches!(part.body, PartType::Multipart(_));
    let idx = index as u32;
    let kind = if is_container {
        PartKind::Container
    } else if body_parts.contains(&idx) && disposition != "attachment" && file_name.is_empty() {
        PartKind::Body
    } else if !content_id.is_empty()
        && (related.contains(&idx) || disposition == "inline")
        && disposition != "attachment"
    {
        PartKind::Inline
    } else if matches!(part.body, PartType::Text(_) | PartType::Html(_))
        && file_name.is_empty()
        && disposition != "attachment"
    {
        PartKind::Body
    } else {
        PartKind::Attachment
    };
    PartInfo {
        part_id,
        depth,
        content_type,
        charset,
        encoding: part
            .content_transfer_encoding()
            .unwrap_or("7bit")
            .to_ascii_lowercase(),
        disposition,
        file_name,
        content_id,
        size: if is_container {
            0
        } else {
            part.contents().len()
        },
        kind,
        index,
    }
}

/// A part's decoded octets by its part id.
pub fn part_content<'m>(message: &'m Message<'_>, part_id: &str) -> Option<(PartInfo, &'m [u8])> {
    let info = parts(message)
        .into_iter()
        .find(|p| p.part_id == part_id && p.kind != PartKind::Container)?;
    let content = message.parts.get(info.index)?.contents();
    Some((info, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const NESTED: &[u8] = b"Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
--m\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n\
--r\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n\
--a\r\nContent-Type: text/html\r\n\r\n<img src=\"cid:logo@x\">\r\n--a--\r\n\
--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--r--\r\n\
--m\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--m--\r\n";

    #[test]
    fn part_ids_follow_mailpit() {
        let message = MessageParser::default().parse(NESTED).expect("parses");
        let tree: Vec<_> = parts(&message)
            .into_iter()
            .map(|p| (p.part_id, p.content_type, p.kind))
            .collect();
        assert_eq!(
            tree,
            [
                ("0".into(), "multipart/mixed".into(), PartKind::Container),
                ("1".into(), "multipart/related".into(), PartKind::Container),
                (
                    "1.1".into(),
                    "multipart/alternative".into(),
                    PartKind::Container
                ),
                ("1.1.1".into(), "text/plain".into(), PartKind::Body),
                ("1.1.2".into(), "text/html".into(), PartKind::Body),
                ("1.2".into(), "image/png".into(), PartKind::Inline),
                ("2".into(), "application/pdf".into(), PartKind::Attachment),
            ]
        );
        let (info, content) = part_content(&message, "1.2").expect("the image");
        assert_eq!(info.content_id, "logo@x");
        assert_eq!(content, b"\x89PNG");
        assert!(
            part_content(&message, "1").is_none(),
            "a container has no content"
        );
        assert!(part_content(&message, "9").is_none());
    }
}
