//! Where the relay and its API are: from flags, environment, config and defaults.

use crate::cli::{RelayAccess, DEFAULT_API_URL, DEFAULT_RELAY_URL};
use protocol::config::Config;

/// The relay and API endpoints, from flags, environment, config and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Agent WebSocket endpoint.
    pub relay_url: String,
    /// REST API base.
    pub api_url: String,
}

impl Endpoints {
    /// Flags (and their environment variables) first, then the config file,
    /// then the local defaults. The two URLs come from the same place: when
    /// only one of them is given there, the other is derived from it (so
    /// `--api-url https://relay.example` never mixes with a relay URL saved
    /// in the config for another server).
    pub fn resolve(flags: &RelayAccess, config: &Config) -> Self {
        let from_flags = (flags.relay_url.clone(), flags.api_url.clone());
        let from_config = (config.relay_url.clone(), config.api_url.clone());
        let (relay, api) = if from_flags.0.is_some() || from_flags.1.is_some() {
            from_flags
        } else {
            from_config
        };
        let relay_url = relay
            .clone()
            .or_else(|| api.as_deref().map(relay_from_api))
            .unwrap_or_else(|| DEFAULT_RELAY_URL.to_string());
        let api_url = api
            .or_else(|| relay.as_deref().map(api_from_relay))
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        Self { relay_url, api_url }
    }
}

/// `http://h:p[/base]` → `ws://h:p[/base]/agent` (https → wss).
fn relay_from_api(api: &str) -> String {
    let api = api.trim_end_matches('/');
    let ws = if let Some(rest) = api.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = api.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        api.to_string()
    };
    format!("{ws}/agent")
}

/// `ws://h:p[/base]/agent` → `http://h:p[/base]` (wss → https).
fn api_from_relay(relay: &str) -> String {
    let relay = relay.trim_end_matches('/');
    let relay = relay.strip_suffix("/agent").unwrap_or(relay);
    if let Some(rest) = relay.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = relay.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        relay.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_and_derive() {
        let none = Endpoints::resolve(&RelayAccess::default(), &Config::default());
        assert_eq!(none.relay_url, DEFAULT_RELAY_URL);
        assert_eq!(none.api_url, DEFAULT_API_URL);

        let flags = RelayAccess {
            api_url: Some("https://relay.example:8443/".into()),
            ..RelayAccess::default()
        };
        let derived = Endpoints::resolve(&flags, &Config::default());
        assert_eq!(derived.relay_url, "wss://relay.example:8443/agent");

        let config = Config {
            relay_url: Some("ws://127.0.0.1:9/agent".into()),
            ..Config::default()
        };
        let from_config = Endpoints::resolve(&RelayAccess::default(), &config);
        assert_eq!(from_config.api_url, "http://127.0.0.1:9");

        let flags = RelayAccess {
            relay_url: Some("ws://flag/agent".into()),
            ..RelayAccess::default()
        };
        assert_eq!(
            Endpoints::resolve(&flags, &config).relay_url,
            "ws://flag/agent"
        );

        // A flag for one URL is not mixed with the config's other URL.
        let config = Config {
            relay_url: Some("ws://127.0.0.1:8080/agent".into()),
            api_url: Some("http://127.0.0.1:8080".into()),
            ..Config::default()
        };
        let flags = RelayAccess {
            api_url: Some("https://relay.example".into()),
            ..RelayAccess::default()
        };
        let mixed = Endpoints::resolve(&flags, &config);
        assert_eq!(mixed.relay_url, "wss://relay.example/agent");
        assert_eq!(mixed.api_url, "https://relay.example");
    }
}
