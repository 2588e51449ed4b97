//! When the relay acknowledges an agent's output: with the next message to
//! the agent (a keystroke's INPUT carries the ACK of the echo before it),
//! alone after the ACK delay, at once past 256 KiB unacknowledged or at the
//! agent's exit — and `tether`'s exit waits for that ACK.
//!
//! Most tests run the relay with a one-minute ACK delay, longer than any
//! wait here (`DEADLINE`): an ACK that arrives came for its own reason, not
//! because the delay ran out.

use protocol::{Control, Frame};
use tests::relay::{Event, SessionFixture};
use tests::wait::DEADLINE;
use tests::wrapper::{wrapper_log, PrintOnPanic, TetherCommand};

/// Relay flags: an owed ACK waits a minute for company.
const LONG_DELAY: &[&str] = &["--ack-delay-ms", "60000"];

#[tokio::test]
async fn a_keystroke_carries_the_ack_of_the_echo_before_it() {
    let (fx, mut agent) = SessionFixture::with_agent(LONG_DELAY).await;
    agent.send(&[Frame::StreamOffset(0)]).await;
    let mut viewer = fx.joined_viewer().await;
    for (i, key) in [b'a', b'b', b'c'].into_iter().enumerate() {
        viewer.send(&[Frame::Input(vec![key])]).await;
        let before = agent.socket.messages;
        // The first frame after the echo is the next keystroke, with the
        // echo's ACK behind it in the same message.
        assert_eq!(
            agent.socket.next_event().await,
            Event::Frame(Frame::Input(vec![key]))
        );
        if i > 0 {
            assert_eq!(
                agent.socket.next_event().await,
                Event::Frame(Frame::Ack(i as u64))
            );
        }
        assert_eq!(agent.socket.messages, before + 1, "one message");
        agent.send_output(&[key]).await;
        viewer.read_output_until(&[key]).await;
    }
}

#[tokio::test]
async fn the_agents_exit_is_acknowledged_at_once() {
    let (fx, mut agent) = SessionFixture::with_agent(LONG_DELAY).await;
    agent.send(&[Frame::StreamOffset(0)]).await;
    let mut viewer = fx.joined_viewer().await;
    agent.send_output(b"last words").await;
    // Stored (and its ACK owed) before the exit comes, in a message of its own.
    viewer.read_output_until(b"last words").await;
    let exited = Frame::Control(Control::AgentExited {
        exit_status: Some(0),
    });
    agent.send(&[exited]).await;
    assert_eq!(
        agent.socket.next_event().await,
        Event::Frame(Frame::Ack(10))
    );
}

#[tokio::test]
async fn a_quarter_mebibyte_unacknowledged_is_acknowledged_at_once() {
    let (_fx, mut agent) = SessionFixture::with_agent(LONG_DELAY).await;
    agent.send(&[Frame::StreamOffset(0)]).await;
    let chunk = vec![b'x'; 16 << 10];
    for _ in 0..16 {
        agent.send_output(&chunk).await;
    }
    agent.wait_ack(256 << 10).await;
}

#[tokio::test]
async fn a_small_output_is_acknowledged_alone_after_the_delay() {
    let (_fx, mut agent) = SessionFixture::with_agent(&["--ack-delay-ms", "20"]).await;
    agent.send(&[Frame::StreamOffset(0)]).await;
    agent.send_output(b"quiet").await;
    let before = agent.socket.messages;
    assert_eq!(agent.socket.next_event().await, Event::Frame(Frame::Ack(5)));
    assert_eq!(agent.socket.messages, before + 1);
}

/// `tether` reports the exit and waits for the ACK of everything: it gets
/// it at once, not after the relay's ACK delay (nor after its own 5 s
/// finish deadline, which would log `acked=false`).
#[tokio::test]
async fn tethers_exit_waits_for_the_ack_and_gets_it() {
    let fx = SessionFixture::start_for("sh", LONG_DELAY);
    let home = tempfile::tempdir().unwrap();
    let log = wrapper_log(home.path(), "sh", &fx.session);
    let _print = PrintOnPanic(log.clone());
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", fx.relay.http_url())
        .env("TETHER_API_KEY", &fx.key)
        .args(["--resume", &fx.session, "--command", "sh", "--"])
        .args(["-c", "printf 'all of it'"])
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let log = std::fs::read_to_string(&log).unwrap();
    let reported = log
        .lines()
        .find(|l| l.contains("agent exit reported to the relay"))
        .unwrap_or_else(|| panic!("no exit line in the log:\n{log}"));
    assert!(reported.contains("acked=true"), "{reported}");
    let join = fx.connect_viewer(None).await.read_history().await;
    assert_eq!(join.output, b"all of it");
}
