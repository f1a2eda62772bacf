//! Captured messages and finished sessions: in memory with a retention limit, optionally on
//! disk (Maildir, see [`maildir`]). A message is stored here *before* the session may send
//! its 250; with a Maildir that means written and fsynced.

pub mod delivery;
pub mod maildir;
pub mod parsed;
pub mod summary;
pub mod trace;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use smtp_conformance::{MessageInput, Report};
use smtp_protocol::data::ContentReport;
use smtp_protocol::session::{ReceivedMessage, StoreError, Transaction, Transfer};
use smtp_protocol::transcript::{CloseReason, Transcript};
use tokio::sync::watch;

use crate::events::{EventSink, ServerEvent};
use maildir::Maildir;
pub use parsed::{Attachment, ParsedMessage};
pub use summary::Summary;

/// A message the server accepted.
#[derive(Debug, Serialize)]
pub struct StoredMessage {
    /// The queue id given in the 250 reply.
    pub id: String,
    pub session_id: u64,
    pub listener: Arc<str>,
    pub peer: SocketAddr,
    #[serde(serialize_with = "serialize_time")]
    pub received_at: SystemTime,
    pub helo: Option<String>,
    pub envelope: Transaction,
    pub transfer: Transfer,
    pub report: ContentReport,
    /// Whether the session said EHLO (ESMTP) or HELO (SMTP), for the trace header.
    pub esmtp: bool,
    /// Whether the message came under TLS.
    pub tls: bool,
    /// The authenticated user, if the client used AUTH.
    pub authenticated: Option<String>,
    /// The server's name, for the trace header.
    pub hostname: Arc<str>,
    /// The content exactly as received, after dot-unstuffing.
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// Where the delivered copy was written, with `--store`: the Maildir file in `new/`
    /// ([`StoredMessage::delivered`]: LF line ends, the envelope in its header).
    pub path: Option<PathBuf>,
    /// Where the octets exactly as received were kept, with `--store`: `raw/<id>.eml`
    /// ([`StoredMessage::raw`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_path: Option<PathBuf>,
    #[serde(skip)]
    summary: OnceLock<Summary>,
    /// The message checks' results, once judged (after the reply to its end of data).
    #[serde(skip_serializing_if = "is_unset", serialize_with = "serialize_checks")]
    checks: OnceLock<Report>,
    /// Set when retention or the memory budget drops it from memory.
    #[serde(skip)]
    dropped: AtomicBool,
}

fn is_unset(cell: &OnceLock<Report>) -> bool {
    cell.get().is_none()
}

fn serialize_checks<S: serde::Serializer>(
    cell: &OnceLock<Report>,
    s: S,
) -> Result<S::Ok, S::Error> {
    cell.get().serialize(s)
}

impl StoredMessage {
    /// The message checks' results (RFC 5322, MIME, encoded-words ...: see docs/checks.md);
    /// `None` until judged, which happens right after the client got its 250 and before the
    /// message counts for [`Mailbox::wait_for`].
    pub fn checks(&self) -> Option<&Report> {
        self.checks.get()
    }

    /// The memory this message holds, estimated: its content, its envelope and summary, and
    /// (once judged) its check results.
    pub fn approx_bytes(&self) -> usize {
        let envelope = self.envelope.recipients.len() * 96 + 256;
        let checks = if self.checks.get().is_some() {
            self.checks.get().map_or(0, report_bytes)
        } else {
            // Judged after it is kept: count what its results will hold.
            MESSAGE_REPORT_ESTIMATE
        };
        std::mem::size_of::<StoredMessage>() + self.raw.capacity() + envelope + checks
    }

    /// Whether retention (`--max-messages`) or the memory budget has dropped it from memory
    /// (with `--store` its files stay).
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Judges the message once; later calls return the same report.
    pub fn judge(&self) -> &Report {
        self.checks
            .get_or_init(|| smtp_conformance::judge_message(self.check_input()))
    }

