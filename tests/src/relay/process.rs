//! The `tether-relay` child process: started in a private home on an
//! ephemeral port, restarted on the same port, killed on drop.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::wait::{poll_blocking, DEADLINE};

/// Where [`workspace_binary`] looks instead of this build, if set.
static BINARIES_FROM: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes [`workspace_binary`] take the binaries in `dir` (another build's
/// `target/release`, for comparing two builds in one run), or this build's
/// again with `None`.
pub fn use_binaries_from(dir: Option<PathBuf>) {
    *BINARIES_FROM.lock().unwrap_or_else(|e| e.into_inner()) = dir;
}

/// A binary built by this workspace, found next to the test executable
/// (`target/debug/deps/test-…` → `target/debug/NAME`), or in the directory
/// [`use_binaries_from`] named.
pub fn workspace_binary(name: &str) -> PathBuf {
    let chosen = BINARIES_FROM
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let dir = chosen.unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("current test executable");
        exe.parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps")
            .to_path_buf()
    });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A running `tether-relay` child process with its own temporary
/// `TETHER_HOME` (also its data dir), listening on an ephemeral loopback port.
pub struct RelayProcess {
    child: Option<Child>,
    home: PathBuf,
    _temp: Option<tempfile::TempDir>,
    addr: SocketAddr,
    args: Vec<String>,
    /// A shell line run before the relay (`ulimit -n 256`), if any.
    prelude: Option<String>,
}

impl RelayProcess {
    /// Starts a relay in a fresh temporary home, with the local-dev key
    /// created (see [`api_key`](Self::api_key)).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a relay in a fresh temporary home with extra flags
    /// (e.g. `["--history-bytes", "64"]`).
    pub fn start_with(args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir for TETHER_HOME");
        let mut relay = Self::start_in(temp.path(), args);
        relay._temp = Some(temp);
        relay
    }

    /// Starts a relay whose `TETHER_HOME` and data dir is `home` (kept after
    /// drop), so a wrapper can share the same config.json.
    pub fn start_in(home: &Path, args: &[&str]) -> Self {
        Self::start_after(home, None, args)
    }

    /// Starts a relay (in a fresh temporary home) whose process starts with
    /// a file-descriptor limit of `soft` and may raise it to `hard`
    /// (`ulimit -S -n`, `ulimit -H -n`).
    pub fn start_with_fd_limit(soft: u64, hard: u64, args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir for TETHER_HOME");
        let prelude = format!("ulimit -S -n {soft} && ulimit -H -n {hard}");
        let mut relay = Self::start_after(temp.path(), Some(prelude), args);
        relay._temp = Some(temp);
        relay
    }

    fn start_after(home: &Path, prelude: Option<String>, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, addr) = spawn(home, "127.0.0.1:0", &args, prelude.as_deref())
            .unwrap_or_else(|e| panic!("starting tether-relay: {e}"));
        Self {
            child: Some(child),
            home: home.to_path_buf(),
            _temp: None,
            addr,
            args,
            prelude,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT`
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's `TETHER_HOME` (holds config.json, relay.db, relay.log).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// What the relay wrote to stderr so far (its log), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("relay.log")).unwrap_or_default()
    }

    /// The local-dev API key the relay saved in `$TETHER_HOME/config.json`
    /// on its first start (user `local`).
    pub fn api_key(&self) -> String {
        protocol::config::Config::load(&self.home)
            .expect("the relay's config.json")
            .api_key
            .expect("api_key in the relay's config.json")
    }

    /// Creates a key for `user` with `tether-relay keys create`.
    pub fn create_key(&self, user: &str) -> String {
        let out = self.keys_command(&["create", "--user", user]);
        out.lines()
            .last()
            .expect("keys create prints the key")
            .trim()
            .to_string()
    }

    /// Revokes `key` with `tether-relay keys revoke ID`.
    pub fn revoke_key(&self, key: &str) {
        let id = key.split('.').nth(1).expect("key has an id part");
        self.keys_command(&["revoke", id]);
    }

    /// Runs `tether-relay keys ARGS` on this relay's data; returns what it printed.
    pub fn keys_command(&self, args: &[&str]) -> String {
        let output = Command::new(workspace_binary("tether-relay"))
            .arg("keys")
            .args(args)
            .env("TETHER_HOME", &self.home)
            .env("TETHER_LOG", "warn")
            .stderr(Stdio::inherit())
            .output()
            .expect("run tether-relay keys");
        assert!(output.status.success(), "tether-relay keys {args:?} failed");
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// The relay's process id while it runs (for memory measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the relay at once (SIGKILL: memory lost, nothing flushed).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the relay to stop (SIGTERM) and waits for it to exit; returns
    /// whether it exited successfully within [`DEADLINE`].
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let exited = poll_blocking(DEADLINE, || child.try_wait().ok().flatten());
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        exited.is_some_and(|status| status.success())
    }

    /// Kills the relay and starts it again with the same home, data and
    /// port (retrying while the old socket still holds the port).
    pub fn restart(&mut self) {
        self.kill();
        let mut last_error = String::new();
        let started = poll_blocking(DEADLINE, || {
            match spawn(
                &self.home,
                &self.addr.to_string(),
                &self.args,
                self.prelude.as_deref(),
            ) {
                Ok(started) => Some(started),
                Err(e) => {
                    last_error = e;
                    None
                }
            }
        });
        let Some((child, addr)) = started else {
            panic!("relay did not restart on {}: {last_error}", self.addr)
        };
        self.child = Some(child);
        self.addr = addr;
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts the binary (through `sh -c` after `prelude`, if given) and
/// waits for its `listening on` line.
fn spawn(
    home: &Path,
    listen: &str,
    args: &[String],
    prelude: Option<&str>,
) -> Result<(Child, SocketAddr), String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("relay.log"))
        .map_err(|e| format!("relay.log: {e}"))?;
    let binary = workspace_binary("tether-relay");
    // `TETHER_RELAY_WRAP` (e.g. `valgrind --tool=callgrind`) runs the relay
    // under that command: instruction profiles of the benchmarks.
    let wrap = std::env::var("TETHER_RELAY_WRAP").unwrap_or_default();
    let mut wrap = wrap.split_whitespace();
    let mut command = match (prelude, wrap.next()) {
        (None, None) => Command::new(binary),
        (None, Some(program)) => {
            let mut command = Command::new(program);
            command.args(wrap).arg(binary);
            command
        }
        (Some(prelude), _) => {
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(format!("{prelude} && exec \"$0\" \"$@\""))
                .arg(binary);
            sh
        }
    };
    let mut child = command
        .arg("--listen")
        .arg(listen)
        .args(args)
        .env("TETHER_HOME", home)
        .env("TETHER_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading so the relay never blocks on a full pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left.max(Duration::from_millis(1))) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "no `listening on` line within {DEADLINE:?} (see {}/relay.log)",
                home.display()
            ));
        };
        if let Some(addr) = line.strip_prefix("tether-relay listening on http://") {
            let addr = addr
                .trim()
                .parse()
                .map_err(|e| format!("bad address {addr:?}: {e}"))?;
            return Ok((child, addr));
        }
    }
}
