//! One wrapped run: the agent in its PTY, the local terminal, the relay link,
//! and the threads that move bytes between them.
//!
//! ```text
//!  stdin ──▶ input thread ──▶ PTY ──▶ output thread ──▶ stdout
//!  viewer INPUT ─┘  (queries)          └──▶ link (ResendBuffer → relay)
//!  SIGWINCH / viewer RESIZE ──▶ resize thread ──▶ PTY size, RESIZE to relay
//! ```
//!
//! The output thread never waits for the relay: it appends to the link's
//! buffer and moves on. Only the local terminal (stdout) can slow it down, as
//! it would without tether.

use crate::link::{Link, LinkSummary};
use crate::pty::{AgentPty, PtyResizer, Spawn};
use crate::queries::QueryArbiter;
use crate::resize::{ResizePolicy, ResizeScheduler};
use crate::terminal::{self, Size};
use portable_pty::ChildKiller;
use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes read from the PTY at once.
const READ_CHUNK: usize = 64 * 1024;
/// Pending input messages before viewer input is dropped (local input waits).
const INPUT_QUEUE: usize = 1024;
/// How long the agent gets to exit after a forwarded SIGTERM/SIGINT/SIGHUP/SIGQUIT.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for the last output after the agent exited (a background
/// child of the agent may keep the PTY open forever).
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// Something to type into the agent's terminal.
#[derive(Debug)]
pub enum InputEvent {
    /// Bytes from the local keyboard (or stdin pipe).
    Local(Vec<u8>),
    /// Standard input ended.
    LocalEof,
    /// Bytes from a viewer (an INPUT frame).
    Viewer(Vec<u8>),
    /// Re-check the query arbiter's deadlines.
    Wake,
}

/// A size change request.
#[derive(Debug, Clone, Copy)]
pub enum ResizeEvent {
    /// The local terminal changed size.
    Local(Size),
    /// A viewer asked for a size.
    Remote(Size),
}

/// Channels the relay link uses to reach the agent.
#[derive(Clone)]
pub struct AgentInbox {
    input: SyncSender<InputEvent>,
    resize: Sender<ResizeEvent>,
}

impl AgentInbox {
    /// Queues viewer input; dropped (returns false) if the agent is not
    /// reading its input and the queue is full, so the link never blocks.
    pub fn viewer_input(&self, bytes: Vec<u8>) -> bool {
        self.input.try_send(InputEvent::Viewer(bytes)).is_ok()
    }

    /// Queues a viewer's resize request.
    pub fn viewer_resize(&self, size: Size) {
        let _ = self.resize.send(ResizeEvent::Remote(size));
    }
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The agent's exit code (128 + signal when killed).
    pub exit_code: i32,
    /// How the relay link went, when there was one.
    pub link: Option<LinkSummary>,
}

