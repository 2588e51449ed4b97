//! The phone join: a phone on a mobile network opens a session that has
//! been running for a while. Headless Chromium at 390×844 (touch, DPR 2),
//! the network throttled by chromedriver to 9 Mbit/s down, 3 Mbit/s up and
//! 60 ms of latency, the CPU slowed 4× by Chrome's own emulation; a fresh
//! profile and a fresh origin each run (a first visit: nothing cached).
//! Timed from navigation start until the current screen is shown (the
//! viewer's `window.__tether.replaying` turns false, and the next frame is
//! drawn: `phone_breakdown`, which also says where the time went), and the bytes sent
//! towards the browser counted by a TCP proxy in front of the relay (page,
//! assets and WebSocket, headers included). Raw replay (`?history=raw`)
//! and the snapshot join side by side, for several history sizes.

use std::time::Duration;

use protocol::{Frame, Metadata, Size};
use serde_json::{json, Value};
use tests::browser::{Browser, Screen};
use tests::relay::{AgentClient, RelayProcess};

use super::phone_breakdown::{
    summary, CpuProfile, MainThread, Timeline, READ_SCRIPT, WATCH_SCRIPT,
};
use super::procs::{within, Samples};
use super::proxy::CountingProxy;
use super::report::{millis, Report};

/// The phone: an iPhone 12–15 sized screen.
const PHONE: Screen = Screen::Phone {
    width: 390,
    height: 844,
};

/// The session's size: a desktop terminal, kept when a phone watches.
const SESSION: Size = Size::new(30, 100);

/// Joins measured per history size and mode (`TETHER_BENCH_PHONE_RUNS=N`
/// for more).
const RUNS: usize = 5;

/// How many joins to measure per history size and mode.
fn runs() -> usize {
    std::env::var("TETHER_BENCH_PHONE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(RUNS)
}

/// Longest one join may take before the bench gives up.
const JOIN_DEADLINE: Duration = Duration::from_secs(300);

/// How a viewer gets the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// `?history=raw`: every byte of the ring, replayed.
    Raw,
    /// The relay's default: a snapshot of the terminal, then live output.
    Snapshot,
}

impl Join {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Join::Raw => "raw replay",
            Join::Snapshot => "snapshot",
        }
    }

    fn query(self) -> &'static str {
        match self {
            Join::Raw => "?history=raw",
            Join::Snapshot => "",
        }
    }
}

/// What the joins of one history size and mode measured.
pub(crate) struct PhoneJoin {
    /// Navigation → current screen shown, every run.
    pub(crate) shown: Samples,
    /// The first run's time (for the snapshot: the relay builds it from
    /// the whole ring; later runs build on it).
    pub(crate) first: Duration,
    /// Bytes towards the browser, median of the runs.
    pub(crate) bytes: u64,
    /// Of them, the page and its assets (the rest is the WebSocket).
    pub(crate) assets: u64,
    /// Where the time went, every run.
    pub(crate) timelines: Vec<Timeline>,
}

/// A relay holding one session with `history` bytes of agent output.
pub(crate) struct PhoneSession {
    relay: RelayProcess,
    key: String,
    session: String,
    agent: AgentClient,
    written: u64,
}

impl PhoneSession {
    /// Starts the relay (its ring raised to hold `history`; more flags from
    /// `TETHER_BENCH_PHONE_RELAY`, say `--snapshot-lines 200` or
    /// `--static-dir OTHER/dist` for another viewer) and fills the session
    /// with agent-like output.
    pub(crate) async fn start(history: usize) -> Self {
        let ring = (history + (1 << 20)).to_string();
        let extra = std::env::var("TETHER_BENCH_PHONE_RELAY").unwrap_or_default();
        let mut args = vec!["--history-bytes", &ring];
        args.extend(extra.split_whitespace());
        let relay = RelayProcess::start_with(&args);
        let key = relay.api_key();
        let session = relay.register_session(&key, "claude");
        let mut agent = relay.connect_agent(&session, &key).await;
        let metadata = Metadata {
            agent: "claude".into(),
            agent_display_name: Some("phone bench".into()),
            ..Default::default()
        };
        agent
            .send(&[Frame::Metadata(metadata), Frame::Resize(SESSION)])
            .await;
        let output = agent_output(history);
        for chunk in output.chunks(64 << 10) {
            agent.send_output(chunk).await;
        }
        let written = output.len() as u64;
        within(agent.wait_ack(written)).await;
        Self {
            relay,
            key,
            session,
            agent,
            written,
        }
    }

