//! The processes a measurement runs: a bare PTY, the release `tether`, and
//! what the bench reads of them (CPU time, resident memory); percentiles.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portable_pty::{native_pty_system, CommandBuilder, PtySize};
use tests::relay::RelayProcess;

/// Longest any single step may take before the bench gives up.
pub const STEP_DEADLINE: Duration = Duration::from_secs(180);

/// `sh -c script` running in a fresh 24×80 PTY, with the master's two ends.
pub struct PtyProcess {
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    pub reader: Box<dyn std::io::Read + Send>,
    pub writer: Box<dyn std::io::Write + Send>,
    /// Closing the master hangs up the child: keep it as long as the rest.
    pub _master: Box<dyn portable_pty::MasterPty + Send>,
}

/// Starts `sh -c script` in a new PTY.
pub fn spawn_in_pty(script: &str) -> PtyProcess {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a PTY");
    let mut command = CommandBuilder::new("sh");
    command.args(["-c", script]);
    let child = pair.slave.spawn_command(command).expect("spawn in PTY");
    drop(pair.slave);
    PtyProcess {
        child,
        reader: pair.master.try_clone_reader().expect("PTY reader"),
        writer: pair.master.take_writer().expect("PTY writer"),
        _master: pair.master,
    }
}

/// Starts the release `tether` on `session`, running `sh -c script`, with no
/// terminal attached (stdin and stdout are not TTYs).
///
/// `TETHER_BENCH_WRAP` (e.g. `strace -c -f -o /tmp/tether.strace`) runs it
/// under that command, for syscall counts or instruction profiles.
pub fn spawn_tether(relay: &RelayProcess, session: &str, script: &str) -> Child {
    let binary = tests::relay::workspace_binary("tether");
    let wrap = std::env::var("TETHER_BENCH_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command
        .args(["--relay-url", &format!("{}/agent", relay.ws_url())])
        .args(["--api-url", &relay.http_url()])
        .args(["--resume", session, "--command", "sh", "--", "-c", script])
        .env("TETHER_HOME", relay.home())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tether")
}

/// Awaits `future`, failing the bench if it takes longer than a step may.
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP_DEADLINE, future)
        .await
        .expect("bench step finished in time")
}

/// User + system CPU seconds used by process `pid` so far (also readable
/// while it is a zombie, before it is waited for).
pub fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = &stat[stat.rfind(')').expect("comm field") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / CLOCK_TICKS_PER_SEC
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// The resident set of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc status")
}

/// Durations, sorted, for percentiles.
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Sorts `samples`.
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// The `pct`-th percentile (nearest rank).
    pub fn p(&self, pct: usize) -> Duration {
        let rank = (pct * self.0.len()).div_ceil(100).max(1);
        self.0[rank - 1]
    }
}
