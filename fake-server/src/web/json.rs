//! JSON written by hand for the one document the web sink writes for every message: the
//! events WebSocket's `new` frame. serde_json escapes a string octet by octet, field names
//! included (about 9,000 instructions a frame under ci/bench.sh row C's load, a tenth of the
//! after-reply thread's work, measured with callgrind); here a string is checked for octets
//! to escape with a loop the compiler vectorises and, nearly always, copied whole.
//!
//! The output is serde_json's, octet for octet: a property test holds the two together, so
//! that the frame keeps the shape `MessageSummary`'s `Serialize` gives lists and searches.

use super::entry::Contact;
use super::index::CheckCounts;
use super::mailpit::MessageSummary;

/// `{"Type":"new","Data":<summary>}`, as `event_frame("new", summary)` writes it.
pub fn new_message_frame(summary: &MessageSummary<'_>) -> String {
    let mut out = String::with_capacity(512 + summary.snippet.len());
    out.push_str(r#"{"Type":"new","Data":"#);
    push_summary(&mut out, summary);
    out.push('}');
    out
}

/// The summary's fields in their declaration order, as serde's derive writes them.
fn push_summary(out: &mut String, s: &MessageSummary<'_>) {
    let mut number = itoa::Buffer::new();
    out.push_str(r#"{"ID":"#);
    push_string(out, s.id);
    out.push_str(r#","MessageID":"#);
    push_string(out, s.message_id);
    out.push_str(if s.read {
        r#","Read":true"#
    } else {
        r#","Read":false"#
    });
    out.push_str(r#","From":"#);
    push_contact(out, &s.from);
    out.push_str(r#","To":"#);
    push_contacts(out, s.to);
    out.push_str(r#","Cc":"#);
    push_contacts(out, s.cc);
    out.push_str(r#","Bcc":"#);
    push_contacts(out, s.bcc);
    out.push_str(r#","ReplyTo":"#);
    push_contacts(out, s.reply_to);
    out.push_str(r#","Subject":"#);
    push_string(out, s.subject);
    out.push_str(r#","Created":"#);
    push_string(out, &s.created);
    out.push_str(r#","Username":"#);
    push_string(out, s.username);
    out.push_str(r#","Tags":["#);
    for (i, tag) in s.tags.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, tag);
    }
    out.push_str(r#"],"Size":"#);
    out.push_str(number.format(s.size));
    out.push_str(r#","Attachments":"#);
    out.push_str(number.format(s.attachments));
    out.push_str(r#","Snippet":"#);
    push_string(out, s.snippet);
    if let Some(CheckCounts { fail, warn }) = s.checks {
        out.push_str(r#","Checks":{"fail":"#);
        out.push_str(number.format(fail));
        out.push_str(r#","warn":"#);
        out.push_str(number.format(warn));
        out.push('}');
    }
    out.push('}');
}

fn push_contact(out: &mut String, contact: &Contact) {
    out.push_str(r#"{"Name":"#);
    push_string(out, &contact.name);
    out.push_str(r#","Address":"#);
    push_string(out, &contact.address);
    out.push('}');
}

fn push_contacts(out: &mut String, contacts: &[Contact]) {
    out.push('[');
    for (i, contact) in contacts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_contact(out, contact);
    }
    out.push(']');
}

/// Whether JSON needs `octet` escaped: a control character, `"` or `\` (RFC 8259 §7).
fn needs_escape(octet: u8) -> bool {
    octet < 0x20 || octet == b'"' || octet == b'\\'
}

/// `text` as a JSON string, escaped as serde_json escapes it: the short forms for `"`, `\`,
/// backspace, form feed, line feed, carriage return and tab, `\u00xx` (lower-case hex) for
/// the other control characters, everything else as it is.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    // No early exit: the compiler vectorises this fold; a string rarely needs escaping.
    let any = text
        .bytes()
        .fold(false, |any, octet| any | needs_escape(octet));
    if !any {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, octet) in text.bytes().enumerate() {
        if !needs_escape(octet) {
            continue;
        }
        // `i` is at an ASCII octet: a character boundary.
        out.push_str(&text[start..i]);
        match octet {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0C => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                out.push_str("\\u00");
                crate::text::push_hex(out, u64::from(control), 2, false);
            }
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::mailpit::event_frame;
    use proptest::prelude::*;

    fn json_of(text: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, text);
        out
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "",
            "plain",
            "quote \" and backslash \\",
            "\u{0}\u{1}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}",
            "Grüße 张三 🦀",
        ] {
            let serde = serde_json::to_string(text).expect("a string serialises");
            assert_eq!(json_of(text), serde, "{text:?}");
        }
        assert_eq!(json_of("a\u{1}b"), r#""a\u0001b""#);
    }

    fn contact() -> impl Strategy<Value = Contact> {
        (any::<String>(), any::<String>()).prop_map(|(name, address)| Contact { name, address })
    }

    proptest! {
        #[test]
        fn the_new_frame_is_serde_jsons(
            strings in proptest::collection::vec(any::<String>(), 6),
            from in contact(),
            to in proptest::collection::vec(contact(), 0..3),
            cc in proptest::collection::vec(contact(), 0..2),
            tags in proptest::collection::vec(any::<String>(), 0..3),
            read in any::<bool>(),
            size in any::<u64>(),
            attachments in any::<u32>(),
            checks in proptest::option::of((any::<u32>(), any::<u32>())),
        ) {
            let summary = MessageSummary {
                id: &strings[0],
                message_id: &strings[1],
                read,
                from,
                to: &to,
                cc: &cc,
                bcc: &to,
                reply_to: &cc,
                subject: &strings[2],
                created: strings[3].clone(),
                username: &strings[4],
                tags: &tags,
                size,
                attachments,
                snippet: &strings[5],
                checks: checks.map(|(fail, warn)| CheckCounts { fail, warn }),
            };
            prop_assert_eq!(new_message_frame(&summary), event_frame("new", &summary));
        }
    }
}
