//! Reading a wide session on a phone, in headless Chromium with touch
//! emulation against the real relay: the grid fits the width by default, a
//! double tap toggles 1:1 (the terminal pans), a pinch zooms, landscape uses
//! the width, and none of it changes the session's size.

use std::time::Duration;

use protocol::Frame;
use serde_json::Value;
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::relay::Event;
use tests::wait::DEADLINE;

/// Helpers, defined in the page, that dispatch touch events on the terminal
/// as a finger would: `tap(x, y)` and `pinch(from, to)` (finger distances).
const TOUCH: &str = r#"
const host = document.querySelector('.term-host');
const r = host.getBoundingClientRect();
const at = (id, x, y) => new Touch({identifier: id, target: host,
    clientX: r.left + x, clientY: r.top + y});
const fire = (type, touches, changed) => host.dispatchEvent(new TouchEvent(type,
    {touches, targetTouches: touches, changedTouches: changed, bubbles: true, cancelable: true}));
window.tap = (x, y) => { const t = at(1, x, y); fire('touchstart', [t], [t]); fire('touchend', [], [t]); };
window.pinch = (from, to) => {
  const c = 150;
  let a = at(1, c - from / 2, 100), b = at(2, c + from / 2, 100);
  fire('touchstart', [a, b], [a, b]);
  a = at(1, c - to / 2, 100); b = at(2, c + to / 2, 100);
  fire('touchmove', [a, b], [a, b]);
  const during = document.querySelector('.term-host .xterm').style.transform;
  fire('touchend', [], [a, b]);
  return during;
};
"#;

async fn hook_number(browser: &Browser, name: &str) -> f64 {
    browser.hook().await[name].as_f64().unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_zooms_and_pans_a_wide_session_without_resizing_it() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e zoom", 100, 30).await;
    fixture
        .print(b"a desktop session one hundred columns wide\r\n")
        .await;
    let phone = Screen::Phone {
        width: 390,
        height: 844,
    };
    let browser = Browser::open_live(phone, &fixture.terminal_url()).await;
    browser.wait_for_text("one hundred columns").await;
    browser.eval(TOUCH, vec![]).await;

    // Fit width: every column on screen, at a small font.
    let hook = browser.hook().await;
    assert_eq!(hook["zoom"], "fit", "{hook}");
    let fitted = hook["fontSize"].as_f64().unwrap_or(0.0);
    assert!(
        fitted < 14.0,
        "a 100-column grid fits 390 px only small: {hook}"
    );
    let pannable = "const h = document.querySelector('.term-host'); return h.scrollWidth > h.clientWidth + 20;";

    // Double tap: 1:1, and the terminal pans sideways instead.
    browser.eval("tap(100, 100); tap(102, 101);", vec![]).await;
    browser
        .wait_for_js(
            "1:1 after a double tap",
            "return window.__tether.zoom === 'manual' && window.__tether.fontSize === 14;",
            DEADLINE,
        )
        .await;
    assert_eq!(browser.eval(pannable, vec![]).await, Value::Bool(true));
    let panned = browser
        .eval(
            "const h = document.querySelector('.term-host'); h.scrollLeft = 200; return h.scrollLeft;",
            vec![],
        )
        .await;
    assert!(panned.as_f64() > Some(0.0), "the terminal pans: {panned}");
    browser.screenshot("viewer-zoom-one-to-one").await;

    // A second double tap fits the width again.
    browser.eval("tap(100, 100); tap(100, 100);", vec![]).await;
    browser
        .wait_for_js(
            "fit width after a second double tap",
            &format!(
                "return window.__tether.zoom === 'fit' && window.__tether.fontSize === {fitted};"
            ),
            DEADLINE,
        )
        .await;

    // A pinch: scaled while the fingers move, then drawn at that size.
    let during = browser.eval("return pinch(100, 150);", vec![]).await;
    assert!(
        during.as_str().is_some_and(|t| t.contains("scale(1.5")),
        "a CSS scale while pinching: {during}"
    );
    let want = ((fitted * 1.5) * 4.0).round() / 4.0;
    browser
        .wait_for_js(
            "the pinched font size",
            &format!(
                "return window.__tether.zoom === 'manual' && window.__tether.fontSize === {want};"
            ),
            DEADLINE,
        )
        .await;
    let transform = browser
        .eval(
            "return document.querySelector('.term-host .xterm').style.transform;",
            vec![],
        )
        .await;
    assert_eq!(transform, "", "no scale left once the fingers lift");

    // None of it touched the session's size.
    assert_eq!(hook_number(&browser, "cols").await, 100.0);
    assert_eq!(hook_number(&browser, "rows").await, 30.0);
    browser.close().await;
    // Nothing the phone did reached the agent: no RESIZE, no INPUT.
    while let Some(event) = fixture
        .agent
        .socket
        .next_event_within(Duration::from_millis(300))
        .await
    {
        assert!(
            !matches!(event, Event::Frame(Frame::Resize(_) | Frame::Input(_))),
            "zooming sends nothing to the agent: {event:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn landscape_uses_the_width() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e landscape", 100, 30).await;
    fixture.print(b"turned on its side\r\n").await;
    let mut fonts = Vec::new();
    for (width, height) in [(390, 844), (844, 390)] {
        let browser =
            Browser::open_live(Screen::Phone { width, height }, &fixture.terminal_url()).await;
        browser.wait_for_text("on its side").await;
        fonts.push(hook_number(&browser, "fontSize").await);
        browser
            .screenshot(&format!("viewer-zoom-{width}x{height}"))
            .await;
        browser.close().await;
    }
    assert!(
        fonts[1] > fonts[0] * 1.5,
        "landscape draws the same grid larger: {fonts:?}"
    );
}
