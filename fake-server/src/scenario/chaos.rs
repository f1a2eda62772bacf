//! Chaos, as Mailpit names it: MAIL, RCPT or AUTH fail at random with a chosen code and
//! probability, set at run time (the web API's `PUT /api/v1/chaos`) and applied from the
//! next session on, over whatever scenario the listener plays. It is the scenario rule
//!
//! ```yaml
//! on:
//!   mail:
//!     - when: { probability: 0.1 }
//!       reply: "451 4.3.0 Chaos: sender refused"
//! ```
//!
//! for each trigger, without a restart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use smtp_protocol::command::Command;
use smtp_protocol::reply::{EnhancedCode, Reply};
use smtp_protocol::session::{DecisionPoint, Policy, Response, SessionView};

use super::rng::SplitMix64;

/// One trigger: the reply code, and the chance in percent (0 to 100) that it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trigger {
    #[serde(default)]
    pub error_code: u16,
    #[serde(default)]
    pub probability: u8,
}

/// Mailpit's three triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Triggers {
    pub sender: Trigger,
    pub recipient: Trigger,
    pub authentication: Trigger,
}

impl Default for Triggers {
    /// Mailpit's defaults: 451, 451 and 535, never firing.
    fn default() -> Triggers {
        Triggers {
            sender: Trigger {
                error_code: 451,
                probability: 0,
            },
            recipient: Trigger {
                error_code: 451,
                probability: 0,
            },
            authentication: Trigger {
                error_code: 535,
                probability: 0,
            },
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChaosError {
    #[error("error code must be between 400 and 599")]
    Code,
    #[error("probability must be between 0 and 100")]
    Probability,
}

impl Trigger {
    /// An unset code takes the trigger's default, as Mailpit does.
    fn checked(self, default_code: u16) -> Result<Trigger, ChaosError> {
        let error_code = if self.error_code == 0 {
            default_code
        } else {
            self.error_code
        };
        if !(400..=599).contains(&error_code) {
            return Err(ChaosError::Code);
        }
        if self.probability > 100 {
            return Err(ChaosError::Probability);
        }
        Ok(Trigger {
            error_code,
            probability: self.probability,
        })
    }

    fn fires(self, rng: &mut SplitMix64) -> bool {
        self.probability > 0 && (rng.next_u64() % 100) < u64::from(self.probability)
    }

    fn reply(self, what: &str) -> Reply {
        let class = if self.error_code >= 500 { 5 } else { 4 };
        Reply::new(
            self.error_code,
            Some(EnhancedCode::new(class, 7, 0)),
            format!("Chaos: {what} refused (set through the web API's chaos triggers)"),
        )
    }
}

/// The triggers in force, shared by every listener.
#[derive(Debug, Default)]
pub struct Chaos {
    triggers: RwLock<Triggers>,
    /// Whether any trigger can fire: read by every new session without taking the lock.
    armed: std::sync::atomic::AtomicBool,
    sessions: AtomicU64,
}

impl Chaos {
    pub fn triggers(&self) -> Triggers {
        *self.triggers.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the triggers (each checked; an unset code takes its default).
    pub fn set(&self, wanted: Triggers) -> Result<Triggers, ChaosError> {
        let defaults = Triggers::default();
        let checked = Triggers {
            sender: wanted.sender.checked(defaults.sender.error_code)?,
            recipient: wanted.recipient.checked(defaults.recipient.error_code)?,
            authentication: wanted
                .authentication
                .checked(defaults.authentication.error_code)?,
        };
        *self.triggers.write().unwrap_or_else(|e| e.into_inner()) = checked;
        let armed = [checked.sender, checked.recipient, checked.authentication]
            .iter()
            .any(|t| t.probability > 0);
        self.armed.store(armed, Ordering::Relaxed);
        if armed {
            tracing::info!(
                ?checked,
                "chaos triggers set: the next sessions may be refused"
            );
        }
        Ok(checked)
    }

    /// The policy a session plays: `inner`, with the triggers over it when any can fire.
    pub fn wrap(self: &Arc<Self>, inner: Box<dyn Policy>) -> Box<dyn Policy> {
        if !self.armed.load(Ordering::Relaxed) {
            return inner;
        }
        let n = self.sessions.fetch_add(1, Ordering::Relaxed);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Box::new(ChaosPolicy {
            inner,
            triggers: self.triggers(),
            rng: SplitMix64::new(seed),
        })
    }
}

struct ChaosPolicy {
    inner: Box<dyn Policy>,
    triggers: Triggers,
    rng: SplitMix64,
}

impl Policy for ChaosPolicy {
    fn decide(
        &mut self,
        session: &SessionView<'_>,
        point: &DecisionPoint<'_>,
        default: Reply,
    ) -> Response {
        let fired = match point {
            // Only where the command would succeed: chaos replaces a success, as Mailpit's.
            DecisionPoint::Command {
                command: Command::Mail { .. },
                ..
            } if default.code.is_positive() => self
                .triggers
                .sender
                .fires(&mut self.rng)
                .then(|| self.triggers.sender.reply("sender")),
            DecisionPoint::Command {
                command: Command::Rcpt { .. },
                ..
            } if default.code.is_positive() => self
                .triggers
                .recipient
                .fires(&mut self.rng)
                .then(|| self.triggers.recipient.reply("recipient")),
            DecisionPoint::AuthResult { success: true, .. } => self
                .triggers
                .authentication
                .fires(&mut self.rng)
                .then(|| self.triggers.authentication.reply("authentication")),
            _ => None,
        };
        match fired {
            Some(reply) => Response::reply(reply),
            None => self.inner.decide(session, point, default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_checked_as_mailpit_checks_them() {
        let chaos = Chaos::default();
        let mut wanted = Triggers {
            sender: Trigger {
                error_code: 0,
                probability: 50,
            },
            ..Triggers::default()
        };
        let set = chaos.set(wanted).expect("valid");
        assert_eq!(
            set.sender.error_code, 451,
            "an unset code takes the default"
        );
        wanted.recipient.error_code = 250;
        assert_eq!(chaos.set(wanted), Err(ChaosError::Code));
        wanted.recipient.error_code = 550;
        wanted.authentication.probability = 101;
        assert_eq!(chaos.set(wanted), Err(ChaosError::Probability));
    }

    #[test]
    fn a_certain_trigger_always_fires_and_a_zero_one_never() {
        let mut rng = SplitMix64::new(1);
        let always = Trigger {
            error_code: 451,
            probability: 100,
        };
        let never = Trigger {
            error_code: 451,
            probability: 0,
        };
        assert!((0..1000).all(|_| always.fires(&mut rng)));
        assert!((0..1000).all(|_| !never.fires(&mut rng)));
    }
}
