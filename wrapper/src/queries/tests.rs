//! The arbiter's rules, one story each, and the parser's properties.

use super::cursor_reports::cursor_reports;
use super::*;
use proptest::prelude::*;

fn arbiter(local: bool) -> (QueryArbiter, Instant) {
    (QueryArbiter::new(Size::new(24, 80), local), Instant::now())
}

#[test]
fn with_a_local_terminal_only_its_answer_is_forwarded() {
    let (mut q, t0) = arbiter(true);
    assert!(q.observe_output(b"hello\x1b[6n", t0));
    // A viewer answers first: dropped.
    assert_eq!(q.viewer_input(b"\x1b[3;7R", t0), b"");
    // The local terminal's answer goes through.
    assert_eq!(q.local_input(b"\x1b[1;6R", t0), b"\x1b[1;6R");
    // A second viewer's late copy: dropped. Its typing is not.
    assert_eq!(q.viewer_input(b"\x1b[1;6Rls\r", t0), b"ls\r");
    assert_eq!(
        q.next_deadline(),
        None,
        "no self-answers with a local terminal"
    );
}

#[test]
fn without_local_terminal_first_viewer_wins() {
    let (mut q, t0) = arbiter(false);
    q.observe_output(b"\x1b[c\x1b]11;?\x07", t0);
    assert_eq!(q.viewer_input(b"\x1b[?62;22c", t0), b"\x1b[?62;22c");
    assert_eq!(q.viewer_input(b"\x1b[?1;2c", t0), b"", "duplicate DA1");
    let osc = b"\x1b]11;rgb:0000/0000/0000\x1b\\";
    assert_eq!(q.viewer_input(osc, t0), osc);
    assert_eq!(q.viewer_input(osc, t0), b"");
}

#[test]
fn cursor_positions_are_clamped_to_the_pty() {
    let (mut q, t0) = arbiter(true);
    q.set_pty_size(Size::new(10, 40));
    q.observe_output(b"\x1b[6n", t0);
    assert_eq!(q.local_input(b"\x1b[55;120R", t0), b"\x1b[10;40R");
    q.observe_output(b"\x1b[?6n", t0);
    assert_eq!(q.local_input(b"\x1b[?0;3R", t0), b"\x1b[?1;3R");
}

#[test]
fn keys_that_look_like_replies_pass_when_nothing_was_asked() {
    let (mut q, t0) = arbiter(true);
    // Ctrl+F3 in some encodings is ESC[1;5R.
    assert_eq!(q.local_input(b"\x1b[1;5R", t0), b"\x1b[1;5R");
    assert_eq!(q.viewer_input(b"a\x1b[Ab\x1b", t0), b"a\x1b[Ab\x1b");
    let (mut q, t0) = arbiter(false);
    assert_eq!(q.viewer_input(b"\x1b[1;5R", t0), b"\x1b[1;5R");
}

#[test]
fn the_local_terminals_own_answers_are_not_typing() {
    // Replies to queries (CPR, DA1, DA2, mode, colour, version) and focus
    // reports, alone or several in one read.
    for answers in [
        &b"\x1b[24;80R"[..],
        b"\x1b[?1;2c\x1b[>0;276;0c",
        b"\x1b[?2004;1$y",
        b"\x1b]11;rgb:0000/0000/0000\x1b\\",
        b"\x1bP>|tmux 3.4\x1b\\",
        b"\x1b[I",
        b"\x1b[O\x1b[0n",
        b"\x1b[12;",
        b"",
    ] {
        assert!(!typed(answers), "{answers:?}");
    }
    // Keys: text, Enter, Ctrl+C, arrows, Esc, a paste, a mouse click; and
    // typing in the same read as a reply.
    for keys in [
        &b"a"[..],
        b"\r",
        b"\x03",
        b"\x1b[A",
        b"\x1bOA",
        b"\x1b",
        b"\x1b[200~hi\x1b[201~",
        b"\x1b[<0;3;4M",
        b"\x1b[24;80Rx",
        b"x\x1b[24;80R",
        b"\x1b[I\x1b[B",
    ] {
        assert!(typed(keys), "{keys:?}");
    }
}

#[test]
fn queries_split_across_chunks_are_seen() {
    let (mut q, t0) = arbiter(false);
    assert!(!q.observe_output(b"abc\x1b[", t0));
    assert!(q.observe_output(b"6n", t0));
    assert_eq!(q.viewer_input(b"\x1b[1;4R", t0), b"\x1b[1;4R");
}

#[test]
fn nobody_answers_cpr_and_da1_so_the_wrapper_does() {
    let (mut q, t0) = arbiter(false);
    q.observe_output(b"line1\r\nab\x1b[6n\x1b[c\x1b[>0q", t0);
    assert_eq!(q.next_deadline(), Some(t0 + SELF_ANSWER_AFTER));
    assert_eq!(q.poll(t0 + Duration::from_millis(100)), b"");
    let answers = q.poll(t0 + SELF_ANSWER_AFTER);
    assert_eq!(answers, b"\x1b[2;3R\x1b[?1;2c");
    assert_eq!(q.next_deadline(), None);
    // A viewer's late answer is now a duplicate.
    assert_eq!(q.viewer_input(b"\x1b[2;3R", t0 + SELF_ANSWER_AFTER), b"");
}

