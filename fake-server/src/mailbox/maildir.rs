//! Messages on disk in Maildir layout (`tmp/`, `new/`, `cur/`), each fsynced before the
//! server acknowledges it. `new/` holds the copy mail readers read (LF line ends, the envelope
//! in `Return-Path` and `X-Original-To`: see [`super::delivery`]); `raw/<queue id>.eml` holds
//! the octets exactly as received, which a conformance tool needs. Each session's transcript
//! (with its check results) is written once, when it ends, to `sessions/<run>-<session>.json`,
//! and `transcripts/<queue id>.json` links a message to the transcript of the session that
//! sent it.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("cannot use {path} as a Maildir: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl MaildirError {
    /// The file system is full (or a quota is reached): RFC 3463's 4.3.1, "mail system
    /// full", not a local error.
    pub fn is_full(&self) -> bool {
        match self {
            MaildirError::Create { source, .. } | MaildirError::Write { source, .. } => matches!(
                source.kind(),
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Creates the folders if they are missing.
    pub fn open(root: &Path) -> Result<Maildir, MaildirError> {
        for sub in ["tmp", "new", "cur", "raw", "transcripts", "sessions"] {
            let path = root.join(sub);
            fs::create_dir_all(&path).map_err(|source| MaildirError::Create { path, source })?;
        }
        // An existing Maildir on a read-only file system opens fine and then refuses every
        // message: find out now, before the server starts (issue 10, item 8).
        let probe = root
            .join("tmp")
            .join(format!(".write-probe-{}", std::process::id()));
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|source| MaildirError::Create {
                path: root.to_owned(),
                source,
            })?;
        Ok(Maildir {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes the message durably: to `tmp/`, fsync, link into `new/`, fsync the folder.
    /// Returns the path in `new/`.
    ///
    /// A delivered file is never replaced: the move into `new/` is a hard link, which fails
    /// if the name is taken (a plain `rename` would silently overwrite an acknowledged
    /// message). Whatever fails, nothing is left behind in `tmp/`.
    pub fn deliver(
        &self,
        name: &str,
        write: impl Fn(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, MaildirError> {
        self.write_durably("new", name, write)
    }

    /// Keeps the octets exactly as received in `raw/<queue id>.eml`, with the same guarantees
    /// as [`Maildir::deliver`] (fsynced, never replaced, nothing left in `tmp/`).
    pub fn keep_raw(&self, id: &str, raw: &[u8]) -> Result<PathBuf, MaildirError> {
        self.write_durably("raw", &format!("{id}.eml"), |out| out.write_all(raw))
    }

    fn write_durably(
        &self,
        folder: &str,
        name: &str,
        write: impl Fn(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<PathBuf, MaildirError> {
        let tmp = self.root.join("tmp").join(name);
        let target = self.root.join(folder).join(name);
        let write_file = |path: &Path| -> std::io::Result<()> {
            let file = OpenOptions::new().write(true).create_new(true).open(path)?;
            // Buffered: the delivered copy is written in many small pieces (one per line).
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
            write(&mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        };
        if let Err(source) = write_file(&tmp) {
            // `create_new` failing means another writer owns that name: leave its file alone.
            if source.kind() != ErrorKind::AlreadyExists {
                let _ = fs::remove_file(&tmp);
            }
            return Err(MaildirError::Write { path: tmp, source });
        }
        let moved = link_without_replacing(&tmp, &target);
        let _ = fs::remove_file(&tmp);
        moved.map_err(|source| MaildirError::Write {
            path: target.clone(),
            source,
        })?;
        sync_dir(&self.root.join(folder))?;
        Ok(target)
    }

    /// Writes a finished session's JSON (`sessions/<file>`), once.
    pub fn write_session(&self, file: &str, json: &[u8]) -> Result<PathBuf, MaildirError> {
        let path = self.root.join("sessions").join(file);
        let tmp = self.root.join("tmp").join(file);
        let result = (|| -> std::io::Result<()> {
            let mut out = File::create(&tmp)?;
            out.write_all(json)?;
            fs::rename(&tmp, &path)
        })();
        if let Err(source) = result {
            let _ = fs::remove_file(&tmp);
            return Err(MaildirError::Write { path, source });
        }
        Ok(path)
    }

    /// Links a message to its session's transcript: `transcripts/<queue id>.json`, a relative
    /// symbolic link to `sessions/<file>`, which exists once the session has ended.
    pub fn link_transcript(&self, id: &str, session_file: &str) -> Result<(), MaildirError> {
        let link = self.root.join("transcripts").join(format!("{id}.json"));
        let target = Path::new("..").join("sessions").join(session_file);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|source| MaildirError::Write { path: link, source })
    }
}

impl Maildir {
    /// Removes a message's files: its delivered copy (in `new/` or `cur/`), its raw copy and
    /// its transcript link (the session's file stays: other messages may share it). Files
    /// already gone are not an error.
    pub fn remove_message(&self, id: &str, delivered: Option<&Path>) -> std::io::Result<()> {
        let gone_ok = |result: std::io::Result<()>| match result {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        };
        if let Some(delivered) = delivered {
            gone_ok(fs::remove_file(delivered))?;
        }
        gone_ok(fs::remove_file(
            self.root.join("raw").join(format!("{id}.eml")),
        ))?;
        gone_ok(fs::remove_file(
            self.root.join("transcripts").join(format!("{id}.json")),
        ))
    }

    /// Marks a delivered copy seen, as a mail reader does: moved from `new/` to `cur/` with
    /// the `S` flag (`:2,S`), or back to unseen without it. Returns the new path.
    pub fn set_seen(&self, delivered: &Path, seen: bool) -> std::io::Result<PathBuf> {
        let name = delivered
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidInput, "not a Maildir file"))?;
        let (base, flags) = match name.split_once(":2,") {
            Some((base, flags)) => (base, flags),
            None => (name, ""),
        };
        let mut flags: Vec<char> = flags.chars().filter(|&c| c != 'S').collect();
        if seen {
            flags.push('S');
        }
        flags.sort_unstable();
        let flags: String = flags.into_iter().collect();
        let target = self.root.join("cur").join(format!("{base}:2,{flags}"));
        if target != delivered {
            fs::rename(delivered, &target)?;
        }
        Ok(target)
    }
}

/// Makes `to` name the file `from` names, failing with `AlreadyExists` if `to` exists. A hard
/// link does that atomically; on a file system without hard links, a rename guarded by an
/// existence check is the fallback (a narrow race, but only there).
fn link_without_replacing(from: &Path, to: &Path) -> std::io::Result<()> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Err(error),
        Err(_) if to.exists() => Err(ErrorKind::AlreadyExists.into()),
        Err(_) => fs::rename(from, to),
    }
}

fn sync_dir(path: &Path) -> Result<(), MaildirError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| MaildirError::Write {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_maildir(name: &str) -> Maildir {
        let dir =
            std::env::temp_dir().join(format!("fake-smtp-maildir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Maildir::open(&dir).expect("maildir")
    }

    #[test]
    fn a_second_delivery_under_a_taken_name_fails_and_keeps_the_first() {
        let maildir = temp_maildir("taken");
        let path = maildir
            .deliver("same-name", |out| out.write_all(b"first\n"))
            .expect("first");
        let error = maildir
            .deliver("same-name", |out| out.write_all(b"second\n"))
            .expect_err("the name is taken");
        assert!(error.to_string().contains("exists"), "{error}");
        assert_eq!(fs::read(&path).expect("read"), b"first\n");
        let leftovers = fs::read_dir(maildir.root().join("tmp"))
            .expect("tmp")
            .count();
        assert_eq!(leftovers, 0, "nothing left in tmp/");
        let _ = fs::remove_dir_all(maildir.root());
    }
}
