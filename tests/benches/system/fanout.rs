//! Fan-out: one session, many viewers — the relay's CPU per delivered MB,
//! with every byte delivered to every viewer.

use tests::relay::SessionFixture;

use crate::procs::within;
use crate::report::Report;
use crate::throughput::{counting_viewers, measure_delivery};

/// Viewers of the one session.
const VIEWERS: usize = 1_000;
/// Bytes of one OUTPUT frame (a PTY read's worth).
const FRAME: usize = 4 << 10;
/// Frames sent.
const FRAMES: usize = 256;
/// Frames the agent sends ahead of the relay's ACK: 256 KiB, the most the
/// relay leaves unacknowledged before it acknowledges at once (it owes
/// smaller amounts for up to `--ack-delay-ms`, which a producer waiting
/// for every ACK would measure instead of the fan-out), like `tether`,
/// which never waits for ACKs.
const WINDOW: usize = (256 << 10) / FRAME;

/// The fan-out row.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let t = runtime.block_on(fan_out());
    let delivered_mb = t.bytes as f64 * VIEWERS as f64 / 1e6;
    let copies = (FRAMES * VIEWERS) as f64;
    report.row(
        "fan-out",
        &format!(
            "1 session → {VIEWERS} viewers, {FRAMES} frames of {} KiB",
            FRAME >> 10
        ),
        format!(
            "relay CPU {:.2} ms per delivered MB ({:.1} µs per frame copy); {:.0} MB/s delivered; lost {} bytes",
            t.relay_cpu * 1e3 / delivered_mb,
            t.relay_cpu * 1e6 / copies,
            delivered_mb / t.elapsed.as_secs_f64(),
            t.skipped
        ),
        // Issue 12: twice the viewers per core; the build before it, on
        // this bench, is in BENCHMARKS.md ("Fan-out, measured again").
        "0 lost; ½ the CPU per copy of the build before issue 12",
    );
    assert_eq!(t.skipped, 0, "every viewer got every byte");
}

async fn fan_out() -> crate::throughput::Transfer {
    let fixture = SessionFixture::start_for(
        "bench",
        &["--max-viewers", "5000", "--max-connections-per-ip", "0"],
    );
    let mut agent = fixture.connect_agent().await;
    let expected = (FRAME * FRAMES) as u64;
    let readers = counting_viewers(&fixture, VIEWERS, expected, true).await;
    let chunk: Vec<u8> = (0..FRAME).map(|i| b' ' + (i % 90) as u8).collect();
    let producer = async {
        for i in 1..=FRAMES {
            agent.send_output(&chunk).await;
            if i >= WINDOW {
                within(agent.wait_ack(((i - WINDOW) * FRAME) as u64)).await;
            }
        }
    };
    measure_delivery(&fixture.relay, expected, readers, producer)
        .await
        .0
}
