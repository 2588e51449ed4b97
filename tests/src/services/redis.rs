//! A real Redis server for a test: `redis-server` on a free loopback port,
//! nothing persisted (`--save ''`, no append-only file), its files in a
//! temporary directory; ready when it answers `PING`, killed when dropped.
//!
//! ```no_run
//! use tests::services::redis::RedisServer;
//! let Some(redis) = RedisServer::start() else {
//!     return; // skipped, with a note (a failure under TETHER_REQUIRE_TOOLS=1)
//! };
//! assert!(redis.url().starts_with("redis://127.0.0.1:"));
//! ```

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::free_port;
use crate::tools::require_tool;
use crate::wait::{poll_blocking, DEADLINE};

/// Tries at starting the server (the free port may be taken meanwhile).
const START_TRIES: usize = 3;

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a fresh server; `None` (after `require_tool`'s note) when
    /// `redis-server` is not installed. Panics, with its log, if it does
    /// not start.
    pub fn start() -> Option<Self> {
        if !require_tool("redis-server") {
            return None;
        }
        let mut last = String::new();
        for _ in 0..START_TRIES {
            match Self::try_start() {
                Ok(server) => return Some(server),
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let child = spawn(port, dir.path())?;
        let mut server = Self { child, port, dir };
        server.wait_ready()?;
        Ok(server)
    }

    /// Waits until the server answers `PING`; `Err` with its log if it
    /// exits or does not answer in time.
    fn wait_ready(&mut self) -> Result<(), String> {
        let ready = poll_blocking(DEADLINE, || {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return Some(false);
            }
            self.ping().then_some(true)
        });
        match ready {
            Some(true) => Ok(()),
            _ => Err(format!(
                "not answering PING on {}: {}",
                self.port,
                self.log()
            )),
        }
    }

    /// Kills the server with SIGKILL (an outage: it keeps nothing).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again, empty, on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn(self.port, self.dir.path()).expect("redis-server restarts");
        if let Err(e) = self.wait_ready() {
            panic!("redis-server did not restart: {e}");
        }
    }

    /// Whether the server answers `PING` now.
    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// What the server logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }
}

/// Starts `redis-server` on `port`, its files and log in `dir`.
fn spawn(port: u16, dir: &std::path::Path) -> Result<Child, String> {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn redis-server: {e}"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
