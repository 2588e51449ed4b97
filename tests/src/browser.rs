//! Headless Chromium for the viewer's end-to-end tests, driven through
//! chromedriver with `fantoccini`.
//!
//! [`Browser::start`] runs a private chromedriver on a free port and a fresh
//! Chromium profile; both are gone when the `Browser` drops (also when a
//! test panics). The viewer publishes `window.__tether` (the xterm
//! `Terminal` as `term`, plus its connection state), which
//! [`Browser::terminal_text`] and [`Browser::hook`] read. Every wait has a
//! deadline; screenshots go to `test-artifacts/` at the workspace root.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::tools;
use crate::wait::{poll, Ready, DEADLINE};

mod viewer_fixture;

pub use viewer_fixture::ViewerFixture;

/// The workspace root (where `dist/` and `test-artifacts/` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The built viewer (`trunk build --release` writes it).
pub fn dist_dir() -> PathBuf {
    workspace_root().join("dist")
}

/// Whether browser tests can run here: Chromium and chromedriver in `PATH`
/// and a built viewer in `dist/`. When something is missing the test is
/// skipped with a note, or fails under `TETHER_REQUIRE_TOOLS=1` (see
/// [`tools::require`]).
pub fn available() -> bool {
    let mut missing: Vec<String> = ["chromium", "chromedriver"]
        .into_iter()
        .filter(|tool| tools::find_tool(tool).is_none())
        .map(|tool| format!("{tool} (scripts/setup installs it)"))
        .collect();
    if !dist_dir().join("index.html").exists() {
        missing.push("dist/ (run `trunk build --release`, as scripts/test does)".to_owned());
    }
    tools::require(&missing)
}

/// The browser window to open.
#[derive(Debug, Clone, Copy)]
pub enum Screen {
    /// A desktop window of this CSS size.
    Desktop {
        /// Width in CSS pixels.
        width: u32,
        /// Height in CSS pixels.
        height: u32,
    },
    /// A touch phone of this CSS size (device emulation: touch, DPR 2).
    Phone {
        /// Width in CSS pixels.
        width: u32,
        /// Height in CSS pixels.
        height: u32,
    },
}

impl Screen {
    /// A 1280×800 desktop.
    pub const DESKTOP: Screen = Screen::Desktop {
        width: 1280,
        height: 800,
    };
    /// A 375×667 phone (iPhone SE / 8 size).
    pub const PHONE: Screen = Screen::Phone {
        width: 375,
        height: 667,
    };
}

/// A chromedriver process in its own process group, which the Chromium it
/// starts joins: the whole group is killed on drop, so a test that panics
/// before closing its session leaves no browser behind.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One headless Chromium session.
pub struct Browser {
    client: Client,
    /// chromedriver's address, for its vendor commands.
    driver_url: String,
    // Dropped after `client`: fields drop in declaration order.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with `screen`'s size.
    pub async fn start(screen: Screen) -> Browser {
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let port = free_port();
        let chromedriver = tools::find_tool("chromedriver").expect("chromedriver in PATH");
        let chromium = tools::find_tool("chromium").expect("chromium in PATH");
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver(child);

        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": chromium });
        match screen {
            Screen::Desktop { width, height } => {
                args.push(format!("--window-size={width},{height}"))
            }
            Screen::Phone { width, height } => {
                args.push(format!("--window-size={width},{height}"));
                options["mobileEmulation"] = json!({
                    "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true },
                });
            }
        }
        options["args"] = json!(args);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);

