//! Command-line flags.
//!
//! `tether` takes its own flags anywhere on the command line and passes every
//! other argument to the agent unchanged and in order, plus everything after
//! `--`. Clap parses only the arguments that belong to tether: [`split_args`]
//! sorts them out first, so `tether --continue --name x --permission-mode plan`
//! gives the agent `--continue --permission-mode plan`.

use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;

mod record;
mod relay_access;
pub mod share;

pub use record::RecordCommand;
pub use relay_access::RelayAccess;

/// Default agent WebSocket endpoint of a local relay.
pub const DEFAULT_RELAY_URL: &str = "ws://localhost:8080/agent";
/// Default REST API base of a local relay.
pub const DEFAULT_API_URL: &str = "http://localhost:8080";

const EXAMPLES: &str = "\
Examples:
  tether                                   run the default agent (claude) and stream it
  tether --agent codex --name 'fix tests'  run Codex with a display name
  tether --continue --permission-mode plan flags tether does not know go to the agent
  tether --command bash -- -l              run any program; everything after -- goes to it
  tether --no-relay --command htop         local only: no registration, no network
  tether --resume 3f2c...                  attach to an existing session again
  tether --auth                            store and check an API key
  tether --set-default codex               make codex the default agent
  tether --record run.cast --agent codex   also write the session to run.cast (asciicast v3)
  tether record -o run.cast                download the newest session's recording from the relay
  tether share --qr                        a read-only link to the session, with a QR code
                                           (`tether share --help` for more)

Agent flags pass through unchanged and in order: every argument tether does not
recognise, and everything after `--` (use it for an agent flag that tether has
too: `tether -- --resume` gives Claude Code its own --resume).";

/// `tether [OPTIONS] [AGENT FLAGS...]`: run a coding agent in your terminal and
/// stream it live to a tether relay.
#[derive(Debug, Clone, Default, PartialEq, Parser)]
#[command(
    name = "tether",
    version,
    about,
    override_usage = "tether [OPTIONS] [AGENT FLAGS...] [-- AGENT ARGS...]",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// Agent to run from PATH: claude, codex or amp [default: the configured default, else claude]
    #[arg(long, value_name = "AGENT", value_parser = ["claude", "codex", "amp"])]
    pub agent: Option<String>,

    /// Run this executable instead of a known agent (a custom agent, a shell, a test program)
    #[arg(long, value_name = "PROGRAM", conflicts_with = "agent")]
    pub command: Option<String>,

    /// Display name of the session
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Attach to an existing session instead of registering a new one
    #[arg(long, value_name = "SESSION_ID", value_parser = parse_session_id)]
    pub resume: Option<String>,

    /// Local only: no registration and no network at all
    #[arg(long)]
    pub no_relay: bool,

    /// Take (or prompt for) an API key, check it against the API and store it
    #[arg(long)]
    pub auth: bool,

    /// Store AGENT as the default agent and exit
    #[arg(long, value_name = "AGENT", value_parser = ["claude", "codex", "amp"])]
    pub set_default: Option<String>,

    /// Print the dashboard URL as a QR code too
    #[arg(long)]
    pub qr: bool,

    /// Seconds without output after which a working agent counts as idle (0: never)
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub idle_after: u64,

    /// A BEL from the agent does not mean it waits for you (notification sequences still do)
    #[arg(long)]
    pub ignore_bell: bool,

    /// Do not make Claude Code / Codex announce waits (the settings tether adds when you have not set them)
    ///
    /// With --agent claude or codex, tether adds the per-run settings that make the agent
    /// print a notification (OSC 9 with its text) when it waits for you, only for what
    /// your own settings files and flags leave unset (it reads them, never writes them):
    /// Claude Code gets --settings '{"preferredNotifChannel":"iterm2"}', Codex gets
    /// -c tui.notifications=true -c tui.notification_method="osc9"
    /// -c tui.notification_condition="always". Not with --command.
    #[arg(long, verbatim_doc_comment)]
    pub no_agent_notify: bool,

    /// Write the whole session to FILE as it runs (asciicast v3: output, sizes, exit)
    #[arg(long, value_name = "FILE.cast")]
    pub record: Option<PathBuf>,

    /// With --record, also record what goes into the agent (keys, pastes: may hold secrets)
    #[arg(long, requires = "record")]
    pub record_input: bool,

    /// Which relay to reach, and with which key.
    #[command(flatten)]
    pub relay: RelayAccess,

    /// Arguments for the agent (filled by [`split_args`], not by clap).
    #[arg(skip)]
    pub agent_args: Vec<OsString>,
}

