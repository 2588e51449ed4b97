//! What `tether` does with its flags: `--set-default`, `--auth`, or a wrapped
//! run (register, print the dashboard URL, run the agent, report its exit).

use crate::agent::{self, DEFAULT_AGENT};
use crate::api::{ApiClient, ApiError};
use crate::cli::{Cli, DEFAULT_API_URL, DEFAULT_RELAY_URL};
use crate::link::{Link, LinkConfig, LinkSummary, DEFAULT_CAPACITY};
use crate::pty::Spawn;
use crate::{logging, session, terminal};
use protocol::config::{self, Config};
use protocol::{HistoryPolicy, Metadata};
use std::io::{BufRead, Write};

/// Exit code for tether's own usage and setup errors (the agent's codes pass through).
pub const EXIT_SETUP: i32 = 2;
/// Exit code when the agent's program is not found (as a shell reports it).
pub const EXIT_NOT_FOUND: i32 = 127;

/// An error that ends tether before the agent starts, with its exit code.
#[derive(Debug)]
pub struct Fatal {
    /// Message for the person, already saying what to do.
    pub message: String,
    /// Exit code.
    pub code: i32,
}

impl Fatal {
    fn setup(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            code: EXIT_SETUP,
        }
    }
}

/// Runs tether for parsed flags and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Fatal> {
    let home = config::tether_home().map_err(Fatal::setup)?;
    let mut config = Config::load(&home).map_err(Fatal::setup)?;

    if let Some(agent) = &cli.set_default {
        config.default_agent = Some(agent.clone());
        let path = config.save(&home).map_err(Fatal::setup)?;
        println!(
            "tether: default agent is now {agent} (saved in {})",
            path.display()
        );
        return Ok(0);
    }

    let endpoints = Endpoints::resolve(&cli, &config);
    if cli.auth {
        return authenticate(&cli, &endpoints, &home, config);
    }

    let agent_name = cli
        .agent
        .clone()
        .or_else(|| config.default_agent.clone())
        .unwrap_or_else(|| DEFAULT_AGENT.to_string());
    let program = agent::resolve(&agent_name, cli.command.as_deref()).map_err(|err| Fatal {
        message: err.to_string(),
        code: EXIT_NOT_FOUND,
    })?;

    let metadata = Metadata {
        agent: program.kind.clone(),
        app: Some("tether".into()),
        agent_display_name: cli.name.clone(),
        history_policy: Some(HistoryPolicy::default_for(&program.kind)),
        local_terminal: Some(terminal::stdin_is_tty()),
        extra: serde_json::Map::new(),
    };
    let size = terminal::initial_size();

    let (session_id, link, api) = if cli.no_relay {
        (new_session_id(), None, None)
    } else {
        let key = cli
            .api_key
            .clone()
            .or_else(|| config.api_key.clone())
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Fatal::setup(format!(
                    "no API key. Run `tether --auth` (or start `tether-relay`, which saves one in {}), \
                     pass --api-key / TETHER_API_KEY, or use --no-relay to run locally.",
                    home.join(config::CONFIG_FILE).display()
                ))
            })?;
        let api = ApiClient::new(&endpoints.api_url, &key, cli.insecure_skip_tls_verify);
        let registered = match cli.resume.as_deref() {
            // Re-attaching: the session must exist (registering an unknown id
            // would silently create a new one).
            Some(id) => api
                .check_session(id)
                .and_then(|()| api.register(&program.kind, cli.name.as_deref(), Some(id))),
            None => api.register(&program.kind, cli.name.as_deref(), None),
        };
        let (session_id, needs_registration) = match registered {
            Ok(registered) => (registered.agent_instance_id, false),
            Err(ApiError::Unreachable { url, reason }) => {
                eprintln!(
                    "tether: the relay at {url} is unreachable ({reason}); \
                     running locally and retrying every 5 s"
                );
                (cli.resume.clone().unwrap_or_else(new_session_id), true)
            }
            Err(err) => return Err(Fatal::setup(err)),
        };
        let link = Link::new(LinkConfig {
            relay_url: endpoints.relay_url.clone(),
            api_key: key,
            session_id: session_id.clone(),
            needs_registration,
            resumed: cli.resume.is_some(),
            metadata,
            resend_capacity: DEFAULT_CAPACITY,
            insecure: cli.insecure_skip_tls_verify,
            api: api.clone(),
            initial_size: size,
        });
        (session_id, Some(link), Some(api))
    };

    let log_path = logging::init(&home, &program.kind, &session_id);
    tracing::info!(
        session_id = %session_id,
        agent = %program.kind,
        relay = !cli.no_relay,
        relay_url = %endpoints.relay_url,
        api_url = %endpoints.api_url,
        "tether starting"
    );

    if link.is_some() {
        let url = format!("{}/s/{session_id}", endpoints.api_url.trim_end_matches('/'));
        eprintln!("tether: {url}");
        if cli.qr {
            if let Some(code) = qr_code(&url) {
                eprintln!("{code}");
            }
        }
    }

    let spawn = Spawn {
        program: program.path.clone(),
        args: cli.agent_args.clone(),
        env: vec![("TETHER_SESSION_ID".into(), session_id.clone())],
        size,
    };
    let outcome = session::run(&spawn, link).map_err(|err| Fatal::setup(format!("{err:#}")))?;
    tracing::info!(exit_code = outcome.exit_code, "session over");

    if let Some(api) = api {
        if let Err(err) = api.end_session(&session_id, outcome.exit_code) {
            tracing::warn!(%err, "could not report the session's end");
        }
    }
    if let Some(summary) = &outcome.link {
        if let Some(line) = exit_line(summary, log_path.as_deref()) {
            eprintln!("{line}");
        }
    }
    Ok(outcome.exit_code)
}

