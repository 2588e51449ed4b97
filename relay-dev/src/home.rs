//! `$TETHER_HOME` and its `config.json`, shared with the `tether` CLI.
//!
//! `config.json` (mode 0600) is a JSON object: `{"api_key": "...",
//! "default_agent"?: "...", "relay_url"?: "...", "api_url"?: "..."}`; unknown
//! fields are kept when the relay writes its local-dev key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// `$TETHER_HOME`, else `~/.tether`.
pub fn tether_home() -> PathBuf {
    if let Some(home) = std::env::var_os("TETHER_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    let user_home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    user_home.join(".tether")
}

/// `$TETHER_HOME/config.json`.
pub fn config_path() -> PathBuf {
    tether_home().join("config.json")
}

/// The config object at `path` (empty when missing or unreadable).
pub fn read_config(path: &Path) -> Map<String, Value> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .unwrap_or_default()
}

/// The `api_key` saved at `path`, if any.
pub fn saved_api_key(path: &Path) -> Option<String> {
    read_config(path)
        .get("api_key")?
        .as_str()
        .map(str::to_string)
}

/// Saves `api_key` into the config at `path`, keeping the other fields; mode 0600.
pub fn save_api_key(path: &Path, api_key: &str) -> std::io::Result<()> {
    let mut config = read_config(path);
    config.insert("api_key".into(), Value::String(api_key.to_string()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(&Value::Object(config)).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(&json)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}
