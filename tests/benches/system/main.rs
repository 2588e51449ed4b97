//! Tether's whole-system benchmarks: the real `tether-relay` and `tether`
//! release binaries, real PTYs, real WebSockets on loopback.
//!
//! Run with `scripts/bench` (which builds the release binaries first). Prints
//! a table and writes `BENCHMARKS.md` at the workspace root. Each figure sits
//! beside its ceiling measured in the same run on the same machine: a bare PTY
//! for throughput and keystroke latency.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

mod nodes;
use protocol::{Control, Frame};
use tests::browser::{workspace_root, Browser, Screen, ViewerFixture};
use tests::relay::{contains, Event, RelayProcess, SessionFixture};

/// Lines of the throughput workload (`seq 1 N`, printed with `cat`).
const SEQ_LINES: u64 = 3_000_000;
/// Keystroke round trips per measurement.
const TRIPS: usize = 10_000;
/// History replayed to a joining viewer.
const HISTORY: usize = 8 << 20;
/// Sessions and viewers for the memory figures.
const MANY: usize = 1_000;
/// Longest any single step may take before the bench gives up.
const STEP_DEADLINE: Duration = Duration::from_secs(180);

/// The echo program used for round trips: raw mode, no echo, then `cat`.
const ECHO_SCRIPT: &str = "stty raw -echo; printf READY; exec cat";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut report = Report::default();
    // `scripts/bench latency memory` runs only those parts (and writes no file).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |part: &str| only.is_empty() || only.iter().any(|o| o == part);

    if wanted("throughput") {
        throughput(&runtime, &mut report);
    }
    if wanted("latency") {
        latency(&runtime, &mut report);
    }
    if wanted("join") {
        let join = runtime.block_on(join_time());
        report.row(
            "join",
            "replay 8 MiB of history to a new viewer (median / max of 10)",
            format!("{} / {}", millis(join.p(50)), millis(join.p(100))),
            "≤ 50 ms",
        );
    }
    if wanted("memory") {
        memory(&runtime, &mut report);
    }
    if wanted("nodes") {
        nodes::nodes(&runtime, &mut report);
    }
    if wanted("viewer") {
        let first = runtime.block_on(first_output_in_browser());
        report.row(
            "viewer",
            "headless Chromium: navigation → first output on screen (median / max of 5)",
            format!("{} / {}", millis(first.p(50)), millis(first.p(100))),
            "well under 1 s",
        );
        for (name, raw, gzip) in shipped_viewer_bytes() {
            report.row(
                "viewer",
                &format!("shipped {name} (raw / gzip)"),
                format!(
                    "{:.1} KiB / {:.1} KiB",
                    raw as f64 / 1024.0,
                    gzip as f64 / 1024.0
                ),
                "",
            );
        }
    }
    if only.is_empty() {
        report.write_file();
    }
}

fn throughput(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    // `cat` writes in large blocks, like an agent redrawing its screen; the
    // file holds `seq` output so that the text has ordinary lines.
    let file = tempfile::NamedTempFile::new().expect("workload file");
    let seq = Command::new("seq")
        .args(["1", &SEQ_LINES.to_string()])
        .output()
        .expect("seq runs");
    std::fs::write(file.path(), seq.stdout).expect("write the workload file");
    let workload = format!("cat {}", file.path().display());
    let raw = best_of(|| raw_pty_throughput(&workload));
    report.row(
        "throughput",
        "bare PTY read (ceiling)",
        format!("{:.1} MB/s", raw.mb_per_s()),
        "",
    );
    for viewers in [1, 10, 100] {
        let relayed =
            best_of(|| runtime.block_on(relayed_throughput(&workload, raw.bytes, viewers)));
        report.row(
            "throughput",
            &format!("agent → relay → {viewers} viewer(s)"),
            format!(
                "{:.1} MB/s ({:.0}% of bare PTY); relay CPU {:.0}% of the time{}",
                relayed.mb_per_s(),
                100.0 * relayed.mb_per_s() / raw.mb_per_s(),
                100.0 * relayed.relay_cpu / relayed.elapsed.as_secs_f64(),
                skipped_note(relayed.skipped)
            ),
            "≥ 80% of bare PTY",
        );
    }
    for viewers in [1, 10, 100] {
        let alone = best_of(|| runtime.block_on(relay_only_throughput(raw.bytes, viewers)));
        report.row(
            "throughput",
            &format!("relay alone (no PTY): agent client → {viewers} viewer(s)"),
            format!(
                "{:.1} MB/s; relay CPU {:.0}% of the time{}",
                alone.mb_per_s(),
                100.0 * alone.relay_cpu / alone.elapsed.as_secs_f64(),
                skipped_note(alone.skipped)
            ),
            "",
        );
    }
}

