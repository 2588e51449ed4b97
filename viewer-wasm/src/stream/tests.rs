//! The output stream's rules, natively: offsets, duplicates after a
//! resume, snapshots, the high watermark, acknowledgements, resync.

use super::*;

fn drain(stream: &mut OutputStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next_write() {
        stream.on_rendered(chunk.end, chunk.data.len());
        out.extend_from_slice(&chunk.data);
    }
    out
}

#[test]
fn first_connection_starts_at_the_announced_offset() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(100);
    stream.on_output(b"hello");
    assert_eq!(stream.resume_from(), Some(105));
    assert_eq!(drain(&mut stream), b"hello");
    assert_eq!(stream.rendered(), 105);
}

#[test]
fn resent_bytes_are_dropped_after_a_resume() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    stream.on_output(b"abcdef");
    // The relay resends from 3 (older than asked): "def" is a duplicate.
    stream.on_connect();
    stream.on_stream_offset(3);
    stream.on_output(b"de");
    stream.on_output(b"fgh");
    assert_eq!(drain(&mut stream), b"abcdefgh");
    assert_eq!(stream.resume_from(), Some(8));
}

#[test]
fn a_forward_jump_is_counted_as_lost() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    stream.on_output(b"ab");
    stream.on_stream_offset(10);
    stream.on_output(b"xy");
    assert_eq!(stream.lost(), 8);
    assert_eq!(drain(&mut stream), b"abxy");
    assert_eq!(stream.rendered(), 12);
}

#[test]
fn writes_pause_at_the_high_watermark() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    stream.on_output(&vec![b'x'; HIGH_WATERMARK * 2]);
    let mut written = 0;
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next_write() {
        assert!(chunk.data.len() <= WRITE_CHUNK);
        written += chunk.data.len();
        chunks.push(chunk);
    }
    assert_eq!(written, HIGH_WATERMARK);
    let first = chunks.remove(0);
    stream.on_rendered(first.end, first.data.len());
    assert!(stream.next_write().is_some(), "room again after a render");
}

#[test]
fn replay_ends_when_history_is_rendered() {
    let mut stream = OutputStream::new();
    stream.on_connect();
    stream.on_stream_offset(0);
    stream.on_output(b"old");
    stream.on_history_complete(3);
    assert!(stream.is_replaying());
    drain(&mut stream);
    assert!(!stream.is_replaying());
}

#[test]
fn absurd_offsets_do_not_overflow() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(u64::MAX - 1);
    stream.on_output(b"abc");
    assert_eq!(stream.resume_from(), Some(u64::MAX));
    assert_eq!(drain(&mut stream), b"abc");
    stream.on_stream_offset(0);
    stream.on_output(b"def");
}

#[test]
fn a_snapshot_replaces_the_queue_and_the_stream_goes_on_from_its_offset() {
    let mut stream = OutputStream::new();
    stream.on_connect();
    stream.on_stream_offset(0);
    stream.on_output(b"old history");
    stream.on_snapshot(5000, b"screen");
    stream.on_stream_offset(5000);
    stream.on_history_complete(5000);
    assert!(stream.is_replaying(), "until the snapshot is drawn");
    let first = stream.next_write().expect("the snapshot");
    assert_eq!(
        first,
        WriteChunk {
            end: 5000,
            data: b"\x1bcscreen".to_vec()
        }
    );
    stream.on_output(b"live");
    assert_eq!(stream.resume_from(), Some(5004));
    stream.on_rendered(first.end, first.data.len());
    assert!(!stream.is_replaying());
    assert_eq!(stream.ack_due(), None, "the live chunk is not drawn yet");
    assert_eq!(drain(&mut stream), b"live");
    assert_eq!(stream.ack_due(), Some(5004));
    assert_eq!(stream.lost(), 0, "nothing is missing from the screen");
    assert_eq!(stream.snapshots(), 1);
}

#[test]
fn a_snapshot_on_a_resume_drops_what_was_resent() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    stream.on_output(b"abc");
    drain(&mut stream);
    stream.on_connect();
    stream.on_snapshot(900, b"s");
    stream.on_stream_offset(900);
    stream.on_output(b"x");
    let chunks: Vec<WriteChunk> = std::iter::from_fn(|| stream.next_write()).collect();
    assert_eq!(chunks[0].data, b"\x1bcs");
    assert_eq!(
        chunks[1],
        WriteChunk {
            end: 901,
            data: b"x".to_vec()
        }
    );
}

#[test]
fn acks_follow_rendering() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    assert_eq!(stream.ack_due(), None);
    stream.on_output(b"abc");
    assert_eq!(stream.ack_due(), None, "nothing rendered yet");
    drain(&mut stream);
    assert_eq!(stream.ack_due(), Some(3));
    assert_eq!(stream.ack_due(), None);
}

#[test]
fn resync_resumes_from_the_last_written_byte() {
    let mut stream = OutputStream::new();
    stream.on_stream_offset(0);
    stream.on_output(&vec![b'x'; MAX_QUEUED + HIGH_WATERMARK + 1]);
    let mut in_flight = Vec::new();
    while let Some(chunk) = stream.next_write() {
        in_flight.push(chunk);
    }
    assert!(stream.is_overflowing());
    stream.resync();
    assert!(!stream.is_overflowing());
    assert_eq!(stream.resume_from(), Some(HIGH_WATERMARK as u64));
    stream.on_connect();
    stream.on_stream_offset(HIGH_WATERMARK as u64);
    stream.on_output(b"y");
    for chunk in in_flight {
        stream.on_rendered(chunk.end, chunk.data.len());
    }
    let chunk = stream.next_write().expect("room after rendering");
    assert_eq!(chunk.data, b"y");
}