    /// What the message checks look at: the content and how MAIL announced it.
    pub fn check_input(&self) -> MessageInput<'_> {
        MessageInput {
            content: &self.raw,
            id: Some(&self.id),
            transfer: self.transfer,
            body: self.envelope.body(),
            smtputf8: self.envelope.smtputf8(),
            null_sender: self.envelope.reverse_path.mailbox().is_none(),
            recipients: &self.envelope.recipients,
        }
    }

    /// Subject, From, To and attachments, parsed on first use.
    pub fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| summary::summarise(&self.raw))
    }

    /// Gives the summary from a parse made for something else (the web sink's headline), so
    /// that [`StoredMessage::summary`] need not parse the message again. Ignored when it is
    /// already there.
    pub(crate) fn offer_summary(&self, summary: Summary) {
        let _ = self.summary.set(summary);
    }

    /// The trace header prepended to the delivered copy (S-5321-TRACE). Built on demand: most
    /// messages of a test sink are never delivered anywhere.
    pub fn trace_header(&self) -> String {
        let single_recipient = match self.envelope.recipients.as_slice() {
            [only] => Some(only.forward_path.to_string()),
            _ => None,
        };
        trace::received_header(
            self.helo.as_deref(),
            Some(self.peer.ip()),
            &self.hostname,
            &self.protocol(),
            &self.id,
            single_recipient.as_deref(),
            self.received_at,
        )
    }

    /// The trace header's `with` keyword: SMTP, ESMTP, and ESMTPS / ESMTPA / ESMTPSA for TLS
    /// and AUTH (RFC 3848; RFC 4954 §7 asks for ESMTPA).
    pub fn protocol(&self) -> String {
        if !self.esmtp {
            return "SMTP".to_owned();
        }
        let mut protocol = "ESMTP".to_owned();
        if self.tls {
            protocol.push('S');
        }
        if self.authenticated.is_some() {
            protocol.push('A');
        }
        protocol
    }

    /// The copy the Maildir's `new/` holds, as a local delivery agent writes it:
    /// `Return-Path`, one `X-Original-To` per envelope recipient (Bcc included), the trace
    /// header, then the content, all with LF line ends (see [`delivery`]). The octets as
    /// received are [`StoredMessage::raw`].
    pub fn delivered(&self) -> Vec<u8> {
        let mut copy = Vec::with_capacity(self.raw.len() + 512);
        // Writing to a Vec cannot fail.
        let _ = self.write_delivered(&mut copy);
        copy
    }

    /// Writes [`StoredMessage::delivered`] to `out` without building it in memory first.
    pub fn write_delivered(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        delivery::write_lf(out, delivery::envelope_header(&self.envelope).as_bytes())?;
        delivery::write_lf(out, self.trace_header().as_bytes())?;
        delivery::write_lf(out, &self.raw)
    }

    /// The message parsed (headers, text and HTML bodies, attachments, inline parts by
    /// Content-ID), borrowing from [`StoredMessage::raw`]. A message that is not MIME at all
    /// still parses: its parts are then just empty.
    pub fn parsed(&self) -> ParsedMessage<'_> {
        ParsedMessage::parse(&self.raw)
    }

    /// The reverse path as text (`<>` for the null path).
    pub fn mail_from(&self) -> String {
        self.envelope.reverse_path.to_string()
    }

    /// The forward paths as text, in order.
    pub fn rcpt_to(&self) -> Vec<String> {
        self.envelope
            .recipients
            .iter()
            .map(|r| r.forward_path.to_string())
            .collect()
    }

    pub fn content_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.raw)
    }
}

/// What a message's check results hold, roughly (about 60 results).
const MESSAGE_REPORT_ESTIMATE: usize = 6 * 1024;

/// The memory a report holds, estimated.
fn report_bytes(report: &Report) -> usize {
    report
        .results
        .iter()
        .map(|r| {
            std::mem::size_of_val(r)
                + r.evidence
                    .iter()
                    .map(|e| std::mem::size_of_val(e) + e.octets.len() + e.detail.len())
                    .sum::<usize>()
        })
        .sum()
}

static EMPTY_REPORT: Report = Report {
    results: Vec::new(),
};

/// Message ids a session record keeps (the last ones); the count is always exact.
pub const SESSION_IDS_KEPT: usize = 100;

/// A finished session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRecord {
    pub id: u64,
    pub listener: Arc<str>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    #[serde(serialize_with = "serialize_time")]
    pub started_at: SystemTime,
    pub duration_ms: u64,
    /// Messages accepted in this session.
    pub message_count: u64,
    /// Ids of the last [`SESSION_IDS_KEPT`] messages accepted in this session (all of them in
    /// any session but a very long one: memory per session stays constant).
    pub messages: Vec<String>,
    pub close_reason: Option<CloseReason>,
    pub transcript: Transcript,
    /// Every client check's result for this session and its messages (docs/checks.md).
    pub checks: Report,
}