    /// The agent prints one more line (the session is live between joins).
    async fn print_line(&mut self, line: &str) {
        let bytes = format!("{line}\r\n");
        self.agent.send_output(bytes.as_bytes()).await;
        self.written += bytes.len() as u64;
        within(self.agent.wait_ack(self.written)).await;
    }

    /// [`runs`] first visits of a phone joining by `join`.
    pub(crate) async fn measure(&mut self, join: Join) -> PhoneJoin {
        let mut shown = Vec::new();
        let mut bytes = Vec::new();
        let mut assets = Vec::new();
        let mut timelines = Vec::new();
        for run in 0..runs() {
            let marker = format!("{} join {run} of the phone bench", join.name());
            self.print_line(&marker).await;
            let visit = self.first_visit(join, &marker).await;
            shown.push(visit.shown);
            bytes.push(visit.bytes);
            assets.push(visit.assets);
            eprintln!(
                "phone {} run {run}: {}",
                join.name(),
                visit.timeline.describe_assets()
            );
            timelines.push(visit.timeline);
        }
        let first = shown[0];
        PhoneJoin {
            shown: Samples::new(shown),
            first,
            bytes: median(bytes),
            assets: median(assets),
            timelines,
        }
    }

    async fn first_visit(&self, join: Join, marker: &str) -> Visit {
        let proxy = CountingProxy::start(self.relay.addr()).await;
        let browser = Browser::start(PHONE).await;
        throttle(&browser).await;
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": WATCH_SCRIPT }),
            )
            .await;
        let url = format!(
            "{}/s/{}{}#key={}",
            proxy.http_url(),
            self.session,
            join.query(),
            self.key
        );
        let profile = CpuProfile::start(&browser, &proxy.http_url()).await;
        browser.cdp("Performance.enable", json!({})).await;
        browser.goto(&url).await;
        let ms = browser
            .wait_for_js(
                "the current screen",
                "return window.__benchShownMs || null;",
                JOIN_DEADLINE,
            )
            .await
            .as_f64()
            .expect("milliseconds");
        let text = browser.terminal_text().await;
        assert!(
            text.contains(marker),
            "the screen shows the session's last line {marker:?}:\n{text}"
        );
        let timeline = browser.eval(READ_SCRIPT, vec![]).await;
        let metrics = browser.cdp("Performance.getMetrics", json!({})).await;
        if let Some(profile) = profile {
            profile.save(&browser, marker).await;
        }
        let visit = Visit {
            shown: Duration::from_secs_f64(ms / 1e3),
            bytes: proxy.bytes_down(),
            assets: timeline["pageBytes"].as_f64().unwrap_or(0.0) as u64,
            timeline: Timeline {
                main_thread: MainThread::from_metrics(&metrics),
                ..Timeline::from_json(&timeline)
            },
        };
        browser.close().await;
        visit
    }
}

/// One first visit.
struct Visit {
    shown: Duration,
    bytes: u64,
    /// The page and its assets (Resource Timing `transferSize`).
    assets: u64,
    timeline: Timeline,
}

