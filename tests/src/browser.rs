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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long a wait for a page condition lasts by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(15);

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";

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

/// Whether browser tests can run here: Chromium, chromedriver and a built
/// viewer. When something is missing the test is skipped with a message,
/// unless `TETHER_REQUIRE_BROWSER` is set (as `scripts/test` does), in which
/// case it fails.
pub fn available() -> bool {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_owned());
    }
    if Command::new(CHROMEDRIVER)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        missing.push(CHROMEDRIVER.to_owned());
    }
    if !dist_dir().join("index.html").exists() {
        missing.push("dist/ (run `trunk build --release`)".to_owned());
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!("browser test needs {}", missing.join(", "));
    if std::env::var_os("TETHER_REQUIRE_BROWSER").is_some() {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
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

/// A chromedriver process, killed on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One headless Chromium session.
pub struct Browser {
    client: Client,
    // Dropped after `client`: fields drop in declaration order.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with `screen`'s size.
    pub async fn start(screen: Screen) -> Browser {
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
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
        let mut options = json!({ "binary": CHROMIUM });
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

        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(hyper_connector())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                // chromedriver may not listen yet: try again until the deadline.
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => panic!("cannot start headless Chromium through chromedriver: {err}"),
            }
        };
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
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

    /// Waits until `script` (a function body) returns a truthy value, and
    /// returns it; panics with `what` and the terminal text at the deadline.
    pub async fn wait_for_js(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(script, vec![]).await;
            if is_truthy(&value) {
                return value;
            }
            if Instant::now() >= deadline {
                let text = self.terminal_text().await;
                let hook = self.hook().await;
                self.screenshot(&format!("timeout-{}", slug(what))).await;
                panic!("timed out after {timeout:?} waiting for {what}\nhook: {hook}\nterminal:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the terminal's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEFAULT_WAIT;
        loop {
            let text = self.terminal_text().await;
            if text.contains(needle) {
                return text;
            }
            if Instant::now() >= deadline {
                let hook = self.hook().await;
                self.screenshot(&format!("timeout-{}", slug(needle))).await;
                panic!("timed out waiting for {needle:?} in the terminal\nhook: {hook}\nterminal:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the viewer's connection state is `state` (`live`, …).
    pub async fn wait_for_state(&self, state: &str) {
        let script = format!("return window.__tether && window.__tether.state === {state:?};");
        self.wait_for_js(&format!("state {state}"), &script, DEFAULT_WAIT)
            .await;
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

/// A relay serving the built viewer, one registered session and a connected
/// agent link (a protocol client standing in for `tether`) that remembers
/// everything it printed, so that it can resend after a relay restart as
/// the wrapper does.
pub struct ViewerFixture {
    /// The relay process.
    pub relay: crate::relay::RelayProcess,
    /// The local-dev API key.
    pub key: String,
    /// The session id.
    pub session: String,
    /// The agent link.
    pub agent: crate::relay::AgentClient,
    /// Every OUTPUT byte the agent sent, from offset 0.
    pub printed: Vec<u8>,
}

impl ViewerFixture {
    /// Starts the relay and an agent of a `cols`×`rows` session called `name`.
    pub async fn start(name: &str, cols: u16, rows: u16) -> Self {
        Self::start_with(name, cols, rows, &[]).await
    }

    /// Like [`start`](Self::start), with extra relay flags.
    pub async fn start_with(name: &str, cols: u16, rows: u16, relay_args: &[&str]) -> Self {
        let dist = dist_dir();
        let mut args = vec!["--static-dir", dist.to_str().expect("utf-8 path")];
        args.extend_from_slice(relay_args);
        let relay = crate::relay::RelayProcess::start_with(&args);
        let key = relay.api_key();
        let session = relay.register_session(&key, "claude");
        let agent = crate::relay::AgentClient::connect(&relay.ws_url(), &session, &key)
            .await
            .expect("agent link");
        let mut fixture = Self {
            relay,
            key,
            session,
            agent,
            printed: Vec::new(),
        };
        fixture.announce(name, cols, rows).await;
        fixture
    }

    async fn announce(&mut self, name: &str, cols: u16, rows: u16) {
        let metadata = protocol::Metadata {
            agent: "claude".into(),
            agent_display_name: Some(name.into()),
            ..Default::default()
        };
        self.agent
            .send(&[
                protocol::Frame::Metadata(metadata),
                protocol::Frame::Resize(protocol::Size { rows, cols }),
            ])
            .await;
    }

    /// The agent prints `bytes`; returns once the relay stored them.
    pub async fn print(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
        self.agent.send_output(bytes).await;
        self.agent.wait_ack(self.printed.len() as u64).await;
    }

    /// The agent prints `bytes` without waiting for the relay to store them.
    pub async fn print_fast(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
        self.agent.send_output(bytes).await;
    }

    /// The agent prints while the relay is down: the bytes are only kept,
    /// to be resent by [`restart_relay`](Self::restart_relay).
    pub fn print_while_relay_is_down(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
    }

    /// The agent sets the session's size.
    pub async fn resize(&mut self, cols: u16, rows: u16) {
        self.agent
            .send(&[protocol::Frame::Resize(protocol::Size { rows, cols })])
            .await;
    }

    /// The terminal page's address, signed in with the API key.
    pub fn terminal_url(&self) -> String {
        format!(
            "{}/s/{}#key={}",
            self.relay.http_url(),
            self.session,
            self.key
        )
    }

    /// Kills the relay (its memory is lost), starts it again on the same
    /// port, and reconnects the agent, which resends what the relay lacks.
    pub async fn restart_relay(&mut self, name: &str, cols: u16, rows: u16) {
        self.relay.restart();
        let ws_url = self.relay.ws_url();
        self.agent = crate::relay::AgentClient::connect(&ws_url, &self.session, &self.key)
            .await
            .expect("agent link after the restart");
        self.announce(name, cols, rows).await;
        let held = usize::try_from(self.agent.held)
            .unwrap_or(usize::MAX)
            .min(self.printed.len());
        let resend = self.printed[held..].to_vec();
        self.agent
            .send(&[
                protocol::Frame::StreamOffset(held as u64),
                protocol::Frame::Output(resend),
            ])
            .await;
        self.agent.wait_ack(self.printed.len() as u64).await;
    }

    /// Collects INPUT bytes reaching the agent until there are as many as
    /// `want` has, and checks they are equal. RESIZE requests are ignored.
    pub async fn agent_receives(&mut self, want: &[u8]) {
        let mut typed = Vec::new();
        while typed.len() < want.len() {
            if let protocol::Frame::Input(bytes) = self.agent.next_command().await {
                typed.extend_from_slice(&bytes);
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&typed),
            String::from_utf8_lossy(want),
            "input that reached the agent"
        );
    }

    /// INPUT bytes reaching the agent within `wait` (for checking that
    /// nothing arrives).
    pub async fn agent_input_within(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut typed = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.agent.socket.next_event_within(left).await {
                Some(crate::relay::Event::Frame(protocol::Frame::Input(bytes))) => {
                    typed.extend_from_slice(&bytes)
                }
                Some(crate::relay::Event::Frame(_)) => {}
                Some(other) => panic!("agent link ended: {other:?}"),
                None => break,
            }
        }
        typed
    }

    /// A share link for the session with `role` (`read-only`/`read-write`).
    pub async fn share_url(&self, role: &str) -> String {
        let url = format!(
            "{}/api/v1/agent-instances/{}/share",
            self.relay.http_url(),
            self.session
        );
        let body = json!({ "role": role, "ttl_secs": 600 });
        let (status, reply) = crate::relay::http("POST", &url, Some(&self.key), Some(&body)).await;
        assert!(
            status == 200 || status == 201,
            "share failed: {status} {reply}"
        );
        let token = reply["token"].as_str().expect("token in the share reply");
        format!("{}/s/{}#token={token}", self.relay.http_url(), self.session)
    }

    /// The next RESIZE request reaching the agent, as (cols, rows).
    pub async fn agent_resize_request(&mut self) -> (u16, u16) {
        loop {
            if let protocol::Frame::Resize(protocol::Size { rows, cols }) =
                self.agent.next_command().await
            {
                return (cols, rows);
            }
        }
    }
}
