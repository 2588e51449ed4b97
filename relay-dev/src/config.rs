//! The relay's settings, parsed from flags (and `TETHER_*` environment variables).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

/// `tether-relay`: streams terminal sessions from `tether` to browsers.
#[derive(Debug, Parser)]
#[command(name = "tether-relay", version, about)]
pub struct Cli {
    /// What to do; without a command the relay serves.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings.
    #[command(flatten)]
    pub config: Config,
}

/// Commands besides serving.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// `tether-relay keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for a user; the key is the last line printed.
    Create {
        /// The user the key belongs to (created if new).
        #[arg(long)]
        user: String,
    },
    /// List keys (ids, users, state; never the keys).
    List,
    /// Revoke a key by id: new connections fail at once, open ones close within seconds.
    Revoke {
        /// The key id shown by `keys list`.
        id: String,
    },
}

/// Everything the server needs to run.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TETHER_RELAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for `relay.db` and the signing secret; default `$TETHER_HOME` (`~/.tether`).
    #[arg(long, global = true, env = "TETHER_RELAY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The built viewer (trunk's `dist/`); default `./dist` when present.
    #[arg(long, env = "TETHER_RELAY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Bytes of output history kept per session (in memory only).
    #[arg(long, default_value_t = 8 << 20)]
    pub history_bytes: usize,
    /// Seconds an offline or ended session stays in memory.
    #[arg(long, default_value_t = 900)]
    pub retention: u64,
    /// Largest frame payload accepted, in bytes.
    #[arg(long, default_value_t = protocol::DEFAULT_MAX_PAYLOAD)]
    pub max_frame: usize,
    /// Viewers allowed per session.
    #[arg(long, default_value_t = 32)]
    pub max_viewers: usize,
    /// Open sessions allowed per user (not ended, and live or active within `--retention`).
    #[arg(long, default_value_t = 64)]
    pub max_sessions: usize,
    /// Input bytes per second a viewer may send (bursts up to one second's worth).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_input_rate: u64,
    /// The URL people open, e.g. `https://relay.example.com` behind a TLS
    /// proxy; used in share links (default: from the request's Host).
    #[arg(long, env = "TETHER_RELAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Another web origin (e.g. `https://dash.example.com`) whose pages may
    /// open WebSocket links; repeatable. The relay's own origin (of
    /// `--public-url`, else of the request's Host) always may, and clients
    /// that send no Origin (not browsers) are not checked.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Seconds between WebSocket pings to Tether peers (legacy peers get none).
    #[arg(long, default_value_t = 20, hide = true)]
    pub ping_secs: u64,
    /// Do not create a local user and key on first start.
    #[arg(long)]
    pub no_local_key: bool,
}

impl Config {
    /// Settings for tests: port 0 on loopback, data in `data_dir`.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: Some(data_dir),
            static_dir: None,
            history_bytes: 8 << 20,
            retention: 900,
            max_frame: protocol::DEFAULT_MAX_PAYLOAD,
            max_viewers: 32,
            max_sessions: 64,
            max_input_rate: 1 << 20,
            ping_secs: 20,
            public_url: None,
            allowed_origins: Vec::new(),
            no_local_key: true,
        }
    }

    /// The data directory in force: `--data-dir`, else Tether's home
    /// (`$TETHER_HOME`, `~/.tether`); an error when neither can be found.
    pub(crate) fn data_dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => protocol::config::tether_home()
                .context("no data directory: pass --data-dir (TETHER_RELAY_DATA_DIR)"),
        }
    }

    /// The static directory in force, if any exists.
    pub(crate) fn static_dir(&self) -> Option<PathBuf> {
        match &self.static_dir {
            Some(dir) => Some(dir.clone()),
            None => [
                PathBuf::from("dist"),
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist"),
            ]
            .into_iter()
            .find(|d| d.join("index.html").is_file()),
        }
    }

    /// The ping interval.
    pub(crate) fn ping_every(&self) -> Duration {
        Duration::from_secs(self.ping_secs.max(1))
    }

    /// Retention as a duration.
    pub(crate) fn retention(&self) -> Duration {
        Duration::from_secs(self.retention)
    }
}
