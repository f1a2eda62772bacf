//! Message submission (RFC 6409): port 587 with STARTTLS, or port 465 with implicit TLS
//! (RFC 8314), then AUTH, then one message.

use super::{FlowKind, FlowOutcome, Target};
use crate::client::{Client, ClientError, TlsMode};

pub async fn submission(target: &Target) -> FlowOutcome {
    run(target, FlowKind::Submission, TlsMode::Required).await
}

pub async fn submission_implicit(target: &Target) -> FlowOutcome {
    run(target, FlowKind::SubmissionImplicit, TlsMode::Implicit).await
}

async fn run(target: &Target, flow: FlowKind, tls: TlsMode) -> FlowOutcome {
    let mut outcome = FlowOutcome::new(flow);
    let Some(mut client) = target.connect(tls, &mut outcome).await else {
        return outcome;
    };
    match steps(&mut client, target, &mut outcome).await {
        Ok(()) => {
            if let Err(error) = client.quit().await {
                // The message is delivered; a garbled QUIT reply is worth noting, not a failure.
                outcome.step(format!("QUIT: {error}"));
            }
        }
        // The session still works after a refusal or a stop by the client's own rules: it
        // ends with QUIT (RFC 5321 §4.1.1.10), not a dropped connection.
        Err(error) if error.session_usable() => {
            let _ = client.quit().await;
        }
        Err(_) => {}
    }
    outcome.sessions.push(client.into_transcript());
    outcome
}

/// The flow's steps; the error that stopped them (already in the outcome).
async fn steps(
    client: &mut Client,
    target: &Target,
    outcome: &mut FlowOutcome,
) -> Result<(), ClientError> {
    if let Err(error) = client.hello().await {
        outcome.failed("EHLO", &error);
        return Err(error);
    }
    if let Err(error) = client.secure().await {
        outcome.failed("STARTTLS", &error);
        return Err(error);
    }
    if client.is_tls() {
        outcome.step("TLS: up");
    }
    if let Some(credentials) = &target.credentials {
        match client.authenticate(credentials, None).await {
            Ok(mechanism) => outcome.step(format!("AUTH {mechanism}: accepted")),
            Err(error) => {
                outcome.failed("AUTH", &error);
                return Err(error);
            }
        }
    }
    match target.send(client).await {
        Ok(delivery) => {
            for (recipient, reply) in &delivery.refused {
                outcome.step(format!(
                    "refused {recipient}: {}",
                    reply.to_string().trim_end()
                ));
            }
            outcome.step(format!(
                "delivered: {}",
                delivery.reply.to_string().trim_end()
            ));
            outcome.success = true;
            Ok(())
        }
        Err(error) => {
            outcome.failed("sending", &error);
            Err(error)
        }
    }
}
