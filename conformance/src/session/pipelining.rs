//! Checks of section A.7 (RFC 2920 PIPELINING, the client side): pipelining only when
//! advertised, the commands that must end a group, and the statuses a pipelining client
//! must still check.

use smtp_protocol::command::Command;
use smtp_protocol::session::Transfer;

use crate::check::{Finding, Outcome};
use crate::model::{SessionModel, Unit, UnitKind};

/// Whether the EHLO reply in force when `unit` arrived advertised PIPELINING.
fn offers_pipelining(unit: &Unit) -> bool {
    unit.state.hello.offers("PIPELINING")
}

/// Whether the client knew that PIPELINING was offered when it sent unit `index` early: the
/// EHLO reply that advertised it had arrived before the unit before it was sent. (A unit sent
/// before the reply to EHLO is sent before the client can know what EHLO offers.)
fn pipelining_known(model: &SessionModel<'_>, index: usize) -> bool {
    let previous_knew = index
        .checked_sub(1)
        .and_then(|p| model.units.get(p))
        .is_some_and(offers_pipelining);
    previous_knew && model.units.get(index).is_some_and(offers_pipelining)
}

/// The command units sent before the server had answered the unit before them. The first
/// unit is left out (sent before the greeting: C-5321-GREETING-WAIT), and so is content: a
/// BDAT chunk always follows its line, and DATA content sent before the 354 is
/// C-5321-NO-DATA-WITHOUT-354's business. The first unit after a TLS handshake is left out too
/// (plaintext sent early after STARTTLS is C-3207-LAST-IN-GROUP's).
fn pipelined_lines<'m>(model: &'m SessionModel<'_>) -> impl Iterator<Item = &'m Unit> + 'm {
    model
        .units
        .iter()
        .skip(1)
        .filter(|u| u.pipelined && u.content().is_none() && !u.state.tls_fresh)
}

/// RFC 5321 §4.3.1 ("the sender MUST wait for this response before sending further
/// commands") unless RFC 2920 §3.1 applies: the client has confirmed PIPELINING first.
pub fn only_if_advertised(model: &SessionModel<'_>) -> Outcome {
    let applicable = model
        .units
        .iter()
        .skip(1)
        .any(|u| u.content().is_none() && !offers_pipelining(u));
    let findings = pipelined_lines(model)
        .filter(|u| !pipelining_known(model, u.index))
        .map(|u| {
            let after_ehlo = u
                .index
                .checked_sub(1)
                .and_then(|p| model.units.get(p))
                .is_some_and(|p| p.verb() == "EHLO");
            let detail = if after_ehlo {
                "sent before the reply to EHLO: the client could not yet know whether the \
                 server offers PIPELINING"
            } else {
                "sent before the server had answered the previous command, and the server had \
                 not advertised PIPELINING"
            };
            Finding::at_entry(u.entry, u.evidence(), detail)
        })
        .collect();
    super::extensions::judged(
        applicable || pipelining_seen(model),
        "the server advertised PIPELINING for every command the client sent",
        findings,
    )
}

/// Whether any unit was sent early (findings make the outcome anyway; this keeps a session
/// with only early units applicable).
fn pipelining_seen(model: &SessionModel<'_>) -> bool {
    pipelined_lines(model).next().is_some()
}

/// Verbs that can only be the last command of a group: RFC 2920 §3.1 (EHLO, DATA, VRFY,
/// EXPN, TURN, QUIT, NOOP) and the extension commands no RFC allows to be pipelined
/// (STARTTLS, RFC 3207 §4; AUTH, RFC 4954 §4; ETRN and ATRN).
const GROUP_ENDERS: [&str; 11] = [
    "EHLO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP", "STARTTLS", "AUTH", "ETRN", "ATRN",
];

