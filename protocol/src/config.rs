//! Tether's home directory and its `config.json`, read and written by both
//! binaries: `tether` keeps its key and default agent there, and
//! `tether-relay` saves its local-dev key there on first start.
//!
//! `$TETHER_HOME` (default `~/.tether`) holds `config.json`, mode 0600:
//! `{"api_key": "...", "default_agent": "claude", "relay_url": "...", "api_url": "..."}`.
//! Every field is optional and unknown fields are kept when either binary
//! rewrites the file.
//!
//! This module does file I/O: it is built only with the `config` feature
//! (native builds of the two binaries), never for the browser.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the configuration file inside Tether's home.
pub const CONFIG_FILE: &str = "config.json";

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `$TETHER_HOME` nor `$HOME` is set.
    #[error("cannot find Tether's home: set TETHER_HOME or HOME")]
    NoHome,
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("{path} is not valid JSON ({source}); fix or delete it")]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// The contents of `config.json`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The API key `tether` authenticates with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Agent run when `--agent` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<String>,
    /// Relay agent endpoint (`ws://…/agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_url: Option<String>,
    /// REST API base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// Fields written by others, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Config")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("default_agent", &self.default_agent)
            .field("relay_url", &self.relay_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// Tether's home: `$TETHER_HOME`, else `$HOME/.tether`.
pub fn tether_home() -> Result<PathBuf, ConfigError> {
    if let Some(home) = std::env::var_os("TETHER_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(ConfigError::NoHome)?;
    Ok(PathBuf::from(home).join(".tether"))
}

impl Config {
    /// Takes the relay's local-dev `api_key`, and `api_url` / `relay_url` for
    /// the relay at `base` (`http://HOST:PORT`) unless already set.
    ///
    /// ```
    /// let mut config = protocol::config::Config::default();
    /// config.adopt_local_relay("k", "http://127.0.0.1:9");
    /// assert_eq!(config.relay_url.as_deref(), Some("ws://127.0.0.1:9/agent"));
    /// ```
    pub fn adopt_local_relay(&mut self, api_key: &str, base: &str) {
        self.api_key = Some(api_key.to_string());
        self.api_url.get_or_insert_with(|| base.to_string());
        self.relay_url
            .get_or_insert_with(|| format!("{}/agent", base.replacen("http", "ws", 1)));
    }

    /// Reads `config.json` from `home`; a missing file is an empty config.
    pub fn load(home: &Path) -> Result<Self, ConfigError> {
        let path = home.join(CONFIG_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| ConfigError::Json { path, source })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }

    /// Writes `config.json` into `home` with mode 0600 (created if needed),
    /// atomically: a temporary file is written and renamed over the old one.
    pub fn save(&self, home: &Path) -> Result<PathBuf, ConfigError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ConfigError::Io { path, source }
        };
        fs::create_dir_all(home).map_err(io(home))?;
        let path = home.join(CONFIG_FILE);
        let tmp = home.join(format!(".{CONFIG_FILE}.{}.tmp", std::process::id()));
        let json = serde_json::to_vec_pretty(self).expect("config serializes");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        // The mode above applies only to a new file: enforce it.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io(&tmp))?;
        file.write_all(&json)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
    }

    #[test]
    fn save_keeps_unknown_fields_and_sets_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        fs::write(
            home.join(CONFIG_FILE),
            r#"{"api_key":"k1","user":"local","nested":{"a":1}}"#,
        )
        .unwrap();
        let mut config = Config::load(&home).unwrap();
        assert_eq!(config.api_key.as_deref(), Some("k1"));
        config.default_agent = Some("codex".into());
        let path = config.save(&home).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let value: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(value["user"], "local");
        assert_eq!(value["nested"]["a"], 1);
        assert_eq!(value["default_agent"], "codex");
        assert_eq!(value["api_key"], "k1");
    }

    #[test]
    fn bad_json_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CONFIG_FILE), "{not json").unwrap();
        let err = Config::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn local_relay_keeps_the_urls_already_set() {
        let mut config: Config =
            serde_json::from_str(r#"{"default_agent":"codex","api_url":"https://mine"}"#).unwrap();
        config.adopt_local_relay("k", "http://127.0.0.1:9");
        assert_eq!(config.api_key.as_deref(), Some("k"));
        assert_eq!(config.default_agent.as_deref(), Some("codex"));
        assert_eq!(config.api_url.as_deref(), Some("https://mine"));
        assert_eq!(config.relay_url.as_deref(), Some("ws://127.0.0.1:9/agent"));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let config = Config {
            api_key: Some("secret-key".into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("secret-key"));
    }
}
