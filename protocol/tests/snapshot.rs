//! The SNAPSHOT frame (type 8): byte layout, decoding in pieces, and the
//! errors a short or oversize payload gives.

use protocol::{decode_message, DecodeError, Decoder, Frame, FrameType, Size, Snapshot};

fn snapshot(offset: u64, rows: u16, cols: u16, data: &[u8]) -> Frame {
    Frame::Snapshot(Snapshot {
        offset,
        size: Size::new(rows, cols),
        data: data.to_vec(),
    })
}

#[test]
fn the_payload_is_offset_rows_cols_then_the_bytes() {
    let frame = snapshot(256, 24, 80, b"hi");
    let bytes = frame.to_bytes();
    assert_eq!(
        bytes,
        [
            0x08, 0, 0, 0, 14, // type 8, 12 + 2 payload bytes
            0, 0, 0, 0, 0, 0, 1, 0, // offset 256
            0, 24, 0, 80, // 24 rows, 80 columns
            b'h', b'i',
        ]
    );
    assert_eq!(decode_message(&bytes, 1024).unwrap(), [frame]);
    assert_eq!(FrameType::from_u8(8), Some(FrameType::Snapshot));
    assert!(
        !FrameType::Snapshot.is_legacy(),
        "never sent to legacy peers"
    );
}

#[test]
fn an_empty_screen_is_just_the_prefix() {
    let frame = snapshot(0, 1, 1, b"");
    let bytes = frame.to_bytes();
    assert_eq!(bytes.len(), protocol::HEADER_LEN + Snapshot::PREFIX_LEN);
    assert_eq!(decode_message(&bytes, 1024).unwrap(), [frame]);
}

#[test]
fn a_snapshot_split_anywhere_decodes_whole() {
    let escape = b"\x1b[?1049h\x1b[1;1H\x1b[1mtop\x1b[m\x1b[?1h".to_vec();
    let frame = snapshot(u64::MAX - 7, 30, 100, &escape);
    let mut wire = frame.to_bytes();
    Frame::Control(protocol::Control::HistoryComplete {
        offset: u64::MAX - 7,
    })
    .encode(&mut wire);
    for cut in 0..wire.len() {
        let mut decoder = Decoder::default();
        decoder.push(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(f) = decoder.next_frame().unwrap() {
            got.push(f);
        }
        decoder.push(&wire[cut..]);
        while let Some(f) = decoder.next_frame().unwrap() {
            got.push(f);
        }
        assert_eq!(got[0], frame, "cut at {cut}");
        assert_eq!(got.len(), 2);
    }
}

#[test]
fn a_payload_shorter_than_the_prefix_is_skipped() {
    // 11 payload bytes: one short of offset + size.
    let mut wire = vec![8, 0, 0, 0, 11];
    wire.extend_from_slice(&[0; 11]);
    protocol::encode_output(b"next", &mut wire);
    let mut decoder = Decoder::default();
    decoder.push(&wire);
    let error = decoder.next_frame().unwrap_err();
    assert_eq!(error, DecodeError::BadSnapshot { len: 11 });
    assert!(error.is_recoverable());
    assert_eq!(
        error.to_string(),
        "SNAPSHOT payload must be at least 12 bytes, got 11"
    );
    assert_eq!(
        decoder.next_frame().unwrap(),
        Some(Frame::Output(b"next".to_vec()))
    );
}

#[test]
fn a_snapshot_over_the_payload_limit_is_refused_from_its_header() {
    let bytes = snapshot(0, 24, 80, &[b'x'; 100]).to_bytes();
    assert_eq!(
        decode_message(&bytes, 64).unwrap_err(),
        DecodeError::Oversize { len: 112, max: 64 }
    );
}
