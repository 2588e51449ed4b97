//! What the relay does for browsers on the open internet: security headers
//! and a Content-Security-Policy on the viewer (which still runs in
//! Chromium, and cannot be framed), the Origin check of WebSocket upgrades,
//! a 101 answer that never carries the key, and a `#key=` link that asks
//! before replacing a different stored key.

use std::path::Path;

use serde_json::Value;
use tests::browser::{self, dist_dir, Browser, Screen, ViewerFixture};
use tests::relay::{fetch, ws_connect, Connect, RelayProcess, SessionFixture};
use tests::wait::{poll, DEADLINE};

/// The CSP hash source of `{"imports": {"xterm": "/xterm.mjs"}}`.
const IMPORT_MAP_HASH: &str = "'sha256-s2ki+oGds8aS4Al808IjbvHaWNW+BXgi3+0jsegTEm8='";
/// … and of `{"imports": {"xterm": "/xterm-2.mjs"}}`.
const REBUILT_IMPORT_MAP_HASH: &str = "'sha256-1wULt+Vn2zpxj7zsOZUicdhjgG+P1LIU/GhTpb+OSyg='";

fn write_index(dir: &Path, import: &str) {
    let html = format!(
        "<!doctype html><html><head>\
         <script type=\"importmap\">{{\"imports\": {{\"xterm\": \"{import}\"}}}}</script>\
         <script type=\"module\" src=\"/app.js\"></script></head><body></body></html>"
    );
    std::fs::write(dir.join("index.html"), html).unwrap();
}

#[tokio::test]
async fn the_viewers_files_carry_security_headers_and_a_csp_naming_the_import_map() {
    let dist = tempfile::tempdir().unwrap();
    write_index(dist.path(), "/xterm.mjs");
    std::fs::write(dist.path().join("xterm.mjs"), "export {}").unwrap();
    let relay = RelayProcess::start_with(&["--static-dir", dist.path().to_str().unwrap()]);
    let base = relay.http_url();
    for path in ["/", "/s/00000000-0000-4000-8000-000000000000", "/xterm.mjs"] {
        let reply = fetch("GET", &format!("{base}{path}"), None, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let scripts = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src "))
            .unwrap_or_else(|| panic!("script-src in {csp}"));
        assert_eq!(
            scripts,
            format!("script-src 'self' 'wasm-unsafe-eval' {IMPORT_MAP_HASH}"),
            "only the relay's files, WebAssembly and the import map"
        );
        assert!(csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"));
    }
    // A rebuilt viewer's import map is allowed as it is now.
    write_index(dist.path(), "/xterm-2.mjs");
    let csp = fetch("GET", &format!("{base}/"), None, None).await;
    let csp = csp.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains(REBUILT_IMPORT_MAP_HASH), "{csp}");
    assert!(!csp.contains(IMPORT_MAP_HASH), "{csp}");
}

/// A copy of the built viewer with one more page, `frame.html`, that frames
/// the dashboard from the relay's own origin.
fn viewer_with_a_framing_page() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dist_dir()).expect("dist/") {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
        }
    }
    let frame = "<!doctype html><title>frame</title><iframe id=\"framed\" src=\"/\"></iframe>";
    std::fs::write(copy.path().join("frame.html"), frame).unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_runs_under_its_csp_and_no_page_can_frame_it() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("csp", 80, 24).await;
    fixture.print(b"rendered under the policy\r\n").await;
    // xterm.js came through the import map, the app through trunk's inline
    // loader, the terminal through the WebSocket: all allowed.
    let browser = Browser::open_live(Screen::DESKTOP, &fixture.terminal_url()).await;
    browser.wait_for_text("rendered under the policy").await;

    let site = viewer_with_a_framing_page();
    let relay = RelayProcess::start_with(&["--static-dir", site.path().to_str().unwrap()]);
    browser
        .goto(&format!("{}/frame.html", relay.http_url()))
        .await;
    // Framed, the dashboard would be a same-origin document; refused, the
    // frame holds the browser's error page, which the parent cannot read.
    let framed = poll(DEADLINE, async || {
        let state = browser
            .eval(
                "const f = document.getElementById('framed'); \
                 if (!f) return null; \
                 let d; try { d = f.contentDocument; } catch (e) { return 'refused'; } \
                 if (d === null) return 'refused'; \
                 if (d.location.href !== 'about:blank' && d.readyState === 'complete') return 'framed'; \
                 return null;",
                vec![],
            )
            .await;
        state.as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(framed.as_deref(), Some("refused"));
    browser.close().await;
}

/// Opens a viewer link of `session` presenting itself as `how`; the
/// subprotocol echoed, or the error.
async fn upgrade(
    relay: &RelayProcess,
    session: &str,
    how: &Connect,
) -> Result<Option<String>, String> {
    let url = format!("{}/terminal/{session}", relay.ws_url());
    ws_connect(&url, how).await.map(|(_, echoed)| echoed)
}

fn viewer(key: &str, origin: Option<&str>) -> Connect {
    Connect {
        subprotocol_key: Some(key.to_string()),
        tether: true,
        origin: origin.map(str::to_string),
        ..Default::default()
    }
}

#[tokio::test]
async fn websocket_upgrades_from_other_origins_are_refused() {
    let fx = SessionFixture::start(&["--allowed-origin", "https://dash.example.com"]);
    let own = fx.relay.http_url();
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let refused = upgrade(&fx.relay, &fx.session, &viewer(&fx.key, Some(origin))).await;
        let error = refused.expect_err(origin);
        assert!(error.contains("403"), "{origin}: {error}");
    }
    for origin in [Some(own.as_str()), Some("https://dash.example.com"), None] {
        let accepted = upgrade(&fx.relay, &fx.session, &viewer(&fx.key, origin)).await;
        assert!(accepted.is_ok(), "{origin:?}: {accepted:?}");
    }
    // The agent's link is checked the same way.
    let agent = Connect {
        header_key: Some(fx.key.clone()),
        tether: true,
        origin: Some("http://evil.example".into()),
        ..Default::default()
    };
    let url = format!("{}/agent?session_id={}", fx.relay.ws_url(), fx.session);
    let error = ws_connect(&url, &agent)
        .await
        .map(drop)
        .expect_err("refused");
    assert!(error.contains("403"), "{error}");
    fx.connect_agent().await;
}

