//! The whole chain with real parts: `tether` runs a shell in a real PTY, the
//! real `tether-relay` streams it, and the viewer in headless Chromium shows
//! it, types into it, and reports the agent's exit status.

use tests::browser::{self, Browser, Screen};
use tests::relay::RelayProcess;
use tests::wait::DEADLINE;
use tests::wrapper::TetherCommand;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_tether_session_is_watched_and_typed_into_from_the_browser() {
    if !browser::available() {
        return;
    }
    let dist = browser::dist_dir();
    let relay = RelayProcess::start_with(&["--static-dir", dist.to_str().expect("utf-8 path")]);
    let home = tempfile::tempdir().expect("temp home");
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
        .args(["--command", "sh", "--name", "real shell", "--", "-c"])
        .args(["echo ready-for-input; read line; echo \"got:$line\"; exit 3"])
        .spawn();
    let id = tether.session_id(DEADLINE);

    let browser = Browser::start(Screen::DESKTOP).await;
    browser
        .goto(&format!(
            "{}/s/{id}#key={}",
            relay.http_url(),
            relay.api_key()
        ))
        .await;
    browser.wait_for_text("ready-for-input").await;
    browser.wait_for_state("live").await;
    let title = browser.eval("return document.title;", vec![]).await;
    assert_eq!(title, "real shell · Tether");
    // No local terminal (tether's stdin is a pipe): the session takes the
    // size of the browser's screen by itself, at the normal font size.
    browser
        .wait_for_js(
            "the session at the screen's size",
            "const h = window.__tether; return h.cols > 80 && h.rows > 24 && h.fontSize === 14;",
            DEADLINE,
        )
        .await;

    // Enter as the WebDriver key, so xterm sees a real Enter keydown.
    browser.type_keys("hello from chromium\u{E007}").await;
    let text = browser.wait_for_text("got:hello from chromium").await;
    assert!(text.contains("hello from chromium"), "{text}");

    assert_eq!(tether.wait(DEADLINE).code(), Some(3));
    browser.wait_for_state("ended").await;
    let badge = browser.state_badge().await;
    assert_eq!(badge, "ended (exit 3)");
    browser.screenshot("viewer-real-tether-session").await;
    browser.close().await;
}
