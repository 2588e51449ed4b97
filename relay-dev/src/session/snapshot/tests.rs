//! The snapshot layer's round trip: feed bytes to a fresh terminal, dump
//! it, feed the dump to another fresh terminal of the same size — the two
//! show the same screens, scrollback, cursor and modes, and go on to react
//! the same to whatever comes next.

use proptest::prelude::*;
use protocol::Size;

use super::modes::{InputModes, MouseProtocol};
use super::terminal::VirtualTerminal;

fn terminal(rows: u16, cols: u16, bytes: &[u8]) -> VirtualTerminal {
    let mut vt = VirtualTerminal::new(Size::new(rows, cols), 100);
    vt.feed(bytes);
    vt
}

/// A fresh terminal of the same size, fed `vt`'s dump.
fn restored(vt: &VirtualTerminal, lines: usize) -> VirtualTerminal {
    let mut copy = VirtualTerminal::new(vt.size(), 100);
    copy.feed(&vt.dump(lines));
    copy
}

/// The active screen's rows.
fn text(vt: &VirtualTerminal) -> Vec<String> {
    let screen = vt.screen().screen();
    screen.visible_lines().map(|line| line.text()).collect()
}

/// The primary screen's lines, scrollback included, wrapped rows joined.
fn primary_text(vt: &VirtualTerminal) -> Vec<String> {
    vt.screen().primary_screen().text()
}

/// Same screens, scrollback, cursor and modes, and the same dump.
fn assert_same(original: &VirtualTerminal, copy: &VirtualTerminal) {
    let (a, b) = (original.screen(), copy.screen());
    assert_eq!(text(copy), text(original), "active screen");
    assert_eq!(
        primary_text(copy),
        primary_text(original),
        "primary screen and scrollback"
    );
    assert_eq!(b.cursor(), a.cursor(), "cursor");
    assert_eq!(
        b.active_screen_kind(),
        a.active_screen_kind(),
        "which screen"
    );
    assert_eq!(
        b.cursor_key_app_mode(),
        a.cursor_key_app_mode(),
        "cursor keys"
    );
    assert_eq!(copy.input_modes(), original.input_modes(), "input modes");
    assert_eq!(
        String::from_utf8_lossy(&copy.dump(100)),
        String::from_utf8_lossy(&original.dump(100)),
        "dump"
    );
}

/// Round trip, then the same output into both: they stay the same.
fn assert_round_trip(bytes: &[u8], rows: u16, cols: u16, then: &[u8]) {
    let mut original = terminal(rows, cols, bytes);
    let mut copy = restored(&original, 100);
    assert_same(&original, &copy);
    original.feed(then);
    copy.feed(then);
    assert_same(&original, &copy);
}

#[test]
fn screen_cursor_and_pen() {
    let bytes = b"\x1b[1;31mred\x1b[0m plain\r\n\x1b[38;2;1;2;3;48;5;200mtrue\x1b[3;7H\x1b[4mnow";
    let original = terminal(5, 20, bytes);
    let copy = restored(&original, 100);
    assert_same(&original, &copy);
    assert_eq!(text(&copy)[0].trim_end(), "red plain");
    assert_eq!(copy.screen().cursor().position(), Some((9, 2)));
    // The pen is still underlined: what comes next is too.
    assert_round_trip(bytes, 5, 20, b" more\x1b[0m");
}

#[test]
fn truecolour_is_written_the_way_xterm_js_reads_it() {
    let dump = terminal(2, 10, b"\x1b[38;2;10;20;30mx").dump(0);
    let dump = String::from_utf8(dump).unwrap();
    assert!(dump.contains("38;2;10;20;30"), "{dump:?}");
    assert!(!dump.contains("38:2"), "{dump:?}");
}

#[test]
fn hidden_cursor_and_the_cursor_after_the_last_column() {
    assert_round_trip(b"\x1b[?25labc", 3, 10, b"d");
    // Pending wrap: the next character goes to the next line.
    assert_round_trip(b"0123456789", 3, 10, b"x");
}

