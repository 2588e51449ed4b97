//! [`SignalScanner`]: finds, in the agent's output, the sequences by which a
//! program asks for the person — OSC 9 (iTerm2), OSC 777;notify (rxvt,
//! Ghostty, foot…), OSC 99 (kitty) and BEL — and where it prints text.
//!
//! Incremental: a sequence split across chunks is found as if it came whole.
//! Bounded: an OSC's payload is kept up to [`MAX_OSC`] bytes, the rest of it
//! is skipped (vte's parser, built with `std` as the relay builds it, would
//! keep an unterminated OSC without bound). Only what can carry a
//! notification is parsed: CSI, DCS, SOS, PM and APC are skipped whole, so a
//! BEL inside them (or ending an OSC) is no bell — but a notification in
//! tmux's passthrough (`ESC P tmux; ESC ESC ] 9 ; … ESC \`, as agents send
//! it inside tmux) is found: the doubled ESC starts the OSC within.

use crate::controls::first_control;

/// OSC payload bytes kept (a notification's text is cut to 1 KiB later; the
/// rest leaves room for the `777;notify;TITLE;` prefix).
pub(crate) const MAX_OSC: usize = 2048;

/// What the output carried, at a byte index of the chunk scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Text (not an escape sequence) was printed.
    Printed,
    /// A notification, with its text when it had one (BEL has none).
    Notify(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Esc,
    Csi,
    Osc,
    OscEsc,
    /// DCS, SOS, PM, APC: skipped until ST.
    Str,
    StrEsc,
}

/// The scanner; keep one per stream.
#[derive(Debug, Default)]
pub(crate) struct SignalScanner {
    state: State,
    osc: Vec<u8>,
    /// A kitty notification sent in parts (`d=0`): its title and body so far.
    kitty: KittyParts,
}

#[derive(Debug, Default)]
struct KittyParts {
    title: String,
    body: String,
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
/// CAN and SUB abort any sequence.
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;

impl SignalScanner {
    /// Scans `chunk`, calling `found(index, signal)` in stream order. At most
    /// one `Printed` is reported per run of text.
    pub(crate) fn scan(&mut self, chunk: &[u8], mut found: impl FnMut(usize, Signal)) {
        let mut printing = false;
        let mut i = 0;
        while i < chunk.len() {
            // Text, and the inside of a DCS/SOS/PM/APC, are skipped whole
            // up to the next byte that can change anything.
            let skip = match self.state {
                State::Ground => first_control(&chunk[i..]),
                State::Str => memchr::memchr3(ESC, CAN, SUB, &chunk[i..]),
                _ => Some(0),
            };
            let skip = skip.unwrap_or(chunk.len() - i);
            if skip > 0 {
                if self.state == State::Ground && !printing {
                    found(i, Signal::Printed);
                }
                printing = self.state == State::Ground;
                i += skip;
                continue;
            }
            let byte = chunk[i];
            i += 1;
            if byte == CAN || byte == SUB {
                self.state = State::Ground;
                continue;
            }
            self.step(byte, i - 1, &mut found);
            printing = false;
        }
    }

    /// One byte that is not plain text, at index `i` of the chunk.
    fn step(&mut self, byte: u8, i: usize, found: &mut impl FnMut(usize, Signal)) {
        match self.state {
            State::Ground => match byte {
                ESC => self.state = State::Esc,
                BEL => found(i, Signal::Notify(None)),
                _ => {}
            },
            State::Esc => self.after_esc(byte),
            State::Csi => match byte {
                ESC => self.state = State::Esc,
                0x40..=0x7e => self.state = State::Ground,
                _ => {}
            },
            State::Osc => match byte {
                BEL => self.end_osc(i, found),
                ESC => self.state = State::OscEsc,
                _ => {
                    if self.osc.len() < MAX_OSC {
                        self.osc.push(byte);
                    }
                }
            },
            State::OscEsc => {
                // ST (`ESC \`) ends it; any other ESC also ends the OSC
                // and starts a new sequence.
                self.end_osc(i, found);
                if byte != b'\\' {
                    self.after_esc(byte);
                }
            }
            State::Str => {
                if byte == ESC {
                    self.state = State::StrEsc;
                }
            }
            State::StrEsc => match byte {
                b'\\' => self.state = State::Ground,
                _ => self.after_esc(byte),
            },
        }
    }

