//! `$TETHER_HOME` and its `config.json`, shared with the `tether` CLI.
//!
//! `config.json` (mode 0600) is a JSON object: `{"api_key": "...",
//! "default_agent"?: "...", "relay_url"?: "...", "api_url"?: "..."}`; unknown
//! fields are kept when the relay writes its local-dev key (and its URLs,
//! when the file names none).

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

/// Saves the local-dev `api_key` into the config at `path`, and `api_url` /
/// `relay_url` for the relay at `base` (`http://HOST:PORT`) unless already
/// set; other fields are kept. Mode 0600.
pub fn save_local_dev(path: &Path, api_key: &str, base: &str) -> std::io::Result<()> {
    let mut config = read_config(path);
    config.insert("api_key".into(), Value::String(api_key.to_string()));
    config
        .entry("api_url")
        .or_insert_with(|| Value::String(base.to_string()));
    let relay = format!("{}/agent", base.replacen("http", "ws", 1));
    config
        .entry("relay_url")
        .or_insert_with(|| Value::String(relay));
    write_config(path, &config)
}

/// Writes the config object to `path` atomically with mode 0600.
fn write_config(path: &Path, config: &Map<String, Value>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(config).map_err(std::io::Error::other)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dev_config_keeps_existing_fields_and_urls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"default_agent":"codex","api_url":"https://mine"}"#,
        )
        .unwrap();
        save_local_dev(&path, "k", "http://127.0.0.1:9").unwrap();
        let config = read_config(&path);
        assert_eq!(config["api_key"], "k");
        assert_eq!(config["default_agent"], "codex");
        assert_eq!(config["api_url"], "https://mine");
        assert_eq!(config["relay_url"], "ws://127.0.0.1:9/agent");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
