//! Several nodes (`scripts/bench nodes`): what a viewer pays for reaching a
//! node that does not hold its session's agent link (relayed to the owner,
//! `relay-dev/src/transport/proxy.rs`) against one on the owner — throughput
//! and keystroke round trip — and the cluster's own costs: memory of a
//! relayed viewer on the relaying node, Redis commands and bytes per live
//! session.

use std::time::{Duration, Instant};

use protocol::{Control, Frame};
use tests::relay::{AgentClient, Event, RelayNodes, ViewerClient};

use crate::procs::{rss_kib, within};
use crate::report::Report;
use crate::throughput::RUNS;

/// Bytes sent for each throughput run.
const STREAM: u64 = 256 << 20;
/// Keystroke round trips per measurement.
const TRIPS: usize = 2_000;
/// Relayed viewers for the memory figure; live sessions for Redis's.
const MANY: usize = 200;

pub(super) fn nodes(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let Some(nodes) = RelayNodes::start(2, &["--max-viewers", "1000"]) else {
        println!("nodes: skipped (no redis-server)");
        return;
    };
    let key = nodes.key();
    for (label, node) in [
        ("on the owner node", 0),
        ("through another node (relayed)", 1),
    ] {
        let best = (0..RUNS)
            .map(|_| runtime.block_on(stream_to(&nodes, &key, node)))
            .min()
            .expect("runs");
        let mb_s = STREAM as f64 / 1e6 / best.0.as_secs_f64();
        let skipped = match best.1 {
            0 => String::new(),
            n => format!(", skipped {:.1} MB", n as f64 / 1e6),
        };
        report.row(
            "nodes",
            &format!("relay alone, agent client → 1 viewer {label}"),
            format!("{mb_s:.0} MB/s{skipped}"),
            "",
        );
        let trips = runtime.block_on(round_trips(&nodes, &key, node));
        report.row(
            "nodes",
            &format!("keystroke round trip (relay only) {label}, p50 / p99"),
            format!(
                "{} / {}",
                micros(trips[trips.len() / 2]),
                micros(trips[trips.len() * 99 / 100])
            ),
            "",
        );
    }
    drop(nodes);
    // Many sessions: small rings, to stay inside the user's memory budget.
    let many = [
        "--max-viewers",
        "1000",
        "--history-bytes",
        "64K",
        "--max-sessions",
        "1000",
    ];
    let Some(nodes) = RelayNodes::start(2, &many) else {
        return;
    };
    let (per_viewer, redis) = runtime.block_on(costs(&nodes, &nodes.key()));
    report.row(
        "nodes",
        &format!("relaying node's memory per relayed viewer ({MANY} viewers)"),
        format!("{per_viewer:.1} KiB"),
        "",
    );
    report.row(
        "nodes",
        &format!("Redis per live session ({MANY} sessions on one node)"),
        redis,
        "",
    );
}

/// A session whose agent link is on node 0.
async fn owned_session(nodes: &RelayNodes, key: &str) -> (String, AgentClient) {
    let session = nodes.node(0).register_session(key, "bench");
    let agent = nodes.node(0).connect_agent(&session, key).await;
    (session, agent)
}

/// Time for [`STREAM`] bytes in 64 KiB OUTPUT frames to reach one viewer on
/// node `node`, and how many of them it skipped (too slow for the ring).
async fn stream_to(nodes: &RelayNodes, key: &str, node: usize) -> (Duration, u64) {
    let (session, mut agent) = owned_session(nodes, key).await;
    let mut viewer = nodes.node(node).joined_viewer(&session, key).await;
    let reader = tokio::spawn(async move {
        let (mut received, mut skipped) = (0u64, 0u64);
        while received < STREAM {
            match viewer
                .socket
                .next_event_within(Duration::from_secs(60))
                .await
            {
                Some(Event::Frame(Frame::Output(data))) => received += data.len() as u64,
                // Too slow for the ring: counted, as the throughput part does.
                Some(Event::Frame(Frame::Control(Control::Gap { from, to }))) => {
                    received += to - from;
                    skipped += to - from;
                }
                Some(Event::Frame(_)) => {}
                other => panic!("viewer stopped after {received} bytes: {other:?}"),
            }
        }
        skipped
    });
    let chunk = vec![b'x'; 64 << 10];
    let start = Instant::now();
    let mut sent = 0;
    while sent < STREAM {
        agent.send_output(&chunk).await;
        sent += chunk.len() as u64;
    }
    let skipped = within(reader).await.expect("viewer task");
    (start.elapsed(), skipped)
}

/// Keystroke → echo with an agent client that echoes at once, the viewer
/// on node `node`; sorted.
async fn round_trips(nodes: &RelayNodes, key: &str, node: usize) -> Vec<Duration> {
    let (session, mut agent) = owned_session(nodes, key).await;
    let mut viewer = nodes.node(node).joined_viewer(&session, key).await;
    let mut samples = Vec::with_capacity(TRIPS);
    for i in 0..TRIPS {
        let key = b'a' + (i % 26) as u8;
        let start = Instant::now();
        viewer.send(&[Frame::Input(vec![key])]).await;
        match within(agent.next_command()).await {
            Frame::Input(data) => agent.send_output(&data).await,
            other => panic!("expected INPUT, got {other:?}"),
        }
        within(viewer.read_output_until(&[key])).await;
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    samples
}

/// The relaying node's memory per relayed viewer (KiB), and Redis's
/// commands per second and memory per live session.
async fn costs(nodes: &RelayNodes, key: &str) -> (f64, String) {
    let (session, _agent) = owned_session(nodes, key).await;
    let pid = nodes.node(1).pid().expect("node running");
    let before = settled(pid).await;
    let mut viewers: Vec<ViewerClient> = Vec::new();
    for _ in 0..MANY {
        viewers.push(nodes.node(1).joined_viewer(&session, key).await);
    }
    let per_viewer = settled(pid).await.saturating_sub(before) as f64 / MANY as f64;
    drop(viewers);

    let memory = redis_cli(nodes, "used_memory");
    let idle = commands_per_sec(nodes).await;
    let mut agents = Vec::new();
    for _ in 0..MANY {
        agents.push(owned_session(nodes, key).await);
    }
    let busy = commands_per_sec(nodes).await;
    let grown = redis_cli(nodes, "used_memory").saturating_sub(memory);
    let per_session = (busy - idle) / MANY as f64;
    let redis = format!(
        "{per_session:.2} commands/s, {:.0} B of memory (the nodes alone: {idle:.1} commands/s)",
        grown as f64 / MANY as f64
    );
    (per_viewer, redis)
}

/// Redis commands per second over five seconds.
async fn commands_per_sec(nodes: &RelayNodes) -> f64 {
    let from = redis_cli(nodes, "total_commands_processed");
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let to = redis_cli(nodes, "total_commands_processed");
    // Each `redis-cli INFO` is one command too.
    (to.saturating_sub(from) as f64 - 1.0) / start.elapsed().as_secs_f64()
}

/// A field of `INFO` from the nodes' Redis.
fn redis_cli(nodes: &RelayNodes, field: &str) -> u64 {
    let port = nodes
        .redis
        .url()
        .rsplit(':')
        .next()
        .expect("a port")
        .to_string();
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port, "INFO"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(str::trim)
                .map(str::to_string)
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{field} in INFO"))
}

/// The process's resident memory once it stops changing (KiB).
async fn settled(pid: u32) -> u64 {
    let mut last = rss_kib(pid);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = rss_kib(pid);
        if now.abs_diff(last) < 64 {
            return now;
        }
        last = now;
    }
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}
