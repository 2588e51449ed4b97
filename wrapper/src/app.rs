//! What `tether` does with its flags: `--set-default`, `--auth`, or a wrapped
//! run (register, print the dashboard URL, run the agent, report its exit),
//! `tether record` ([`download_recording`]) and `tether share` ([`share`]).
//!
//! Everything printed here is made printable first (control characters
//! escaped): parts of it (error texts, the reason a link dropped) come from
//! the relay.

mod auth;
mod endpoints;
mod recording;
pub mod share;

pub use recording::download_recording;

use crate::agent::{self, AgentProgram, DEFAULT_AGENT};
use crate::api::{ApiClient, ApiError};
use crate::attention::AttentionRules;
use crate::cli::Cli;
use crate::link::{Link, LinkConfig, LinkSummary, DEFAULT_CAPACITY};
use crate::printable::{notice, printable};
use crate::pty::Spawn;
use crate::{logging, session, terminal};
use endpoints::Endpoints;
use protocol::config::{self, Config};
use protocol::{HistoryPolicy, Metadata, Size};
use std::path::Path;
use std::time::Duration;

/// Exit code for tether's own usage and setup errors (the agent's codes pass through).
pub const EXIT_SETUP: i32 = 2;
/// Exit code when the agent's program is not found (as a shell reports it).
pub const EXIT_NOT_FOUND: i32 = 127;

/// An error that ends tether before the agent starts, with its exit code.
#[derive(Debug)]
pub struct Fatal {
    /// Message for the person, already saying what to do, and safe to print
    /// (control characters escaped).
    pub message: String,
    /// Exit code.
    pub code: i32,
}

impl Fatal {
    fn new(message: impl std::fmt::Display, code: i32) -> Self {
        Self {
            message: printable(&message.to_string()).into_owned(),
            code,
        }
    }

    fn setup(message: impl std::fmt::Display) -> Self {
        Self::new(message, EXIT_SETUP)
    }
}

/// Runs tether for parsed flags and returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Fatal> {
    let home = config::tether_home().map_err(Fatal::setup)?;
    // Created 0700 when missing (an existing folder is the person's choice).
    // Failing here is not fatal: what needs the folder says so itself.
    let _ = logging::create_private_dir(&home);
    let mut config = Config::load(&home).map_err(Fatal::setup)?;

    if let Some(agent) = &cli.set_default {
        config.default_agent = Some(agent.clone());
        let path = config.save(&home).map_err(Fatal::setup)?;
        let saved = format!("{}", path.display());
        println!(
            "tether: default agent is now {agent} (saved in {})",
            printable(&saved)
        );
        return Ok(0);
    }

    let endpoints = Endpoints::resolve(&cli.relay, &config);
    if cli.auth {
        return auth::authenticate(&cli, &endpoints, &home, config);
    }
    wrapped_run(&cli, &config, &endpoints, &home)
}

/// How the session's attention is read from the agent's output (`--idle-after`, `--ignore-bell`).
fn attention_rules(cli: &Cli) -> AttentionRules {
    AttentionRules {
        idle_after: (cli.idle_after > 0).then(|| Duration::from_secs(cli.idle_after)),
        bell: !cli.ignore_bell,
    }
}

/// The agent's arguments: the person's, after the settings that make a
/// known agent announce its waits (`--no-agent-notify`: none).
fn agent_args(cli: &Cli, program: &AgentProgram) -> Vec<std::ffi::OsString> {
    if cli.command.is_some() || cli.no_agent_notify {
        return cli.agent_args.clone();
    }
    let notify = agent::notify::plan(
        &program.kind,
        &cli.agent_args,
        &agent::notify::SettingsPlaces::from_env(),
    );
    for kept in &notify.kept {
        tracing::info!(%kept, "agent notification setting left alone");
    }
    if !notify.args.is_empty() {
        let added: Vec<_> = notify.args.iter().map(|a| a.to_string_lossy()).collect();
        tracing::info!(added = %added.join(" "), "agent notification settings added for this run");
    }
    let mut args = notify.args;
    args.extend(cli.agent_args.iter().cloned());
    args
}

