//! Encoding frames into a caller's buffer.

use crate::frame::{Frame, FrameType, Snapshot, HEADER_LEN};

/// Appends a frame header for `len` payload bytes of type `frame_type`.
///
/// # Panics
/// If `len` exceeds `u32::MAX` (a payload the format cannot express).
pub fn encode_header(frame_type: FrameType, len: usize, out: &mut Vec<u8>) {
    let len = u32::try_from(len).expect("frame payload larger than u32::MAX");
    out.push(frame_type as u8);
    out.extend_from_slice(&len.to_be_bytes());
}

/// Appends one OUTPUT frame carrying `data`, without building a [`Frame`].
///
/// ```
/// let mut out = Vec::new();
/// protocol::encode_output(b"hi", &mut out);
/// assert_eq!(out, [0, 0, 0, 0, 2, b'h', b'i']);
/// ```
pub fn encode_output(data: &[u8], out: &mut Vec<u8>) {
    encode_bytes(FrameType::Output, data, out);
}

fn encode_bytes(frame_type: FrameType, data: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + data.len());
    encode_header(frame_type, data.len(), out);
    out.extend_from_slice(data);
}

fn encode_json<T: serde::Serialize>(frame_type: FrameType, value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    encode_header(frame_type, 0, out);
    // Serializing plain structs and maps of JSON values cannot fail.
    serde_json::to_writer(&mut *out, value).expect("JSON payload serializes");
    let len = u32::try_from(out.len() - start - HEADER_LEN).expect("JSON payload fits u32");
    out[start + 1..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

impl Snapshot {
    /// Appends this snapshot as a SNAPSHOT frame (the same bytes as
    /// `Frame::Snapshot(snapshot).encode(out)`, without moving the data into
    /// a [`Frame`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(HEADER_LEN + Self::PREFIX_LEN + self.data.len());
        encode_header(FrameType::Snapshot, Self::PREFIX_LEN + self.data.len(), out);
        out.extend_from_slice(&self.offset.to_be_bytes());
        out.extend_from_slice(&self.size.rows.to_be_bytes());
        out.extend_from_slice(&self.size.cols.to_be_bytes());
        out.extend_from_slice(&self.data);
    }
}

impl Frame {
    /// Appends this frame's bytes to `out`.
    ///
    /// ```
    /// let mut out = Vec::new();
    /// protocol::Frame::Resize(protocol::Size::new(24, 80)).encode(&mut out);
    /// assert_eq!(out, [2, 0, 0, 0, 4, 0, 24, 0, 80]);
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Output(data) | Frame::Input(data) => encode_bytes(self.frame_type(), data, out),
            Frame::Resize(size) => {
                encode_header(FrameType::Resize, 4, out);
                out.extend_from_slice(&size.rows.to_be_bytes());
                out.extend_from_slice(&size.cols.to_be_bytes());
            }
            Frame::Metadata(meta) => encode_json(FrameType::Metadata, meta, out),
            Frame::StreamOffset(offset) | Frame::Ack(offset) => {
                encode_header(self.frame_type(), 8, out);
                out.extend_from_slice(&offset.to_be_bytes());
            }
            Frame::Control(control) => encode_json(FrameType::Control, control, out),
            Frame::Snapshot(snapshot) => snapshot.encode(out),
        }
    }

    /// This frame's bytes in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}
