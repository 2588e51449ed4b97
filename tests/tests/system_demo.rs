//! The README's first command, `scripts/demo`, as a new user meets it: run
//! in a real terminal (tmux), from another directory, it starts the relay — on a free port when the
//! one asked for is taken — and a shell under `tether`, and prints the
//! dashboard address with the key. That address opens in headless Chromium,
//! lists the session live, opens it, and what is typed there runs in the
//! shell. Exiting the shell stops the relay.
//!
//! The binaries and `dist/` are the ones `scripts/test` built
//! (`TETHER_DEMO_PREBUILT`): installing and release-building are the
//! script's other half, checked by running it by hand.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use tests::browser::{self, Browser, Screen};
use tests::relay::workspace_binary;
use tests::tmux::Tmux;
use tests::tools::require_tool;
use tests::wait::{eventually, SYSTEM_DEADLINE};

/// The first address on `screen` that contains `part`.
fn url_containing(screen: &str, part: &str) -> Option<String> {
    screen
        .split_whitespace()
        .find(|word| word.starts_with("http://") && word.contains(part))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_brings_up_a_session_that_opens_in_the_browser_and_stops_cleanly() {
    if !browser::available() || !require_tool("tmux") {
        return;
    }
    let home = tempfile::tempdir().expect("temp TETHER_HOME");
    let home_path = home.path().to_str().expect("utf-8 path");
    // The port the demo is asked to use is taken: it must pick another.
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let taken_port = taken.local_addr().expect("held address").port();
    let binaries = workspace_binary("tether");
    let binaries = binaries.parent().expect("the binaries' directory");

    // Wide enough that the dashboard address (with its key) is one line.
    let tmux = Tmux::start(240, 30, &[("TETHER_HOME", home_path)]);
    tmux.type_line(&format!(
        "cd {home_path} && TETHER_DEMO_PREBUILT={} TETHER_DEMO_LISTEN=127.0.0.1:{taken_port} {}/scripts/demo sh",
        binaries.display(),
        browser::workspace_root().display(),
    ));
    // tether's line with the whole session id (a UUID: 36 characters).
    let screen = tmux.wait_for_screen("tether's session address", SYSTEM_DEADLINE, |screen| {
        url_containing(screen, "/s/")
            .is_some_and(|url| url.rsplit("/s/").next().is_some_and(|id| id.len() == 36))
    });
    assert!(
        screen.contains(&format!("port {taken_port} is taken")),
        "the demo says the port was taken:\n{screen}"
    );
    let dashboard = url_containing(&screen, "/#key=")
        .unwrap_or_else(|| panic!("a dashboard address with the key:\n{screen}"));
    let session_page = url_containing(&screen, "/s/")
        .unwrap_or_else(|| panic!("tether's session address:\n{screen}"));
    let session = session_page
        .rsplit("/s/")
        .next()
        .expect("an id after /s/")
        .to_owned();
    let relay_addr: SocketAddr = dashboard
        .trim_start_matches("http://")
        .split('/')
        .next()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("an address in {dashboard}"));
    assert_ne!(relay_addr.port(), taken_port);
    assert!(
        session_page.starts_with(&format!("http://{relay_addr}/s/")),
        "tether was pointed at the demo's relay: {session_page}"
    );

    // The printed address signs the browser in and lists the session live.
    let browser = Browser::start(Screen::DESKTOP).await;
    browser.goto(&dashboard).await;
    let row = format!(".session[data-session-id='{session}']");
    let live = format!(
        "const row = document.querySelector(\"{row}\"); return row && row.textContent.includes('live');"
    );
    browser
        .wait_for_js(
            "the demo's session, live, in the list",
            &live,
            SYSTEM_DEADLINE,
        )
        .await;
    browser.screenshot("system-demo-list").await;

    // It opens, and what is typed there runs in the shell in the terminal.
    browser.click(&format!("{row} a")).await;
    browser.wait_for_state("live").await;
    // The shell runs where the demo was started, not in the repository.
    browser
        .type_keys("echo from-the-browser-$((6 * 7)) in $PWD\u{E007}")
        .await;
    let answer = format!("from-the-browser-42 in {home_path}");
    tmux.wait_for_text(&answer, SYSTEM_DEADLINE);
    browser.wait_for_text(&answer).await;
    browser.screenshot("system-demo-session").await;

    // Exiting the shell ends the demo and stops the relay.
    tmux.type_line("exit");
    tmux.wait_for_text("stopped tether-relay", SYSTEM_DEADLINE);
    tmux.wait_until_idle(SYSTEM_DEADLINE);
    let what = format!("the relay on {relay_addr} to stop listening after the demo");
    eventually(&what, SYSTEM_DEADLINE, async || {
        TcpStream::connect_timeout(&relay_addr, Duration::from_secs(1)).is_err()
    })
    .await;
    browser.wait_for_state("ended").await;
    browser.close().await;
    drop(taken);
}
