//! The table the bench prints as it fills and writes to `BENCHMARKS.md`,
//! with the method and the machine it ran on.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use tests::browser::workspace_root;

/// The table, printed as it fills and written to `BENCHMARKS.md` at the end.
#[derive(Default)]
pub struct Report {
    rows: Vec<[String; 4]>,
}

impl Report {
    /// Adds (and prints) one row.
    pub fn row(&mut self, area: &str, what: &str, figure: String, target: &str) {
        println!("{area:<22} {what:<62} {figure:<36} {target}");
        self.rows
            .push([area.into(), what.into(), figure, target.into()]);
    }

    /// Writes `BENCHMARKS.md`'s table and method, keeping the sections
    /// after them (everything from the first `## ` heading past the method).
    pub fn write_file(self) {
        let path = workspace_root().join("BENCHMARKS.md");
        let kept = std::fs::read_to_string(&path)
            .ok()
            .and_then(|old| kept_sections(&old))
            .unwrap_or_default();
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Measured by `scripts/bench` (`tests/benches/system/`) on {}.\n",
            command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        );
        let _ = writeln!(
            md,
            "Machine: {}; load average at the start {}.\n",
            machine_description(),
            load_average()
        );
        let _ = writeln!(md, "| area | measurement | result | target |");
        let _ = writeln!(md, "|---|---|---|---|");
        for [area, what, figure, target] in &self.rows {
            let _ = writeln!(md, "| {area} | {what} | {figure} | {target} |");
        }
        let _ = writeln!(md, "\n{METHOD}");
        md.push_str(&kept);
        std::fs::write(&path, md).expect("write BENCHMARKS.md");
        println!("\nwrote {}", path.display());
    }
}

/// The hand-written sections of an existing `BENCHMARKS.md` (those after
/// `## Method`), which a run keeps.
fn kept_sections(old: &str) -> Option<String> {
    let method = old.find("\n## Method")?;
    let next = old[method + 1..].find("\n## ")? + method + 1;
    Some(old[next..].to_string())
}

/// Microseconds, rounded.
pub fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Milliseconds, one decimal.
pub fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The one-minute load average (other work on the machine skews wall-clock figures).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

const METHOD: &str = "## Method

* Everything runs on loopback with the release binaries; viewers are
  WebSocket clients in the bench process (the same frames the browser gets).
* Throughput, two workloads: `cat` of a file holding `seq 1 3000000` (about
  24 MB after the PTY's `\\n` → `\\r\\n`; short lines), and `cat` of 50 MB of
  80-column lines (bulk output). Each is read to the end from a bare PTY,
  then run under `tether` with 1, 10 and 100 viewers attached before it
  starts; timed from starting `tether` until every viewer has received every
  byte. Each figure is the best of three runs, interleaved with the bare PTY
  runs. CPU per MB: user + system time of the relay and of `tether` during
  the run, divided by the MB of the stream (the relay's covers every copy it
  sends).
* Keystroke round trip: one byte sent, its echo awaited, 10 000 times, to
  `sh -c 'stty raw -echo; exec cat'` — once in a bare PTY, once from a viewer
  through the relay and `tether`; and once through the relay alone, with an
  agent client that echoes each INPUT at once. Added by Tether: the relayed
  percentile minus the bare PTY's. CPU per round trip: user + system time
  of the relay and of `tether` over the 10 000 relayed round trips, divided
  by 10 000 (less sensitive to the machine's load than the percentiles).
* Fan-out: one session, 1 000 viewers joined before the stream starts; an
  agent client sends 1 MiB as 256 OUTPUT frames of 4 KiB, each after the
  relay acknowledged the previous one. Relay CPU per delivered MB (1 000 MiB
  are delivered), and every viewer must get every byte (none skipped). The
  target, issue 12's twice the viewers per core, is half the 9.6 µs per
  frame copy this bench measured before that issue's changes.
* Relay-alone throughput: an agent client sends the same number of bytes in
  64 KiB OUTPUT frames, no PTY or wrapper involved: the relay's own ceiling.
* Relay CPU: user + system time of the relay process during the transfer,
  as a share of the elapsed time (100% = one core).
* Join: 8 MiB of output stored in a session, then the time from a new
  viewer's connect until `history_complete`, 10 joins.
* Memory: the relay's VmRSS once it settles, before and after opening 1 000
  sessions (agent linked, one viewer each, a few bytes of history), and
  before and after 1 000 viewers join one session.
* Reading the throughput rows: the full path keeps four processes busy
  (the workload, `tether`, the relay and the viewer clients) where the bare
  PTY keeps two, on a machine with two cores; with N viewers the relay sends
  N copies (N × the figure in total) and the N clients that stand in for the
  browsers decode them on those same two cores. The CPU-per-MB figures do
  not depend on the machine's load; the MB/s figures do.
* Nodes: two relay nodes on a real `redis-server`; an agent client on the
  first. 256 MiB in 64 KiB OUTPUT frames to one viewer on the owner node,
  then to one on the other node, which relays it (best of three each); the
  relay-alone keystroke round trip, 2 000 times, both ways. Memory: the
  relaying node's VmRSS before and after 200 relayed viewers join. Redis:
  `INFO` commands processed over five seconds with no session and with
  200 live ones, and `used_memory` before and after.
* Viewer: the release build in `dist/` served by the relay, loaded five times
  in headless Chromium; the page measures from navigation start to the first
  output written to xterm. Sizes of the wasm and JavaScript in `dist/`, raw
  and `gzip -9`.
";

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!(
        "{cpu}, {cores} cores, {mem_gib:.0} GiB RAM, Linux {}",
        command_output("uname", &["-r"])
    )
}

/// What `program args` prints, trimmed (empty if it fails).
pub fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
