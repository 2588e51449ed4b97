//! `scripts/bench profile`: one scenario, run once, meant for a tracer —
//! `TETHER_BENCH_WRAP` runs `tether` under a command, `TETHER_RELAY_WRAP`
//! the relay (e.g. `strace -c -f -o FILE`, or `valgrind --tool=callgrind
//! --callgrind-out-file=FILE`). `TETHER_BENCH_PROFILE` picks the scenario:
//! `wide` (10 MB of 80-column lines to one viewer, the default), `keys`
//! (2 000 keystroke round trips) or `relay` (the relay alone: 10 MB in
//! 64 KiB OUTPUT frames from an agent client to one viewer, the same
//! messages every run). `TETHER_BENCH_BINARIES=DIR` takes another build's
//! binaries (its `target/release`), to compare two builds' counts. Prints
//! what the run moved, to divide the tracer's counts by; the relay is
//! stopped cleanly so that it writes them.

use std::time::Instant;

use protocol::Frame;
use tests::relay::{use_binaries_from, SessionFixture};

use crate::latency::ECHO_SCRIPT;
use crate::procs::{spawn_tether, within};
use crate::report::Report;
use crate::throughput::{counting_viewers, relay_only_through};

/// Bytes of the `wide` scenario.
const WIDE_BYTES: u64 = 10_000_000;
/// Round trips of the `keys` scenario.
const KEYS: usize = 2_000;

/// Runs the scenario `TETHER_BENCH_PROFILE` names.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let scenario = std::env::var("TETHER_BENCH_PROFILE").unwrap_or_else(|_| "wide".into());
    use_binaries_from(std::env::var_os("TETHER_BENCH_BINARIES").map(Into::into));
    let started = Instant::now();
    let moved = match scenario.as_str() {
        "keys" => {
            runtime.block_on(keys());
            format!("{KEYS} keystroke round trips")
        }
        "relay" => {
            runtime.block_on(relay_alone());
            format!(
                "{:.1} MB in 64 KiB frames from an agent client to one viewer",
                WIDE_BYTES as f64 / 1e6
            )
        }
        _ => {
            runtime.block_on(wide());
            format!(
                "{:.1} MB of 80-column lines to one viewer",
                WIDE_BYTES as f64 / 1e6
            )
        }
    };
    use_binaries_from(None);
    report.row(
        "profile",
        &format!("scenario {scenario}"),
        format!("{moved} in {:.1} s", started.elapsed().as_secs_f64()),
        "",
    );
}

async fn wide() {
    let mut fixture = SessionFixture::start_for("bench", &[]);
    let file = tempfile::NamedTempFile::new().expect("workload file");
    let line: Vec<u8> = (0..79u8).map(|i| b'!' + i % 94).chain([b'\n']).collect();
    // 80 bytes a line become 81 in the PTY (`\n` → `\r\n`).
    let lines = WIDE_BYTES / 81;
    let bytes: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(lines as usize * 80)
        .collect();
    std::fs::write(file.path(), bytes).expect("write the workload file");
    let readers = counting_viewers(&fixture, 1, lines * 81, false).await;
    let command = format!("cat {}", file.path().display());
    let mut tether = spawn_tether(&fixture.relay, &fixture.session, &command);
    for reader in readers {
        within(reader).await.expect("viewer task");
    }
    let _ = tether.wait();
    fixture.relay.terminate();
}

async fn relay_alone() {
    let mut fixture = SessionFixture::start_for("bench", &[]);
    relay_only_through(&fixture, WIDE_BYTES, 1).await;
    fixture.relay.terminate();
}

async fn keys() {
    let mut fixture = SessionFixture::start_for("bench", &[]);
    let mut viewer = fixture.joined_viewer().await;
    let mut tether = spawn_tether(&fixture.relay, &fixture.session, ECHO_SCRIPT);
    within(viewer.read_output_until(b"READY")).await;
    for i in 0..KEYS {
        let key = b'a' + (i % 26) as u8;
        viewer.send(&[Frame::Input(vec![key])]).await;
        within(viewer.read_output_until(&[key])).await;
    }
    // SIGTERM: tether ends the agent and exits (a tracer writes its counts).
    // Under a tracer, `tether` is the tracer's child.
    let pid = tether.id().to_string();
    let _ = match std::env::var_os("TETHER_BENCH_WRAP") {
        Some(_) => std::process::Command::new("pkill")
            .args(["-TERM", "-P", &pid])
            .status(),
        None => std::process::Command::new("kill").arg(&pid).status(),
    };
    let _ = tether.wait();
    fixture.relay.terminate();
}
