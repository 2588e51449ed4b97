//! "Needs you" in the browser, in headless Chromium against the real relay:
//! the dashboard, in a background tab, raises one notification per wait with
//! the session's name and text, and a click on it opens the session; the
//! service worker registers, the push subscription reaches the relay, the
//! relay's real push (decrypted by a local push service) shown by the
//! service worker, and turning notifications off deletes the subscription;
//! without a push service that answers, the open dashboard still notifies,
//! and where a page may not notify (Android) the service worker shows it;
//! the web app manifest and its icons load.
//!
//! Chromium's own push service (GCM) is not reachable here, so the page's
//! `PushManager` hands the viewer a subscription made by the test (the
//! local push service's endpoint and keys); everything else is real.

use protocol::{Attention, AttentionState, Control, Frame};
use serde_json::{json, Value};
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::push_service::{BrowserKeys, PushService};
use tests::wait::{eventually, DEADLINE};

/// Records every `new Notification` (in the page and in localStorage, which
/// another tab of the origin can read) and counts the session list's loads.
const RECORD_NOTIFICATIONS: &str = r#"
const Real = window.Notification;
const shown = () => JSON.parse(localStorage.getItem('test.shown') || '[]');
window.__notes = [];
function Recorded(title, options) {
  const n = new Real(title, options);
  window.__notes.push(n);
  localStorage.setItem('test.shown', JSON.stringify(shown().concat([{
    title, body: options.body, tag: options.tag, url: options.data && options.data.url,
    hidden: document.hidden,
  }])));
  return n;
}
Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
Recorded.requestPermission = (callback) => Real.requestPermission(callback);
window.Notification = Recorded;
const realFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  if (url.includes('/api/v1/agent-instances')) {
    localStorage.setItem('test.polls', String(Number(localStorage.getItem('test.polls') || 0) + 1));
  }
  return realFetch(input, init);
};
"#;

/// Stands in for Chromium's push service: `subscribe` returns the
/// subscription in `arguments[0]` and keeps the key it was given.
const FAKE_PUSH_SERVICE: &str = r#"
const made = arguments[0];
window.__sub = null;
PushManager.prototype.getSubscription = function () { return Promise.resolve(window.__sub); };
PushManager.prototype.subscribe = function (options) {
  const key = new Uint8Array(options.applicationServerKey);
  window.__serverKey = btoa(String.fromCharCode(...key))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  window.__userVisibleOnly = options.userVisibleOnly;
  window.__sub = Object.setPrototypeOf({
    endpoint: made.endpoint,
    toJSON: () => made,
    unsubscribe: () => { window.__sub = null; return Promise.resolve(true); },
  }, PushSubscription.prototype);
  return Promise.resolve(window.__sub);
};
"#;

/// Opens the dashboard signed in, lets it notify (as if the person had
/// allowed it in the prompt) and waits for the list.
async fn open_dashboard(fixture: &ViewerFixture) -> Browser {
    let browser = Browser::start(Screen::DESKTOP).await;
    let origin = fixture.relay.http_url();
    browser.goto(&fixture.dashboard_url()).await;
    let list = "return !!document.querySelector('.session') && !!document.querySelector('.notify-toggle');";
    browser
        .wait_for_js("the session list", list, DEADLINE)
        .await;
    browser
        .cdp(
            "Browser.grantPermissions",
            json!({ "origin": origin, "permissions": ["notifications"] }),
        )
        .await;
    browser
}

/// What the page shows once notifications are on.
const NOTIFY_ON: &str = "return !!document.querySelector('[data-notify=on]');";

/// Clicks the dashboard's notifications toggle and waits for `what`: until
/// `js` is true.
async fn click_toggle(browser: &Browser, what: &str, js: &str) {
    browser.click(".notify-toggle").await;
    browser.wait_for_js(what, js, DEADLINE).await;
}

/// The push subscriptions the relay keeps for the fixture's user.
async fn subscriptions(fixture: &ViewerFixture) -> Value {
    let (_, list) = fixture
        .relay
        .api("GET", "push/subscriptions", &fixture.key, None)
        .await;
    list
}

async fn report(fixture: &mut ViewerFixture, state: AttentionState, text: Option<&str>, at: u64) {
    let attention = Attention::new(state, text.map(str::to_string), Some(at));
    fixture
        .agent
        .send(&[Frame::Control(Control::Attention(attention))])
        .await;
}

/// The notifications recorded so far, read from any tab of the origin.
async fn recorded(browser: &Browser) -> Vec<Value> {
    let value = browser
        .eval(
            "return JSON.parse(localStorage.getItem('test.shown') || '[]');",
            vec![],
        )
        .await;
    serde_json::from_value(value).unwrap_or_default()
}

async fn polls(browser: &Browser) -> u64 {
    let value = browser
        .eval(
            "return Number(localStorage.getItem('test.polls') || 0);",
            vec![],
        )
        .await;
    value.as_u64().unwrap_or(0)
}

