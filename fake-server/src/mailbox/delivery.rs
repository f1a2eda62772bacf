//! The copy of a message a mail reader reads from the Maildir's `new/`, written the way a
//! local delivery agent (Postfix's local(8), Dovecot's LDA) writes one:
//!
//! - `Return-Path: <sender>` first (RFC 5321 §4.4: added at final delivery, `<>` for the
//!   null sender);
//! - one `X-Original-To: recipient` line per envelope recipient, in RCPT order, so that Bcc
//!   recipients (in no header) are visible. One file holds all of them: the sink is one
//!   mailbox, one message is one file (as in the API and the events), and its raw copy and
//!   transcript pair with it one to one. `X-Original-To` (Postfix's name for the recipient
//!   as the client gave it) rather than `Delivered-To`: an MTA that finds its own recipient in
//!   `Delivered-To` bounces the message as a mail loop, which would bite anyone who re-sends a
//!   captured file;
//! - the trace header (`Received:`), then the content;
//! - LF line ends: a Maildir file is a Unix text file, and readers such as s-nail warn about
//!   every header line that ends in CR ("Not a header line").
//!
//! The octets exactly as received are kept beside it, in `raw/<queue id>.eml`.

use std::io::Write;

use smtp_protocol::address::{ForwardPath, ReversePath};
use smtp_protocol::session::Transaction;

/// `Return-Path:` and one `X-Original-To:` per envelope recipient, with CRLF line ends (like
/// the trace header: [`write_lf`] turns both into the Maildir's LF).
pub fn envelope_header(envelope: &Transaction) -> String {
    let mut header = format!("Return-Path: {}\r\n", return_path(&envelope.reverse_path));
    for recipient in &envelope.recipients {
        header.push_str("X-Original-To: ");
        header.push_str(&recipient_address(&recipient.forward_path));
        header.push_str("\r\n");
    }
    header
}

/// The reverse path without a source route (RFC 5321 §4.4 asks for the mailbox only).
fn return_path(path: &ReversePath) -> String {
    match path.mailbox() {
        Some(mailbox) => format!("<{mailbox}>"),
        None => "<>".to_owned(),
    }
}

/// The recipient's mailbox without angle brackets or source route, as Postfix writes it.
fn recipient_address(path: &ForwardPath) -> String {
    match path {
        ForwardPath::Postmaster(name) => name.clone(),
        ForwardPath::Path(path) => path.mailbox.to_string(),
    }
}

/// Writes `text` with every CRLF turned into LF. A bare LF stays as it is, and so does a CR
/// not followed by LF: that is content, and the raw copy shows what the client sent anyway.
pub fn write_lf(out: &mut dyn Write, text: &[u8]) -> std::io::Result<()> {
    let mut rest = text;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        out.write_all(line.strip_suffix(b"\r").unwrap_or(line))?;
        out.write_all(b"\n")?;
        rest = &rest[end + 1..];
    }
    out.write_all(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_lf(&mut out, text).expect("write to a Vec");
        out
    }

    #[test]
    fn crlf_becomes_lf_and_nothing_else_changes() {
        assert_eq!(lf(b"a\r\nb\r\n"), b"a\nb\n");
        assert_eq!(lf(b"bare\nlf\r\n"), b"bare\nlf\n");
        assert_eq!(lf(b"bare\rcr\r\r\n"), b"bare\rcr\r\n");
        assert_eq!(lf(b"no end"), b"no end");
        assert_eq!(lf(b""), b"");
    }
}
