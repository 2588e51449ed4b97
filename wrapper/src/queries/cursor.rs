//! A rough cursor position, followed from the agent's output.

use super::sequence::Sequence;
use crate::controls::{cells, first_control};
use protocol::Size;

/// A rough idea of where the agent's cursor is, from its output, for
/// answering CPR when no terminal does. It follows printable text, CR, LF,
/// BS, TAB and the common cursor movements; wide characters count as one cell.
#[derive(Debug, Clone)]
pub(super) struct CursorTracker {
    size: Size,
    /// Zero-based row.
    row: u16,
    /// Zero-based column; equal to the width while a wrap is pending.
    col: u16,
    saved: (u16, u16),
}

impl CursorTracker {
    pub(super) fn new(size: Size) -> Self {
        Self {
            size,
            row: 0,
            col: 0,
            saved: (0, 0),
        }
    }

    /// The PTY changed size: the cursor, and the position saved with
    /// `ESC 7` / `CSI s`, move inside it.
    pub(super) fn resize(&mut self, size: Size) {
        self.size = size;
        let inside = |(row, col): (u16, u16)| (row.min(size.rows - 1), col.min(size.cols - 1));
        (self.row, self.col) = inside((self.row, self.col));
        self.saved = inside(self.saved);
    }

    /// One-based (row, col), as a CPR reports it.
    pub(super) fn position(&self) -> (u16, u16) {
        (self.row + 1, self.col.min(self.size.cols - 1) + 1)
    }

    /// Follows `bytes` (no escape sequences in them): runs of text move
    /// the cursor in one step, controls one by one.
    pub(super) fn text(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(at) = first_control(rest) {
            self.print(cells(&rest[..at]));
            self.control(rest[at]);
            rest = &rest[at + 1..];
        }
        self.print(cells(rest));
    }

    /// `count` characters printed: the cursor moves right, wrapping at the
    /// last column (a wrap stays pending until the next character).
    fn print(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        let width = usize::from(self.size.cols);
        let col = usize::from(self.col).min(width);
        if col + count <= width {
            self.col = to_u16(col + count);
            return;
        }
        // Past the line's end: each further `width` characters wrap once.
        let after_wrap = count - (width - col);
        let wraps = after_wrap.div_ceil(width);
        self.col = to_u16(after_wrap - (wraps - 1) * width);
        let row = (usize::from(self.row) + wraps).min(usize::from(self.size.rows - 1));
        self.row = to_u16(row);
    }

    fn control(&mut self, byte: u8) {
        match byte {
            b'\r' => self.col = 0,
            b'\n' | 0x0b | 0x0c => self.row = (self.row + 1).min(self.size.rows - 1),
            0x08 => self.col = self.col.min(self.size.cols - 1).saturating_sub(1),
            b'\t' => self.col = ((self.col / 8 + 1) * 8).min(self.size.cols - 1),
            _ => {}
        }
    }

    pub(super) fn sequence(&mut self, seq: &Sequence) {
        let (rows, cols) = (self.size.rows, self.size.cols);
        match (seq.introducer, seq.private) {
            (b'7', _) => self.saved = (self.row, self.col),
            (b'8', _) => (self.row, self.col) = self.saved,
            (b'[', None) => {
                let n = seq.numbers();
                let arg = |i: usize| n.get(i).copied().filter(|&v| v > 0).unwrap_or(1);
                let col = self.col.min(cols - 1);
                match seq.final_byte {
                    b'H' | b'f' => {
                        self.row = arg(0).min(rows) - 1;
                        self.col = arg(1).min(cols) - 1;
                    }
                    b'A' => self.row = self.row.saturating_sub(arg(0)),
                    b'B' | b'e' => self.row = (self.row + arg(0)).min(rows - 1),
                    b'C' | b'a' => self.col = col.saturating_add(arg(0)).min(cols - 1),
                    b'D' => self.col = col.saturating_sub(arg(0)),
                    b'E' => (self.row, self.col) = ((self.row + arg(0)).min(rows - 1), 0),
                    b'F' => (self.row, self.col) = (self.row.saturating_sub(arg(0)), 0),
                    b'G' | b'`' => self.col = arg(0).min(cols) - 1,
                    b'd' => self.row = arg(0).min(rows) - 1,
                    b's' => self.saved = (self.row, self.col),
                    b'u' => (self.row, self.col) = self.saved,
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// A row or column, which never exceeds the terminal's `u16` size.
fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_tracker_follows_common_moves() {
        let mut c = CursorTracker::new(Size::new(5, 10));
        c.text(b"0123456789X");
        assert_eq!(c.position(), (2, 2), "wrapped");
        c.sequence(&seq(b"[", b"3;4", b'H'));
        assert_eq!(c.position(), (3, 4));
        c.text("é\t".as_bytes());
        assert_eq!(c.position(), (3, 9));
        c.text(b"\n\n\n\n\r");
        assert_eq!(c.position(), (5, 1), "scrolls at the bottom");
        c.sequence(&seq(b"[", b"2", b'A'));
        c.sequence(&seq(b"[", b"99", b'C'));
        assert_eq!(c.position(), (3, 10));
    }

    #[test]
    fn a_position_saved_before_the_pty_shrank_stays_inside() {
        let mut c = CursorTracker::new(Size::new(24, 80));
        c.sequence(&seq(b"[", b"21;70", b'H'));
        c.sequence(&seq(b"7", b"", 0));
        c.resize(Size::new(5, 10));
        c.sequence(&seq(b"8", b"", 0));
        assert_eq!(c.position(), (5, 10));
    }

    /// The cursor moved one byte at a time (how `text` behaved before it
    /// took runs of text at once).
    fn byte_by_byte(c: &mut CursorTracker, bytes: &[u8]) {
        for &b in bytes {
            match b {
                0x80..=0xbf => {}
                b if crate::controls::is_control(b) => c.control(b),
                _ => {
                    if c.col >= c.size.cols {
                        c.col = 0;
                        c.row = (c.row + 1).min(c.size.rows - 1);
                    }
                    c.col += 1;
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn runs_of_text_move_the_cursor_as_single_characters_do(
            rows in 1u16..6, cols in 1u16..12, start_col in 0u16..12,
            bytes in proptest::collection::vec(proptest::prop_oneof![
                proptest::prelude::Just(b'x'), proptest::prelude::Just(b'\r'),
                proptest::prelude::Just(b'\n'), proptest::prelude::Just(b'\t'),
                proptest::prelude::Just(0x08), proptest::prelude::Just(0xc3),
                proptest::prelude::Just(0xa9), proptest::prelude::Just(0x7f),
            ], 0..80),
        ) {
            let mut fast = CursorTracker::new(Size::new(rows, cols));
            fast.col = start_col.min(cols);
            let mut slow = fast.clone();
            fast.text(&bytes);
            byte_by_byte(&mut slow, &bytes);
            proptest::prop_assert_eq!((fast.row, fast.col), (slow.row, slow.col));
        }
    }

    fn seq(intro: &[u8], params: &[u8], final_byte: u8) -> Sequence {
        Sequence {
            introducer: intro[0],
            private: None,
            params: params.to_vec(),
            intermediates: Vec::new(),
            final_byte,
        }
    }
}
