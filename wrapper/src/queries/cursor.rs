//! A rough cursor position, followed from the agent's output.

use super::sequence::Sequence;
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

    pub(super) fn text(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\r' => self.col = 0,
                b'\n' | 0x0b | 0x0c => self.row = (self.row + 1).min(self.size.rows - 1),
                0x08 => self.col = self.col.min(self.size.cols - 1).saturating_sub(1),
                b'\t' => self.col = ((self.col / 8 + 1) * 8).min(self.size.cols - 1),
                // UTF-8 continuation bytes and other controls take no cell.
                0x80..=0xbf | 0x00..=0x1f | 0x7f => {}
                _ => {
                    if self.col >= self.size.cols {
                        self.col = 0;
                        self.row = (self.row + 1).min(self.size.rows - 1);
                    }
                    self.col += 1;
                }
            }
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
