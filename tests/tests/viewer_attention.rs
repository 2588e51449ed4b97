//! The dashboard's "waiting for you": in headless Chromium against the real
//! relay, a session whose agent reports `waiting` shows a badge with the
//! notification's text and is listed first; the badge goes when the agent
//! works again. (The real `tether`'s side of it: `wrapper_attention.rs`.)

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
    browser
        .goto(&format!(
            "{}/#key={}",
            fixture.relay.http_url(),
            fixture.key
        ))
        .await;
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