/// Runs the agent until it exits, wiring the local terminal and, when given,
/// the relay link. Raw mode is entered when stdin is a terminal and restored
/// before returning.
pub fn run(spawn: &Spawn, link: Option<Link>) -> anyhow::Result<Outcome> {
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

    let link = link.map(|link| {
        link.start(AgentInbox {
            input: input_tx.clone(),
            resize: resize_tx.clone(),
        })
    });

    // Output: PTY → stdout and the link's buffer.
    let reader = agent.reader()?;
    let output_done = {
        let queries = Arc::clone(&queries);
        let sink = link.as_ref().map(|l| l.output_sink());
        let wake = input_tx.clone();
        let (done_tx, done_rx) = mpsc::channel();
        thread::Builder::new()
            .name("pty-output".into())
            .spawn(move || {
                pump_output(reader, &queries, sink.as_ref(), &wake);
                let _ = done_tx.send(());
            })?;
        done_rx
    };

    // Input: stdin and viewers → PTY.
    let writer = agent.writer()?;
    {
        let queries = Arc::clone(&queries);
        thread::Builder::new()
            .name("pty-input".into())
            .spawn(move || pump_input(writer, input_rx, &queries))?;
    }
    // Written when the agent exits: the stdin thread stops reading.
    let (stop_stdin_rx, stop_stdin_tx) = rustix::pipe::pipe()?;
    {
        let input_tx = input_tx.clone();
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || read_stdin(&input_tx, &stop_stdin_rx))?;
    }

    // Size: SIGWINCH and viewer requests → PTY and relay.
    spawn_resize_thread(
        resize_rx,
        agent.resizer(),
        spawn.size,
        Arc::clone(&queries),
        link.as_ref().map(|l| l.size_sink()),
    )?;
    // Signals: window size, and termination requests forwarded to the agent.
    spawn_signal_thread(signals, agent.pid(), agent.killer(), resize_tx)?;

    let exit_code = agent.wait()?;
    let _ = rustix::io::write(&stop_stdin_tx, b"x");
    tracing::info!(exit_code, "agent exited");
    // Let the output thread drain what the agent wrote last.
    if output_done.recv_timeout(DRAIN_DEADLINE).is_err() {
        tracing::warn!("agent output still open after exit (a background process holds the PTY)");
    }
    let link = link.map(|link| link.finish(exit_code));
    drop(raw_mode);
    Ok(Outcome { exit_code, link })
}

fn spawn_resize_thread(
    events: Receiver<ResizeEvent>,
    resizer: PtyResizer,
    initial: Size,
    queries: Arc<Mutex<QueryArbiter>>,
    link_size: Option<impl Fn(Size) + Send + 'static>,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("resize".into())
        .spawn(move || {
            drive_resizes(events, resizer, initial, |size| {
                queries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .set_pty_size(size);
                if let Some(sink) = &link_size {
                    sink(size);
                }
            })
        })?;
    Ok(())
}

/// SIGWINCH → the local size to the resize thread; SIGTERM, SIGINT, SIGHUP, SIGQUIT →
/// forwarded to the agent, which is killed if it is still there after
/// [`KILL_GRACE`] (or at a second signal). Tether itself then ends the normal
/// way, when the agent has exited, restoring the terminal.
fn spawn_signal_thread(
    mut signals: signal_hook::iterator::Signals,
    pid: Option<u32>,
    mut killer: Box<dyn ChildKiller + Send + Sync>,
    resize: Sender<ResizeEvent>,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut terminating = false;
            for signal in signals.forever() {
                if signal == SIGWINCH {
                    if let Some(size) = terminal::local_size() {
                        let _ = resize.send(ResizeEvent::Local(size));
                    }
                    continue;
                }
                tracing::info!(signal, "termination signal: forwarding it to the agent");
                if terminating {
                    let _ = killer.kill();
                    continue;
                }
                terminating = true;
                forward_signal(pid, signal);
                let mut killer = killer.clone_killer();
                thread::spawn(move || {
                    thread::sleep(KILL_GRACE);
                    let _ = killer.kill();
                });
            }
        })?;
    Ok(())
}

/// Sends `signal` to the agent's process group (the agent leads its own session).
fn forward_signal(pid: Option<u32>, signal: i32) {
    let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let Some(signal) = rustix::process::Signal::from_named_raw(signal) else {
        return;
    };
    if rustix::process::kill_process_group(pid, signal).is_err() {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

fn pump_output(
    mut reader: Box<dyn Read + Send>,
    queries: &Mutex<QueryArbiter>,
    sink: Option<&crate::link::OutputSink>,
    wake: &SyncSender<InputEvent>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let stdout = std::io::stdout();
    let mut stdout_ok = true;
    // Debug builds only: lets the end-to-end tests check that a panic leaves
    // the terminal restored.
    let panic_for_test = cfg!(debug_assertions) && std::env::var_os("TETHER_TEST_PANIC").is_some();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::debug!(%err, "PTY read ended");
                break;
            }
        };
        let chunk = &buf[..n];
        if panic_for_test {
            panic!("TETHER_TEST_PANIC is set");
        }
        // Queries are noted before anyone can see (and answer) them.
        let new_query = queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .observe_output(chunk, Instant::now());
        if new_query {
            let _ = wake.try_send(InputEvent::Wake);
        }
        // Then the relay: it only appends to memory, never waits.
        if let Some(sink) = sink {
            sink.push(chunk);
        }
        if stdout_ok {
            let mut out = stdout.lock();
            if out.write_all(chunk).and_then(|()| out.flush()).is_err() {
                // Stdout closed (e.g. a pipe reader went away): keep serving the relay.
                stdout_ok = false;
            }
        }
    }
}

