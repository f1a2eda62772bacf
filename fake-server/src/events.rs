//! Machine-readable events: what `--json` prints, one JSON object per line, and what an
//! embedding program can subscribe to.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use smtp_conformance::{Counts, Report, Status};

use crate::mailbox::{SessionRecord, StoredMessage, Summary};

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ServerEvent {
    /// A listener is up, with its real address (port 0 resolved).
    Listening {
        listener: String,
        address: SocketAddr,
    },
    /// A message was accepted (stored, then acknowledged).
    Message {
        id: String,
        session: u64,
        listener: String,
        peer: String,
        mail_from: String,
        rcpt_to: Vec<String>,
        octets: usize,
        tls: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        authenticated: Option<String>,
        #[serde(flatten)]
        summary: Summary,
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// The message checks' verdict: counts per status, and the IDs that failed and warned
        /// (docs/checks.md).
        #[serde(flatten)]
        checks: Verdict,
    },
    /// A session ended.
    Session {
        id: u64,
        listener: String,
        peer: String,
        duration_ms: u64,
        /// Messages accepted in the session.
        message_count: u64,
        /// The ids of the last 100 of them.
        messages: Vec<String>,
        close_reason: Option<smtp_protocol::transcript::CloseReason>,
        /// The session's verdict: every client check (session and message checks), as counts
        /// per status and the IDs that failed and warned (docs/checks.md).
        #[serde(flatten)]
        checks: Verdict,
        /// What the server noted during the session: `ID: text` for observations tied to a
        /// check, the text alone for the others.
        notes: Vec<String>,
    },
    /// Kept messages and session records were dropped from memory to stay within
    /// `--max-memory` (the oldest first).
    Evicted {
        /// The queue ids of the messages dropped.
        messages: Vec<String>,
        /// Session records dropped.
        sessions: u64,
        /// Octets freed (estimated).
        octets: u64,
    },
    /// The server stopped accepting and is finishing its sessions.
    ShuttingDown { open_sessions: usize },
}

/// A report reduced to what a script needs: counts, and which checks failed or warned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    pub checks: Counts,
    pub failed: Vec<&'static str>,
    pub warned: Vec<&'static str>,
}

impl Verdict {
    pub fn of(report: &Report) -> Verdict {
        Verdict {
            checks: report.counts(),
            failed: report.ids(Status::Fail),
            warned: report.ids(Status::Warn),
        }
    }
}

impl ServerEvent {
    pub fn message(stored: &StoredMessage) -> ServerEvent {
        ServerEvent::Message {
            id: stored.id.clone(),
            session: stored.session_id,
            listener: stored.listener.to_string(),
            peer: stored.peer.to_string(),
            mail_from: stored.mail_from(),
            rcpt_to: stored.rcpt_to(),
            octets: stored.raw.len(),
            tls: stored.tls,
            authenticated: stored.authenticated.clone(),
            summary: stored.summary().clone(),
            path: stored.path.as_ref().map(|p| p.display().to_string()),
            checks: stored.checks().map(Verdict::of).unwrap_or_default(),
        }
    }

    pub fn session(record: &SessionRecord) -> ServerEvent {
        use smtp_protocol::transcript::Event;
        let notes = record
            .transcript
            .entries()
            .filter_map(|entry| match &entry.event {
                Event::Note {
                    check: Some(check),
                    text,
                } => Some(format!("{check}: {text}")),
                Event::Note { check: None, text } => Some(text.clone()),
                _ => None,
            })
            .collect();
        ServerEvent::Session {
            id: record.id,
            listener: record.listener.to_string(),
            peer: record.peer.to_string(),
            duration_ms: record.duration_ms,
            message_count: record.message_count,
            messages: record.messages.clone(),
            close_reason: record.close_reason,
            checks: Verdict::of(&record.checks),
            notes,
        }
    }
}

/// Receives every event; called from the server's tasks, so it must be quick.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&ServerEvent) + Send + Sync>);

impl EventSink {
    pub fn new(f: impl Fn(&ServerEvent) + Send + Sync + 'static) -> EventSink {
        EventSink(Arc::new(f))
    }

    pub fn emit(&self, event: &ServerEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
