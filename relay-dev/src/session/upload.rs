//! What an agent link sends into its session: OUTPUT at stream offsets,
//! metadata, the PTY's size, the agent's exit. [`Session::upload`] applies
//! one message's frames under one lock and wakes the viewers once.

use std::time::Instant;

use bytes::Bytes;
use protocol::{Control, Frame, Metadata};

use super::{AttentionChange, Session};

/// Largest stream offset accepted (2^62 bytes: never reached by a real
/// stream, and far from overflowing the offset arithmetic).
const MAX_OFFSET: u64 = 1 << 62;

/// One agent link's position in the upload.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    /// Absolute offset of the next OUTPUT byte, once the wrapper said it
    /// (STREAM_OFFSET); `None` appends at the log's end (legacy clients).
    next_offset: Option<u64>,
}

/// What one message from the agent changed.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Uploaded {
    /// Whether the message carried OUTPUT (then the relay acknowledges).
    pub(crate) output: bool,
    /// OUTPUT bytes newly stored (duplicates of held bytes are not).
    pub(crate) stored: u64,
    /// The end of the log afterwards: what the relay acknowledges.
    pub(crate) end: u64,
    /// Bytes `from..to` the log jumped over: the wrapper never sent them.
    pub(crate) gaps: Vec<(u64, u64)>,
    /// New metadata, for the store.
    pub(crate) metadata: Option<Metadata>,
    /// `Some(exit_status)` when the agent said it exited.
    pub(crate) exited: Option<Option<i32>>,
    /// The attention the agent reported, when it changed.
    pub(crate) attention: Option<AttentionChange>,
    /// Frames an agent has no business sending (INPUT).
    pub(crate) refused: u64,
}

/// A message the session cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UploadError {
    /// A STREAM_OFFSET beyond any real stream.
    #[error("stream offset {0} out of range")]
    OffsetOutOfRange(u64),
}

impl Session {
    /// Applies one message's frames from the agent link. Stops at a frame
    /// the session cannot take (what came before it is kept).
    #[cfg(test)]
    pub(crate) fn upload(
        &self,
        upload: &mut Upload,
        frames: Vec<Frame>,
    ) -> Result<Uploaded, UploadError> {
        self.upload_message(upload, frames, None)
    }