/// Runs of each throughput measurement; the fastest counts, since noise
/// from the rest of the machine only ever slows a run down.
const RUNS: usize = 3;

fn best_of(mut measure: impl FnMut() -> Transfer) -> Transfer {
    (0..RUNS)
        .map(|_| measure())
        .max_by(|a, b| a.mb_per_s().total_cmp(&b.mb_per_s()))
        .expect("at least one run")
}

fn skipped_note(skipped: u64) -> String {
    match skipped {
        0 => String::new(),
        n => format!(", slow viewers skipped {:.1} MB", n as f64 / 1e6),
    }
}

fn latency(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let bare = bare_pty_round_trips();
    let relayed = runtime.block_on(relayed_round_trips());
    report.row(
        "keystroke round trip",
        "bare PTY echo (p50 / p99)",
        format!("{} / {}", micros(bare.p(50)), micros(bare.p(99))),
        "",
    );
    report.row(
        "keystroke round trip",
        "viewer → relay → tether → PTY → back (p50 / p99)",
        format!("{} / {}", micros(relayed.p(50)), micros(relayed.p(99))),
        "",
    );
    let alone = runtime.block_on(relay_only_round_trips());
    report.row(
        "keystroke round trip",
        "relay alone: viewer → relay → agent client echoes → back (p50 / p99)",
        format!("{} / {}", micros(alone.p(50)), micros(alone.p(99))),
        "",
    );
    report.row(
        "keystroke round trip",
        "added by Tether (p50 / p99)",
        format!(
            "{} / {}",
            micros(relayed.p(50).saturating_sub(bare.p(50))),
            micros(relayed.p(99).saturating_sub(bare.p(99)))
        ),
        "p99 ≤ 1 ms",
    );
}

fn memory(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let idle = runtime.block_on(idle_sessions_memory());
    report.row(
        "memory",
        &format!("relay RSS, {MANY} idle sessions with one viewer each"),
        format!(
            "{:.1} MiB total, {:.1} KiB per session",
            idle.total_kib as f64 / 1024.0,
            idle.per_item_kib
        ),
        "≤ 50 KiB per idle session",
    );
    let crowd = runtime.block_on(crowded_session_memory());
    report.row(
        "memory",
        &format!("relay RSS, one session with {MANY} viewers"),
        format!(
            "{:.1} MiB total, {:.1} KiB per viewer",
            crowd.total_kib as f64 / 1024.0,
            crowd.per_item_kib
        ),
        "",
    );
}

// ---------------------------------------------------------------- throughput

/// Bytes moved in a time.
struct Transfer {
    bytes: u64,
    elapsed: Duration,
    /// Bytes that slow viewers skipped (announced gaps), over all viewers.
    skipped: u64,
    /// CPU seconds the relay used meanwhile (0 for the bare PTY).
    relay_cpu: f64,
}

impl Transfer {
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
}

/// Runs `sh -c workload` in a bare PTY and reads it to the end: the ceiling.
fn raw_pty_throughput(workload: &str) -> Transfer {
    let mut pty = spawn_in_pty(workload);
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match pty.reader.read(&mut buf) {
            Ok(0) | Err(_) => break, // EOF, or EIO once the child is gone
            Ok(n) => bytes += n as u64,
        }
    }
    let elapsed = start.elapsed();
    let _ = pty.child.wait();
    Transfer {
        bytes,
        elapsed,
        skipped: 0,
        relay_cpu: 0.0,
    }
}

/// Runs the same workload under `tether` with `viewers` viewers attached,
/// and times until every viewer holds every byte.
async fn relayed_throughput(workload: &str, expected: u64, viewers: usize) -> Transfer {
    let fixture = SessionFixture::start_for("bench", &["--max-viewers", "1000"]);
    let readers = counting_viewers(&fixture, viewers, expected).await;
    let producer = async { spawn_tether(&fixture.relay, &fixture.session, workload) };
    let (transfer, mut tether) =
        measure_delivery(&fixture.relay, expected, readers, producer).await;
    let _ = tether.wait();
    transfer
}

/// The relay alone: an agent client sends `expected` bytes in 64 KiB OUTPUT
/// frames, with no PTY or wrapper in the way — the relay's own ceiling.
async fn relay_only_throughput(expected: u64, viewers: usize) -> Transfer {
    let fixture = SessionFixture::start_for("bench", &["--max-viewers", "1000"]);
    let mut agent = fixture.connect_agent().await;
    let readers = counting_viewers(&fixture, viewers, expected).await;
    let chunk = vec![b'x'; 64 * 1024];
    let producer = async {
        let mut sent = 0;
        while sent < expected {
            let n = chunk.len().min((expected - sent) as usize);
            agent.send_output(&chunk[..n]).await;
            sent += n as u64;
        }
    };
    measure_delivery(&fixture.relay, expected, readers, producer)
        .await
        .0
}

