//! When a session must have made progress: the time limits a slow client cannot stretch.
//!
//! - **A whole command within the command timeout.** The timer restarts when a complete line
//!   (a command, a SASL response, the end of an over-long line) has arrived, or when the
//!   server has finished something the client had to wait for (a delayed reply, storing a
//!   message, a TLS handshake); octets of a line still incomplete do not restart it. One
//!   octet every few seconds cannot keep a session open.
//! - **Message content (DATA, BDAT) at a minimum average rate.** Inside a transfer the idle
//!   timer is the data timeout and restarts with every read, as RFC 5321 §4.5.3.2.5 has it
//!   (3 minutes per data block, so that an honest slow link is not cut off); on top of that,
//!   after a grace period equal to the data timeout, the transfer must have brought at least
//!   `min_data_rate` octets per second for the time past the grace period. A transfer at
//!   that rate or faster is never cut; a trickle is cut once its credit runs out.

use std::time::Duration;

use tokio::time::Instant;

/// Why a deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No complete command line (or no content octet) within the timeout.
    Idle,
    /// Content arrived, but slower than the minimum data rate.
    TooSlow {
        octets: u64,
        elapsed: Duration,
        rate: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Transfer {
    /// When the transfer began, moved later by the time the server kept the client waiting.
    started: Instant,
    octets: u64,
}

/// The deadlines of one session (see the module documentation).
#[derive(Debug)]
pub struct Deadlines {
    /// Octets per second a transfer must average after its grace period; 0 turns it off.
    min_data_rate: u64,
    /// When the wait for the current command line began.
    line_started: Instant,
    /// When octets last arrived (the idle timer inside a transfer).
    last_input: Instant,
    transfer: Option<Transfer>,
}

impl Deadlines {
    pub fn new(now: Instant, min_data_rate: u64) -> Deadlines {
        Deadlines {
            min_data_rate,
            line_started: now,
            last_input: now,
            transfer: None,
        }
    }

    /// Octets arrived; `in_transfer` says whether the session was reading message content
    /// when they came.
    pub fn received(&mut self, now: Instant, bytes: &[u8], in_transfer: bool) {
        self.last_input = now;
        if in_transfer {
            self.line_started = now;
            if let Some(transfer) = &mut self.transfer {
                transfer.octets = transfer.octets.saturating_add(bytes.len() as u64);
            }
        } else if bytes.contains(&b'\n') {
            // A line is complete: the next one has a full command timeout.
            self.line_started = now;
        }
    }

    /// The server made the client wait from `since` until `now` (a delayed reply, a store,
    /// a TLS handshake): that time counts against neither the command nor the transfer.
    pub fn resumed(&mut self, since: Instant, now: Instant) {
        self.line_started = now;
        self.last_input = self.last_input.max(now);
        if let Some(transfer) = &mut self.transfer {
            transfer.started += now.saturating_duration_since(since);
        }
    }

    /// Whether a transfer is being timed.
    pub fn in_transfer(&self) -> bool {
        self.transfer.is_some()
    }

    /// Follows the session's phase: a transfer begins when the session starts reading
    /// content (after its 354 or a BDAT command) and ends when it is back at commands.
    pub fn phase(&mut self, now: Instant, in_transfer: bool) {
        match (in_transfer, self.transfer.is_some()) {
            (true, false) => {
                self.transfer = Some(Transfer {
                    started: now,
                    octets: 0,
                });
                self.last_input = self.last_input.max(now);
            }
            (false, true) => self.transfer = None,
            _ => {}
        }
    }

    /// When the session times out unless it makes progress, and why; `timeout` is the
    /// session's current one (the data timeout inside a transfer, else the command timeout).
    pub fn due(&self, timeout: Duration) -> (Instant, Expiry) {
        let Some(transfer) = &self.transfer else {
            return (self.line_started + timeout, Expiry::Idle);
        };
        let idle = self.last_input + timeout;
        if self.min_data_rate == 0 {
            return (idle, Expiry::Idle);
        }
        // The grace period, then one second per `min_data_rate` octets received.
        let credit = Duration::from_secs_f64(transfer.octets as f64 / self.min_data_rate as f64);
        let slow = transfer.started + timeout + credit;
        if slow < idle {
            (
                slow,
                Expiry::TooSlow {
                    octets: transfer.octets,
                    elapsed: slow.saturating_duration_since(transfer.started),
                    rate: self.min_data_rate,
                },
            )
        } else {
            (idle, Expiry::Idle)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMAND: Duration = Duration::from_secs(300);
    const DATA: Duration = Duration::from_secs(180);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn octets_of_an_incomplete_line_do_not_restart_the_command_timer() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, 1024);
        for i in 1..100 {
            deadlines.received(start + secs(5 * i), b"x", false);
        }
        assert_eq!(deadlines.due(COMMAND), (start + COMMAND, Expiry::Idle));
        deadlines.received(start + secs(600), b"\r\n", false);
        assert_eq!(
            deadlines.due(COMMAND),
            (start + secs(600) + COMMAND, Expiry::Idle)
        );
    }

    #[test]
    fn a_transfer_at_the_minimum_rate_is_never_cut() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, 1024);
        deadlines.phase(start, true);
        // 1 KiB every second for an hour: the deadline stays ahead of the clock.
        for i in 1..3600 {
            let now = start + secs(i);
            deadlines.received(now, &[b'a'; 1024], true);
            let (due, _) = deadlines.due(DATA);
            assert!(due > now + secs(100), "at {i}s");
        }
    }

    #[test]
    fn a_trickled_transfer_is_cut_after_the_grace_period_and_its_credit() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, 1024);
        deadlines.phase(start, true);
        let mut now = start;
        // One octet every 5 s restarts the idle timer every time...
        for _ in 0..36 {
            now += secs(5);
            deadlines.received(now, b"a", true);
        }
        // ...but 36 octets buy 36/1024 s after the grace period.
        let (due, why) = deadlines.due(DATA);
        assert_eq!(due, start + DATA + Duration::from_secs_f64(36.0 / 1024.0));
        assert!(matches!(why, Expiry::TooSlow { octets: 36, .. }), "{why:?}");
    }

    #[test]
    fn time_the_server_made_the_client_wait_is_not_counted() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, 1024);
        deadlines.phase(start, true);
        deadlines.resumed(start + secs(10), start + secs(70));
        let (due, _) = deadlines.due(DATA);
        assert_eq!(due, start + secs(60) + DATA);
    }

    #[test]
    fn a_zero_rate_keeps_only_the_idle_timer() {
        let start = Instant::now();
        let mut deadlines = Deadlines::new(start, 0);
        deadlines.phase(start, true);
        deadlines.received(start + secs(1000), b"a", true);
        assert_eq!(
            deadlines.due(DATA),
            (start + secs(1000) + DATA, Expiry::Idle)
        );
    }
}
