//! Joining by snapshot, through the real relay: a viewer that joins (or
//! resumes from before the ring, or far behind) gets the terminal as it is
//! at the end of the stream, then live output from there; a resume inside
//! the ring stays byte-exact; raw replay stays for viewers that ask and for
//! legacy ones; bad requests get a clear refusal.

use protocol::{Control, Frame, Metadata, Size};
use tests::relay::{contains, Connect, Event, SessionFixture, ViewerClient};

/// What a terminal of `size` shows after `bytes`: its rows, trailing
/// spaces removed, and the cursor.
fn screen_after(size: Size, bytes: &[u8]) -> (Vec<String>, Option<(usize, usize)>) {
    let mut terminal = avt::Terminal::new(size.cols.into(), size.rows.into()).unwrap();
    terminal.feed(String::from_utf8_lossy(bytes).as_ref());
    let rows = terminal
        .screen()
        .visible_lines()
        .map(|line| line.text().trim_end().to_string())
        .collect();
    (rows, terminal.cursor().position())
}

/// The agent sends a 6×30 session's output and waits until it is stored.
async fn session_with_output(args: &[&str], output: &[u8]) -> SessionFixture {
    let (fx, mut agent) = SessionFixture::with_agent(args).await;
    agent
        .send(&[Frame::Resize(Size::new(6, 30)), Frame::StreamOffset(0)])
        .await;
    for chunk in output.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    agent.wait_ack(output.len() as u64).await;
    // The agent link stays up for the live part of the tests.
    std::mem::forget(agent);
    fx
}

fn numbered_lines(count: usize) -> Vec<u8> {
    (1..=count)
        .flat_map(|n| format!("\x1b[3{}mline {n}\x1b[m\r\n", n % 8).into_bytes())
        .collect()
}

#[tokio::test]
async fn a_joining_viewer_gets_the_screen_as_it_is_then_live_output() {
    let mut output = numbered_lines(40);
    output
        .extend_from_slice(b"\x1b[?1h\x1b[?2004h$ vi notes\x1b[?1049h\x1b[H\x1b[2Jin vi\x1b[3;4H");
    let (fx, mut agent) = {
        let fx = session_with_output(&[], &output).await;
        let agent = fx.connect_agent().await;
        (fx, agent)
    };
    let mut viewer = fx.connect_snapshot_viewer(None).await;
    let join = viewer.read_history().await;
    let snapshot = join.snapshot.clone().expect("a snapshot");
    let end = output.len() as u64;
    assert_eq!((snapshot.offset, snapshot.size), (end, Size::new(6, 30)));
    assert_eq!((join.start, join.complete_at), (Some(end), end));
    assert!(
        join.output.is_empty(),
        "no raw history: {:?}",
        join.output.len()
    );

    // Drawn on a fresh terminal, the snapshot shows what the stream does.
    let mut reset = b"\x1bc".to_vec();
    reset.extend_from_slice(&snapshot.data);
    assert_eq!(
        screen_after(snapshot.size, &reset),
        screen_after(snapshot.size, &output)
    );
    let text = String::from_utf8_lossy(&snapshot.data);
    for kept in ["line 40", "\x1b[?1047h", "\x1b[?1h", "\x1b[?2004h"] {
        assert!(text.contains(kept), "{kept:?} in {text:?}");
    }

    agent.send_output(b"live!").await;
    assert_eq!(viewer.read_output_until(b"live!").await, b"live!");
}

#[tokio::test]
async fn a_reconnect_inside_the_ring_is_byte_exact() {
    let output = numbered_lines(30);
    let fx = session_with_output(&[], &output).await;
    let from = 100;
    let mut viewer = fx.connect_snapshot_viewer(Some(from)).await;
    let join = viewer.read_history().await;
    assert!(join.snapshot.is_none(), "no snapshot");
    assert_eq!(join.start, Some(from));
    assert_eq!(join.output, output[from as usize..]);
}

#[tokio::test]
async fn a_resume_from_before_the_ring_gets_a_snapshot() {
    let output = numbered_lines(200);
    let fx = session_with_output(&["--history-bytes", "1024"], &output).await;
    let mut viewer = fx.connect_snapshot_viewer(Some(5)).await;
    let join = viewer.read_history().await;
    let snapshot = join.snapshot.expect("a snapshot");
    assert_eq!(snapshot.offset, output.len() as u64);
    let gap = join
        .frames
        .iter()
        .any(|f| matches!(f, Frame::Control(Control::Gap { .. })));
    assert!(!gap, "the snapshot stands for the lost bytes");
    assert!(String::from_utf8_lossy(&snapshot.data).contains("line 200"));
}

#[tokio::test]
async fn a_resume_far_behind_gets_a_snapshot_and_a_near_one_the_bytes() {
    let output = vec![b'.'; 300 << 10];
    let fx = session_with_output(&[], &output).await;
    let end = output.len() as u64;
    let far = fx.connect_snapshot_viewer(Some(end - (257 << 10))).await;
    let near = fx.connect_snapshot_viewer(Some(end - (255 << 10))).await;
    let (mut far, mut near) = (far, near);
    assert_eq!(
        far.read_history().await.snapshot.map(|s| s.offset),
        Some(end)
    );
    let near = near.read_history().await;
    assert!(near.snapshot.is_none());
    assert_eq!(near.output.len(), 255 << 10);
}

