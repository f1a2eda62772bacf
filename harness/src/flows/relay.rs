//! Relay (port 25 style) delivery to a domain's mail exchangers, in preference order
//! (RFC 5321 §5.1): no AUTH, STARTTLS when offered, the next address or MX on a connection
//! failure or a transient (4xx) refusal, and a stop on a permanent (5xx) one.

use std::net::IpAddr;

use super::{FlowKind, FlowOutcome, Target};
use crate::client::{Client, ClientError, TlsMode};
use crate::dns::{resolve_mail_targets, MxError, TargetKind, TokioResolver};

/// Resolves the first recipient's domain with `resolver` (RFC 5321 §5.1: MX records in
/// preference order, the domain itself when it has none, no mail at all for a null MX, RFC
/// 7505), then delivers as [`relay`] does, on `target.address`'s port.
pub async fn relay_to_domain(target: &Target, resolver: &TokioResolver) -> FlowOutcome {
    let domain = target
        .envelope
        .to
        .first()
        .and_then(|to| to.rsplit_once('@'))
        .map(|(_, domain)| domain.to_owned())
        .unwrap_or_default();
    let targets = match resolve_mail_targets(resolver, &domain).await {
        Ok(targets) => targets,
        Err(error) => {
            let mut outcome = FlowOutcome::new(FlowKind::Relay);
            match error {
                // Not sending is what a careful client does for a domain that takes no mail.
                MxError::NullMx { .. } => {
                    outcome.step(format!(
                        "{domain}: null MX (RFC 7505): the domain accepts no mail; not sent (556 5.1.10)"
                    ));
                    outcome.success = true;
                }
                error if error.is_transient() => {
                    outcome.step(format!("{domain}: {error}; the message stays queued"));
                }
                error => outcome.step(format!("{domain}: {error}; permanent, not sent")),
            }
            return outcome;
        }
    };
    let mut lines = Vec::new();
    let exchangers: Vec<RelayTarget> = targets
        .into_iter()
        .map(|t| {
            let kind = match t.kind {
                TargetKind::Mx => "MX",
                TargetKind::ImplicitMx => "implicit MX (no MX records: the domain itself)",
                TargetKind::AddressLiteral => "address literal",
            };
            let addresses: Vec<String> = t.addresses.iter().map(ToString::to_string).collect();
            let mut line = format!(
                "{kind} {} ({}): [{}]",
                t.exchange,
                t.preference,
                addresses.join(", ")
            );
            if let Some(error) = &t.address_error {
                line.push_str(&format!(" (address lookup failed: {error})"));
            }
            lines.push(line);
            RelayTarget {
                exchange: t.exchange,
                preference: t.preference,
                addresses: t.addresses,
            }
        })
        .collect();
    let mut outcome = relay(target, &exchangers).await;
    lines.append(&mut outcome.summary);
    outcome.summary = lines;
    outcome
}

/// One mail exchanger and its addresses, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayTarget {
    pub exchange: String,
    pub preference: u16,
    pub addresses: Vec<IpAddr>,
}

/// Delivers to the exchangers in order, on `target.address`'s port.
pub async fn relay(target: &Target, exchangers: &[RelayTarget]) -> FlowOutcome {
    let mut outcome = FlowOutcome::new(FlowKind::Relay);
    let port = target.address.port();
    if exchangers.is_empty() {
        outcome.step("no mail exchanger to try");
        return outcome;
    }
    for mx in exchangers {
        if mx.addresses.is_empty() {
            outcome.step(format!(
                "MX {} ({}): no address",
                mx.exchange, mx.preference
            ));
            continue;
        }
        for ip in &mx.addresses {
            let address = std::net::SocketAddr::new(*ip, port);
            let label = format!("MX {} ({}) at {ip}", mx.exchange, mx.preference);
            let mut config = target.client_config(TlsMode::Opportunistic);
            config.server_name = config.server_name.or_else(|| Some(mx.exchange.clone()));
            let result = attempt(address, config, target).await;
            let (verdict, transcript) = match result {
                (Ok(reply), transcript) => {
                    outcome.step(format!("{label}: delivered: {reply}"));
                    outcome.success = true;
                    outcome.sessions.extend(transcript);
                    return outcome;
                }
                (Err(error), transcript) => (error, transcript),
            };
            outcome.sessions.extend(transcript);
            if verdict.is_transient() {
                outcome.step(format!("{label}: {verdict}; trying the next"));
                continue;
            }
            outcome.step(format!("{label}: {verdict}; permanent, giving up"));
            return outcome;
        }
    }
    outcome.step("every exchanger failed transiently: the message stays queued");
    outcome
}

async fn attempt(
    address: std::net::SocketAddr,
    config: crate::client::ClientConfig,
    target: &Target,
) -> (
    Result<String, ClientError>,
    Option<smtp_protocol::Transcript>,
) {
    let mut client = match Client::connect(address, config).await {
        Ok(client) => client,
        Err(error) => return (Err(error), None),
    };
    let result = async {
        client.hello().await?;
        client.secure().await?;
        let delivery = target.send(&mut client).await?;
        Ok(delivery.reply.to_string().trim_end().to_owned())
    }
    .await;
    let usable = match &result {
        Ok(_) => true,
        Err(error) => ClientError::session_usable(error),
    };
    if usable {
        let _ = client.quit().await;
    }
    (result, Some(client.into_transcript()))
}