    fn after_esc(&mut self, byte: u8) {
        self.state = match byte {
            b'[' => State::Csi,
            b']' => {
                self.osc.clear();
                State::Osc
            }
            b'P' | b'X' | b'^' | b'_' => State::Str,
            ESC => State::Esc,
            // Intermediates (`ESC ( B`): the sequence goes on.
            0x20..=0x2f => State::Esc,
            _ => State::Ground,
        };
    }

    fn end_osc(&mut self, i: usize, found: &mut impl FnMut(usize, Signal)) {
        self.state = State::Ground;
        let payload = String::from_utf8_lossy(&self.osc).into_owned();
        self.osc.clear();
        if let Some(text) = self.notification(&payload) {
            found(i, Signal::Notify(text));
        }
    }

    /// The notification an OSC payload carries: `Some(text)` for one,
    /// `None` for any other OSC.
    fn notification(&mut self, payload: &str) -> Option<Option<String>> {
        let (code, rest) = payload.split_once(';').unwrap_or((payload, ""));
        match code {
            // iTerm2's `OSC 9 ; text`; ConEmu's `OSC 9 ; 4 ; …` (progress)
            // and its other numbered commands are not notifications.
            "9" if !is_conemu(rest) => Some(non_empty(rest)),
            "777" => {
                let rest = rest.strip_prefix("notify;")?;
                let (title, body) = rest.split_once(';').unwrap_or((rest, ""));
                Some(join(title, body))
            }
            "99" => self.kitty(rest),
            _ => None,
        }
    }