/// Why nothing may follow `unit` before its reply, if so.
fn must_end_group(unit: &Unit) -> Option<String> {
    match &unit.kind {
        UnitKind::Command(command) => {
            if !GROUP_ENDERS.contains(&command.verb.as_str()) {
                return None;
            }
            // RFC 4954 §4: AUTH with an initial response for a mechanism that completes in one
            // round trip (PLAIN, EXTERNAL) may be pipelined.
            if let Ok(Command::Auth {
                mechanism,
                initial_response: Some(_),
            }) = &command.parsed
            {
                if mechanism.eq_ignore_ascii_case("PLAIN")
                    || mechanism.eq_ignore_ascii_case("EXTERNAL")
                {
                    return None;
                }
            }
            Some(format!(
                "sent before the reply to {}, which must be the last command of a group",
                command.verb
            ))
        }
        UnitKind::Sasl(sasl) => Some(format!(
            "sent before the reply to a response of the AUTH {} exchange, which must end a group",
            sasl.mechanism
        )),
        // RFC 2920 §3.1: message content may start a group, so a command may follow it.
        UnitKind::Content(_) => None,
    }
}

/// RFC 2920 §3.1: "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear
/// as the last command in a group", and so can extension commands unless their RFC says
/// otherwise. Judged where the client knew PIPELINING was offered (otherwise every early
/// command is C-2920-ONLY-IF-ADVERTISED's).
pub fn last_in_group(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in pipelined_lines(model).filter(|u| pipelining_known(model, u.index)) {
        applicable = true;
        let previous = unit.index.checked_sub(1).and_then(|p| model.units.get(p));
        if let Some(detail) = previous.and_then(must_end_group) {
            findings.push(Finding::at_entry(unit.entry, unit.evidence(), detail));
        }
    }
    super::extensions::judged(
        applicable,
        "the client did not pipeline any command while PIPELINING was advertised",
        findings,
    )
}

/// Why the transaction a DATA unit belongs to has nobody to deliver to, if so.
fn nobody_accepted(unit: &Unit) -> Option<&'static str> {
    match &unit.state.transaction {
        None => Some("the MAIL command was not accepted"),
        Some(t) if t.accepted == 0 => Some("no RCPT was accepted"),
        Some(_) => None,
    }
}

