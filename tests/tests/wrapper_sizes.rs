//! The PTY's size with viewers: `tether` with the real relay, in a real
//! terminal (tmux, 100×30) where one matters. Viewers' RESIZE requests are
//! debounced and applied in steps; a viewer's resize takes the PTY, and
//! resizing the local terminal takes it back. "Fit to screen" gives the
//! size back: when the viewer whose RESIZE is in force leaves, or a key is
//! typed in the local terminal, the PTY goes back to the terminal's size,
//! so a desktop session is never left phone-sized. And the relay's side on its own: the agent hears
//! `size_released` when the holder leaves (never a legacy agent).

use std::time::{Duration, Instant};

use protocol::{Control, Frame, Size};
use tests::relay::{AgentClient, Event, Join, RelayProcess, SessionFixture, ViewerClient};
use tests::tmux::{RelayTerminal, Tmux};
use tests::wait::DEADLINE;
use tests::wrapper::{wrapper_log, PrintOnPanic, TetherCommand};

/// The local terminal: tmux's window.
const DESK: Size = Size {
    rows: 30,
    cols: 100,
};
/// What the phone asks for.
const PHONE: Size = Size { rows: 20, cols: 40 };

/// Waits until the wrapper reports the PTY at `size` (its RESIZE, seen by
/// `watcher`), then checks it inside: `watcher` types `stty size` (a viewer's
/// keys are not the local terminal's) and the answer shows in tmux.
async fn pty_is(tmux: &Tmux, watcher: &mut ViewerClient, size: Size) {
    let reported = Frame::Resize(size);
    watcher
        .wait_frame(&Join::default(), |f| *f == reported)
        .await;
    let input = Frame::Input(b"clear; stty size\r".to_vec());
    watcher.send(&[input]).await;
    tmux.wait_for_text(&format!("{} {}", size.rows, size.cols), DEADLINE);
}

/// Viewer RESIZE requests: debounced (latest wins) and applied in steps.
#[tokio::test]
async fn viewer_resizes_are_debounced_and_stepped() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
        .env("LINES", "24")
        .env("COLUMNS", "80")
        .args(["--command", "sh", "--", "-c"])
        .args(["stty -echo; echo ready; read x; stty size"])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    let join = viewer.read_history().await;
    let start = Frame::Resize(Size { rows: 24, cols: 80 });
    viewer.wait_frame(&join, |f| *f == start).await;

    viewer
        .send(&[Frame::Resize(Size { rows: 30, cols: 90 })])
        .await;
    viewer
        .send(&[Frame::Resize(Size {
            rows: 40,
            cols: 150,
        })])
        .await;
    let asked = Instant::now();
    let mut sizes = Vec::new();
    while sizes.last() != Some(&(40, 150)) {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Resize(Size { rows, cols })) => sizes.push((rows, cols)),
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "debounced: after {took:?}"
    );
    assert!(!sizes.contains(&(30, 90)), "superseded, skipped: {sizes:?}");
    assert!(sizes.len() >= 3, "a large change goes in steps: {sizes:?}");
    for pair in sizes.windows(2) {
        assert!(
            pair[1].1 > pair[0].1,
            "columns grow step by step: {sizes:?}"
        );
    }
    tether.write_stdin(b"\n");
    tether.stdout.wait_for_text("40 150", DEADLINE);
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
}

/// Local terminal attached (tmux): a viewer's resize takes control of the
/// PTY size; resizing the local terminal takes it back. (The size is read
/// with `stty size` typed by the viewer: a key typed in tmux would take the
/// size back too, see below.)
#[tokio::test]
async fn a_viewer_takes_control_and_the_local_terminal_takes_it_back() {
    let Some(RelayTerminal {
        tmux,
        key,
        home: _home,
        relay,
    }) = RelayTerminal::start(100, 30)
    else {
        return;
    };
    let id = tmux.run_tether_shell();
    let mut viewer = relay.connect_viewer(&id, &key, None).await;
    let join = viewer.read_history().await;
    let local = Frame::Resize(Size {
        rows: 30,
        cols: 100,
    });
    viewer.wait_frame(&join, |f| *f == local).await;

    let asked = Frame::Resize(Size { rows: 20, cols: 60 });
    viewer.send(std::slice::from_ref(&asked)).await;
    viewer.wait_frame(&Join::default(), |f| *f == asked).await;
    viewer.send(&[Frame::Input(b"stty size\r".to_vec())]).await;
    tmux.wait_for_text("20 60", DEADLINE);

    tmux.resize(110, 35);
    let local = Frame::Resize(Size {
        rows: 35,
        cols: 110,
    });
    viewer.wait_frame(&Join::default(), |f| *f == local).await;
    tmux.type_line("clear; stty size");
    tmux.wait_for_text("35 110", DEADLINE);
    tmux.type_line("exit");
    tmux.wait_until_idle(DEADLINE);
}

