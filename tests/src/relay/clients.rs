//! The relay's two kinds of peer as typed clients: an agent link
//! ([`AgentClient`], what `tether` is to the relay) and a viewer
//! ([`ViewerClient`], what a browser is).

use std::collections::VecDeque;
use std::time::Duration;

use protocol::{Control, Frame, Snapshot};

use super::ws::{ws_connect, Connect, Event, FrameSocket};

/// A wrapper-side (agent) link speaking the Tether dialect.
pub struct AgentClient {
    /// The socket, for anything the methods below do not cover.
    pub socket: FrameSocket,
    /// The offset the relay acknowledged on connect (what it already holds).
    pub held: u64,
    /// The latest ACK seen.
    pub acked: u64,
    /// Frames that came while an ACK was awaited (the relay may send its
    /// ACK with a viewer's INPUT), handed out first by the readers below.
    pending: VecDeque<Frame>,
}

impl AgentClient {
    /// Connects to `ws_url` (`ws://HOST`) for `session_id` with `key` in the
    /// `X-API-Key` header, and waits for `ready` and the first ACK.
    pub async fn connect(ws_url: &str, session_id: &str, key: &str) -> Result<Self, String> {
        Self::connect_with(ws_url, session_id, Connect::tether_agent(key)).await
    }

    /// [`connect`](Self::connect) presenting itself as `how` says (which
    /// carries the key).
    pub async fn connect_with(
        ws_url: &str,
        session_id: &str,
        how: Connect,
    ) -> Result<Self, String> {
        let (ws, _) = ws_connect(&format!("{ws_url}/agent?session_id={session_id}"), &how).await?;
        let mut socket = FrameSocket::new(ws);
        match socket.next_event().await {
            Event::Frame(Frame::Control(Control::Ready)) => {}
            Event::Closed(code, reason) => return Err(format!("closed {code}: {reason}")),
            other => return Err(format!("expected ready, got {other:?}")),
        }
        let held = match socket.next_event().await {
            Event::Frame(Frame::Ack(n)) => n,
            other => return Err(format!("expected ACK, got {other:?}")),
        };
        Ok(Self {
            socket,
            held,
            acked: held,
            pending: VecDeque::new(),
        })
    }

    /// Sends one OUTPUT frame.
    pub async fn send_output(&mut self, data: &[u8]) {
        self.socket.send(&[Frame::Output(data.to_vec())]).await;
    }

    /// Sends frames as one message.
    pub async fn send(&mut self, frames: &[Frame]) {
        self.socket.send(frames).await;
    }

    /// Waits until the relay acknowledges at least `offset`; frames
    /// (INPUT, RESIZE, …) received meanwhile are kept for
    /// [`next_command`](Self::next_command) and
    /// [`next_event_within`](Self::next_event_within).
    pub async fn wait_ack(&mut self, offset: u64) {
        while self.acked < offset {
            match self.socket.next_event().await {
                Event::Frame(Frame::Ack(n)) => self.acked = n,
                Event::Frame(frame) => self.pending.push_back(frame),
                other => panic!("waiting for ACK {offset}, got {other:?}"),
            }
        }
    }

    /// The next event within `wait` (frames kept by
    /// [`wait_ack`](Self::wait_ack) first); `None` when nothing came.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<Event> {
        if let Some(frame) = self.pending.pop_front() {
            return Some(Event::Frame(frame));
        }
        self.socket.next_event_within(wait).await
    }

    /// The next frame that is not an ACK (e.g. INPUT or RESIZE from a viewer).
    pub async fn next_command(&mut self) -> Frame {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Ack(n)) => self.acked = n,
                Event::Frame(frame) => return frame,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }
}

/// What a viewer received from joining up to `history_complete`.
#[derive(Debug, Default, Clone)]
pub struct Join {
    /// Every frame, in order.
    pub frames: Vec<Frame>,
    /// The OUTPUT bytes of the history, concatenated.
    pub output: Vec<u8>,
    /// The STREAM_OFFSET before the history.
    pub start: Option<u64>,
    /// The SNAPSHOT, for a viewer that joined by snapshot.
    pub snapshot: Option<Snapshot>,
    /// The offset in `history_complete`.
    pub complete_at: u64,
}

/// A browser-side (viewer) link.
pub struct ViewerClient {
    /// The socket.
    pub socket: FrameSocket,
    /// The subprotocol the relay echoed.
    pub echoed: Option<String>,
}

impl ViewerClient {
    /// Connects as a Tether viewer of `session_id`, with `credential` (API key
    /// or share token) as subprotocol `omnara-key.…`, from `from` if given.
    pub async fn connect(
        ws_url: &str,
        session_id: &str,
        credential: &str,
        from: Option<u64>,
    ) -> Result<Self, String> {
        let how = Connect::tether_viewer(credential);
        Self::connect_with(ws_url, session_id, from, &how).await
    }

