//! Machine-readable events: what `--json` prints, one JSON object per line, and what an
//! embedding program can subscribe to.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use smtp_conformance::{Counts, Report, Status};

use crate::mailbox::{SessionRecord, StoredMessage, Summary};

// An event lives for one emit (built, serialised, dropped): boxing the large message variant
// would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
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
        /// With `--store`: the Maildir file (`new/`, as a mail reader reads it).
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// With `--store`: the octets exactly as received (`raw/<id>.eml`).
        #[serde(skip_serializing_if = "Option::is_none")]
        raw_path: Option<String>,
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
            peer: crate::text::socket_addr(stored.peer),
            mail_from: stored.mail_from(),
            rcpt_to: stored.rcpt_to(),
            octets: stored.raw.len(),
            tls: stored.tls,
            authenticated: stored.authenticated.clone(),
            summary: stored.summary().clone(),
            path: stored.path.as_ref().map(|p| p.display().to_string()),
            raw_path: stored.raw_path.as_ref().map(|p| p.display().to_string()),
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
            peer: crate::text::socket_addr(record.peer),
            duration_ms: record.duration_ms,
            message_count: record.message_count,
            messages: record.messages.clone(),
            close_reason: record.close_reason,
            checks: Verdict::of(&record.checks),
            notes,
        }
    }
}

impl ServerEvent {
    /// The event as one line of JSON (what `--json` prints), with its time: `"time"`, in
    /// RFC 3339 UTC with milliseconds, right after the `"event"` name.
    pub fn to_json_line(&self, at: SystemTime) -> String {
        let Ok(json) = serde_json::to_string(self) else {
            return String::new();
        };
        // `{"event":"<name>"`: the tag comes first and its kebab-case name has no quote.
        let name_end = json
            .strip_prefix("{\"event\":\"")
            .and_then(|rest| rest.find('"'))
            .map(|end| "{\"event\":\"".len() + end + 1);
        let Some(name_end) = name_end else {
            return json;
        };
        // One allocation for the line (this runs once per message with --json).
        let mut line = String::with_capacity(json.len() + 40);
        line.push_str(&json[..name_end]);
        line.push_str(",\"time\":\"");
        write_rfc3339(&mut line, at);
        line.push('"');
        line.push_str(&json[name_end..]);
        line
    }
}

/// A time as RFC 3339 in UTC with milliseconds (`2026-11-30T06:41:26.123Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let mut text = String::with_capacity(24);
    write_rfc3339(&mut text, time);
    text
}

fn write_rfc3339(out: &mut String, time: SystemTime) {
    use crate::text::push_padded;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (year, month, day) = crate::civil::civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    // By hand, not `write!`: the formatting machinery cost about 2,000 instructions a time,
    // paid by every JSON event and web summary (callgrind, ci/bench.sh row CJ).
    push_padded(out, year.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(month), 2);
    out.push('-');
    push_padded(out, u64::from(day), 2);
    out.push('T');
    push_padded(out, of_day / 3600, 2);
    out.push(':');
    push_padded(out, of_day / 60 % 60, 2);
    out.push(':');
    push_padded(out, of_day % 60, 2);
    out.push('.');
    push_padded(out, u64::from(since.subsec_millis()), 3);
    out.push('Z');
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    }

    #[test]
    fn rfc3339_in_utc_with_milliseconds() {
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        // `date -u -d @951782400`: a leap day of a century divisible by 400.
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_709_251_199, 999)), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(at(1_796_017_387, 42)), "2026-11-30T05:43:07.042Z");
        assert_eq!(rfc3339(at(4_102_444_800, 0)), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_time_follows_the_event_name() {
        let event = ServerEvent::ShuttingDown { open_sessions: 2 };
        assert_eq!(
            event.to_json_line(at(0, 7)),
            r#"{"event":"shutting-down","time":"1970-01-01T00:00:00.007Z","open_sessions":2}"#
        );
    }
}