impl SessionRecord {
    /// The memory this record holds, estimated: the transcript's text, its check results and
    /// the fixed parts.
    pub fn approx_bytes(&self) -> usize {
        use smtp_protocol::transcript::Event;
        let text: usize = self
            .transcript
            .entries()
            .map(|e| {
                std::mem::size_of_val(e)
                    + match &e.event {
                        Event::Client { line, .. } => line.capacity(),
                        Event::Server { text } => text.capacity(),
                        Event::ServerRaw { bytes } => bytes.capacity(),
                        Event::Note { text, .. } => text.capacity(),
                        Event::Content { summary, .. } => summary.capacity() + 128,
                        _ => 64,
                    }
            })
            .sum();
        std::mem::size_of::<SessionRecord>()
            + text
            + report_bytes(&self.checks)
            + self
                .messages
                .iter()
                .map(|m| m.capacity() + 24)
                .sum::<usize>()
    }

    /// The transcript with each failed or warned check under the entry it points at.
    pub fn marked_transcript(&self) -> String {
        smtp_conformance::render::marked(&self.transcript, &self.checks)
    }
}

fn serialize_time<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Who handed a message in: what the mailbox records beside it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub session_id: u64,
    pub listener: Arc<str>,
    pub peer: SocketAddr,
}

#[derive(Debug, Clone)]
pub struct MailboxConfig {
    /// The server's name, for the trace header; shared by every stored message.
    pub hostname: Arc<str>,
    /// Messages kept in memory; the oldest are dropped beyond it (like Mailpit's `--max`).
    pub max_messages: usize,
    /// Finished sessions kept in memory.
    pub max_sessions: usize,
    pub store: Option<PathBuf>,
    /// Judge every session and message against the client checks (on by default).
    pub checks: bool,
    /// Memory the kept messages and session records may use, in octets (estimated: content,
    /// transcripts, check results); the oldest go first beyond it.
    pub max_memory: usize,
}

/// The default memory budget for kept messages and session records.
pub const DEFAULT_MAX_MEMORY: usize = 256 * 1024 * 1024;

/// A kept message or session record, with its estimated size and its place in arrival order.
#[derive(Debug)]
struct Kept<T> {
    item: Arc<T>,
    bytes: usize,
    seq: u64,
}

#[derive(Debug, Default)]
struct Inner {
    messages: VecDeque<Kept<StoredMessage>>,
    sessions: VecDeque<Kept<SessionRecord>>,
    next_message: u64,
    next_seq: u64,
    /// The estimated size of everything kept.
    bytes: usize,
    /// Dropped when a message was stored, said once a message is announced: the after-reply
    /// thread announces in order, so what was dropped is never said before it was announced.
    unreported: Evicted,
}

/// What a round of eviction dropped to stay within the memory budget.
#[derive(Debug, Default)]
struct Evicted {
    /// The messages dropped, oldest first, with whether retention (`max_messages`) or the
    /// memory budget dropped them. Their ids are made, and the messages freed, where the
    /// eviction is reported (the after-reply thread), not on the session's thread that stored
    /// the newest: one push here per dropped message.
    messages: Vec<(Arc<StoredMessage>, Dropped)>,
    sessions: u64,
    /// Freed by the memory budget (retention is not counted: it is not reported as eviction).
    bytes: usize,
}

/// Why a message was dropped from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dropped {
    /// `max_messages`: retention, not reported as eviction.
    Retired,
    /// The memory budget.
    Evicted,
}

impl Evicted {
    fn add(&mut self, more: Evicted) {
        if self.messages.is_empty() {
            self.messages = more.messages;
        } else {
            self.messages.extend(more.messages);
        }
        self.sessions += more.sessions;
        self.bytes += more.bytes;
    }

    /// The ids of the messages dropped for `why`, oldest first.
    fn ids(&self, why: Dropped) -> Vec<String> {
        self.messages
            .iter()
            .filter(|(_, dropped)| *dropped == why)
            .map(|(message, _)| message.id.clone())
            .collect()
    }
}

