//! Throughput of the real relay binary, kept apart from the tests (ignored by
//! default). Method: one agent streams N MiB of output in OUTPUT frames of a
//! given size over loopback; `VIEWERS` viewers read it live; the time runs from
//! the first frame until every viewer has every byte. Run it in release:
//!
//! ```sh
//! cargo test --release -p relay-dev --test throughput -- --ignored --nocapture
//! ```

// The shared end-to-end helper (also used by the `tests` crate).
#[allow(dead_code)]
#[path = "../../tests/src/relay.rs"]
mod relay;

use std::time::Instant;

use protocol::Frame;
use relay::{AgentClient, Event, RelayProcess, ViewerClient};

async fn measure(viewers: usize, mib: u64, frame: usize) {
    let relay = RelayProcess::start_with(&["--history-bytes", "8388608", "--max-viewers", "1000"]);
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key)
        .await
        .unwrap();
    let total = mib << 20;
    let mut readers = Vec::new();
    for _ in 0..viewers {
        let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None)
            .await
            .unwrap();
        viewer.read_history().await;
        readers.push(tokio::spawn(async move {
            let mut position = 0;
            while position < total {
                match viewer.socket.next_event().await {
                    Event::Frame(Frame::Output(data)) => position += data.len() as u64,
                    Event::Frame(Frame::StreamOffset(to)) => position = to,
                    Event::Frame(_) => {}
                    other => panic!("{other:?}"),
                }
            }
        }));
    }
    let chunk = vec![b'x'; frame];
    let cpu_before = relay_cpu_secs(&relay);
    let started = Instant::now();
    for _ in 0..(total / chunk.len() as u64) {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(total).await;
    let stored = started.elapsed();
    for reader in readers {
        reader.await.unwrap();
    }
    let delivered = started.elapsed();
    let cpu = relay_cpu_secs(&relay) - cpu_before;
    println!(
        "{viewers:>3} viewer(s), {mib} MiB in {} KiB frames: stored in {:.2} s ({:.0} MiB/s in), all viewers done in {:.2} s ({:.0} MiB/s out in total); relay CPU {:.2} s = {:.0} MiB out per CPU second",
        frame >> 10,
        stored.as_secs_f64(),
        mib as f64 / stored.as_secs_f64(),
        delivered.as_secs_f64(),
        (mib * viewers as u64) as f64 / delivered.as_secs_f64(),
        cpu,
        (mib * viewers as u64) as f64 / cpu,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn throughput() {
    measure(1, 256, 64 << 10).await;
    measure(10, 64, 64 << 10).await;
    // Terminal-sized reads, many viewers.
    measure(10, 24, 4 << 10).await;
    measure(100, 24, 4 << 10).await;
}

/// CPU time (user + system) the relay process used so far, in seconds (Linux).
fn relay_cpu_secs(relay: &RelayProcess) -> f64 {
    let pid = relay.pid().expect("relay running");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the
    // 14th field of the line, stime the 15th; in clock ticks (100 per second).
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// The relay's resident memory in KiB (Linux).
fn relay_rss_kib(relay: &RelayProcess) -> u64 {
    let pid = relay.pid().expect("relay running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn memory_per_idle_session() {
    const SESSIONS: usize = 300;
    let relay = RelayProcess::start_with(&["--max-sessions", "100000"]);
    let key = relay.api_key();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = relay_rss_kib(&relay);
    let mut links = Vec::new();
    for _ in 0..SESSIONS {
        let session = relay.register_session(&key, "claude");
        let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key)
            .await
            .unwrap();
        agent.send_output(b"hello\r\n").await;
        agent.wait_ack(7).await;
        let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None)
            .await
            .unwrap();
        viewer.read_history().await;
        links.push((agent, viewer));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = relay_rss_kib(&relay);
    println!(
        "{SESSIONS} idle sessions (agent + one viewer each): {} KiB, {:.1} KiB per session",
        after - before,
        (after - before) as f64 / SESSIONS as f64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run in release with --ignored"]
async fn keystroke_round_trip_through_the_relay() {
    const TRIPS: usize = 2000;
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key)
        .await
        .unwrap();
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None)
        .await
        .unwrap();
    viewer.read_history().await;
    // The agent side echoes every INPUT back as OUTPUT, like a terminal would.
    let echo = tokio::spawn(async move {
        for _ in 0..TRIPS {
            match agent.next_command().await {
                Frame::Input(data) => agent.send_output(&data).await,
                other => panic!("{other:?}"),
            }
        }
    });
    let mut trips = Vec::with_capacity(TRIPS);
    for _ in 0..TRIPS {
        let sent = Instant::now();
        viewer.send(&[Frame::Input(b"k".to_vec())]).await;
        loop {
            if let Event::Frame(Frame::Output(_)) = viewer.socket.next_event().await {
                break;
            }
        }
        trips.push(sent.elapsed());
    }
    echo.await.unwrap();
    trips.sort();
    println!(
        "keystroke round trip viewer → relay → agent → relay → viewer ({TRIPS} trips): p50 {} µs, p99 {} µs",
        trips[TRIPS / 2].as_micros(),
        trips[TRIPS * 99 / 100].as_micros()
    );
}