/// The run itself: the agent in its PTY, streamed unless `--no-relay`.
fn wrapped_run(
    cli: &Cli,
    config: &Config,
    endpoints: &Endpoints,
    home: &Path,
) -> Result<i32, Fatal> {
    let agent_name = cli
        .agent
        .clone()
        .or_else(|| config.default_agent.clone())
        .unwrap_or_else(|| DEFAULT_AGENT.to_string());
    let program = agent::resolve(&agent_name, cli.command.as_deref())
        .map_err(|err| Fatal::new(err, EXIT_NOT_FOUND))?;
    let size = terminal::initial_size();
    let recorder = recording::recorder(cli, size, &program.kind)?;

    let (session_id, relay) = if cli.no_relay {
        (new_session_id(), None)
    } else {
        let relay = Relay::register(cli, config, endpoints, home, &program, size)?;
        (relay.session_id.clone(), Some(relay))
    };

    let log_path = logging::init(home, &program.kind, &session_id);
    tracing::info!(
        session_id = %session_id,
        agent = %program.kind,
        relay = !cli.no_relay,
        relay_url = %endpoints.relay_url,
        api_url = %endpoints.api_url,
        "tether starting"
    );

    if relay.is_some() {
        let url = format!("{}/s/{session_id}", endpoints.api_url.trim_end_matches('/'));
        notice(&url);
        if cli.qr {
            if let Some(code) = qr_code(&url) {
                eprintln!("{code}");
            }
        }
    }

    let spawn = Spawn {
        program: program.path.clone(),
        args: agent_args(cli, &program),
        env: vec![("TETHER_SESSION_ID".into(), session_id.clone())],
        size,
    };
    let (link, api) = relay.map_or((None, None), |r| (Some(r.link), Some(r.api)));
    let outcome = session::run(&spawn, link, attention_rules(cli), recorder)
        .map_err(|err| Fatal::setup(format!("{err:#}")))?;
    tracing::info!(exit_code = outcome.exit_code, "session over");

    if let Some(api) = api {
        if let Err(err) = api.end_session(&session_id, outcome.exit_code) {
            tracing::warn!(%err, "could not report the session's end");
        }
    }
    if let Some(summary) = &outcome.link {
        if let Some(line) = exit_line(summary, log_path.as_deref()) {
            notice(&line);
        }
    }
    Ok(outcome.exit_code)
}

/// The session as registered with the relay: the link to stream it and the
/// API to report its end.
struct Relay {
    session_id: String,
    link: Link,
    api: ApiClient,
}

impl Relay {
    /// Registers the session (or checks the one `--resume` names). With the
    /// API unreachable, the session runs locally and the link registers it
    /// once the relay is back.
    fn register(
        cli: &Cli,
        config: &Config,
        endpoints: &Endpoints,
        home: &Path,
        program: &AgentProgram,
        size: Size,
    ) -> Result<Self, Fatal> {
        let key = cli.relay.key(config).ok_or_else(|| {
                Fatal::setup(format!(
                    "no API key. Run `tether --auth` (or start `tether-relay`, which saves one in {}), \
                     pass --api-key / TETHER_API_KEY, or use --no-relay to run locally.",
                    home.join(config::CONFIG_FILE).display()
                ))
            })?;
        let api = ApiClient::new(&endpoints.api_url, &key, cli.relay.insecure_skip_tls_verify);
        let registered = match cli.resume.as_deref() {
            // Re-attaching: the session must exist (registering an unknown id
            // would silently create a new one).
            Some(id) => api
                .check_session(id)
                .and_then(|()| api.register(&program.kind, cli.name.as_deref(), Some(id))),
            None => api.register(&program.kind, cli.name.as_deref(), None),
        };
        let (session_id, needs_registration) = match registered {
            Ok(session_id) => (session_id, false),
            Err(ApiError::Unreachable { url, reason }) => {
                notice(&format!(
                    "the relay at {url} is unreachable ({reason}); \
                     running locally and retrying every 5 s"
                ));
                (cli.resume.clone().unwrap_or_else(new_session_id), true)
            }
            Err(err) => return Err(Fatal::setup(err)),
        };
        let metadata = Metadata {
            agent: program.kind.clone(),
            app: Some("tether".into()),
            agent_display_name: cli.name.clone(),
            history_policy: Some(HistoryPolicy::default_for(&program.kind)),
            local_terminal: Some(terminal::stdin_is_tty()),
            extra: serde_json::Map::new(),
        };
        let link = Link::new(LinkConfig {
            relay_url: endpoints.relay_url.clone(),
            api_key: key,
            session_id: session_id.clone(),
            needs_registration,
            resumed: cli.resume.is_some(),
            metadata,
            resend_capacity: DEFAULT_CAPACITY,
            insecure: cli.relay.insecure_skip_tls_verify,
            api: api.clone(),
            initial_size: size,
        });
        Ok(Self {
            session_id,
            link,
            api,
        })
    }
}

/// The one line printed at exit (after `tether: `) when the relay link was
/// lost meanwhile.
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
        Some(log) => format!("{what} (log: {})", log.display()),
        None => what,
    })
}

/// A new random session id (UUID v4 text), for `--no-relay` runs and for
/// sessions started while the API is unreachable.
fn new_session_id() -> String {
    uuid::Uuid::new_v4().to_string()
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