#[test]
fn scrollback_up_to_the_lines_asked_for() {
    let mut bytes = Vec::new();
    for n in 1..=50 {
        bytes.extend_from_slice(format!("line {n}\r\n").as_bytes());
    }
    let original = terminal(5, 20, &bytes);
    let all = restored(&original, 100);
    assert_same(&original, &all);
    let some = restored(&original, 20);
    let lines = primary_text(&some);
    assert_eq!(lines.len(), 20 + 5, "20 lines of scrollback and the screen");
    assert_eq!(lines[0], "line 27");
    assert_eq!(text(&some), text(&original));
    assert_eq!(
        primary_text(&restored(&original, 0)).len(),
        5,
        "no scrollback"
    );
}

#[test]
fn soft_wrapped_lines_wrap_again() {
    let bytes = b"a line longer than ten columns\r\nshort\r\n\r\n\r\n\r\n\r\n";
    let original = terminal(3, 10, bytes);
    let copy = restored(&original, 100);
    assert_eq!(primary_text(&copy)[0], "a line longer than ten columns");
    assert_same(&original, &copy);
}

#[test]
fn the_alternate_screen_keeps_the_primary_behind_it() {
    let bytes = b"$ ls\r\nfile\r\n$ vi\x1b[?1049h\x1b[H\x1b[2Jfull screen\x1b[5;1H~";
    let original = terminal(5, 20, bytes);
    let copy = restored(&original, 100);
    assert_eq!(
        copy.screen().active_screen_kind(),
        avt::ScreenKind::Alternate
    );
    assert_eq!(text(&copy)[0].trim_end(), "full screen");
    assert_same(&original, &copy);
    // Leaving it shows the shell again, cursor where it was.
    assert_round_trip(bytes, 5, 20, b"\x1b[?1049l after");
}

#[test]
fn scroll_region_and_origin_mode() {
    let bytes = b"top\r\n\x1b[2;4r\x1b[?6h\x1b[1;1Hin region";
    // Line feeds scroll only rows 2–4; the cursor stays inside them.
    assert_round_trip(bytes, 6, 20, b"\r\n1\r\n2\r\n3\r\n4\x1b[1;1Hhome");
}

#[test]
fn input_modes_and_auto_wrap() {
    let bytes = b"\x1b[?1h\x1b=\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?1004h\x1b[?7l\x1b[2 q";
    let original = terminal(3, 10, bytes);
    let copy = restored(&original, 100);
    assert!(copy.screen().cursor_key_app_mode());
    assert_eq!(
        copy.input_modes(),
        InputModes {
            keypad: true,
            bracketed_paste: true,
            focus: true,
            mouse: MouseProtocol::ButtonMotion,
            mouse_encoding: Some(1006),
            cursor_style: 2,
        }
    );
    assert_same(&original, &copy);
    // No auto wrap: a long line stays on its row.
    assert_round_trip(bytes, 3, 10, b"0123456789abcdef");
}

#[test]
fn a_character_or_sequence_cut_at_the_offset_is_finished_by_what_follows() {
    let mut original = terminal(3, 20, b"caf\xc3");
    original.feed(b"\xa9 \xe4\xb8");
    let mut copy = restored(&original, 100);
    original.feed(b"\xad\x1b[3");
    copy.feed(b"\xad\x1b[3");
    assert_eq!(text(&copy)[0].trim_end(), "café 中");
    let mut copy = restored(&original, 100);
    original.feed(b"1mred");
    copy.feed(b"1mred");
    assert_same(&original, &copy);
}

#[test]
fn a_resize_reflows_and_the_dump_is_at_the_new_size() {
    let mut original = terminal(4, 20, b"one two three four five six\r\nnext");
    original.resize(Size::new(6, 8));
    assert_eq!(original.size(), Size::new(6, 8));
    let copy = restored(&original, 100);
    assert_same(&original, &copy);
}

