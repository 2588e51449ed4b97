//! The browser viewer's pages and controls in headless Chromium against the
//! real relay: the phone key bar and scaling at 375×667, a read-only share
//! link, "fit session to this screen" (and a session without a local
//! terminal taking the joining screen's size), and the session list.

use std::time::Duration;

use protocol::{Frame, Metadata, Role};
use serde_json::json;
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_scales_a_wide_session_and_its_key_bar_types() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e phone", 120, 40).await;
    fixture
        .print(b"a wide desktop session, 120 columns\r\n")
        .await;
    let browser = Browser::open_live(Screen::PHONE, &fixture.terminal_url()).await;
    browser.wait_for_text("120 columns").await;

    // The session keeps its size; the phone scales it down instead.
    let hook = browser.hook().await;
    assert_eq!(
        (hook["cols"].as_u64(), hook["rows"].as_u64()),
        (Some(120), Some(40)),
        "{hook}"
    );
    let font = hook["fontSize"].as_f64().unwrap_or(0.0);
    assert!((6.0..14.0).contains(&font), "font size {font}");
    let page_width = browser
        .eval("return document.documentElement.scrollWidth;", vec![])
        .await;
    assert!(
        page_width.as_u64() <= Some(375),
        "the page itself never scrolls sideways: {page_width}"
    );

    assert!(browser.is_visible(".key-bar").await, "key bar on a phone");
    browser.click(".key-bar [data-key='ctrl-c']").await;
    fixture.agent_receives(b"\x03").await;
    browser.click(".key-bar [data-key='up']").await;
    fixture.agent_receives(b"\x1b[A").await;
    browser.click(".key-bar [data-key='escape']").await;
    browser.click(".key-bar [data-key='tab']").await;
    browser.click(".key-bar [data-key='enter']").await;
    fixture.agent_receives(b"\x1b\t\r").await;
    // Ctrl is sticky: it applies to the next typed key.
    browser.click(".key-bar [data-key='ctrl']").await;
    browser.type_keys("d").await;
    fixture.agent_receives(b"\x04").await;
    browser.screenshot("viewer-phone-375x667").await;

    // Fit to screen asks for what the phone holds at the normal font size.
    browser.click("button.fit").await;
    let (cols, rows) = fixture.agent_resize_request().await;
    assert!(
        (30..60).contains(&cols) && rows >= 10,
        "a phone-sized request: {cols}×{rows}"
    );
    fixture.resize(cols, rows).await;
    let fits = format!(
        "return window.__tether.cols === {cols} && window.__tether.fontSize === 14 && \
         document.querySelector('.term-host').scrollWidth <= document.querySelector('.term-host').clientWidth;"
    );
    browser
        .wait_for_js("the phone-sized session at full font", &fits, DEADLINE)
        .await;
    browser.screenshot("viewer-phone-fitted").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_share_link_watches_but_cannot_type() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e shared", 80, 24).await;
    fixture.print(b"shared screen\r\n").await;
    let url = fixture.share_url(Role::ReadOnly).await;
    let browser = Browser::open_live(Screen::DESKTOP, &url).await;
    browser.wait_for_text("shared screen").await;
    let hook = browser.hook().await;
    assert_eq!(hook["role"], "read-only", "{hook}");
    assert!(
        browser.is_visible("[data-role='read-only']").await,
        "read-only is shown"
    );
    assert!(!browser.is_visible("button.fit").await, "no resize control");

    browser.type_keys("rm -rf /\n").await;
    let typed = fixture.agent_input_within(Duration::from_millis(700)).await;
    assert!(typed.is_empty(), "a read-only viewer typed {typed:?}");

    fixture.print(b"still watching\r\n").await;
    browser.wait_for_text("still watching").await;
    browser.screenshot("viewer-read-only-share").await;

    // A read-write link to the same session may type.
    let url = fixture.share_url(Role::ReadWrite).await;
    browser.goto(&url).await;
    browser.wait_for_text("still watching").await;
    browser.wait_for_state("live").await;
    assert_eq!(browser.hook().await["role"], "read-write");
    browser.type_keys("ok").await;
    fixture.agent_receives(b"ok").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fit_session_to_this_screen_requests_the_screen_size() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e fit", 80, 24).await;
    fixture.print(b"fit me\r\n").await;
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("fit me").await;

    browser.click("button.fit").await;
    let (cols, rows) = fixture.agent_resize_request().await;
    assert!(
        cols > 80 && rows > 24,
        "a 1280×800 window holds more than 80×24: {cols}×{rows}"
    );
    // The wrapper applies it; the viewer follows the session's new size.
    fixture.resize(cols, rows).await;
    let script =
        format!("return window.__tether.cols === {cols} && window.__tether.rows === {rows};");
    browser
        .wait_for_js("the new session size", &script, DEADLINE)
        .await;
    browser.screenshot("viewer-fit-to-screen").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_list_stays_current_and_opens_a_terminal() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e list", 80, 24).await;
    fixture.print(b"listed session output\r\n").await;
    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.dashboard_url()).await;
    let row = format!(".session[data-session-id='{}']", fixture.session);
    let live = format!(
        "const row = document.querySelector(\"{row}\"); return row && row.textContent.includes('live');"
    );
    browser
        .wait_for_js("the live session in the list", &live, DEADLINE)
        .await;
    // The key left the address bar and stays in this browser.
    let url = browser.eval("return location.href;", vec![]).await;
    assert!(!url.as_str().unwrap_or("").contains(&fixture.key), "{url}");

    // A new session appears without a reload.
    let second = fixture.relay.register_session(&fixture.key, "codex");
    let appears =
        format!("return !!document.querySelector(\".session[data-session-id='{second}']\");");
    browser
        .wait_for_js("the new session in the list", &appears, DEADLINE)
        .await;
    browser.screenshot("viewer-session-list").await;

    // The stored key opens the terminal.
    browser.click(&format!("{row} a")).await;
    browser.wait_for_text("listed session output").await;
    browser.wait_for_state("live").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_shown_and_can_be_replaced() {
    if !browser::available() {
        return;
    }
    let fixture = ViewerFixture::start("e2e refused", 80, 24).await;
    let browser = Browser::start(Screen::DESKTOP).await;
    let url = format!(
        "{}/s/{}#key=not-a-key",
        fixture.relay.http_url(),
        fixture.session
    );
    browser.goto(&url).await;
    browser.wait_for_state("refused").await;
    assert!(
        browser.is_visible(".notice .link-button").await,
        "a way to sign in again"
    );
    let hook = browser.hook().await;
    // The relay accepts the upgrade, then closes with 1008: one open, no retry.
    assert_eq!(hook["connects"], 1, "{hook}");
    browser.screenshot("viewer-refused-key").await;

    // Signing in with the right key opens the session.
    browser.click(".notice .link-button").await;
    browser
        .wait_for_js(
            "the key form",
            "return !!document.querySelector('#api-key');",
            DEADLINE,
        )
        .await;
    let field = browser
        .client()
        .find(fantoccini::Locator::Css("#api-key"))
        .await
        .expect("key field");
    field.send_keys(&fixture.key).await.expect("type the key");
    browser.click(".key-form button[type='submit']").await;
    browser.wait_for_state("live").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_log_shows_beside_the_terminal() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e messages", 80, 24).await;
    fixture.print(b"with messages\r\n").await;
    let body = json!({
        "agent_instance_id": fixture.session,
        "content": "Which file should I fix first?",
        "requires_user_input": true,
    });
    let (status, reply) = fixture
        .relay
        .api("POST", "messages/agent", &fixture.key, Some(&body))
        .await;
    assert!(status == 200 || status == 201, "{status} {reply}");

    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.terminal_url()).await;
    browser.wait_for_text("with messages").await;
    browser.click("button.messages-toggle").await;
    let shown = "const log = document.querySelector('.message-log'); \
                 return !!log && log.textContent.includes('Which file should I fix first?');";
    browser
        .wait_for_js("the message in the log", shown, DEADLINE)
        .await;
    assert!(browser.is_visible(".message.needs-input").await);
    // The terminal stays usable beside it.
    browser.wait_for_state("live").await;
    browser.screenshot("viewer-message-log").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_keyboard_and_ime_text_reaches_the_agent() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e ime", 80, 24).await;
    fixture.print(b"type here\r\n").await;
    let browser = Browser::open_live(Screen::PHONE, &fixture.terminal_url()).await;
    browser.wait_for_text("type here").await;
    browser
        .wait_for_replay_end("the end of the replay", DEADLINE)
        .await;

    // A soft keyboard inserts text without key events.
    browser
        .eval(
            "const t = document.querySelector('.xterm-helper-textarea'); t.focus(); \
             document.execCommand('insertText', false, 'swipe');",
            vec![],
        )
        .await;
    fixture.agent_receives(b"swipe").await;

    // An IME composes, then commits the text.
    browser
        .eval(
            "const t = document.querySelector('.xterm-helper-textarea'); t.focus(); \
             t.dispatchEvent(new CompositionEvent('compositionstart', { data: '' })); \
             t.value += 'にほん'; \
             t.dispatchEvent(new CompositionEvent('compositionupdate', { data: 'にほん' })); \
             t.dispatchEvent(new CompositionEvent('compositionend', { data: '日本' })); \
             t.value = t.value.slice(0, -3) + '日本';",
            vec![],
        )
        .await;
    fixture.agent_receives("日本".as_bytes()).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_local_terminal_a_joining_viewer_asks_for_its_screen_size() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e headless", 80, 24).await;
    let metadata = Metadata {
        agent: "claude".into(),
        local_terminal: Some(false),
        ..Default::default()
    };
    fixture.agent.send(&[Frame::Metadata(metadata)]).await;
    fixture.print(b"nobody at the desk\r\n").await;
    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&fixture.terminal_url()).await;
    browser.wait_for_text("nobody at the desk").await;
    // Measured once the joined screen is on the page: this screen's size.
    let (cols, rows) = fixture.agent_resize_request().await;
    assert!(
        cols > 80 && rows > 24,
        "a 1280×800 window holds more than 80×24: {cols}×{rows}"
    );
    browser.close().await;
}
