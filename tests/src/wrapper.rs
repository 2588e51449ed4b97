//! Test helpers that drive the real `tether` binary: with pipes
//! ([`TetherProcess`]) or inside a real terminal ([`Tmux`]).
//!
//! Every process started here is killed when its handle drops, also when a
//! test panics.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Path of the `tether` binary (built next to the test executable).
pub fn tether_bin() -> PathBuf {
    crate::relay::workspace_binary("tether")
}

/// Bytes a process wrote, filled by a reader thread, with a way to wait for
/// a condition on them.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    inner: Arc<(Mutex<CapturedState>, Condvar)>,
}

#[derive(Debug, Default)]
struct CapturedState {
    bytes: Vec<u8>,
    closed: bool,
}

impl Captured {
    fn spawn_reader(mut source: impl Read + Send + 'static) -> Self {
        let captured = Self::default();
        let sink = captured.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (lock, cvar) = &*sink.inner;
                        lock.lock().unwrap().bytes.extend_from_slice(&buf[..n]);
                        cvar.notify_all();
                    }
                }
            }
            let (lock, cvar) = &*sink.inner;
            lock.lock().unwrap().closed = true;
            cvar.notify_all();
        });
        captured
    }

    /// Everything captured so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.inner.0.lock().unwrap().bytes.clone()
    }

    /// Everything captured so far, as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Waits until `done(bytes)` holds; panics with the captured text after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&[u8]) -> bool) {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.inner;
        let mut state = lock.lock().unwrap();
        while !done(&state.bytes) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "timed out waiting for {what}; captured: {:?}",
                String::from_utf8_lossy(&state.bytes)
            );
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Waits until `text` appears.
    pub fn wait_for_text(&self, text: &str, timeout: Duration) {
        let needle = text.as_bytes().to_vec();
        self.wait_for(&format!("{text:?}"), timeout, |bytes| {
            bytes.windows(needle.len()).any(|w| w == needle.as_slice())
        });
    }

    /// Waits until the stream is closed (the process exited).
    pub fn wait_closed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.inner;
        let mut state = lock.lock().unwrap();
        while !state.closed {
            let now = Instant::now();
            assert!(now < deadline, "timed out waiting for the output to close");
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
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
    /// start, waiting up to `timeout` for it.
    pub fn session_id(&self, timeout: Duration) -> String {
        self.stderr.wait_for_text("/s/", timeout);
        self.stderr.wait_for_text("\n", timeout);
        let text = self.stderr.text();
        let line = text
            .lines()
            .find(|line| line.contains("/s/"))
            .expect("dashboard line");
        line.rsplit("/s/")
            .next()
            .expect("id after /s/")
            .trim()
            .to_owned()
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
    /// after `timeout` (it is then killed).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Everything it wrote is captured once its pipes close.
                let left =
                    deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
                self.stdout.wait_closed(left);
                self.stderr.wait_closed(left);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tether did not exit within {timeout:?}; stderr: {}",
                self.stderr.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
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

/// Polls `check` every 10 ms until it returns `Some`, panicking with `what`
/// after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
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
    /// Whether tmux is installed.
    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

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
        tmux.wait_for_text(Self::PROMPT, Duration::from_secs(10));
        tmux
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

    /// Waits until `done(screen)` holds; panics with the screen after `timeout`.
    pub fn wait_for_screen(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `text` is on the screen.
    pub fn wait_for_text(&self, text: &str, timeout: Duration) -> String {
        self.wait_for_screen(&format!("{text:?} on screen"), timeout, |s| {
            s.contains(text)
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
    pub fn wait_until_idle(&self, timeout: Duration) {
        let shell = self.pane_pid();
        wait_until("the shell to be idle", timeout, || {
            children(shell).is_empty().then_some(())
        });
    }

    /// Waits until a process named `name` runs below the window's shell.
    pub fn wait_for_process(&self, name: &str, timeout: Duration) {
        let shell = self.pane_pid();
        wait_until(&format!("{name} to run"), timeout, || {
            let mut stack = vec![shell];
            while let Some(pid) = stack.pop() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == name {
                    return Some(());
                }
                stack.extend(children(pid));
            }
            None
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

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Child process ids of `pid` (Linux `/proc`).
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}
