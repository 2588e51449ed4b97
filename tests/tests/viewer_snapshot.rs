//! Joining by snapshot in the real browser, every piece real: a shell runs
//! under `tether` in tmux, the relay rebuilds its terminal for a browser
//! that joins late, and the browser's screen must equal tmux's row by row —
//! after a full-screen program switched to the alternate screen and back,
//! for a viewer that joined while it ran and then saw it quit, and with the
//! scrollback there when the viewer scrolls back. The input modes come with
//! the snapshot: after a program asked for application cursor keys, an
//! arrow key typed in the browser reaches it as `ESC O A`.

use std::path::Path;

use tests::browser::{self, Browser, Screen};
use tests::relay::RelayProcess;
use tests::screens::{live_session, screens_match};
use tests::tmux::Tmux;
use tests::tools::{require_tool, require_vim};
use tests::wait::SYSTEM_DEADLINE;
use tests::wrapper::tether_bin;

/// A relay serving the viewer, and tmux whose shell can start `tether`.
struct Rig {
    relay: RelayProcess,
    key: String,
    tmux: Tmux,
    home: tempfile::TempDir,
}

impl Rig {
    fn start(cols: u16, rows: u16) -> Self {
        let dist = browser::dist_dir();
        let relay = RelayProcess::start_with(&["--static-dir", dist.to_str().expect("utf-8 path")]);
        let key = relay.api_key();
        let home = tempfile::tempdir().expect("temp home");
        let home_path = home.path().to_str().expect("utf-8 path").to_owned();
        let api_url = relay.http_url();
        let tmux = Tmux::start(
            cols,
            rows,
            &[
                ("HOME", &home_path),
                ("TETHER_HOME", &home_path),
                ("TETHER_API_URL", &api_url),
                ("TETHER_API_KEY", &key),
            ],
        );
        Self {
            relay,
            key,
            tmux,
            home,
        }
    }

    /// Runs `command` (and `args`) under `tether` in the tmux window; returns
    /// the session id once it is live.
    async fn tether(&self, command: &str, args: &str) -> String {
        self.tmux.type_line(&format!(
            "{} --name snapshot --command {command} -- {args}",
            tether_bin().display()
        ));
        live_session(&self.relay, &self.key).await
    }

    /// A browser that opens `session` (and so joins by snapshot).
    async fn browser(&self, session: &str, screen: Screen) -> Browser {
        let browser = Browser::start(screen).await;
        browser
            .goto(&format!(
                "{}/s/{session}#key={}",
                self.relay.http_url(),
                self.key
            ))
            .await;
        browser.wait_for_state("live").await;
        browser
            .wait_for_replay_end("the joined screen", SYSTEM_DEADLINE)
            .await;
        browser
    }

    fn home(&self) -> &Path {
        self.home.path()
    }
}

