//! The run's log file: `$TETHER_HOME/<agent>_wrapper/<session-id>.log`.
//!
//! Connection events, reconnect tries and resize decisions go there; never
//! keys, and never anything on the terminal (which belongs to the agent).
//! `TETHER_LOG` sets the filter (default `info`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Opens the log and installs it as the tracing subscriber; returns its path,
/// or `None` when it cannot be created (tether then runs without a log).
pub fn init(home: &Path, agent: &str, session_id: &str) -> Option<PathBuf> {
    let dir = home.join(format!("{}_wrapper", sanitize(agent)));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{}.log", sanitize(session_id)));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
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

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_keeps_names_safe() {
        assert_eq!(super::sanitize("claude"), "claude");
        assert_eq!(super::sanitize("../etc/x"), "_etc_x");
        assert_eq!(super::sanitize(""), "session");
    }
}