/// The one line printed at exit when the relay link was lost meanwhile.
fn exit_line(summary: &LinkSummary, log: Option<&std::path::Path>) -> Option<String> {
    if !summary.lost {
        return None;
    }
    let what = if !summary.ever_connected {
        match &summary.last_error {
            Some(error) => format!(
                "the relay was never reachable during this session ({error}); its output was not streamed"
            ),
            None => "the relay was never reachable during this session; its output was not streamed".into(),
        }
    } else if summary.fully_delivered {
        "the relay link dropped during this session (all output was delivered after reconnecting)"
            .into()
    } else {
        "the relay link was lost; the end of the output may not have reached the relay".into()
    };
    Some(match log {
        Some(log) => format!("tether: {what} (log: {})", log.display()),
        None => format!("tether: {what}"),
    })
}

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
    pub fn resolve(cli: &Cli, config: &Config) -> Self {
        let from_flags = (cli.relay_url.clone(), cli.api_url.clone());
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

/// `tether --auth`: takes the key from `--api-key`/`TETHER_API_KEY` or asks
/// for it, checks it against the API and stores it (mode 0600).
fn authenticate(
    cli: &Cli,
    endpoints: &Endpoints,
    home: &std::path::Path,
    mut config: Config,
) -> Result<i32, Fatal> {
    let key = match cli.api_key.clone().filter(|k| !k.trim().is_empty()) {
        Some(key) => key,
        None => prompt_key().map_err(|err| Fatal::setup(format!("cannot read the key: {err}")))?,
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(Fatal::setup("no key given"));
    }
    let api = ApiClient::new(&endpoints.api_url, &key, cli.insecure_skip_tls_verify);
    api.check_key().map_err(|err| match err {
        ApiError::KeyRefused => {
            Fatal::setup(format!("the API at {} refused this key", endpoints.api_url))
        }
        other => Fatal::setup(other),
    })?;
    config.api_key = Some(key);
    if cli.api_url.is_some() || cli.relay_url.is_some() {
        // The key belongs to this server: remember both of its URLs.
        config.api_url = Some(endpoints.api_url.clone());
        config.relay_url = Some(endpoints.relay_url.clone());
    }
    let path = config.save(home).map_err(Fatal::setup)?;
    println!(
        "tether: key accepted by {} and stored in {}",
        endpoints.api_url,
        path.display()
    );
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

/// A new random session id (UUID v4 text), for `--no-relay` runs and for
/// sessions started while the API is unreachable.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if filled.is_err() {
        // No /dev/urandom: mix the clock and the process id.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&(nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn qr_code(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_and_derive() {
        let none = Endpoints::resolve(&Cli::default(), &Config::default());
        assert_eq!(none.relay_url, DEFAULT_RELAY_URL);
        assert_eq!(none.api_url, DEFAULT_API_URL);

        let cli = Cli {
            api_url: Some("https://relay.example:8443/".into()),
            ..Cli::default()
        };
        let derived = Endpoints::resolve(&cli, &Config::default());
        assert_eq!(derived.relay_url, "wss://relay.example:8443/agent");

        let config = Config {
            relay_url: Some("ws://127.0.0.1:9/agent".into()),
            ..Config::default()
        };
        let from_config = Endpoints::resolve(&Cli::default(), &config);
        assert_eq!(from_config.api_url, "http://127.0.0.1:9");

        let cli = Cli {
            relay_url: Some("ws://flag/agent".into()),
            ..Cli::default()
        };
        assert_eq!(
            Endpoints::resolve(&cli, &config).relay_url,
            "ws://flag/agent"
        );

        // A flag for one URL is not mixed with the config's other URL.
        let config = Config {
            relay_url: Some("ws://127.0.0.1:8080/agent".into()),
            api_url: Some("http://127.0.0.1:8080".into()),
            ..Config::default()
        };
        let cli = Cli {
            api_url: Some("https://relay.example".into()),
            ..Cli::default()
        };
        let mixed = Endpoints::resolve(&cli, &config);
        assert_eq!(mixed.relay_url, "wss://relay.example/agent");
        assert_eq!(mixed.api_url, "https://relay.example");
    }

    #[test]
    fn session_ids_are_uuid_v4() {
        let id = new_session_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_session_id());
    }

    #[test]
    fn exit_line_only_when_lost() {
        let fine = LinkSummary {
            ever_connected: true,
            lost: false,
            fully_delivered: true,
            last_error: None,
        };
        assert_eq!(exit_line(&fine, None), None);
        let lost = LinkSummary {
            lost: true,
            ..fine.clone()
        };
        assert!(exit_line(&lost, None).unwrap().contains("dropped"));
        let never = LinkSummary {
            ever_connected: false,
            lost: true,
            fully_delivered: false,
            last_error: Some("the relay refused the API key (run `tether --auth`)".into()),
        };
        assert!(exit_line(&never, None).unwrap().contains("tether --auth"));
    }

    #[test]
    fn qr_code_renders() {
        let code = qr_code("http://localhost:8080/s/abc").unwrap();
        assert!(code.lines().count() > 10);
    }
}
