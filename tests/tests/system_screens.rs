//! The whole system, every piece real: `tether` runs vi (a full-screen
//! program) inside a real terminal (tmux), the real `tether-relay` streams
//! it, and the viewer in headless Chromium shows it. The browser's screen —
//! the rows of xterm's visible screen, the size and the cursor — must equal
//! the terminal's (`tmux capture-pane`): after vi's first draw and its
//! scrolling, after the local terminal is resized, in a phone that joins
//! late, after keys typed in the browser, and after the relay was killed and
//! restarted (the wrapper and the viewer reconnect). Both browsers join by
//! snapshot (the terminal rebuilt by the relay, not the history replayed);
//! the reconnect resumes byte-exact, without another snapshot.
//! (`viewer_snapshot.rs` has the alternate screen, scrollback and the input
//! modes a snapshot carries.)
//!
//! Screenshots of each step go to `test-artifacts/system-*.png`.

use std::path::{Path, PathBuf};

use tests::browser::{self, Browser, Screen};
use tests::relay::RelayProcess;
use tests::screens::{live_session, screens_match};
use tests::tmux::Tmux;
use tests::tools::{require_tool, require_vim};
use tests::wait::SYSTEM_DEADLINE;
use tests::wrapper::tether_bin;

/// A file whose lines differ, some wider than the terminal so that vi wraps them.
fn write_notes(dir: &Path) -> PathBuf {
    let path = dir.join("notes.txt");
    let mut text = String::new();
    for n in 1..=60 {
        text.push_str(&format!(
            "line {n:02}: the quick brown fox jumps over the lazy dog"
        ));
        if n % 7 == 0 {
            text.push_str(&" and keeps running past the edge of a narrow terminal".repeat(2));
        }
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write the file vi opens");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_shows_exactly_the_local_terminal() {
    if !browser::available() || !require_tool("tmux") {
        return;
    }
    let Some(vi) = require_vim() else {
        return;
    };

    let dist = browser::dist_dir();
    let mut relay = RelayProcess::start_with(&["--static-dir", dist.to_str().expect("utf-8 path")]);
    let key = relay.api_key();
    let home = tempfile::tempdir().expect("temp home");
    let home_path = home.path().to_str().expect("utf-8 path");
    let notes = write_notes(home.path());
    let api_url = relay.http_url();
    let tmux = Tmux::start(
        100,
        30,
        &[
            ("HOME", home_path),
            ("TETHER_HOME", home_path),
            ("TETHER_API_URL", &api_url),
            ("TETHER_API_KEY", &key),
        ],
    );

    // 1. Output: vi's first full-screen draw.
    tmux.type_line(&format!(
        "{} --name whole-system --command {} -- -u NONE {}",
        tether_bin().display(),
        vi.display(),
        notes.display()
    ));
    let vi_name = vi.file_name().and_then(|n| n.to_str()).unwrap_or("vi");
    tmux.wait_for_process(vi_name, SYSTEM_DEADLINE);
    tmux.wait_for_text("line 01", SYSTEM_DEADLINE);
    let session = live_session(&relay, &key).await;
    let browser = Browser::start(Screen::DESKTOP).await;
    browser
        .goto(&format!("{}/s/{session}#key={key}", relay.http_url()))
        .await;
    browser.wait_for_state("live").await;
    let first = screens_match(&tmux, &browser, "1-output", "line 01").await;
    assert_eq!(snapshots(&browser).await, 1, "joined by snapshot");
    assert_eq!((first.cols, first.rows), (100, 30));

    // More output: vi scrolls line by line (scroll regions, insert and
    // delete line), down seven lines and back up two.
    tmux.send_keys(&[
        "C-e", "C-e", "C-e", "C-e", "C-e", "C-e", "C-e", "C-y", "C-y",
    ]);
    tmux.wait_for_screen("vi to scroll", SYSTEM_DEADLINE, |screen| {
        screen.starts_with("line 06:")
    });
    screens_match(&tmux, &browser, "1-scrolled", "line 06").await;

    // 2. The local terminal shrinks: vi redraws, the session takes the new size.
    tmux.resize(80, 24);
    tmux.wait_for_screen("the 80x24 redraw", SYSTEM_DEADLINE, |screen| {
        screen.lines().count() == 24
    });
    let resized = screens_match(&tmux, &browser, "2-resized", "line 10").await;
    assert_eq!((resized.cols, resized.rows), (80, 24));

    // 2b. A phone joins late, by snapshot: the terminal as vi left it after
    //     scrolling and the resize (the relay rebuilds it at both sizes)
    //     gives it the same screen, scaled to fit. It must not resize the
    //     session (the local terminal's size wins): a resize would show in
    //     every comparison after this one.
    let phone = Browser::start(Screen::PHONE).await;
    phone
        .goto(&format!("{}/s/{session}#key={key}", relay.http_url()))
        .await;
    phone.wait_for_state("live").await;
    let on_phone = screens_match(&tmux, &phone, "2b-phone", "line 10").await;
    assert_eq!((on_phone.cols, on_phone.rows), (80, 24));
    assert_eq!(snapshots(&phone).await, 1, "the phone joined by snapshot");
    phone.close().await;

    // 3. Keys typed in the browser reach vi through the relay and the PTY:
    //    a new last line, then Escape back to normal mode.
    browser.type_keys("Gotyped in the browser\u{E00C}").await;
    screens_match(&tmux, &browser, "3-browser-input", "typed in the browser").await;

    // 4. The relay dies (its memory with it). What vi draws meanwhile is kept
    //    by the wrapper; after the restart the wrapper re-uploads, the
    //    viewer resumes, and both screens agree again.
    let connects_before = browser.hook().await["connects"].as_u64().unwrap_or(0);
    relay.kill();
    tmux.send_literal("ggOtyped while the relay was down");
    tmux.send_keys(&["Escape"]);
    tmux.wait_for_text("typed while the relay was down", SYSTEM_DEADLINE);
    relay.restart();
    screens_match(
        &tmux,
        &browser,
        "4-relay-restarted",
        "typed while the relay was down",
    )
    .await;
    let connects_after = browser.hook().await["connects"].as_u64().unwrap_or(0);
    assert!(
        connects_after > connects_before,
        "the viewer reconnected ({connects_before} → {connects_after} connects)"
    );
    assert_eq!(
        snapshots(&browser).await,
        1,
        "the reconnect resumed from its offset, byte-exact, without a snapshot"
    );

    // 5. And the stream is live again: a local edit after the restart.
    tmux.send_literal("otyped after the restart");
    tmux.send_keys(&["Escape"]);
    screens_match(&tmux, &browser, "5-live-again", "typed after the restart").await;

    // vi saves what both sides typed; tether ends and the viewer says so.
    tmux.send_literal(":wq");
    tmux.send_keys(&["Enter"]);
    tmux.wait_until_idle(SYSTEM_DEADLINE);
    browser.wait_for_state("ended").await;
    let saved = std::fs::read_to_string(&notes).expect("vi saved the file");
    let lines: Vec<&str> = saved.lines().collect();
    assert_eq!(lines.first(), Some(&"typed while the relay was down"));
    assert_eq!(lines.get(1), Some(&"typed after the restart"));
    assert_eq!(lines.last(), Some(&"typed in the browser"));
    browser.close().await;
}

/// How many snapshots the browser's terminal was rebuilt from.
async fn snapshots(browser: &Browser) -> u64 {
    browser.hook().await["snapshots"].as_u64().unwrap_or(0)
}
