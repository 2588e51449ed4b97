//! Terminal output that looks like an agent's, for benchmarks and tests that
//! need many megabytes of it: prose wrapped in colour, code and diff lines,
//! test logs, and the spinner and status-line redraws of a TUI, drawn from a
//! fixed vocabulary by a seeded generator (the same bytes every run).
//!
//! Compression figures depend on what is compressed: this text compresses
//! about as well as a real session's (3–5× with DEFLATE), unlike a repeated
//! pattern (hundreds ×) or random bytes (none).

/// Exactly `len` bytes of agent-like output, the same for the same `seed`.
pub fn agent_output(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(len + 256);
    let mut turn = 0u64;
    while out.len() < len {
        turn += 1;
        match rng.below(10) {
            0..=3 => prose(&mut rng, &mut out),
            4 | 5 => code(&mut rng, &mut out),
            6 => diff(&mut rng, &mut out),
            7 => test_log(&mut rng, &mut out),
            _ => spinner(&mut rng, &mut out, turn),
        }
    }
    out.truncate(len);
    out
}

const WORDS: &[&str] = &[
    "the", "a", "to", "of", "and", "in", "is", "that", "for", "it", "with", "as", "on", "this",
    "be", "file", "function", "test", "tests", "error", "value", "return", "type", "module",
    "relay", "viewer", "session", "offset", "buffer", "frame", "stream", "cursor", "terminal",
    "change", "fix", "add", "remove", "update", "check", "build", "run", "now", "then", "which",
    "because", "should", "would", "could", "case", "when", "where", "config", "option", "flag",
    "request", "response", "handler", "state", "struct", "enum", "trait", "impl", "async", "await",
    "lock", "queue", "limit", "timeout", "retry", "socket", "message", "decode", "encode", "parse",
    "read", "write", "close", "open", "path", "line", "column", "screen", "history", "snapshot",
    "replay", "compress", "bytes", "size", "length", "index", "key",
];

const IDENTS: &[&str] = &[
    "session", "viewer", "offset", "frames", "bytes", "cursor", "state", "config", "result",
    "decoder", "encoder", "link", "feed", "batch", "window", "ack", "len", "max", "count",
    "buffer", "reader", "writer", "message", "reason", "path", "size", "rows", "cols",
];

const KEYWORDS: &[&str] = &[
    "let",
    "let mut",
    "if let Some",
    "match",
    "return",
    "for",
    "while",
    "self.",
];

/// Xorshift64: small, deterministic, good enough to pick words.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

fn prose(rng: &mut Rng, out: &mut Vec<u8>) {
    let lines = 1 + rng.below(4);
    out.extend_from_slice(b"\x1b[1m\xe2\x97\x8f\x1b[0m ");
    for _ in 0..lines {
        let mut width = 0;
        while width < 60 + rng.below(30) {
            let word = rng.pick(WORDS);
            if rng.below(12) == 0 {
                out.extend_from_slice(format!("\x1b[36m`{word}`\x1b[0m ").as_bytes());
            } else {
                out.extend_from_slice(word.as_bytes());
                out.push(b' ');
            }
            width += word.len() as u64 + 1;
        }
        out.extend_from_slice(b"\r\n  ");
    }
    out.extend_from_slice(b"\r\n");
}

fn code(rng: &mut Rng, out: &mut Vec<u8>) {
    let lines = 2 + rng.below(10);
    let first = 1 + rng.below(400);
    for line_no in first..first + lines {
        let indent = 4 * rng.below(4) as usize;
        let text = format!(
            "\x1b[2m{line_no:>5}\x1b[0m {:indent$}\x1b[35m{}\x1b[0m {} = {}.{}({}, {});\r\n",
            "",
            rng.pick(KEYWORDS),
            rng.pick(IDENTS),
            rng.pick(IDENTS),
            rng.pick(WORDS),
            rng.pick(IDENTS),
            rng.below(10_000),
        );
        out.extend_from_slice(text.as_bytes());
    }
}

fn diff(rng: &mut Rng, out: &mut Vec<u8>) {
    let file = format!("{}/src/{}.rs", rng.pick(IDENTS), rng.pick(IDENTS));
    out.extend_from_slice(format!("\x1b[1m\u{23bf} Update({file})\x1b[0m\r\n").as_bytes());
    for _ in 0..3 + rng.below(8) {
        let (sign, colour) = match rng.below(3) {
            0 => ('+', "\x1b[32m"),
            1 => ('-', "\x1b[31m"),
            _ => (' ', ""),
        };
        let text = format!(
            "{colour}{sign}     {} {}: {} = {};\x1b[0m\r\n",
            rng.pick(KEYWORDS),
            rng.pick(IDENTS),
            rng.pick(IDENTS),
            rng.below(1 << 20)
        );
        out.extend_from_slice(text.as_bytes());
    }
}

fn test_log(rng: &mut Rng, out: &mut Vec<u8>) {
    for _ in 0..2 + rng.below(12) {
        let ok = rng.below(20) != 0;
        let text = format!(
            "test {}::{}_{}_{} ... {}\r\n",
            rng.pick(IDENTS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(IDENTS),
            if ok {
                "\x1b[32mok\x1b[0m"
            } else {
                "\x1b[31mFAILED\x1b[0m"
            }
        );
        out.extend_from_slice(text.as_bytes());
    }
}

fn spinner(rng: &mut Rng, out: &mut Vec<u8>, turn: u64) {
    const FRAMES: &[&str] = &[
        "\u{b7}", "\u{2722}", "\u{2733}", "\u{2736}", "\u{273b}", "\u{273d}",
    ];
    for tick in 0..3 + rng.below(10) {
        let text = format!(
            "\r\x1b[2K\x1b[38;5;174m{} {}\u{2026}\x1b[0m \x1b[2m({}s \u{b7} \u{2191} {:.1}k tokens \u{b7} esc to interrupt)\x1b[0m",
            FRAMES[(tick % FRAMES.len() as u64) as usize],
            rng.pick(&["Thinking", "Reading", "Editing", "Running", "Compiling"]),
            turn % 600,
            (turn % 300) as f64 / 10.0,
        );
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"\r\x1b[2K");
}

#[cfg(test)]
mod tests {
    use super::agent_output;

    #[test]
    fn is_deterministic_text_of_the_asked_length() {
        let a = agent_output(100_000, 7);
        assert_eq!(a.len(), 100_000);
        assert_eq!(a, agent_output(100_000, 7));
        assert_ne!(a, agent_output(100_000, 8));
        assert!(String::from_utf8_lossy(&a).contains("test "));
    }
}
