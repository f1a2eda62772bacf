//! The web sink's list of messages: one [`Entry`] per message, newest first, with read
//! state and tags, found by id in constant time. It holds no message content: that stays in
//! the mailbox (memory, within its budget) or the Maildir ([`Location`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use super::entry::{Headline, Location};
use crate::mailbox::StoredMessage;

/// Failed and warned client checks of a message and its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckCounts {
    pub fail: u32,
    pub warn: u32,
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The queue id: Mailpit's `ID`.
    pub id: String,
    pub created: SystemTime,
    /// Octets as received.
    pub size: u64,
    pub headline: Headline,
    pub read: bool,
    pub tags: Vec<String>,
    /// The user the client authenticated as, if it did (Mailpit's `Username`).
    pub username: String,
    /// The envelope's reverse path, without angle brackets (Mailpit's `ReturnPath`).
    pub return_path: String,
    /// The session that delivered it, while known (a restart loses it unless the Maildir's
    /// transcript link names it).
    pub session_id: Option<u64>,
    /// The session file in the Maildir's `sessions/`, with `--store`.
    pub session_file: Option<String>,
    pub listener: String,
    /// `None` when not judged (`--checks off`, or read back from a Maildir).
    pub checks: Option<CheckCounts>,
    pub location: Location,
}

impl Entry {
    /// An entry for a message the server just accepted (parses its header and text). With
    /// `share_summary`, the same parse gives the message its summary (for its event).
    pub fn of(message: &Arc<StoredMessage>, share_summary: bool) -> Entry {
        let checks = message.checks().map(|report| {
            let counts = report.counts();
            CheckCounts {
                fail: counts.fail,
                warn: counts.warn,
            }
        });
        let reverse = message.mail_from();
        Entry {
            id: message.id.clone(),
            created: message.received_at,
            size: message.raw.len() as u64,
            headline: if share_summary {
                let (headline, summary) = Headline::read_with_summary(&message.raw);
                message.offer_summary(summary);
                headline
            } else {
                Headline::read(&message.raw)
            },
            read: false,
            tags: Vec::new(),
            username: message.authenticated.clone().unwrap_or_default(),
            return_path: strip_angles(&reverse).to_owned(),
            session_id: Some(message.session_id),
            session_file: None,
            listener: message.listener.to_string(),
            checks,
            location: Location::of(message),
        }
    }

    #[cfg(test)]
    pub fn for_test(id: &str) -> Entry {
        Entry {
            id: id.to_owned(),
            created: SystemTime::now(),
            size: 100,
            headline: Headline::default(),
            read: false,
            tags: Vec::new(),
            username: String::new(),
            return_path: String::new(),
            session_id: None,
            session_file: None,
            listener: "smtp".to_owned(),
            checks: None,
            location: Location::default(),
        }
    }
}

pub fn strip_angles(path: &str) -> &str {
    path.trim()
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path)
}

/// Arrival order: the time received (microseconds), then a counter for ties.
type Key = (u128, u64);

#[derive(Debug, Default)]
pub struct Index {
    entries: BTreeMap<Key, Entry>,
    by_id: HashMap<String, Key>,
    unread: usize,
    next: u64,
    /// The estimated memory the entries hold.
    bytes: usize,
}

impl Entry {
    /// The memory this entry holds, estimated: the struct, its strings, its place in the
    /// two maps.
    pub fn approx_bytes(&self) -> usize {
        let h = &self.headline;
        let contacts: usize = h
            .from
            .iter()
            .chain(&h.to)
            .chain(&h.cc)
            .chain(&h.bcc)
            .chain(&h.reply_to)
            .map(|c| std::mem::size_of_val(c) + c.name.capacity() + c.address.capacity())
            .sum();
        std::mem::size_of::<Entry>()
            + 2 * self.id.capacity()
            + contacts
            + h.subject.capacity()
            + h.subject_lower.capacity()
            + h.message_id.capacity()
            + h.snippet.capacity()
            + h.search_text.capacity()
            + self.username.capacity()
            + self.return_path.capacity()
            + self.listener.capacity()
            + self.tags.iter().map(|t| t.capacity() + 24).sum::<usize>()
            + self.location.raw_path.as_ref().map_or(0, |p| p.capacity())
            + self.location.delivered.as_ref().map_or(0, |p| p.capacity())
            // The maps' nodes and the id key.
            + 96
    }
}

impl Index {
    /// Adds an entry; an id already listed keeps its read state and tags and takes the new
    /// location (a message both read back from the Maildir and reported by the server).
    pub fn insert(&mut self, mut entry: Entry) -> bool {
        if let Some(key) = self.by_id.get(&entry.id) {
            if let Some(existing) = self.entries.get_mut(key) {
                if entry.location.memory.strong_count() > 0 {
                    existing.location.memory = entry.location.memory;
                }
                existing.checks = existing.checks.or(entry.checks);
                existing.session_id = existing.session_id.or(entry.session_id);
            }
            return false;
        }
        self.next += 1;
        let micros = entry
            .created
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        let key = (micros, self.next);
        if !entry.read {
            self.unread += 1;
        }
        entry.tags.sort();
        self.bytes += entry.approx_bytes();
        self.by_id.insert(entry.id.clone(), key);
        self.entries.insert(key, entry);
        true
    }

