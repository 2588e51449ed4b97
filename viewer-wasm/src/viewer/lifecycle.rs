//! The link's life: connecting (and resuming after the last byte), the
//! link's events, losing it and retrying with a growing delay.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;

use super::{join, with_inner, Connection, Inner};
use crate::link::{terminal_url, Link, LinkEvent};
use crate::stream::OutputStream;

/// Reconnect delays in milliseconds; the last one repeats.
const RECONNECT_DELAYS_MS: [u32; 5] = [250, 500, 1_000, 2_000, 5_000];

/// The handler of link number `generation`'s events: events of a link that
/// was replaced in the meantime are stale and dropped.
pub(super) fn link_events(weak: Weak<RefCell<Inner>>, generation: u32) -> Rc<dyn Fn(LinkEvent)> {
    Rc::new(move |event: LinkEvent| {
        with_inner(&weak, |inner| {
            if inner.generation == generation {
                inner.handle(event);
            }
        });
    })
}

impl Inner {
    pub(super) fn set_connection(&mut self, connection: Connection) {
        if self.status.connection != connection {
            self.status.connection = connection;
            self.status_dirty = true;
        }
    }

    pub(super) fn connect(&mut self) {
        self.timer = None;
        self.stream.on_connect();
        let url = terminal_url(&self.ws_origin, &self.session_id, self.stream.resume_from());
        let url = join::with_history(url);
        self.generation += 1;
        let on_event = link_events(self.this.clone(), self.generation);
        match Link::connect(&url, &self.credential, on_event) {
            Ok(link) => {
                if let Some(old) = self.link.replace(link) {
                    old.detach();
                    self.retired.push(old);
                }
            }
            Err(reason) => self.set_connection(Connection::Refused(reason)),
        }
    }

    pub(super) fn handle(&mut self, event: LinkEvent) {
        self.handle_event(event);
        self.show_when_ready();
    }

    pub(super) fn handle_event(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::Open => {
                self.attempts = 0;
                self.connects += 1;
                self.retired.clear();
            }
            LinkEvent::Frame(frame) => self.handle_frame(frame),
            LinkEvent::Malformed(reason) => {
                self.status.notice = Some(format!("bad data from the relay: {reason}"));
                self.status_dirty = true;
                self.link_lost();
            }
            LinkEvent::Closed { code, reason } => {
                if code == 1008 && join::resume_refused(&reason) {
                    self.stream = OutputStream::new();
                    self.link_lost();
                } else if code == 1008 {
                    // A refused API key is forgotten (share tokens are never stored).
                    if !self.credential.is_share_token()
                        && reason.to_ascii_lowercase().contains("key")
                    {
                        crate::auth::forget_key();
                    }
                    self.drop_link();
                    self.set_connection(Connection::Refused(reason));
                } else {
                    self.link_lost();
                }
            }
        }
    }

    pub(super) fn drop_link(&mut self) {
        if let Some(old) = self.link.take() {
            old.detach();
            self.retired.push(old);
        }
    }

    /// The link is gone: retry unless the session ended or we were refused.
    pub(super) fn link_lost(&mut self) {
        self.drop_link();
        if matches!(
            self.status.connection,
            Connection::Ended(_) | Connection::Refused(_)
        ) {
            return;
        }
        self.attempts += 1;
        self.set_connection(Connection::Reconnecting(self.attempts));
        let index = (self.attempts as usize - 1).min(RECONNECT_DELAYS_MS.len() - 1);
        let weak = self.this.clone();
        self.timer = Some(Timeout::new(RECONNECT_DELAYS_MS[index], move || {
            with_inner(&weak, |inner| {
                inner.retired.clear();
                inner.connect();
            });
        }));
    }
}
