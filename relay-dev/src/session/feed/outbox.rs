//! The message a [`ViewerFeed`](super::ViewerFeed) step builds: frames
//! encoded as they are added ([`Outbox`]), output read straight from the
//! ring or taken as the session's shared recent frame, handed to the
//! transport as a [`Batch`].

use bytes::Bytes;
use protocol::{Frame, FrameType};

use super::super::log::{CursorRead, StreamLog, ViewerCursor};
use super::super::SessionState;

/// Most output bytes sent to a viewer in one message.
pub(super) const CHUNK: usize = 64 << 10;

/// What to send the viewer next: a shared OUTPUT frame, then one message.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Batch {
    /// An OUTPUT frame every caught-up viewer is sent as these same bytes
    /// ([`RecentFrames`](super::recent::RecentFrames)), to send as its own
    /// message before `bytes`.
    pub(crate) shared: Option<Bytes>,
    /// Encoded frames, to send as one message (empty when the only frames
    /// were extensions a legacy viewer does not get).
    pub(crate) bytes: Vec<u8>,
    /// OUTPUT bytes in it.
    pub(crate) output_bytes: u64,
    /// Bytes `from..to` the ring dropped before the viewer read them.
    pub(crate) skipped: Option<(u64, u64)>,
}

/// A message being built, encoded as frames are added (under the session
/// lock; sent after it is released). Frames a legacy viewer does not know
/// are left out.
pub(super) struct Outbox {
    shared: Option<Bytes>,
    pub(super) bytes: Vec<u8>,
    extensions: bool,
    /// Whether anything happened (also a frame left out, or a state change
    /// with nothing to say): the caller then asks again before waiting.
    pub(super) progressed: bool,
    output_bytes: u64,
    pub(super) skipped: Option<(u64, u64)>,
}

impl Outbox {
    pub(super) fn new(extensions: bool) -> Self {
        Self {
            shared: None,
            bytes: Vec::new(),
            extensions,
            progressed: false,
            output_bytes: 0,
            skipped: None,
        }
    }

    pub(super) fn into_batch(self) -> Option<Batch> {
        self.progressed.then_some(Batch {
            shared: self.shared,
            bytes: self.bytes,
            output_bytes: self.output_bytes,
            skipped: self.skipped,
        })
    }

    pub(super) fn push(&mut self, frame: &Frame) {
        self.progressed = true;
        if self.extensions || frame.frame_type().is_legacy() {
            frame.encode(&mut self.bytes);
        }
    }

    /// Adds an OUTPUT frame with `data`, if any.
    pub(super) fn push_output(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.progressed = true;
            self.output_bytes += data.len() as u64;
            protocol::encode_output(data, &mut self.bytes);
        }
    }

    /// Takes the session's newest frame as is when it holds exactly what
    /// the cursor reads next (a caught-up viewer, nothing else to say before
    /// it); `false` when the ring must be read instead.
    pub(super) fn push_recent(
        &mut self,
        cursor: &mut ViewerCursor,
        state: &SessionState,
        limit: u64,
    ) -> bool {
        let from = cursor.position();
        let to = state.log.end().min(limit);
        if !self.bytes.is_empty() || self.shared.is_some() || from < state.log.start() {
            return false;
        }
        let Some((frame, len)) = state.recent.exactly(from, to) else {
            return false;
        };
        *cursor = ViewerCursor::at(to);
        self.shared = Some(frame);
        self.progressed = true;
        self.output_bytes += len;
        true
    }

    /// Adds an OUTPUT frame read by `cursor` straight from the ring (one copy).
    pub(super) fn push_output_from(
        &mut self,
        cursor: &mut ViewerCursor,
        log: &StreamLog,
        limit: u64,
    ) -> CursorRead {
        let header_at = self.bytes.len();
        protocol::encode_header(FrameType::Output, 0, &mut self.bytes);
        let read = cursor.read_into(log, CHUNK, limit, &mut self.bytes);
        let len = self.bytes.len() - header_at - protocol::HEADER_LEN;
        if len == 0 {
            self.bytes.truncate(header_at);
        } else {
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            self.bytes[header_at + 1..header_at + protocol::HEADER_LEN]
                .copy_from_slice(&len32.to_be_bytes());
            self.progressed = true;
            self.output_bytes += len as u64;
        }
        read
    }
}

#[cfg(test)]
impl Batch {
    /// Everything the batch sends, as one byte string of frames.
    pub(crate) fn all_bytes(&self) -> Vec<u8> {
        let mut all = self.shared.as_deref().unwrap_or_default().to_vec();
        all.extend_from_slice(&self.bytes);
        all
    }
}
