//! The frame type and its variants.

use serde::{Deserialize, Serialize};

use crate::control::{Control, Metadata};

/// Bytes in a frame header: type (1) + payload length (4).
pub const HEADER_LEN: usize = 5;

/// The one-byte type tag at the start of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameType {
    /// 0 — terminal output bytes. Wrapper → relay → viewers.
    Output = 0,
    /// 1 — input bytes (keys, paste, terminal replies). Viewer → relay → wrapper.
    Input = 1,
    /// 2 — terminal size, rows u16 BE then cols u16 BE.
    Resize = 2,
    /// 3 — UTF-8 JSON object describing the session. Wrapper → relay → viewers.
    Metadata = 3,
    /// 4 — Tether: absolute stream offset (u64 BE) of the next OUTPUT byte.
    StreamOffset = 4,
    /// 5 — Tether: acknowledgement (u64 BE), everything below it is kept.
    Ack = 5,
    /// 6 — Tether: a JSON control event ([`Control`]).
    Control = 6,
    /// 8 — Tether: a terminal [`Snapshot`] (offset u64 BE, rows u16 BE,
    /// cols u16 BE, then the bytes). Relay → viewer. (Type 7 is the
    /// DEFLATED envelope, not a frame of its own.)
    Snapshot = 8,
}

impl FrameType {
    /// The type for a tag byte, or `None` for an unknown tag.
    pub fn from_u8(tag: u8) -> Option<Self> {
        Some(match tag {
            0 => Self::Output,
            1 => Self::Input,
            2 => Self::Resize,
            3 => Self::Metadata,
            4 => Self::StreamOffset,
            5 => Self::Ack,
            6 => Self::Control,
            8 => Self::Snapshot,
            _ => return None,
        })
    }

    /// Whether the legacy Omnara format knows this type (0–3). Extension types
    /// are never sent to a legacy peer.
    pub fn is_legacy(self) -> bool {
        (self as u8) <= 3
    }
}

/// A terminal size, rows then columns: the one size type of the wrapper, the
/// relay and the viewer (a RESIZE frame's payload, the PTY's size, a
/// viewer's fit).
///
/// ```
/// let size = protocol::Size::new(24, 80);
/// assert_eq!(size.to_string(), "80x24");
/// assert_eq!(serde_json::to_string(&size).unwrap(), r#"{"rows":24,"cols":80}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Size {
    /// Terminal height in rows.
    pub rows: u16,
    /// Terminal width in columns.
    pub cols: u16,
}

impl Size {
    /// A size of `rows` × `cols`.
    pub const fn new(rows: u16, cols: u16) -> Self {
        Self { rows, cols }
    }

    /// Whether either side is zero (no real terminal has such a size).
    pub const fn is_empty(self) -> bool {
        self.rows == 0 || self.cols == 0
    }

    /// This size with a zero side raised to 1: no terminal has an empty
    /// side, and cursor and resize arithmetic rely on it.
    ///
    /// ```
    /// use protocol::Size;
    /// assert_eq!(Size::new(0, 80).at_least_one(), Size::new(1, 80));
    /// ```
    pub fn at_least_one(self) -> Self {
        Self::new(self.rows.max(1), self.cols.max(1))
    }

    /// The largest size a viewer may ask for: 1000 rows × 1000 columns.
    /// The relay and the wrapper both cut larger requests down to it
    /// ([`clamped`](Self::clamped)), so that no RESIZE can make the agent's
    /// terminal (and every screen buffer behind it) absurdly large.
    pub const MAX: Size = Size::new(1000, 1000);

    /// This size with each side cut down to [`Size::MAX`]; a zero side stays
    /// zero (callers refuse those, see [`is_empty`](Self::is_empty)).
    ///
    /// ```
    /// use protocol::Size;
    /// assert_eq!(Size::new(65535, 120).clamped(), Size::new(1000, 120));
    /// assert_eq!(Size::new(24, 80).clamped(), Size::new(24, 80));
    /// assert!(Size::new(0, 5000).clamped().is_empty());
    /// ```
    pub const fn clamped(self) -> Self {
        let rows = if self.rows > Self::MAX.rows {
            Self::MAX.rows
        } else {
            self.rows
        };
        let cols = if self.cols > Self::MAX.cols {
            Self::MAX.cols
        } else {
            self.cols
        };
        Size::new(rows, cols)
    }
}

impl std::fmt::Display for Size {
    /// `COLSxROWS`, as terminals (and asciicast) write a size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.cols, self.rows)
    }
}

