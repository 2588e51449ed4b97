//! A terminal page opens its link from `index.html`, before the viewer's
//! wasm has loaded, and the viewer takes that socket over with what it
//! received meanwhile (viewer-wasm/src/link/early.rs): in headless Chromium
//! against the real relay, for an API key in the link, a stored key, a raw
//! replay and a share token; and not when the link's key would replace a
//! different stored key, which the viewer asks about first.

use protocol::Role;
use serde_json::Value;
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

const NAME: &str = "early link";

/// Waits for the joined screen and returns the viewer's hook.
async fn joined(browser: &Browser) -> Value {
    browser.wait_for_state("live").await;
    browser
        .wait_for_replay_end("the joined screen", DEADLINE)
        .await;
    browser.hook().await
}

/// Whether the page's early socket is still waiting to be taken.
async fn early_link_left(browser: &Browser) -> bool {
    browser
        .eval("return window.__tetherEarlyLink !== undefined;", vec![])
        .await
        .as_bool()
        .expect("a boolean")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_joins_on_the_socket_the_page_opened_before_it_loaded() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture
        .print(b"history before the page\r\n\x1b[1mstill there\x1b[0m\r\n")
        .await;
    let browser = Browser::start(Screen::DESKTOP).await;

    // A key in the link: one socket, opened by the page, joined by snapshot.
    browser.goto(&fixture.terminal_url()).await;
    let hook = joined(&browser).await;
    assert_eq!(hook["earlyLink"], true, "{hook}");
    assert_eq!(hook["connects"], 1, "{hook}");
    assert_eq!(hook["snapshots"], 1, "{hook}");
    assert_eq!(hook["role"], "read-write", "{hook}");
    assert!(!early_link_left(&browser).await);
    let text = browser.wait_for_text("still there").await;
    assert!(text.contains("history before the page"), "{text}");
    // Both ways work on the taken-over socket.
    fixture.print(b"live after the join\r\n").await;
    browser.wait_for_text("live after the join").await;
    browser.type_keys("ok").await;
    fixture.agent_receives(b"ok").await;

    // The stored key (the link's fragment is gone) and a raw replay.
    let raw = format!(
        "{}/s/{}?history=raw",
        fixture.relay.http_url(),
        fixture.session
    );
    browser.goto(&raw).await;
    let hook = joined(&browser).await;
    assert_eq!(hook["earlyLink"], true, "{hook}");
    assert_eq!(hook["snapshots"], 0, "raw replay: {hook}");
    browser.wait_for_text("live after the join").await;

    // A share token wins over the stored key, as in the viewer.
    browser.goto(&fixture.share_url(Role::ReadOnly).await).await;
    let hook = joined(&browser).await;
    assert_eq!(hook["earlyLink"], true, "{hook}");
    assert_eq!(hook["role"], "read-only", "{hook}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_whose_key_would_replace_the_stored_one_waits_for_the_question() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start(NAME, 80, 24).await;
    fixture.print(b"the owner's session\r\n").await;
    let other = fixture.relay.create_key("mallory");
    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.terminal_url()).await; // stores the owner's key
    joined(&browser).await;

    // Another key in the link: the page opens nothing, the viewer asks;
    // kept, the stored key joins on a socket of the viewer's own.
    let url = format!(
        "{}/s/{}?again#key={other}",
        fixture.relay.http_url(),
        fixture.session
    );
    let asked = browser.goto_expecting_question(&url).await;
    assert!(asked.contains("different API key"), "{asked}");
    browser.client().dismiss_alert().await.unwrap();
    let hook = joined(&browser).await;
    assert_eq!(hook["earlyLink"], false, "{hook}");
    assert_eq!(hook["role"], "read-write", "{hook}");
    browser.wait_for_text("the owner's session").await;
    browser.close().await;
}