    /// Connects with explicit options (legacy, header auth, no auth …).
    ///
    /// Test viewers ask for the raw history (`history=raw`): most tests are
    /// about the stream's bytes. [`connect_by_snapshot`](Self::connect_by_snapshot)
    /// joins the way the browser viewer does.
    pub async fn connect_with(
        ws_url: &str,
        session_id: &str,
        from: Option<u64>,
        how: &Connect,
    ) -> Result<Self, String> {
        Self::connect_for_history(ws_url, session_id, from, how, "raw").await
    }

    /// Connects as a Tether viewer that takes a snapshot when the relay
    /// gives one (joining, or resuming from before the ring or far behind).
    pub async fn connect_by_snapshot(
        ws_url: &str,
        session_id: &str,
        credential: &str,
        from: Option<u64>,
    ) -> Result<Self, String> {
        let how = Connect::tether_viewer(credential);
        Self::connect_for_history(ws_url, session_id, from, &how, "snapshot").await
    }

    /// Connects asking for `history` (`raw`, `snapshot`, or anything, to
    /// see it refused).
    pub async fn connect_for_history(
        ws_url: &str,
        session_id: &str,
        from: Option<u64>,
        how: &Connect,
        history: &str,
    ) -> Result<Self, String> {
        let mut url = format!("{ws_url}/terminal/{session_id}?history={history}");
        if let Some(from) = from {
            url.push_str(&format!("&from={from}"));
        }
        let (ws, echoed) = ws_connect(&url, how).await?;
        Ok(Self {
            socket: FrameSocket::new(ws),
            echoed,
        })
    }

    /// Reads the join sequence up to and including `history_complete`.
    pub async fn read_history(&mut self) -> Join {
        let mut join = Join::default();
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Control(Control::HistoryComplete { offset })) => {
                    join.complete_at = offset;
                    join.frames
                        .push(Frame::Control(Control::HistoryComplete { offset }));
                    return join;
                }
                Event::Frame(frame) => {
                    match &frame {
                        Frame::Output(data) => join.output.extend_from_slice(data),
                        Frame::Snapshot(snapshot) => join.snapshot = Some(snapshot.clone()),
                        Frame::StreamOffset(n) if join.start.is_none() => join.start = Some(*n),
                        _ => {}
                    }
                    join.frames.push(frame);
                }
                other => panic!("during the join, got {other:?}"),
            }
        }
    }

    /// Reads frames until the OUTPUT received (from now) contains `needle`;
    /// returns that output.
    pub async fn read_output_until(&mut self, needle: &[u8]) -> Vec<u8> {
        let mut output = Vec::new();
        while !contains(&output, needle) {
            match self.socket.next_event().await {
                Event::Frame(Frame::Output(data)) => output.extend_from_slice(&data),
                Event::Frame(_) => {}
                other => panic!(
                    "waiting for {:?}, got {other:?}",
                    String::from_utf8_lossy(needle)
                ),
            }
        }
        output
    }

    /// Waits until `needle` was shown: in the join's output, or live after
    /// it (the viewer may join before the agent printed it).
    pub async fn wait_for_output(&mut self, join: &Join, needle: &[u8]) {
        if !contains(&join.output, needle) {
            self.read_output_until(needle).await;
        }
    }

    /// Reads OUTPUT until the stream holds `len` bytes, counting `output`
    /// (what arrived already, such as the join's); returns them all.
    /// Panics on a gap: every byte must arrive.
    pub async fn read_output_to(&mut self, mut output: Vec<u8>, len: usize) -> Vec<u8> {
        while output.len() < len {
            match self.socket.next_event().await {
                Event::Frame(Frame::Output(data)) => output.extend_from_slice(&data),
                Event::Frame(Frame::Control(Control::Gap { from, to })) => {
                    panic!("gap {from}..{to} after {} bytes", output.len())
                }
                Event::Frame(_) => {}
                other => panic!("after {} of {len} bytes: {other:?}", output.len()),
            }
        }
        output
    }

    /// The first frame matching `want`: from the join if it is there, else
    /// the next one that arrives.
    pub async fn wait_frame(&mut self, join: &Join, want: impl Fn(&Frame) -> bool) -> Frame {
        if let Some(frame) = join.frames.iter().find(|f| want(f)) {
            return frame.clone();
        }
        loop {
            match self.socket.next_event().await {
                Event::Frame(frame) if want(&frame) => return frame,
                Event::Frame(_) => {}
                other => panic!("waiting for a frame, got {other:?}"),
            }
        }
    }

    /// Reads until a CONTROL frame matching `want` arrives; returns it.
    pub async fn wait_control(&mut self, want: impl Fn(&Control) -> bool) -> Control {
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Control(c)) if want(&c) => return c,
                Event::Frame(_) => {}
                other => panic!("waiting for a control message, got {other:?}"),
            }
        }
    }

    /// Reads until a CONTROL `error` arrives (a refused INPUT or RESIZE);
    /// returns its reason.
    pub async fn wait_error(&mut self) -> String {
        match self
            .wait_control(|c| matches!(c, Control::Error { .. }))
            .await
        {
            Control::Error { reason } => reason,
            _ => unreachable!("wait_control returned what was asked for"),
        }
    }

    /// Sends frames (INPUT, RESIZE, ACK) as one message.
    pub async fn send(&mut self, frames: &[Frame]) {
        self.socket.send(frames).await;
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
