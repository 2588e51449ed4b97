//! The relay's settings, parsed from flags (and `TETHER_*` environment variables).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

mod values;

pub(crate) use values::valid_node_id;
pub use values::DatabaseUrl;
use values::{parse_bytes, parse_database_url, parse_node_id, parse_node_url, parse_size};

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
    /// Keep keys, sessions, messages, share grants and the key-signing
    /// secret in this PostgreSQL database (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`)
    /// instead of SQLite in the data directory: every relay node given the
    /// same URL shares them. Also for the `keys` commands.
    #[arg(long, global = true, env = "TETHER_RELAY_DATABASE_URL", value_name = "URL",
          value_parser = parse_database_url)]
    pub database_url: Option<DatabaseUrl>,
    /// Most connections to the `--database-url` database open at once;
    /// store calls beyond them wait (up to 10 s) for a free one.
    #[arg(long, global = true, default_value_t = 8)]
    pub database_connections: usize,
    /// Serve the viewer from this directory (trunk's `dist/`, e.g. while
    /// developing it) instead of the copy built into the binary; without
    /// one built in, `./dist` when present.
    #[arg(long, env = "TETHER_RELAY_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Bytes of output history kept per session (in memory only); suffixes
    /// K, M, G (powers of 1024).
    #[arg(long, default_value = "8M", value_parser = parse_size)]
    pub history_bytes: usize,
    /// Lines of scrollback in the snapshot a joining viewer gets (the
    /// screen, cursor and modes are always in it).
    #[arg(long, default_value_t = 2000)]
    pub snapshot_lines: usize,
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
    /// Input bytes per second one credential (API key or share link) may
    /// send into one session, all its links together; every INPUT and RESIZE
    /// frame counts, its 5-byte header too (bursts up to one second's worth).
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
    /// Seconds between WebSocket pings (to legacy peers too: RFC 6455
    /// clients answer them); a peer silent for three intervals is dropped.
    #[arg(long, default_value_t = 20, hide = true)]
    pub ping_secs: u64,
    /// Milliseconds the relay may hold back the ACK of an agent's output,
    /// waiting for a message to the agent to carry it (a keystroke's INPUT);
    /// the agent's exit and 256 KiB of unacknowledged output are
    /// acknowledged at once.
    #[arg(long, default_value_t = 20, hide = true)]
    pub ack_delay_ms: u64,
    /// Do not create a local user and key on first start.
    #[arg(long)]
    pub no_local_key: bool,
    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection waits for its next request.
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds an HTTP connection may pass with no bytes either way before it
    /// is closed (WebSocket links are kept alive by pings instead).
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds a WebSocket link has, once upgraded, to be authorized and greeted.
    #[arg(long, default_value_t = 10)]
    pub upgrade_timeout: u64,
    /// Seconds one WebSocket send may block (a peer that stopped reading)
    /// before the link is dropped.
    #[arg(long, default_value_t = 30)]
    pub send_timeout: u64,
    /// Most TCP connections open at once; lowered to fit below the process's
    /// file-descriptor limit. Beyond it new connections get 503 at once.
    #[arg(long, default_value_t = 16_384)]
    pub max_connections: usize,
    /// Most TCP connections open at once from one client address (0: no
    /// such cap; behind a proxy every client has the proxy's address).
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// Viewer places of each session (of `--max-viewers`) that share links
    /// cannot take: kept for the owner's own keys.
    #[arg(long, default_value_t = 4)]
    pub owner_viewers: usize,
    /// Viewers allowed at once through one share link.
    #[arg(long, default_value_t = 8)]
    pub max_viewers_per_share: usize,
    /// Bytes of session history all users together may hold in memory
    /// (an open session reserves `--history-bytes`; an ended one holds what
    /// its ring holds). Suffixes K, M, G (powers of 1024).
    #[arg(long, default_value = "1G", value_parser = parse_bytes)]
    pub memory_budget: u64,
    /// Bytes of session history one user may hold in memory (as `--memory-budget`).
    #[arg(long, default_value = "256M", value_parser = parse_bytes)]
    pub user_memory_budget: u64,
    /// Messages kept per session in the message log (the oldest are dropped).
    #[arg(long, default_value_t = 1000)]
    pub max_messages: usize,
    /// Redis shared by several relay nodes (`redis://HOST:PORT[/DB]`): which
    /// node holds each session's agent link, the session list's liveness and
    /// viewer counts, revocations broadcast. Without it the relay is one node.
    #[arg(long, env = "TETHER_RELAY_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// This node's name among the nodes (letters, digits, `.`, `_`, `-`);
    /// default: random.
    #[arg(long, env = "TETHER_RELAY_NODE_ID", value_parser = parse_node_id)]
    pub node_id: Option<String>,
    /// Where the other nodes reach this one (`http://ADDR:PORT`), to serve
    /// their viewers of the sessions held here; default: the bound address
    /// (a wildcard address needs this flag).
    #[arg(long, env = "TETHER_RELAY_NODE_URL", value_parser = parse_node_url)]
    pub node_url: Option<String>,
    /// How push services can reach this relay's operator: the VAPID `sub`
    /// (`mailto:…` or `https://…`; default: `--public-url`, else a local placeholder).
    #[arg(long, value_name = "URI")]
    pub push_contact: Option<String>,
    /// Accept `http://` push endpoints (for testing with a local push service only).
    #[arg(long, hide = true)]
    pub push_allow_http: bool,
    /// Write each ended session's recording (asciicast v3, what its ring
    /// holds) to DIR/ID.cast, served when the session has left memory.
    /// Off by default: terminal data is kept in memory only unless asked.
    #[arg(long, value_name = "DIR")]
    pub keep_recordings: Option<PathBuf>,
    /// Most bytes of kept recordings together: the oldest go first.
    /// Suffixes K, M, G (powers of 1024).
    #[arg(long, default_value = "1G", value_parser = parse_bytes)]
    pub keep_recordings_bytes: u64,
    /// Days a kept recording stays.
    #[arg(long, default_value_t = 30)]
    pub keep_recordings_days: u64,
}

