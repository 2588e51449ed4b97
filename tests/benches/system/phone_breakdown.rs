//! Where a phone join's time goes: the page's own timeline, read from the
//! browser after each join. Resource Timing gives the page and each asset
//! (when asked for, when its last byte came, bytes on the wire and
//! decoded); a script installed before the page's own notes when the wasm
//! app started (trunk's `TrunkApplicationStarted`), when the terminal's
//! WebSocket was created, opened and got its first and last message before
//! the screen was shown, when it was shown (`replaying` false) and when
//! the frame after that was drawn (xterm draws in animation frames: the
//! join's time); the viewer's own `tether:…` performance marks say when it
//! started, when xterm had parsed the joined screen and when it was put on
//! the page; Chrome's `Performance.getMetrics` gives the main thread's
//! CPU time. Each phase's median over the runs goes in the report.
//!
//! `TETHER_BENCH_PHONE_PROFILE=DIR` also saves each join's JavaScript CPU
//! profile (V8's sampling profiler through CDP) as `DIR/phone-….cpuprofile`,
//! for Chrome's DevTools (Performance → load profile).

use std::path::PathBuf;

use serde_json::{json, Value};
use tests::browser::Browser;

/// Installed before the page's own scripts: wraps `WebSocket` to note its
/// timeline in `window.__bench`, and notes (`performance.now()`, ms since
/// navigation start) when the app started, when the viewer first has the
/// joined screen complete, and when that was painted (`__benchShownMs`).
pub(crate) const WATCH_SCRIPT: &str = r#"(() => {
  const b = window.__bench = { messages: 0, messageBytes: 0, inflatedBytes: 0 };
  const now = () => performance.now();
  addEventListener('TrunkApplicationStarted', () => { b.appStarted = now(); });
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    if (b.wsCreated === undefined) {
      b.wsCreated = now();
      ws.addEventListener('open', () => { b.wsOpen = now(); });
      ws.addEventListener('message', (e) => {
        if (b.shown !== undefined) return;
        const t = now();
        if (b.firstMessage === undefined) b.firstMessage = t;
        b.lastMessage = t;
        b.messages += 1;
        b.messageBytes += e.data.byteLength || e.data.length || 0;
        // A DEFLATED envelope (type 7, 4-byte length): count what it holds.
        const bytes = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : null;
        if (bytes && bytes[0] === 7) {
          const inflated = new Blob([bytes.subarray(5)]).stream()
            .pipeThrough(new DecompressionStream('deflate-raw'));
          new Response(inflated).arrayBuffer().then((a) => { b.inflatedBytes += a.byteLength; });
        } else if (bytes) {
          b.inflatedBytes += bytes.length;
        }
      });
    }
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  const poll = () => {
    const h = window.__tether;
    if (h && h.replaying === false && h.rendered > 0) {
      b.shown = now();
      b.bufferLines = h.term.buffer.active.length;
      // xterm draws in an animation frame: the first task after the next
      // one is after the screen was drawn and painted.
      requestAnimationFrame(() => setTimeout(() => {
        b.painted = window.__benchShownMs = now();
      }, 0));
      return;
    }
    setTimeout(poll, 4);
  };
  poll();
})();"#;

