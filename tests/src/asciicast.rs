//! Recordings from a test's side: read an asciicast v3 file into its header
//! and events, and check it with the real asciinema 3 CLI (`asciinema
//! convert -f raw` replays the output, `convert` re-encodes it, `cat` joins
//! recordings), which `scripts/setup` installs.

use std::path::Path;
use std::process::Command;

use protocol::asciicast::{parse_event, Event};
use serde_json::Value;

/// A recording's header and its events with their absolute times (seconds
/// since the start).
#[derive(Debug, Clone)]
pub struct Cast {
    /// The header line as JSON.
    pub header: Value,
    /// `(seconds since the start, event)`, in order.
    pub events: Vec<(f64, Event)>,
}

impl Cast {
    /// Parses a whole recording; panics (showing the line) on a bad one.
    pub fn parse(text: &str) -> Self {
        let mut lines = text.lines();
        let first = lines.next().expect("an empty recording");
        let header: Value =
            serde_json::from_str(first).unwrap_or_else(|e| panic!("bad header {first:?}: {e}"));
        assert_eq!(header["version"], 3, "not asciicast v3: {first}");
        let mut now = 0.0;
        let events = lines
            .filter_map(|line| parse_event(line).unwrap_or_else(|e| panic!("{e} in line {line:?}")))
            .map(|(interval, event)| {
                now += interval;
                (now, event)
            })
            .collect();
        Self { header, events }
    }

    /// Every `o` event's text, joined.
    pub fn output(&self) -> String {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Output(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The time of the first `o` event whose text contains `needle`.
    pub fn time_of(&self, needle: &str) -> f64 {
        self.events
            .iter()
            .find(|(_, e)| matches!(e, Event::Output(text) if text.contains(needle)))
            .unwrap_or_else(|| panic!("no output {needle:?} in {:?}", self.events))
            .0
    }
}

/// What the recording prints, as asciinema replays it (`asciinema convert
/// -f raw FILE -`, without the size sequence `ESC [ 8 ; ROWS ; COLS t` it
/// starts with); `None` if asciinema is missing and the test is skipped
/// (see [`crate::tools::require_tool`]). Panics if asciinema refuses the file.
pub fn asciinema_raw(file: &Path) -> Option<Vec<u8>> {
    if !crate::tools::require_tool("asciinema") {
        return None;
    }
    let raw = run_asciinema(&[
        "convert".as_ref(),
        "-f".as_ref(),
        "raw".as_ref(),
        file.as_os_str(),
        "-".as_ref(),
    ]);
    let size_sequence = raw
        .strip_prefix(b"\x1b[8;")
        .and_then(|rest| rest.iter().position(|&b| b == b't'))
        .map_or(0, |t| t + 5);
    Some(raw[size_sequence..].to_vec())
}

/// The other asciinema commands on `file`: `asciinema cat FILE FILE` (the
/// recording twice in a row: its output must come out twice), `convert` to
/// asciicast v2 and to plain text (returned). Assumes [`asciinema_raw`]
/// found the tool.
pub fn asciinema_cat_and_convert(file: &Path) -> String {
    let once = Cast::parse(&std::fs::read_to_string(file).expect("the recording")).output();
    let twice = run_asciinema(&["cat".as_ref(), file.as_os_str(), file.as_os_str()]);
    let twice = Cast::parse(&String::from_utf8_lossy(&twice));
    assert_eq!(twice.output(), once.repeat(2), "asciinema cat FILE FILE");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let v2 = dir.path().join("v2.cast");
    run_asciinema(&[
        "convert".as_ref(),
        "-f".as_ref(),
        "asciicast-v2".as_ref(),
        file.as_os_str(),
        v2.as_os_str(),
    ]);
    let text = run_asciinema(&[
        "convert".as_ref(),
        "-f".as_ref(),
        "txt".as_ref(),
        file.as_os_str(),
        "-".as_ref(),
    ]);
    String::from_utf8_lossy(&text).into_owned()
}

/// The markers (`m` events: absolute seconds, label) as asciinema reads
/// them: the file converted to asciicast v2 by `asciinema convert`, whose
/// event times are absolute; `None` if asciinema is missing and the test is
/// skipped (see [`crate::tools::require_tool`]).
pub fn asciinema_markers(file: &Path) -> Option<Vec<(f64, String)>> {
    if !crate::tools::require_tool("asciinema") {
        return None;
    }
    let v2 = run_asciinema(&[
        "convert".as_ref(),
        "-f".as_ref(),
        "asciicast-v2".as_ref(),
        file.as_os_str(),
        "-".as_ref(),
    ]);
    let markers = String::from_utf8_lossy(&v2)
        .lines()
        .skip(1)
        .filter_map(|line| serde_json::from_str::<(f64, String, String)>(line).ok())
        .filter(|(_, code, _)| code == "m")
        .map(|(at, _, label)| (at, label))
        .collect();
    Some(markers)
}

fn run_asciinema(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = Command::new("asciinema")
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("asciinema runs");
    assert!(
        out.status.success(),
        "asciinema {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