#[tokio::test]
async fn a_live_viewer_that_falls_far_behind_gets_a_snapshot_not_a_gap() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[Frame::Resize(Size::new(6, 30)), Frame::StreamOffset(0)])
        .await;
    let mut viewer = fx.connect_snapshot_viewer(None).await;
    let join = viewer.read_history().await;
    // The viewer renders nothing past its join (its last ACK) while the
    // agent writes on.
    viewer.send(&[Frame::Ack(join.complete_at)]).await;
    let mut written = numbered_lines(120_000);
    for chunk in written.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    let mut snapshot = None;
    let mut since = Vec::new();
    let mut live_sent = false;
    while !contains(&since, b"live after") {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Snapshot(s)) => {
                // Far behind: the snapshot stands for the bytes missed
                // (it may come more than once while the agent writes).
                let (rows, _) = screen_after(s.size, &s.data);
                let at = s.offset as usize;
                assert_eq!(screen_after(s.size, &written[..at]).0, rows);
                assert!(at > 256 << 10, "far behind its ACK: {at}");
                snapshot = Some(at);
                since.clear();
            }
            Event::Frame(Frame::Output(data)) => since.extend_from_slice(&data),
            Event::Frame(Frame::Control(Control::Gap { from, to })) => {
                panic!("a gap {from}..{to} instead of a snapshot")
            }
            Event::Frame(_) => {}
            other => panic!("reading the live stream: {other:?}"),
        }
        if snapshot.is_some() && !live_sent {
            agent.send_output(b"live after").await;
            written.extend_from_slice(b"live after");
            live_sent = true;
        }
    }
    let at = snapshot.expect("a snapshot once far behind");
    assert!(
        since == written[at..],
        "live output from the snapshot's offset ({} bytes, {} expected)",
        since.len(),
        written.len() - at
    );
}

#[tokio::test]
async fn raw_replay_for_viewers_that_ask_and_for_legacy_viewers() {
    let output = numbered_lines(10);
    let fx = session_with_output(&[], &output).await;
    let mut raw = fx.connect_viewer(None).await; // asks for history=raw
    let join = raw.read_history().await;
    assert!(join.snapshot.is_none());
    assert_eq!(join.output, output);

    let legacy = Connect {
        subprotocol_key: Some(fx.key.clone()),
        ..Default::default()
    };
    let url = fx.relay.ws_url();
    let mut old = ViewerClient::connect_for_history(&url, &fx.session, None, &legacy, "snapshot")
        .await
        .unwrap();
    let mut received = Vec::new();
    while received.len() < output.len() {
        match old.socket.next_event().await {
            Event::Frame(Frame::Output(data)) => received.extend(data),
            Event::Frame(frame @ (Frame::Snapshot(_) | Frame::Control(_))) => {
                panic!("a legacy viewer got {frame:?}")
            }
            Event::Frame(_) | Event::Text(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, output);
}

#[tokio::test]
async fn codex_sessions_join_by_snapshot_and_live_output_is_untouched() {
    let fx = SessionFixture::start_for("codex", &[]);
    let mut agent = fx.connect_agent().await;
    let codex = Metadata {
        agent: "codex".into(),
        ..Default::default()
    };
    agent
        .send(&[Frame::Metadata(codex), Frame::Resize(Size::new(4, 20))])
        .await;
    let output = b"old screen\x1b[2J\x1b[Hnew screen";
    agent.send_output(output).await;
    agent.wait_ack(output.len() as u64).await;
    let mut viewer = fx.connect_snapshot_viewer(None).await;
    let snapshot = viewer.read_history().await.snapshot.expect("a snapshot");
    let (rows, _) = screen_after(snapshot.size, &snapshot.data);
    assert_eq!(rows[0], "new screen");
    agent.send_output(b"\x1b[2Jlive").await;
    assert_eq!(viewer.read_output_until(b"live").await, b"\x1b[2Jlive");
}

/// The close a refused viewer gets.
async fn refusal(mut viewer: ViewerClient) -> (u16, String) {
    loop {
        match viewer.socket.next_event().await {
            Event::Closed(code, reason) => return (code, reason),
            Event::Frame(_) => {}
            other => panic!("expected a close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_requests_get_a_clear_refusal() {
    let output = numbered_lines(3);
    let fx = session_with_output(&[], &output).await;
    let end = output.len() as u64;
    let url = fx.relay.ws_url();

    let future = fx.connect_snapshot_viewer(Some(end + 100)).await;
    assert_eq!(
        refusal(future).await,
        (
            1008,
            format!(
                "offset {} is beyond the end of the stream ({end})",
                end + 100
            )
        )
    );

    let unknown = uuid_like();
    let stranger = ViewerClient::connect_by_snapshot(&url, &unknown, &fx.key, None)
        .await
        .unwrap();
    assert_eq!(refusal(stranger).await, (1008, "unknown session".into()));

    let how = Connect {
        subprotocol_key: Some(fx.key.clone()),
        tether: true,
        ..Default::default()
    };
    let odd = ViewerClient::connect_for_history(&url, &fx.session, None, &how, "everything")
        .await
        .unwrap();
    assert_eq!(
        refusal(odd).await,
        (
            1008,
            "unknown history mode \"everything\" (use snapshot or raw)".into()
        )
    );
}

#[tokio::test]
async fn after_a_relay_restart_a_resume_beyond_the_end_waits_for_the_reupload() {
    let (mut fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[Frame::StreamOffset(0), Frame::Output(b"seen|".to_vec())])
        .await;
    agent.wait_ack(5).await;
    fx.relay.restart();
    // The viewer is back before the wrapper: its offset is not refused.
    let mut viewer = fx.connect_snapshot_viewer(Some(5)).await;
    let join = viewer.read_history().await;
    assert_eq!((join.start, join.snapshot.is_none()), (Some(5), true));
    let mut agent = fx.connect_agent().await;
    agent
        .send(&[Frame::StreamOffset(0), Frame::Output(b"seen|new".to_vec())])
        .await;
    assert_eq!(viewer.read_output_until(b"new").await, b"new");
}

/// A well-formed session id no relay knows.
fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000000".into()
}