#[tokio::test]
async fn the_upgrade_answer_echoes_tether_v1_never_the_key_when_offered_both() {
    let fx = SessionFixture::start(&[]);
    let both = Connect {
        tether_subprotocol: true,
        ..viewer(&fx.key, None)
    };
    let echoed = upgrade(&fx.relay, &fx.session, &both).await.unwrap();
    assert_eq!(echoed.as_deref(), Some("tether.v1"));
    // A legacy client that offers only its key still gets it back (browsers
    // fail a handshake whose answer names none of the offered ones).
    let legacy = Connect {
        tether: false,
        ..viewer(&fx.key, None)
    };
    let echoed = upgrade(&fx.relay, &fx.session, &legacy).await.unwrap();
    assert_eq!(echoed, Some(format!("omnara-key.{}", fx.key)));
}

/// The key the viewer keeps in localStorage (gloo stores it as JSON).
async fn stored_key(browser: &Browser) -> Option<String> {
    let value = browser
        .eval("return localStorage.getItem('tether.api_key');", vec![])
        .await;
    let json = value.as_str()?;
    serde_json::from_str::<Value>(json)
        .ok()?
        .as_str()
        .map(str::to_owned)
}

/// Opens `url` and waits until the signed-in session list shows, asking
/// nothing.
async fn open_expecting_no_question(browser: &Browser, url: &str) {
    browser.goto(url).await;
    browser
        .wait_for_js(
            "the signed-in session list",
            "return !!document.querySelector('.list-header');",
            DEADLINE,
        )
        .await;
    assert!(
        browser.client().get_alert_text().await.is_err(),
        "nothing asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_link_asks_before_replacing_a_different_stored_key() {
    if !browser::available() {
        return;
    }
    let dist = dist_dir();
    let relay = RelayProcess::start_with(&["--static-dir", dist.to_str().unwrap()]);
    let mine = relay.api_key();
    let theirs = relay.create_key("mallory");
    let base = relay.http_url();
    let browser = Browser::start(Screen::DESKTOP).await;

    // The first key is simply kept (and leaves the address bar).
    open_expecting_no_question(&browser, &format!("{base}/#key={mine}")).await;
    assert_eq!(stored_key(&browser).await.as_deref(), Some(mine.as_str()));
    assert!(!browser
        .client()
        .current_url()
        .await
        .unwrap()
        .as_str()
        .contains(&mine));

    // A link with another key asks; dismissed, the stored key stays.
    let asked = browser
        .goto_expecting_question(&format!("{base}/?again#key={theirs}"))
        .await;
    assert!(asked.contains("different API key"), "{asked}");
    browser.client().dismiss_alert().await.unwrap();
    let kept = poll(DEADLINE, async || {
        Some(stored_key(&browser).await).filter(|k| k.as_deref() == Some(mine.as_str()))
    })
    .await;
    assert!(kept.is_some(), "dismissed: the stored key is kept");

    // Accepted, the link's key replaces it.
    browser
        .goto_expecting_question(&format!("{base}/?third#key={theirs}"))
        .await;
    browser.client().accept_alert().await.unwrap();
    let replaced = poll(DEADLINE, async || {
        Some(stored_key(&browser).await).filter(|k| k.as_deref() == Some(theirs.as_str()))
    })
    .await;
    assert!(replaced.is_some(), "accepted: the link's key is stored");

    // The same key again: nothing to ask.
    open_expecting_no_question(&browser, &format!("{base}/?fourth#key={theirs}")).await;
    browser.close().await;
}
