//! The signal thread: window size changes, and termination requests
//! forwarded to the agent.

use crate::inbox::ResizeEvent;
use crate::terminal;
use portable_pty::ChildKiller;
use signal_hook::consts::signal::SIGWINCH;
use signal_hook::iterator::Signals;
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Duration;

/// How long the agent gets to exit after a forwarded SIGTERM/SIGINT/SIGHUP/SIGQUIT.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// SIGWINCH → the local size to the resize thread; SIGTERM, SIGINT, SIGHUP, SIGQUIT →
/// forwarded to the agent, which is killed if it is still there after
/// [`KILL_GRACE`] (or at a second signal). Tether itself then ends the normal
/// way, when the agent has exited, restoring the terminal.
pub(super) fn spawn(
    mut signals: Signals,
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
