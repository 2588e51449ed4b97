//! Escape sequences: just enough of a parser to find CSI, OSC and DCS
//! sequences (and where they end) in output and input.

/// Longest escape sequence carried over between output chunks.
pub(crate) const MAX_SEQUENCE: usize = 512;

/// A parsed escape sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    /// `[` for CSI, `]` for OSC, `P` for DCS, or the byte after ESC.
    pub(crate) introducer: u8,
    /// CSI private marker (`?`, `>`, `<`, `=`).
    pub(crate) private: Option<u8>,
    /// CSI parameters (digits and `;`), or the OSC/DCS payload.
    pub(crate) params: Vec<u8>,
    /// CSI intermediate bytes (e.g. `$`).
    pub(crate) intermediates: Vec<u8>,
    /// CSI final byte (0 for OSC/DCS).
    pub(crate) final_byte: u8,
}

impl Sequence {
    pub(crate) fn numbers(&self) -> Vec<u16> {
        self.params
            .split(|&b| b == b';')
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    pub(crate) fn first_number(&self) -> u16 {
        self.numbers().first().copied().unwrap_or(0)
    }
}

pub(crate) enum Parsed {
    /// A whole sequence of this many bytes.
    Complete(usize, Sequence),
    /// The bytes end inside a sequence.
    Incomplete,
    /// ESC followed by something else: skip this many bytes.
    NotASequence(usize),
}

/// Parses the escape sequence at the start of `bytes` (which starts with ESC).
pub(crate) fn parse_sequence(bytes: &[u8]) -> Parsed {
    let Some(&introducer) = bytes.get(1) else {
        return Parsed::Incomplete;
    };
    match introducer {
        b'[' => parse_csi(bytes),
        b']' | b'P' => parse_string(bytes, introducer),
        0x20..=0x7e => Parsed::Complete(
            2,
            Sequence {
                introducer,
                private: None,
                params: Vec::new(),
                intermediates: Vec::new(),
                final_byte: 0,
            },
        ),
        _ => Parsed::NotASequence(1),
    }
}

fn parse_csi(bytes: &[u8]) -> Parsed {
    let mut i = 2;
    let private = match bytes.get(i) {
        Some(&b @ (b'?' | b'>' | b'<' | b'=')) => {
            i += 1;
            Some(b)
        }
        Some(_) => None,
        None => return Parsed::Incomplete,
    };
    let params_start = i;
    while let Some(&b) = bytes.get(i) {
        if !(b.is_ascii_digit() || b == b';' || b == b':') {
            break;
        }
        i += 1;
    }
    let params_end = i;
    while let Some(&b) = bytes.get(i) {
        if !(0x20..=0x2f).contains(&b) {
            break;
        }
        i += 1;
    }
    let intermediates_end = i;
    match bytes.get(i) {
        None if i < MAX_SEQUENCE => Parsed::Incomplete,
        Some(&final_byte) if (0x40..=0x7e).contains(&final_byte) => Parsed::Complete(
            i + 1,
            Sequence {
                introducer: b'[',
                private,
                params: bytes[params_start..params_end].to_vec(),
                intermediates: bytes[params_end..intermediates_end].to_vec(),
                final_byte,
            },
        ),
        // A malformed CSI: skip the ESC and let the rest pass as text.
        _ => Parsed::NotASequence(1),
    }
}

/// OSC and DCS: payload up to BEL or ST (`ESC \`).
fn parse_string(bytes: &[u8], introducer: u8) -> Parsed {
    let mut i = 2;
    while let Some(&b) = bytes.get(i) {
        let end = match b {
            0x07 => Some(i + 1),
            0x1b => match bytes.get(i + 1) {
                Some(b'\\') => Some(i + 2),
                Some(_) => return Parsed::NotASequence(1),
                None => return Parsed::Incomplete,
            },
            _ => None,
        };
        if let Some(end) = end {
            return Parsed::Complete(
                end,
                Sequence {
                    introducer,
                    private: None,
                    params: bytes[2..i].to_vec(),
                    intermediates: Vec::new(),
                    final_byte: 0,
                },
            );
        }
        if i >= MAX_SEQUENCE {
            return Parsed::NotASequence(1);
        }
        i += 1;
    }
    Parsed::Incomplete
}
