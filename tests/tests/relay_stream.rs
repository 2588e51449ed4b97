//! The relay's streaming: routing both ways, several viewers, history replay,
//! `?from=` resume, the Codex policy, gaps, and the no-data-loss exchange.

use protocol::{Control, Frame, Metadata, Role};
use tests::relay::{contains, Event, SessionFixture};

#[tokio::test]
async fn output_reaches_every_viewer_and_input_reaches_the_agent() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    assert_eq!(agent.held, 0);
    let metadata = Metadata {
        agent: "claude".into(),
        ..Default::default()
    };
    agent
        .send(&[
            Frame::Metadata(metadata.clone()),
            Frame::Resize(protocol::Size {
                rows: 30,
                cols: 100,
            }),
            Frame::StreamOffset(0),
        ])
        .await;
    agent.send_output(b"early ").await;
    agent.wait_ack(6).await;

    let mut first = fx.connect_viewer(None).await;
    let mut second = fx.connect_viewer(None).await;
    assert_eq!(first.echoed, Some(format!("omnara-key.{}", fx.key)));
    for viewer in [&mut first, &mut second] {
        let join = viewer.read_history().await;
        assert_eq!(
            join.frames[0],
            Frame::Control(Control::Role {
                role: Role::ReadWrite,
                shared_by: None,
            })
        );
        assert!(join.frames.contains(&Frame::Metadata(metadata.clone())));
        assert!(join.frames.contains(&Frame::Resize(protocol::Size {
            rows: 30,
            cols: 100
        })));
        assert_eq!(join.start, Some(0));
        assert_eq!(join.output, b"early ");
        assert_eq!(join.complete_at, 6);
    }

    agent.send_output(b"live!").await;
    for viewer in [&mut first, &mut second] {
        assert_eq!(viewer.read_output_until(b"live!").await, b"live!");
    }

    first.send(&[Frame::Input(b"ls\r".to_vec())]).await;
    assert_eq!(agent.next_command().await, Frame::Input(b"ls\r".to_vec()));
    second
        .send(&[Frame::Resize(protocol::Size {
            rows: 50,
            cols: 120,
        })])
        .await;
    assert_eq!(
        agent.next_command().await,
        Frame::Resize(protocol::Size {
            rows: 50,
            cols: 120
        })
    );

    // The agent's size change reaches viewers.
    agent
        .send(&[Frame::Resize(protocol::Size {
            rows: 50,
            cols: 120,
        })])
        .await;
    let resized = loop {
        match first.socket.next_event().await {
            Event::Frame(Frame::Resize(protocol::Size { rows, cols })) => break (rows, cols),
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(resized, (50, 120));
}

#[tokio::test]
async fn a_viewer_resumes_from_its_offset_and_gets_only_what_it_missed() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent.send_output(b"0123456789").await;
    agent.wait_ack(10).await;
    let mut viewer = fx.connect_viewer(Some(4)).await;
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(4));
    assert_eq!(join.output, b"456789");
    assert_eq!(join.complete_at, 10);
}

#[tokio::test]
async fn codex_history_is_replayed_without_erase_in_display_even_when_split() {
    let fx = SessionFixture::start_for("codex", &[]);
    let mut agent = fx.connect_agent().await;
    let metadata = Metadata {
        agent: "codex".into(),
        ..Default::default()
    };
    agent.send(&[Frame::Metadata(metadata)]).await;
    // The sequence is split across two OUTPUT frames (and two messages).
    agent.send_output(b"one\x1b[").await;
    agent.send_output(b"2Jtwo\x1b[Jthree").await;
    agent.wait_ack(18).await;

    let mut viewer = fx.connect_viewer(None).await;
    let join = viewer.read_history().await;
    assert_eq!(join.output, b"onetwothree");
    assert_eq!(join.complete_at, 18);

    // Live output is never altered.
    agent.send_output(b"\x1b[2Jlive").await;
    assert_eq!(viewer.read_output_until(b"live").await, b"\x1b[2Jlive");
}