    pub fn remove(&mut self, id: &str) -> Option<Entry> {
        let key = self.by_id.remove(id)?;
        let entry = self.entries.remove(&key)?;
        if !entry.read {
            self.unread -= 1;
        }
        self.bytes = self.bytes.saturating_sub(entry.approx_bytes());
        Some(entry)
    }

    pub fn clear(&mut self) -> Vec<Entry> {
        self.by_id.clear();
        self.unread = 0;
        self.bytes = 0;
        std::mem::take(&mut self.entries).into_values().collect()
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(self.by_id.get(id)?)
    }

    /// Tags of a message, replaced (sorted, without duplicates or empty ones).
    pub fn set_tags(&mut self, id: &str, tags: &[String]) -> bool {
        let Some(entry) = self.by_id.get(id).and_then(|k| self.entries.get_mut(k)) else {
            return false;
        };
        let mut tags: Vec<String> = tags
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort();
        tags.dedup();
        entry.tags = tags;
        true
    }

    /// Renames a tag on every message (or removes it, with `None`); returns how many changed.
    pub fn rename_tag(&mut self, from: &str, to: Option<&str>) -> usize {
        let mut changed = 0;
        for entry in self.entries.values_mut() {
            let before = entry.tags.len();
            entry.tags.retain(|t| t != from);
            if entry.tags.len() != before {
                changed += 1;
                if let Some(to) = to {
                    entry.tags.push(to.to_owned());
                    entry.tags.sort();
                    entry.tags.dedup();
                }
            }
        }
        changed
    }

    /// Sets the read state; returns the entry when it changed.
    pub fn set_read(&mut self, id: &str, read: bool) -> Option<&mut Entry> {
        let entry = self.by_id.get(id).and_then(|k| self.entries.get_mut(k))?;
        if entry.read == read {
            return None;
        }
        entry.read = read;
        if read {
            self.unread -= 1;
        } else {
            self.unread += 1;
        }
        Some(entry)
    }

    pub fn newest_first(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values().rev()
    }

    pub fn ids(&self) -> Vec<String> {
        self.entries.values().map(|e| e.id.clone()).collect()
    }

    /// The estimated memory of every entry (tags changed since insertion aside).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn total(&self) -> usize {
        self.entries.len()
    }

    pub fn unread(&self) -> usize {
        self.unread
    }

    /// Every tag in use and how many messages carry it, sorted by name.
    pub fn tags(&self) -> BTreeMap<String, usize> {
        let mut tags = BTreeMap::new();
        for tag in self.entries.values().flat_map(|e| &e.tags) {
            *tags.entry(tag.clone()).or_insert(0) += 1;
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(id: &str, seconds: u64) -> Entry {
        let mut entry = Entry::for_test(id);
        entry.created = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        entry
    }

    #[test]
    fn newest_first_and_unread_counts() {
        let mut index = Index::default();
        index.insert(at("b", 20));
        index.insert(at("a", 10));
        index.insert(at("c", 20));
        let order: Vec<_> = index.newest_first().map(|e| e.id.as_str()).collect();
        assert_eq!(order, ["c", "b", "a"]);
        assert_eq!(index.unread(), 3);
        assert!(index.set_read("b", true).is_some());
        assert!(index.set_read("b", true).is_none());
        assert_eq!(index.unread(), 2);
        assert!(index.remove("a").is_some());
        assert_eq!(index.unread(), 1);
        assert_eq!(
            index.newest_first().next().map(|e| e.id.as_str()),
            Some("c")
        );
        assert!(!index.insert(at("c", 30)), "an id is listed once");
        assert_eq!(index.total(), 2);
    }

    #[test]
    fn tags_are_set_renamed_and_counted() {
        let mut index = Index::default();
        index.insert(at("a", 1));
        index.insert(at("b", 2));
        index.set_tags("a", &["x".into(), " y ".into(), "x".into(), "".into()]);
        index.set_tags("b", &["x".into()]);
        assert_eq!(
            index.get("a").map(|e| e.tags.clone()),
            Some(vec!["x".into(), "y".into()])
        );
        assert_eq!(index.tags().get("x"), Some(&2));
        assert_eq!(index.rename_tag("x", Some("z")), 2);
        assert_eq!(index.rename_tag("y", None), 1);
        assert_eq!(
            index.tags().into_iter().collect::<Vec<_>>(),
            [("z".to_owned(), 2)]
        );
    }
}