#[test]
fn origin_mode_outside_the_region_is_avts_limit() {
    // The case proptest found: the cursor restored outside the region with
    // origin mode on, then the alternate screen (whose saved cursor is the
    // default one).
    let bytes = b"\x1b[?6h\x1b7\x1b[2;4r\x1b[?1049l\x1b[?47h";
    let original = terminal(5, 10, bytes);
    let copy = restored(&original, 100);
    assert!(String::from_utf8_lossy(&original.dump(0)).contains("\x1b[u"));
    assert_eq!(copy.screen().cursor(), original.screen().cursor());
    assert_eq!(text(&copy), text(&original));
}

/// Pieces of terminal output: text, controls, and the sequences whose state
/// a snapshot must carry.
pub(super) fn piece() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"abc "[..],
        b"wide \xe4\xb8\xad ",
        b"\xc3\xa9",
        b"0123456789",
        b"\r\n",
        b"\n",
        b"\r",
        b"\t",
        b"\x08",
        b"\x1b[1;31m",
        b"\x1b[0m",
        b"\x1b[38;2;10;20;30m",
        b"\x1b[48;5;200m",
        b"\x1b[7m",
        b"\x1b[H",
        b"\x1b[3;5H",
        b"\x1b[2A",
        b"\x1b[3C",
        b"\x1b7",
        b"\x1b8",
        b"\x1b[K",
        b"\x1b[2J",
        b"\x1b[J",
        b"\x1b[1K",
        b"\x1b[2;4r",
        b"\x1b[r",
        b"\x1bM",
        b"\x1b[L",
        b"\x1b[M",
        b"\x1b[?1h",
        b"\x1b[?1l",
        b"\x1b=",
        b"\x1b>",
        b"\x1b[?2004h",
        b"\x1b[?2004l",
        b"\x1b[?1000h",
        b"\x1b[?1003l",
        b"\x1b[?1006h",
        b"\x1b[?1004h",
        b"\x1b[?7l",
        b"\x1b[?7h",
        b"\x1b[?6h",
        b"\x1b[?6l",
        b"\x1b[?25l",
        b"\x1b[?25h",
        b"\x1b[4h",
        b"\x1b[4l",
        b"\x1b[?1049h",
        b"\x1b[?1049l",
        b"\x1b[?47h",
        b"\x1b[?47l",
        b"\x1b(0",
        b"\x1b(B",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the output, the restored terminal is the same and stays so.
    #[test]
    fn any_output_round_trips(
        before in prop::collection::vec(piece(), 0..60),
        after in prop::collection::vec(piece(), 0..20),
    ) {
        let (before, after) = (before.concat(), after.concat());
        let mut original = terminal(5, 10, &before);
        // Origin mode on with the cursor outside the scroll region (reached
        // only by restoring a cursor saved outside it, then switching
        // screens): avt's dump reaches that cursor with SCORC, which also
        // restores the saved cursor's origin mode, so the copy can end with
        // origin mode off. xterm.js, the viewer, never holds that state (it
        // clamps such a cursor into the region), so it is left out here and
        // pinned by `origin_mode_outside_the_region_is_avts_limit`.
        prop_assume!(!original.dump(0).windows(3).any(|w| w == b"\x1b[u"));
        let mut copy = restored(&original, 100);
        prop_assert_eq!(text(&copy), text(&original));
        prop_assert_eq!(primary_text(&copy), primary_text(&original));
        prop_assert_eq!(copy.screen().cursor(), original.screen().cursor());
        prop_assert_eq!(copy.input_modes(), original.input_modes());
        original.feed(&after);
        copy.feed(&after);
        prop_assert_eq!(text(&copy), text(&original));
        prop_assert_eq!(primary_text(&copy), primary_text(&original));
        prop_assert_eq!(copy.screen().cursor(), original.screen().cursor());
        prop_assert_eq!(copy.input_modes(), original.input_modes());
        prop_assert_eq!(copy.screen().cursor_key_app_mode(), original.screen().cursor_key_app_mode());
    }
}
