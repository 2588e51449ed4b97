//! The input threads: stdin to the session's queue (and, when a key is typed
//! locally, a word to the resize thread), and the queue (local keys,
//! viewers' input, the wrapper's own replies) into the PTY.

use super::next_event;
use crate::inbox::{InputEvent, ResizeEvent};
use crate::keyboard::Keyboard;
use crate::queries;
use crate::terminal;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::mpsc::{Receiver, Sender, SyncSender};

/// Writes input events into the PTY, through the query arbiter, until every
/// sender is gone or the PTY refuses a write. Also writes the arbiter's own
/// replies when their deadline comes.
pub(super) fn pump(keyboard: &Keyboard, events: &Receiver<InputEvent>) {
    let mut last_local = b'\n';
    loop {
        let deadline = keyboard.queries().next_deadline();
        let Some(event) = next_event(events, deadline) else {
            return;
        };
        let written = keyboard.type_with(|arbiter, now| {
            let mut bytes = arbiter.poll(now);
            match &event {
                Some(InputEvent::Local(data)) => {
                    if let Some(&last) = data.last() {
                        last_local = last;
                    }
                    bytes.extend(arbiter.local_input(data, now));
                }
                Some(InputEvent::Viewer(input)) => {
                    bytes.extend(arbiter.viewer_input(input.bytes(), now));
                }
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
        });
        // Viewer input counts against its budget (and holds back later
        // viewer input from the link's direct path) until the agent took it.
        drop(event);
        if written.is_err() {
            return;
        }
    }
}

/// Reads the keyboard (or stdin pipe) until it ends or `stop` becomes
/// readable. Waiting in `poll` rather than in `read` means that keys typed
/// once the agent has exited are not consumed: they stay queued for the
/// shell that runs next.
///
/// With a local terminal (`local_tty`), a read that holds typing (not only
/// the terminal's replies, see [`queries::typed`]) is also told to the
/// resize thread: the local terminal takes the size back from a viewer.
pub(super) fn read_stdin(
    input: &SyncSender<InputEvent>,
    resize: &Sender<ResizeEvent>,
    local_tty: bool,
    stop: &OwnedFd,
) {
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
                if local_tty && queries::typed(&buf[..n]) {
                    let _ = resize.send(ResizeEvent::LocalUse);
                }
                if input.send(InputEvent::Local(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}