#[tokio::test]
async fn a_viewers_size_goes_back_when_it_leaves_or_a_key_is_typed_locally() {
    let Some(RelayTerminal {
        tmux,
        key,
        home,
        relay,
    }) = RelayTerminal::start(DESK.cols, DESK.rows)
    else {
        return;
    };
    let id = tmux.run_tether_shell();
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", &id));

    // A viewer that never asks for a size: it sees the PTY's and reads it.
    let mut watcher = relay.connect_viewer(&id, &key, None).await;
    let join = watcher.read_history().await;
    let desk = Frame::Resize(DESK);
    watcher.wait_frame(&join, |f| *f == desk).await;

    // The phone fits the session to its screen, then leaves: the size goes back.
    let mut phone = relay.joined_viewer(&id, &key).await;
    phone.send(&[Frame::Resize(PHONE)]).await;
    pty_is(&tmux, &mut watcher, PHONE).await;
    phone.socket.close().await;
    drop(phone);
    pty_is(&tmux, &mut watcher, DESK).await;

    // Again; this time a key typed on the desk takes the size back, with
    // the phone still there.
    let mut phone = relay.joined_viewer(&id, &key).await;
    phone.send(&[Frame::Resize(PHONE)]).await;
    pty_is(&tmux, &mut watcher, PHONE).await;
    tmux.send_keys(&["Enter"]);
    pty_is(&tmux, &mut watcher, DESK).await;

    tmux.type_line("exit");
    tmux.wait_until_idle(DEADLINE);
}

// ------------------------------------------------------------ the relay's side

/// How long a test waits to be sure that nothing more comes.
const QUIET: Duration = Duration::from_millis(500);

/// No control frame (no `size_released`) comes to `agent` within [`QUIET`].
async fn nothing_released(agent: &mut AgentClient) {
    let quiet = agent.socket.next_event_within(QUIET).await;
    assert!(
        !matches!(quiet, Some(Event::Frame(Frame::Control(_)))),
        "{quiet:?}"
    );
}

#[tokio::test]
async fn the_relay_tells_the_agent_when_the_viewer_holding_the_size_leaves() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    let mut phone = fx.joined_viewer().await;
    let mut desk = fx.joined_viewer().await;
    phone.send(&[Frame::Resize(PHONE)]).await;
    assert_eq!(agent.next_command().await, Frame::Resize(PHONE));

    // Another viewer leaving releases nothing…
    desk.socket.close().await;
    drop(desk);
    nothing_released(&mut agent).await;
    // … the holder leaving does.
    phone.socket.close().await;
    drop(phone);
    assert_eq!(
        agent.next_command().await,
        Frame::Control(Control::SizeReleased)
    );

    // A newer viewer's RESIZE makes it the holder.
    let mut first = fx.joined_viewer().await;
    let mut second = fx.joined_viewer().await;
    first.send(&[Frame::Resize(PHONE)]).await;
    assert_eq!(agent.next_command().await, Frame::Resize(PHONE));
    second.send(&[Frame::Resize(DESK)]).await;
    assert_eq!(agent.next_command().await, Frame::Resize(DESK));
    first.socket.close().await;
    drop(first);
    nothing_released(&mut agent).await;
    second.socket.close().await;
    assert_eq!(
        agent.next_command().await,
        Frame::Control(Control::SizeReleased)
    );
}

#[tokio::test]
async fn a_legacy_agent_never_gets_size_released() {
    let fx = SessionFixture::start(&[]);
    let mut legacy = fx.connect_legacy_agent().await;
    let mut phone = fx.joined_viewer().await;
    phone.send(&[Frame::Resize(PHONE)]).await;
    assert_eq!(
        legacy.next_event().await,
        Event::Frame(Frame::Resize(PHONE))
    );
    phone.socket.close().await;
    drop(phone);
    assert_eq!(legacy.next_event_within(QUIET).await, None);
}
