//! A recording (asciicast v3, as the relay's recording endpoint answers it)
//! read into what playback needs: the terminal size, the output and resizes
//! on one timeline, the markers, and the length. Pauses longer than the idle
//! limit are shortened to it, like asciinema's `idle_time_limit`.

use protocol::asciicast::{parse_event, Event};
use protocol::Size;

/// Pauses longer than this (seconds) are played as this long.
pub const IDLE_LIMIT_SECS: f64 = 2.0;
/// The largest recording the viewer plays (the page holds it whole).
pub const MAX_CAST_BYTES: usize = 64 << 20;

/// What changes the screen at a moment of the recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Output text.
    Output(String),
    /// The terminal's new size.
    Resize(Size),
}

/// A labelled moment: an attention change (`waiting: TEXT`, `working`,
/// `idle`) or the relay's note of output it no longer held.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Seconds on the (idle-limited) timeline.
    pub at: f64,
    /// The marker's label.
    pub label: String,
}

impl Marker {
    /// Whether the relay wrote it (a missing range, not the agent's state).
    pub fn is_gap(&self) -> bool {
        self.label.starts_with("tether:")
    }
}

/// A recording ready to play.
#[derive(Debug, Clone, PartialEq)]
pub struct Cast {
    /// The terminal size at the start.
    pub size: Size,
    /// `(seconds, step)`, in order.
    pub steps: Vec<(f64, Step)>,
    /// The markers, in order.
    pub markers: Vec<Marker>,
    /// Seconds from the start to the last event.
    pub duration: f64,
    /// The exit status, when the recording has it.
    pub exit: Option<i32>,
    /// Event lines that could not be read (skipped).
    pub skipped: usize,
}

impl Cast {
    /// Reads `text`, shortening pauses to `idle_limit` seconds. A header
    /// that is not asciicast v3 is an error; bad event lines are skipped and
    /// counted (a file cut short still plays up to its end).
    pub fn parse(text: &str, idle_limit: f64) -> Result<Self, String> {
        if text.len() > MAX_CAST_BYTES {
            return Err(format!(
                "the recording is larger than {} MiB",
                MAX_CAST_BYTES >> 20
            ));
        }
        let mut lines = text.lines();
        let header: serde_json::Value = lines
            .next()
            .and_then(|line| serde_json::from_str(line).ok())
            .ok_or("not a recording (no header)")?;
        if header["version"] != 3 {
            return Err("not an asciicast v3 recording".into());
        }
        let dimension = |name: &str, default: u16| {
            header["term"][name]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        let mut cast = Cast {
            size: Size::new(dimension("rows", 24), dimension("cols", 80)),
            steps: Vec::new(),
            markers: Vec::new(),
            duration: 0.0,
            exit: None,
            skipped: 0,
        };
        let mut now = 0.0;
        for line in lines {
            let (interval, event) = match parse_event(line) {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(_) => {
                    cast.skipped += 1;
                    continue;
                }
            };
            now += interval.min(idle_limit);
            match event {
                Event::Output(text) => cast.steps.push((now, Step::Output(text))),
                Event::Resize(size) => cast.steps.push((now, Step::Resize(size))),
                Event::Marker(label) => cast.markers.push(Marker { at: now, label }),
                Event::Exit(code) => cast.exit = Some(code),
                Event::Input(_) | Event::Other(_) => {}
            }
        }
        cast.duration = now;
        Ok(cast)
    }

    /// The number of steps at or before `time`.
    pub fn steps_until(&self, time: f64) -> usize {
        self.steps.partition_point(|(at, _)| *at <= time)
    }
}

/// `m:ss.t` (or `h:mm:ss.t`) for a time in seconds, tenths rounded down.
pub fn clock(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).floor() as u64;
    let (total, tenth) = (tenths / 10, tenths % 10);
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{tenth}")
    } else {
        format!("{m}:{s:02}.{tenth}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAST: &str = r#"{"version": 3, "term": {"cols": 100, "rows": 30}}
[0.5, "o", "hello "]
[0.25, "m", "waiting: Allow?"]
# a comment
[60.0, "o", "world"]
[0.1, "r", "80x24"]
not json
[0.1, "i", "typed"]
[0.0, "x", "3"]
"#;

    #[test]
    fn long_pauses_are_shortened_and_markers_kept_apart() {
        let cast = Cast::parse(CAST, IDLE_LIMIT_SECS).unwrap();
        assert_eq!(cast.size, Size::new(30, 100));
        assert_eq!(
            cast.steps,
            [
                (0.5, Step::Output("hello ".into())),
                (2.75, Step::Output("world".into())),
                (2.85, Step::Resize(Size::new(24, 80))),
            ]
        );
        assert_eq!(cast.markers[0].at, 0.75);
        assert!(!cast.markers[0].is_gap());
        assert!((cast.duration - 2.95).abs() < 1e-9);
        assert_eq!((cast.exit, cast.skipped), (Some(3), 1));
        assert_eq!(cast.steps_until(0.5), 1);
        assert_eq!(cast.steps_until(2.8), 2);
        assert_eq!(cast.steps_until(0.0), 0);
    }

    #[test]
    fn other_files_are_refused() {
        assert!(Cast::parse("", 2.0).is_err());
        assert!(Cast::parse("{\"version\": 2, \"width\": 80}\n", 2.0).is_err());
        let no_idle_limit = Cast::parse(CAST, f64::INFINITY).unwrap();
        assert!((no_idle_limit.duration - 60.95).abs() < 1e-9);
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(0.0), "0:00.0");
        assert_eq!(clock(0.36), "0:00.3");
        assert_eq!(clock(75.99), "1:15.9");
        assert_eq!(clock(3_700.0), "1:01:40.0");
    }
}
