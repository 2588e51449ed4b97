//! `tether share`: the flags of the share command (a link to a session for
//! someone else, listed and revoked from the terminal).

use clap::Parser;
use std::ffi::OsString;

/// Longest lifetime the relay gives a share link: seven days.
pub const MAX_TTL_SECS: u64 = protocol::api::ShareRequest::MAX_TTL_SECS;

const EXAMPLES: &str = "\
Examples:
  tether share                      a read-only link to this session (inside a tether run) or
                                    to your most recent live session, valid one day
  tether share --read-write --ttl 1h --qr
                                    a link that may type into the agent, for one hour, with a QR code
  tether share 3f2c... --ttl 7d     a link to that session, for seven days
  tether share --list               the session's working links: id, role, expiry, viewers
  tether share --revoke 5f1c...     revoke a link: its viewers are closed at once

A read-write link lets whoever holds it type into the agent, and so run commands as you.";

/// `tether share [SESSION_ID] [--read-only | --read-write] [--ttl 1h] [--qr]`,
/// `tether share --list`, `tether share --revoke ID`.
#[derive(Debug, Clone, Default, PartialEq, Parser)]
#[command(
    name = "tether share",
    about = "Share a session: print a link that opens it in a browser",
    after_help = EXAMPLES
)]
pub struct ShareArgs {
    /// The session [default: $TETHER_SESSION_ID (set inside a tether run), else your most recent live session]
    #[arg(value_name = "SESSION_ID", value_parser = super::parse_session_id)]
    pub session: Option<String>,

    /// The link's holder may only watch (the default)
    #[arg(long, conflicts_with = "read_write")]
    pub read_only: bool,

    /// The link's holder may type into the agent too (and so run commands as you)
    #[arg(long)]
    pub read_write: bool,

    /// How long the link works: a number with s, m, h or d (at most 7d)
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_ttl)]
    pub ttl: u64,

    /// Print the link as a QR code too
    #[arg(long)]
    pub qr: bool,

    /// List the session's working links instead of making one
    #[arg(long, conflicts_with_all = ["revoke", "read_only", "read_write", "qr"])]
    pub list: bool,

    /// Revoke the link with this id (from --list); its viewers are closed
    #[arg(long, value_name = "SHARE_ID", conflicts_with_all = ["session", "read_only", "read_write", "qr"])]
    pub revoke: Option<String>,

    /// Which relay to reach, and with which key.
    #[command(flatten)]
    pub relay: super::RelayAccess,
}

/// Whether a full argv (program name first) asks for `tether share`: the
/// first argument is `share` (`tether -- share` gives the agent the word).
pub fn is_share_command(argv: &[OsString]) -> bool {
    argv.get(1).is_some_and(|arg| arg == "share")
}

/// Parses `tether share …` (a full argv, program name first), exiting with
/// clap's message on `--help` or a bad flag.
pub fn parse(argv: &[OsString]) -> ShareArgs {
    try_parse(argv).unwrap_or_else(|err| err.exit())
}

/// Parses `tether share …` (a full argv, program name first).
pub fn try_parse(argv: &[OsString]) -> Result<ShareArgs, clap::Error> {
    ShareArgs::try_parse_from(argv.iter().skip(1))
}

/// `--ttl`'s value: `90s`, `30m`, `1h`, `2d` (a bare number is seconds),
/// between one second and seven days.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let bad = || format!("bad TTL {text:?}: give a number with s, m, h or d, such as 1h or 7d");
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text[..at], unit),
        _ => (text, 's'),
    };
    let scale = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let secs = number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(bad)?;
    match secs {
        0 => Err(format!(
            "bad TTL {text:?}: a link must work for at least a second"
        )),
        s if s > MAX_TTL_SECS => Err(format!(
            "bad TTL {text:?}: a share link works at most 7 days (7d)"
        )),
        s => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        ["tether", "share"]
            .iter()
            .chain(args)
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn share_is_a_command_only_as_the_first_argument() {
        assert!(is_share_command(&argv(&[])));
        let later = ["tether", "--name", "share"].map(OsString::from);
        assert!(!is_share_command(&later));
        let quoted = ["tether", "--", "share"].map(OsString::from);
        assert!(!is_share_command(&quoted));
    }

    #[test]
    fn defaults_are_read_only_for_a_day() {
        let args = try_parse(&argv(&[])).unwrap();
        assert_eq!(
            (args.read_write, args.ttl, args.session),
            (false, 86_400, None)
        );
        let id = "5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12";
        let args = try_parse(&argv(&[id, "--read-write", "--ttl", "1h", "--qr"])).unwrap();
        assert_eq!(args.session.as_deref(), Some(id));
        assert!(args.read_write && args.qr);
        assert_eq!(args.ttl, 3_600);
    }

    #[test]
    fn conflicting_or_bad_flags_are_refused() {
        assert!(try_parse(&argv(&["--read-only", "--read-write"])).is_err());
        assert!(try_parse(&argv(&["--list", "--revoke", "x"])).is_err());
        assert!(try_parse(&argv(&["not-a-uuid"])).is_err());
        let err = try_parse(&argv(&["--ttl", "8d"])).unwrap_err();
        assert!(err.to_string().contains("at most 7 days"), "{err}");
    }

    #[test]
    fn ttls_take_units_and_stay_within_a_week() {
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("30m"), Ok(1_800));
        assert_eq!(parse_ttl("1h"), Ok(3_600));
        assert_eq!(parse_ttl("7d"), Ok(7 * 86_400));
        for bad in ["", "h", "1w", "-1h", "1.5h", "0", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?}");
        }
        assert!(parse_ttl("8d").unwrap_err().contains("7 days"));
    }
}