async fn wait_for_recorded(browser: &Browser, count: usize) -> Vec<Value> {
    browser
        .eventually(&format!("{count} notification(s)"), DEADLINE, async || {
            Some(recorded(browser).await).filter(|shown| shown.len() >= count)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_dashboard_notifies_once_per_wait_and_the_click_opens_the_session() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("fix tests", 80, 24).await;
    fixture.print(b"working\r\n").await;
    let browser = open_dashboard(&fixture).await;
    browser.eval(RECORD_NOTIFICATIONS, vec![]).await;
    click_toggle(&browser, "notifications on", NOTIFY_ON).await;

    // Another tab comes to the front: the dashboard is in the background.
    let client = browser.client();
    let dashboard = client.window().await.unwrap();
    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    let origin = fixture.relay.http_url();
    browser.goto(&format!("{origin}/icons/icon-192.png")).await;

    report(
        &mut fixture,
        AttentionState::Waiting,
        Some("Allow edit of main.rs?"),
        9,
    )
    .await;
    let shown = wait_for_recorded(&browser, 1).await;
    let id = fixture.session.clone();
    assert_eq!(shown[0]["title"], "fix tests", "{shown:?}");
    assert_eq!(shown[0]["body"], "Allow edit of main.rs?", "{shown:?}");
    assert_eq!(shown[0]["tag"], format!("tether-wait-{id}"), "{shown:?}");
    assert_eq!(shown[0]["hidden"], true, "raised while in the background");

    // Two more polls of the same wait: no second notification.
    let seen = polls(&browser).await;
    browser
        .eventually("two more polls", DEADLINE, async || {
            (polls(&browser).await >= seen + 2).then_some(())
        })
        .await;
    assert_eq!(
        recorded(&browser).await.len(),
        1,
        "one notification per wait"
    );

    // The agent works, then waits again: a new wait, a new notification.
    report(&mut fixture, AttentionState::Working, None, 20).await;
    report(&mut fixture, AttentionState::Waiting, Some("Push now?"), 30).await;
    let shown = wait_for_recorded(&browser, 2).await;
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(shown[1]["body"], "Push now?", "{shown:?}");

    // A click on it brings the dashboard forward on the session.
    client.switch_to_window(dashboard).await.unwrap();
    browser
        .eval(
            "window.__notes[1].dispatchEvent(new Event('click'));",
            vec![],
        )
        .await;
    browser
        .wait_for_js(
            "the session opened",
            &format!("return location.pathname === '/s/{id}' && !!window.__tether;"),
            DEADLINE,
        )
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_worker_shows_the_relays_push_and_turning_off_unsubscribes() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start_with("deploy", 80, 24, &["--push-allow-http"]).await;
    let push = PushService::start().await;
    let mut keys = BrowserKeys::new();
    let subscription = keys.subscription(&push.endpoint("/chromium"));
    let browser = open_dashboard(&fixture).await;
    browser.eval(FAKE_PUSH_SERVICE, vec![subscription]).await;
    click_toggle(
        &browser,
        "subscribed to Web Push",
        "return !!document.querySelector('[data-push=subscribed]');",
    )
    .await;

    let origin = fixture.relay.http_url();
    let registration = browser
        .eval(
            "return navigator.serviceWorker.getRegistration().then(r => r && \
             ({ scope: r.scope, script: r.active && r.active.scriptURL }));",
            vec![],
        )
        .await;
    assert_eq!(
        registration["scope"],
        format!("{origin}/"),
        "{registration}"
    );
    assert_eq!(
        registration["script"],
        format!("{origin}/sw.js"),
        "{registration}"
    );
    let (status, key) = fixture
        .relay
        .api("GET", "push/key", &fixture.key, None)
        .await;
    assert_eq!(status, 200, "{key}");
    let subscribed_with = browser
        .eval(
            "return [window.__serverKey, window.__userVisibleOnly];",
            vec![],
        )
        .await;
    assert_eq!(subscribed_with, json!([key["public_key"], true]));
    let list = subscriptions(&fixture).await;
    let list = list.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["origin"], push.origin());

    // The relay pushes the wait; the push service gets it encrypted for
    // this subscription.
    report(&mut fixture, AttentionState::Waiting, Some("Ship it?"), 4).await;
    eventually("the push", DEADLINE, async || {
        !push.requests("/chromium").is_empty()
    })
    .await;
    let message = keys.decrypt(&push.requests("/chromium")[0].body);
    let id = &fixture.session;
    let pushed: Value = serde_json::from_slice(&message).unwrap();
    assert_eq!(pushed["title"], "deploy", "{pushed}");
    assert_eq!(pushed["url"], format!("/s/{id}"), "{pushed}");

    // Delivered to the service worker, it is shown with the session's
    // name, the text and the session's link.
    // (The first registration of a fresh profile has id 0. A delivery
    // while the worker still starts can be lost: it is delivered again
    // until shown; the tag keeps it one notification.)
    browser.cdp("ServiceWorker.enable", json!({})).await;
    let data = String::from_utf8(message).unwrap();
    let notifications = "return navigator.serviceWorker.ready.then(r => r.getNotifications()).then(all => \
        all.length ? all.map(n => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url })) : null);";
    let mut checks = 0;
    let shown = browser
        .eventually("the service worker's notification", DEADLINE, async || {
            // Again after every ~20 checks (half a second or more).
            if checks % 20 == 0 {
                let deliver = json!({ "origin": origin, "registrationId": "0", "data": data });
                browser
                    .cdp("ServiceWorker.deliverPushMessage", deliver)
                    .await;
            }
            checks += 1;
            Some(browser.eval(notifications, vec![]).await).filter(|v| !v.is_null())
        })
        .await;
    assert_eq!(
        shown,
        json!([{ "title": "deploy", "body": "Ship it?", "tag": format!("tether-wait-{id}"), "url": format!("/s/{id}") }])
    );

    // Off: the relay forgets the subscription and the browser drops it.
    click_toggle(
        &browser,
        "notifications off",
        "return !!document.querySelector('[data-notify=off]') && window.__sub === null;",
    )
    .await;
    assert_eq!(subscriptions(&fixture).await, json!([]));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_and_its_icons_load() {
    if !browser::available() {
        return;
    }
    let fixture = ViewerFixture::start("home screen", 80, 24).await;
    let browser = Browser::start(Screen::PHONE).await;
    browser
        .goto(&format!("{}/", fixture.relay.http_url()))
        .await;
    let manifest = browser
        .eval(
            "const link = document.querySelector('link[rel=manifest]'); \
             return fetch(link.href).then(r => r.json().then(body => \
               ({ type: r.headers.get('content-type'), body })));",
            vec![],
        )
        .await;
    assert_eq!(manifest["type"], "application/manifest+json", "{manifest}");
    let body = &manifest["body"];
    assert_eq!(body["name"], "Tether");
    assert_eq!(body["start_url"], "/");
    assert_eq!(body["display"], "standalone");
    let icons = body["icons"].as_array().cloned().unwrap_or_default();
    let purposes: Vec<_> = icons
        .iter()
        .map(|i| (i["sizes"].clone(), i["purpose"].clone()))
        .collect();
    assert_eq!(
        purposes,
        [
            (json!("192x192"), json!("any")),
            (json!("512x512"), json!("any")),
            (json!("512x512"), json!("maskable")),
        ]
    );
    for icon in icons {
        let size = browser
            .eval(
                "return new Promise((done, fail) => { const img = new Image(); \
                 img.onload = () => done(img.naturalWidth + 'x' + img.naturalHeight); \
                 img.onerror = () => fail(new Error('no image')); img.src = arguments[0]; });",
                vec![icon["src"].clone()],
            )
            .await;
        assert_eq!(size, icon["sizes"], "{icon}");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_reachable_push_service_the_open_dashboard_still_notifies() {
    if !browser::available() {
        return;
    }
    // Chromium's real PushManager: its push service (GCM) is not reachable
    // here and never answers.
    let mut fixture = ViewerFixture::start_with("offline", 80, 24, &["--push-allow-http"]).await;
    let browser = open_dashboard(&fixture).await;
    browser.eval(RECORD_NOTIFICATIONS, vec![]).await;
    click_toggle(&browser, "notifications on at once", NOTIFY_ON).await;
    report(
        &mut fixture,
        AttentionState::Waiting,
        Some("Still here?"),
        3,
    )
    .await;
    let shown = wait_for_recorded(&browser, 1).await;
    assert_eq!(shown[0]["body"], "Still here?", "{shown:?}");
    let said = browser
        .wait_for_js(
            "Web Push given up with a reason",
            "const e = document.querySelector('[data-push=off]'); return e && e.textContent;",
            DEADLINE,
        )
        .await;
    assert!(
        said.as_str()
            .is_some_and(|s| s.contains("push service does not answer")),
        "{said}"
    );
    assert_eq!(subscriptions(&fixture).await, json!([]));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_pages_may_not_notify_the_service_worker_shows_the_dashboards_alert() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("android", 80, 24).await;
    let browser = open_dashboard(&fixture).await;
    // As on Chrome for Android: `new Notification` is refused.
    browser
        .eval(
            "const Real = window.Notification; \
             function Refused() { throw new TypeError('Illegal constructor'); } \
             Object.defineProperty(Refused, 'permission', { get: () => Real.permission }); \
             Refused.requestPermission = (callback) => Real.requestPermission(callback); \
             window.Notification = Refused;",
            vec![],
        )
        .await;
    click_toggle(&browser, "notifications on", NOTIFY_ON).await;
    report(&mut fixture, AttentionState::Waiting, Some("Merge?"), 2).await;
    let id = &fixture.session;
    let shown = browser
        .wait_for_js(
            "the notification through the service worker",
            "return navigator.serviceWorker.getRegistration().then(r => r ? r.getNotifications() : []) \
             .then(all => all.length ? all.map(n => ({ title: n.title, body: n.body, url: n.data.url })) : null);",
            DEADLINE,
        )
        .await;
    assert_eq!(
        shown,
        json!([{ "title": "android", "body": "Merge?", "url": format!("/s/{id}") }])
    );
    browser.close().await;
}
