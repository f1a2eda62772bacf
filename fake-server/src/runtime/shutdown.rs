//! How the server stops: first it drains (stop accepting; each session gets `421` as soon as it
//! is between transactions), then, at the deadline, it aborts (every session gets `421` now).
//! Nothing acknowledged is ever dropped: a message is stored before its 250 is sent.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Running,
    Draining,
    Abort,
}

/// Counts open connections; a guard per connection keeps the count right even on panic.
#[derive(Debug, Clone)]
pub struct ConnectionTracker {
    count: watch::Sender<usize>,
}

#[derive(Debug)]
pub struct ConnectionGuard {
    count: watch::Sender<usize>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        change(&self.count, |n| *n -= 1);
    }
}

/// Updates the count, waking waiters only if there are any (only a shutdown waits): waking
/// costs a lock on every connection otherwise.
fn change(count: &watch::Sender<usize>, f: impl FnOnce(&mut usize)) {
    let waiters = count.receiver_count() > 0;
    count.send_if_modified(|n| {
        f(n);
        waiters
    });
}

impl Default for ConnectionTracker {
    fn default() -> Self {
        ConnectionTracker {
            count: watch::channel(0).0,
        }
    }
}

impl ConnectionTracker {
    pub fn new() -> ConnectionTracker {
        ConnectionTracker::default()
    }

    pub fn open(&self) -> usize {
        *self.count.borrow()
    }

    pub fn enter(&self) -> ConnectionGuard {
        change(&self.count, |n| *n += 1);
        ConnectionGuard {
            count: self.count.clone(),
        }
    }

    /// Waits until no connection is open.
    pub async fn all_closed(&self) {
        let mut rx = self.count.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