/// How many snapshots the browser's terminal was rebuilt from.
async fn snapshots(browser: &Browser) -> u64 {
    browser.hook().await["snapshots"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_viewer_sees_the_screen_around_a_full_screen_program_and_its_scrollback() {
    if !browser::available() || !require_tool("tmux") {
        return;
    }
    let Some(vi) = require_vim() else {
        return;
    };
    let rig = Rig::start(80, 24);
    let notes = rig.home().join("notes.txt");
    let text: String = (1..=40).map(|n| format!("note {n}\n")).collect();
    std::fs::write(&notes, text).expect("write the file vi opens");
    let session = rig.tether("sh", "").await;
    let tmux = &rig.tmux;
    tmux.wait_for_text(Tmux::PROMPT, SYSTEM_DEADLINE);

    // Output that scrolls far off the screen, then vi on the alternate
    // screen, scrolled a little.
    tmux.type_line("seq -f 'scrolled line %g' 1 150");
    tmux.wait_for_text("scrolled line 150", SYSTEM_DEADLINE);
    tmux.type_line(&format!("{} -u NONE {}", vi.display(), notes.display()));
    tmux.wait_for_text("note 1", SYSTEM_DEADLINE);
    tmux.send_keys(&["C-e", "C-e", "C-e"]);
    tmux.wait_for_screen("vi to scroll", SYSTEM_DEADLINE, |screen| {
        screen.starts_with("note 4")
    });

    // 1. A viewer joins while vi runs: vi's screen.
    let during = rig.browser(&session, Screen::DESKTOP).await;
    screens_match(tmux, &during, "snapshot-1-in-vi", "note 4").await;
    assert_eq!(snapshots(&during).await, 1, "joined by snapshot");

    // 2. vi quits: the shell's screen comes back, in that viewer too (the
    //    snapshot carried the primary screen behind the alternate one).
    tmux.send_literal(":q");
    tmux.send_keys(&["Enter"]);
    tmux.wait_for_screen("the shell again", SYSTEM_DEADLINE, |screen| {
        screen.contains("scrolled line 150") && !screen.contains("note 4")
    });
    tmux.type_line("echo after vi");
    tmux.wait_for_text("after vi\n", SYSTEM_DEADLINE);
    screens_match(tmux, &during, "snapshot-2-after-vi", "after vi").await;

    // 3. Another viewer joins now: the same screen.
    let after = rig.browser(&session, Screen::PHONE).await;
    screens_match(tmux, &after, "snapshot-3-late-phone", "after vi").await;
    assert_eq!(snapshots(&after).await, 1, "joined by snapshot");

    // 4. It scrolls back: the lines that scrolled off are there, in order.
    // (The screen's rows end in written spaces; trailing spaces aside.)
    let lines: Vec<String> = after
        .terminal_lines()
        .await
        .iter()
        .map(|line| line.trim_end().to_owned())
        .collect();
    let scrolled: Vec<&String> = lines
        .iter()
        .filter(|line| line.starts_with("scrolled line "))
        .collect();
    let expected: Vec<String> = (1..=150).map(|n| format!("scrolled line {n}")).collect();
    assert_eq!(scrolled, expected.iter().collect::<Vec<_>>(), "{lines:#?}");
    let top = after
        .eval(
            "const t = window.__tether.term; t.scrollToTop(); \
             const b = t.buffer.active; \
             return [b.viewportY, b.getLine(b.viewportY).translateToString(true).trimEnd()];",
            vec![],
        )
        .await;
    assert_eq!(top[0], 0, "scrolled to the top: {top}");
    after.screenshot("snapshot-4-scrolled-back").await;
    let first = lines.first().cloned().unwrap_or_default();
    assert_eq!(top[1], first.as_str(), "{top}");

    during.close().await;
    after.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_cursor_keys_asked_for_before_the_join_shape_the_arrow_keys() {
    if !browser::available() || !require_tool("tmux") || !require_tool("od") {
        return;
    }
    let rig = Rig::start(80, 24);
    // Asks for application cursor keys, then shows each byte it reads.
    let script = rig.home().join("keys.sh");
    std::fs::write(
        &script,
        "printf '\\033[H\\033[2J\\033[?1h'\nstty raw -echo\nstty opost onlcr\necho 'reading keys'\n\
         while :; do dd bs=1 count=1 2>/dev/null | od -An -tx1; done\n",
    )
    .expect("write the script");
    let session = rig.tether("sh", &script.display().to_string()).await;
    rig.tmux.wait_for_text("reading keys", SYSTEM_DEADLINE);

    let browser = rig.browser(&session, Screen::DESKTOP).await;
    screens_match(&rig.tmux, &browser, "snapshot-keys", "reading keys").await;
    assert_eq!(snapshots(&browser).await, 1, "joined by snapshot");
    let mode = browser
        .eval(
            "return window.__tether.term.modes.applicationCursorKeysMode;",
            vec![],
        )
        .await;
    assert_eq!(mode, true, "the snapshot set application cursor keys");

    browser.type_keys("\u{E013}").await; // ArrowUp
    let screen = rig
        .tmux
        .wait_for_screen("the arrow key's bytes", SYSTEM_DEADLINE, |screen| {
            screen.contains(" 41")
        });
    let bytes: Vec<&str> = screen
        .lines()
        .map(str::trim)
        .filter(|line| line.len() == 2)
        .collect();
    assert_eq!(bytes, ["1b", "4f", "41"], "ESC O A, not ESC [ A:\n{screen}");
    browser.close().await;
}