fn pump_input(
    mut writer: Box<dyn Write + Send>,
    events: Receiver<InputEvent>,
    queries: &Mutex<QueryArbiter>,
) {
    let mut last_local = b'\n';
    loop {
        let deadline = queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_deadline();
        let Some(event) = next_event(&events, deadline) else {
            return;
        };
        let now = Instant::now();
        let bytes = {
            let mut arbiter = queries.lock().unwrap_or_else(|e| e.into_inner());
            let mut bytes = arbiter.poll(now);
            match event {
                Some(InputEvent::Local(data)) => {
                    if let Some(&last) = data.last() {
                        last_local = last;
                    }
                    bytes.extend(arbiter.local_input(&data, now));
                }
                Some(InputEvent::Viewer(data)) => bytes.extend(arbiter.viewer_input(&data, now)),
                Some(InputEvent::LocalEof) => {
                    // A pipe ended: end-of-file for the agent (^D at a line
                    // start; a second one if a partial line is pending).
                    if last_local != b'\n' {
                        bytes.push(4);
                    }
                    bytes.push(4);
                }
                Some(InputEvent::Wake) | None => {}
            }
            bytes
        };
        if !bytes.is_empty()
            && writer
                .write_all(&bytes)
                .and_then(|()| writer.flush())
                .is_err()
        {
            return;
        }
    }
}

/// Reads the keyboard (or stdin pipe) until it ends or `stop` becomes
/// readable. Waiting in `poll` rather than in `read` means that keys typed
/// once the agent has exited are not consumed: they stay queued for the
/// shell that runs next.
fn read_stdin(input: &SyncSender<InputEvent>, stop: &OwnedFd) {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut stdin = std::io::stdin();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let stdin_fd = std::io::stdin();
        let mut fds = [
            PollFd::new(&stdin_fd, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        match stdin.read(&mut buf) {
            Ok(0) => {
                if !terminal::stdin_is_tty() {
                    let _ = input.send(InputEvent::LocalEof);
                }
                return;
            }
            Ok(n) => {
                if input.send(InputEvent::Local(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

fn drive_resizes(
    events: Receiver<ResizeEvent>,
    resizer: PtyResizer,
    initial: Size,
    mut applied: impl FnMut(Size),
) {
    let mut scheduler = ResizeScheduler::new(ResizePolicy::default(), initial);
    loop {
        let Some(event) = next_event(&events, scheduler.next_deadline()) else {
            return;
        };
        let now = Instant::now();
        let mut apply = match event {
            Some(ResizeEvent::Local(size)) => {
                tracing::info!(
                    rows = size.rows,
                    cols = size.cols,
                    "local terminal resized: it takes control"
                );
                scheduler.on_local(size)
            }
            Some(ResizeEvent::Remote(size)) => {
                tracing::info!(
                    rows = size.rows,
                    cols = size.cols,
                    "viewer asks for a size (debounced)"
                );
                scheduler.on_remote(size, now);
                None
            }
            None => None,
        };
        if apply.is_none() {
            apply = scheduler.poll(now);
        }
        if let Some(size) = apply {
            tracing::info!(rows = size.rows, cols = size.cols, controller = ?scheduler.controller(), "PTY resized");
            if let Err(err) = resizer.resize(size) {
                tracing::warn!(%err, "PTY resize failed");
            }
            applied(size);
        }
    }
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
