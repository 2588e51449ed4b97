//! [`RelayAccess`]: the flags that say which relay to reach and with which
//! key, shared by `tether`, `tether record` and `tether share`.

use clap::Args;
use protocol::config::Config;

/// Which relay and API to reach, and with which key (each flag also read
/// from its environment variable; what is not given comes from the config
/// file, then from the local defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
#[command(next_help_heading = "Relay connection")]
pub struct RelayAccess {
    /// API key [default: $TETHER_API_KEY, else the config file]
    #[arg(
        long,
        value_name = "KEY",
        env = "TETHER_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,

    /// Relay agent endpoint; the API URL is derived from it [default: the config file's, else ws://localhost:8080/agent]
    #[arg(long, value_name = "URL", env = "TETHER_RELAY_URL")]
    pub relay_url: Option<String>,

    /// API base URL; the relay URL is derived from it [default: the config file's, else http://localhost:8080]
    #[arg(long, value_name = "URL", env = "TETHER_API_URL")]
    pub api_url: Option<String>,

    /// Skip TLS certificate verification for wss:// and https:// (local testing only)
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
}

impl RelayAccess {
    /// The API key: the flag (or `TETHER_API_KEY`), else the config file's;
    /// `None` when neither holds a non-blank one.
    pub fn key(&self, config: &Config) -> Option<String> {
        self.api_key
            .clone()
            .or_else(|| config.api_key.clone())
            .filter(|k| !k.trim().is_empty())
    }
}
