//! Lists the messages a Maildir already holds, so that `--store` mail survives a restart in
//! the web sink: each `raw/<id>.eml` is a message; its delivered copy in `new/` (unread) or
//! `cur/` with the `S` flag (read) gives its read state and time; its transcript link names
//! its session's file. Files that do not fit are skipped with a log line, never fatal.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::entry::{Headline, Location};
use super::index::{strip_angles, Entry};
use crate::mailbox::maildir::Maildir;

/// The delivered copies by queue id: their path and whether they are flagged seen.
fn delivered_copies(root: &Path) -> HashMap<String, (PathBuf, bool, Option<SystemTime>)> {
    let mut copies = HashMap::new();
    for folder in ["new", "cur"] {
        let Ok(dir) = fs::read_dir(root.join(folder)) else {
            continue;
        };
        for file in dir.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let Some(id) = queue_id_of(&name) else {
                continue;
            };
            let seen = folder == "cur"
                && name
                    .split_once(":2,")
                    .is_some_and(|(_, flags)| flags.contains('S'));
            copies.insert(id.to_owned(), (file.path(), seen, time_of(&name)));
        }
    }
    copies
}

/// `<seconds>.M<micros>P<pid>Q<queue id>.fake-smtp[:2,flags]` → the queue id.
fn queue_id_of(name: &str) -> Option<&str> {
    let after = &name[name.find('Q')? + 1..];
    let end = after.find(".fake-smtp")?;
    Some(&after[..end])
}

/// The delivery time the Maildir name records.
fn time_of(name: &str) -> Option<SystemTime> {
    let (seconds, rest) = name.split_once(".M")?;
    let micros = rest.split('P').next()?;
    let seconds: u64 = seconds.parse().ok()?;
    let micros: u64 = micros.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds) + Duration::from_micros(micros))
}

/// Every message of the Maildir as an index entry, oldest first.
pub fn entries(maildir: &Maildir) -> Vec<Entry> {
    let root = maildir.root();
    let copies = delivered_copies(root);
    let Ok(raw_dir) = fs::read_dir(root.join("raw")) else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    for file in raw_dir.flatten() {
        let path = file.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".eml"))
            .map(str::to_owned)
        else {
            continue;
        };
        let raw = match fs::read(&path) {
            Ok(raw) => raw,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "web: skipped an unreadable message");
                continue;
            }
        };
        let (delivered, read, time) = match copies.get(&id) {
            Some((path, seen, time)) => (Some(path.clone()), *seen, *time),
            None => (None, false, None),
        };
        let created = time
            .or_else(|| file.metadata().and_then(|m| m.modified()).ok())
            .unwrap_or(UNIX_EPOCH);
        let session_file = fs::read_link(root.join("transcripts").join(format!("{id}.json")))
            .ok()
            .and_then(|target| target.file_name().map(|n| n.to_string_lossy().into_owned()));
        let return_path = delivered
            .as_deref()
            .and_then(return_path_of)
            .unwrap_or_default();
        entries.push(Entry {
            id,
            created,
            size: raw.len() as u64,
            headline: Headline::read(&raw),
            read,
            tags: Vec::new(),
            username: String::new(),
            return_path,
            session_id: None,
            session_file,
            listener: String::new(),
            checks: None,
            location: Location {
                memory: std::sync::Weak::new(),
                raw_path: Some(path),
                delivered,
            },
        });
    }
    entries.sort_by_key(|e| e.created);
    entries
}

/// The delivered copy's `Return-Path:` (its first line).
fn return_path_of(delivered: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = fs::File::open(delivered).ok()?;
    let mut first = String::new();
    std::io::BufReader::new(file).read_line(&mut first).ok()?;
    let value = first.strip_prefix("Return-Path:")?.trim();
    Some(strip_angles(value).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_names_give_id_and_time() {
        let name = "1795996800.M123456P42Q69A1B2C3D4E5F6A7000001.fake-smtp:2,S";
        assert_eq!(queue_id_of(name), Some("69A1B2C3D4E5F6A7000001"));
        assert_eq!(
            time_of(name),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_996_800) + Duration::from_micros(123_456))
        );
        assert_eq!(queue_id_of("other-file"), None);
    }
}