#[test]
fn mode_reports_match_their_mode() {
    let (mut q, t0) = arbiter(false);
    q.observe_output(b"\x1b[?2026$p", t0);
    assert_eq!(
        q.viewer_input(b"\x1b[?1004;2$y", t0),
        b"\x1b[?1004;2$y",
        "not the asked mode: passes as is"
    );
    assert_eq!(q.viewer_input(b"\x1b[?2026;2$y", t0), b"\x1b[?2026;2$y");
    assert_eq!(q.viewer_input(b"\x1b[?2026;2$y", t0), b"");
}

#[test]
fn version_and_keyboard_queries() {
    let (mut q, t0) = arbiter(false);
    q.observe_output(b"\x1b[>0q\x1b[?u", t0);
    let version = b"\x1bP>|xterm.js(5.5.0)\x1b\\";
    assert_eq!(q.viewer_input(version, t0), version);
    assert_eq!(q.viewer_input(version, t0), b"");
    assert_eq!(q.viewer_input(b"\x1b[?0u", t0), b"\x1b[?0u");
}

#[test]
fn pending_queries_expire() {
    let (mut q, t0) = arbiter(true);
    q.observe_output(b"\x1b[>c", t0);
    let later = t0 + PENDING_LIMIT + DUPLICATE_WINDOW;
    assert_eq!(
        q.viewer_input(b"\x1b[>0;276;0c", later),
        b"",
        "viewer replies still dropped with a local terminal"
    );
    assert_eq!(q.local_input(b"\x1b[>0;276;0c", later), b"\x1b[>0;276;0c");
}

#[test]
fn a_flood_of_queries_stays_bounded() {
    let (mut q, t0) = arbiter(true);
    q.observe_output(&b"\x1b[6n".repeat(10_000), t0);
    assert_eq!(q.pending.len(), MAX_TRACKED);
}

/// Queries agents send, as whole sequences.
const QUERIES: &[&[u8]] = &[
    b"\x1b[6n",
    b"\x1b[?6n",
    b"\x1b[c",
    b"\x1b[>c",
    b"\x1b[>0q",
    b"\x1b[5n",
    b"\x1b[?2026$p",
    b"\x1b[?u",
    b"\x1b]10;?\x07",
    b"\x1b]11;?\x1b\\",
];

/// Replies terminals send, as whole sequences (cursor positions inside 24×80).
const REPLIES: &[&[u8]] = &[
    b"\x1b[3;7R",
    b"\x1b[24;80R",
    b"\x1b[?1;2c",
    b"\x1b[?62;22c",
    b"\x1b[>0;276;0c",
    b"\x1bP>|xterm.js(5.5.0)\x1b\\",
    b"\x1b[0n",
    b"\x1b[?2026;2$y",
    b"\x1b[?0u",
    b"\x1b]11;rgb:0000/0000/0000\x1b\\",
    b"\x1b]10;rgb:ffff/ffff/ffff\x07",
];

/// Cursor movements the wrapper follows to answer CPR itself.
const MOVES: &[&[u8]] = &[
    b"\x1b7",
    b"\x1b8",
    b"\x1b[s",
    b"\x1b[u",
    b"\x1b[99;250H",
    b"\x1b[40B",
    b"\x1b[200C",
    b"\r\n",
];

/// Bytes that tend to form escape sequences, queries and replies (whole or
/// cut), mixed with any byte at all; shorter than the longest sequence the
/// arbiter carries over, so that nothing is given up as too long.
fn escape_soup() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"\x1b\x1b[]?>$;6015nRcqpyuP|\x07\\\r\n\x08\txs78HABCDEFGd".to_vec();
    let piece = prop_oneof![
        4 => prop::sample::select(alphabet).prop_map(|b| vec![b]),
        2 => prop::sample::select(QUERIES).prop_map(<[u8]>::to_vec),
        2 => prop::sample::select(REPLIES).prop_map(<[u8]>::to_vec),
        2 => prop::sample::select(MOVES).prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..120).prop_map(|pieces| {
        let mut bytes = pieces.concat();
        bytes.truncate(MAX_SEQUENCE - 1);
        bytes
    })
}

