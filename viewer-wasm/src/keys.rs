//! What the phone key bar sends: the byte sequences of keys a soft keyboard
//! lacks, and the sticky Ctrl modifier applied to the next typed key.

/// A key on the phone key bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKey {
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Ctrl: a sticky modifier for the next typed key (sends nothing itself).
    Ctrl,
    /// Arrow left.
    Left,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow right.
    Right,
    /// Enter (carriage return).
    Enter,
    /// Ctrl-C (interrupt).
    CtrlC,
}

impl BarKey {
    /// Every key, in the order the bar shows them.
    pub const ALL: [BarKey; 9] = [
        BarKey::Esc,
        BarKey::Tab,
        BarKey::Ctrl,
        BarKey::Left,
        BarKey::Up,
        BarKey::Down,
        BarKey::Right,
        BarKey::Enter,
        BarKey::CtrlC,
    ];

    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            BarKey::Esc => "Esc",
            BarKey::Tab => "Tab",
            BarKey::Ctrl => "Ctrl",
            BarKey::Left => "←",
            BarKey::Up => "↑",
            BarKey::Down => "↓",
            BarKey::Right => "→",
            BarKey::Enter => "⏎",
            BarKey::CtrlC => "^C",
        }
    }

    /// A name for assistive technology and tests.
    pub fn name(self) -> &'static str {
        match self {
            BarKey::Esc => "escape",
            BarKey::Tab => "tab",
            BarKey::Ctrl => "ctrl",
            BarKey::Left => "left",
            BarKey::Up => "up",
            BarKey::Down => "down",
            BarKey::Right => "right",
            BarKey::Enter => "enter",
            BarKey::CtrlC => "ctrl-c",
        }
    }

    /// The bytes this key sends; `application_cursor` is the terminal's
    /// DECCKM mode (full-screen programs switch arrows to `ESC O x`).
    /// `None` for the Ctrl modifier.
    pub fn sequence(self, application_cursor: bool) -> Option<&'static [u8]> {
        let arrow = |normal: &'static [u8], app: &'static [u8]| {
            Some(if application_cursor { app } else { normal })
        };
        match self {
            BarKey::Esc => Some(b"\x1b"),
            BarKey::Tab => Some(b"\t"),
            BarKey::Ctrl => None,
            BarKey::Left => arrow(b"\x1b[D", b"\x1bOD"),
            BarKey::Up => arrow(b"\x1b[A", b"\x1bOA"),
            BarKey::Down => arrow(b"\x1b[B", b"\x1bOB"),
            BarKey::Right => arrow(b"\x1b[C", b"\x1bOC"),
            BarKey::Enter => Some(b"\r"),
            BarKey::CtrlC => Some(b"\x03"),
        }
    }
}

/// Applies Ctrl to typed input: a single letter or one of `@[\]^_ ` becomes
/// its control byte (`c` → `0x03`). Anything else is returned unchanged.
pub fn with_ctrl(data: &str) -> String {
    let mut chars = data.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => match c.to_ascii_uppercase() {
            ' ' => "\0".to_owned(),
            up @ ('@'..='_') => char::from(up as u8 & 0x1f).to_string(),
            _ => data.to_owned(),
        },
        _ => data.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_maps_letters_and_symbols() {
        assert_eq!(with_ctrl("c"), "\x03");
        assert_eq!(with_ctrl("C"), "\x03");
        assert_eq!(with_ctrl("["), "\x1b");
        assert_eq!(with_ctrl(" "), "\0");
        assert_eq!(with_ctrl("1"), "1");
        assert_eq!(with_ctrl("ab"), "ab");
        assert_eq!(with_ctrl("é"), "é");
    }

    #[test]
    fn arrows_follow_cursor_key_mode() {
        assert_eq!(BarKey::Up.sequence(false), Some(&b"\x1b[A"[..]));
        assert_eq!(BarKey::Up.sequence(true), Some(&b"\x1bOA"[..]));
        assert_eq!(BarKey::Ctrl.sequence(false), None);
        assert_eq!(BarKey::CtrlC.sequence(true), Some(&b"\x03"[..]));
    }
}
