//! A real terminal for the wrapper's tests: a private tmux server running a
//! shell in one window, typed into and read back (`capture-pane`).
//!
//! Tests that use it first check `tools::require_tool("tmux")`
//! ([`crate::tools`]): without tmux they skip, or fail under
//! `TETHER_REQUIRE_TOOLS=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::relay::RelayProcess;
use crate::tools::require_tool;
use crate::wait::{eventually_blocking, poll_blocking, DEADLINE};
use crate::wrapper::tether_bin;

/// A real relay and a real terminal (tmux) whose shell runs `tether`
/// against it ([`Tmux::for_relay`]), with a private home.
pub struct RelayTerminal {
    /// The terminal.
    pub tmux: Tmux,
    /// The relay's API key, the shell's too.
    pub key: String,
    /// The shell's home and Tether's.
    pub home: tempfile::TempDir,
    /// The relay.
    pub relay: RelayProcess,
}

impl RelayTerminal {
    /// Starts the relay and a `cols`×`rows` terminal; `None` without tmux
    /// (after [`require_tool`]'s note, or its panic).
    pub fn start(cols: u16, rows: u16) -> Option<Self> {
        if !require_tool("tmux") {
            return None;
        }
        let relay = RelayProcess::start();
        let home = tempfile::tempdir().expect("temp dir for the home");
        let key = relay.api_key();
        let tmux = Tmux::for_relay(&relay.http_url(), home.path(), &key, cols, rows);
        Some(Self {
            tmux,
            key,
            home,
            relay,
        })
    }
}

/// A private tmux server (its own socket in a temp dir) running one window;
/// killed on drop.
#[derive(Debug)]
pub struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// The shell prompt in the window (also inherited by shells started in it).
    pub const PROMPT: &'static str = "PROMPT>";

    /// Starts `sh` (prompt [`Tmux::PROMPT`]) in a `cols`×`rows` window with `env` set.
    pub fn start(cols: u16, rows: u16, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for tmux");
        let socket = dir.path().join("tmux.sock");
        let mut command = Command::new("tmux");
        command
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string());
        for (key, value) in env {
            command.arg("-e").arg(format!("{key}={value}"));
        }
        command.args(["env", &format!("PS1={} ", Self::PROMPT), "sh"]);
        let status = command.status().expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        let tmux = Self { socket, _dir: dir };
        tmux.wait_for_text(Self::PROMPT, DEADLINE);
        tmux
    }

    /// [`Tmux::start`] for `tether` against a relay: the window's shell has
    /// `home` as its home and Tether's, the relay's API at `api_url` and
    /// `key` as its key.
    pub fn for_relay(api_url: &str, home: &Path, key: &str, cols: u16, rows: u16) -> Self {
        let home = home.to_str().expect("a UTF-8 home");
        let env = [
            ("TETHER_HOME", home),
            ("HOME", home),
            ("TETHER_API_URL", api_url),
            ("TETHER_API_KEY", key),
        ];
        Self::start(cols, rows, &env)
    }

    /// Types `tether --command sh` and waits until that shell runs under
    /// Tether; returns the session's id.
    pub fn run_tether_shell(&self) -> String {
        self.type_line(&format!("clear; {} --command sh", tether_bin().display()));
        let id = self.session_id(DEADLINE);
        self.wait_for_process("sh", DEADLINE);
        id
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new("tmux");
        command.arg("-S").arg(&self.socket);
        command
    }

    /// Types `text` literally, then Enter.
    pub fn type_line(&self, text: &str) {
        self.send_literal(text);
        self.send_keys(&["Enter"]);
    }

    /// Types `text` literally (no key names).
    pub fn send_literal(&self, text: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "0", "-l", "--", text])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Sends tmux key names (`Enter`, `C-c`, …).
    pub fn send_keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", "0"])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        let output = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "0"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until `done(screen)` holds and returns that screen; panics
    /// with `what` and the screen after `within`.
    pub fn wait_for_screen(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let screen = poll_blocking(within, || Some(self.screen()).filter(|s| done(s)));
        screen
            .unwrap_or_else(|| panic!("not within {within:?}: {what}; screen:\n{}", self.screen()))
    }

    /// Waits until `text` is on the screen.
    pub fn wait_for_text(&self, text: &str, within: Duration) -> String {
        self.wait_for_screen(&format!("{text:?} on screen"), within, |s| s.contains(text))
    }

    /// The session id from tether's dashboard line (`…/s/ID`) once it is
    /// on the screen.
    pub fn session_id(&self, within: Duration) -> String {
        let id = poll_blocking(within, || crate::wrapper::session_id_in(&self.screen()));
        id.unwrap_or_else(|| {
            panic!(
                "no dashboard line (…/s/ID) on screen within {within:?}:\n{}",
                self.screen()
            )
        })
    }

    /// Process id of the shell running in the window.
    pub fn pane_pid(&self) -> u32 {
        let output = self
            .tmux()
            .args(["display-message", "-p", "-t", "0", "#{pane_pid}"])
            .output()
            .expect("tmux display-message");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a pane pid")
    }

    /// The pane's size and cursor position: `(cols, rows, cursor_x, cursor_y)`,
    /// the cursor 0-based from the top left.
    pub fn geometry(&self) -> (u16, u16, u16, u16) {
        let output = self
            .tmux()
            .args(["display-message", "-p", "-t", "0"])
            .arg("#{pane_width} #{pane_height} #{cursor_x} #{cursor_y}")
            .output()
            .expect("tmux display-message");
        let text = String::from_utf8_lossy(&output.stdout);
        let numbers: Vec<u16> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        match numbers[..] {
            [cols, rows, x, y] => (cols, rows, x, y),
            _ => panic!("unexpected tmux geometry {text:?}"),
        }
    }

    /// Waits until the window's shell runs no command (a foreground program
    /// exited), so that what is typed next reaches the shell.
    pub fn wait_until_idle(&self, within: Duration) {
        let shell = self.pane_pid();
        eventually_blocking("the shell to be idle", within, || {
            children(shell).is_empty()
        });
    }

    /// Waits until a process named `name` runs below the window's shell.
    pub fn wait_for_process(&self, name: &str, within: Duration) {
        let shell = self.pane_pid();
        eventually_blocking(&format!("{name} to run"), within, || {
            let mut stack = vec![shell];
            while let Some(pid) = stack.pop() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == name {
                    return true;
                }
                stack.extend(children(pid));
            }
            false
        });
    }

    /// Resizes the window.
    pub fn resize(&self, cols: u16, rows: u16) {
        let status = self
            .tmux()
            .args(["resize-window", "-t", "0", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .status()
            .expect("tmux resize-window");
        assert!(status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// Child process ids of `pid` (Linux `/proc`).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
