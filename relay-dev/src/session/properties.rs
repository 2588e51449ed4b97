//! Properties of the stream log and the history filter, against simple models.

use proptest::prelude::*;

use super::log::{CursorRead, StreamLog, ViewerCursor};
use super::strip::EraseInDisplayFilter;

/// One step applied to the log: plain append, or a resend at an offset
/// relative to the current end (negative: overlap, positive: a gap).
#[derive(Debug, Clone)]
enum Step {
    Append(Vec<u8>),
    AppendAt(i64, Vec<u8>),
    Read(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Append),
        (-30i64..30, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(d, v)| Step::AppendAt(d, v)),
        (1usize..50).prop_map(Step::Read),
    ]
}

/// A plain, non-streaming statement of the policy: scanning left to right,
/// drop every `ESC [ J` and `ESC [ d J` with `d` in 0–3, keep all else.
fn reference_filter(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        let erase_len = match rest {
            [0x1b, b'[', b'J', ..] => 3,
            [0x1b, b'[', b'0'..=b'3', b'J', ..] => 4,
            _ => 0,
        };
        if erase_len > 0 {
            i += erase_len;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

proptest! {
    /// The log always holds exactly the last `capacity` bytes of the model
    /// stream, and a cursor reads every byte it can exactly once, in order,
    /// reporting as gaps exactly the bytes it could not read.
    #[test]
    fn log_and_cursor_match_a_model(capacity in 1usize..64, steps in proptest::collection::vec(step(), 0..60)) {
        let mut log = StreamLog::new(capacity);
        // The model: every offset's byte, `None` for bytes skipped by a gap.
        let mut model: Vec<Option<u8>> = Vec::new();
        let mut cursor = ViewerCursor::at(0);
        let mut seen: Vec<Option<u8>> = Vec::new();
        // Where the log last jumped forward over missing bytes.
        let mut restarted_at = 0usize;
        for step in steps {
            match step {
                Step::Append(data) => {
                    log.append(&data);
                    model.extend(data.iter().map(|b| Some(*b)));
                }
                Step::AppendAt(delta, data) => {
                    let end = model.len() as i64;
                    let at = (end + delta).max(0) as u64;
                    log.append_at(at, &data);
                    let at = at as usize;
                    if at > model.len() {
                        model.resize(at, None);
                        restarted_at = at;
                    }
                    for (i, b) in data.iter().enumerate() {
                        if at + i >= model.len() {
                            model.push(Some(*b));
                        }
                    }
                }
                Step::Read(max) => match cursor.read(&log, max, u64::MAX) {
                    CursorRead::UpToDate => prop_assert_eq!(cursor.position(), log.end()),
                    CursorRead::Gap { from, to } => {
                        prop_assert_eq!(from as usize, seen.len());
                        seen.resize(to as usize, None);
                    }
                    CursorRead::Bytes { offset, data } => {
                        prop_assert_eq!(offset as usize, seen.len());
                        prop_assert!(data.len() <= max);
                        seen.extend(data.into_iter().map(Some));
                    }
                },
            }
            prop_assert_eq!(log.end() as usize, model.len());
            let expected_start = model.len().saturating_sub(capacity).max(restarted_at);
            prop_assert_eq!(log.start() as usize, expected_start);
            // The ring holds exactly the model's bytes in start..end.
            let mut fresh = ViewerCursor::at(log.start());
            let mut held = Vec::new();
            while let CursorRead::Bytes { data, .. } = fresh.read(&log, usize::MAX, u64::MAX) {
                held.extend(data);
            }
            let expected: Vec<u8> = model[expected_start..].iter().map(|b| b.expect("no gap inside the ring")).collect();
            prop_assert_eq!(held, expected);
        }
        // Whatever the cursor read is exactly the model's bytes there.
        for (i, byte) in seen.iter().enumerate() {
            if byte.is_some() {
                prop_assert_eq!(*byte, model[i]);
            }
        }
    }

    /// Filtering in chunks of any size gives the same result as filtering the
    /// whole stream at once, which is the plain reference policy.
    #[test]
    fn the_history_filter_ignores_chunk_boundaries(
        pieces in proptest::collection::vec(prop_oneof![
            Just(b"\x1b[J".to_vec()), Just(b"\x1b[2J".to_vec()), Just(b"\x1b[".to_vec()),
            Just(b"\x1b".to_vec()), Just(b"J".to_vec()), Just(b"3".to_vec()), Just(b"x".to_vec()),
        ], 0..40),
        chunk in 1usize..7,
    ) {
        let input: Vec<u8> = pieces.concat();
        let whole = {
            let mut f = EraseInDisplayFilter::default();
            let mut out = Vec::new();
            f.push(&input, &mut out);
            f.finish(&mut out);
            out
        };
        let chunked = {
            let mut f = EraseInDisplayFilter::default();
            let mut out = Vec::new();
            for part in input.chunks(chunk) {
                f.push(part, &mut out);
            }
            f.finish(&mut out);
            out
        };
        prop_assert_eq!(&whole, &chunked);
        prop_assert_eq!(&whole, &reference_filter(&input));
    }
}
