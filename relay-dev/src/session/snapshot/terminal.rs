//! [`VirtualTerminal`]: the terminal a session's output draws, kept by
//! `avt` (screen, scrollback, cursor, pen, scroll region, alternate screen,
//! charsets, tab stops, auto wrap, origin and cursor-key modes) plus the
//! [`InputModes`] that `avt` does not keep, and its dump: the bytes that
//! rebuild it in a freshly reset terminal.

use protocol::Size;

use super::lines::{sgr_with_semicolons, write_history};
#[cfg(test)]
use super::modes::InputModes;
use super::modes::ModeTracker;

/// A virtual terminal fed with a session's output.
pub(crate) struct VirtualTerminal {
    screen: avt::Terminal,
    parser: vte::Parser,
    modes: ModeTracker,
    /// The first bytes of a UTF-8 character the last feed ended inside.
    partial_char: Vec<u8>,
    size: Size,
}

impl std::fmt::Debug for VirtualTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualTerminal")
            .field("size", &self.size)
            .field("modes", &self.modes.modes)
            .finish_non_exhaustive()
    }
}

impl VirtualTerminal {
    /// A blank terminal of `size` (each side at least 1) keeping up to
    /// `scrollback` lines that scrolled off its primary screen.
    pub(crate) fn new(size: Size, scrollback: usize) -> Self {
        let size = Size::new(size.rows.max(1), size.cols.max(1));
        let screen =
            avt::Terminal::with_scrollback(size.cols.into(), size.rows.into(), Some(scrollback))
                .expect("both sides are at least 1");
        Self {
            screen,
            parser: vte::Parser::new(),
            modes: ModeTracker::default(),
            partial_char: Vec::new(),
            size,
        }
    }

    /// The terminal's size.
    pub(crate) fn size(&self) -> Size {
        self.size
    }

    /// The input modes kept beside `avt`'s state.
    #[cfg(test)]
    pub(crate) fn input_modes(&self) -> InputModes {
        self.modes.modes
    }

    /// The `avt` terminal, for reading its screen.
    #[cfg(test)]
    pub(crate) fn screen(&self) -> &avt::Terminal {
        &self.screen
    }

    /// Interprets output bytes, which may end (and start) anywhere, also
    /// inside a UTF-8 character or an escape sequence. Bytes that are not
    /// UTF-8 are dropped, as xterm.js does.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.parser.advance(&mut self.modes, bytes);
        let joined;
        let mut rest = if self.partial_char.is_empty() {
            bytes
        } else {
            self.partial_char.extend_from_slice(bytes);
            joined = std::mem::take(&mut self.partial_char);
            &joined[..]
        };
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.screen.feed(text);
                    return;
                }
                Err(e) => {
                    let (valid, tail) = rest.split_at(e.valid_up_to());
                    // `valid` is UTF-8 up to `valid_up_to` by definition.
                    self.screen
                        .feed(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        None => {
                            self.partial_char = tail.to_vec();
                            return;
                        }
                        Some(bad) => rest = &tail[bad..],
                    }
                }
            }
        }
    }

    /// Takes a new size, as the PTY did (the primary screen reflows).
    pub(crate) fn resize(&mut self, size: Size) {
        let size = Size::new(size.rows.max(1), size.cols.max(1));
        if size != self.size {
            self.size = size;
            self.screen.resize(size.cols.into(), size.rows.into());
        }
    }

    /// Bytes that rebuild this terminal, with at most `lines` lines of
    /// scrollback, in a freshly reset terminal of the same size: the
    /// scrollback (printed, then scrolled off the screen), the input modes,
    /// then `avt`'s dump of the screens, cursor, pen and modes (truecolour
    /// written with `;`, which xterm.js reads), then any unfinished UTF-8
    /// character.
    pub(crate) fn dump(&self, lines: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_history(&self.screen, lines, &mut out);
        self.modes.modes.dump(&mut out);
        sgr_with_semicolons(self.screen.dump().as_bytes(), &mut out);
        out.extend_from_slice(&self.partial_char);
        out
    }
}
