//! The resize thread: local and viewers' size requests, through the
//! [`ResizeScheduler`], to the PTY, the query arbiter and the relay.

use super::{lock, next_event};
use crate::inbox::ResizeEvent;
use crate::pty::PtyResizer;
use crate::queries::QueryArbiter;
use crate::resize::{ResizePolicy, ResizeScheduler};
use protocol::Size;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// Starts the resize thread for a PTY of size `initial`; every size applied
/// is also told to the query arbiter and, when there is a link, to the relay.
pub(super) fn spawn(
    events: Receiver<ResizeEvent>,
    resizer: PtyResizer,
    initial: Size,
    queries: Arc<Mutex<QueryArbiter>>,
    link_size: Option<impl Fn(Size) + Send + 'static>,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("resize".into())
        .spawn(move || {
            drive(&events, &resizer, initial, |size| {
                lock(&queries).set_pty_size(size);
                if let Some(sink) = &link_size {
                    sink(size);
                }
            });
        })?;
    Ok(())
}

/// Applies the scheduler's decisions until every sender is gone.
fn drive(
    events: &Receiver<ResizeEvent>,
    resizer: &PtyResizer,
    initial: Size,
    mut applied: impl FnMut(Size),
) {
    let mut scheduler = ResizeScheduler::new(ResizePolicy::default(), initial);
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
