//! The local terminal: raw mode, its size, and putting it back.
//!
//! Raw mode is entered once with [`RawMode::enter`]; the original settings are
//! also kept in a process-wide slot so that [`restore`] can put them back from
//! any exit path: the guard's drop, the panic hook ([`install_panic_hook`]),
//! or a signal handler thread before `exit`.

use protocol::Size;
use rustix::termios::{self, OptionalActions, Termios};
use std::io::IsTerminal;
use std::sync::Mutex;

/// Size used when there is no terminal to ask (and `LINES`/`COLUMNS` are unset).
pub const FALLBACK_SIZE: Size = Size { rows: 24, cols: 80 };

/// Settings to restore, shared with the panic hook and signal handlers.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Whether standard input is a terminal (otherwise tether works on pipes,
/// without raw mode).
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// The local terminal's size: asked of stdout, then stdin; `None` without a
/// terminal (or a terminal that reports 0×0).
pub fn local_size() -> Option<Size> {
    let from = |size: termios::Winsize| {
        (size.ws_row > 0 && size.ws_col > 0).then(|| Size::new(size.ws_row, size.ws_col))
    };
    termios::tcgetwinsize(std::io::stdout())
        .ok()
        .and_then(from)
        .or_else(|| termios::tcgetwinsize(std::io::stdin()).ok().and_then(from))
}

/// The size for a new PTY: the local terminal's, else `LINES`×`COLUMNS`, else 24×80.
pub fn initial_size() -> Size {
    local_size().unwrap_or_else(|| {
        let env = |name| std::env::var(name).ok().and_then(|v| v.parse::<u16>().ok());
        match (env("LINES"), env("COLUMNS")) {
            (Some(rows), Some(cols)) => Size::new(rows, cols).at_least_one(),
            _ => FALLBACK_SIZE,
        }
    })
}

/// Raw mode on standard input; dropping it restores the original settings.
#[derive(Debug)]
pub struct RawMode {
    _private: (),
}

impl RawMode {
    /// Switches standard input to raw mode. Returns `None` (and changes
    /// nothing) when stdin is not a terminal.
    pub fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let original = termios::tcgetattr(&stdin).ok()?;
        let mut raw = original.clone();
        raw.make_raw();
        *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(original);
        // `Now`, not `Flush`: keys typed ahead of tether reach the agent.
        if termios::tcsetattr(&stdin, OptionalActions::Now, &raw).is_err() {
            restore();
            return None;
        }
        Some(Self { _private: () })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts back the terminal settings saved when raw mode was entered, once; does
/// nothing when raw mode was never entered or is already restored.
pub fn restore() {
    // `try_lock` rather than `lock`: a panic while the lock is held must not
    // deadlock the panic hook.
    let saved = match SAVED.try_lock() {
        Ok(mut slot) => slot.take(),
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().take(),
        Err(std::sync::TryLockError::WouldBlock) => None,
    };
    if let Some(original) = saved {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &original);
    }
}

/// Name of the thread whose panic ends only the relay link, not the session.
pub const LINK_THREAD: &str = "relay-link";

/// Chains a panic hook: a panic in the relay link thread is reported and the
/// session goes on locally; a panic anywhere else restores the terminal,
/// prints the default report on a usable screen and exits with status 101
/// (the agent gets SIGHUP when its terminal closes).
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(LINK_THREAD) {
            default(info);
            return;
        }
        restore();
        default(info);
        std::process::exit(101);
    }));
}

/// Turns off echo on standard input (for typing a secret); restores on drop.
#[derive(Debug)]
pub struct EchoOff {
    original: Termios,
}

impl EchoOff {
    /// Turns echo off; `None` when stdin is not a terminal.
    pub fn new() -> Option<Self> {
        let stdin = std::io::stdin();
        let original = termios::tcgetattr(&stdin).ok()?;
        let mut quiet = original.clone();
        quiet.local_modes.remove(termios::LocalModes::ECHO);
        termios::tcsetattr(&stdin, OptionalActions::Now, &quiet).ok()?;
        Some(Self { original })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.original);
    }
}
