//! Every kind of bad input yields its typed error, never a panic.

use protocol::{DecodeError, Decoder, Frame, FrameType};

fn decode_all(bytes: &[u8], max: usize) -> Vec<Result<Option<Frame>, DecodeError>> {
    let mut decoder = Decoder::new(max);
    decoder.push(bytes);
    let mut results = Vec::new();
    loop {
        let r = decoder.next_frame();
        let stop = !matches!(r, Ok(Some(_)) | Err(DecodeError::UnknownType { .. }));
        results.push(r);
        if stop {
            return results;
        }
    }
}

#[test]
fn unknown_type_is_skipped_and_decoding_goes_on() {
    let mut bytes = vec![0x7f, 0, 0, 0, 2, 1, 2];
    bytes.extend(Frame::Output(b"ok".to_vec()).to_bytes());
    let results = decode_all(&bytes, 1024);
    assert_eq!(results[0], Err(DecodeError::UnknownType { tag: 0x7f }));
    assert_eq!(results[1], Ok(Some(Frame::Output(b"ok".to_vec()))));
    assert_eq!(results[2], Ok(None));
}

#[test]
fn oversize_is_refused_from_the_header_alone_and_sticks() {
    let mut decoder = Decoder::new(16);
    decoder.push(&[0, 0xff, 0xff, 0xff, 0xff]);
    let err = DecodeError::Oversize {
        len: 0xffff_ffff,
        max: 16,
    };
    assert_eq!(decoder.next_frame(), Err(err.clone()));
    assert!(!err.is_recoverable());
    decoder.push(&Frame::Output(b"x".to_vec()).to_bytes());
    assert_eq!(decoder.next_frame(), Err(err));
}

#[test]
fn payload_exactly_at_the_limit_is_accepted() {
    let frame = Frame::Output(vec![7; 16]);
    assert_eq!(
        protocol::decode_message(&frame.to_bytes(), 16).unwrap(),
        vec![frame]
    );
    let too_big = Frame::Output(vec![7; 17]).to_bytes();
    assert_eq!(
        protocol::decode_message(&too_big, 16),
        Err(DecodeError::Oversize { len: 17, max: 16 })
    );
}

#[test]
fn resize_with_wrong_length() {
    for len in [0u8, 3, 5] {
        let mut bytes = vec![2, 0, 0, 0, len];
        bytes.extend(std::iter::repeat_n(0, len as usize));
        assert_eq!(
            protocol::decode_message(&bytes, 1024),
            Err(DecodeError::BadResize { len: len as usize })
        );
    }
}

#[test]
fn offsets_with_wrong_length() {
    assert_eq!(
        protocol::decode_message(&[5, 0, 0, 0, 1, 9], 1024),
        Err(DecodeError::BadOffset {
            frame_type: FrameType::Ack,
            len: 1
        })
    );
    assert_eq!(
        protocol::decode_message(&[4, 0, 0, 0, 0], 1024),
        Err(DecodeError::BadOffset {
            frame_type: FrameType::StreamOffset,
            len: 0
        })
    );
}

#[test]
fn bad_json_in_metadata_and_control() {
    for (tag, frame_type) in [(3u8, FrameType::Metadata), (6, FrameType::Control)] {
        for payload in [&b"{not json"[..], b"[1,2]", b"\xff\xfe", b""] {
            let mut bytes = vec![tag, 0, 0, 0, payload.len() as u8];
            bytes.extend_from_slice(payload);
            match protocol::decode_message(&bytes, 1024) {
                Err(DecodeError::BadJson {
                    frame_type: t,
                    reason,
                }) => {
                    assert_eq!(t, frame_type);
                    assert!(!reason.is_empty());
                }
                other => panic!("{payload:?} as {frame_type:?}: {other:?}"),
            }
        }
    }
    // A control object without a type is not a control event.
    assert!(matches!(
        protocol::decode_message(&[6, 0, 0, 0, 2, b'{', b'}'], 1024),
        Err(DecodeError::BadJson { .. })
    ));
}

#[test]
fn truncated_input_is_reported() {
    let bytes = Frame::Output(b"hello".to_vec()).to_bytes();
    for cut in 1..bytes.len() {
        assert_eq!(
            protocol::decode_message(&bytes[..cut], 1024),
            Err(DecodeError::Truncated { buffered: cut }),
            "cut at {cut}"
        );
    }
}

#[test]
fn errors_read_well() {
    let err = DecodeError::Oversize {
        len: 2_000_000,
        max: 1_048_576,
    };
    assert_eq!(
        err.to_string(),
        "frame payload of 2000000 bytes exceeds the limit of 1048576 bytes"
    );
    assert_eq!(
        DecodeError::BadResize { len: 3 }.to_string(),
        "RESIZE payload must be 4 bytes, got 3"
    );
}
