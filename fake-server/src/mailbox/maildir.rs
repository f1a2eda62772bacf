//! Messages on disk in Maildir layout (`tmp/`, `new/`, `cur/`), each fsynced before the
//! server acknowledges it, with its session transcript as JSON in `transcripts/`.

use std::fs::{self, File};
use std::io::Write;
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

#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

impl Maildir {
    /// Creates the folders if they are missing.
    pub fn open(root: &Path) -> Result<Maildir, MaildirError> {
        for sub in ["tmp", "new", "cur", "transcripts"] {
            let path = root.join(sub);
            fs::create_dir_all(&path).map_err(|source| MaildirError::Create { path, source })?;
        }
        Ok(Maildir {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes the message durably: to `tmp/`, fsync, rename into `new/`, fsync the folder.
    /// Returns the path in `new/`.
    pub fn deliver(&self, name: &str, parts: &[&[u8]]) -> Result<PathBuf, MaildirError> {
        let tmp = self.root.join("tmp").join(name);
        let new = self.root.join("new").join(name);
        let write = |path: &Path| -> std::io::Result<()> {
            let mut file = File::create(path)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()
        };
        write(&tmp).map_err(|source| MaildirError::Write {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &new).map_err(|source| MaildirError::Write {
            path: new.clone(),
            source,
        })?;
        sync_dir(&self.root.join("new"))?;
        Ok(new)
    }

    /// Writes (or replaces) the JSON beside a message, durably.
    pub fn write_transcript(&self, name: &str, json: &[u8]) -> Result<PathBuf, MaildirError> {
        let path = self.root.join("transcripts").join(format!("{name}.json"));
        let tmp = self.root.join("tmp").join(format!("{name}.json"));
        let result = (|| -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(json)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        result.map_err(|source| MaildirError::Write {
            path: path.clone(),
            source,
        })?;
        sync_dir(&self.root.join("transcripts"))?;
        Ok(path)
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
