//! Per-run settings that make Claude Code and Codex announce a wait through
//! the terminal, in a sequence tether's attention rule reads (OSC 9 with the
//! agent's text). Only what the person has not set themselves is added: their
//! settings files are read to see, never written, and their own flags win.
//!
//! * Claude Code: `--settings '{"preferredNotifChannel":"iterm2"}'` (OSC 9),
//!   unless `preferredNotifChannel` is in one of its settings files (or the
//!   legacy `~/.claude.json`), or the person passes `--settings` themselves.
//! * Codex: `-c tui.notifications=true`, `-c tui.notification_method="osc9"`,
//!   `-c tui.notification_condition="always"`, each unless that key is in
//!   `config.toml` (`$CODEX_HOME`, or the project's `.codex/`) or in the
//!   person's own `-c`.

mod claude;
mod codex;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Settings files larger than this are not read (`~/.claude.json` holds
/// per-project history and grows; megabytes are normal, not this).
const MAX_SETTINGS_FILE: u64 = 64 << 20;

/// What tether adds to the agent's command line so that it announces waits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AgentNotify {
    /// Arguments to put before the person's own.
    pub args: Vec<OsString>,
    /// The settings left alone, and why (for the log).
    pub kept: Vec<String>,
}

/// Where the agents keep their settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsPlaces {
    /// The person's home directory.
    pub home: Option<PathBuf>,
    /// The directory the agent starts in (its project settings).
    pub cwd: Option<PathBuf>,
    /// `$CLAUDE_CONFIG_DIR`, when set.
    pub claude_config_dir: Option<PathBuf>,
    /// `$CODEX_HOME`, when set.
    pub codex_home: Option<PathBuf>,
}

impl SettingsPlaces {
    /// The places of this process's environment.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            home: var("HOME"),
            cwd: std::env::current_dir().ok(),
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            codex_home: var("CODEX_HOME"),
        }
    }
}

/// The settings to add for agent `kind` (`claude`, `codex`; nothing for
/// others) started with `agent_args`.
pub fn plan(kind: &str, agent_args: &[OsString], places: &SettingsPlaces) -> AgentNotify {
    match kind {
        "claude" => claude::plan(agent_args, places),
        "codex" => codex::plan(agent_args, places),
        _ => AgentNotify::default(),
    }
}

impl AgentNotify {
    /// Nothing added: `setting` is left as the person has it, for `why`.
    fn left_alone(setting: &str, why: &str) -> Self {
        Self {
            args: Vec::new(),
            kept: vec![format!("{setting}: {why}")],
        }
    }
}

/// Hands the text of each settings file in `paths` that exists to `read`,
/// in turn, until `read` gives a reason to add nothing (`Err`, which this
/// returns). A file that exists but cannot be read is such a reason: what it
/// sets is unknown.
fn scan_settings(
    paths: &[PathBuf],
    mut read: impl FnMut(&Path, &str) -> Result<(), String>,
) -> Result<(), String> {
    for path in paths {
        match read_settings(path) {
            SettingsFile::Missing => {}
            SettingsFile::Text(text) => read(path, &text)?,
            SettingsFile::Unreadable(why) => {
                return Err(format!("{} could not be read ({why})", path.display()));
            }
        }
    }
    Ok(())
}

/// What a settings file holds.
enum SettingsFile {
    /// There is none.
    Missing,
    /// Its text.
    Text(String),
    /// It exists but could not be read (its reason): what it sets is unknown.
    Unreadable(String),
}

fn read_settings(path: &Path) -> SettingsFile {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return SettingsFile::Missing,
        Err(err) => return SettingsFile::Unreadable(err.to_string()),
    };
    let mut text = String::new();
    match file.take(MAX_SETTINGS_FILE + 1).read_to_string(&mut text) {
        Ok(n) if n as u64 > MAX_SETTINGS_FILE => {
            SettingsFile::Unreadable(format!("larger than {MAX_SETTINGS_FILE} bytes"))
        }
        Ok(_) => SettingsFile::Text(text),
        Err(err) => SettingsFile::Unreadable(err.to_string()),
    }
}

/// `dir/name`, when `dir` is known.
fn under(dir: Option<&PathBuf>, name: &str) -> Option<PathBuf> {
    dir.map(|dir| dir.join(name))
}

/// An agent's own directory: `set` (its environment variable), else
/// `~/default`.
fn agent_dir(set: Option<&PathBuf>, home: Option<&PathBuf>, default: &str) -> Option<PathBuf> {
    set.cloned().or_else(|| under(home, default))
}

/// For the agents' tests: the places of a person with `home` (and no
/// `$CLAUDE_CONFIG_DIR` or `$CODEX_HOME`), working in `home/project`.
#[cfg(test)]
fn places_at_home(home: &Path) -> SettingsPlaces {
    SettingsPlaces {
        home: Some(home.to_path_buf()),
        cwd: Some(home.join("project")),
        claude_config_dir: None,
        codex_home: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_agents_get_nothing() {
        let places = SettingsPlaces {
            home: None,
            cwd: None,
            claude_config_dir: None,
            codex_home: None,
        };
        assert_eq!(plan("amp", &[], &places), AgentNotify::default());
    }

    #[test]
    fn settings_files_are_read_within_a_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        assert!(matches!(read_settings(&path), SettingsFile::Missing));
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(read_settings(&path), SettingsFile::Text(t) if t == "{}"));
        assert!(matches!(
            read_settings(dir.path()),
            SettingsFile::Unreadable(_)
        ));
    }
}
