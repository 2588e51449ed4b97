//! The run's log file: `$TETHER_HOME/<agent>_wrapper/<session-id>.log`.
//!
//! Connection events, reconnect tries and resize decisions go there; never
//! keys, and never anything on the terminal (which belongs to the agent).
//! `TETHER_LOG` sets the filter (default `info`). The folders are created
//! 0700 and the log 0600: it names the sessions and the relay.
//!
//! Lines that a peer can trigger at will (a viewer's RESIZE, dropped input)
//! go through a [`Throttle`], so that a flood cannot fill the disk.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Mode of the folders tether creates.
const DIR_MODE: u32 = 0o700;
/// Mode of the files tether creates.
const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its missing parents) with mode 0700; an existing
/// folder is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Opens the log and installs it as the tracing subscriber; returns its path,
/// or `None` when it cannot be created (tether then runs without a log).
pub fn init(home: &Path, agent: &str, session_id: &str) -> Option<PathBuf> {
    let path = open(home, agent, session_id).ok()?;
    let file = OpenOptions::new().append(true).open(&path).ok()?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(path)
}

/// Creates the log's folder (0700) and file (0600), also tightening both
/// when an older tether left them readable by others.
fn open(home: &Path, agent: &str, session_id: &str) -> std::io::Result<PathBuf> {
    let dir = home.join(format!("{}_wrapper", sanitize(agent)));
    create_private_dir(&dir)?;
    std::fs::set_permissions(&dir, Permissions::from_mode(DIR_MODE))?;
    let path = dir.join(format!("{}.log", sanitize(session_id)));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(&path)?;
    // The mode above applies only to a new file: enforce it.
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(path)
}

/// Keeps a file-name component safe: letters, digits, `-`, `_`, `.`.
fn sanitize(part: &str) -> String {
    let cleaned: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.trim_start_matches('.') {
        "" => "session".to_string(),
        rest => rest.to_string(),
    }
}

/// Lets a repeated log line through at most once per interval and counts
/// the ones held back, so that the next line can say how many there were.
///
/// Pure: callers pass `now`.
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    /// At most one line per second.
    pub const PER_SECOND: Self = Self::new(Duration::from_secs(1));

    /// At most one line per `every`.
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// `Some(n)` when a line may be written at `now`, `n` being how many
    /// were held back since the last one; `None` (and counted) otherwise.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_names_safe() {
        assert_eq!(sanitize("claude"), "claude");
        assert_eq!(sanitize("../etc/x"), "_etc_x");
        assert_eq!(sanitize(""), "session");
    }

    #[test]
    fn throttle_lets_one_line_a_second_through_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut throttle = Throttle::PER_SECOND;
        assert_eq!(throttle.allow(t0), Some(0));
        let held = (1..=1000)
            .filter(|i| throttle.allow(t0 + Duration::from_micros(*i)).is_some())
            .count();
        assert_eq!(held, 0, "a flood within the second writes nothing more");
        assert_eq!(throttle.allow(t0 + Duration::from_secs(1)), Some(1000));
        assert_eq!(throttle.allow(t0 + Duration::from_millis(1500)), None);
        assert_eq!(throttle.allow(t0 + Duration::from_secs(3)), Some(1));
    }

    #[test]
    fn log_folder_and_file_are_private() {
        let home = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // An older tether's folder and log, readable by everyone.
        let dir = home.path().join("sh_wrapper");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("old.log"), "x").unwrap();
        std::fs::set_permissions(dir.join("old.log"), Permissions::from_mode(0o644)).unwrap();

        let old = open(home.path(), "sh", "old").unwrap();
        assert_eq!((mode(&dir), mode(&old)), (0o700, 0o600));
        let new = open(&home.path().join("a/b"), "sh", "new").unwrap();
        assert_eq!(mode(&new), 0o600);
        assert_eq!(mode(&home.path().join("a/b/sh_wrapper")), 0o700);
    }
}
