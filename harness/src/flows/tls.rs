//! TLS flows on a plain port: STARTTLS taken when offered, or required (a careful client
//! stops when the server strips STARTTLS or answers 454, C-3207-REQUIRE-TLS-CONFIG).

use super::{FlowKind, FlowOutcome, Target};
use crate::client::{Client, ClientError, TlsMode};

pub async fn tls_opportunistic(target: &Target) -> FlowOutcome {
    run(target, FlowKind::TlsOpportunistic, TlsMode::Opportunistic).await
}

pub async fn tls_required(target: &Target) -> FlowOutcome {
    run(target, FlowKind::TlsRequired, TlsMode::Required).await
}

async fn run(target: &Target, flow: FlowKind, tls: TlsMode) -> FlowOutcome {
    let mut outcome = FlowOutcome::new(flow);
    let Some(mut client) = target.connect(tls, &mut outcome).await else {
        return outcome;
    };
    match steps(&mut client, target, &mut outcome).await {
        Ok(()) => {
            if let Err(error) = client.quit().await {
                outcome.step(format!("QUIT: {error}"));
            }
        }
        Err(StopReason::NoTls(error)) => {
            // Stopping here is what a client that requires TLS must do, with QUIT (RFC 3207
            // §4.1, RFC 5321 §4.1.1.10).
            outcome.step(format!("stopped before sending anything: {error}"));
            outcome.success = true;
            let _ = client.quit().await;
        }
        Err(StopReason::Failed(error)) => {
            if error.session_usable() {
                let _ = client.quit().await;
            }
        }
    }
    outcome.sessions.push(client.into_transcript());
    outcome
}

enum StopReason {
    NoTls(ClientError),
    Failed(ClientError),
}

async fn steps(
    client: &mut Client,
    target: &Target,
    outcome: &mut FlowOutcome,
) -> Result<(), StopReason> {
    if let Err(error) = client.hello().await {
        outcome.failed("EHLO", &error);
        return Err(StopReason::Failed(error));
    }
    match client.secure().await {
        Ok(()) => outcome.step(if client.is_tls() {
            "TLS: up"
        } else {
            "TLS: not offered, in the clear"
        }),
        Err(error @ (ClientError::StartTlsUnavailable | ClientError::Rejected { .. })) => {
            return Err(StopReason::NoTls(error))
        }
        Err(error) => {
            outcome.failed("STARTTLS", &error);
            return Err(StopReason::Failed(error));
        }
    }
    // With credentials, authenticate where the server offers AUTH: a submission server
    // requires it before MAIL (RFC 6409 §4.3).
    if let Some(credentials) = &target.credentials {
        if !client.offered_mechanisms().is_empty() {
            match client.authenticate(credentials, None).await {
                Ok(mechanism) => outcome.step(format!("AUTH {mechanism}: accepted")),
                Err(error) => {
                    outcome.failed("AUTH", &error);
                    return Err(StopReason::Failed(error));
                }
            }
        }
    }
    match target.send(client).await {
        Ok(delivery) => {
            outcome.step(format!(
                "delivered: {}",
                delivery.reply.to_string().trim_end()
            ));
            outcome.success = true;
            Ok(())
        }
        Err(error) => {
            outcome.failed("sending", &error);
            Err(StopReason::Failed(error))
        }
    }
}