/// Reads the timeline once the screen is shown.
pub(crate) const READ_SCRIPT: &str = r#"
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const assets = performance.getEntriesByType('resource').map((e) => ({
    name: e.name.replace(/^.*\//, '').replace(/-[0-9a-f]{16}/, ''),
    start: e.startTime, end: e.responseEnd,
    wire: e.transferSize, body: e.decodedBodySize, api: e.name.includes('/api/'),
  }));
  const marks = {};   // the viewer's own steps (viewer/mod.rs), the first of each
  for (const m of performance.getEntriesByType('mark')) {
    if (m.name.startsWith('tether:') && !(m.name.slice(7) in marks)) marks[m.name.slice(7)] = m.startTime;
  }
  return Object.assign({}, window.__bench, {
    viewerStarted: marks['viewer-started'], screenParsed: marks['screen-parsed'],
    terminalOpened: marks['terminal-opened'],
    htmlEnd: nav.responseEnd, domInteractive: nav.domInteractive,
    pageBytes: (nav.transferSize || 0) + assets.filter((a) => !a.api).reduce((s, a) => s + (a.wire || 0), 0),
    assets,
  });"#;

/// The phases of one join, in ms since navigation start (None: not seen).
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    /// The page's last byte.
    pub(crate) html_end: Option<f64>,
    /// The last asset's last byte.
    pub(crate) assets_end: Option<f64>,
    /// The wasm app started (compiled, instantiated, `main` run).
    pub(crate) app_started: Option<f64>,
    /// The viewer started (its page drawn, xterm created, the link opened
    /// or the page's early one taken over).
    pub(crate) viewer_started: Option<f64>,
    /// The terminal's WebSocket created (by the page, before the viewer).
    pub(crate) ws_created: Option<f64>,
    /// It opened (the relay accepted the key).
    pub(crate) ws_open: Option<f64>,
    /// Its first message (the join's first bytes).
    pub(crate) first_message: Option<f64>,
    /// Its last message before the screen was shown.
    pub(crate) last_message: Option<f64>,
    /// xterm parsed the joined screen (before it is on the page).
    pub(crate) screen_parsed: Option<f64>,
    /// xterm put on the page (drawn in the next frame).
    pub(crate) terminal_opened: Option<f64>,
    /// The joined screen complete (`replaying` false) and drawn.
    pub(crate) shown: Option<f64>,
    /// The frame after that drawn: what the person sees.
    pub(crate) painted: Option<f64>,
    /// Messages until then.
    pub(crate) messages: u64,
    /// Bytes of those messages (as sent: compressed envelopes).
    pub(crate) message_bytes: u64,
    /// What they held (DEFLATED envelopes inflated).
    pub(crate) inflated_bytes: u64,
    /// Lines in xterm's buffer once shown (scrollback and screen).
    pub(crate) buffer_lines: u64,
    /// The page's main thread: CPU seconds it used (Chrome's `ThreadTime`,
    /// which the 4× throttling does not stretch) and seconds of script,
    /// layout and style work (stretched), from navigation to the end.
    pub(crate) main_thread: Option<MainThread>,
    /// Each asset: name, wire bytes, decoded bytes, start and end (ms);
    /// the page's own files only (not the message log's `/api` call).
    pub(crate) assets: Vec<(String, u64, u64, f64, f64)>,
}

/// What Chrome's `Performance.getMetrics` says of the page's main thread.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MainThread {
    /// CPU time used (ms), unthrottled.
    pub(crate) cpu: f64,
    /// Script (ms).
    pub(crate) script: f64,
    /// Layout and style recalculation (ms).
    pub(crate) layout: f64,
}

impl MainThread {
    /// From the `Performance.getMetrics` answer (seconds, cumulative since
    /// `Performance.enable`).
    pub(crate) fn from_metrics(v: &Value) -> Option<Self> {
        let metrics = v["metrics"].as_array()?;
        let get = |name: &str| {
            metrics
                .iter()
                .find(|m| m["name"] == name)
                .and_then(|m| m["value"].as_f64())
                .map(|s| s * 1e3)
        };
        Some(Self {
            cpu: get("ThreadTime")?,
            script: get("ScriptDuration")?,
            layout: get("LayoutDuration")? + get("RecalcStyleDuration")?,
        })
    }
}

