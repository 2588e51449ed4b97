//! Byte-exact vectors: the first four types must match the Omnara relay's
//! `struct.pack("!BI", type, len)` framing.

use protocol::{Control, Frame, HistoryPolicy, Metadata, Role, Size};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_round_trip(frame: Frame, expected: &str) {
    let bytes = frame.to_bytes();
    assert_eq!(hex(&bytes), expected, "encoding of {frame:?}");
    assert_eq!(
        protocol::decode_message(&bytes, 1024).unwrap(),
        vec![frame],
        "decoding of {expected}"
    );
}

#[test]
fn resize_is_rows_then_cols_big_endian() {
    assert_round_trip(
        Frame::Resize(Size::new(24, 80)),
        "02 00 00 00 04 00 18 00 50",
    );
    assert_round_trip(
        Frame::Resize(Size::new(0x0102, 0xfffe)),
        "02 00 00 00 04 01 02 ff fe",
    );
}

#[test]
fn output_and_input_carry_raw_bytes() {
    assert_round_trip(Frame::Output(b"hi".to_vec()), "00 00 00 00 02 68 69");
    assert_round_trip(Frame::Input(b"\r".to_vec()), "01 00 00 00 01 0d");
    assert_round_trip(Frame::Output(Vec::new()), "00 00 00 00 00");
    let mut out = Vec::new();
    protocol::encode_output(b"hi", &mut out);
    assert_eq!(hex(&out), "00 00 00 00 02 68 69");
}

#[test]
fn length_is_big_endian_u32() {
    let bytes = Frame::Output(vec![b'x'; 0x0001_0203]).to_bytes();
    assert_eq!(hex(&bytes[..5]), "00 00 01 02 03");
}

#[test]
fn metadata_is_json_object() {
    let meta = Metadata {
        agent: "codex".into(),
        ..Metadata::default()
    };
    let json = br#"{"agent":"codex"}"#;
    let mut expected = vec![3, 0, 0, 0, json.len() as u8];
    expected.extend_from_slice(json);
    assert_round_trip(Frame::Metadata(meta), &hex(&expected));
}

#[test]
fn metadata_from_the_omnara_client_decodes() {
    let json = br#"{"agent":"claude","app":"omnara","agent_display_name":"Claude","history_policy":"strip_esc_j","unknown":[1,2]}"#;
    let mut wire = vec![3, 0, 0, 0, json.len() as u8];
    wire.extend_from_slice(json);
    let Frame::Metadata(meta) = protocol::decode_message(&wire, 1024).unwrap().remove(0) else {
        panic!("not metadata");
    };
    assert_eq!(meta.agent, "claude");
    assert_eq!(meta.app.as_deref(), Some("omnara"));
    assert_eq!(meta.agent_display_name.as_deref(), Some("Claude"));
    assert_eq!(meta.history_policy, Some(HistoryPolicy::StripEscJ));
    assert_eq!(meta.extra["unknown"], serde_json::json!([1, 2]));
}

#[test]
fn local_terminal_is_a_typed_field() {
    let meta: Metadata = serde_json::from_str(r#"{"agent":"sh","local_terminal":false}"#).unwrap();
    assert_eq!(meta.local_terminal, Some(false));
    assert!(meta.extra.is_empty());
    let omnara: Metadata = serde_json::from_str(r#"{"agent":"sh"}"#).unwrap();
    assert_eq!(omnara.local_terminal, None);
    assert_eq!(
        serde_json::to_string(&omnara).unwrap(),
        r#"{"agent":"sh"}"#,
        "an unknown value is not sent"
    );
}

#[test]
fn codex_strips_by_default_others_do_not() {
    let mut meta = Metadata {
        agent: "codex".into(),
        ..Metadata::default()
    };
    assert_eq!(meta.effective_history_policy(), HistoryPolicy::StripEscJ);
    meta.history_policy = Some(HistoryPolicy::Verbatim);
    assert_eq!(meta.effective_history_policy(), HistoryPolicy::Verbatim);
    meta.agent = "claude".into();
    meta.history_policy = None;
    assert_eq!(meta.effective_history_policy(), HistoryPolicy::Verbatim);
}

#[test]
fn extension_frames() {
    assert_round_trip(
        Frame::StreamOffset(256),
        "04 00 00 00 08 00 00 00 00 00 00 01 00",
    );
    assert_round_trip(Frame::Ack(1), "05 00 00 00 08 00 00 00 00 00 00 00 01");
    let json = br#"{"type":"agent_offline"}"#;
    let mut expected = vec![6, 0, 0, 0, json.len() as u8];
    expected.extend_from_slice(json);
    assert_round_trip(Frame::Control(Control::AgentOffline), &hex(&expected));
}

#[test]
fn ready_control_equals_the_legacy_text_message() {
    assert_eq!(
        serde_json::to_string(&Control::Ready).unwrap(),
        r#"{"type":"ready"}"#
    );
}

#[test]
fn control_events_have_stable_json() {
    let cases = [
        (
            Control::Role {
                role: Role::ReadOnly,
                shared_by: None,
            },
            r#"{"type":"role","role":"read-only"}"#,
        ),
        (
            Control::Role {
                role: Role::ReadOnly,
                shared_by: Some("ann".into()),
            },
            r#"{"type":"role","role":"read-only","shared_by":"ann"}"#,
        ),
        (
            Control::HistoryComplete { offset: 7 },
            r#"{"type":"history_complete","offset":7}"#,
        ),
        (
            Control::Gap { from: 1, to: 9 },
            r#"{"type":"gap","from":1,"to":9}"#,
        ),
        (Control::AgentOnline, r#"{"type":"agent_online"}"#),
        (
            Control::SessionEnded {
                exit_status: Some(3),
            },
            r#"{"type":"session_ended","exit_status":3}"#,
        ),
        (
            Control::AgentExited { exit_status: None },
            r#"{"type":"agent_exited"}"#,
        ),
        (
            Control::Error {
                reason: "read-only".into(),
            },
            r#"{"type":"error","reason":"read-only"}"#,
        ),
    ];
    for (control, json) in cases {
        assert_eq!(serde_json::to_string(&control).unwrap(), json);
        assert_eq!(serde_json::from_str::<Control>(json).unwrap(), control);
    }
}

#[test]
fn size_released_decodes_from_its_json() {
    let json = br#"{"type":"size_released"}"#;
    let mut bytes = vec![6, 0, 0, 0, json.len() as u8];
    bytes.extend_from_slice(json);
    assert_eq!(hex(&bytes[..5]), "06 00 00 00 18");
    assert_eq!(
        protocol::decode_message(&bytes, 1024).unwrap(),
        vec![Frame::Control(Control::SizeReleased)]
    );
    assert_round_trip(Frame::Control(Control::SizeReleased), &hex(&bytes));
}

#[test]
fn unknown_control_fields_and_types_are_tolerated() {
    let c: Control = serde_json::from_str(r#"{"type":"gap","from":1,"to":2,"why":"x"}"#).unwrap();
    assert_eq!(c, Control::Gap { from: 1, to: 2 });
    let c: Control = serde_json::from_str(r#"{"type":"brand_new"}"#).unwrap();
    assert_eq!(c, Control::Unknown);
}
