//! The incremental decoder.

use crate::frame::{Frame, FrameType, Size, Snapshot, HEADER_LEN};
use crate::DEFAULT_MAX_PAYLOAD;

/// Why bytes could not be decoded into a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The type byte names no known frame. The frame was skipped.
    #[error("unknown frame type {tag}")]
    UnknownType {
        /// The type byte received.
        tag: u8,
    },
    /// The header announces more payload than allowed. The stream cannot be
    /// resynchronised: the decoder stays failed.
    #[error("frame payload of {len} bytes exceeds the limit of {max} bytes")]
    Oversize {
        /// Announced payload length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// A RESIZE payload was not exactly 4 bytes. The frame was skipped.
    #[error("RESIZE payload must be 4 bytes, got {len}")]
    BadResize {
        /// Payload length received.
        len: usize,
    },
    /// A STREAM_OFFSET or ACK payload was not exactly 8 bytes. The frame was skipped.
    #[error("{frame_type:?} payload must be 8 bytes, got {len}")]
    BadOffset {
        /// Which frame it was.
        frame_type: FrameType,
        /// Payload length received.
        len: usize,
    },
    /// A SNAPSHOT payload was shorter than its offset and size (12 bytes).
    /// The frame was skipped.
    #[error("SNAPSHOT payload must be at least 12 bytes, got {len}")]
    BadSnapshot {
        /// Payload length received.
        len: usize,
    },
    /// A METADATA or CONTROL payload was not the expected JSON. The frame was skipped.
    #[error("{frame_type:?} payload is not valid JSON: {reason}")]
    BadJson {
        /// Which frame it was.
        frame_type: FrameType,
        /// What the JSON parser said.
        reason: String,
    },
    /// Input ended inside a frame.
    #[error("input ended inside a frame ({buffered} bytes of an incomplete frame)")]
    Truncated {
        /// Bytes of the incomplete frame that were received.
        buffered: usize,
    },
}

impl DecodeError {
    /// Whether the decoder can go on after this error. Only a frame whose
    /// bytes were fully received can be skipped; an oversize header cannot.
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            DecodeError::Oversize { .. } | DecodeError::Truncated { .. }
        )
    }
}

/// Turns a byte stream, received in chunks of any size, into frames.
///
/// Push bytes with [`push`](Self::push), then call
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`. It never
/// panics, whatever the input; a header announcing more than the maximum
/// payload is refused before any of its payload is buffered.
///
/// ```
/// use protocol::{Decoder, Frame};
/// let mut decoder = Decoder::default();
/// decoder.push(&[0, 0, 0, 0, 2, b'h']); // a frame split across two chunks
/// assert_eq!(decoder.next_frame(), Ok(None));
/// decoder.push(&[b'i']);
/// assert_eq!(decoder.next_frame(), Ok(Some(Frame::Output(b"hi".to_vec()))));
/// ```
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unread part of `buf`.
    pos: usize,
    max_payload: usize,
    failed: Option<DecodeError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PAYLOAD)
    }
}

impl Decoder {
    /// A decoder that refuses payloads larger than `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            max_payload,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    ///
    /// After a recoverable error (see [`DecodeError::is_recoverable`]) the bad
    /// frame has been skipped and decoding may go on; after an oversize header
    /// every call returns that error again.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let unread = &self.buf[self.pos..];
        let Some(header) = unread.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let tag = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > self.max_payload {
            let err = DecodeError::Oversize {
                len,
                max: self.max_payload,
            };
            self.failed = Some(err.clone());
            return Err(err);
        }
        let Some(payload) = unread.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let frame = parse_payload(tag, payload);
        self.pos += HEADER_LEN + len;
        frame.map(Some)
    }

    /// Checks that the input ended on a frame boundary, e.g. at the end of a
    /// WebSocket message that must hold whole frames.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.buffered() {
            0 => Ok(()),
            buffered => Err(DecodeError::Truncated { buffered }),
        }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// Decodes one complete message that must consist of whole frames.
///
/// ```
/// let frames = protocol::decode_message(&[2, 0, 0, 0, 4, 0, 24, 0, 80], 1024).unwrap();
/// assert_eq!(frames, [protocol::Frame::Resize(protocol::Size::new(24, 80))]);
/// assert!(protocol::decode_message(&[0, 0, 0, 0, 9, 1], 1024).is_err());
/// ```
pub fn decode_message(message: &[u8], max_payload: usize) -> Result<Vec<Frame>, DecodeError> {
    let mut decoder = Decoder::new(max_payload);
    decoder.push(message);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame()? {
        frames.push(frame);
    }
    decoder.finish()?;
    Ok(frames)
}

fn parse_payload(tag: u8, payload: &[u8]) -> Result<Frame, DecodeError> {
    let frame_type = FrameType::from_u8(tag).ok_or(DecodeError::UnknownType { tag })?;
    Ok(match frame_type {
        FrameType::Output => Frame::Output(payload.to_vec()),
        FrameType::Input => Frame::Input(payload.to_vec()),
        FrameType::Resize => match *payload {
            [r0, r1, c0, c1] => Frame::Resize(Size {
                rows: u16::from_be_bytes([r0, r1]),
                cols: u16::from_be_bytes([c0, c1]),
            }),
            _ => return Err(DecodeError::BadResize { len: payload.len() }),
        },
        FrameType::StreamOffset | FrameType::Ack => {
            let bytes: [u8; 8] = payload.try_into().map_err(|_| DecodeError::BadOffset {
                frame_type,
                len: payload.len(),
            })?;
            let offset = u64::from_be_bytes(bytes);
            if frame_type == FrameType::Ack {
                Frame::Ack(offset)
            } else {
                Frame::StreamOffset(offset)
            }
        }
        FrameType::Metadata => Frame::Metadata(parse_json(frame_type, payload)?),
        FrameType::Control => Frame::Control(parse_json(frame_type, payload)?),
        FrameType::Snapshot => Frame::Snapshot(parse_snapshot(payload)?),
    })
}

fn parse_snapshot(payload: &[u8]) -> Result<Snapshot, DecodeError> {
    let Some((prefix, data)) = payload.split_first_chunk::<{ Snapshot::PREFIX_LEN }>() else {
        return Err(DecodeError::BadSnapshot { len: payload.len() });
    };
    let [o0, o1, o2, o3, o4, o5, o6, o7, r0, r1, c0, c1] = *prefix;
    Ok(Snapshot {
        offset: u64::from_be_bytes([o0, o1, o2, o3, o4, o5, o6, o7]),
        size: Size::new(u16::from_be_bytes([r0, r1]), u16::from_be_bytes([c0, c1])),
        data: data.to_vec(),
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(
    frame_type: FrameType,
    payload: &[u8],
) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|err| DecodeError::BadJson {
        frame_type,
        reason: err.to_string(),
    })
}
