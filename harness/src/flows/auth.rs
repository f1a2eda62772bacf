//! AUTH three ways on implicit TLS: the best mechanism both sides have with the right
//! secret, the same with a wrong one, and a cancel (`*`) at the first challenge of LOGIN.

use smtp_protocol::sasl::{Credentials, Mechanism, Secret};

use super::{FlowKind, FlowOutcome, Target};
use crate::client::{Client, TlsMode};

pub async fn auth(target: &Target) -> FlowOutcome {
    let mut outcome = FlowOutcome::new(FlowKind::Auth);
    let Some(credentials) = target.credentials.clone() else {
        outcome.step("no credentials given");
        return outcome;
    };
    let wrong = Credentials {
        secret: match &credentials.secret {
            Secret::Password(p) => Secret::Password(format!("{p}-wrong")),
            Secret::BearerToken(t) => Secret::BearerToken(format!("{t}-wrong")),
        },
        ..credentials.clone()
    };
    let mut results = Vec::new();
    for (label, credentials) in [
        ("right secret", Some(&credentials)),
        ("wrong secret", Some(&wrong)),
        ("cancel", None),
    ] {
        let mut client =
            match Client::connect(target.address, target.client_config(TlsMode::Implicit)).await {
                Ok(client) => client,
                Err(error) => {
                    outcome.failed("connect", &error);
                    return outcome;
                }
            };
        let result = match client.hello().await {
            Err(error) => Err(error.to_string()),
            Ok(()) => match credentials {
                Some(credentials) => client
                    .authenticate(credentials, None)
                    .await
                    .map(|m| format!("{m} accepted"))
                    .map_err(|e| e.to_string()),
                None => client
                    .authenticate_and_cancel(Mechanism::Login)
                    .await
                    .map(|reply| format!("cancelled: {}", reply.to_string().trim_end()))
                    .map_err(|e| e.to_string()),
            },
        };
        let _ = client.quit().await;
        outcome.sessions.push(client.into_transcript());
        outcome.step(match &result {
            Ok(text) => format!("{label}: {text}"),
            Err(text) => format!("{label}: {text}"),
        });
        results.push(result);
    }
    // Success means: the right secret works, the wrong one does not, the cancel is answered.
    outcome.success = results[0].is_ok()
        && results[1].is_err()
        && results[2]
            .as_ref()
            .is_ok_and(|t| t.starts_with("cancelled: 501"));
    outcome
}