#[tokio::test]
async fn a_viewer_older_than_the_ring_is_told_of_the_gap() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "8"]).await;
    agent.send_output(b"abcdefghijkl").await;
    agent.wait_ack(12).await;
    let mut viewer = fx.connect_viewer(Some(0)).await;
    let join = viewer.read_history().await;
    assert!(
        join.frames
            .contains(&Frame::Control(Control::Gap { from: 0, to: 4 })),
        "{:?}",
        join.frames
    );
    assert_eq!(join.start, Some(4));
    assert_eq!(join.output, b"efghijkl");
}

#[tokio::test]
async fn a_reconnecting_agent_resends_without_gap_or_duplicate() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[Frame::StreamOffset(0), Frame::Output(b"hello ".to_vec())])
        .await;
    agent.wait_ack(6).await;
    let mut viewer = fx.joined_viewer().await;

    // The link drops; the wrapper reconnects and resends from an older offset.
    agent.socket.close().await;
    viewer.wait_control(|c| *c == Control::AgentOffline).await;
    let mut agent = fx.connect_agent().await;
    assert_eq!(agent.held, 6);
    agent
        .send(&[Frame::StreamOffset(3), Frame::Output(b"lo world".to_vec())])
        .await;
    agent.wait_ack(11).await;
    // AGENT_ONLINE says what is true now, not where in the stream: the
    // resent output may reach the viewer before or after it.
    let (mut online, mut output) = (false, Vec::new());
    while !online || !contains(&output, b"world") {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Output(data)) => output.extend_from_slice(&data),
            Event::Frame(Frame::Control(Control::AgentOnline)) => online = true,
            Event::Frame(_) => {}
            other => panic!("waiting for the agent and its output, got {other:?}"),
        }
    }
    assert_eq!(output, b"world", "no gap, no duplicate");

    let mut late = fx.connect_viewer(None).await;
    assert_eq!(late.read_history().await.output, b"hello world");
}

#[tokio::test]
async fn after_a_relay_restart_the_wrapper_reuploads_its_history() {
    let (mut fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[
            Frame::StreamOffset(0),
            Frame::Output(b"before restart|".to_vec()),
        ])
        .await;
    agent.wait_ack(15).await;

    fx.relay.restart();
    let mut agent = fx.connect_agent().await;
    assert_eq!(agent.held, 0, "a restarted relay holds nothing");
    agent
        .send(&[
            Frame::StreamOffset(0),
            Frame::Output(b"before restart|after".to_vec()),
        ])
        .await;
    agent.wait_ack(20).await;
    let mut viewer = fx.connect_viewer(None).await;
    assert_eq!(viewer.read_history().await.output, b"before restart|after");

    // A wrapper that kept only a later part: the log starts there.
    fx.relay.restart();
    let mut agent = fx.connect_agent().await;
    agent
        .send(&[
            Frame::StreamOffset(7),
            Frame::Output(b"restart|after".to_vec()),
        ])
        .await;
    agent.wait_ack(20).await;
    let mut viewer = fx.connect_viewer(None).await;
    let join = viewer.read_history().await;
    assert_eq!(
        (join.start, join.output.as_slice()),
        (Some(7), &b"restart|after"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_viewer_does_not_slow_the_agent_or_another_viewer() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "1048576"]).await;
    // Joins, then does not read while the agent streams.
    let mut stalled = fx.joined_viewer().await;
    let mut healthy = fx.joined_viewer().await;

    let chunk = vec![b'x'; 64 << 10];
    let chunks = 128; // 8 MiB: far more than the ring and the socket buffers
    let total = chunks * chunk.len() as u64;
    let started = std::time::Instant::now();
    let reader = tokio::spawn(async move {
        // The stream position this viewer reached (gaps move it forward too).
        let mut position = 0u64;
        while position < total {
            match healthy.socket.next_event().await {
                Event::Frame(Frame::Output(data)) => position += data.len() as u64,
                Event::Frame(Frame::StreamOffset(to)) => position = to,
                Event::Frame(_) => {}
                other => panic!("{other:?}"),
            }
        }
        position
    });
    for _ in 0..chunks {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(total).await;
    assert_eq!(reader.await.unwrap(), total);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );

    // The stalled viewer, reading at last, is told that it skipped a gap.
    let gap = stalled
        .wait_control(|c| matches!(c, Control::Gap { .. }))
        .await;
    let Control::Gap { from, to } = gap else {
        unreachable!()
    };
    assert!(from < to && to <= total, "gap {from}..{to}");
}

