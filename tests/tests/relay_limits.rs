//! Legacy (Omnara) clients, malformed and oversize frames, and the limits.

use std::time::Duration;

use protocol::{Control, Frame, Metadata};
use serde_json::json;
use tests::relay::{http, Connect, Event, RelayProcess, SessionFixture, ViewerClient};
use tests::wait::{eventually, DEADLINE};

#[tokio::test]
async fn a_legacy_omnara_wrapper_gets_text_ready_then_only_binary_frames() {
    let fx = SessionFixture::start(&["--ping-secs", "1"]);
    let mut legacy = fx.connect_legacy_agent().await;
    // One frame per message, as the Omnara client sends them.
    let metadata: Metadata = serde_json::from_str(r#"{"agent":"claude","app":"omnara"}"#).unwrap();
    legacy.send(&[Frame::Metadata(metadata.clone())]).await;
    legacy
        .send(&[Frame::Resize(protocol::Size { rows: 24, cols: 80 })])
        .await;
    legacy
        .send(&[Frame::Output(b"legacy output".to_vec())])
        .await;

    let mut viewer = fx.connect_viewer(None).await;
    let mut tether_agent_viewer = viewer.read_history().await;
    if tether_agent_viewer.output.is_empty() {
        tether_agent_viewer.output = viewer.read_output_until(b"legacy output").await;
    }
    assert_eq!(tether_agent_viewer.output, b"legacy output");
    viewer.send(&[Frame::Input(b"hi\r".to_vec())]).await;

    // The legacy wrapper sees INPUT, and in two ping intervals nothing else:
    // no ACK, no CONTROL, no text, not even a WebSocket ping (the real
    // Omnara client takes one for a broken link), and it stays connected.
    assert_eq!(
        legacy.next_event().await,
        Event::Frame(Frame::Input(b"hi\r".to_vec()))
    );
    assert_eq!(
        legacy.next_event_within(Duration::from_millis(2500)).await,
        None
    );
    assert_eq!(legacy.pings, 0, "legacy agents are not pinged");
    assert_eq!(fx.relay.metric("tether_relay_agents").await, 1);
    // A Tether viewer does get pings in that time.
    while let Some(Event::Frame(_)) = viewer
        .socket
        .next_event_within(Duration::from_millis(200))
        .await
    {}
    assert!(viewer.socket.pings > 0, "the Tether viewer was pinged");
}

#[tokio::test]
async fn a_legacy_viewer_gets_only_omnara_frame_types() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[
            Frame::Resize(protocol::Size { rows: 24, cols: 80 }),
            Frame::Output(b"abc".to_vec()),
        ])
        .await;
    agent.wait_ack(3).await;
    let how = Connect {
        subprotocol_key: Some(fx.key.clone()),
        ..Default::default()
    };
    let mut viewer = ViewerClient::connect_with(&fx.relay.ws_url(), &fx.session, None, &how)
        .await
        .unwrap();
    assert_eq!(
        viewer.socket.next_event().await,
        Event::Frame(Frame::Resize(protocol::Size { rows: 24, cols: 80 }))
    );
    assert_eq!(
        viewer.socket.next_event().await,
        Event::Frame(Frame::Output(b"abc".to_vec()))
    );
    agent.socket.close().await;
    // No agent_offline (an extension) reaches a legacy viewer.
    assert_eq!(
        viewer
            .socket
            .next_event_within(Duration::from_millis(500))
            .await,
        None
    );
}

