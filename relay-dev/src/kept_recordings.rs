//! `--keep-recordings DIR` (off by default: terminal data stays in memory
//! unless asked): when a session ends, its recording (what the ring holds,
//! `session::RecordingReader`) is written to `DIR/{id}.cast`; files older
//! than `--keep-recordings-days` go, and the oldest go while all of them
//! together are above `--keep-recordings-bytes`. The recording endpoint
//! serves the file when the session is no longer in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use crate::config::Config;
use crate::session::{RecordingReader, Session};

/// Where ended sessions' recordings are kept, and within what limits.
#[derive(Debug, Clone)]
pub(crate) struct KeptRecordings {
    dir: PathBuf,
    max_bytes: u64,
    max_age: Duration,
}

impl KeptRecordings {
    /// What `--keep-recordings` and its limits ask for; `None` when off.
    pub(crate) fn from_config(config: &Config) -> Option<Self> {
        Some(Self {
            dir: config.keep_recordings.clone()?,
            max_bytes: config.keep_recordings_bytes,
            max_age: Duration::from_secs(config.keep_recordings_days.saturating_mul(86_400)),
        })
    }

    /// The kept recording of session `id`, if there is one.
    pub(crate) fn path_of(&self, id: Uuid) -> Option<PathBuf> {
        let path = self.file(id);
        path.is_file().then_some(path)
    }

    /// Every kept recording: session id, size in bytes and when it was
    /// written (off the async runtime: it reads the directory).
    pub(crate) async fn list(&self) -> std::io::Result<Vec<KeptFile>> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || list_dir(&dir))
            .await
            .map_err(std::io::Error::other)?
    }

    fn file(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.cast"))
    }

    /// Writes `session`'s recording (off the async runtime), then prunes.
    /// A recording larger than the whole budget is not kept. Failures are
    /// logged: the session's end does not depend on them.
    pub(crate) async fn keep(&self, session: Arc<Session>, title: Option<String>) {
        let kept = self.clone();
        let id = session.id;
        let written = tokio::task::spawn_blocking(move || kept.write(session, title)).await;
        match written {
            Ok(Ok(bytes)) => tracing::info!(session = %id, bytes, "recording kept"),
            Ok(Err(err)) => tracing::warn!(session = %id, %err, "recording not kept"),
            Err(err) => tracing::warn!(session = %id, %err, "recording not kept"),
        }
    }

    fn write(&self, session: Arc<Session>, title: Option<String>) -> std::io::Result<u64> {
        use std::io::Write as _;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.file(session.id);
        let part = path.with_extension("cast.part");
        let mut file = std::io::BufWriter::new(std::fs::File::create(&part)?);
        let mut reader = RecordingReader::new(session, title);
        let mut bytes = 0u64;
        while let Some(chunk) = reader.next_chunk() {
            bytes += chunk.len() as u64;
            if bytes > self.max_bytes {
                drop(file);
                let _ = std::fs::remove_file(&part);
                return Err(std::io::Error::other(format!(
                    "larger than --keep-recordings-bytes ({})",
                    self.max_bytes
                )));
            }
            file.write_all(chunk.as_bytes())?;
        }
        file.flush()?;
        drop(file);
        std::fs::rename(&part, &path)?;
        prune(&self.dir, self.max_bytes, self.max_age, SystemTime::now())?;
        Ok(bytes)
    }
}

/// One kept recording's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeptFile {
    /// The session it records.
    pub(crate) id: Uuid,
    /// Its size.
    pub(crate) bytes: u64,
    /// When it was written.
    pub(crate) modified: SystemTime,
}

/// The `{id}.cast` files in `dir` (none when it does not exist yet).
fn list_dir(dir: &Path) -> std::io::Result<Vec<KeptFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".cast"))
            .and_then(|stem| Uuid::parse_str(stem).ok())
        else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_file() {
            files.push(KeptFile {
                id,
                bytes: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(files)
}

/// Deletes the `.cast` files in `dir` older than `max_age` at `now`, then
/// the oldest while the rest are above `max_bytes` together.
fn prune(dir: &Path, max_bytes: u64, max_age: Duration, now: SystemTime) -> std::io::Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "cast") {
            continue;
        }
        let meta = entry.metadata()?;
        let modified = meta.modified().unwrap_or(now);
        files.push((modified, meta.len(), path));
    }
    files.sort();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    for (modified, len, path) in files {
        let old = now.duration_since(modified).unwrap_or_default() > max_age;
        if old || total > max_bytes {
            std::fs::remove_file(&path)?;
            total -= len;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_files_go_then_the_oldest_beyond_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let put = |name: &str, len: usize| std::fs::write(dir.path().join(name), vec![b'x'; len]);
        for (name, len) in [
            ("a.cast", 100),
            ("b.cast", 100),
            ("c.cast", 100),
            ("note.txt", 999),
        ] {
            put(name, len).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let names = || {
            let mut names: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        };
        let day = Duration::from_secs(86_400);
        prune(dir.path(), 250, day, SystemTime::now()).unwrap();
        assert_eq!(names(), ["b.cast", "c.cast", "note.txt"], "the oldest went");
        prune(dir.path(), 1000, day, SystemTime::now() + 2 * day).unwrap();
        assert_eq!(names(), ["note.txt"], "older than the age: gone");
    }

    #[test]
    fn only_session_recordings_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        for name in [
            format!("{id}.cast"),
            format!("{id}.cast.part"),
            "x.cast".into(),
        ] {
            std::fs::write(dir.path().join(name), b"12345").unwrap();
        }
        let files = list_dir(dir.path()).unwrap();
        assert_eq!(
            files.iter().map(|f| (f.id, f.bytes)).collect::<Vec<_>>(),
            [(id, 5)]
        );
        assert!(list_dir(&dir.path().join("none")).unwrap().is_empty());
    }
}
