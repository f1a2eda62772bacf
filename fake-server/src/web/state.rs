//! What the web sink's handlers share: the mailbox, the index fed from it, the event stream
//! of the WebSocket, and the counters `info` reports. The index is fed from the after-reply
//! thread (messages are parsed and listed there, never on an SMTP session's path), and with
//! `--store` it is first rebuilt from the Maildir.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};

use super::index::{Entry, Index};
use super::mailpit::{event_frame, MessageSummary};
use super::relay::RelayConfig;
use super::restore;
use crate::lock;
use crate::mailbox::{Mailbox, MailboxWatcher, StoredMessage};
use crate::scenario::chaos::Chaos;
use crate::server::ScenarioSwitch;

/// Frames the WebSocket may queue per subscriber before a slow one skips ahead.
const EVENT_BACKLOG: usize = 1024;

#[derive(Debug)]
pub struct WebState {
    pub mailbox: Arc<Mailbox>,
    index: RwLock<Index>,
    /// JSON frames for `/api/events` subscribers.
    pub events: broadcast::Sender<Arc<str>>,
    /// Messages indexed so far: the wait endpoint watches it.
    pub indexed: watch::Sender<u64>,
    pub started: Instant,
    pub deleted: AtomicU64,
    pub chaos: Arc<Chaos>,
    pub relay: Option<RelayConfig>,
    pub scenarios: Option<Arc<ScenarioSwitch>>,
    /// The listeners' names and addresses, for the UI.
    pub listeners: Vec<(String, std::net::SocketAddr)>,
    /// The last [`RELEASES_KEPT`] releases, newest last, with their sessions' transcripts.
    pub releases: std::sync::Mutex<std::collections::VecDeque<Release>>,
    /// Events not yet sent, one JSON object per line ([`WebState::announce`]).
    pending: std::sync::Mutex<String>,
    /// Whether a `stats` event is due with the next send.
    stats_due: std::sync::atomic::AtomicBool,
    /// Whether messages were unlisted since the last send: the next frame ends with one
    /// `prune`.
    prune_due: std::sync::atomic::AtomicBool,
    /// Wakes the task that sends pending events.
    wake: tokio::sync::Notify,
}

/// How long events gather before they go out in one WebSocket frame (several JSON objects
/// separated by newlines, as Mailpit sends them): under load, one frame and one write per
/// subscriber every few milliseconds instead of one per message.
const EVENT_GATHERING: std::time::Duration = std::time::Duration::from_millis(20);

/// Releases kept in memory.
pub const RELEASES_KEPT: usize = 100;

/// A message sent on to the relay, or the attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Release {
    #[serde(rename = "ID")]
    pub id: String,
    pub relay: String,
    pub to: Vec<String>,
    pub time: String,
    /// `None` when the relay took it, else why not.
    pub error: Option<String>,
    /// The session's `C:`/`S:` lines (AUTH secrets masked).
    pub transcript: String,
}