/// What the command line asks for: a wrapped run (and its variants), a
/// recording's download (`tether record …`), or a share link (`tether share …`).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `tether [OPTIONS] [AGENT FLAGS...]`
    Run(Box<Cli>),
    /// `tether record [SESSION_ID] -o FILE.cast`
    Record(RecordCommand),
    /// `tether share …` (see [`share`])
    Share(Box<share::ShareArgs>),
}

/// Parses a full argv (program name first): `record` or `share` as the first
/// argument is that command (give an agent the prompt "record" with
/// `tether -- record`);
/// exits with clap's message on `--help`, `--version` or a bad flag.
pub fn parse_command<I>(argv: I) -> Command
where
    I: IntoIterator<Item = OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().collect();
    if share::is_share_command(&argv) {
        return Command::Share(Box::new(share::parse(&argv)));
    }
    if argv.get(1).is_some_and(|arg| arg == "record") {
        let rest =
            std::iter::once(OsString::from("tether record")).chain(argv[2..].iter().cloned());
        return Command::Record(RecordCommand::try_parse_from(rest).unwrap_or_else(|e| e.exit()));
    }
    Command::Run(Box::new(parse(argv)))
}

/// `--resume`'s value: a session id is a UUID (kept in its canonical form).
fn parse_session_id(text: &str) -> Result<String, String> {
    crate::api::session_id(text)
        .ok_or_else(|| "a session id is a UUID, as in the dashboard URL (…/s/ID)".to_string())
}

/// Tether's flags: the name and whether it takes a value.
const OWN_FLAGS: &[(&str, bool)] = &[
    ("--agent", true),
    ("--command", true),
    ("--name", true),
    ("--api-key", true),
    ("--resume", true),
    ("--relay-url", true),
    ("--api-url", true),
    ("--no-relay", false),
    ("--auth", false),
    ("--set-default", true),
    ("--qr", false),
    ("--insecure-skip-tls-verify", false),
    ("--idle-after", true),
    ("--ignore-bell", false),
    ("--no-agent-notify", false),
    ("--record", true),
    ("--record-input", false),
    ("--help", false),
    ("-h", false),
    ("--version", false),
    ("-V", false),
];

/// Splits the process arguments (without the program name) into tether's own
/// arguments and the agent's, keeping the agent's in their original order.
///
/// A tether flag that takes a value consumes the next argument (or its
/// `--flag=value` form). Everything after the first `--` belongs to the agent.
pub fn split_args<I>(args: I) -> (Vec<OsString>, Vec<OsString>)
where
    I: IntoIterator<Item = OsString>,
{
    let mut own = Vec::new();
    let mut agent = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            agent.extend(args.by_ref());
            break;
        }
        let text = arg.to_string_lossy();
        let name = text.split_once('=').map_or(&*text, |(name, _)| name);
        match OWN_FLAGS.iter().find(|(flag, _)| *flag == name) {
            Some((_, takes_value)) => {
                let inline_value = text.contains('=');
                let value = if *takes_value && !inline_value {
                    args.next()
                } else {
                    None
                };
                match value {
                    // Joined as `--flag=value` so that clap takes a value
                    // starting with `-` as the value, not as a flag.
                    Some(value) => {
                        let mut joined = arg.clone();
                        joined.push("=");
                        joined.push(value);
                        own.push(joined);
                    }
                    None => own.push(arg.clone()),
                }
            }
            None => agent.push(arg),
        }
    }
    (own, agent)
}

/// Parses a full argv (program name first), exiting with clap's message on
/// `--help`, `--version` or a bad flag.
pub fn parse<I>(argv: I) -> Cli
where
    I: IntoIterator<Item = OsString>,
{
    match try_parse(argv) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    }
}

/// Parses a full argv (program name first).
pub fn try_parse<I>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = OsString>,
{
    let mut argv = argv.into_iter();
    let program = argv.next().unwrap_or_else(|| "tether".into());
    let (own, agent_args) = split_args(argv);
    let mut cli = Cli::try_parse_from(std::iter::once(program).chain(own))?;
    cli.agent_args = agent_args;
    Ok(cli)
}

#[cfg(test)]
mod tests;
