//! Test helpers that drive the real `tether` binary: with pipes
//! ([`TetherProcess`]) or inside a real terminal ([`Tmux`]).
//!
//! Every process started here is killed when its handle drops, also when a
//! test panics.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::relay::contains;
use crate::wait::{eventually_blocking, poll_blocking, DEADLINE};

/// Path of the `tether` binary (built next to the test executable).
pub fn tether_bin() -> PathBuf {
    crate::relay::workspace_binary("tether")
}

/// Bytes a process wrote, filled by a reader thread, with a way to wait for
/// a condition on them.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    inner: Arc<Mutex<CapturedState>>,
}

#[derive(Debug, Default)]
struct CapturedState {
    bytes: Vec<u8>,
    closed: bool,
}

impl Captured {
    fn spawn_reader(mut source: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = Arc::clone(&captured.inner);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().bytes.extend_from_slice(&buf[..n]),
                }
            }
            sink.lock().unwrap().closed = true;
        });
        captured
    }

    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.lock().unwrap().bytes.clone()
    }

    /// Everything captured so far, as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Waits until `done(bytes)` holds; panics with `what` and the captured
    /// text after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&[u8]) -> bool) {
        let held = poll_blocking(within, || done(&self.inner.lock().unwrap().bytes));
        if held.is_none() {
            panic!("not within {within:?}: {what}; captured: {:?}", self.text());
        }
    }

    /// Waits until `text` appears (see [`wait_for`](Self::wait_for)).
    pub fn wait_for_text(&self, text: &str, within: Duration) {
        self.wait_for(&format!("{text:?}"), within, |bytes| {
            contains(bytes, text.as_bytes())
        });
    }

    /// Waits until the stream is closed (the process exited).
    pub fn wait_closed(&self, within: Duration) {
        eventually_blocking("the output to close", within, || {
            self.inner.lock().unwrap().closed
        });
    }
}

/// Builds a `tether` run with a private home and explicit environment.
#[derive(Debug, Clone)]
pub struct TetherCommand {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    home: PathBuf,
    stdin: bool,
}

impl TetherCommand {
    /// A run with `home` as both `HOME` and `TETHER_HOME`.
    pub fn new(home: &Path) -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            home: home.to_path_buf(),
            stdin: true,
        }
    }

    /// Adds command-line arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Gives the process no stdin (`/dev/null`) instead of a pipe.
    pub fn null_stdin(mut self) -> Self {
        self.stdin = false;
        self
    }

    /// Starts `tether` with piped stdout/stderr (and stdin unless `null_stdin`).
    pub fn spawn(self) -> TetherProcess {
        let mut command = Command::new(tether_bin());
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("TETHER_HOME", &self.home)
            .env("TERM", "xterm-256color")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start tether");
        let stdout = Captured::spawn_reader(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::spawn_reader(child.stderr.take().expect("piped stderr"));
        TetherProcess {
            child,
            stdout,
            stderr,
        }
    }
}

/// A running `tether` with piped I/O; killed on drop.
#[derive(Debug)]
pub struct TetherProcess {
    child: Child,
    /// What it wrote to stdout (the agent's output).
    pub stdout: Captured,
    /// What it wrote to stderr (tether's own lines).
    pub stderr: Captured,
}

impl TetherProcess {
    /// The session id from the dashboard line (`…/s/ID`) tether prints at
    /// start, waiting up to `within` for the whole line.
    pub fn session_id(&self, within: Duration) -> String {
        let id = poll_blocking(within, || session_id_in(&self.stderr.text()));
        id.unwrap_or_else(|| {
            panic!(
                "no dashboard line (…/s/ID) within {within:?}; stderr: {}",
                self.stderr.text()
            )
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes to its stdin.
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(bytes).expect("write to tether's stdin");
        stdin.flush().expect("flush tether's stdin");
    }

    /// Closes its stdin (end of input).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits for it to exit and for its output to be captured, panicking
    /// after `within` (it is then killed, on drop).
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let child = &mut self.child;
        let status = poll_blocking(within, || child.try_wait().expect("try_wait"));
        let Some(status) = status else {
            panic!(
                "tether did not exit within {within:?}; stderr: {}",
                self.stderr.text()
            );
        };
        // Everything it wrote is captured once its pipes close.
        self.stdout.wait_closed(DEADLINE);
        self.stderr.wait_closed(DEADLINE);
        status
    }

    /// Sends a signal to it.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for TetherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session id (a UUID) after `/s/` in the first line of `text` that
/// holds one whole, such as tether's dashboard line.
pub fn session_id_in(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let id = line.rsplit_once("/s/")?.1.get(..36)?;
        let uuid = id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        (uuid && id.matches('-').count() == 4).then(|| id.to_owned())
    })
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where `tether` in `home` logs the session `id` of `agent` (its
/// `--command` name, e.g. `sh`).
pub fn wrapper_log(home: &Path, agent: &str, id: &str) -> PathBuf {
    home.join(format!("{agent}_wrapper"))
        .join(format!("{id}.log"))
}

/// Prints a file (a log) to stderr when dropped during a panic, so that a
/// failing test shows it; does nothing when the test passes.
pub struct PrintOnPanic(pub PathBuf);

impl Drop for PrintOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- {} ----\n{}",
                self.0.display(),
                std::fs::read_to_string(&self.0).unwrap_or_default()
            );
        }
    }
}
