//! Playback and search in headless Chromium against the real relay: a live
//! session rewound to its attention marker and back, an ended session
//! replayed from the relay's recording endpoint (seek to a
//! marker, play at 16× to the final screen), a read-write share link's
//! replay, find in the history (a line that scrolled off, highlighted,
//! next/previous, Ctrl+F and Esc) in playback and in the live view; kept
//! recordings (`--keep-recordings`) listed in the dashboard and played with
//! long pauses shortened, speeds measured in virtual time, pause and seek.

use std::time::Duration;

use protocol::{Attention, AttentionState, Control, Frame, Role};
use serde_json::{json, Value};
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

/// The playback terminal's lines (scrollback and screen), trailing spaces
/// trimmed.
const PLAYBACK_TEXT: &str = "const p = window.__tetherPlayback; if (!p) return ''; \
    const b = p.term.buffer.active; const out = []; \
    for (let i = 0; i < b.length; i++) { const l = b.getLine(i); if (l) out.push(l.translateToString(true)); } \
    return out.join('\\n');";

async fn playback_text(browser: &Browser) -> String {
    browser
        .eval(PLAYBACK_TEXT, vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn wait_playback_text(browser: &Browser, what: &str, check: impl Fn(&str) -> bool) -> String {
    browser
        .eventually(what, DEADLINE, async || {
            Some(playback_text(browser).await).filter(|text| check(text))
        })
        .await
}

/// The player's `time`, `duration`, `playing`, `speed`.
async fn player(browser: &Browser) -> Value {
    browser
        .eval(
            "const p = window.__tetherPlayback; if (!p) return null; \
             return {time: p.time, duration: p.duration, playing: p.playing, speed: p.speed};",
            vec![],
        )
        .await
}

/// Virtual seconds played per real second, measured in the page over `ms`.
async fn virtual_rate(browser: &Browser, ms: u64) -> f64 {
    let script = "const [ms, done] = arguments; const p = window.__tetherPlayback; \
        const t0 = performance.now(), v0 = p.time; \
        setTimeout(() => done((p.time - v0) / ((performance.now() - t0) / 1000)), ms);";
    let rate = browser
        .client()
        .execute_async(script, vec![json!(ms)])
        .await
        .expect("the measuring script");
    rate.as_f64().expect("a rate")
}

/// Opens the find bar with a real Ctrl+F in `textarea`'s terminal and
/// searches for `text`.
async fn find(browser: &Browser, textarea: &str, text: &str) {
    use fantoccini::Locator;
    let keys = browser
        .client()
        .find(Locator::Css(textarea))
        .await
        .expect("xterm's textarea");
    // WebDriver: Control held for the `f`, then released (U+E000).
    keys.send_keys("\u{E009}f\u{E000}").await.expect("Ctrl+F");
    let input = browser
        .client()
        .wait()
        .at_most(DEADLINE)
        .for_element(Locator::Css(".search-input"))
        .await
        .expect("the find bar opens");
    input.send_keys(text).await.expect("type the search");
}

async fn search_count(browser: &Browser, count: u32, index: u32) {
    let script = format!(
        "const c = document.querySelector('.search-count'); \
         return c && c.dataset.count === '{count}' && c.dataset.index === '{index}';"
    );
    browser
        .wait_for_js(&format!("match {index} of {count}"), &script, DEADLINE)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_replays_to_a_marker_and_its_end_and_search_finds_old_lines() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("replay me", 80, 24).await;
    fixture.print(b"before the question\r\n").await;
    let asked = fixture.printed.len() as u64;
    fixture
        .agent
        .send(&[Frame::Control(Control::Attention(Attention::new(
            AttentionState::Waiting,
            Some("Allow edit?".into()),
            Some(asked),
        )))])
        .await;
    // A pause the recording keeps (the marker sits between the two outputs).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut rest = b"after the answer\r\n".to_vec();
    for n in 1..=40 {
        rest.extend_from_slice(format!("line {n:02}\r\n").as_bytes());
    }
    rest.extend_from_slice(b"the final screen");
    fixture.print(&rest).await;

    // Rewind while it is live: the recording so far, then back to live.
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.click("button.replay-toggle").await;
    wait_for_marker(&browser).await;
    browser.click(".timeline .marker:not(.gap)").await;
    wait_playback_text(&browser, "the live session rewound", |t| {
        t.contains("before the question") && !t.contains("after the answer")
    })
    .await;
    browser.click("button.close-playback").await;
    browser.wait_for_text("the final screen").await;

    fixture.end_session(0).await;
    browser.wait_for_state("ended").await;
    browser.click("button.replay-toggle").await;
    browser
        .wait_for_js(
            "the recording loaded",
            "const p = window.__tetherPlayback; return p && p.duration > 0.2;",
            DEADLINE,
        )
        .await;

    // The marker jumps to the question: what came before, not after.
    wait_for_marker(&browser).await;
    let marker = browser
        .eval(
            "const m = document.querySelector('.timeline .marker:not(.gap)'); \
             return m && m.getAttribute('aria-label');",
            vec![],
        )
        .await;
    assert_eq!(marker, "waiting: Allow edit?");
    browser.click(".timeline .marker:not(.gap)").await;
    let at_marker = wait_playback_text(&browser, "the screen at the marker", |t| {
        t.contains("before the question")
    })
    .await;
    assert!(!at_marker.contains("after the answer"), "{at_marker}");

    // 16×: on to the final screen, then it stops at the end.
    browser.click(".speed[data-speed='16']").await;
    browser.click("button.play").await;
    wait_playback_text(&browser, "the final screen", |t| {
        t.contains("the final screen")
    })
    .await;
    browser
        .wait_for_js(
            "playback stops at the end",
            "const p = window.__tetherPlayback; return !p.playing && p.time === p.duration;",
            DEADLINE,
        )
        .await;
    assert_eq!(player(&browser).await["speed"], 16.0);
    browser.screenshot("viewer-playback-ended").await;

    // Find: a line that scrolled off, selected and highlighted; next/previous.
    find(&browser, ".playback-host .xterm-helper-textarea", "line 03").await;
    search_count(&browser, 1, 1).await;
    let found = browser
        .eval(
            "const t = window.__tetherPlayback.term; \
             return [t.getSelection(), document.querySelectorAll('.playback-host .xterm-decoration').length];",
            vec![],
        )
        .await;
    assert_eq!(found[0], "line 03", "the match is selected: {found}");
    assert!(found[1].as_u64() > Some(0), "and highlighted: {found}");
    browser.click(".search-close").await;
    // Nine matches; the search goes on from the last one's place.
    find(&browser, ".playback-host .xterm-helper-textarea", "line 0").await;
    let first = browser
        .wait_for_js(
            "nine matches",
            "const c = document.querySelector('.search-count'); \
             return c && c.dataset.count === '9' && Number(c.dataset.index);",
            DEADLINE,
        )
        .await
        .as_u64()
        .expect("a current match") as u32;
    let enter = async |keys: &str| {
        let input = browser.client().active_element().await.expect("the focus");
        input.send_keys(keys).await.expect("keys");
    };
    enter("\u{E007}").await;
    search_count(&browser, 9, first % 9 + 1).await;
    // Shift+Enter goes back.
    enter("\u{E008}\u{E007}\u{E000}").await;
    search_count(&browser, 9, first).await;
    browser.screenshot("viewer-playback-search").await;
    enter("\u{E00C}").await;
    browser
        .wait_for_js(
            "Esc closes the find bar",
            "return !document.querySelector('.search-bar');",
            DEADLINE,
        )
        .await;

    // Back to the live view: find works over its scrollback too.
    browser.click("button.close-playback").await;
    find(
        &browser,
        ".term-host:not(.playback-host) .xterm-helper-textarea",
        "line 02",
    )
    .await;
    search_count(&browser, 1, 1).await;
    let selected = browser
        .eval("return window.__tether.term.getSelection();", vec![])
        .await;
    assert_eq!(selected, "line 02");

    // A read-write share link may replay too.
    browser.goto("about:blank").await;
    browser
        .goto(&fixture.share_url(Role::ReadWrite).await)
        .await;
    browser.wait_for_state("ended").await;
    browser.click("button.replay-toggle").await;
    wait_playback_text(&browser, "the share link's replay", |t| {
        t.contains("before the question")
    })
    .await;
    browser.close().await;
}

/// A kept recording with a 100 s pause (played as 2 s), a marker after it
/// and sixty ticks a second apart: 0.5 + 2 + 60 = 62.5 s (at 16× still
/// playing after the slowest WebDriver round trips).
const KEPT: &str =
    "{\"version\": 3, \"term\": {\"cols\": 60, \"rows\": 12}, \"title\": \"kept\"}\n\
[0.5, \"o\", \"kept one\\r\\n\"]\n\
[100.0, \"o\", \"after a long pause\\r\\n\"]\n\
[0.0, \"m\", \"waiting: Continue?\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_recordings_are_listed_and_play_with_pauses_shortened_at_each_speed() {
    if !browser::available() {
        return;
    }
    let kept = tempfile::tempdir().unwrap();
    let dir = kept.path().to_str().unwrap().to_string();
    let mut fixture = ViewerFixture::start_with("kept", 60, 12, &["--keep-recordings", &dir]).await;
    // The relay's memory is gone: the kept file is what it has.
    fixture.relay.restart();
    let mut cast = KEPT.to_string();
    for n in 1..=60 {
        cast.push_str(&format!("[1.0, \"o\", \"tick {n}\\r\\n\"]\n"));
    }
    cast.push_str("[0.0, \"x\", \"0\"]\n");
    std::fs::write(kept.path().join(format!("{}.cast", fixture.session)), cast).unwrap();

    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.dashboard_url()).await;
    let row = format!(".kept-recordings [data-session-id='{}'] a", fixture.session);
    browser
        .wait_for_js(
            "the kept recording listed",
            &format!("return !!document.querySelector(\"{row}\");"),
            DEADLINE,
        )
        .await;
    browser.click(&row).await;
    browser
        .wait_for_js(
            "the kept recording loaded",
            "const p = window.__tetherPlayback; return p && p.duration > 0;",
            DEADLINE,
        )
        .await;
    let duration = player(&browser).await["duration"].as_f64().unwrap();
    assert!(
        (duration - 62.5).abs() < 1e-6,
        "100 s played as 2 s: {duration}"
    );

    // 1× then 16×, in virtual seconds per real second.
    browser.click("button.play").await;
    let normal = virtual_rate(&browser, 400).await;
    assert!((0.6..1.4).contains(&normal), "1×: {normal}");
    browser.click(".speed[data-speed='16']").await;
    let fast = virtual_rate(&browser, 300).await;
    assert!((11.0..21.0).contains(&fast), "16×: {fast}");
    // Pause stops the clock.
    browser.click("button.play").await;
    assert_eq!(player(&browser).await["playing"], false);
    assert_eq!(virtual_rate(&browser, 200).await, 0.0, "paused");

    // The marker: after the pause, before the ticks.
    browser.click(".timeline .marker").await;
    let at_marker = wait_playback_text(&browser, "the screen at the marker", |t| {
        t.contains("after a long pause")
    })
    .await;
    assert!(!at_marker.contains("tick 1"), "{at_marker}");
    // A click at (past) the timeline's right end: the final screen.
    browser
        .eval(
            "const bar = document.querySelector('.timeline'); const r = bar.getBoundingClientRect(); \
             bar.dispatchEvent(new MouseEvent('click', {clientX: r.right + 10, clientY: r.top + 2, bubbles: true}));",
            vec![],
        )
        .await;
    wait_playback_text(&browser, "the final screen after a seek", |t| {
        t.contains("tick 60")
    })
    .await;
    let time = player(&browser).await["time"].as_f64().unwrap();
    assert!(time > 62.0, "at the end: {time}");
    browser.screenshot("viewer-playback-kept").await;
    browser.close().await;
}

/// Waits for the timeline's first attention marker: the timeline is drawn
/// on a render after the recording has loaded.
async fn wait_for_marker(browser: &Browser) {
    browser
        .wait_for_js(
            "the timeline's marker",
            "return !!document.querySelector('.timeline .marker:not(.gap)');",
            DEADLINE,
        )
        .await;
}
