//! One wrapped run: the agent in its PTY, the local terminal, the relay link,
//! and the threads that move bytes between them.
//!
//! ```text
//!  stdin ──▶ input thread ──▶ PTY ──▶ output thread ──▶ stdout
//!  viewer INPUT ─┘  (queries)  ▲        └──▶ link (ResendBuffer → relay)
//!  viewer keystroke ───────────┘ (link thread, when nothing waits: `keyboard`)
//!  SIGWINCH / viewer RESIZE ──▶ resize thread ──▶ PTY size, RESIZE to relay
//!  a key typed locally / size_released ─┘
//! ```
//!
//! The output thread never waits for the relay: it appends to the link's
//! buffer and moves on. Only the local terminal (stdout) can slow it down, as
//! it would without tether.

mod attention;
mod input;
mod output;
mod resizing;
mod signals;

use crate::attention::AttentionRules;
use crate::inbox::{AgentInbox, RemoteSize};
use crate::keyboard::Keyboard;
use crate::link::{Link, LinkSummary};
use crate::pty::{AgentPty, Spawn};
use crate::queries::QueryArbiter;
use crate::recorder::Recorder;
use crate::terminal;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Pending input messages before viewer input is dropped (local input waits);
/// viewers' input is also bounded in bytes (`inbox::VIEWER_INPUT_BUDGET`).
const INPUT_QUEUE: usize = 1024;
/// How long to wait for the last output after the agent exited (a background
/// child of the agent may keep the PTY open forever).
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The agent's exit code (128 + signal when killed).
    pub exit_code: i32,
    /// How the relay link went, when there was one.
    pub link: Option<LinkSummary>,
}

/// Runs the agent until it exits, wiring the local terminal and, when given,
/// the relay link and the recording. Raw mode is entered when stdin is a
/// terminal and restored before returning.
pub fn run(
    spawn: &Spawn,
    link: Option<Link>,
    rules: AttentionRules,
    recorder: Option<Recorder>,
) -> anyhow::Result<Outcome> {
    let local_tty = terminal::stdin_is_tty();
    // Handlers first: a SIGTERM that comes as soon as the agent runs must
    // already end it cleanly rather than kill tether with raw mode on.
    let signals =
        signal_hook::iterator::Signals::new([SIGWINCH, SIGTERM, SIGINT, SIGHUP, SIGQUIT])?;
    // Raw before the agent starts: keys typed meanwhile are not echoed twice.
    let raw_mode = terminal::RawMode::enter();
    let mut agent = AgentPty::spawn(spawn)?;
    tracing::info!(
        program = %spawn.program.display(),
        pid = ?agent.pid(),
        rows = spawn.size.rows,
        cols = spawn.size.cols,
        "agent started"
    );

    let queries = Arc::new(Mutex::new(QueryArbiter::new(spawn.size, local_tty)));
    let (input_tx, input_rx) = mpsc::sync_channel(INPUT_QUEUE);
    let (resize_tx, resize_rx) = mpsc::channel();
    let remote_size = Arc::new(RemoteSize::default());

    // Stdin, viewers and the wrapper's own replies → PTY (viewers'
    // keystrokes straight from the link thread when nothing waits).
    let keyboard = Arc::new(Keyboard::new(
        agent.writer()?,
        Arc::clone(&queries),
        recorder.clone(),
    ));
    let link = link.map(|link| {
        let inbox = AgentInbox::new(
            input_tx.clone(),
            resize_tx.clone(),
            Arc::clone(&remote_size),
        )
        .with_keyboard(Arc::clone(&keyboard));
        link.start(inbox)
    });

    // The attention rule, on what goes to the relay and the recording.
    let attention = if link.is_some() || recorder.is_some() {
        Some(attention::AttentionWatch::start(
            rules,
            link.as_ref().map(|l| l.attention_sink()),
            recorder.clone(),
        )?)
    } else {
        None
    };

    // Output: PTY → stdout and the link's buffer.
    let output_done = {
        let reader = agent.reader()?;
        let queries = Arc::clone(&queries);
        let sink = (link.is_some() || attention.is_some()).then(|| {
            output::RelayOutput::new(link.as_ref().map(|l| l.output_sink()), attention.clone())
        });
        let wake = input_tx.clone();
        let recorder = recorder.clone();
        let (done_tx, done_rx) = mpsc::channel();
        thread::Builder::new()
            .name("pty-output".into())
            .spawn(move || {
                output::pump(reader, &queries, sink.as_ref(), recorder.as_ref(), &wake);
                let _ = done_tx.send(());
            })?;
        done_rx
    };

    // Input: stdin and viewers → PTY.
    thread::Builder::new()
        .name("pty-input".into())
        .spawn(move || input::pump(&keyboard, &input_rx))?;
    // Written when the agent exits: the stdin thread stops reading.
    let (stop_stdin_rx, stop_stdin_tx) = rustix::pipe::pipe()?;
    {
        let input_tx = input_tx.clone();
        let resize_tx = resize_tx.clone();
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || input::read_stdin(&input_tx, &resize_tx, local_tty, &stop_stdin_rx))?;
    }

    // Size: SIGWINCH and viewer requests → PTY and relay.
    let size_sink = link.as_ref().map(|l| l.size_sink());
    let size_recorder = recorder.clone();
    let size_taken = move |size| {
        if let Some(sink) = &size_sink {
            sink(size);
        }
        if let Some(recorder) = &size_recorder {
            recorder.resize(size);
        }
    };
    resizing::spawn(
        resize_rx,
        remote_size,
        agent.resizer(),
        spawn.size,
        local_tty,
        Arc::clone(&queries),
        size_taken,
    )?;
    // Signals: window size, and termination requests forwarded to the agent.
    signals::spawn(signals, agent.pid(), agent.killer(), resize_tx)?;

    let exit_code = agent.wait()?;
    let _ = rustix::io::write(&stop_stdin_tx, b"x");
    tracing::info!(exit_code, "agent exited");
    // Let the output thread drain what the agent wrote last.
    if output_done.recv_timeout(DRAIN_DEADLINE).is_err() {
        tracing::warn!("agent output still open after exit (a background process holds the PTY)");
    }
    if let Some(recorder) = &recorder {
        recorder.exit(exit_code);
    }
    let link = link.map(|link| link.finish(exit_code));
    drop(raw_mode);
    Ok(Outcome { exit_code, link })
}

/// The query arbiter, also after a thread panicked while holding it.
fn lock(queries: &Mutex<QueryArbiter>) -> MutexGuard<'_, QueryArbiter> {
    queries.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits for the next event until `deadline` (forever without one):
/// `Some(Some(event))`, `Some(None)` when the deadline passed first, `None`
/// once every sender is gone.
fn next_event<E>(events: &Receiver<E>, deadline: Option<Instant>) -> Option<Option<E>> {
    match deadline {
        Some(at) => match events.recv_timeout(at.saturating_duration_since(Instant::now())) {
            Ok(event) => Some(Some(event)),
            Err(RecvTimeoutError::Timeout) => Some(None),
            Err(RecvTimeoutError::Disconnected) => None,
        },
        None => events.recv().ok().map(Some),
    }
}
