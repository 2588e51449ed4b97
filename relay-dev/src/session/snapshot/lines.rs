//! Writing `avt`'s lines as text and SGR: the scrollback that `avt`'s own
//! dump leaves out ([`write_history`]), and the colour syntax fix its dump
//! needs for xterm.js ([`sgr_with_semicolons`]).

use avt::{Cell, Color, Line, Pen};

/// Writes the last `lines` lines of the primary screen's scrollback so that
/// a freshly reset terminal of the same size ends up with them in its
/// scrollback: they are printed followed by the primary screen's rows (a
/// soft-wrapped line to the last column, so it wraps again — also from the
/// scrollback onto the screen), which scrolls them off; then the pen is
/// default and the cursor sent home, for `avt`'s dump to draw the screens
/// over what is there. Nothing when no line has scrolled off.
///
/// ```text
/// 3 rows, scrollback "a", "b", screen "c" "d" "e" → a CR LF b CR LF c CR LF d CR LF e ESC[H
/// ```
pub(crate) fn write_history(terminal: &avt::Terminal, lines: usize, out: &mut Vec<u8>) {
    let (cols, rows) = terminal.size();
    let screen = terminal.primary_screen();
    let history = screen.all_lines().count().saturating_sub(rows);
    let take = history.min(lines);
    if take == 0 {
        return;
    }
    let shown: Vec<&Line> = screen.all_lines().skip(history - take).collect();
    let mut pen = Pen::default();
    let mut continues = false;
    for (i, line) in shown.iter().enumerate() {
        let last = i + 1 == shown.len();
        let wraps = line.is_wrapped() && !last;
        let written = out.len();
        write_line(line, cols, wraps, &mut pen, out);
        if continues && out.len() == written {
            // Something must be printed for the line above to wrap here.
            out.push(b' ');
        }
        continues = wraps;
        if !wraps && !last {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\x1b[H");
}

/// One line's cells with their pens, ending with the default pen. A line
/// that `wraps` is written to exactly `cols` cells; another stops at its
/// last non-blank cell.
fn write_line(line: &Line, cols: usize, wraps: bool, pen: &mut Pen, out: &mut Vec<u8>) {
    let cells: Vec<&Cell> = line.cells().iter().take(cols).collect();
    let used = if wraps {
        cells.len()
    } else {
        cells.len() - cells.iter().rev().take_while(|c| is_blank(c)).count()
    };
    let mut text = [0; 4];
    for cell in &cells[..used] {
        if cell.width() == 0 {
            continue; // the right half of a wide character
        }
        if cell.pen() != pen {
            *pen = *cell.pen();
            write_sgr(pen, out);
        }
        out.extend_from_slice(cell.char().encode_utf8(&mut text).as_bytes());
    }
    // Back to the default pen: lines scrolled in take the pen's colours.
    if !pen.is_default() {
        *pen = Pen::default();
        out.extend_from_slice(b"\x1b[m");
    }
    if wraps {
        let drawn: usize = cells.iter().map(|c| usize::from(c.width())).sum();
        out.extend(std::iter::repeat_n(b' ', cols.saturating_sub(drawn)));
    }
}

fn is_blank(cell: &Cell) -> bool {
    cell.char() == ' ' && cell.pen().is_default()
}

/// `ESC [ 0 ; … m` selecting exactly `pen`.
fn write_sgr(pen: &Pen, out: &mut Vec<u8>) {
    let mut params = String::from("0");
    let flags = [
        (pen.is_bold(), "1"),
        (pen.is_faint(), "2"),
        (pen.is_italic(), "3"),
        (pen.is_underline(), "4"),
        (pen.is_blink(), "5"),
        (pen.is_inverse(), "7"),
        (pen.is_strikethrough(), "9"),
    ];
    for (on, param) in flags {
        if on {
            params.push(';');
            params.push_str(param);
        }
    }
    for (color, base) in [(pen.foreground(), 30), (pen.background(), 40)] {
        match color {
            None => {}
            Some(Color::Indexed(n)) if n < 8 => params.push_str(&format!(";{}", base + n)),
            Some(Color::Indexed(n)) if n < 16 => params.push_str(&format!(";{}", base + 52 + n)),
            Some(Color::Indexed(n)) => params.push_str(&format!(";{};5;{n}", base + 8)),
            Some(Color::RGB(c)) => {
                params.push_str(&format!(";{};2;{};{};{}", base + 8, c.r, c.g, c.b));
            }
        }
    }
    out.extend_from_slice(format!("\x1b[{params}m").as_bytes());
}

/// Copies `dump` to `out` with `:` turned into `;` inside SGR sequences:
/// `avt` writes colours as `38:2:R:G:B`, which xterm.js reads as
/// `38:2:<colour space>:R:G` (it wants `38:2::R:G:B`); `38;2;R;G;B` means
/// the same to every terminal.
pub(crate) fn sgr_with_semicolons(dump: &[u8], out: &mut Vec<u8>) {
    let mut rest = dump;
    while let Some(at) = rest.windows(2).position(|w| w == b"\x1b[") {
        let (before, sequence) = rest.split_at(at);
        out.extend_from_slice(before);
        let end = sequence[2..]
            .iter()
            .position(|b| (0x40..=0x7e).contains(b))
            .map_or(sequence.len(), |i| i + 3);
        let (sequence, after) = sequence.split_at(end);
        if sequence.last() == Some(&b'm') {
            out.extend(sequence.iter().map(|&b| if b == b':' { b';' } else { b }));
        } else {
            out.extend_from_slice(sequence);
        }
        rest = after;
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history_of(bytes: &str, rows: usize, lines: usize) -> String {
        let mut terminal = avt::Terminal::with_scrollback(10, rows, Some(100)).unwrap();
        terminal.feed(bytes);
        let mut out = Vec::new();
        write_history(&terminal, lines, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scrolled_off_lines_are_printed_then_pushed_off_by_the_screen() {
        assert_eq!(
            history_of("a\r\nb\r\nc\r\nd\r\ne", 3, 10),
            "a\r\nb\r\nc\r\nd\r\ne\x1b[H"
        );
        assert_eq!(
            history_of("a\r\nb\r\nc\r\nd\r\ne", 3, 1),
            "b\r\nc\r\nd\r\ne\x1b[H"
        );
        assert_eq!(history_of("a\r\nb", 3, 10), "", "nothing scrolled off yet");
    }

    #[test]
    fn pens_and_wrapped_lines() {
        let written = history_of(
            "\x1b[1;31mred\x1b[m x\r\n0123456789wrapped\r\n\r\n\r\n",
            2,
            10,
        );
        assert_eq!(
            written,
            "\x1b[0;1;31mred\x1b[0m x\r\n0123456789wrapped\r\n\r\n\r\n\x1b[H"
        );
    }

    #[test]
    fn colours_of_every_kind() {
        let mut pen_bytes = Vec::new();
        let mut terminal = avt::Terminal::new(20, 1).unwrap();
        terminal.feed("\x1b[2;3;4;5;7;9;93;104mA\x1b[0;38;5;200;48;2;1;2;3mB");
        let line = terminal.screen().line(0).unwrap().clone();
        let mut pen = Pen::default();
        write_line(&line, 20, false, &mut pen, &mut pen_bytes);
        assert_eq!(
            String::from_utf8(pen_bytes).unwrap(),
            "\x1b[0;2;3;4;5;7;9;93;104mA\x1b[0;38;5;200;48;2;1;2;3mB\x1b[m"
        );
    }

    #[test]
    fn colons_become_semicolons_in_sgr_only() {
        let mut out = Vec::new();
        sgr_with_semicolons(b"a:b\x1b[38:2:1:2:3mc:d\x1b[1:2Hx\x1b[", &mut out);
        assert_eq!(out, b"a:b\x1b[38;2;1;2;3mc:d\x1b[1:2Hx\x1b[");
    }
}