/// RFC 2920 §3.1: "if the DATA command was accepted the client SMTP should send a single
/// dot" when no recipient was accepted; the client "MUST check ALL statuses".
pub fn check_all_statuses(model: &SessionModel<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut applicable = false;
    for unit in &model.units {
        if !matches!(unit.parsed(), Some(Command::Data)) || unit.reply_code() != Some(354) {
            continue;
        }
        let Some(why) = nobody_accepted(unit) else {
            continue;
        };
        applicable = true;
        let Some(next) = model.next(unit.index) else {
            continue;
        };
        let Some(content) = next.content() else {
            continue;
        };
        if content.transfer == Transfer::Data && content.octets > 0 {
            findings.push(Finding::at_entry(
                next.entry,
                next.evidence(),
                format!(
                    "the client sent its message after DATA was answered 354 although {why}: \
                     only the lone dot (an empty message) may follow"
                ),
            ));
        }
    }
    super::extensions::judged(
        applicable,
        "no DATA was answered 354 in a transaction without an accepted MAIL and RCPT",
        findings,
    )
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    const EHLO_PIPELINING: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 PIPELINING\n";
    const EHLO_PLAIN: &str = "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 SIZE 1000\n";

    fn session(ehlo: &str, rest: &str) -> String {
        format!("{ehlo}{rest}\nC: QUIT\nS: 221 bye\n** closed quit")
    }

    #[test]
    fn only_if_advertised() {
        let id = "C-2920-ONLY-IF-ADVERTISED";
        let group = "C: MAIL FROM:<a@b.example>\nC+: RCPT TO:<c@d.example>\nS: 250 ok\nS: 250 ok\n\
                     C+: DATA\nS: 354 go\nD: x\\r\\n\nS: 250 ok";
        // Waiting for every reply.
        pass(id, &simple_session(&["SIZE 1000"], "", "x\\r\\n"));
        fail(id, &session(EHLO_PLAIN, group));
        pass(
            id,
            &session(EHLO_PIPELINING, group).replace("C+: DATA", "C: DATA"),
        );
        // After HELO nothing is advertised.
        fail(
            id,
            "S: 220 mx\nC: HELO c.example\nS: 250 mx\nC: MAIL FROM:<a@b.example>\n\
             C+: RCPT TO:<c@d.example>\nS: 250 ok\nS: 250 ok",
        );
        // Pipelined right after EHLO: the client could not know yet.
        fail(
            id,
            "S: 220 mx\nC: EHLO c.example\nC+: MAIL FROM:<a@b.example>\nS: 250-mx\n\
             S: 250 PIPELINING\nS: 250 ok",
        );
        // A command right after the content's dot, without PIPELINING.
        fail(
            id,
            &format!(
                "{EHLO_PLAIN}C: MAIL FROM:<a@b.example>\nS: 250 ok\nC: RCPT TO:<c@d.example>\n\
                 S: 250 ok\nC: DATA\nS: 354 go\nD: x\\r\\n\nC+: QUIT\nS: 250 ok\nS: 221 bye"
            ),
        );
        // A BDAT chunk follows its line: not pipelining.
        pass(
            id,
            &session(
                "S: 220 mx\nC: EHLO c.example\nS: 250-mx\nS: 250 CHUNKING\n",
                "C: MAIL FROM:<a@b.example>\nS: 250 ok\nC: RCPT TO:<c@d.example>\nS: 250 ok\n\
                 C: BDAT 3 LAST\nB: x\\r\\n\nS: 250 ok",
            ),
        );
        pass(id, &session(EHLO_PIPELINING, group));
        not_applicable(id, &simple_session(&["PIPELINING"], "", "x\\r\\n"));
    }

    #[test]
    fn last_in_group() {
        let id = "C-2920-LAST-IN-GROUP";
        pass(
            id,
            &session(
                EHLO_PIPELINING,
                "C: MAIL FROM:<a@b.example>\nC+: RCPT TO:<c@d.example>\nC+: DATA\nS: 250 ok\n\
                 S: 250 ok\nS: 354 go\nD: x\\r\\n\nC+: MAIL FROM:<a@b.example>\nS: 250 ok\nS: 250 ok\n\
                 C: RSET\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session(
                EHLO_PIPELINING,
                "C: NOOP\nC+: MAIL FROM:<a@b.example>\nS: 250 ok\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session(
                EHLO_PIPELINING,
                "C: RSET\nC+: EHLO c.example\nC+: MAIL FROM:<a@b.example>\nS: 250 ok\n\
                 S: 250-mx\nS: 250 PIPELINING\nS: 250 ok",
            ),
        );
        fail(
            id,
            &session(
                EHLO_PIPELINING,
                "C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC+: dXNlcg==\nS: 334 UGFzc3dvcmQ6\n\
                 C: cGFzcw==\nS: 235 ok",
            ),
        );
        // AUTH PLAIN with an initial response may be followed (RFC 4954 §4).
        pass(
            id,
            &session(
                EHLO_PIPELINING,
                "C: AUTH PLAIN AGEAYg==\nC+: MAIL FROM:<a@b.example>\nS: 235 ok\nS: 250 ok",
            ),
        );
        not_applicable(id, &simple_session(&["PIPELINING"], "", "x\\r\\n"));
    }

    #[test]
    fn check_all_statuses() {
        let id = "C-2920-CHECK-ALL-STATUSES";
        let refused = "C: MAIL FROM:<a@b.example>\nC+: RCPT TO:<c@d.example>\nC+: DATA\n\
                       S: 250 ok\nS: 550 no such user\nS: 354 go\n";
        pass(
            id,
            &session(
                EHLO_PIPELINING,
                &format!("{refused}D: \nS: 554 no valid recipients"),
            ),
        );
        fail(
            id,
            &session(
                EHLO_PIPELINING,
                &format!("{refused}D: Subject: x\\r\\n\\r\\nhi\\r\\n\nS: 554 no valid recipients"),
            ),
        );
        // MAIL refused, DATA still answered 354.
        fail(
            id,
            &session(
                EHLO_PIPELINING,
                "C: MAIL FROM:<a@b.example>\nC+: RCPT TO:<c@d.example>\nC+: DATA\nS: 550 no\n\
                 S: 503 no\nS: 354 go\nD: hi\\r\\n\nS: 554 no",
            ),
        );
        not_applicable(id, &simple_session(&["PIPELINING"], "", "x\\r\\n"));
    }
}