/// What rebuilds a viewer's terminal as it is at one stream offset: the
/// payload of a SNAPSHOT frame (type 8).
///
/// `data` is text and escape sequences for a freshly reset terminal of
/// `size` rows × columns: the screen, some scrollback, the cursor, the
/// SGR state, the scroll region, the alternate screen and the input modes.
/// Live OUTPUT continues at `offset`.
///
/// ```
/// use protocol::{Frame, Size, Snapshot};
/// let snapshot = Snapshot { offset: 256, size: Size::new(24, 80), data: b"hi".to_vec() };
/// assert_eq!(
///     Frame::Snapshot(snapshot).to_bytes(),
///     [8, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 1, 0, 0, 24, 0, 80, b'h', b'i'],
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream offset the terminal state stands for: the next OUTPUT
    /// byte's offset.
    pub offset: u64,
    /// The terminal size `data` is drawn for.
    pub size: Size,
    /// Text and escape sequences for a freshly reset terminal.
    pub data: Vec<u8>,
}

impl Snapshot {
    /// Payload bytes before `data`: offset (8), rows (2), cols (2).
    pub const PREFIX_LEN: usize = 12;
}

/// One decoded frame.
///
/// Each variant documents its payload layout, its direction and the bytes it
/// encodes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Terminal output: raw bytes as the agent's PTY produced them.
    ///
    /// Direction: wrapper → relay → viewers. The relay numbers every OUTPUT
    /// byte with its absolute offset in the session's stream.
    ///
    /// `Output(b"hi")` encodes to `00 00 00 00 02 68 69`.
    Output(Vec<u8>),
    /// Input for the agent: keystrokes, pasted text, replies to terminal queries.
    ///
    /// Direction: viewer → relay → wrapper (refused from read-only viewers).
    ///
    /// `Input(b"\r")` encodes to `01 00 00 00 01 0d`.
    Input(Vec<u8>),
    /// A terminal size: payload is rows u16 BE, then cols u16 BE (4 bytes).
    ///
    /// Direction: wrapper → relay (the PTY's size), relay → viewers (the
    /// session's size), viewer → relay → wrapper (a request to resize).
    ///
    /// `Resize(Size { rows: 24, cols: 80 })` encodes to `02 00 00 00 04 00 18 00 50`.
    Resize(Size),
    /// Session metadata: a UTF-8 JSON object ([`Metadata`]).
    ///
    /// Direction: wrapper → relay (first frame of a link), relay → viewers.
    ///
    /// `{"agent":"codex"}` encodes to `03 00 00 00 11` followed by the JSON.
    Metadata(Metadata),
    /// The absolute offset of the next OUTPUT byte in this direction (u64 BE).
    ///
    /// Direction: wrapper → relay before resending retained output (the
    /// offset the relay acknowledged); relay → viewer before history and after
    /// a gap. Extension: never sent to legacy peers.
    ///
    /// `StreamOffset(256)` encodes to `04 00 00 00 08 00 00 00 00 00 00 01 00`.
    StreamOffset(u64),
    /// Acknowledgement: every OUTPUT byte below this offset is stored (relay →
    /// wrapper) or rendered (viewer → relay). u64 BE. Extension.
    ///
    /// `Ack(1)` encodes to `05 00 00 00 08 00 00 00 00 00 00 00 01`.
    Ack(u64),
    /// A control event as UTF-8 JSON ([`Control`]), in either direction.
    /// Extension.
    ///
    /// `Control(Control::AgentOffline)` encodes to `06 00 00 00 18` followed by
    /// `{"type":"agent_offline"}`.
    Control(Control),
    /// A terminal [`Snapshot`]: the viewer resets its terminal, takes the
    /// snapshot's size and writes its bytes; live OUTPUT continues at its
    /// offset. Payload: offset u64 BE, rows u16 BE, cols u16 BE, bytes.
    ///
    /// Direction: relay → viewer, when it joins (instead of a raw replay).
    /// Extension.
    ///
    /// A snapshot at offset 256 of a 24×80 terminal showing `hi` encodes to
    /// `08 00 00 00 0e 00 00 00 00 00 00 01 00 00 18 00 50 68 69`.
    Snapshot(Snapshot),
}

impl Frame {
    /// The type tag of this frame.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Frame::Output(_) => FrameType::Output,
            Frame::Input(_) => FrameType::Input,
            Frame::Resize(_) => FrameType::Resize,
            Frame::Metadata(_) => FrameType::Metadata,
            Frame::StreamOffset(_) => FrameType::StreamOffset,
            Frame::Ack(_) => FrameType::Ack,
            Frame::Control(_) => FrameType::Control,
            Frame::Snapshot(_) => FrameType::Snapshot,
        }
    }
}
