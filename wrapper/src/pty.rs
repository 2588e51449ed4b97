//! The agent's pseudo-terminal: spawning the child, its I/O ends, resizing,
//! and turning its end into an exit code.

use anyhow::Context;
use portable_pty::{native_pty_system, Child, ChildKiller, CommandBuilder, MasterPty, PtySize};
use protocol::Size;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What to run in the PTY.
#[derive(Debug, Clone)]
pub struct Spawn {
    /// The program, resolved to a path.
    pub program: PathBuf,
    /// Its arguments, in order.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Initial size.
    pub size: Size,
}

/// Tether's variables that hold a secret, never passed on to the agent
/// (beside any `TETHER_…` variable whose name says it holds one, see
/// [`is_secret_variable`]).
const SECRET_VARIABLES: &[&str] = &["TETHER_API_KEY"];

/// Whether the variable `name` holds one of Tether's secrets: the agent runs
/// code of its own (and prints its environment when asked), so the key
/// tether streams with is not its to see.
pub fn is_secret_variable(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    SECRET_VARIABLES.contains(&upper.as_str())
        || upper.strip_prefix("TETHER_").is_some_and(|rest| {
            ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
                .iter()
                .any(|word| rest.contains(word))
        })
}

/// A running agent in a PTY.
pub struct AgentPty {
    master: Arc<Mutex<Box<dyn MasterPty + Send>>>,
    child: Box<dyn Child + Send + Sync>,
}

/// A handle that resizes the PTY from any thread.
#[derive(Clone)]
pub struct PtyResizer {
    master: Arc<Mutex<Box<dyn MasterPty + Send>>>,
}

impl PtyResizer {
    /// Sets the PTY's size (the kernel sends SIGWINCH to the agent).
    pub fn resize(&self, size: Size) -> anyhow::Result<()> {
        let master = self.master.lock().unwrap_or_else(|e| e.into_inner());
        master.resize(pty_size(size))
    }
}

fn pty_size(size: Size) -> PtySize {
    PtySize {
        rows: size.rows,
        cols: size.cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl AgentPty {
    /// Opens a PTY of `spawn.size` and starts the program in it, in the
    /// current directory, with the current environment minus Tether's
    /// secrets ([`is_secret_variable`]) plus `spawn.env`.
    pub fn spawn(spawn: &Spawn) -> anyhow::Result<Self> {
        let pair = native_pty_system()
            .openpty(pty_size(spawn.size))
            .context("cannot open a pseudo-terminal")?;
        let mut cmd = CommandBuilder::new(&spawn.program);
        cmd.args(&spawn.args);
        if let Ok(dir) = std::env::current_dir() {
            cmd.cwd(dir);
        }
        for (name, _) in std::env::vars_os() {
            if is_secret_variable(&name) {
                cmd.env_remove(&name);
            }
        }
        for (key, value) in &spawn.env {
            cmd.env(key, value);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .with_context(|| format!("cannot start {}", spawn.program.display()))?;
        // Close our copy of the slave so that reads end when the agent's side closes.
        drop(pair.slave);
        Ok(Self {
            master: Arc::new(Mutex::new(pair.master)),
            child,
        })
    }

    /// A reader of everything the agent writes to its terminal.
    pub fn reader(&self) -> anyhow::Result<Box<dyn Read + Send>> {
        let master = self.master.lock().unwrap_or_else(|e| e.into_inner());
        master.try_clone_reader()
    }

    /// The writer into the agent's terminal (its keyboard). Can be taken once.
    pub fn writer(&self) -> anyhow::Result<Box<dyn Write + Send>> {
        let master = self.master.lock().unwrap_or_else(|e| e.into_inner());
        master.take_writer()
    }

    /// A resize handle.
    pub fn resizer(&self) -> PtyResizer {
        PtyResizer {
            master: Arc::clone(&self.master),
        }
    }

    /// A handle that can kill the agent from another thread.
    pub fn killer(&self) -> Box<dyn ChildKiller + Send + Sync> {
        self.child.clone_killer()
    }

    /// The agent's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Waits for the agent to end and returns the exit code a shell would
    /// report: its status, or 128 + the signal number that killed it.
    pub fn wait(&mut self) -> std::io::Result<i32> {
        let status = self.child.wait()?;
        Ok(match status.signal() {
            Some(name) => 128 + signal_number(name),
            None => i32::try_from(status.exit_code()).unwrap_or(1),
        })
    }
}

/// The number of a signal from the description `portable-pty` reports
/// (`strsignal` text such as "Terminated", or "Signal N"); 1 if unknown.
fn signal_number(description: &str) -> i32 {
    if let Some(n) = description
        .strip_prefix("Signal ")
        .and_then(|n| n.trim().parse().ok())
    {
        return n;
    }
    const NAMES: &[(&str, i32)] = &[
        ("Hangup", 1),
        ("Interrupt", 2),
        ("Quit", 3),
        ("Illegal instruction", 4),
        ("Trace/breakpoint trap", 5),
        ("Aborted", 6),
        ("Bus error", 7),
        ("Floating point exception", 8),
        ("Killed", 9),
        ("User defined signal 1", 10),
        ("Segmentation fault", 11),
        ("User defined signal 2", 12),
        ("Broken pipe", 13),
        ("Alarm clock", 14),
        ("Terminated", 15),
    ];
    NAMES
        .iter()
        .find(|(name, _)| description.starts_with(name))
        .map_or(1, |(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spawn {
        Spawn {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("TETHER_TEST_VAR".into(), "hello".into())],
            size: Size::new(33, 101),
        }
    }

    fn run(script: &str) -> (String, i32) {
        let mut pty = AgentPty::spawn(&sh(script)).unwrap();
        let mut reader = pty.reader().unwrap();
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        (
            String::from_utf8_lossy(&out).into_owned(),
            pty.wait().unwrap(),
        )
    }

    #[test]
    fn runs_with_size_env_and_exit_status() {
        let (out, code) = run("stty size; echo $TETHER_TEST_VAR; exit 7");
        assert!(out.contains("33 101"), "{out:?}");
        assert!(out.contains("hello"), "{out:?}");
        assert_eq!(code, 7);
    }

    #[test]
    fn death_by_signal_is_128_plus_signal() {
        let (_, code) = run("kill -TERM $$");
        assert_eq!(code, 143);
    }

    #[test]
    fn tethers_secrets_are_known_by_name() {
        let secret = |name: &str| is_secret_variable(OsStr::new(name));
        assert!(secret("TETHER_API_KEY"));
        assert!(secret("TETHER_SHARE_TOKEN"));
        assert!(!secret("TETHER_SESSION_ID"));
        assert!(!secret("TETHER_API_URL"));
        assert!(!secret("API_KEY"), "only Tether's own");
    }

    #[test]
    fn signal_names_map_to_numbers() {
        assert_eq!(signal_number("Killed"), 9);
        assert_eq!(signal_number("Signal 31"), 31);
        assert_eq!(signal_number("Something else"), 1);
    }
}