#[tokio::test]
async fn a_new_agent_link_replaces_the_old_one() {
    let (fx, mut old) = SessionFixture::with_agent(&[]).await;
    old.send_output(b"abc").await;
    old.wait_ack(3).await;
    let mut new = fx.connect_agent().await;
    assert_eq!(new.held, 3);
    assert_eq!(
        old.socket.closed().await,
        Some((1000, "replaced by a newer agent link".into()))
    );
    let mut viewer = fx.joined_viewer().await;
    viewer
        .send(&[Frame::Input(b"to the new one".to_vec())])
        .await;
    assert_eq!(
        new.next_command().await,
        Frame::Input(b"to the new one".to_vec())
    );
}

#[tokio::test]
async fn a_viewer_resuming_on_a_restarted_relay_gets_no_duplicates() {
    let (mut fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[
            Frame::StreamOffset(0),
            Frame::Output(b"seen already|".to_vec()),
        ])
        .await;
    agent.wait_ack(13).await;

    fx.relay.restart();
    // The viewer comes back first, at the offset after its last byte.
    let mut viewer = fx.connect_viewer(Some(13)).await;
    let join = viewer.read_history().await;
    assert_eq!(
        (join.start, join.output.len(), join.complete_at),
        (Some(13), 0, 13)
    );
    let mut agent = fx.connect_agent().await;
    agent
        .send(&[
            Frame::StreamOffset(0),
            Frame::Output(b"seen already|new".to_vec()),
        ])
        .await;
    assert_eq!(viewer.read_output_until(b"new").await, b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_viewer_gets_resizes_and_the_end_in_stream_order() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "67108864"]).await;
    agent
        .send(&[Frame::Resize(protocol::Size { rows: 24, cols: 80 })])
        .await;
    let mut viewer = fx.joined_viewer().await;

    // The viewer does not read while the agent prints, resizes, prints and exits.
    let chunk = vec![b'x'; 64 << 10];
    let half = 128 * chunk.len() as u64; // 8 MiB: more than the socket buffers hold
    for _ in 0..128 {
        agent.send_output(&chunk).await;
    }
    agent
        .send(&[Frame::Resize(protocol::Size {
            rows: 40,
            cols: 100,
        })])
        .await;
    for _ in 0..128 {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(2 * half).await;
    agent
        .send(&[Frame::Control(Control::AgentExited {
            exit_status: Some(0),
        })])
        .await;

    let (mut received, mut resized_at) = (0u64, None);
    let ended_at = loop {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Output(data)) => received += data.len() as u64,
            Event::Frame(Frame::Resize(protocol::Size {
                rows: 40,
                cols: 100,
            })) => resized_at = Some(received),
            Event::Frame(Frame::Control(Control::SessionEnded { .. })) => break received,
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        resized_at,
        Some(half),
        "the resize comes where it happened in the stream"
    );
    assert_eq!(ended_at, 2 * half, "the end comes after all output");
}

#[tokio::test]
async fn a_viewer_that_acks_is_paced_by_what_it_rendered() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "33554432"]).await;
    let mut viewer = fx.joined_viewer().await;
    viewer.send(&[Frame::Ack(0)]).await;
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..128 {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(8 << 20).await;

    // Without further ACKs the relay stops at the 2 MiB window.
    let mut received = 0u64;
    while let Some(event) = viewer
        .socket
        .next_event_within(std::time::Duration::from_millis(500))
        .await
    {
        match event {
            Event::Frame(Frame::Output(data)) => received += data.len() as u64,
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, 2 << 20, "paced at the window");

    // Each ACK opens the window again, until everything arrived.
    while received < 8 << 20 {
        viewer.send(&[Frame::Ack(received)]).await;
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Output(data)) => received += data.len() as u64,
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(received, 8 << 20);
}
