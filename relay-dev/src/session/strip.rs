//! Removing erase-in-display sequences from replayed history (Codex policy).
//!
//! Codex redraws with `ESC [ J` (and `ESC [ 0J` … `ESC [ 3J`), which would wipe
//! the scrollback a viewer just rebuilt from history. [`EraseInDisplayFilter`]
//! removes exactly those sequences from a byte stream fed in chunks of any
//! size, so a sequence split across two chunks is still removed.

const ESC: u8 = 0x1b;

/// A streaming filter that drops `ESC [ J` and `ESC [ 0J`–`ESC [ 3J`:
/// `a ESC [` then `2J b` (then [`finish`](Self::finish)) gives `ab`.
///
/// The `codex_filter` fuzz target compiles this file into itself: keep it
/// free of `crate::` paths.
#[derive(Debug, Default)]
pub struct EraseInDisplayFilter {
    /// A prefix of a possible sequence: `ESC`, `ESC [` or `ESC [ digit`.
    pending: Vec<u8>,
}

impl EraseInDisplayFilter {
    /// Filters `input`, appending what is kept to `out`. Bytes that might start
    /// a sequence are held back until the next call or [`finish`](Self::finish).
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &byte in input {
            self.step(byte, out);
        }
    }

    /// Emits any held-back bytes (an incomplete sequence is not an erase).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
    }

    fn step(&mut self, byte: u8, out: &mut Vec<u8>) {
        let continues = match self.pending.len() {
            0 => byte == ESC,
            1 => byte == b'[',
            2 => byte == b'J' || (b'0'..=b'3').contains(&byte),
            _ => byte == b'J',
        };
        if continues {
            if byte == b'J' {
                self.pending.clear();
            } else {
                self.pending.push(byte);
            }
            return;
        }
        if self.pending.is_empty() {
            out.push(byte);
        } else {
            out.append(&mut self.pending);
            // The byte that broke the sequence may start a new one.
            self.step(byte, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EraseInDisplayFilter;

    fn filter_in_chunks(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut filter = EraseInDisplayFilter::default();
        let mut out = Vec::new();
        for part in input.chunks(chunk.max(1)) {
            filter.push(part, &mut out);
        }
        filter.finish(&mut out);
        out
    }

    #[test]
    fn removes_every_erase_in_display_form() {
        let input = b"a\x1b[Jb\x1b[0Jc\x1b[1Jd\x1b[2Je\x1b[3Jf";
        assert_eq!(filter_in_chunks(input, 1000), b"abcdef");
    }

    #[test]
    fn removes_sequences_split_at_every_position() {
        let input = b"top\x1b[2Jmiddle\x1b[Jend";
        for chunk in 1..input.len() {
            assert_eq!(
                filter_in_chunks(input, chunk),
                b"topmiddleend",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn keeps_other_sequences_and_partial_ones() {
        let kept: &[&[u8]] = &[
            b"\x1b[K",
            b"\x1b[4J",
            b"\x1b[2K",
            b"\x1b[12J",
            b"\x1b[?25l",
            b"\x1b\x1b[H",
            b"x\x1b",
            b"x\x1b[",
            b"x\x1b[2",
        ];
        for input in kept {
            assert_eq!(filter_in_chunks(input, 1), *input, "{input:?}");
        }
    }

    #[test]
    fn an_escape_that_breaks_a_sequence_starts_the_next_one() {
        assert_eq!(filter_in_chunks(b"\x1b\x1b[J", 1), b"\x1b");
        assert_eq!(filter_in_chunks(b"\x1b[\x1b[2J!", 2), b"\x1b[!");
    }
}
