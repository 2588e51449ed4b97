//! [`RecentFrames`]: the session's newest OUTPUT frames, encoded once and
//! shared by every viewer that is caught up.
//!
//! A live viewer at the end of the stream is sent the frame the agent's
//! upload just stored, as the same bytes for every such viewer (a reference
//! count, no copy, and no time under the session lock spent copying). A
//! viewer behind the end reads from the ring as before, in larger batches.
//! The frames are the ring's newest bytes a second time, so they are few and
//! bounded ([`RECENT_FRAMES`], [`RECENT_BYTES`]).

use std::collections::VecDeque;

use bytes::Bytes;

/// Most frames kept.
pub(crate) const RECENT_FRAMES: usize = 32;
/// Most bytes kept (frames included); a larger frame is not kept at all.
pub(crate) const RECENT_BYTES: usize = 256 << 10;

/// One encoded OUTPUT frame and where its payload starts in the stream.
#[derive(Debug, Clone)]
struct RecentFrame {
    offset: u64,
    frame: Bytes,
}

impl RecentFrame {
    fn payload_len(&self) -> u64 {
        (self.frame.len() - protocol::HEADER_LEN) as u64
    }
}

/// The newest OUTPUT frames of a session, each encoded once.
#[derive(Debug, Default)]
pub(crate) struct RecentFrames {
    frames: VecDeque<RecentFrame>,
    bytes: usize,
}

impl RecentFrames {
    /// Keeps `frame` (an encoded OUTPUT frame) whose payload starts at
    /// stream offset `offset`, right after the newest one kept; frames that
    /// do not follow on are forgotten.
    pub(crate) fn push(&mut self, offset: u64, frame: Bytes) {
        let follows = self
            .frames
            .back()
            .is_some_and(|last| last.offset + last.payload_len() == offset);
        if !follows {
            self.clear();
        }
        if frame.len() > RECENT_BYTES || frame.len() <= protocol::HEADER_LEN {
            return self.clear();
        }
        self.bytes += frame.len();
        self.frames.push_back(RecentFrame { offset, frame });
        while self.frames.len() > RECENT_FRAMES || self.bytes > RECENT_BYTES {
            let dropped = self.frames.pop_front().expect("not empty while over");
            self.bytes -= dropped.frame.len();
        }
    }

    /// The frame whose payload is exactly `from..to` (a caught-up viewer's
    /// next message), if kept.
    pub(crate) fn exactly(&self, from: u64, to: u64) -> Option<(Bytes, u64)> {
        let last = self.frames.back()?;
        (last.offset == from && last.offset + last.payload_len() == to)
            .then(|| (last.frame.clone(), last.payload_len()))
    }

    /// Forgets every frame (the ring was freed or jumped).
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Frame;

    fn output(data: &[u8]) -> Bytes {
        Bytes::from(Frame::Output(data.to_vec()).to_bytes())
    }

    #[test]
    fn the_newest_frame_is_shared_with_caught_up_viewers_only() {
        let mut recent = RecentFrames::default();
        recent.push(0, output(b"abc"));
        recent.push(3, output(b"de"));
        let (frame, len) = recent.exactly(3, 5).expect("the newest frame");
        assert_eq!((frame, len), (output(b"de"), 2));
        assert!(recent.exactly(0, 5).is_none(), "behind: read the ring");
        assert!(recent.exactly(3, 4).is_none(), "a limit inside the frame");
    }

    #[test]
    fn bounded_in_frames_and_bytes_and_only_contiguous() {
        let mut recent = RecentFrames::default();
        for i in 0..100u64 {
            recent.push(i, output(b"x"));
        }
        assert_eq!(recent.frames.len(), RECENT_FRAMES);
        recent.push(500, output(b"y"));
        assert_eq!(recent.frames.len(), 1, "a jump forgets what came before");
        recent.push(501, output(&vec![b'z'; RECENT_BYTES]));
        assert!(recent.frames.is_empty(), "too large to keep");
        assert_eq!(recent.bytes, 0);
    }
}