        // chromedriver may not listen yet: try again until the deadline.
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        let client = poll(DEADLINE, async || {
            let connecting = ClientBuilder::new(hyper_connector())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            connecting.map_err(|e| last_error = e.to_string()).ok()
        })
        .await
        .unwrap_or_else(|| {
            panic!("cannot start headless Chromium through chromedriver: {last_error}")
        });
        Browser {
            client,
            driver_url: url,
            _driver: driver,
            _profile: profile,
        }
    }

    /// [`start`](Self::start)s one with `screen` on `url` (a session's
    /// page) and waits until the viewer is live.
    pub async fn open_live(screen: Screen, url: &str) -> Browser {
        let browser = Self::start(screen).await;
        browser.goto(url).await;
        browser.wait_for_state("live").await;
        browser
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends chromedriver's command `POST /session/{id}/{path}` with `body`
    /// (vendor commands fantoccini does not know, such as
    /// `chromium/network_conditions`); returns its `value`.
    pub async fn driver_command(&self, path: &str, body: Value) -> Value {
        let session = self.client.session_id().await.ok().flatten();
        let session = session.expect("a WebDriver session");
        let url = format!("{}/session/{session}/{path}", self.driver_url);
        let reply = crate::relay::fetch("POST", &url, None, Some(&body)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        reply.json()["value"].clone()
    }

    /// Runs the Chrome DevTools Protocol command `cmd` with `params` on the
    /// page (e.g. `Emulation.setCPUThrottlingRate`); returns its result.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({ "cmd": cmd, "params": params });
        self.driver_command("goog/cdp/execute", body).await
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Opens `url` and waits for the page's confirm dialog; returns its
    /// text. (Only dialog commands while it may open: any other command
    /// would make chromedriver dismiss it.)
    pub async fn goto_expecting_question(&self, url: &str) -> String {
        // Navigation may report the dialog that interrupts it.
        let _ = self.client.goto(url).await;
        poll(DEADLINE, async || self.client.get_alert_text().await.ok())
            .await
            .unwrap_or_else(|| panic!("no question on opening {url}"))
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns
    /// its result.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|err| panic!("script failed: {err}\n{script}"))
    }

    /// The viewer's test hook without the terminal object: `state`, `role`,
    /// `replaying`, `rendered`, `queued`, `connects`, `cols`, `rows`,
    /// `fontSize`. `Null` before the terminal page started.
    pub async fn hook(&self) -> Value {
        self.eval(
            "const h = window.__tether; if (!h) return null; \
             const { term, ...rest } = h; return rest;",
            vec![],
        )
        .await
    }

    /// Every line of xterm's active buffer (scrollback and screen), with
    /// trailing spaces trimmed and wrapped lines joined.
    pub async fn terminal_lines(&self) -> Vec<String> {
        let value = self
            .eval(
                "const h = window.__tether; if (!h || !h.term) return []; \
                 const b = h.term.buffer.active; const out = []; \
                 for (let i = 0; i < b.length; i++) { \
                   const line = b.getLine(i); if (!line) continue; \
                   const text = line.translateToString(true); \
                   if (line.isWrapped && out.length) out[out.length - 1] += text; else out.push(text); \
                 } \
                 while (out.length && out[out.length - 1] === '') out.pop(); \
                 return out;",
                vec![],
            )
            .await;
        serde_json::from_value(value).unwrap_or_default()
    }

    /// The terminal's text, lines joined with `\n`.
    pub async fn terminal_text(&self) -> String {
        self.terminal_lines().await.join("\n")
    }

    /// Waits until `check` (which reads the page) is ready and returns its
    /// value; at the deadline saves `test-artifacts/timeout-….png` and
    /// panics with `what`, the viewer's hook and the terminal's text.
    pub async fn eventually<R: Ready>(
        &self,
        what: &str,
        within: Duration,
        check: impl AsyncFnMut() -> R,
    ) -> R::Value {
        if let Some(value) = poll(within, check).await {
            return value;
        }
        let text = self.terminal_text().await;
        let hook = self.hook().await;
        self.screenshot(&format!("timeout-{}", slug(what))).await;
        panic!("not within {within:?}: {what}\nhook: {hook}\nterminal:\n{text}");
    }

    /// Waits until `script` (a function body) returns a truthy value, and
    /// returns it (see [`eventually`](Self::eventually)).
    pub async fn wait_for_js(&self, what: &str, script: &str, within: Duration) -> Value {
        self.eventually(what, within, async || {
            let value = self.eval(script, vec![]).await;
            is_truthy(&value).then_some(value)
        })
        .await
    }

    /// Waits until the terminal's text contains `needle`; returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let what = format!("{needle:?} in the terminal");
        self.eventually(&what, DEADLINE, async || {
            Some(self.terminal_text().await).filter(|text| text.contains(needle))
        })
        .await
    }

    /// Waits until the viewer's connection state is `state` (`live`, …).
    pub async fn wait_for_state(&self, state: &str) {
        let script = format!("return window.__tether && window.__tether.state === {state:?};");
        self.wait_for_js(&format!("state {state}"), &script, DEADLINE)
            .await;
    }

    /// Waits (up to `within`) until the viewer has drawn the history it
    /// joined with (replay or snapshot) and shows live output (`what` names
    /// the wait in a failure).
    pub async fn wait_for_replay_end(&self, what: &str, within: Duration) {
        let script = "return window.__tether.replaying === false;";
        self.wait_for_js(what, script, within).await;
    }

    /// The session's state badge as the viewer shows it (`live`, `ended (exit 3)`, …).
    pub async fn state_badge(&self) -> String {
        let badge = self
            .eval(
                "return document.querySelector('[data-state]').textContent;",
                vec![],
            )
            .await;
        badge.as_str().unwrap_or_default().to_string()
    }

    /// Types `text` into the terminal as real key events.
    pub async fn type_keys(&self, text: &str) {
        let textarea = self
            .client
            .find(Locator::Css(".xterm-helper-textarea"))
            .await
            .expect("xterm's input textarea");
        textarea.send_keys(text).await.expect("send keys");
    }

    /// Whether an element matching `css` is displayed.
    pub async fn is_visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no element {css}: {err}"))
            .click()
            .await
            .unwrap_or_else(|err| panic!("cannot click {css}: {err}"));
    }

    /// Saves a PNG of the page as `test-artifacts/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = workspace_root().join("test-artifacts");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}.png"));
        match self.client.screenshot().await {
            Ok(png) => {
                if let Err(err) = std::fs::write(&path, png) {
                    eprintln!("cannot save {}: {err}", path.display());
                }
            }
            Err(err) => eprintln!("screenshot {name} failed: {err}"),
        }
        path
    }

    /// Closes the browser session (chromedriver is killed on drop anyway).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn hyper_connector() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect()
}
