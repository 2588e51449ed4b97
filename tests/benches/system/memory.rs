//! Relay memory: many idle sessions, and one session with many viewers.

use std::time::Duration;

use tests::relay::{RelayProcess, SessionFixture};

use crate::procs::{rss_kib, within};
use crate::report::Report;

/// Sessions and viewers for the memory figures.
const MANY: usize = 1_000;

/// The memory rows.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
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