/// Joins `viewers` viewers to the session, each in a task that reads until it
/// has `expected` bytes and returns how many of them it had to skip (a viewer
/// too slow for the ring is told of a gap and jumps ahead).
async fn counting_viewers(
    fixture: &SessionFixture,
    viewers: usize,
    expected: u64,
) -> Vec<tokio::task::JoinHandle<u64>> {
    let mut readers = Vec::new();
    for _ in 0..viewers {
        let mut viewer = fixture.joined_viewer().await;
        readers.push(tokio::spawn(async move {
            let (mut received, mut skipped) = (0u64, 0u64);
            while received + skipped < expected {
                match viewer.socket.next_event_within(STEP_DEADLINE).await {
                    Some(Event::Frame(Frame::Output(data))) => received += data.len() as u64,
                    Some(Event::Frame(Frame::Control(Control::Gap { from, to }))) => {
                        skipped += to - from
                    }
                    Some(Event::Frame(_)) => {}
                    other => {
                        panic!("viewer stopped after {received} of {expected} bytes: {other:?}")
                    }
                }
            }
            skipped
        }));
    }
    readers
}

/// Runs `producer` and times until every reader is done, with the relay's
/// CPU use meanwhile; returns that and what the producer returned.
async fn measure_delivery<T>(
    relay: &RelayProcess,
    expected: u64,
    readers: Vec<tokio::task::JoinHandle<u64>>,
    producer: impl std::future::Future<Output = T>,
) -> (Transfer, T) {
    let relay_pid = relay.pid().expect("relay is running");
    let cpu_before = cpu_secs(relay_pid);
    let start = Instant::now();
    let produced = producer.await;
    let mut skipped = 0;
    for reader in readers {
        skipped += reader.await.expect("viewer task");
    }
    let elapsed = start.elapsed();
    let relay_cpu = cpu_secs(relay_pid) - cpu_before;
    let transfer = Transfer {
        bytes: expected,
        elapsed,
        skipped,
        relay_cpu,
    };
    (transfer, produced)
}

// ------------------------------------------------------------- round trips

/// Durations, sorted, for percentiles.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// The `pct`-th percentile (nearest rank).
    fn p(&self, pct: usize) -> Duration {
        let rank = (pct * self.0.len()).div_ceil(100).max(1);
        self.0[rank - 1]
    }
}

/// Keystroke → echo through a bare PTY running the echo program.
fn bare_pty_round_trips() -> Samples {
    let PtyProcess {
        mut child,
        mut reader,
        mut writer,
        _master,
    } = spawn_in_pty(ECHO_SCRIPT);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&seen, b"READY") {
        let n = reader.read(&mut buf).expect("PTY read");
        seen.extend_from_slice(&buf[..n]);
    }
    let mut samples = Vec::with_capacity(TRIPS);
    for i in 0..TRIPS {
        let key = b'a' + (i % 26) as u8;
        let start = Instant::now();
        writer.write_all(&[key]).expect("PTY write");
        loop {
            let n = reader.read(&mut buf).expect("PTY read");
            if buf[..n].contains(&key) {
                break;
            }
        }
        samples.push(start.elapsed());
    }
    let _ = child.kill();
    Samples::new(samples)
}

/// Keystroke → echo from a viewer through the relay, `tether` and its PTY.
async fn relayed_round_trips() -> Samples {
    let fixture = SessionFixture::start_for("bench", &[]);
    let mut viewer = fixture.joined_viewer().await;
    let mut tether = spawn_tether(&fixture.relay, &fixture.session, ECHO_SCRIPT);
    within(viewer.read_output_until(b"READY")).await;
    let mut samples = Vec::with_capacity(TRIPS);
    for i in 0..TRIPS {
        let key = b'a' + (i % 26) as u8;
        let start = Instant::now();
        viewer.send(&[Frame::Input(vec![key])]).await;
        viewer.read_output_until(&[key]).await;
        samples.push(start.elapsed());
    }
    let _ = tether.kill();
    let _ = tether.wait();
    Samples::new(samples)
}

