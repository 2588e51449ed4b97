//! [`InputModes`]: the terminal modes that change what keys and the mouse
//! send, which `avt` does not keep: application keypad, bracketed paste,
//! mouse reporting and its encoding, focus reporting, and the cursor style.
//! (Application cursor keys, auto wrap, origin mode, cursor visibility and
//! the alternate screen are `avt`'s; its dump restores them.)
//!
//! The rules follow xterm.js, the viewer's terminal: one mouse protocol at a
//! time (the latest set; resetting any of them turns reporting off), one
//! encoding, a soft reset (`CSI ! p`) clears keypad, paste and focus but not
//! the mouse, a full reset (`ESC c`) clears everything.

use vte::{Params, Perform};

/// Which mouse events are reported (DECSET 9, 1000, 1002, 1003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum MouseProtocol {
    /// No reporting.
    #[default]
    Off,
    /// Presses only (X10, `?9`).
    Press,
    /// Presses and releases (`?1000`).
    PressRelease,
    /// Also motion while a button is held (`?1002`).
    ButtonMotion,
    /// All motion (`?1003`).
    AnyMotion,
}

impl MouseProtocol {
    fn from_mode(mode: u16) -> Option<Self> {
        Some(match mode {
            9 => Self::Press,
            1000 => Self::PressRelease,
            1002 => Self::ButtonMotion,
            1003 => Self::AnyMotion,
            _ => return None,
        })
    }

    fn mode(self) -> Option<u16> {
        match self {
            Self::Off => None,
            Self::Press => Some(9),
            Self::PressRelease => Some(1000),
            Self::ButtonMotion => Some(1002),
            Self::AnyMotion => Some(1003),
        }
    }
}

/// How mouse reports are encoded: the DECSET mode that chose it (1005 UTF-8,
/// 1006 SGR, 1015 urxvt, 1016 SGR pixels), or `None` for the default bytes.
pub(crate) type MouseEncoding = Option<u16>;

/// The input-affecting modes of a terminal, kept from its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct InputModes {
    /// Application keypad (`ESC =`, `?66`).
    pub(crate) keypad: bool,
    /// Bracketed paste (`?2004`).
    pub(crate) bracketed_paste: bool,
    /// Focus in/out reports (`?1004`).
    pub(crate) focus: bool,
    /// Mouse reporting.
    pub(crate) mouse: MouseProtocol,
    /// Mouse report encoding.
    pub(crate) mouse_encoding: MouseEncoding,
    /// DECSCUSR cursor style (`CSI Ps SP q`), 0 = the terminal's default.
    pub(crate) cursor_style: u16,
}

impl InputModes {
    /// Escape sequences that set these modes on a freshly reset terminal
    /// (nothing for the defaults).
    ///
    /// ```text
    /// keypad + bracketed paste + SGR mouse on presses → ESC = ESC[?2004h ESC[?1000h ESC[?1006h
    /// ```
    pub(crate) fn dump(&self, out: &mut Vec<u8>) {
        if self.keypad {
            out.extend_from_slice(b"\x1b=");
        }
        let mut set = |mode: u16| out.extend_from_slice(format!("\x1b[?{mode}h").as_bytes());
        if self.bracketed_paste {
            set(2004);
        }
        if self.focus {
            set(1004);
        }
        if let Some(mode) = self.mouse.mode() {
            set(mode);
        }
        if let Some(mode) = self.mouse_encoding {
            set(mode);
        }
        if self.cursor_style != 0 {
            out.extend_from_slice(format!("\x1b[{} q", self.cursor_style).as_bytes());
        }
    }

    fn private_mode(&mut self, mode: u16, on: bool) {
        match mode {
            66 => self.keypad = on,
            1004 => self.focus = on,
            2004 => self.bracketed_paste = on,
            1005 | 1006 | 1015 | 1016 => {
                if on {
                    self.mouse_encoding = Some(mode);
                } else if self.mouse_encoding == Some(mode) {
                    self.mouse_encoding = None;
                }
            }
            _ => {
                if let Some(protocol) = MouseProtocol::from_mode(mode) {
                    self.mouse = if on { protocol } else { MouseProtocol::Off };
                }
            }
        }
    }