impl WebState {
    /// Keeps a release's record (the oldest goes beyond [`RELEASES_KEPT`]).
    pub fn keep_release(&self, release: Release) {
        let mut releases = lock(&self.releases);
        if releases.len() == RELEASES_KEPT {
            releases.pop_front();
        }
        releases.push_back(release);
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Stats {
    total: usize,
    unread: usize,
    version: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdOnly<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadUpdate<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub read: bool,
}

impl WebState {
    pub fn new(
        mailbox: Arc<Mailbox>,
        chaos: Arc<Chaos>,
        relay: Option<RelayConfig>,
        scenarios: Option<Arc<ScenarioSwitch>>,
        listeners: Vec<(String, std::net::SocketAddr)>,
    ) -> Arc<WebState> {
        Arc::new(WebState {
            mailbox,
            index: RwLock::new(Index::default()),
            events: broadcast::channel(EVENT_BACKLOG).0,
            indexed: watch::channel(0).0,
            started: Instant::now(),
            deleted: AtomicU64::new(0),
            chaos,
            relay,
            scenarios,
            listeners,
            releases: Default::default(),
            pending: Default::default(),
            stats_due: Default::default(),
            prune_due: Default::default(),
            wake: tokio::sync::Notify::new(),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while holding the lock leaves at worst a half-applied change of read
        // state or tags: keep serving.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an event for the WebSocket subscribers (built only when someone listens);
    /// [`send_events`] sends what gathered in one frame.
    pub fn announce(&self, kind: &str, data: &impl Serialize) {
        if self.events.receiver_count() == 0 {
            return;
        }
        self.announce_frame(event_frame(kind, data));
    }

    /// [`WebState::announce`] for an event already serialised.
    fn announce_frame(&self, frame: String) {
        {
            append_event(&mut lock(&self.pending), &frame);
        }
        self.wake.notify_one();
    }

    /// Queues a `stats` event (the counts as they are when it is sent; one per frame).
    pub fn announce_stats(&self) {
        if self.events.receiver_count() == 0 {
            return;
        }
        self.stats_due
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn stats_frame(&self) -> String {
        let index = self.read();
        event_frame(
            "stats",
            &Stats {
                total: index.total(),
                unread: index.unread(),
                version: env!("CARGO_PKG_VERSION"),
            },
        )
    }

    /// Starts feeding the index from the mailbox (after rebuilding it from the Maildir, with
    /// `--store`). Returns once the feed is attached; the rebuild and the WebSocket's sender
    /// go on as tasks of the runtime entered (the web sink's: they end with it).
    pub fn start_feed(self: &Arc<Self>) {
        tokio::spawn(send_events(Arc::clone(self)));
        let maildir = self.mailbox.maildir().cloned();
        let (tx, rx) = mpsc::unbounded_channel();
        let feed = Arc::new(Feed {
            state: Arc::downgrade(self),
            early: Mutex::new(maildir.is_some().then_some(tx)),
            subscribers: self.events.clone(),
        });
        self.mailbox
            .watch(Arc::clone(&feed) as Arc<dyn MailboxWatcher>);
        let state = Arc::clone(self);
        tokio::spawn(async move {
            let Some(maildir) = maildir else {
                return;
            };
            let restored = tokio::task::spawn_blocking(move || restore::entries(&maildir))
                .await
                .unwrap_or_default();
            let count = restored.len();
            {
                let mut index = state.write();
                for entry in restored {
                    index.insert(entry);
                }
                state.mailbox.set_held_elsewhere(index.bytes());
            }
            if count > 0 {
                tracing::info!(messages = count, "web: listed the messages of the Maildir");
                state.indexed.send_modify(|n| *n += count as u64);
            }
            // What arrived meanwhile is listed after the Maildir's messages; from now on the
            // after-reply thread lists each message itself. Held while draining: no arrival
            // can slip in between.
            let mut early = lock(&feed.early);
            let mut rx = rx;
            while let Ok(arrival) = rx.try_recv() {
                match arrival {
                    Arrival::Message(entry, frame) => list(&state, *entry, frame),
                    Arrival::Evicted(ids) => unlist(&state, &ids),
                }
            }
            *early = None;
        });
    }
}

/// Sends the queued events, gathered for [`EVENT_GATHERING`], as one frame (the web sink's
/// handle stops it).
async fn send_events(state: Arc<WebState>) {
    loop {
        state.wake.notified().await;
        tokio::time::sleep(EVENT_GATHERING).await;
        let mut frame = std::mem::take(&mut *lock(&state.pending));
        // Dropped by retention or the memory budget: one `prune` for all of them, as Mailpit
        // announces its own pruning (the UI reloads its page), not a `delete` per message.
        if state.prune_due.swap(false, Ordering::Relaxed) {
            append_event(&mut frame, &event_frame("prune", &()));
        }
        if state.stats_due.swap(false, Ordering::Relaxed) {
            append_event(&mut frame, &state.stats_frame());
        }
        if !frame.is_empty() {
            let _ = state.events.send(Arc::from(frame));
        }
    }
}

/// Adds an event to a gathered frame: one JSON object a line.
fn append_event(frame: &mut String, event: &str) {
    if !frame.is_empty() {
        frame.push('\n');
    }
    frame.push_str(event);
}

/// What the mailbox told the feed while the Maildir's messages were being listed.
#[derive(Debug)]
enum Arrival {
    Message(Box<Entry>, Option<String>),
    Evicted(Vec<String>),
}

/// The mailbox's watcher: lists each accepted message and unlists evicted ones, on the
/// thread that announces messages (the after-reply thread), never on a session's: the
/// message is parsed there, and the index's upkeep (inserting, dropping the oldest, freeing
/// them) cost the SMTP sessions' thread several microseconds a message when a task on it did
/// it.
#[derive(Debug)]
struct Feed {
    state: Weak<WebState>,
    /// `Some` while the Maildir's messages are being listed (with `--store`): arrivals wait
    /// there, so that they are listed after them.
    early: Mutex<Option<mpsc::UnboundedSender<Arrival>>>,
    /// The WebSocket's channel: whether anyone listens.
    subscribers: broadcast::Sender<Arc<str>>,
}

impl MailboxWatcher for Feed {
    fn accepted(&self, message: &Arc<StoredMessage>) {
        // Dropped from memory before its turn came (another session's message pushed it out
        // first): not listed, unless its files are there to read.
        if message.is_dropped() && message.raw_path.is_none() {
            return;
        }
        // With `--json`, the message's event shows its summary: read from the same parse.
        let share_summary = self
            .state
            .upgrade()
            .is_some_and(|state| state.mailbox.emits_events());
        let entry = Entry::of(message, share_summary);
        let frame = (self.subscribers.receiver_count() > 0)
            .then(|| super::json::new_message_frame(&MessageSummary::of(&entry)));
        if let Some(early) = lock(&self.early).as_ref() {
            let _ = early.send(Arrival::Message(Box::new(entry), frame));
            return;
        }
        if let Some(state) = self.state.upgrade() {
            list(&state, entry, frame);
        }
    }

    fn evicted(&self, ids: &[String]) {
        if let Some(early) = lock(&self.early).as_ref() {
            let _ = early.send(Arrival::Evicted(ids.to_vec()));
            return;
        }
        if let Some(state) = self.state.upgrade() {
            unlist(&state, ids);
        }
    }
}

/// Lists a message, then announces it (a client told of one may ask for it at once).
fn list(state: &WebState, entry: Entry, frame: Option<String>) {
    {
        let mut index = state.write();
        index.insert(entry);
        state.mailbox.set_held_elsewhere(index.bytes());
    }
    if let Some(frame) = frame {
        // Sent with the frame: `announce_frame` wakes the sender.
        state.stats_due.store(true, Ordering::Relaxed);
        state.announce_frame(frame);
    }
    // Waking waiters costs locks; skip it when nobody waits (the common case). A later waiter
    // still finds the message: it subscribes before it looks.
    let waiters = state.indexed.receiver_count() > 0;
    state.indexed.send_if_modified(|n| {
        *n += 1;
        waiters
    });
}

/// Unlists messages dropped from memory, unless a Maildir still holds them.
fn unlist(state: &WebState, ids: &[String]) {
    let mut removed = Vec::new();
    {
        let mut index = state.write();
        for id in ids {
            // With a Maildir the message is still there to read: it stays listed.
            let on_disk = index.get(id).is_some_and(|e| e.location.raw_path.is_some());
            if !on_disk {
                removed.extend(index.remove(id));
            }
        }
        state.mailbox.set_held_elsewhere(index.bytes());
    }
    // Freed outside the lock.
    if !removed.is_empty() && state.events.receiver_count() > 0 {
        state.prune_due.store(true, Ordering::Relaxed);
        state.announce_stats();
    }
    drop(removed);
}

/// Removes messages from the list, from memory and from the Maildir; returns how many were
/// listed. Announced to the WebSocket as Mailpit does (`delete` each, or `truncate`).
pub fn delete(state: &WebState, ids: Option<&[String]>) -> usize {
    let removed: Vec<Entry> = {
        let mut index = state.write();
        let removed = match ids {
            None => index.clear(),
            Some(ids) => ids.iter().filter_map(|id| index.remove(id)).collect(),
        };
        state.mailbox.set_held_elsewhere(index.bytes());
        removed
    };
    match ids {
        None => state.mailbox.forget_all(),
        Some(_) => {
            let set = removed.iter().map(|e| e.id.as_str()).collect();
            state.mailbox.forget(&set);
        }
    }
    if let Some(maildir) = state.mailbox.maildir() {
        for entry in &removed {
            if let Err(error) =
                maildir.remove_message(&entry.id, entry.location.delivered.as_deref())
            {
                tracing::warn!(id = %entry.id, %error, "web: could not remove a message's files");
            }
        }
    }
    state
        .deleted
        .fetch_add(removed.len() as u64, Ordering::Relaxed);
    state.announce_stats();
    match ids {
        None => state.announce("truncate", &()),
        Some(_) => {
            for entry in &removed {
                state.announce("delete", &IdOnly { id: &entry.id });
            }
        }
    }
    removed.len()
}

/// Sets messages read or unread (with `--store`, the Maildir copy moves to `cur/` with the
/// `S` flag, as a mail reader marks it).
pub fn set_read(state: &WebState, ids: &[String], read: bool) {
    let mut changed = Vec::new();
    {
        let mut index = state.write();
        for id in ids {
            if let Some(entry) = index.set_read(id, read) {
                if let (Some(maildir), Some(path)) =
                    (state.mailbox.maildir(), entry.location.delivered.as_ref())
                {
                    match maildir.set_seen(path, read) {
                        Ok(moved) => entry.location.delivered = Some(moved),
                        Err(error) => {
                            tracing::warn!(%id, %error, "web: could not flag the Maildir copy")
                        }
                    }
                }
                changed.push(id.clone());
            }
        }
    }
    for id in &changed {
        state.announce("update", &ReadUpdate { id, read });
    }
    if !changed.is_empty() {
        state.announce_stats();
    }
}
