//! `tether --agent claude|codex` adds, for that run only, the settings that
//! make the agent announce a wait with OSC 9 — unless the person set them.
//! Stand-ins for `claude` and `codex` on PATH record how they were started
//! and notify on the channel their settings choose, as the real ones do when
//! a permission prompt waits; the real relay must then show `waiting`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use protocol::AttentionState;
use tests::relay::RelayProcess;
use tests::wait::{eventually, DEADLINE};
use tests::wrapper::TetherCommand;

/// Claude Code's stand-in: `--settings` wins over `~/.claude/settings.json`;
/// `iterm2` writes OSC 9 with the message, `terminal_bell` a BEL, `auto`
/// (the default) nothing in a terminal it does not know.
const CLAUDE: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$HOME/argv"
echo "TETHER_SESSION_ID=$TETHER_SESSION_ID" > "$HOME/env"
channel=auto
grep -q '"preferredNotifChannel": *"terminal_bell"' "$HOME/.claude/settings.json" 2>/dev/null && channel=terminal_bell
while [ $# -gt 0 ]; do
  [ "$1" = --settings ] && case "$2" in *'"preferredNotifChannel":"iterm2"'*) channel=iterm2 ;; esac
  shift
done
stty -echo
case $channel in
  iterm2) printf '\033]9;Claude needs your permission to use Bash\007' ;;
  terminal_bell) printf '\007' ;;
esac
echo asked
read answer
"#;

/// Codex's stand-in: `-c` wins over `~/.codex/config.toml`; with
/// notifications on, `osc9` writes OSC 9 with the text, `bel` a BEL.
const CODEX: &str = r#"#!/bin/sh
printf '%s\n' "$@" > "$HOME/argv"
config="$HOME/.codex/config.toml"
enabled=false; method=auto
grep -q '^notifications = true' "$config" 2>/dev/null && enabled=true
grep -q '^notification_method = "bel"' "$config" 2>/dev/null && method=bel
while [ $# -gt 0 ]; do
  if [ "$1" = -c ]; then
    case "$2" in
      tui.notifications=true) enabled=true ;;
      'tui.notification_method="osc9"') method=osc9 ;;
    esac
  fi
  shift
done
stty -echo
if [ $enabled = true ]; then
  case $method in
    osc9) printf '\033]9;Codex wants to run cargo test\007' ;;
    *) printf '\007' ;;
  esac
fi
echo asked
read answer
"#;

/// A home with the stand-ins in `bin/`.
fn home_with_fakes() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, script) in [("claude", CLAUDE), ("codex", CODEX)] {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    home
}

fn write(home: &Path, file: &str, text: &str) {
    let path = home.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// How the agent was started, and the wait the relay showed.
struct Run {
    /// The agent's arguments.
    argv: Vec<String>,
    /// The wait's text, when the relay showed one (`Some(None)`: a bell).
    wait: Option<Option<String>>,
}

/// Runs `tether ARGS` until the agent asked (and, with `expect_wait`, the
/// relay shows the session waiting), then lets it exit.
async fn run(relay: &RelayProcess, home: &Path, args: &[&str], expect_wait: bool) -> Run {
    let path = format!(
        "{}:{}",
        home.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut tether = TetherCommand::new(home)
        .env("PATH", path)
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
        .args(args.iter().copied())
        .spawn();
    let id = tether.session_id(DEADLINE);
    tether.stdout.wait_for_text("asked", DEADLINE);
    let wait = if expect_wait {
        let shown = eventually(
            "the relay to show the session waiting",
            DEADLINE,
            async || {
                let session = relay.session(&relay.api_key(), &id).await?;
                session
                    .attention
                    .filter(|a| a.state == AttentionState::Waiting)
            },
        )
        .await;
        Some(shown.text)
    } else {
        None
    };
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let argv = std::fs::read_to_string(home.join("argv")).unwrap();
    Run {
        argv: argv.lines().map(String::from).collect(),
        wait,
    }
}

#[tokio::test]
async fn claude_is_told_to_notify_unless_the_person_chose_a_channel() {
    let relay = RelayProcess::start();
    let home = home_with_fakes();
    let run1 = run(
        &relay,
        home.path(),
        &["--agent", "claude", "--continue"],
        true,
    )
    .await;
    assert_eq!(
        run1.argv,
        [
            "--settings",
            r#"{"preferredNotifChannel":"iterm2"}"#,
            "--continue"
        ]
    );
    let text = "Claude needs your permission to use Bash";
    assert_eq!(run1.wait, Some(Some(text.to_string())));
    let env = std::fs::read_to_string(home.path().join("env")).unwrap();
    assert!(
        env.starts_with("TETHER_SESSION_ID=") && env.len() > 30,
        "{env}"
    );

    // The person's own channel wins: no --settings, and their bell still counts.
    write(
        home.path(),
        ".claude/settings.json",
        r#"{"preferredNotifChannel": "terminal_bell"}"#,
    );
    let run2 = run(
        &relay,
        home.path(),
        &["--agent", "claude", "--continue"],
        true,
    )
    .await;
    assert_eq!(run2.argv, ["--continue"]);
    assert_eq!(run2.wait, Some(None));
}

#[tokio::test]
async fn codex_gets_the_tui_settings_the_person_left_unset() {
    let relay = RelayProcess::start();
    let home = home_with_fakes();
    let run1 = run(
        &relay,
        home.path(),
        &["--agent", "codex", "--full-auto"],
        true,
    )
    .await;
    assert_eq!(
        run1.argv,
        [
            "-c",
            "tui.notifications=true",
            "-c",
            "tui.notification_method=\"osc9\"",
            "-c",
            "tui.notification_condition=\"always\"",
            "--full-auto"
        ]
    );
    let text = "Codex wants to run cargo test";
    assert_eq!(run1.wait, Some(Some(text.to_string())));

    // The person's config keeps its method (a bell); tether adds only the rest.
    write(
        home.path(),
        ".codex/config.toml",
        "[tui]\nnotifications = true\nnotification_method = \"bel\"\n",
    );
    let run2 = run(&relay, home.path(), &["--agent", "codex"], true).await;
    assert_eq!(run2.argv, ["-c", "tui.notification_condition=\"always\""]);
    assert_eq!(run2.wait, Some(None));
}

#[tokio::test]
async fn no_agent_notify_and_command_add_nothing() {
    let relay = RelayProcess::start();
    let home = home_with_fakes();
    let args = ["--agent", "claude", "--no-agent-notify", "-p", "hi"];
    assert_eq!(
        run(&relay, home.path(), &args, false).await.argv,
        ["-p", "hi"]
    );
    let claude = home.path().join("bin/claude");
    let args = ["--command", claude.to_str().unwrap(), "-p", "hi"];
    assert_eq!(
        run(&relay, home.path(), &args, false).await.argv,
        ["-p", "hi"]
    );
}
