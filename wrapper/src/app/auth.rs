//! `tether --auth`: take an API key, check it against the API, store it.

use super::{Endpoints, Fatal};
use crate::api::{ApiClient, ApiError};
use crate::cli::Cli;
use crate::printable::printable;
use crate::terminal;
use protocol::config::Config;
use std::io::{BufRead, Write};
use std::path::Path;

/// `tether --auth`: takes the key from `--api-key`/`TETHER_API_KEY` or asks
/// for it, checks it against the API and stores it (mode 0600).
pub(super) fn authenticate(
    cli: &Cli,
    endpoints: &Endpoints,
    home: &Path,
    mut config: Config,
) -> Result<i32, Fatal> {
    let key = match cli.relay.api_key.clone().filter(|k| !k.trim().is_empty()) {
        Some(key) => key,
        None => prompt_key().map_err(|err| Fatal::setup(format!("cannot read the key: {err}")))?,
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(Fatal::setup("no key given"));
    }
    let api = ApiClient::new(&endpoints.api_url, &key, cli.relay.insecure_skip_tls_verify);
    api.check_key().map_err(|err| match err {
        ApiError::KeyRefused => {
            Fatal::setup(format!("the API at {} refused this key", endpoints.api_url))
        }
        other => Fatal::setup(other),
    })?;
    config.api_key = Some(key);
    if cli.relay.api_url.is_some() || cli.relay.relay_url.is_some() {
        // The key belongs to this server: remember both of its URLs.
        config.api_url = Some(endpoints.api_url.clone());
        config.relay_url = Some(endpoints.relay_url.clone());
    }
    let path = config.save(home).map_err(Fatal::setup)?;
    let stored = format!(
        "key accepted by {} and stored in {}",
        endpoints.api_url,
        path.display()
    );
    println!("tether: {}", printable(&stored));
    Ok(0)
}

/// Reads a key from the terminal without echo (or one line from a pipe).
fn prompt_key() -> std::io::Result<String> {
    let tty = terminal::stdin_is_tty();
    // Echo off before the prompt shows, so a key pasted at once is not shown.
    let echo = tty.then(terminal::EchoOff::new).flatten();
    if tty {
        eprint!("Paste your Tether API key: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    drop(echo);
    if tty {
        eprintln!();
    }
    Ok(line)
}
