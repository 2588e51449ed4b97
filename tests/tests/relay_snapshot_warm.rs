//! Warm snapshots through the real relay: a session that went quiet after
//! enough output has its snapshot built in the background, so that the
//! first viewer to join waits for no parsing of the ring at all and a
//! later one only for what came since — counted by the relay's
//! `snapshot_parsed_*` metrics, not timed.

use protocol::{Frame, Size};
use tests::relay::SessionFixture;
use tests::wait::{eventually, DEADLINE};

const AT_JOIN: &str = "tether_relay_snapshot_parsed_at_join_bytes_total";
const WARM: &str = "tether_relay_snapshot_parsed_warm_bytes_total";

fn numbered_lines(count: usize) -> Vec<u8> {
    (1..=count)
        .flat_map(|n| {
            format!("\x1b[3{}mline {n}\x1b[m of the agent's output\r\n", n % 8).into_bytes()
        })
        .collect()
}

#[tokio::test]
async fn the_first_join_after_a_quiet_period_parses_nothing_and_a_later_one_only_the_rest() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    agent
        .send(&[Frame::Resize(Size::new(24, 80)), Frame::StreamOffset(0)])
        .await;
    let output = numbered_lines(20_000);
    for chunk in output.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    let end = output.len() as u64;
    assert!(end > 512 << 10, "{end}");
    agent.wait_ack(end).await;
    eventually(
        "the quiet session's snapshot warmed",
        DEADLINE,
        async || fx.relay.metric(WARM).await == end,
    )
    .await;
    let mut first = fx.connect_snapshot_viewer(None).await;
    let join = first.read_history().await;
    let snapshot = join.snapshot.expect("a snapshot");
    assert_eq!((snapshot.offset, snapshot.size), (end, Size::new(24, 80)));
    assert!(
        String::from_utf8_lossy(&snapshot.data).contains("line 20000"),
        "the last line is on the screen"
    );
    // A little more output, not enough to warm again: the next join parses
    // exactly that, so the first one parsed nothing.
    let more = b"\x1b[1mafter the first join\x1b[m\r\n";
    agent.send_output(more).await;
    let end = end + more.len() as u64;
    agent.wait_ack(end).await;
    let mut later = fx.connect_snapshot_viewer(None).await;
    let join = later.read_history().await;
    assert_eq!(join.snapshot.expect("a snapshot").offset, end);
    eventually("the later join counted", DEADLINE, async || {
        fx.relay.metric(AT_JOIN).await == more.len() as u64
    })
    .await;
    assert_eq!(fx.relay.metric(AT_JOIN).await, more.len() as u64);
    assert_eq!(fx.relay.metric(WARM).await, end - more.len() as u64);
}