impl Inner {
    fn keep_message(&mut self, item: Arc<StoredMessage>) {
        let bytes = item.approx_bytes();
        self.next_seq += 1;
        self.bytes += bytes;
        self.messages.push_back(Kept {
            item,
            bytes,
            seq: self.next_seq,
        });
    }

    fn keep_session(&mut self, item: Arc<SessionRecord>) {
        let bytes = item.approx_bytes();
        self.next_seq += 1;
        self.bytes += bytes;
        self.sessions.push_back(Kept {
            item,
            bytes,
            seq: self.next_seq,
        });
    }

    /// Drops the oldest beyond the count limits (silently: that is retention), then the
    /// oldest of either kind while the memory budget is passed; the newest item always stays.
    /// `elsewhere`: what others hold for the mailbox (the web sink's index), counted in the
    /// budget too.
    fn enforce(&mut self, config: &MailboxConfig, elsewhere: usize) -> Evicted {
        let mut evicted = Evicted::default();
        while self.messages.len() > config.max_messages {
            self.drop_message(&mut evicted, Dropped::Retired);
        }
        while self.sessions.len() > config.max_sessions {
            self.drop_session();
        }
        while self.bytes + elsewhere > config.max_memory
            && self.messages.len() + self.sessions.len() > 1
        {
            let message_first = match (self.messages.front(), self.sessions.front()) {
                (Some(m), Some(s)) => m.seq < s.seq,
                (Some(_), None) => true,
                _ => false,
            };
            let freed = if message_first {
                self.drop_message(&mut evicted, Dropped::Evicted)
            } else {
                evicted.sessions += 1;
                self.drop_session()
            };
            evicted.bytes += freed;
        }
        evicted
    }

    /// Drops the oldest message; returns the memory it held.
    fn drop_message(&mut self, evicted: &mut Evicted, why: Dropped) -> usize {
        match self.messages.pop_front() {
            Some(kept) => {
                self.bytes -= kept.bytes;
                kept.item.dropped.store(true, Ordering::Relaxed);
                evicted.messages.push((kept.item, why));
                kept.bytes
            }
            None => 0,
        }
    }

    fn drop_session(&mut self) -> usize {
        match self.sessions.pop_front() {
            Some(kept) => {
                self.bytes -= kept.bytes;
                kept.bytes
            }
            None => 0,
        }
    }
}

/// Told what happens in a mailbox, from the server's tasks (so it must be quick): the web
/// sink's index is one.
pub trait MailboxWatcher: Send + Sync + std::fmt::Debug {
    /// A message was stored and its 250 sent (and judged, unless checks are off).
    fn accepted(&self, message: &Arc<StoredMessage>);
    /// Messages the memory budget or `--max-messages` dropped from memory (a Maildir still
    /// holds them with `--store`).
    fn evicted(&self, ids: &[String]);
}

#[derive(Debug)]
pub struct Mailbox {
    config: MailboxConfig,
    maildir: Option<Maildir>,
    inner: Mutex<Inner>,
    /// Messages ever stored, for waiters.
    stored: watch::Sender<u64>,
    /// Queue ids start with the start time and a random salt, so that they stay unique
    /// across restarts and across servers sharing one Maildir (see [`queue_id_prefix`]).
    id_prefix: String,
    events: Option<EventSink>,
    watcher: OnceLock<Arc<dyn MailboxWatcher>>,
    /// Memory held elsewhere on the mailbox's behalf (the web sink's index of every listed
    /// message), within the same `max_memory`.
    elsewhere: AtomicUsize,
}

impl Mailbox {
    pub fn new(
        config: MailboxConfig,
        events: Option<EventSink>,
    ) -> Result<Mailbox, maildir::MaildirError> {
        let maildir = config.store.as_deref().map(Maildir::open).transpose()?;
        Ok(Mailbox {
            config,
            maildir,
            inner: Mutex::new(Inner::default()),
            stored: watch::channel(0).0,
            id_prefix: queue_id_prefix(SystemTime::now()),
            events,
            watcher: OnceLock::new(),
            elsewhere: AtomicUsize::new(0),
        })
    }

    /// Tells the mailbox how much memory its watcher holds for it (estimated), so that the
    /// budget covers it: messages held in memory go first when the two together pass it.
    pub fn set_held_elsewhere(&self, octets: usize) {
        self.elsewhere.store(octets, Ordering::Relaxed);
    }

