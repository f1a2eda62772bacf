//! Checks of section A.1 (RFC 5321, the client side): session opening, EHLO/HELO, command
//! syntax and line discipline, transaction order and reply handling, RSET/QUIT, DATA content.

use smtp_protocol::command::Command;

use crate::check::{Finding, Outcome};
use crate::judges::{Judge, Run};
use crate::model::SessionModel;

/// The judges of this section.
pub static JUDGES: &[Judge] = &[Judge {
    id: "C-5321-EHLO-BEFORE-MAIL",
    looks_at:
        "every MAIL: an EHLO or HELO must have been accepted since the session (or TLS) began",
    example: "MAIL FROM:<a@example.com> as the first command",
    run: Run::Session(ehlo_before_mail),
}];

/// RFC 5321 §4.1.1.1, §4.1.4: no MAIL before an accepted EHLO or HELO in the current
/// protocol state (a TLS handshake resets it, RFC 3207 §4.2).
fn ehlo_before_mail(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut mails = 0;
    for (unit, _) in model.commands() {
        if !matches!(unit.parsed(), Some(Command::Mail { .. })) {
            continue;
        }
        mails += 1;
        if unit.state.hello.is_none() {
            let detail = if unit.state.tls {
                "MAIL after the TLS handshake without a new EHLO"
            } else {
                "MAIL before any accepted EHLO or HELO"
            };
            findings.push(Finding::at_entry(unit.entry, unit.evidence(), detail));
        }
    }
    Outcome::judged(mails > 0, "the client sent no MAIL command", findings)
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn ehlo_before_mail() {
        let id = "C-5321-EHLO-BEFORE-MAIL";
        pass(
            id,
            &simple_session(&[], "", "Subject: x\\r\\n\\r\\nhi\\r\\n"),
        );
        fail(
            id,
            "S: 220 mx\nC: MAIL FROM:<a@b.example>\nS: 503 5.5.1 EHLO first",
        );
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 STARTTLS\nC: STARTTLS\nS: 220 go\n** TLS\n\
             C: MAIL FROM:<a@b.example>\nS: 503 5.5.1 EHLO first",
        );
        // A refused EHLO does not count.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 550 no\nC: MAIL FROM:<a@b.example>\nS: 503 no",
        );
        not_applicable(
            id,
            "S: 220 mx\nC: EHLO c.example\nS: 250 mx\nC: QUIT\nS: 221 bye",
        );
    }
}
