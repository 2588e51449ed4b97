//! A real HAProxy in front of three relay nodes for a test: the deployment's
//! own `deploy/haproxy.cfg` (round robin, WebSocket tunnels, health checks
//! on `/health`, a refused connection retried on another node), with its
//! addresses given through the environment variables it reads; on a free
//! loopback port, ready when `/health` answers through it, killed when
//! dropped.
//!
//! ```no_run
//! # fn demo(nodes: [std::net::SocketAddr; 3]) {
//! use tests::services::haproxy::HaproxyServer;
//! let Some(lb) = HaproxyServer::start(nodes) else {
//!     return; // skipped, with a note (a failure under TETHER_REQUIRE_TOOLS=1)
//! };
//! println!("{}", lb.http_url());
//! # }
//! ```

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::free_port;
use crate::tools::require_tool;
use crate::wait::{poll_blocking, DEADLINE};

/// Tries at starting it (the free port may be taken meanwhile).
const START_TRIES: usize = 3;

/// The deployment's configuration, shared with `deploy/docker-compose.yml`.
pub fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/haproxy.cfg")
}

/// A running `haproxy`, killed when dropped.
pub struct HaproxyServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl HaproxyServer {
    /// Starts HAProxy balancing over `nodes`; `None` (after `require_tool`'s
    /// note) when `haproxy` is not installed. Panics, with its output, if it
    /// does not start.
    pub fn start(nodes: [SocketAddr; 3]) -> Option<Self> {
        if !require_tool("haproxy") {
            return None;
        }
        let mut last = String::new();
        for _ in 0..START_TRIES {
            match Self::try_start(nodes) {
                Ok(server) => return Some(server),
                Err(e) => last = e,
            }
        }
        panic!("haproxy did not start: {last}");
    }

    fn try_start(nodes: [SocketAddr; 3]) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let out =
            std::fs::File::create(dir.path().join("haproxy.log")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new("haproxy");
        command
            .arg("-db")
            .arg("-f")
            .arg(config_path())
            .env("TETHER_LB_BIND", format!("127.0.0.1:{port}"));
        for (i, node) in nodes.iter().enumerate() {
            command.env(format!("TETHER_NODE{}", i + 1), node.to_string());
        }
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn haproxy: {e}"))?;
        let mut server = Self { child, port, dir };
        let ready = poll_blocking(DEADLINE, || {
            if matches!(server.child.try_wait(), Ok(Some(_))) {
                return Some(false);
            }
            server.healthy().then_some(true)
        });
        match ready {
            Some(true) => Ok(server),
            _ => Err(format!("/health not answered on {port}: {}", server.log())),
        }
    }

    /// Whether `GET /health` through it answers 200 now.
    fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut status = [0u8; 12];
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: lb\r\n\r\n")
            .is_ok()
            && stream.read_exact(&mut status).is_ok()
            && status.ends_with(b" 200")
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:PORT`
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// What HAProxy printed so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.log")).unwrap_or_default()
    }
}

impl Drop for HaproxyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