/// `bytes` cut at the given points (in any order, repeats allowed).
fn cut(bytes: &[u8], points: &[prop::sample::Index]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = points.iter().map(|p| p.index(bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut from = 0;
    let mut pieces = Vec::new();
    for to in at.into_iter().chain([bytes.len()]) {
        pieces.push(bytes[from..to].to_vec());
        from = to;
    }
    pieces
}

fn pending_kinds(q: &QueryArbiter) -> Vec<QueryKind> {
    q.pending.iter().map(|p| p.kind).collect()
}

/// One piece of typed input: plain text, or a whole reply.
#[derive(Debug, Clone)]
enum Typed {
    Text(Vec<u8>),
    Reply(&'static [u8]),
}

fn typed_input() -> impl Strategy<Value = Vec<Typed>> {
    let text = prop::collection::vec(any::<u8>().prop_filter("no ESC", |&b| b != 0x1b), 1..8);
    let piece = prop_oneof![
        text.prop_map(Typed::Text),
        prop::sample::select(REPLIES).prop_map(Typed::Reply),
    ];
    prop::collection::vec(piece, 0..12)
}

/// Whether `out` is `input` with some of its replies left out: every text
/// byte kept, in order, and every reply either kept whole or dropped whole.
fn is_input_minus_replies(input: &[Typed], mut out: &[u8]) -> bool {
    for piece in input {
        match piece {
            Typed::Text(text) => match out.strip_prefix(text.as_slice()) {
                Some(rest) => out = rest,
                None => return false,
            },
            Typed::Reply(reply) => out = out.strip_prefix(*reply).unwrap_or(out),
        }
    }
    out.is_empty()
}

proptest! {
    /// The agent's output may arrive cut anywhere: the queries seen, the
    /// cursor followed and what is carried over are those of one piece.
    #[test]
    fn output_cut_anywhere_is_seen_as_one_piece(
        output in escape_soup(),
        points in prop::collection::vec(any::<prop::sample::Index>(), 0..5),
        local in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut whole = QueryArbiter::new(Size::new(24, 80), local);
        let found_whole = whole.observe_output(&output, t0);
        let mut pieces = QueryArbiter::new(Size::new(24, 80), local);
        let mut found = false;
        for piece in cut(&output, &points) {
            found |= pieces.observe_output(&piece, t0);
        }
        prop_assert_eq!(found, found_whole);
        prop_assert_eq!(pending_kinds(&pieces), pending_kinds(&whole));
        prop_assert_eq!(&pieces.carry, &whole.carry);
        prop_assert_eq!(pieces.cursor.position(), whole.cursor.position());
    }

    /// Input that answers nothing reaches the agent unchanged, byte for
    /// byte: from the local terminal always, from a viewer when no local
    /// terminal is attached.
    #[test]
    fn input_that_answers_nothing_passes_unchanged(
        input in escape_soup(),
        local in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut q = QueryArbiter::new(Size::new(24, 80), local);
        prop_assert_eq!(q.local_input(&input, t0), input.clone());
        if !local {
            prop_assert_eq!(q.viewer_input(&input, t0), input);
        }
    }

    /// Whatever was asked, and whoever types, what reaches the agent is the
    /// input minus whole replies: typing is never lost or changed.
    #[test]
    fn only_whole_replies_are_ever_removed(
        output in escape_soup(),
        inputs in prop::collection::vec((any::<bool>(), typed_input()), 1..6),
        local in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut q = QueryArbiter::new(Size::new(24, 80), local);
        q.observe_output(&output, t0);
        for (from_viewer, typed) in &inputs {
            let bytes: Vec<u8> = typed
                .iter()
                .flat_map(|piece| match piece {
                    Typed::Text(text) => text.clone(),
                    Typed::Reply(reply) => reply.to_vec(),
                })
                .collect();
            let out = if *from_viewer {
                q.viewer_input(&bytes, t0)
            } else {
                q.local_input(&bytes, t0)
            };
            prop_assert!(
                is_input_minus_replies(typed, &out),
                "in {:?}, out {:?}",
                String::from_utf8_lossy(&bytes),
                String::from_utf8_lossy(&out)
            );
        }
    }

    /// No cursor position outside the PTY reaches the agent: neither a
    /// terminal's answer nor the wrapper's own, also after the PTY shrank.
    #[test]
    fn cursor_positions_stay_inside_the_pty(
        first_size in (1u16..300, 1u16..300),
        (rows, cols) in (1u16..300, 1u16..300),
        before in escape_soup(),
        after in escape_soup(),
        answer in (0u16..1000, 0u16..1000),
        local in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let inside = |(row, col): (u32, u32)| (1..=u32::from(rows)).contains(&row) && (1..=u32::from(cols)).contains(&col);
        let asked = |local| {
            let mut q = QueryArbiter::new(Size::new(first_size.0, first_size.1), local);
            q.observe_output(&before, t0);
            q.set_pty_size(Size::new(rows, cols));
            q.observe_output(&after, t0);
            q.observe_output(b"\x1b[6n", t0);
            q
        };

        let mut q = asked(local);
        let reply = format!("\x1b[{};{}R", answer.0, answer.1);
        let out = if local {
            q.local_input(reply.as_bytes(), t0)
        } else {
            q.viewer_input(reply.as_bytes(), t0)
        };
        let forwarded = cursor_reports(&out);
        prop_assert!(matches!(forwarded[..], [one] if inside(one)), "forwarded {:?}", String::from_utf8_lossy(&out));

        let own = asked(false).poll(t0 + SELF_ANSWER_AFTER);
        let answered = cursor_reports(&own);
        prop_assert!(!answered.is_empty(), "the wrapper answers the CPR itself: {:?}", String::from_utf8_lossy(&own));
        prop_assert!(answered.into_iter().all(inside), "answered {:?}", String::from_utf8_lossy(&own));
    }
}