    /// Applies the frames decoded from one agent `message` (see `upload`): when
    /// the message is one OUTPUT frame, stored whole, it is kept as is as
    /// the frame caught-up viewers are sent (no copy, no encoding).
    pub(crate) fn upload_message(
        &self,
        upload: &mut Upload,
        frames: Vec<Frame>,
        message: Option<Bytes>,
    ) -> Result<Uploaded, UploadError> {
        let single = frames.len() == 1;
        self.change(|state| {
            let mut uploaded = Uploaded::default();
            // One clock read per message, for the recording's time marks.
            let mut now = None;
            for frame in frames {
                match frame {
                    Frame::Output(data) => {
                        let at = upload.next_offset.unwrap_or_else(|| state.log.end());
                        let appended = state.log.append_at(at, &data);
                        if appended.stored > 0 {
                            let first_new = state.log.end() - appended.stored as u64;
                            let now = *now.get_or_insert_with(Instant::now);
                            let start = state.log.start();
                            state.marks.record(first_new, now, start);
                        }
                        uploaded.gaps.extend(appended.gap);
                        if appended.stored > 0 {
                            let frame = match &message {
                                // Exactly this frame (no frame skipped beside it).
                                Some(whole)
                                    if single
                                        && appended.duplicate == 0
                                        && whole.len() == protocol::HEADER_LEN + data.len() =>
                                {
                                    whole.clone()
                                }
                                _ => {
                                    let mut frame = Vec::new();
                                    protocol::encode_output(
                                        &data[appended.duplicate..],
                                        &mut frame,
                                    );
                                    Bytes::from(frame)
                                }
                            };
                            let from = at + appended.duplicate as u64;
                            state.recent.push(from, frame);
                        }
                        if upload.next_offset.is_some() {
                            upload.next_offset = Some(at + data.len() as u64);
                        }
                        uploaded.stored += appended.stored as u64;
                        uploaded.output = true;
                    }
                    Frame::StreamOffset(offset) if offset > MAX_OFFSET => {
                        return Err(UploadError::OffsetOutOfRange(offset));
                    }
                    Frame::StreamOffset(offset) => upload.next_offset = Some(offset),
                    Frame::Metadata(metadata) => {
                        uploaded.metadata = Some(metadata.clone());
                        state.metadata = Some(metadata);
                        state.metadata_version += 1;
                    }
                    Frame::Resize(size) => {
                        state.size = Some(size.clamped());
                        state.size_offset = state.log.end();
                        let (at, start) = (state.size_offset, state.log.start());
                        state.sizes.record(at, size.clamped(), start);
                        let now = *now.get_or_insert_with(Instant::now);
                        state.marks.record(at, now, start);
                    }
                    Frame::Control(Control::AgentExited { exit_status }) => {
                        uploaded.exited = Some(exit_status);
                    }
                    Frame::Control(Control::Attention(attention)) => {
                        if let Some(change) = state.attention.report(attention) {
                            // A change only (not a reconnect's report again).
                            let micros = state.marks.micros(*now.get_or_insert_with(Instant::now));
                            let (end, start) = (state.log.end(), state.log.start());
                            state
                                .markers
                                .attention(&change.now.attention, micros, end, start);
                            uploaded.attention = Some(change);
                        }
                    }
                    Frame::Input(_) => uploaded.refused += 1,
                    Frame::Ack(_) | Frame::Control(_) | Frame::Snapshot(_) => {}
                }
            }
            uploaded.end = state.log.end();
            Ok(uploaded)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Size;
    use uuid::Uuid;

    #[test]
    fn output_lands_at_the_wrappers_offsets_without_duplicates() {
        let session = Session::new(Uuid::new_v4(), "ann", 64);
        let mut upload = Upload::default();
        let first = session
            .upload(&mut upload, vec![Frame::Output(b"abc".to_vec())])
            .unwrap();
        assert_eq!((first.output, first.stored, first.end), (true, 3, 3));
        // A reconnected wrapper resends from 1: only "de" is new.
        let mut again = Upload::default();
        let resent = session
            .upload(
                &mut again,
                vec![Frame::StreamOffset(1), Frame::Output(b"bcde".to_vec())],
            )
            .unwrap();
        assert_eq!((resent.stored, resent.end), (2, 5));
        let jumped = session
            .upload(
                &mut again,
                vec![Frame::StreamOffset(9), Frame::Output(b"z".to_vec())],
            )
            .unwrap();
        assert_eq!(jumped.gaps, [(5, 9)]);
    }

    #[test]
    fn metadata_size_exit_and_refusals() {
        let session = Session::new(Uuid::new_v4(), "ann", 64);
        let metadata = Metadata {
            agent: "codex".into(),
            ..Metadata::default()
        };
        let uploaded = session
            .upload(
                &mut Upload::default(),
                vec![
                    Frame::Metadata(metadata.clone()),
                    Frame::Output(b"12".to_vec()),
                    Frame::Resize(Size::new(24, 80)),
                    Frame::Input(b"no".to_vec()),
                    Frame::Control(Control::AgentExited {
                        exit_status: Some(1),
                    }),
                ],
            )
            .unwrap();
        assert_eq!(uploaded.metadata, Some(metadata));
        assert_eq!(uploaded.exited, Some(Some(1)));
        assert_eq!(uploaded.refused, 1);
        let state = session.lock();
        assert_eq!(
            (state.size, state.size_offset),
            (Some(Size::new(24, 80)), 2)
        );
        assert_eq!(state.metadata_version, 1);
    }

    #[test]
    fn refuses_an_offset_beyond_any_stream() {
        let session = Session::new(Uuid::new_v4(), "ann", 64);
        let error = session
            .upload(&mut Upload::default(), vec![Frame::StreamOffset(u64::MAX)])
            .unwrap_err();
        assert_eq!(error, UploadError::OffsetOutOfRange(u64::MAX));
    }

    #[test]
    fn a_message_of_one_output_frame_is_kept_as_is_for_caught_up_viewers() {
        let session = Session::new(Uuid::new_v4(), "ann", 64);
        let message = Bytes::from(Frame::Output(b"abc".to_vec()).to_bytes());
        let frames = vec![Frame::Output(b"abc".to_vec())];
        let mut upload = Upload::default();
        (session.upload_message(&mut upload, frames, Some(message.clone()))).unwrap();
        let (frame, len) = session.lock().recent.exactly(0, 3).unwrap();
        assert_eq!((frame.as_ptr(), len), (message.as_ptr(), 3), "not a copy");
        // A resend overlapping what is held: only the new part, encoded.
        let resent = vec![Frame::StreamOffset(2), Frame::Output(b"cde".to_vec())];
        session.upload(&mut Upload::default(), resent).unwrap();
        let (frame, _) = session.lock().recent.exactly(3, 5).unwrap();
        assert_eq!(frame, Frame::Output(b"de".to_vec()).to_bytes());
    }
}
