//! The message checks, `smtp_conformance::judge_message`, on any message octets with any
//! envelope facts (DATA or BDAT, BODY=, SMTPUTF8, null sender). Input: one octet of flags
//! (bit 0 BDAT, bits 1-2 BODY=, bit 3 SMTPUTF8, bit 4 null sender), then the message.
//!
//! Proves: no panic in any message judge (RFC 5322 header fields, MIME structure, encoded
//! words, RFC 2231 parameters, line lengths), and every check gives a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_conformance::MessageInput;
use smtp_protocol::address::ForwardPath;
use smtp_protocol::params::Body;
use smtp_protocol::session::{Recipient, Transfer};

fuzz_target!(|data: &[u8]| {
    let (flags, content) = data.split_first().unwrap_or((&0, &[]));
    let recipients: Vec<Recipient> = ["<b@example.org>", "<\"q q\"@example.org>"]
        .iter()
        .filter_map(|r| ForwardPath::parse_prefix(r).ok().map(|(path, _)| path))
        .map(|forward_path| Recipient {
            forward_path,
            params: Vec::new(),
        })
        .collect();
    let report = smtp_conformance::judge_message(MessageInput {
        content,
        id: Some("FUZZ"),
        transfer: if flags & 1 != 0 {
            Transfer::Bdat
        } else {
            Transfer::Data
        },
        body: [
            None,
            Some(Body::SevenBit),
            Some(Body::EightBitMime),
            Some(Body::BinaryMime),
        ][usize::from(flags >> 1 & 3)],
        smtputf8: flags & 8 != 0,
        null_sender: flags & 16 != 0,
        recipients: &recipients,
    });
    assert!(!report.results.is_empty());
});