    /// kitty's `OSC 99 ; metadata ; payload`: `p=title` (the default) or
    /// `p=body`; `d=0` means more parts follow. Queries and other payload
    /// kinds are not notifications.
    fn kitty(&mut self, rest: &str) -> Option<Option<String>> {
        let (metadata, payload) = rest.split_once(';').unwrap_or((rest, ""));
        let mut done = true;
        let mut kind = "title";
        for pair in metadata.split(':') {
            match pair.split_once('=') {
                Some(("d", "0")) => done = false,
                Some(("p", value)) => kind = value,
                _ => {}
            }
        }
        match kind {
            "title" => self.kitty.title.push_str(payload),
            "body" => self.kitty.body.push_str(payload),
            _ => return None,
        }
        if !done {
            return None;
        }
        let parts = std::mem::take(&mut self.kitty);
        Some(join(&parts.title, &parts.body))
    }
}

fn is_conemu(rest: &str) -> bool {
    let number = rest.split(';').next().unwrap_or("");
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `title: body`, or whichever is not empty.
fn join(title: &str, body: &str) -> Option<String> {
    match (non_empty(title), non_empty(body)) {
        (Some(title), Some(body)) => Some(format!("{title}: {body}")),
        (title, body) => title.or(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signals(chunks: &[&[u8]]) -> Vec<Signal> {
        let mut scanner = SignalScanner::default();
        let mut out = Vec::new();
        for chunk in chunks {
            scanner.scan(chunk, |_, s| out.push(s));
        }
        out
    }

    fn notify(text: &str) -> Signal {
        Signal::Notify(Some(text.to_string()))
    }

    #[test]
    fn each_notification_sequence_is_found() {
        assert_eq!(
            signals(&[b"\x1b]9;Allow edit?\x07"]),
            [notify("Allow edit?")]
        );
        assert_eq!(
            signals(&[b"\x1b]777;notify;Claude;Needs you\x1b\\"]),
            [notify("Claude: Needs you")]
        );
        assert_eq!(signals(&[b"\x1b]99;;Done\x1b\\"]), [notify("Done")]);
        assert_eq!(
            signals(&[
                b"\x1b]99;i=1:d=0;Codex\x1b\\",
                b"\x1b]99;i=1:p=body;Approve?\x1b\\"
            ]),
            [notify("Codex: Approve?")]
        );
        assert_eq!(signals(&[b"\x07"]), [Signal::Notify(None)]);
    }

    #[test]
    fn notifications_passed_through_tmux_are_found() {
        // Inside tmux, Claude Code and Codex wrap OSC 9 in tmux's DCS
        // passthrough (`ESC P tmux; …`, each ESC doubled).
        assert_eq!(
            signals(&[b"\x1bPtmux;\x1b\x1b]9;Allow edit?\x07\x1b\\"]),
            [notify("Allow edit?")]
        );
        assert_eq!(
            signals(&[b"\x1bPtmux;\x1b\x1b]9;Done\x1b\x1b\\\x1b\\", b"x"]),
            [notify("Done"), Signal::Printed]
        );
    }

    #[test]
    fn other_sequences_are_not_notifications() {
        // A title (OSC 0/2, BEL-terminated), ConEmu progress, a kitty query,
        // a BEL inside DCS, a CSI.
        let quiet: &[&[u8]] = &[
            b"\x1b]0;title\x07",
            b"\x1b]9;4;1;50\x07",
            b"\x1b]99;i=1:p=?;\x1b\\",
            b"\x1bPq\x07#\x1b\\",
            b"\x1b[2J\x1b(B",
        ];
        assert_eq!(signals(quiet), []);
        assert_eq!(
            signals(&[b"hi\x1b[1mthere\r\n"]),
            [Signal::Printed, Signal::Printed]
        );
    }

    #[test]
    fn an_endless_osc_is_bounded() {
        let mut scanner = SignalScanner::default();
        scanner.scan(b"\x1b]9;", |_, _| {});
        for _ in 0..100 {
            scanner.scan(&[b'x'; 4096], |_, _| {});
        }
        assert_eq!(scanner.osc.len(), MAX_OSC);
        let mut out = Vec::new();
        scanner.scan(b"\x07", |_, s| out.push(s));
        assert_eq!(out, [notify(&"x".repeat(MAX_OSC - 2))]);
    }

    /// The scanner fed one byte at a time (how `scan` read before it
    /// skipped text in runs).
    fn byte_by_byte(scanner: &mut SignalScanner, chunk: &[u8]) -> Vec<(usize, Signal)> {
        let mut out = Vec::new();
        let mut found = |i, s| out.push((i, s));
        let mut printing = false;
        for (i, &byte) in chunk.iter().enumerate() {
            if byte == CAN || byte == SUB {
                scanner.state = State::Ground;
                continue;
            }
            if scanner.state == State::Ground && !crate::controls::is_control(byte) {
                if !printing {
                    found(i, Signal::Printed);
                }
                printing = true;
                continue;
            }
            scanner.step(byte, i, &mut found);
            printing = false;
        }
        out
    }

    proptest! {
        /// Skipping runs of text finds what reading byte by byte does.
        #[test]
        fn runs_are_skipped_without_changing_what_is_found(
            chunks in proptest::collection::vec(proptest::collection::vec(prop_oneof![
                Just(b'x'), Just(0x1b), Just(b']'), Just(b'['), Just(b'9'), Just(b';'),
                Just(0x07), Just(b'\\'), Just(b'P'), Just(b'\r'), Just(CAN), Just(0x7f),
                Just(0xc3),
            ], 0..40), 1..4),
        ) {
            let (mut fast, mut slow) = (SignalScanner::default(), SignalScanner::default());
            for chunk in &chunks {
                let mut found = Vec::new();
                fast.scan(chunk, |i, s| found.push((i, s)));
                prop_assert_eq!(found, byte_by_byte(&mut slow, chunk));
                prop_assert_eq!(fast.state, slow.state);
            }
        }

        /// Chunk boundaries change nothing (the indices shift, the signals do not).
        #[test]
        fn chunking_changes_nothing(
            pieces in proptest::collection::vec(prop_oneof![
                Just(b"\x1b]9;hi\x07".to_vec()), Just(b"\x1b]777;notify;a;b\x1b\\".to_vec()),
                Just(b"\x1b]99;;k\x1b\\".to_vec()), Just(b"\x07".to_vec()), Just(b"\x1b".to_vec()),
                Just(b"]".to_vec()), Just(b"x".to_vec()), Just(b"\x1b[".to_vec()), Just(b";".to_vec()),
            ], 0..30),
            cut in 1usize..9,
        ) {
            let input: Vec<u8> = pieces.concat();
            let mut whole = Vec::new();
            SignalScanner::default().scan(&input, |i, s| whole.push((i, s)));
            let mut chunked = Vec::new();
            let mut scanner = SignalScanner::default();
            for (n, part) in input.chunks(cut).enumerate() {
                scanner.scan(part, |i, s| chunked.push((n * cut + i, s)));
            }
            // Runs of text split by a boundary report `Printed` once per part.
            let notes = |v: &[(usize, Signal)]| v.iter().filter(|(_, s)| *s != Signal::Printed).cloned().collect::<Vec<_>>();
            prop_assert_eq!(notes(&whole), notes(&chunked));
        }
    }
}
