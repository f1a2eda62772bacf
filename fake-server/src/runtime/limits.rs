//! Connection limits beside the global one, and what keeps the accept loop sane when the
//! process runs out of file descriptors.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Open connections per client address: one address cannot take every slot of the global
/// limit and lock the others out.
#[derive(Debug, Default)]
pub struct PerAddress {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one connection's place in [`PerAddress`]; dropping it frees the place.
#[derive(Debug)]
pub struct AddressGuard {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl Drop for AddressGuard {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// What counts as one client address: an IPv4 address (IPv4-mapped IPv6 ones included), or
/// an IPv6 /64, since one host usually holds a whole /64 and could otherwise use a new
/// address for every connection.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl PerAddress {
    /// Takes a place for `address` if it has fewer than `max` connections open.
    pub fn try_enter(&self, address: IpAddr, max: usize) -> Option<AddressGuard> {
        let key = client_key(address);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressGuard {
            open: Arc::clone(&self.open),
            key,
        })
    }

    /// Connections open from `address` (its /64 for IPv6).
    pub fn open(&self, address: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&client_key(address)).copied().unwrap_or(0)
    }
}

/// Refusals under way (a 421 being written, or on an implicit-TLS listener the handshake
/// before it): each holds a descriptor and a task, so a flood of refused clients is bounded
/// too. Past [`MAX_REFUSING`], a refused connection is closed without a reply.
#[derive(Debug, Default)]
pub struct Refusing {
    count: Arc<AtomicUsize>,
}

/// See [`Refusing`].
pub const MAX_REFUSING: usize = 256;

#[derive(Debug)]
pub struct RefusingGuard {
    count: Arc<AtomicUsize>,
}

impl Drop for RefusingGuard {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Refusing {
    pub fn try_enter(&self) -> Option<RefusingGuard> {
        let previous = self.count.fetch_add(1, Ordering::Relaxed);
        let guard = RefusingGuard {
            count: Arc::clone(&self.count),
        };
        (previous < MAX_REFUSING).then_some(guard)
    }
}

/// A descriptor kept in reserve (`/dev/null`, opened at start). When `accept` fails for want
/// of descriptors, closing it frees one: enough to accept the waiting client, answer it
/// `421 4.3.2` and close it; then the spare is opened again. Without it, a client arriving
/// when the process is out of descriptors gets no answer at all.
#[derive(Debug)]
pub struct SpareDescriptor {
    file: Mutex<Option<std::fs::File>>,
}

impl SpareDescriptor {
    pub fn open() -> SpareDescriptor {
        let spare = SpareDescriptor {
            file: Mutex::new(None),
        };
        spare.restore();
        spare
    }

    /// Closes the spare, if it is open, to free its descriptor; true if it was.
    pub fn release(&self) -> bool {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.take().is_some()
    }

    /// Opens the spare again (when a descriptor is free).
    pub fn restore(&self) {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if file.is_none() {
            *file = std::fs::File::open(SPARE_PATH).ok();
        }
    }
}

#[cfg(unix)]
const SPARE_PATH: &str = "/dev/null";
#[cfg(not(unix))]
const SPARE_PATH: &str = "NUL";

/// Whether an accept error means the process (EMFILE) or the system (ENFILE) is out of file
/// descriptors. The numbers are the same on Linux, the BSDs and macOS.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    cfg!(unix) && matches!(error.raw_os_error(), Some(23 | 24))
}

/// The shortest and longest pause after a failed accept.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one warning about failed accepts per this long.
pub const WARN_EVERY: Duration = Duration::from_secs(5);

/// Failed accepts of one listener: how long to pause before the next try (doubling up to a
/// second, so that the loop never spins) and a warning at most every [`WARN_EVERY`], with the
/// count of failures since the last one.
#[derive(Debug, Default)]
pub struct AcceptTrouble {
    backoff: Option<Duration>,
    last_warning: Option<Instant>,
    failures: u64,
    answered: u64,
}

impl AcceptTrouble {
    /// An accept failed: warns if it is time to, and says how long to pause.
    pub fn failed(&mut self, listener: &str, error: &std::io::Error) -> Duration {
        self.failures += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY)
        {
            self.warn(listener, &error.to_string(), now);
        }
        let pause = self
            .backoff
            .map_or(BACKOFF_MIN, |previous| (previous * 2).min(BACKOFF_MAX));
        self.backoff = Some(pause);
        pause
    }

    /// A client was accepted with the spare descriptor and is being answered 421.
    pub fn answered_with_spare(&mut self) {
        self.answered += 1;
        self.backoff = None;
    }

    /// A connection was accepted normally: the trouble is over. The failures not yet
    /// reported are, once.
    pub fn accepted(&mut self, listener: &str) {
        self.backoff = None;
        if self.failures > 0 {
            self.warn(listener, "accepting again", Instant::now());
            self.last_warning = None;
        }
    }

    fn warn(&mut self, listener: &str, what: &str, now: Instant) {
        let since = self
            .last_warning
            .map(|last| format!(" in the last {:.0?}", now.duration_since(last)));
        tracing::warn!(
            listener,
            failures = self.failures,
            answered_421 = self.answered,
            "accept failed: {what} ({} failure(s){}, {} client(s) answered 421 4.3.2 with the \
             spare descriptor; pausing up to {BACKOFF_MAX:?} between tries)",
            self.failures,
            since.unwrap_or_default(),
            self.answered,
        );
        self.last_warning = Some(now);
        self.failures = 0;
        self.answered = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_count() {
        let limits = PerAddress::default();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = limits.try_enter(a, 2).expect("first");
        let _second = limits.try_enter(a, 2).expect("second");
        assert!(limits.try_enter(a, 2).is_none());
        assert!(limits.try_enter(b, 2).is_some());
        drop(first);
        assert!(limits.try_enter(a, 2).is_some());
    }

    #[test]
    fn ipv6_counts_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
        let one: IpAddr = "2001:db8::1".parse().expect("ip");
        let other: IpAddr = "2001:db8::ffff:2".parse().expect("ip");
        assert_eq!(client_key(one), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            client_key(mapped),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn the_entry_of_an_address_goes_with_its_last_connection() {
        let limits = PerAddress::default();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        drop(limits.try_enter(a, 1));
        assert_eq!(limits.open(a), 0);
        assert!(limits.open.lock().expect("lock").is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failed_accepts_back_off_to_a_second() {
        let mut trouble = AcceptTrouble::default();
        let error = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..10).map(|_| trouble.failed("smtp", &error)).collect();
        assert_eq!(pauses[0], BACKOFF_MIN);
        assert_eq!(pauses[1], BACKOFF_MIN * 2);
        assert_eq!(pauses[9], BACKOFF_MAX);
        assert!(out_of_descriptors(&error));
        trouble.accepted("smtp");
        assert_eq!(trouble.failed("smtp", &error), BACKOFF_MIN);
    }
}
