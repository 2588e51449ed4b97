//! The local-dev first start: a relay whose store holds no key creates the
//! user `local` and a key, and saves it in Tether's home (`config.json`,
//! shared with `tether` through [`protocol::config`]) together with this
//! relay's URLs, unless the file names others already.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use protocol::config::{tether_home, Config as TetherConfig};

use crate::server::Shared;

/// Creates and saves the local key if the store has none; returns the file
/// written. `addr` is the address the relay is bound to.
pub(crate) async fn ensure(state: &Shared, addr: SocketAddr) -> anyhow::Result<Option<PathBuf>> {
    if !state.store.keys().await?.is_empty() {
        return Ok(None);
    }
    let home = tether_home()
        .context("cannot save the local API key (or pass --no-local-key, and create keys with `tether-relay keys create`)")?;
    let (key, record) = state.signer.mint_api_key("local")?;
    let base = browsable_base(addr);
    let path = tokio::task::spawn_blocking(move || {
        let mut config = TetherConfig::load(&home)?;
        config.adopt_local_relay(&key, &base);
        config.save(&home)
    })
    .await
    .context("saving the local API key")?
    .context("saving the local API key")?;
    // Stored once saved: a failed save leaves the store empty, so the next
    // start tries again.
    state.store.insert_key(record).await?;
    Ok(Some(path))
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