/// Keystroke → echo with an agent client that echoes at once: the relay's
/// share of the round trip.
async fn relay_only_round_trips() -> Samples {
    let fixture = SessionFixture::start_for("bench", &[]);
    let mut agent = fixture.connect_agent().await;
    let mut viewer = fixture.joined_viewer().await;
    let mut samples = Vec::with_capacity(TRIPS);
    for i in 0..TRIPS {
        let key = b'a' + (i % 26) as u8;
        let start = Instant::now();
        viewer.send(&[Frame::Input(vec![key])]).await;
        match within(agent.next_command()).await {
            Frame::Input(data) => agent.send_output(&data).await,
            other => panic!("expected INPUT, got {other:?}"),
        }
        viewer.read_output_until(&[key]).await;
        samples.push(start.elapsed());
    }
    Samples::new(samples)
}

// -------------------------------------------------------------------- join

/// Time for a new viewer to receive 8 MiB of history up to `history_complete`.
async fn join_time() -> Samples {
    let fixture = SessionFixture::start_for("bench", &[]);
    let mut agent = fixture.connect_agent().await;
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| b' ' + (i % 90) as u8).collect();
    for _ in 0..HISTORY / chunk.len() {
        agent.send_output(&chunk).await;
    }
    within(agent.wait_ack(HISTORY as u64)).await;
    let mut samples = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut viewer = fixture.connect_viewer(None).await;
        let join = within(viewer.read_history()).await;
        samples.push(start.elapsed());
        assert_eq!(join.output.len(), HISTORY, "the whole history was replayed");
        viewer.socket.close().await;
    }
    Samples::new(samples)
}

// ------------------------------------------------------------------ memory

/// Relay memory grown by `MANY` sessions or viewers.
struct Growth {
    total_kib: u64,
    per_item_kib: f64,
}

/// `MANY` sessions, each with its agent linked and one viewer, all idle.
async fn idle_sessions_memory() -> Growth {
    // Far past the defaults for the open internet: every link is from
    // loopback, and every open session reserves its whole ring.
    let relay = RelayProcess::start_with(&[
        "--max-sessions",
        "5000",
        "--max-connections-per-ip",
        "0",
        "--user-memory-budget",
        "64G",
        "--memory-budget",
        "64G",
    ]);
    let key = relay.api_key();
    let base = settled_rss(&relay).await;
    let mut links = Vec::new();
    for _ in 0..MANY {
        let session = relay.register_session(&key, "bench");
        let mut agent = relay.connect_agent(&session, &key).await;
        agent.send_output(b"$ ").await;
        // Joined as the browser joins: by snapshot.
        let mut viewer = within(relay.connect_snapshot_viewer(&session, &key, None)).await;
        within(viewer.read_history()).await;
        links.push((agent, viewer));
    }
    let total = settled_rss(&relay).await;
    drop(links);
    Growth {
        total_kib: total,
        per_item_kib: total.saturating_sub(base) as f64 / MANY as f64,
    }
}

/// One live session watched by `MANY` viewers.
async fn crowded_session_memory() -> Growth {
    let fixture = SessionFixture::start_for(
        "bench",
        &["--max-viewers", "5000", "--max-connections-per-ip", "0"],
    );
    let mut agent = fixture.connect_agent().await;
    agent.send_output(b"$ ").await;
    let base = settled_rss(&fixture.relay).await;
    let mut viewers = Vec::new();
    for _ in 0..MANY {
        viewers.push(within(fixture.joined_viewer()).await);
    }
    let total = settled_rss(&fixture.relay).await;
    drop((agent, viewers));
    Growth {
        total_kib: total,
        per_item_kib: total.saturating_sub(base) as f64 / MANY as f64,
    }
}

/// The relay's resident set in KiB once it stops changing (allocators and
/// lazily touched pages settle within a few reads).
async fn settled_rss(relay: &RelayProcess) -> u64 {
    let pid = relay.pid().expect("relay is running");
    let mut last = rss_kib(pid);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = rss_kib(pid);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// User + system CPU seconds used by process `pid` so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces) start at field 3.
    let after_name = &stat[stat.rfind(')').expect("comm field") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / CLOCK_TICKS_PER_SEC
}

/// `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc status")
}

// ------------------------------------------------------------------ viewer

/// Loads the terminal page of a session with history five times; the page
/// itself measures from navigation start to the first output written to
/// xterm (`firstOutputMs` on its test hook).
async fn first_output_in_browser() -> Samples {
    let mut fixture = ViewerFixture::start("bench", 80, 24).await;
    fixture.print(b"first screen of output\r\n").await;
    let browser = Browser::start(Screen::DESKTOP).await;
    let mut samples = Vec::new();
    for _ in 0..5 {
        browser.goto("about:blank").await;
        browser.goto(&fixture.terminal_url()).await;
        browser.wait_for_text("first screen of output").await;
        let ms = browser.hook().await["firstOutputMs"]
            .as_f64()
            .expect("the page measured its first output");
        samples.push(Duration::from_secs_f64(ms / 1e3));
    }
    browser.close().await;
    Samples::new(samples)
}

