//! AUTH with every mechanism both sides have, on implicit TLS: for each, the right secret,
//! a wrong one, and a cancel (`*`) at the first challenge. Password mechanisms use the
//! target's password, XOAUTH2 and OAUTHBEARER its bearer token; a mechanism without a
//! matching secret is skipped and said so.

use smtp_protocol::sasl::{Credentials, Mechanism, Secret};

use super::{FlowKind, FlowOutcome, Target};
use crate::client::{Client, TlsMode};

pub async fn auth(target: &Target) -> FlowOutcome {
    let mut outcome = FlowOutcome::new(FlowKind::Auth);
    let offered = match offered_mechanisms(target, &mut outcome).await {
        Some(offered) => offered,
        None => return outcome,
    };
    if offered.is_empty() {
        outcome.step("no AUTH mechanism offered");
        return outcome;
    }
    let mut all_good = true;
    for mechanism in offered {
        let credentials = match (
            mechanism.uses_password(),
            &target.credentials,
            &target.bearer,
        ) {
            (true, Some(c), _) => c.clone(),
            (false, _, Some(c)) => c.clone(),
            _ => {
                outcome.step(format!("{mechanism}: skipped (no matching secret given)"));
                continue;
            }
        };
        let right = session(target, &mut outcome, mechanism, Some(&credentials)).await;
        let wrong = session(
            target,
            &mut outcome,
            mechanism,
            Some(&wrong_secret(&credentials)),
        )
        .await;
        let cancel = session(target, &mut outcome, mechanism, None).await;
        outcome.step(format!("{mechanism}: right secret: {}", text(&right)));
        outcome.step(format!("{mechanism}: wrong secret: {}", text(&wrong)));
        outcome.step(format!("{mechanism}: cancel: {}", text(&cancel)));
        // As it should be: the right secret works, a wrong one does not, a cancel gets 501.
        all_good &=
            right.is_ok() && wrong.is_err() && cancel.as_ref().is_ok_and(|t| t.starts_with("501"));
    }
    outcome.success = all_good;
    outcome
}

fn text(result: &Result<String, String>) -> &str {
    match result {
        Ok(text) | Err(text) => text,
    }
}

fn wrong_secret(credentials: &Credentials) -> Credentials {
    Credentials {
        secret: match &credentials.secret {
            Secret::Password(p) => Secret::Password(format!("{p}-wrong")),
            Secret::BearerToken(t) => Secret::BearerToken(format!("{t}-wrong")),
        },
        ..credentials.clone()
    }
}

/// The implemented mechanisms the server offers, in its order (one session to ask).
async fn offered_mechanisms(target: &Target, outcome: &mut FlowOutcome) -> Option<Vec<Mechanism>> {
    let mut client = target.connect(TlsMode::Implicit, outcome).await?;
    let result = client.hello().await;
    let offered = client.offered_mechanisms();
    let _ = client.quit().await;
    outcome.sessions.push(client.into_transcript());
    if let Err(error) = result {
        outcome.failed("EHLO", &error);
        return None;
    }
    Some(offered)
}

/// One AUTH attempt (`None`: cancel at the first challenge) in its own session.
async fn session(
    target: &Target,
    outcome: &mut FlowOutcome,
    mechanism: Mechanism,
    credentials: Option<&Credentials>,
) -> Result<String, String> {
    let mut client = Client::connect(target.address, target.client_config(TlsMode::Implicit))
        .await
        .map_err(|e| e.to_string())?;
    let result = match client.hello().await {
        Err(error) => Err(error.to_string()),
        Ok(()) => match credentials {
            Some(credentials) => client
                .authenticate(credentials, Some(mechanism))
                .await
                .map(|_| "accepted".to_owned())
                .map_err(|e| e.to_string()),
            None => client
                .authenticate_and_cancel(mechanism)
                .await
                .map(|reply| reply.to_string().trim_end().to_owned())
                .map_err(|e| e.to_string()),
        },
    };
    let _ = client.quit().await;
    outcome.sessions.push(client.into_transcript());
    result
}
