//! The browser viewer's terminal page against the real relay, in headless
//! Chromium: history then live output, typed keys reaching the agent, a
//! relay restart resumed without duplicates, and a flood of output.
//! The "agent" is a real agent-link client writing output.

use std::time::{Duration, Instant};

use serde_json::json;
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

const NAME: &str = "e2e terminal";

/// How long a debug-build page may take to render a 100 MiB flood.
const FLOOD_RENDERED: Duration = Duration::from_secs(DEADLINE.as_secs() * 5);

/// How often each of `needles` occurs in the terminal's lines.
fn occurrences(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|line| line.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_then_live_output_then_typed_keys_reach_the_agent() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture
        .print(b"\x1b[1mhistory\x1b[0m line one\r\nhistory line two\r\n")
        .await;

    let browser = Browser::start(Screen::DESKTOP).await;
    let started = Instant::now();
    browser.goto(&fixture.terminal_url()).await;
    let text = browser.wait_for_text("history line two").await;
    let first_screen = started.elapsed();
    assert!(text.contains("history line one"), "{text}");
    browser.wait_for_state("live").await;
    let hook = browser.hook().await;
    assert_eq!(hook["role"], "read-write", "{hook}");
    assert_eq!(hook["cols"], 80, "{hook}");
    assert_eq!(hook["rows"], 24, "{hook}");
    eprintln!(
        "first screen of output: {} ms after navigation in the page, {first_screen:?} as the test saw it",
        hook["firstOutputMs"]
    );
    assert!(hook["firstOutputMs"].as_f64() < Some(2_000.0), "{hook}");

    fixture.print(b"live line three\r\n").await;
    browser.wait_for_text("live line three").await;

    browser.type_keys("hi").await;
    fixture.agent_receives(b"hi").await;
    fixture.print(b"echo:hi\r\n").await;
    browser.wait_for_text("echo:hi").await;

    // A paste arrives in one piece, bracketed once the agent asks for it.
    fixture.print(b"\x1b[?2004h").await;
    // The relay stored the mode switch; xterm must also have applied it
    // before the paste, or the paste goes out unbracketed.
    browser
        .wait_for_js(
            "bracketed paste mode in xterm",
            "return window.__tether.term.modes.bracketedPasteMode === true;",
            DEADLINE,
        )
        .await;
    browser
        .eval(
            "const data = new DataTransfer(); data.setData('text/plain', arguments[0]); \
             document.querySelector('.xterm-helper-textarea').dispatchEvent( \
               new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));",
            vec![json!("pasted text")],
        )
        .await;
    fixture
        .agent_receives(b"\x1b[200~pasted text\x1b[201~")
        .await;

    let lines = browser.terminal_lines().await;
    assert_eq!(occurrences(&lines, "history line one"), 1, "{lines:#?}");
    assert_eq!(occurrences(&lines, "live line three"), 1, "{lines:#?}");
    browser.screenshot("viewer-terminal-desktop").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_restart_is_resumed_without_duplicates() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    for n in 1..=5 {
        fixture.print(format!("before {n}\r\n").as_bytes()).await;
    }
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("before 5").await;

    // The relay dies with its memory; the viewer's socket drops.
    fixture.relay.kill();
    browser.wait_for_state("reconnecting").await;
    fixture.print_while_relay_is_down(b"during outage\r\n");
    fixture.restart_relay(NAME, 80, 24).await;
    fixture.print(b"after restart\r\n").await;

    browser.wait_for_text("after restart").await;
    browser.wait_for_state("live").await;
    let lines = browser.terminal_lines().await;
    for line in ["before 1", "before 5", "during outage", "after restart"] {
        assert_eq!(occurrences(&lines, line), 1, "{line:?} in {lines:#?}");
    }
    let hook = browser.hook().await;
    assert!(hook["connects"].as_u64() >= Some(2), "{hook}");
    assert_eq!(
        hook["rendered"].as_u64(),
        Some(fixture.printed.len() as u64),
        "every byte rendered once: {hook}"
    );
    browser.screenshot("viewer-terminal-after-restart").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_output_stays_bounded_and_the_page_responsive() {
    if !browser::available() {
        return;
    }
    // The relay keeps all of it, so the page, not the relay, must cope.
    let mut fixture =
        ViewerFixture::start_with(NAME, 100, 30, &["--history-bytes", "134217728"]).await;
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;

    // 100 MiB in 256 KiB messages, as fast as the relay takes them: far more
    // than the page may queue.
    let line =
        "flood 0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n";
    let block = line.repeat(256 * 1024 / line.len());
    let started = Instant::now();
    let mut max_queued = 0;
    for _ in 0..(100 * 1024 * 1024 / block.len()) {
        fixture.print_fast(block.as_bytes()).await;
    }
    fixture.print(b"flood done\r\n").await;
    // While xterm catches up the page keeps answering scripts (within 3 s
    // even on a loaded machine; a frozen tab would not). A sample every
    // 200 ms, each one timed: a measurement, so not the `eventually` poll.
    let deadline = Instant::now() + FLOOD_RENDERED;
    loop {
        let probe = Instant::now();
        let hook = browser.hook().await;
        let answered_in = probe.elapsed();
        assert!(
            answered_in < Duration::from_secs(3),
            "page blocked for {answered_in:?}"
        );
        max_queued = max_queued.max(hook["queued"].as_u64().unwrap_or(0));
        if browser.terminal_text().await.contains("flood done") {
            break;
        }
        assert!(Instant::now() < deadline, "flood not rendered: {hook}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hook = browser.hook().await;
    eprintln!(
        "100 MiB flood rendered in {:?}; most bytes queued in the page: {max_queued}; \
         skipped (the relay no longer had them): {}",
        started.elapsed(),
        hook["lost"]
    );
    assert!(max_queued <= 9 * 1024 * 1024, "queue grew to {max_queued}");
    let heap = browser
        .eval(
            "return performance.memory ? performance.memory.usedJSHeapSize : 0;",
            vec![],
        )
        .await;
    eprintln!("JS heap after the flood: {heap} bytes");
    assert!(heap.as_u64() < Some(256 << 20), "JS heap grew to {heap}");
    // Paced, not dropped: every byte was rendered exactly once.
    assert_eq!(hook["lost"], 0, "{hook}");
    assert_eq!(
        hook["rendered"].as_u64(),
        Some(fixture.printed.len() as u64),
        "{hook}"
    );
    browser.screenshot("viewer-terminal-flood").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_state_follows_the_agent_until_the_session_ends() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture.print(b"working\r\n").await;
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("working").await;

    // The wrapper's link drops: the viewer says so, and keys go nowhere.
    fixture.agent.socket.close().await;
    browser.wait_for_state("offline").await;
    assert!(browser.is_visible("[data-state='offline']").await);
    browser.screenshot("viewer-agent-offline").await;

    // It comes back, then the agent exits with status 3.
    fixture.reconnect_agent().await;
    browser.wait_for_state("live").await;
    fixture.end_session(3).await;
    browser.wait_for_state("ended").await;
    let badge = browser.state_badge().await;
    assert_eq!(badge, "ended (exit 3)");
    browser.screenshot("viewer-session-ended").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_in_replayed_history_are_not_answered_but_live_ones_are() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    // An agent asked for the cursor position and device attributes long ago.
    fixture.print(b"old prompt\x1b[6n\x1b[c\r\n").await;
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("old prompt").await;
    browser
        .wait_for_replay_end("the end of the replay", DEADLINE)
        .await;
    let answered = fixture.agent_input_within(Duration::from_millis(700)).await;
    assert!(
        answered.is_empty(),
        "replayed queries were answered: {:?}",
        String::from_utf8_lossy(&answered)
    );

    // A live query is answered (the wrapper keeps one answer per query).
    fixture.print(b"\x1b[3;5H\x1b[6n").await;
    fixture.agent_receives(b"\x1b[3;5R").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_back_off_and_going_online_retries_at_once() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture.print(b"before the outage\r\n").await;
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("before the outage").await;

    fixture.relay.kill();
    // Tries 1–4 come after 0.25, 0.5, 1 and 2 s; the next one 5 s after try 5.
    let try_five = "const b = document.querySelector('[data-state]'); \
                    return !!b && b.textContent === 'reconnecting (try 5)';";
    browser
        .wait_for_js("the fifth failed try", try_five, DEADLINE)
        .await;
    fixture.restart_relay(NAME, 80, 24).await;
    let started = Instant::now();
    browser
        .eval("window.dispatchEvent(new Event('online'));", vec![])
        .await;
    browser
        .wait_for_js(
            "a connection right after `online`",
            "return window.__tether.connects >= 2;",
            Duration::from_secs(3),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    fixture.print(b"after the outage\r\n").await;
    browser.wait_for_text("after the outage").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_asks_for_the_raw_history_gets_it_from_a_key_link() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture.print(b"replayed byte for byte\r\n").await;
    let browser = Browser::start(Screen::DESKTOP).await;
    let raw_link = fixture
        .terminal_url()
        .replacen("#key=", "?history=raw#key=", 1);
    for (link, snapshots) in [(raw_link, 0), (fixture.terminal_url(), 1)] {
        browser.goto(&link).await;
        browser.wait_for_text("replayed byte for byte").await;
        browser
            .wait_for_replay_end("the joined screen", DEADLINE)
            .await;
        let hook = browser.hook().await;
        assert_eq!(
            hook["snapshots"].as_u64(),
            Some(snapshots),
            "{link}: {hook}"
        );
        // The key leaves the address bar; the query stays.
        let address = browser
            .eval("return location.search + location.hash;", vec![])
            .await;
        let query = if snapshots == 0 { "?history=raw" } else { "" };
        assert_eq!(address.as_str(), Some(query), "{link}");
    }
    browser.close().await;
}