    /// Sets the one watcher (the web sink's index); `false` if one was already set.
    pub fn watch(&self, watcher: Arc<dyn MailboxWatcher>) -> bool {
        self.watcher.set(watcher).is_ok()
    }

    /// The Maildir, with `--store`.
    pub fn maildir(&self) -> Option<&Maildir> {
        self.maildir.as_ref()
    }

    /// Removes messages from memory (the web API's delete); returns how many were held.
    /// Their files, with `--store`, are the caller's to remove ([`Maildir::remove_message`]).
    pub fn forget(&self, ids: &std::collections::HashSet<&str>) -> usize {
        let mut inner = self.lock();
        let before = inner.messages.len();
        let mut freed = 0;
        inner.messages.retain(|kept| {
            let keep = !ids.contains(kept.item.id.as_str());
            if !keep {
                freed += kept.bytes;
            }
            keep
        });
        inner.bytes -= freed;
        before - inner.messages.len()
    }

    /// Removes every message from memory (the web API's delete-all).
    pub fn forget_all(&self) {
        let mut inner = self.lock();
        let freed: usize = inner.messages.iter().map(|k| k.bytes).sum();
        inner.messages.clear();
        inner.bytes -= freed;
    }

    /// A held session record by its id.
    pub fn session(&self, id: u64) -> Option<Arc<SessionRecord>> {
        self.lock()
            .sessions
            .iter()
            .rev()
            .find(|k| k.item.id == id)
            .map(|k| Arc::clone(&k.item))
    }

    /// Whether sessions and messages are judged (`--checks off` turns it off).
    pub fn checks(&self) -> bool {
        self.config.checks
    }

    /// The name of a session's transcript file in a Maildir's `sessions/`.
    fn session_file(&self, session: u64) -> String {
        format!("{}-{session}.json", self.id_prefix)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the queues half-updated in a way that
        // matters more than losing the mailbox, so recover the data.
        crate::lock(&self.inner)
    }

    /// Stores a message; returns it once it is safe to acknowledge. It is listed in
    /// [`Mailbox::messages`] at once; call [`Mailbox::accepted`] once the client has its
    /// reply, to judge it, announce it and wake waiters.
    pub async fn store(
        &self,
        message: ReceivedMessage,
        origin: &Origin,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        let serial = {
            let mut inner = self.lock();
            inner.next_message += 1;
            inner.next_message
        };
        let id = queue_id(&self.id_prefix, serial);
        let received_at = SystemTime::now();
        let mut stored = StoredMessage {
            id,
            session_id: origin.session_id,
            listener: Arc::clone(&origin.listener),
            peer: origin.peer,
            received_at,
            helo: message.helo,
            esmtp: message.esmtp,
            tls: message.tls,
            authenticated: message.authenticated,
            hostname: Arc::clone(&self.config.hostname),
            envelope: message.transaction,
            transfer: message.transfer,
            report: message.report,
            raw: message.content,
            path: None,
            raw_path: None,
            summary: OnceLock::new(),
            checks: OnceLock::new(),
            dropped: AtomicBool::new(false),
        };
        if let Some(maildir) = &self.maildir {
            let session_file = self.session_file(origin.session_id);
            // Boxed: in place, the disk write's state would make every connection's task
            // larger for its whole life (the memory-only path has no await at all).
            stored = Box::pin(write_to_disk(maildir.clone(), stored, session_file)).await?;
        }
        let stored = Arc::new(stored);
        {
            let mut inner = self.lock();
            inner.keep_message(Arc::clone(&stored));
            let evicted = inner.enforce(&self.config, self.elsewhere.load(Ordering::Relaxed));
            // Said after this message is announced ([`Mailbox::accepted`]).
            inner.unreported.add(evicted);
        }
        Ok(stored)
    }

