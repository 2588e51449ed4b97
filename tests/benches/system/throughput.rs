//! Throughput: two workloads through a bare PTY and through `tether` and the
//! relay to 1, 10 and 100 viewers, with the relay's and `tether`'s CPU per MB;
//! and the relay alone (an agent client instead of a PTY and `tether`).

use std::io::Read as _;
use std::process::Command;
use std::time::{Duration, Instant};

use protocol::{Control, Frame};
use tests::relay::{Event, RelayProcess, SessionFixture};

use crate::procs::{cpu_secs, spawn_in_pty, spawn_tether, STEP_DEADLINE};
use crate::report::Report;

/// Lines of the short-line workload (`seq 1 N`, printed with `cat`).
const SEQ_LINES: u64 = 3_000_000;
/// Bytes of the bulk workload (80-column lines).
const WIDE_BYTES: usize = 50_000_000;
/// Runs of each measurement; the fastest counts, since noise from the rest
/// of the machine only ever slows a run down.
pub const RUNS: usize = 3;

/// A workload: a file `cat` prints into the PTY.
pub(crate) struct Workload {
    pub(crate) name: &'static str,
    file: tempfile::NamedTempFile,
}

impl Workload {
    pub(crate) fn command(&self) -> String {
        format!("cat {}", self.file.path().display())
    }
}

pub(crate) fn workloads() -> Vec<Workload> {
    let seq = Command::new("seq")
        .args(["1", &SEQ_LINES.to_string()])
        .output()
        .expect("seq runs")
        .stdout;
    let line: Vec<u8> = (0..79u8).map(|i| b'!' + i % 94).chain([b'\n']).collect();
    let wide: Vec<u8> = line.iter().copied().cycle().take(WIDE_BYTES).collect();
    [("seq lines", seq), ("80-column lines", wide)]
        .into_iter()
        .map(|(name, bytes)| {
            let file = tempfile::NamedTempFile::new().expect("workload file");
            std::fs::write(file.path(), bytes).expect("write the workload file");
            Workload { name, file }
        })
        .collect()
}

/// Bytes moved in a time, and the CPU it cost.
pub struct Transfer {
    pub bytes: u64,
    pub elapsed: Duration,
    /// Bytes that slow viewers skipped (announced gaps), over all viewers.
    pub skipped: u64,
    /// CPU seconds the relay used meanwhile (0 for the bare PTY).
    pub relay_cpu: f64,
    /// CPU seconds `tether` used (0 without it).
    pub tether_cpu: f64,
}

impl Transfer {
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }

    /// Milliseconds of CPU per MB of the stream.
    pub(crate) fn per_mb(&self, cpu: f64) -> f64 {
        cpu * 1e3 / (self.bytes as f64 / 1e6)
    }
}

fn fastest(runs: Vec<Transfer>) -> Transfer {
    runs.into_iter()
        .max_by(|a, b| a.mb_per_s().total_cmp(&b.mb_per_s()))
        .expect("at least one run")
}

/// The throughput rows.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    for workload in workloads() {
        let command = workload.command();
        // Interleaved: each relayed run beside a bare one, so that a burst
        // of load elsewhere hits both.
        let mut bare = Vec::new();
        let mut relayed: Vec<(usize, Vec<Transfer>)> =
            [1, 10, 100].into_iter().map(|v| (v, Vec::new())).collect();
        for _ in 0..RUNS {
            bare.push(raw_pty_throughput(&command));
            let expected = bare[0].bytes;
            for (viewers, runs) in &mut relayed {
                runs.push(runtime.block_on(relayed_throughput(&command, expected, *viewers)));
            }
        }
        let bare = fastest(bare);
        report.row(
            "throughput",
            &format!("{}: bare PTY read (ceiling)", workload.name),
            format!("{:.1} MB/s", bare.mb_per_s()),
            "",
        );
        for (viewers, runs) in relayed {
            let t = fastest(runs);
            let ratio = t.mb_per_s() / bare.mb_per_s();
            report.row(
                "throughput",
                &format!("{}: agent → relay → {viewers} viewer(s)", workload.name),
                format!(
                    "{:.1} MB/s ({ratio:.2}× bare PTY); CPU per MB: relay {:.1} ms, tether {:.1} ms{}",
                    t.mb_per_s(),
                    t.per_mb(t.relay_cpu),
                    t.per_mb(t.tether_cpu),
                    skipped_note(t.skipped)
                ),
                if viewers == 100 { "≥ 0.6×" } else if viewers == 1 { "≥ 0.85×" } else { "" },
            );
        }
        if workload.name.starts_with("seq") {
            relay_alone(runtime, report, bare.bytes);
        }
    }
}