async fn agent_close_after(
    relay: &RelayProcess,
    session: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Option<(u16, String)> {
    let mut agent = relay.connect_agent(session, key).await;
    agent.socket.send_raw(bytes).await;
    agent.socket.closed().await
}

#[tokio::test]
async fn malformed_and_oversize_frames_close_only_the_offending_link() {
    let relay = RelayProcess::start_with(&["--max-frame", "1024"]);
    let key = relay.api_key();
    let bystander_session = relay.register_session(&key, "claude");
    let mut bystander = relay.connect_agent(&bystander_session, &key).await;
    let session = relay.register_session(&key, "claude");

    let truncated = vec![0, 0, 0, 0, 9, b'x'];
    let (code, reason) = agent_close_after(&relay, &session, &key, truncated)
        .await
        .unwrap();
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.starts_with("malformed frame"), "{reason}");

    let bad_resize = vec![2, 0, 0, 0, 3, 1, 2, 3];
    assert_eq!(
        agent_close_after(&relay, &session, &key, bad_resize)
            .await
            .unwrap()
            .0,
        1002
    );

    let absurd_offset = Frame::StreamOffset(u64::MAX).to_bytes();
    let (code, reason) = agent_close_after(&relay, &session, &key, absurd_offset)
        .await
        .unwrap();
    assert_eq!(code, 1002, "{reason}");

    let oversize = [&[0u8, 0, 0, 8, 0][..], &[b'x'; 2048][..]].concat();
    let (code, reason) = agent_close_after(&relay, &session, &key, oversize)
        .await
        .unwrap();
    assert_eq!(code, 1009, "{reason}");

    // A viewer's malformed frame closes the viewer only.
    let mut viewer = relay.joined_viewer(&bystander_session, &key).await;
    viewer.socket.send_raw(vec![1, 0, 0, 0, 5]).await;
    assert_eq!(viewer.socket.closed().await.map(|c| c.0), Some(1002));

    // Unknown frame types are skipped; the rest of the message is applied.
    let mut agent = relay.connect_agent(&session, &key).await;
    let mut message = vec![9, 0, 0, 0, 2, 1, 2];
    Frame::Output(b"still fine".to_vec()).encode(&mut message);
    agent.socket.send_raw(message).await;
    agent.wait_ack(10).await;

    // The bystander never noticed.
    bystander.send_output(b"ok").await;
    bystander.wait_ack(2).await;
    assert_eq!(relay.metric("tether_relay_frames_dropped_total").await, 1);
}

#[tokio::test]
async fn viewer_session_and_input_limits_are_enforced() {
    let fx = SessionFixture::start(&[
        "--max-viewers",
        "1",
        "--max-sessions",
        "2",
        "--max-input-rate",
        "16",
    ]);
    let _second = fx.relay.register_session(&fx.key, "claude");
    let body = json!({"agent_type": "claude", "transport": "ws"});
    let (status, body) = fx
        .relay
        .api("POST", "agent-instances", &fx.key, Some(&body))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too many open sessions for this user"))
    );

    let mut agent = fx.connect_agent().await;
    let mut viewer = fx.joined_viewer().await;
    let mut extra = fx.connect_viewer(None).await;
    assert_eq!(
        extra.socket.closed().await,
        Some((1008, "the session has too many viewers".into()))
    );

    viewer.send(&[Frame::Input(b"0123456789".to_vec())]).await;
    assert_eq!(
        agent.next_command().await,
        Frame::Input(b"0123456789".to_vec())
    );
    viewer.send(&[Frame::Input(b"0123456789".to_vec())]).await;
    assert_eq!(
        viewer.wait_error().await,
        "input rate limit exceeded: input dropped"
    );
}

#[tokio::test]
async fn input_for_an_offline_agent_is_refused_not_queued() {
    let fx = SessionFixture::start(&[]);
    let mut viewer = fx.joined_viewer().await;
    viewer.wait_control(|c| *c == Control::AgentOffline).await;
    viewer.send(&[Frame::Input(b"lost\r".to_vec())]).await;
    assert_eq!(
        viewer.wait_error().await,
        "agent offline: input not delivered"
    );
    let mut agent = fx.connect_agent().await;
    viewer.wait_control(|c| *c == Control::AgentOnline).await;
    viewer.send(&[Frame::Input(b"new\r".to_vec())]).await;
    assert_eq!(agent.next_command().await, Frame::Input(b"new\r".to_vec()));
}

