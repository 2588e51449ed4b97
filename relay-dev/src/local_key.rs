//! The local-dev first start: a relay whose store holds no key creates the
//! user `local` and a key, and saves it in Tether's home (`config.json`,
//! shared with `tether` through [`protocol::config`]) together with this
//! relay's URLs — unless the file holds a key already or names another
//! relay: an existing key is never replaced (`tether` would then send this
//! relay's key to the relay the file names). The key is then only printed,
//! with how to give it to `tether`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use protocol::config::{tether_home, Config as TetherConfig, CONFIG_FILE};

use crate::state::Shared;

/// What the first start did with the key it created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalKey {
    /// Saved, with this relay's URLs, in this `config.json`.
    Saved(PathBuf),
    /// Not saved: this `config.json` already holds a key, or names another
    /// relay, and was left as it is. The key is for the person to give
    /// `tether --auth`.
    NotSaved {
        /// The file left alone.
        config: PathBuf,
        /// The new key.
        key: String,
        /// This relay's API URL (`http://HOST:PORT`).
        api_url: String,
        /// This relay's agent URL (`ws://HOST:PORT/agent`).
        relay_url: String,
    },
}

impl std::fmt::Display for LocalKey {
    /// What to tell the person (the key itself when it was not saved).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalKey::Saved(path) => write!(
                f,
                "created a local user and API key, saved to {}",
                path.display()
            ),
            LocalKey::NotSaved {
                config,
                key,
                api_url,
                relay_url,
            } => write!(
                f,
                "created a local user and API key; {} already holds a key or another relay's \
                 address and was left as it is\n\
                 to use this relay, run: tether --auth --api-url {api_url} --relay-url {relay_url} \
                 and paste the key\n\
                 API key (shown once): {key}",
                config.display()
            ),
        }
    }
}

/// Creates the local key if the store has none, and saves it if that
/// replaces nothing; `None` if the store had a key. `addr` is the address
/// the relay is bound to.
pub(crate) async fn ensure(state: &Shared, addr: SocketAddr) -> anyhow::Result<Option<LocalKey>> {
    if !state.store.keys().await?.is_empty() {
        return Ok(None);
    }
    let home = tether_home()
        .context("cannot save the local API key (or pass --no-local-key, and create keys with `tether-relay keys create`)")?;
    let (key, record) = state.signer.mint_api_key("local")?;
    let api_url = browsable_base(addr);
    let relay_url = format!("{}/agent", api_url.replacen("http", "ws", 1));
    let outcome = {
        let (key, api_url, relay_url) = (key.clone(), api_url.clone(), relay_url.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<LocalKey> {
            let mut config = TetherConfig::load(&home)?;
            let elsewhere = |set: &Option<String>, ours: &str| {
                set.as_deref()
                    .is_some_and(|url| url.trim_end_matches('/') != ours)
            };
            if config.api_key.is_some()
                || elsewhere(&config.api_url, &api_url)
                || elsewhere(&config.relay_url, &relay_url)
            {
                return Ok(LocalKey::NotSaved {
                    config: home.join(CONFIG_FILE),
                    key,
                    api_url,
                    relay_url,
                });
            }
            config.adopt_local_relay(&key, &api_url);
            Ok(LocalKey::Saved(config.save(&home)?))
        })
        .await
        .context("saving the local API key")?
        .context("saving the local API key")?
    };
    // Stored once saved (or shown): a failed save leaves the store empty,
    // so the next start tries again.
    state.store.insert_key(record).await?;
    Ok(Some(outcome))
}

/// `http://HOST:PORT` that a browser or `tether` on this machine can open:
/// loopback for a wildcard bind (`0.0.0.0`, `::`).
pub(crate) fn browsable_base(addr: SocketAddr) -> String {
    let addr: SocketAddr = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        ip if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    };
    format!("http://{addr}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_browsed_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(browsable_base(any), "http://127.0.0.1:8080");
        let any6: SocketAddr = "[::]:9".parse().unwrap();
        assert_eq!(browsable_base(any6), "http://[::1]:9");
        let lan: SocketAddr = "192.168.1.5:80".parse().unwrap();
        assert_eq!(browsable_base(lan), "http://192.168.1.5:80");
    }
}
