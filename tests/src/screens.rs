//! Comparing what a real terminal (tmux) shows with what the browser shows:
//! [`ScreenState`] (size, cursor, each visible row), read from both sides,
//! and [`screens_match`], which waits until they are equal — the check of
//! the whole-system tests.

use std::fmt;

use crate::browser::Browser;
use crate::relay::RelayProcess;
use crate::tmux::Tmux;
use crate::wait::{eventually, poll, SYSTEM_DEADLINE};

/// What a terminal shows: size, cursor, and each visible row with trailing
/// spaces removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenState {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// Cursor column and row, from 0.
    pub cursor: (u16, u16),
    /// The visible rows, trailing spaces removed.
    pub lines: Vec<String>,
}

impl ScreenState {
    /// A screen of `cols`×`rows` with the cursor at `cursor` showing `lines`
    /// (padded or cut to `rows`).
    pub fn new(cols: u16, rows: u16, cursor: (u16, u16), lines: Vec<String>) -> Self {
        let mut lines: Vec<String> = lines
            .into_iter()
            .map(|line| line.trim_end().to_owned())
            .collect();
        lines.resize(usize::from(rows), String::new());
        Self {
            cols,
            rows,
            cursor,
            lines,
        }
    }

    /// The rows joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

impl fmt::Display for ScreenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}x{}, cursor at column {} row {}",
            self.cols, self.rows, self.cursor.0, self.cursor.1
        )?;
        for (number, line) in self.lines.iter().enumerate() {
            writeln!(f, "{number:>3}|{line}")?;
        }
        Ok(())
    }
}

/// The local terminal's screen, from tmux.
pub fn local_screen(tmux: &Tmux) -> ScreenState {
    let (cols, rows, x, y) = tmux.geometry();
    let lines = tmux.screen().lines().map(str::to_owned).collect();
    ScreenState::new(cols, rows, (x, y), lines)
}

/// The browser's screen: the visible rows of xterm's active buffer.
pub async fn browser_screen(browser: &Browser) -> Option<ScreenState> {
    let value = browser
        .eval(
            "const h = window.__tether; if (!h || !h.term) return null; \
             const t = h.term, b = t.buffer.active, lines = []; \
             for (let y = 0; y < t.rows; y++) { \
               const line = b.getLine(b.baseY + y); \
               lines.push(line ? line.translateToString(true) : ''); \
             } \
             return { cols: t.cols, rows: t.rows, x: b.cursorX, y: b.cursorY, lines };",
            vec![],
        )
        .await;
    let number = |name: &str| {
        value[name]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(0)
    };
    let lines: Vec<String> = serde_json::from_value(value.get("lines")?.clone()).ok()?;
    Some(ScreenState::new(
        number("cols"),
        number("rows"),
        (number("x"), number("y")),
        lines,
    ))
}

/// Waits until the terminal shows `needle` and the browser shows exactly
/// the same screen; saves a screenshot as `system-{step}.png`. Panics with
/// both screens if they still differ at the deadline.
pub async fn screens_match(
    tmux: &Tmux,
    browser: &Browser,
    step: &str,
    needle: &str,
) -> ScreenState {
    let matched = poll(SYSTEM_DEADLINE, async || {
        let local = local_screen(tmux);
        let remote = browser_screen(browser).await;
        (local.text().contains(needle) && remote.as_ref() == Some(&local)).then_some(local)
    })
    .await;
    if let Some(local) = matched {
        browser.screenshot(&format!("system-{step}")).await;
        return local;
    }
    browser.screenshot(&format!("system-{step}-mismatch")).await;
    let hook = browser.hook().await;
    let local = local_screen(tmux);
    let remote = browser_screen(browser).await;
    let remote = remote.map_or_else(|| "no terminal yet".to_owned(), |s| s.to_string());
    panic!(
        "{step}: after {SYSTEM_DEADLINE:?} the screens still differ (waiting for {needle:?})\n\
         viewer hook: {hook}\n--- terminal (tmux) ---\n{local}--- browser (xterm) ---\n{remote}"
    );
}

/// The id of the one session the key's user has, once it is live.
pub async fn live_session(relay: &RelayProcess, key: &str) -> String {
    eventually("a live session", SYSTEM_DEADLINE, async || {
        let sessions = relay.sessions(key).await;
        let live = sessions.into_iter().find(|s| s.status == "live");
        live.map(|s| s.id)
    })
    .await
}