    /// A stored message whose 250 has been sent: judges it, tells the watcher, emits its
    /// event, wakes the waiters (who then see its check results), then says what storing it
    /// dropped from memory. Called on the after-reply thread ([`crate::runtime::after_reply`]),
    /// in the order messages were stored.
    pub fn accepted(&self, stored: &Arc<StoredMessage>) {
        // Logged here, not where it is stored: formatting the line is work a session's thread
        // need not do (ci/bench.sh rows AL–CL).
        tracing::info!(
            id = %stored.id,
            from = %stored.mail_from(),
            to = %stored.rcpt_to().join(", "),
            octets = stored.raw.len(),
            "message accepted"
        );
        let checks = if self.config.checks {
            stored.judge()
        } else {
            &EMPTY_REPORT
        };
        if checks.counts().fail > 0 {
            tracing::info!(
                id = %stored.id,
                failed = %checks.ids(smtp_conformance::Status::Fail).join(" "),
                "message checks failed (docs/checks.md)"
            );
        }
        // The watcher (the web sink) first: it parses the message and offers the summary the
        // event shows, and a client told of the message by the event finds it listed.
        if let Some(watcher) = self.watcher.get() {
            watcher.accepted(stored);
        }
        if let Some(events) = &self.events {
            events.emit(&ServerEvent::message(stored));
        }
        let evicted = std::mem::take(&mut self.lock().unreported);
        self.report_eviction(evicted);
        // Waking waiters costs a lock; skip it when nobody waits (the common case). A
        // later waiter still sees the count: `wait_for` checks the current value first.
        let waiters = self.stored.receiver_count() > 0;
        self.stored.send_if_modified(|n| {
            *n += 1;
            waiters
        });
    }

    /// Records a finished session (judged); with a Maildir, writes its transcript file.
    /// Blocks on that write: it runs on the after-reply thread
    /// ([`crate::runtime::after_reply`]), never on a session's.
    pub fn finish_session(&self, record: SessionRecord) {
        let counts = record.checks.counts();
        if counts.fail > 0 || counts.warn > 0 {
            tracing::info!(
                session = record.id,
                peer = %record.peer,
                failed = %record.checks.ids(smtp_conformance::Status::Fail).join(" "),
                warned = %record.checks.ids(smtp_conformance::Status::Warn).join(" "),
                "client checks (docs/checks.md)"
            );
        }
        if let Some(maildir) = &self.maildir {
            // One file per session, written once at its end (each message links to it from the
            // start): rewriting the whole transcript beside every message cost a long session
            // hundreds of megabytes (issue 10, item 4).
            let name = self.session_file(record.id);
            let json = session_json(&record);
            if let Err(error) = maildir.write_session(&name, &json) {
                tracing::warn!(%error, "could not write a session transcript");
            }
        }
        if let Some(events) = &self.events {
            events.emit(&ServerEvent::session(&record));
        }
        let evicted = {
            let mut inner = self.lock();
            inner.keep_session(Arc::new(record));
            inner.enforce(&self.config, self.elsewhere.load(Ordering::Relaxed))
        };
        self.report_eviction(evicted);
    }

    /// Says what the memory budget made the mailbox drop: a log line and an `evicted` event.
    fn report_eviction(&self, evicted: Evicted) {
        let retired = evicted.ids(Dropped::Retired);
        let messages = evicted.ids(Dropped::Evicted);
        if let Some(watcher) = self.watcher.get() {
            if !retired.is_empty() {
                watcher.evicted(&retired);
            }
            if !messages.is_empty() {
                watcher.evicted(&messages);
            }
        }
        if messages.is_empty() && evicted.sessions == 0 {
            return;
        }
        tracing::info!(
            messages = messages.len(),
            sessions = evicted.sessions,
            octets = evicted.bytes,
            "dropped the oldest from memory to stay within --max-memory"
        );
        if let Some(events) = &self.events {
            events.emit(&ServerEvent::Evicted {
                messages,
                sessions: evicted.sessions,
                octets: evicted.bytes as u64,
            });
        }
    }

    /// Whether each accepted message becomes an event (`--json`, or a library user's sink),
    /// which shows the message's [`Summary`].
    pub(crate) fn emits_events(&self) -> bool {
        self.events.is_some()
    }

    /// The estimated memory the kept messages and session records use, with what the web
    /// sink's index holds for them.
    pub fn memory_used(&self) -> usize {
        self.lock().bytes + self.elsewhere.load(Ordering::Relaxed)
    }

    /// The messages held, oldest first.
    pub fn messages(&self) -> Vec<Arc<StoredMessage>> {
        self.lock()
            .messages
            .iter()
            .map(|k| Arc::clone(&k.item))
            .collect()
    }

    /// The finished sessions held, oldest first.
    pub fn sessions(&self) -> Vec<Arc<SessionRecord>> {
        self.lock()
            .sessions
            .iter()
            .map(|k| Arc::clone(&k.item))
            .collect()
    }

