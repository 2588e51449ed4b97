//! Joining and the browser: history replay to a new viewer, headless
//! Chromium's first output, and the size of what the viewer ships.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::browser::{workspace_root, Browser, Screen, ViewerFixture};
use tests::relay::SessionFixture;

use crate::procs::{within, Samples};
use crate::report::{millis, Report};

/// History replayed to a joining viewer.
const HISTORY: usize = 8 << 20;

/// The join rows: replay, then snapshots.
pub fn join(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let join = runtime.block_on(join_time());
    report.row(
        "join",
        "replay 8 MiB of history to a new viewer (median / max of 10)",
        format!("{} / {}", millis(join.p(50)), millis(join.p(100))),
        "≤ 50 ms",
    );
    crate::snapshot_join::rows(runtime, report);
}

/// The browser rows.
pub fn browser(runtime: &tokio::runtime::Runtime, report: &mut Report) {
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
