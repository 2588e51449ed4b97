//! Property tests: round trips under any chunking, and no panic or runaway
//! allocation on arbitrary bytes.

use proptest::prelude::*;
use protocol::{Control, DecodeError, Decoder, Frame, HistoryPolicy, Metadata, Role, Size};

const MAX: usize = 4096;

fn arb_control() -> impl Strategy<Value = Control> {
    prop_oneof![
        Just(Control::Ready),
        Just(Control::AgentOffline),
        Just(Control::AgentOnline),
        any::<u64>().prop_map(|offset| Control::HistoryComplete { offset }),
        (any::<u64>(), any::<u64>()).prop_map(|(from, to)| Control::Gap { from, to }),
        any::<Option<i32>>().prop_map(|exit_status| Control::SessionEnded { exit_status }),
        any::<Option<i32>>().prop_map(|exit_status| Control::AgentExited { exit_status }),
        prop_oneof![Just(Role::ReadOnly), Just(Role::ReadWrite)].prop_map(|role| Control::Role {
            role,
            shared_by: None
        }),
        ".{0,40}".prop_map(|reason| Control::Error { reason }),
    ]
}

fn arb_metadata() -> impl Strategy<Value = Metadata> {
    (
        "[a-z]{0,10}",
        proptest::option::of(".{0,20}"),
        proptest::option::of(prop_oneof![
            Just(HistoryPolicy::Verbatim),
            Just(HistoryPolicy::StripEscJ)
        ]),
    )
        .prop_map(|(agent, agent_display_name, history_policy)| Metadata {
            agent,
            agent_display_name,
            history_policy,
            ..Metadata::default()
        })
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Frame::Output),
        proptest::collection::vec(any::<u8>(), 0..50).prop_map(Frame::Input),
        (any::<u16>(), any::<u16>()).prop_map(|(rows, cols)| Frame::Resize(Size { rows, cols })),
        arb_metadata().prop_map(Frame::Metadata),
        any::<u64>().prop_map(Frame::StreamOffset),
        any::<u64>().prop_map(Frame::Ack),
        arb_control().prop_map(Frame::Control),
        (
            any::<u64>(),
            any::<u16>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(
                |(offset, rows, cols, data)| Frame::Snapshot(protocol::Snapshot {
                    offset,
                    size: Size { rows, cols },
                    data,
                })
            ),
    ]
}

proptest! {
    #[test]
    fn round_trip_under_any_chunking(
        frames in proptest::collection::vec(arb_frame(), 0..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let mut wire = Vec::new();
        for frame in &frames {
            frame.encode(&mut wire);
        }
        let mut cut_points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cut_points.push(0);
        cut_points.push(wire.len());
        cut_points.sort_unstable();

        let mut decoder = Decoder::new(MAX);
        let mut decoded = Vec::new();
        for pair in cut_points.windows(2) {
            decoder.push(&wire[pair[0]..pair[1]]);
            while let Some(frame) = decoder.next_frame().unwrap() {
                decoded.push(frame);
            }
        }
        decoder.finish().unwrap();
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let mut decoder = Decoder::new(MAX);
        for chunk in &chunks {
            decoder.push(chunk);
            loop {
                match decoder.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(err) if err.is_recoverable() => {}
                    Err(DecodeError::Oversize { max, .. }) => {
                        prop_assert_eq!(max, MAX);
                        break;
                    }
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            // Nothing beyond the unread input is held: no buffer is sized
            // from an untrusted length header.
            prop_assert!(decoder.buffered() <= chunks.iter().map(Vec::len).sum::<usize>());
        }
    }

    #[test]
    fn decoded_payloads_never_exceed_the_maximum(
        tag in 0u8..10,
        len in any::<u32>(),
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&body);
        let mut decoder = Decoder::new(128);
        decoder.push(&bytes);
        match decoder.next_frame() {
            Ok(Some(Frame::Output(p) | Frame::Input(p))) => prop_assert!(p.len() <= 128),
            Err(DecodeError::Oversize { len: l, .. }) => prop_assert!(l > 128),
            _ => {}
        }
    }
}