    /// Messages stored since the server started (retention does not lower it).
    pub fn stored_count(&self) -> u64 {
        *self.stored.borrow()
    }

    /// Waits until at least `count` messages were stored since the start.
    pub async fn wait_for(&self, count: u64, timeout: Duration) -> bool {
        let mut rx = self.stored.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n >= count))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// A session's transcript file: who, when, which messages, the transcript and the checks.
fn session_json(record: &SessionRecord) -> Vec<u8> {
    serde_json::to_vec_pretty(record).unwrap_or_default()
}

async fn write_to_disk(
    maildir: Maildir,
    mut stored: StoredMessage,
    session_file: String,
) -> Result<StoredMessage, StoreError> {
    let name = maildir_name(&stored);
    tokio::task::spawn_blocking(move || {
        // The raw copy first: a file in new/ is what readers pick up, so it appears last, once
        // everything it pairs with is durable.
        let raw_path = maildir.keep_raw(&stored.id, &stored.raw)?;
        let path = match maildir.deliver(&name, |out| stored.write_delivered(out)) {
            Ok(path) => path,
            Err(error) => {
                // No 250 follows: a raw copy of a message the client will send again would be
                // an orphan.
                let _ = std::fs::remove_file(&raw_path);
                return Err(error);
            }
        };
        stored.raw_path = Some(raw_path);
        // The message is stored: a link that cannot be made costs the link, not the message.
        if let Err(error) = maildir.link_transcript(&stored.id, &session_file) {
            tracing::warn!(%error, "no transcript link for a stored message");
        }
        stored.path = Some(path);
        Ok::<_, maildir::MaildirError>(stored)
    })
    .await
    .map_err(|e| StoreError::Local(e.to_string()))?
    .map_err(|e| {
        tracing::error!(error = %e, "message not stored");
        if e.is_full() {
            StoreError::Full
        } else {
            StoreError::Local(e.to_string())
        }
    })
}

/// The start of every queue id of one server run: the start second (8 hex digits), then 32
/// random bits (8 hex digits). The second alone repeated itself when a server was restarted,
/// or a second one started, on the same Maildir within a second; with the salt two runs share
/// a prefix with odds of one in 2^32 even then, and the Maildir never overwrites a file anyway.
/// `prefix` and then `serial` in upper-case hex, at least six digits: as
/// `format!("{prefix}{serial:06X}")`, which cost the session's thread several hundred
/// instructions more a message.
fn queue_id(prefix: &str, serial: u64) -> String {
    let mut id = String::with_capacity(prefix.len() + 16);
    id.push_str(prefix);
    crate::text::push_hex(&mut id, serial, 6, true);
    id
}

fn queue_id_prefix(started: SystemTime) -> String {
    use std::hash::{BuildHasher, Hasher};
    let since_epoch = started.duration_since(UNIX_EPOCH).unwrap_or_default();
    // std's RandomState is keyed from the operating system's randomness for each process.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(since_epoch.as_nanos());
    let salt = hasher.finish() as u32;
    format!("{:08X}{salt:08X}", since_epoch.as_secs() as u32)
}

/// The Maildir's unique-name rule (time, microseconds, process id, a unique part):
/// `<seconds>.M<microseconds>P<pid>Q<queue id>.fake-smtp`.
fn maildir_name(stored: &StoredMessage) -> String {
    let since_epoch = stored
        .received_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}.fake-smtp",
        since_epoch.as_secs(),
        since_epoch.subsec_micros(),
        std::process::id(),
        stored.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_runs_started_in_the_same_second_get_different_queue_ids() {
        let now = SystemTime::now();
        let first = queue_id_prefix(now);
        let second = queue_id_prefix(now);
        assert_eq!(first.len(), 16);
        assert_eq!(first[..8], second[..8], "both start with the second");
        assert_ne!(first, second, "the salt differs");
    }

    #[test]
    fn queue_ids_are_the_prefix_and_at_least_six_hex_digits() {
        // The digits themselves are text::push_hex's (tested there).
        for serial in [1, 0xFFFFFF, 0x1000000] {
            assert_eq!(
                queue_id("6B0CF521", serial),
                format!("6B0CF521{serial:06X}"),
                "{serial}"
            );
        }
    }
}
