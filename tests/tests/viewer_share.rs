//! The Share dialog end to end in headless Chromium against the real relay:
//! the owner, on a 390 px phone, makes a read-only link (with its QR code);
//! a second browser opens it, sees who shared it and the role, and cannot
//! type; the owner sees that viewer in the list and revokes the link, and
//! the second browser is closed and told why. Expired and unknown links say
//! so too.

use std::time::{Duration, Instant};

use protocol::Role;
use serde_json::Value;
use tests::browser::{self, Browser, Screen, ViewerFixture};
use tests::wait::DEADLINE;

/// The phone the owner shares from.
const PHONE_390: Screen = Screen::Phone {
    width: 390,
    height: 844,
};

/// Waits until an element matching `css` exists.
async fn wait_for_element(browser: &Browser, css: &str) {
    let script = format!("return document.querySelector({css:?}) !== null;");
    browser
        .wait_for_js(&format!("{css} on the page"), &script, DEADLINE)
        .await;
}

/// The share refusal the page shows (`expired`, `revoked`, `unknown`).
async fn wait_for_refusal(browser: &Browser, kind: &str) {
    let css = format!(".share-refused[data-refusal='{kind}']");
    wait_for_element(browser, &css).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_a_read_only_link_watch_it_and_revoke_it() {
    if !browser::available() {
        return;
    }
    let mut fixture = ViewerFixture::start("e2e share dialog", 80, 24).await;
    fixture.print(b"shared by the dialog\r\n").await;
    let owner = Browser::open_live(PHONE_390, &fixture.terminal_url()).await;

    owner.click("button.share-toggle").await;
    wait_for_element(&owner, ".share-dialog").await;
    // It fits the phone's width.
    let fits = "const r = document.querySelector('.share-dialog').getBoundingClientRect(); \
                return r.left >= 0 && r.right <= window.innerWidth;";
    assert_eq!(owner.eval(fits, vec![]).await, Value::Bool(true));
    // Read-write says plainly what it gives away; read-only is the default.
    owner.click("input[value='read-write']").await;
    wait_for_element(&owner, ".share-form [data-warning='read-write']").await;
    owner.click("input[value='read-only']").await;
    let one_hour = "const s = document.querySelector('select[name=share-ttl]'); s.value = '1h'; \
                    s.dispatchEvent(new Event('change', { bubbles: true }));";
    owner.eval(one_hour, vec![]).await;
    owner.click("button.create-share").await;
    let url = owner
        .wait_for_js(
            "the new link",
            "const f = document.querySelector('.share-url'); return f && f.value;",
            DEADLINE,
        )
        .await;
    let url = url.as_str().expect("the link as text").to_owned();
    assert!(
        url.starts_with(&format!(
            "{}/s/{}#token=ts2.",
            fixture.relay.http_url(),
            fixture.session
        )),
        "{url}"
    );
    // ts2.{id}.{session}.ro.{expires}.{sig}: read-only, for about an hour.
    let fields: Vec<&str> = url.split("#token=").nth(1).unwrap().split('.').collect();
    assert_eq!(fields[3], "ro", "{url}");
    let expires: u64 = fields[4].parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (3_500..=3_700).contains(&(expires - now)),
        "{expires} vs {now}"
    );
    wait_for_element(&owner, ".share-result .qr-code svg").await;
    wait_for_element(&owner, ".share-item[data-role='read-only']").await;
    owner.click("button.copy-share").await;
    wait_for_element(&owner, ".share-result .copied").await;
    owner.screenshot("viewer-share-dialog-phone").await;

    let guest = Browser::open_live(Screen::DESKTOP, &url).await;
    guest.wait_for_text("shared by the dialog").await;
    wait_for_element(
        &guest,
        ".shared-by[data-shared-by='local'][data-role='read-only']",
    )
    .await;
    assert!(
        !guest.is_visible("button.share-toggle").await,
        "guests cannot share"
    );
    guest.type_keys("rm -rf /\n").await;
    let typed = fixture.agent_input_within(Duration::from_millis(500)).await;
    assert!(typed.is_empty(), "a read-only guest typed {typed:?}");

    // The owner sees the guest on the link (the list refreshes every 3 s).
    wait_for_element(&owner, ".share-item[data-viewers='1']").await;
    owner.click("button.revoke-share").await;
    let revoked = Instant::now();
    wait_for_refusal(&guest, "revoked").await;
    assert!(
        revoked.elapsed() < Duration::from_secs(3),
        "closed {:?} after the revocation",
        revoked.elapsed()
    );
    guest.wait_for_state("refused").await;
    guest.screenshot("viewer-share-revoked").await;
    owner
        .wait_for_js(
            "the emptied list",
            "return document.querySelectorAll('.share-item').length === 0;",
            DEADLINE,
        )
        .await;

    // An expired link and a mangled one say so, each in its own words.
    let expiring = fixture
        .relay
        .share(&fixture.key, &fixture.session, Role::ReadOnly, 1)
        .await;
    guest.goto(&expiring.url).await;
    wait_for_refusal(&guest, "expired").await;
    let mangled = format!("{}0", expiring.url);
    guest.goto(&mangled).await;
    guest.client().refresh().await.expect("reload");
    wait_for_refusal(&guest, "unknown").await;
    guest.close().await;
    owner.close().await;
}
