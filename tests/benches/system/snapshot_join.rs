//! Snapshot joins, the relay alone: from a viewer's connect to its
//! snapshot (up to `history_complete`) for 8 and 64 MiB rings of agent-like
//! output — the first join right after the output (the relay parses the
//! whole ring), the first join once the session was quiet long enough for
//! the relay to warm its snapshot in the background, and a later join
//! after 64 KiB more; with the relay's CPU for each.

use std::time::{Duration, Instant};

use protocol::{Frame, Size};
use tests::relay::{AgentClient, RelayProcess};
use tests::wait::eventually;

use crate::phone::agent_output;
use crate::procs::{cpu_secs, within, STEP_DEADLINE};
use crate::report::{millis, Report};

/// The ring sizes measured.
const HISTORIES: [usize; 2] = [8 << 20, 64 << 20];

/// Ring bytes the relay parsed in the background so far.
const WARM_PARSED: &str = "tether_relay_snapshot_parsed_warm_bytes_total";

/// The snapshot join rows.
pub fn rows(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    for history in HISTORIES {
        let [first, warmed, later] = runtime.block_on(measure(history));
        report.row(
            "join",
            &format!(
                "snapshot join, {} MiB ring: first join at once / first join after the session went quiet (warmed) / a later join (+64 KiB); relay CPU",
                history >> 20
            ),
            format!(
                "{} / {} / {}; {:.0} / {:.0} / {:.0} ms",
                millis(first.took),
                millis(warmed.took),
                millis(later.took),
                first.relay_cpu * 1e3,
                warmed.relay_cpu * 1e3,
                later.relay_cpu * 1e3,
            ),
            "",
        );
    }
}

/// One join: connect → snapshot, and the relay's CPU meanwhile.
struct Joined {
    took: Duration,
    relay_cpu: f64,
}

/// A relay with one session holding `history` bytes of agent output.
struct Filled {
    relay: RelayProcess,
    key: String,
    session: String,
    agent: AgentClient,
    written: u64,
}

impl Filled {
    async fn start(history: usize) -> Self {
        let ring = (history + (1 << 20)).to_string();
        let relay = RelayProcess::start_with(&["--history-bytes", &ring]);
        let key = relay.api_key();
        let session = relay.register_session(&key, "claude");
        let mut agent = relay.connect_agent(&session, &key).await;
        agent.send(&[Frame::Resize(Size::new(40, 100))]).await;
        let mut filled = Self {
            relay,
            key,
            session,
            agent,
            written: 0,
        };
        filled.print(&agent_output(history)).await;
        filled
    }

    async fn print(&mut self, output: &[u8]) {
        for chunk in output.chunks(64 << 10) {
            self.agent.send_output(chunk).await;
        }
        self.written += output.len() as u64;
        within(self.agent.wait_ack(self.written)).await;
    }

    async fn join(&self) -> Joined {
        let pid = self.relay.pid().expect("relay is running");
        let cpu = cpu_secs(pid);
        let started = Instant::now();
        let mut viewer = within(
            self.relay
                .connect_snapshot_viewer(&self.session, &self.key, None),
        )
        .await;
        let join = within(viewer.read_history()).await;
        let took = started.elapsed();
        let snapshot = join.snapshot.expect("a snapshot");
        assert_eq!(snapshot.offset, self.written, "the snapshot is at the end");
        viewer.socket.close().await;
        Joined {
            took,
            relay_cpu: cpu_secs(pid) - cpu,
        }
    }
}

/// The first join at once, the first join after the session was warmed,
/// and a later join.
async fn measure(history: usize) -> [Joined; 3] {
    let mut session = Filled::start(history).await;
    let first = session.join().await;
    session.print(&agent_output(64 << 10)).await;
    let later = session.join().await;
    drop(session);
    let quiet = Filled::start(history).await;
    eventually(
        "the quiet session's snapshot warmed",
        STEP_DEADLINE,
        async || quiet.relay.metric(WARM_PARSED).await >= quiet.written,
    )
    .await;
    let warmed = quiet.join().await;
    [first, warmed, later]
}