/// 9 Mbit/s down, 3 Mbit/s up, 60 ms of latency; the CPU 4× slower.
async fn throttle(browser: &Browser) {
    let conditions = json!({ "network_conditions": {
        "offline": false,
        "latency": 60,
        "download_throughput": 9_000_000 / 8,
        "upload_throughput": 3_000_000 / 8,
    }});
    browser
        .driver_command("chromium/network_conditions", conditions)
        .await;
    let rate: Value = browser
        .cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 4 }))
        .await;
    assert!(rate.is_object(), "CPU throttling: {rate}");
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// About `total` bytes of what a coding agent prints: tool calls and
/// their results in colour, code, and a status line redrawn at the bottom
/// now and then (cursor save, move, erase, restore); then a prompt.
pub(crate) fn agent_output(total: usize) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "session", "viewer", "relay", "snapshot", "offset", "ring", "frame", "buffer", "terminal",
        "resize", "cursor", "output", "history", "budget", "token", "agent", "stream", "window",
        "scroll", "socket", "render", "screen", "line", "replay",
    ];
    let mut out = Vec::with_capacity(total + 4096);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    let mut line = 0usize;
    while out.len() < total {
        line += 1;
        let words: Vec<&str> = (0..4 + next(10))
            .map(|_| WORDS[next(WORDS.len())])
            .collect();
        let text = words.join(" ");
        let formatted = match line % 7 {
            0 => format!(
                "\x1b[32m●\x1b[0m \x1b[1mRead\x1b[0m(src/{}.rs)\r\n",
                words[0]
            ),
            1 => format!("  \x1b[2m⎿\x1b[0m  {text} ({line} lines)\r\n"),
            2 => format!(
                "\x1b[38;5;{}m{:>4}\x1b[0m │ let {} = {};\r\n",
                240 + next(8),
                line,
                words[0],
                text.replace(' ', "_")
            ),
            _ => format!("{text}.\r\n"),
        };
        out.extend_from_slice(formatted.as_bytes());
        if line % 50 == 0 {
            let status = format!(
                "\x1b7\x1b[{};1H\x1b[2K\x1b[7m tokens {line} · {} \x1b[0m\x1b8",
                SESSION.rows, words[0]
            );
            out.extend_from_slice(status.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n\x1b[1mend of history\x1b[0m\r\n$ ");
    out
}

/// History sizes of the phone join, in MiB.
const HISTORIES_MIB: [usize; 3] = [1, 8, 64];

/// The history sizes and joins to measure: all of them, or those named by
/// `TETHER_BENCH_PHONE` (say `8,snapshot`: 8 MiB, snapshot joins only).
fn selection() -> (Vec<usize>, Vec<Join>) {
    let asked = std::env::var("TETHER_BENCH_PHONE").unwrap_or_default();
    let words: Vec<&str> = asked.split(',').map(str::trim).collect();
    let mut sizes: Vec<usize> = words.iter().filter_map(|w| w.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = HISTORIES_MIB.to_vec();
    }
    let mut joins: Vec<Join> = [Join::Raw, Join::Snapshot]
        .into_iter()
        .filter(|j| words.contains(&j.name().split(' ').next().unwrap_or("")))
        .collect();
    if joins.is_empty() {
        joins = vec![Join::Raw, Join::Snapshot];
    }
    (sizes, joins)
}

/// The `phone` part: every history size, raw replay and snapshot.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let (sizes, joins) = selection();
    for mib in sizes {
        let history = mib << 20;
        let mut session = runtime.block_on(PhoneSession::start(history));
        for &join in &joins {
            let measured = runtime.block_on(session.measure(join));
            let target = match (join, mib) {
                (Join::Raw, _) => "",
                (Join::Snapshot, 8) => "≤ 1 s; ≤ 500 KB",
                (Join::Snapshot, _) => "≤ 1 s",
            };
            report.row(
                "phone join",
                &format!(
                    "{mib} MiB of history, {}: navigation → screen shown (median / first / max of {}); bytes to the phone (median; page + assets of it)",
                    join.name(),
                    runs()
                ),
                format!(
                    "{} / {} / {}; {:.0} KB ({:.0} KB)",
                    millis(measured.shown.p(50)),
                    millis(measured.first),
                    millis(measured.shown.p(100)),
                    measured.bytes as f64 / 1e3,
                    measured.assets as f64 / 1e3
                ),
                target,
            );
            report.row(
                "phone join",
                &format!("{mib} MiB of history, {}: where the time goes", join.name()),
                summary(&measured.timelines),
                "",
            );
        }
    }
}
