//! Every message shape, rendered for every kind of server, judged by the message checks of
//! RFC 5322, 2045-2049, 2047, 2231, 6152 and 6532 (smtp-conformance): no MUST or SHOULD
//! check may fail or warn, except the ones a shape breaks on purpose (`Shape::breaks`, the
//! legacy encoded-word file names), which must then fail.

use smtp_conformance::{judge_message, MessageInput, Status};
use smtp_harness::message::{render, Offered, SHAPES};
use smtp_protocol::address::ForwardPath;
use smtp_protocol::session::{Recipient, Transfer};

const SERVERS: [(&str, Offered); 4] = [
    ("everything", Offered::ALL),
    (
        "8BITMIME and SMTPUTF8, no BINARYMIME",
        Offered {
            eight_bit_mime: true,
            binary_mime: false,
            smtputf8: true,
        },
    ),
    (
        "8BITMIME only",
        Offered {
            eight_bit_mime: true,
            binary_mime: false,
            smtputf8: false,
        },
    ),
    ("nothing", Offered::NONE),
];

#[test]
fn every_shape_passes_the_message_checks() {
    let recipient = |address: &str| Recipient {
        forward_path: ForwardPath::parse_prefix(&format!("<{address}>"))
            .expect("address")
            .0,
        params: Vec::new(),
    };
    let mut failures = Vec::new();
    for shape in SHAPES {
        for (server, offered) in SERVERS {
            let message = (shape.build)();
            if message.utf8_headers && !offered.smtputf8 {
                // The client refuses to send it (tested with the flows).
                continue;
            }
            let rendered = render(&message, offered).expect("renders");
            let content = rendered.to_vec();
            let recipients: Vec<Recipient> = match shape.envelope {
                Some((_, to)) => to.iter().map(|t| recipient(t)).collect(),
                None => vec![recipient("recipient@test.example")],
            };
            let report = judge_message(MessageInput {
                content: &content,
                id: None,
                transfer: if offered.binary_mime {
                    Transfer::Bdat
                } else {
                    Transfer::Data
                },
                body: rendered.body,
                smtputf8: rendered.smtputf8,
                null_sender: false,
                recipients: &recipients,
            });
            for result in &report.results {
                let on_purpose = shape.breaks.contains(&result.id);
                let bad = matches!(result.status, Status::Fail | Status::Warn);
                if bad != on_purpose {
                    failures.push(format!(
                        "{} for a server offering {server}: {} {:?} ({})",
                        shape.name,
                        result.id,
                        result.status,
                        result
                            .evidence
                            .first()
                            .map(|e| e.detail.to_string())
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
