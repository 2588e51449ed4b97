//! Compression to viewers: a viewer that asks (`compress=deflate`) gets
//! DEFLATED envelopes that inflate to exactly the frames a viewer that did
//! not ask gets plain; one that does not ask, and a legacy viewer even if it
//! asks, never gets an envelope.

use tests::relay::{Connect, SessionFixture, ViewerClient};
use tests::workload::agent_output;

/// A session holding `len` bytes of agent-like history.
async fn session_with_history(len: usize) -> (SessionFixture, tests::relay::AgentClient, Vec<u8>) {
    let (fixture, mut agent) = SessionFixture::with_agent(&[]).await;
    let history = agent_output(len, 11);
    for chunk in history.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    agent.wait_ack(history.len() as u64).await;
    (fixture, agent, history)
}

async fn viewer(fixture: &SessionFixture, tether: bool, compress: bool) -> ViewerClient {
    let how = Connect {
        subprotocol_key: Some(fixture.key.clone()),
        tether,
        compress,
        ..Default::default()
    };
    ViewerClient::connect_with(&fixture.relay.ws_url(), &fixture.session, None, &how)
        .await
        .unwrap_or_else(|e| panic!("viewer link: {e}\n{}", fixture.relay.log()))
}

#[tokio::test]
async fn a_viewer_that_asks_gets_deflated_messages_with_the_same_frames() {
    let (fixture, mut agent, _) = session_with_history(2 << 20).await;
    let mut compressed = viewer(&fixture, true, true).await;
    let mut plain = viewer(&fixture, true, false).await;

    let compressed_join = compressed.read_history().await;
    let plain_join = plain.read_history().await;
    assert_eq!(
        compressed_join.frames, plain_join.frames,
        "the same join, inflated"
    );
    assert!(compressed.socket.deflated > 0, "the join came deflated");
    assert_eq!(plain.socket.deflated, 0, "a viewer that did not ask");
    let (small, large) = (
        compressed.socket.received_bytes,
        plain.socket.received_bytes,
    );
    assert!(
        small * 2 < large,
        "deflated join {small} bytes, plain {large} bytes"
    );

    // Live output: a burst (deflated), the same bytes to both viewers…
    let burst = agent_output(200 << 10, 12);
    agent.send_output(&burst).await;
    let before = compressed.socket.deflated;
    assert_eq!(
        compressed.read_output_to(Vec::new(), burst.len()).await,
        burst
    );
    assert_eq!(plain.read_output_to(Vec::new(), burst.len()).await, burst);
    assert!(
        compressed.socket.deflated > before,
        "the burst came deflated"
    );
    // … and a keystroke echo, too small to gain: plain.
    let before = (compressed.socket.messages, compressed.socket.deflated);
    agent.send_output(b"x").await;
    assert_eq!(compressed.read_output_to(Vec::new(), 1).await, b"x");
    assert_eq!(
        (compressed.socket.messages, compressed.socket.deflated),
        (before.0 + 1, before.1),
        "the echo came plain"
    );
    assert_eq!(plain.socket.deflated, 0);
}

#[tokio::test]
async fn legacy_viewers_never_get_envelopes_even_if_they_ask() {
    let (fixture, _agent, history) = session_with_history(256 << 10).await;
    let mut legacy = viewer(&fixture, false, true).await;
    let output = legacy.read_output_to(Vec::new(), history.len()).await;
    assert_eq!(output, history, "a legacy viewer gets the raw replay");
    assert!(legacy.socket.messages > 0);
    assert_eq!(legacy.socket.deflated, 0, "and no envelope");
}
