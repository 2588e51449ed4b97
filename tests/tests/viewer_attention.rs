//! The dashboard's "waiting for you": in headless Chromium against the real
//! relay, a session whose agent reports `waiting` shows a badge with the
//! notification's text and is listed first; the badge goes when the agent
//! works again; the session page shows the wait too, until the agent works.
//! (The real `tether`'s side of it: `wrapper_attention.rs`.)

use protocol::{Attention, AttentionState, Control, Frame};
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_session_has_a_badge_with_its_text_and_comes_first() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("needs you", 80, 24).await;
    fixture.print(b"working on it\r\n").await;
    let report = |state, text: Option<&str>, offset| {
        Frame::Control(Control::Attention(Attention::new(
            state,
            text.map(str::to_string),
            Some(offset),
        )))
    };
    fixture
        .agent
        .send(&[report(
            AttentionState::Waiting,
            Some("Allow edit of main.rs?"),
            15,
        )])
        .await;
    // A newer session, not waiting: the waiting one still comes first.
    let newer = fixture.relay.register_session(&fixture.key, "codex");

    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.dashboard_url()).await;
    let badge = format!(
        "const b = document.querySelector(\".session[data-session-id='{}'] .attention-waiting\"); \
         return !!b && b.textContent.includes('waiting for you') && b.textContent.includes('Allow edit of main.rs?');",
        fixture.session
    );
    browser
        .wait_for_js("the waiting badge with its text", &badge, DEADLINE)
        .await;
    let order = format!(
        "const rows = [...document.querySelectorAll('.session')].map(r => r.dataset.sessionId); \
         return rows.length == 2 && rows[0] == '{}' && rows[1] == '{newer}';",
        fixture.session
    );
    browser
        .wait_for_js("the waiting session first", &order, DEADLINE)
        .await;
    browser.screenshot("viewer-waiting-badge").await;

    fixture
        .agent
        .send(&[report(AttentionState::Working, None, 20)])
        .await;
    let gone = format!(
        "const row = document.querySelector(\".session[data-session-id='{}']\"); \
         return !!row && !row.querySelector('.attention-waiting');",
        fixture.session
    );
    browser
        .wait_for_js("the badge gone once the agent works", &gone, DEADLINE)
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_page_shows_the_wait_with_its_text_until_the_agent_works() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("needs you", 80, 24).await;
    fixture.print(b"thinking\r\n").await;
    let browser = Browser::start(Screen::PHONE).await;
    browser.goto(&fixture.terminal_url()).await;
    browser.wait_for_text("thinking").await;
    let banner = "const b = document.querySelector('.attention-banner'); \
                  return b ? b.textContent : null;";
    assert_eq!(browser.eval(banner, vec![]).await, serde_json::Value::Null);

    let wait = Attention::new(
        AttentionState::Waiting,
        Some("Run cargo test?".into()),
        Some(10),
    );
    fixture
        .agent
        .send(&[Frame::Control(Control::Attention(wait))])
        .await;
    let shown = browser
        .wait_for_js("the waiting banner", banner, DEADLINE)
        .await;
    let shown = shown.as_str().unwrap_or_default();
    assert!(
        shown.contains("waiting for you") && shown.contains("Run cargo test?"),
        "{shown}"
    );
    browser
        .wait_for_js(
            "the tab's title says so",
            "return document.title.startsWith('(waiting) needs you');",
            DEADLINE,
        )
        .await;
    browser.screenshot("viewer-session-waiting").await;

    // A viewer that joins later is told at once.
    let second = Browser::start(Screen::DESKTOP).await;
    second.goto(&fixture.terminal_url()).await;
    second
        .wait_for_js("the wait shown on joining", banner, DEADLINE)
        .await;
    second.close().await;

    let working = Attention::new(AttentionState::Working, None, Some(12));
    fixture
        .agent
        .send(&[Frame::Control(Control::Attention(working))])
        .await;
    fixture.print(b"running\r\n").await;
    browser
        .wait_for_js(
            "the banner gone once the agent works",
            "return !document.querySelector('.attention-banner') && !document.title.startsWith('(waiting)');",
            DEADLINE,
        )
        .await;
    browser.close().await;
}