fn relay_alone(runtime: &tokio::runtime::Runtime, report: &mut Report, bytes: u64) {
    for viewers in [1, 10, 100] {
        let t = fastest(
            (0..RUNS)
                .map(|_| runtime.block_on(relay_only_throughput(bytes, viewers)))
                .collect(),
        );
        report.row(
            "throughput",
            &format!("relay alone (no PTY): agent client → {viewers} viewer(s)"),
            format!(
                "{:.1} MB/s; relay CPU {:.0}% of the time, {:.1} ms per MB{}",
                t.mb_per_s(),
                100.0 * t.relay_cpu / t.elapsed.as_secs_f64(),
                t.per_mb(t.relay_cpu),
                skipped_note(t.skipped)
            ),
            "",
        );
    }
}

fn skipped_note(skipped: u64) -> String {
    match skipped {
        0 => String::new(),
        n => format!("; slow viewers skipped {:.1} MB", n as f64 / 1e6),
    }
}

/// Runs `sh -c workload` in a bare PTY and reads it to the end: the ceiling.
pub(crate) fn raw_pty_throughput(workload: &str) -> Transfer {
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
        tether_cpu: 0.0,
    }
}

/// Runs the same workload under `tether` with `viewers` viewers attached,
/// and times until every viewer holds every byte.
pub(crate) async fn relayed_throughput(workload: &str, expected: u64, viewers: usize) -> Transfer {
    let fixture = SessionFixture::start_for("bench", &["--max-viewers", "1000"]);
    let readers = counting_viewers(&fixture, viewers, expected, false).await;
    let mut tether = None;
    let producer = async {
        let child = spawn_tether(&fixture.relay, &fixture.session, workload);
        let pid = child.id();
        tether = Some(child);
        pid
    };
    let (mut transfer, pid) = measure_delivery(&fixture.relay, expected, readers, producer).await;
    // Read before it is waited for (a zombie still has its times).
    transfer.tether_cpu = cpu_secs(pid);
    if let Some(mut tether) = tether {
        let _ = tether.wait();
    }
    transfer
}

/// The relay alone: an agent client sends `expected` bytes in 64 KiB OUTPUT
/// frames, with no PTY or wrapper in the way — the relay's own ceiling.
pub(crate) async fn relay_only_throughput(expected: u64, viewers: usize) -> Transfer {
    let fixture = SessionFixture::start_for("bench", &["--max-viewers", "1000"]);
    relay_only_through(&fixture, expected, viewers).await
}

/// [`relay_only_throughput`] through the session of `fixture`.
pub(crate) async fn relay_only_through(
    fixture: &SessionFixture,
    expected: u64,
    viewers: usize,
) -> Transfer {
    let mut agent = fixture.connect_agent().await;
    let readers = counting_viewers(fixture, viewers, expected, false).await;
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
/// too slow for the ring is told of a gap and jumps ahead). With `acks`, each
/// acknowledges every OUTPUT frame, as a browser does what it rendered.
pub async fn counting_viewers(
    fixture: &SessionFixture,
    viewers: usize,
    expected: u64,
    acks: bool,
) -> Vec<tokio::task::JoinHandle<u64>> {
    let mut readers = Vec::new();
    for _ in 0..viewers {
        let mut viewer = fixture.joined_viewer().await;
        readers.push(tokio::spawn(async move {
            let (mut received, mut skipped) = (0u64, 0u64);
            while received + skipped < expected {
                match viewer.socket.next_event_within(STEP_DEADLINE).await {
                    Some(Event::Frame(Frame::Output(data))) => {
                        received += data.len() as u64;
                        if acks {
                            viewer.send(&[Frame::Ack(received + skipped)]).await;
                        }
                    }
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
pub async fn measure_delivery<T>(
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
        tether_cpu: 0.0,
    };
    (transfer, produced)
}