    /// DECSTR, as xterm.js does it: keypad, paste and focus go back to their
    /// defaults; mouse reporting stays.
    fn soft_reset(&mut self) {
        self.keypad = false;
        self.bracketed_paste = false;
        self.focus = false;
    }
}

/// Feeds parsed sequences into [`InputModes`].
#[derive(Debug, Default)]
pub(crate) struct ModeTracker {
    pub(crate) modes: InputModes,
}

impl Perform for ModeTracker {
    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, action: char) {
        if ignore {
            return;
        }
        match (intermediates, action) {
            (b"?", 'h' | 'l') => {
                for param in params {
                    if let Some(&mode) = param.first() {
                        self.modes.private_mode(mode, action == 'h');
                    }
                }
            }
            (b"!", 'p') => self.modes.soft_reset(),
            (b" ", 'q') => {
                let style = params.iter().next().and_then(|p| p.first().copied());
                self.modes.cursor_style = style.unwrap_or(0);
            }
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, intermediates: &[u8], ignore: bool, byte: u8) {
        if ignore || !intermediates.is_empty() {
            return;
        }
        match byte {
            b'=' => self.modes.keypad = true,
            b'>' => self.modes.keypad = false,
            b'c' => self.modes = InputModes::default(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes_after(bytes: &[u8]) -> InputModes {
        let mut tracker = ModeTracker::default();
        let mut parser = vte::Parser::new();
        // Byte by byte: sequences split anywhere still count.
        for byte in bytes {
            parser.advance(&mut tracker, std::slice::from_ref(byte));
        }
        tracker.modes
    }

    fn dumped(modes: &InputModes) -> Vec<u8> {
        let mut out = Vec::new();
        modes.dump(&mut out);
        out
    }

    #[test]
    fn keeps_each_mode_and_dumps_it_back() {
        let modes = modes_after(b"\x1b=\x1b[?2004h\x1b[?1004h\x1b[?1002;1006h\x1b[5 q");
        assert_eq!(
            modes,
            InputModes {
                keypad: true,
                bracketed_paste: true,
                focus: true,
                mouse: MouseProtocol::ButtonMotion,
                mouse_encoding: Some(1006),
                cursor_style: 5,
            }
        );
        assert_eq!(modes_after(&dumped(&modes)), modes, "the dump round-trips");
        assert_eq!(dumped(&InputModes::default()), b"", "defaults need nothing");
    }

    #[test]
    fn one_mouse_protocol_at_a_time_and_any_reset_turns_it_off() {
        assert_eq!(
            modes_after(b"\x1b[?1000h\x1b[?1003h").mouse,
            MouseProtocol::AnyMotion
        );
        assert_eq!(
            modes_after(b"\x1b[?1003h\x1b[?1000l").mouse,
            MouseProtocol::Off
        );
        assert_eq!(
            modes_after(b"\x1b[?1006h\x1b[?1015l").mouse_encoding,
            Some(1006),
            "resetting another encoding keeps this one"
        );
        assert_eq!(modes_after(b"\x1b[?1006h\x1b[?1006l").mouse_encoding, None);
    }

    #[test]
    fn resets_follow_xterm_js() {
        let soft = modes_after(b"\x1b=\x1b[?2004;1004;1000h\x1b[!p");
        assert!(!soft.keypad && !soft.bracketed_paste && !soft.focus);
        assert_eq!(
            soft.mouse,
            MouseProtocol::PressRelease,
            "DECSTR keeps the mouse"
        );
        assert_eq!(
            modes_after(b"\x1b=\x1b[?2004;1000h\x1bc"),
            InputModes::default()
        );
        assert!(!modes_after(b"\x1b=\x1b>").keypad);
        assert!(modes_after(b"\x1b[?66h").keypad);
    }

    #[test]
    fn look_alikes_change_nothing() {
        // Not a private mode (no `?`), text of an OSC string, a cancelled
        // sequence, a mode request (DECRQM).
        let bytes = b"\x1b[2004h\x1b]0;[?2004h is a title\x07\x1b[?20\x18\x1b[?1000$p";
        assert_eq!(modes_after(bytes), InputModes::default());
    }
}
