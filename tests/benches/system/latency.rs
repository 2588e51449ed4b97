//! Keystroke round trips: a bare PTY, viewer → relay → `tether` → PTY →
//! back, and the relay alone (an agent client that echoes).

use std::io::{Read as _, Write as _};
use std::time::Instant;

use protocol::Frame;
use tests::relay::{contains, SessionFixture};

use crate::procs::{cpu_secs, spawn_in_pty, spawn_tether, within, PtyProcess, Samples};
use crate::report::{micros, Report};

/// Keystroke round trips per measurement.
const TRIPS: usize = 10_000;

/// The echo program used for round trips: raw mode, no echo, then `cat`.
pub const ECHO_SCRIPT: &str = "stty raw -echo; printf READY; exec cat";

/// The round-trip rows. The clients run on a current-thread runtime of
/// their own: the thread that awaits a message polls its socket, as the
/// bare PTY's thread reads its PTY (on the bench's multi-thread runtime a
/// worker took each message and woke the waiting thread: one more thread
/// hop per round trip, the bench's and not Tether's).
pub fn run(_: &tokio::runtime::Runtime, report: &mut Report) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bare = bare_pty_round_trips();
    let (relayed, cpu) = runtime.block_on(relayed_round_trips());
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
    report.row(
        "keystroke round trip",
        "CPU per round trip through tether: relay / tether",
        format!(
            "{:.1} µs / {:.1} µs",
            cpu.relay * 1e6 / TRIPS as f64,
            cpu.tether * 1e6 / TRIPS as f64
        ),
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
        "≤ 60 µs / ≤ 120 µs",
    );
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

/// CPU seconds the relay and `tether` spent on the round trips.
struct RoundTripCpu {
    relay: f64,
    tether: f64,
}

/// Keystroke → echo from a viewer through the relay, `tether` and its PTY.
async fn relayed_round_trips() -> (Samples, RoundTripCpu) {
    let fixture = SessionFixture::start_for("bench", &[]);
    let mut viewer = fixture.joined_viewer().await;
    let mut tether = spawn_tether(&fixture.relay, &fixture.session, ECHO_SCRIPT);
    within(viewer.read_output_until(b"READY")).await;
    let relay_pid = fixture.relay.pid().expect("relay is running");
    let before = (cpu_secs(relay_pid), cpu_secs(tether.id()));
    let mut samples = Vec::with_capacity(TRIPS);
    for i in 0..TRIPS {
        let key = b'a' + (i % 26) as u8;
        let start = Instant::now();
        viewer.send(&[Frame::Input(vec![key])]).await;
        viewer.read_output_until(&[key]).await;
        samples.push(start.elapsed());
    }
    let cpu = RoundTripCpu {
        relay: cpu_secs(relay_pid) - before.0,
        tether: cpu_secs(tether.id()) - before.1,
    };
    let _ = tether.kill();
    let _ = tether.wait();
    (Samples::new(samples), cpu)
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