/// Sizes of the wasm and JavaScript in `dist/`, raw and gzipped.
fn shipped_viewer_bytes() -> Vec<(String, u64, u64)> {
    let dist = workspace_root().join("dist");
    let Ok(entries) = std::fs::read_dir(&dist) else {
        eprintln!("no dist/: build the viewer (trunk build --release) to measure it");
        return Vec::new();
    };
    let mut sizes: Vec<(String, u64, u64)> = Vec::new();
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("wasm") => "wasm",
            Some("js" | "mjs") => "JavaScript",
            _ => continue,
        };
        let raw = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let gzip = gzip_len(&path);
        match sizes.iter_mut().find(|(name, _, _)| name == kind) {
            Some(entry) => {
                entry.1 += raw;
                entry.2 += gzip;
            }
            None => sizes.push((kind.to_string(), raw, gzip)),
        }
    }
    sizes
}

fn gzip_len(path: &Path) -> u64 {
    let output = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .expect("gzip runs");
    output.stdout.len() as u64
}

// ----------------------------------------------------------------- helpers

/// `sh -c script` running in a fresh 24×80 PTY, with the master's two ends.
struct PtyProcess {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    reader: Box<dyn std::io::Read + Send>,
    writer: Box<dyn std::io::Write + Send>,
    /// Closing the master hangs up the child: keep it as long as the rest.
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

fn spawn_in_pty(script: &str) -> PtyProcess {
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
fn spawn_tether(relay: &RelayProcess, session: &str, script: &str) -> Child {
    Command::new(tests::relay::workspace_binary("tether"))
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
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP_DEADLINE, future)
        .await
        .expect("bench step finished in time")
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The table, printed as it fills and written to `BENCHMARKS.md` at the end.
#[derive(Default)]
struct Report {
    rows: Vec<[String; 4]>,
}

impl Report {
    fn row(&mut self, area: &str, what: &str, figure: String, target: &str) {
        println!("{area:<22} {what:<62} {figure:<36} {target}");
        self.rows
            .push([area.into(), what.into(), figure, target.into()]);
    }

    fn write_file(self) {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Measured by `scripts/bench` (`tests/benches/system.rs`) on {}.\n",
            command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        );
        let _ = writeln!(md, "Machine: {}.\n", machine_description());
        let _ = writeln!(md, "| area | measurement | result | target |");
        let _ = writeln!(md, "|---|---|---|---|");
        for [area, what, figure, target] in &self.rows {
            let _ = writeln!(md, "| {area} | {what} | {figure} | {target} |");
        }
        let _ = writeln!(md, "\n{METHOD}");
        let path = workspace_root().join("BENCHMARKS.md");
        std::fs::write(&path, md).expect("write BENCHMARKS.md");
        println!("\nwrote {}", path.display());
    }
}

const METHOD: &str = "## Method

* Everything runs on loopback with the release binaries; viewers are
  WebSocket clients in the bench process (the same frames the browser gets).
* Throughput: the workload `cat` of a file holding `seq 1 3000000` (about
  24 MB after the PTY's `\\n` → `\\r\\n`), read to the end from a bare PTY,
  then run under `tether` with 1, 10 and 100 viewers attached before it
  starts; timed from starting `tether` until every viewer has received every
  byte. Each throughput figure is the best of three runs.
* Keystroke round trip: one byte sent, its echo awaited, 10 000 times, to
  `sh -c 'stty raw -echo; exec cat'` — once in a bare PTY, once from a viewer
  through the relay and `tether`; and once through the relay alone, with an
  agent client that echoes each INPUT at once.
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
  browsers decode them on those same two cores. Where a row misses the 80%
  target while the relay's CPU share stays well under one core (100%), the
  relay is not the limit: the machine is. The relay-alone rows give the
  relay's own ceiling here (hundreds of MB/s to one viewer), far above what
  a PTY can produce; a real agent's terminal rarely writes more than a few
  MB/s. The figures vary by about ±15% between runs on this shared machine.
* What the bench found and fixed: the first run measured a 44 ms keystroke
  round trip (Nagle's algorithm holding back small writes at the relay until
  the delayed ACK; fixed with TCP_NODELAY on every link) and 273 KiB per idle
  session (tungstenite preallocates a 128 KiB read buffer per link; now
  8 KiB, grown on demand).
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
  and `gzip -9`.";

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

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