impl Timeline {
    /// The timeline from [`READ_SCRIPT`]'s answer.
    pub(crate) fn from_json(v: &Value) -> Self {
        let ms = |key: &str| v.get(key).and_then(Value::as_f64);
        let assets: Vec<_> = v["assets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["api"] != Value::Bool(true))
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap_or("?").to_string(),
                            e["wire"].as_f64().unwrap_or(0.0) as u64,
                            e["body"].as_f64().unwrap_or(0.0) as u64,
                            e["start"].as_f64().unwrap_or(0.0),
                            e["end"].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let assets_end = assets.iter().map(|a| a.4).reduce(f64::max);
        Self {
            html_end: ms("htmlEnd"),
            assets_end,
            app_started: ms("appStarted"),
            viewer_started: ms("viewerStarted"),
            screen_parsed: ms("screenParsed"),
            terminal_opened: ms("terminalOpened"),
            ws_created: ms("wsCreated"),
            ws_open: ms("wsOpen"),
            first_message: ms("firstMessage"),
            last_message: ms("lastMessage"),
            shown: ms("shown"),
            painted: ms("painted"),
            main_thread: None,
            messages: ms("messages").unwrap_or(0.0) as u64,
            message_bytes: ms("messageBytes").unwrap_or(0.0) as u64,
            inflated_bytes: ms("inflatedBytes").unwrap_or(0.0) as u64,
            buffer_lines: ms("bufferLines").unwrap_or(0.0) as u64,
            assets,
        }
    }

    /// One line per asset, for the bench's log.
    pub(crate) fn describe_assets(&self) -> String {
        self.assets
            .iter()
            .map(|(name, wire, body, start, end)| {
                format!("{name}: {wire} B on the wire ({body} B decoded), {start:.0}→{end:.0} ms")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The median of each phase over `runs`, as one report figure:
/// `html 120 · assets 480 · app 700 · ws 720→850 · snapshot 900→930 · shown 1100`.
pub(crate) fn summary(runs: &[Timeline]) -> String {
    let median = |f: fn(&Timeline) -> Option<f64>| {
        let mut v: Vec<f64> = runs.iter().filter_map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2)
            .map_or("–".to_string(), |m| format!("{m:.0}"))
    };
    let count = |f: fn(&Timeline) -> u64| {
        let mut v: Vec<u64> = runs.iter().map(f).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    format!(
        "page {} · assets {} · WebSocket created {} → open {} · first message {} → last {} ({} messages, {:.0} KB, {:.0} KB inflated) · wasm app started {} · viewer started {} · screen parsed {} · terminal opened {} · replaying false {} ({} lines in xterm) · painted {} · main thread CPU {} (script {}, layout and style {}) (ms, medians)",
        median(|t| t.html_end),
        median(|t| t.assets_end),
        median(|t| t.ws_created),
        median(|t| t.ws_open),
        median(|t| t.first_message),
        median(|t| t.last_message),
        count(|t| t.messages),
        count(|t| t.message_bytes) as f64 / 1e3,
        count(|t| t.inflated_bytes) as f64 / 1e3,
        median(|t| t.app_started),
        median(|t| t.viewer_started),
        median(|t| t.screen_parsed),
        median(|t| t.terminal_opened),
        median(|t| t.shown),
        count(|t| t.buffer_lines),
        median(|t| t.painted),
        median(|t| t.main_thread.map(|m| m.cpu)),
        median(|t| t.main_thread.map(|m| m.script)),
        median(|t| t.main_thread.map(|m| m.layout)),
    )
}

/// A V8 CPU profile of one join, when `TETHER_BENCH_PHONE_PROFILE` names a
/// directory for it.
pub(crate) struct CpuProfile {
    dir: PathBuf,
}

impl CpuProfile {
    /// Starts profiling if asked. The profiler belongs to the page's
    /// process, so the browser opens the origin (`/health`) first.
    pub(crate) async fn start(browser: &Browser, origin: &str) -> Option<Self> {
        let dir = PathBuf::from(std::env::var_os("TETHER_BENCH_PHONE_PROFILE")?);
        browser.goto(&format!("{origin}/health")).await;
        browser.cdp("Profiler.enable", json!({})).await;
        browser
            .cdp("Profiler.setSamplingInterval", json!({ "interval": 200 }))
            .await;
        browser.cdp("Profiler.start", json!({})).await;
        Some(Self { dir })
    }

    /// Stops it and writes the profile, named after `run`.
    pub(crate) async fn save(self, browser: &Browser, run: &str) {
        let stopped = browser.cdp("Profiler.stop", json!({})).await;
        let file = self
            .dir
            .join(format!("phone-{}.cpuprofile", run.replace(' ', "-")));
        std::fs::write(&file, stopped["profile"].to_string()).expect("write the profile");
    }
}
