//! The resize thread: local and viewers' size requests, keys typed locally
//! and the relay's `size_released`, through the [`ResizeScheduler`], to the
//! PTY, the query arbiter and the relay.
//!
//! Viewers can send RESIZE as often as they like: the lines logged about
//! their requests, and about the sizes reached for them, are throttled to
//! one a second each (with the count of those held back).

use super::{lock, next_event};
use crate::inbox::{RemoteSize, ResizeEvent};
use crate::logging::Throttle;
use crate::pty::PtyResizer;
use crate::queries::QueryArbiter;
use crate::resize::{Controller, ResizePolicy, ResizeScheduler};
use crate::terminal;
use protocol::Size;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// Starts the resize thread for a PTY of size `initial`; every size applied
/// is also told to the query arbiter and to `size_taken` (the relay, the
/// recording).
/// With a local terminal (`local_tty`), a key typed on it or the holder's
/// release gives the size back to it (its size asked for then).
pub(super) fn spawn(
    events: Receiver<ResizeEvent>,
    remote: Arc<RemoteSize>,
    resizer: PtyResizer,
    initial: Size,
    local_tty: bool,
    queries: Arc<Mutex<QueryArbiter>>,
    size_taken: impl Fn(Size) + Send + 'static,
) -> std::io::Result<()> {
    let local_size = move || local_tty.then(terminal::local_size).flatten();
    thread::Builder::new()
        .name("resize".into())
        .spawn(move || {
            drive(&events, &remote, &resizer, initial, local_size, |size| {
                lock(&queries).set_pty_size(size);
                size_taken(size);
            });
        })?;
    Ok(())
}

/// Applies the scheduler's decisions until every sender is gone;
/// `local_size` is the local terminal's size now (`None` without one).
fn drive(
    events: &Receiver<ResizeEvent>,
    remote: &RemoteSize,
    resizer: &PtyResizer,
    initial: Size,
    local_size: impl Fn() -> Option<Size>,
    mut applied: impl FnMut(Size),
) {
    let mut scheduler = ResizeScheduler::new(ResizePolicy::default(), initial);
    let mut requests_logged = Throttle::PER_SECOND;
    let mut resizes_logged = Throttle::PER_SECOND;
    loop {
        let Some(event) = next_event(events, scheduler.next_deadline()) else {
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
            // Every key comes here: only look further when a viewer has the size.
            Some(ResizeEvent::LocalUse) if scheduler.viewer_holds() => {
                let local = local_size();
                if let Some(size) = local {
                    tracing::info!(
                        rows = size.rows,
                        cols = size.cols,
                        "key typed locally: the local terminal takes the size back"
                    );
                }
                scheduler.on_local_use(local)
            }
            Some(ResizeEvent::LocalUse) => None,
            Some(ResizeEvent::Released) => {
                let local = local_size();
                match (local, scheduler.viewer_holds()) {
                    (Some(size), true) => tracing::info!(
                        rows = size.rows,
                        cols = size.cols,
                        "the viewer holding the size left: the local terminal takes it back"
                    ),
                    (None, true) => tracing::info!(
                        "the viewer holding the size left: no local terminal, the size stays"
                    ),
                    (_, false) => {}
                }
                scheduler.on_release(local)
            }
            Some(ResizeEvent::Remote) => {
                if let Some(size) = remote.take() {
                    if let Some(held_back) = requests_logged.allow(now) {
                        tracing::info!(
                            rows = size.rows,
                            cols = size.cols,
                            more_requests_before = held_back,
                            "viewer asks for a size (debounced)"
                        );
                    }
                    scheduler.on_remote(size, now);
                }
                None
            }
            None => None,
        };
        if apply.is_none() {
            apply = scheduler.poll(now);
        }
        if let Some(size) = apply {
            // A viewer's size is logged once it is reached (not each step),
            // and at most once a second.
            let controller = scheduler.controller();
            let log = match controller {
                Controller::Local => Some(0),
                Controller::Viewer if scheduler.stepping() => None,
                Controller::Viewer => resizes_logged.allow(now),
            };
            if let Some(held_back) = log {
                tracing::info!(
                    rows = size.rows,
                    cols = size.cols,
                    ?controller,
                    more_resizes_before = held_back,
                    "PTY resized"
                );
            }
            if let Err(err) = resizer.resize(size) {
                tracing::warn!(%err, "PTY resize failed");
            }
            applied(size);
        }
    }
}