#[tokio::test]
async fn a_tether_peer_that_stops_answering_pings_is_dropped() {
    let fx = SessionFixture::start(&["--ping-secs", "1"]);
    let _silent = fx.joined_viewer().await;
    // The client never reads again, so it never answers a ping.
    assert_eq!(fx.relay.metric("tether_relay_viewers").await, 1);
    eventually("the silent viewer to be detached", DEADLINE, async || {
        fx.relay.metric("tether_relay_viewers").await == 0
    })
    .await;
}

#[tokio::test]
async fn a_websocket_message_over_the_limit_closes_with_1009() {
    let (_fx, mut agent) = SessionFixture::with_agent(&["--max-frame", "1024"]).await;
    // Many small frames in one message, together far over any sane size.
    let mut message = Vec::new();
    for _ in 0..200 {
        Frame::Output(vec![b'x'; 1000]).encode(&mut message);
    }
    agent.socket.send_raw(message).await;
    let closed = agent.socket.closed().await;
    assert_eq!(closed.as_ref().map(|c| c.0), Some(1009), "{closed:?}");
}

#[tokio::test]
async fn a_zero_size_resize_is_refused() {
    let (fx, _agent) = SessionFixture::with_agent(&[]).await;
    let mut viewer = fx.joined_viewer().await;
    viewer
        .send(&[Frame::Resize(protocol::Size { rows: 0, cols: 80 })])
        .await;
    assert_eq!(
        viewer.wait_error().await,
        "resize refused: rows and columns must be at least 1"
    );
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = (self.next() % 64) as usize;
        let mut out: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        // Often a plausible header, so the decoder gets past the first byte.
        if len >= 5 && self.next() % 2 == 0 {
            out[0] %= 8;
            out[1..5].copy_from_slice(
                &((len as u32).saturating_sub(5 + (self.next() % 3) as u32)).to_be_bytes(),
            );
        }
        out
    }
}

#[tokio::test]
async fn random_bytes_on_both_links_never_take_the_relay_down() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let bystander_session = relay.register_session(&key, "claude");
    let mut bystander = relay.connect_agent(&bystander_session, &key).await;
    let session = relay.register_session(&key, "claude");
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut closes = 0;
    for _ in 0..20 {
        let mut agent = relay.connect_agent(&session, &key).await;
        let mut viewer = relay.joined_viewer(&session, &key).await;
        for _ in 0..10 {
            agent.socket.send_raw(noise.bytes()).await;
            viewer.socket.send_raw(noise.bytes()).await;
        }
        // Whatever happened, each link either still works or was closed with a code.
        for socket in [&mut agent.socket, &mut viewer.socket] {
            while let Some(event) = socket.next_event_within(Duration::from_millis(50)).await {
                match event {
                    Event::Closed(code, _) => {
                        assert!([1002, 1009, 1000].contains(&code), "close {code}");
                        closes += 1;
                        break;
                    }
                    Event::Gone => panic!("the relay dropped a link without a close"),
                    _ => {}
                }
            }
        }
    }
    assert!(closes > 0, "the noise included malformed frames");
    let (status, _) = http("GET", &format!("{}/health", relay.http_url()), None, None).await;
    assert_eq!(status, 200);
    bystander.send_output(b"still here").await;
    bystander.wait_ack(10).await;
}

#[tokio::test]
async fn an_abandoned_session_stops_counting_against_the_limit() {
    let relay = RelayProcess::start_with(&["--max-sessions", "1", "--retention", "1"]);
    let key = relay.api_key();
    let _abandoned = relay.register_session(&key, "claude");
    let url = format!("{}/api/v1/agent-instances", relay.http_url());
    let body = json!({"agent_type": "claude"});
    assert_eq!(http("POST", &url, Some(&key), Some(&body)).await.0, 429);
    // Never ended, never connected: after the retention time it is not open.
    eventually("a new session to be accepted", DEADLINE, async || {
        http("POST", &url, Some(&key), Some(&body)).await.0 == 201
    })
    .await;
}