impl Config {
    /// Settings for tests: port 0 on loopback, data in `data_dir`.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: Some(data_dir),
            database_url: None,
            database_connections: 8,
            static_dir: None,
            history_bytes: 8 << 20,
            snapshot_lines: 2000,
            retention: 900,
            max_frame: protocol::DEFAULT_MAX_PAYLOAD,
            max_viewers: 32,
            max_sessions: 64,
            max_input_rate: 1 << 20,
            ping_secs: 20,
            ack_delay_ms: 20,
            public_url: None,
            allowed_origins: Vec::new(),
            no_local_key: true,
            header_timeout: 10,
            idle_timeout: 60,
            upgrade_timeout: 10,
            send_timeout: 30,
            max_connections: 16_384,
            max_connections_per_ip: 256,
            owner_viewers: 4,
            max_viewers_per_share: 8,
            memory_budget: 1 << 30,
            user_memory_budget: 256 << 20,
            max_messages: 1000,
            redis_url: None,
            node_id: None,
            node_url: None,
            push_contact: None,
            push_allow_http: true,
            keep_recordings: None,
            keep_recordings_bytes: 1 << 30,
            keep_recordings_days: 30,
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

    /// The VAPID `sub` claim: `--push-contact`, else `--public-url`, else
    /// a placeholder.
    pub(crate) fn push_contact(&self) -> String {
        self.push_contact
            .clone()
            .or_else(|| self.public_url.clone())
            .unwrap_or_else(|| "mailto:tether-relay@localhost".to_string())
    }

    /// The static directory in force: `--static-dir`; else none when the
    /// viewer is built into the binary; else `./dist` if it exists.
    pub(crate) fn static_dir(&self) -> Option<PathBuf> {
        match &self.static_dir {
            Some(dir) => Some(dir.clone()),
            None if crate::web::Viewer::built_in().is_some() => None,
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

    /// How long the ACK of an agent's output may wait for company.
    pub(crate) fn ack_delay(&self) -> Duration {
        Duration::from_millis(self.ack_delay_ms)
    }

    /// Retention as a duration.
    pub(crate) fn retention(&self) -> Duration {
        Duration::from_secs(self.retention)
    }

    /// The send timeout.
    pub(crate) fn send_timeout(&self) -> Duration {
        Duration::from_secs(self.send_timeout.max(1))
    }

    /// The WebSocket upgrade timeout (authorize and greet).
    pub(crate) fn upgrade_timeout(&self) -> Duration {
        Duration::from_secs(self.upgrade_timeout.max(1))
    }
}
