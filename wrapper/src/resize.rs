//! Who decides the PTY's size, and when it changes: a pure state machine.
//!
//! * A local terminal's size is applied at once, and takes control back.
//! * A viewer's RESIZE is a request to take control ("fit the session to this
//!   screen"): requests are debounced ([`ResizePolicy::debounce`], latest
//!   wins), then applied — in steps when the change is large (more than
//!   [`ResizePolicy::max_step_cols`] columns or [`ResizePolicy::max_step_rows`]
//!   rows), so that full-screen programs redraw cleanly.
//! * A viewer's size does not outlive its use: a key typed on the local
//!   terminal ([`ResizeScheduler::on_local_use`]) or the relay saying that
//!   the viewer holding the size left ([`ResizeScheduler::on_release`]) gives
//!   it back to the local terminal at once, as a local resize would. Without
//!   a local terminal the size stays: there is nothing to go back to.
//!
//! The scheduler does no I/O and reads no clock: callers pass `now` and call
//! [`ResizeScheduler::poll`] at [`ResizeScheduler::next_deadline`].

use protocol::Size;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Tunables of the resize policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizePolicy {
    /// How long a viewer's request waits for a newer one.
    pub debounce: Duration,
    /// Largest column change applied in one step.
    pub max_step_cols: u16,
    /// Largest row change applied in one step.
    pub max_step_rows: u16,
    /// Most steps a change is split into.
    pub max_steps: usize,
    /// Time between two steps.
    pub step_interval: Duration,
}

impl Default for ResizePolicy {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(500),
            max_step_cols: 10,
            max_step_rows: 5,
            max_steps: 8,
            step_interval: Duration::from_millis(50),
        }
    }
}

/// Who the PTY's size currently follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// The local terminal.
    Local,
    /// A viewer that asked for its size.
    Viewer,
}

/// Decides when the PTY is resized and to what.
#[derive(Debug)]
pub struct ResizeScheduler {
    policy: ResizePolicy,
    current: Size,
    controller: Controller,
    pending: Option<(Size, Instant)>,
    steps: VecDeque<Size>,
    next_step_at: Option<Instant>,
}

impl ResizeScheduler {
    /// A scheduler for a PTY that currently has size `current`.
    pub fn new(policy: ResizePolicy, current: Size) -> Self {
        Self {
            policy,
            current,
            controller: Controller::Local,
            pending: None,
            steps: VecDeque::new(),
            next_step_at: None,
        }
    }

    /// Who the size follows now.
    pub fn controller(&self) -> Controller {
        self.controller
    }

    /// Whether a viewer's size is being applied in steps and more are due.
    pub fn stepping(&self) -> bool {
        !self.steps.is_empty()
    }

    /// The local terminal changed size: it takes control, any pending viewer
    /// request or stepping is dropped. Returns the size to apply now, if it
    /// differs from the current one.
    pub fn on_local(&mut self, size: Size) -> Option<Size> {
        self.controller = Controller::Local;
        self.pending = None;
        self.steps.clear();
        self.next_step_at = None;
        self.apply(size)
    }

    /// Whether a viewer holds the size, or asked for it (pending or being
    /// stepped to): what a key typed locally or a release takes back.
    pub fn viewer_holds(&self) -> bool {
        self.controller == Controller::Viewer || self.pending.is_some() || self.stepping()
    }

    /// The local terminal was used (a key typed on it): if a viewer holds the
    /// size, the local terminal takes it back at its size `local` (`None`
    /// without a local terminal: nothing changes). Returns the size to apply
    /// now, as [`on_local`](Self::on_local) does.
    pub fn on_local_use(&mut self, local: Option<Size>) -> Option<Size> {
        self.take_back(local)
    }

    /// The viewer holding the size left (the relay's `size_released`): the
    /// local terminal takes the size back at `local`, and a request still
    /// waiting is dropped; without a local terminal (`None`) the size stays.
    pub fn on_release(&mut self, local: Option<Size>) -> Option<Size> {
        self.take_back(local)
    }

    fn take_back(&mut self, local: Option<Size>) -> Option<Size> {
        match local {
            Some(size) if self.viewer_holds() => self.on_local(size),
            _ => None,
        }
    }

    /// A viewer asks for `size` at `now`; it is applied after the debounce
    /// unless a newer request (or a local resize) comes first. A zero side is
    /// taken as 1 (no PTY has an empty side).
    pub fn on_remote(&mut self, size: Size, now: Instant) {
        self.pending = Some((size.at_least_one(), now + self.policy.debounce));
    }

    /// When [`poll`](Self::poll) should be called next, if anything is scheduled.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.pending.map(|(_, at)| at), self.next_step_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances time to `now`; returns a size to apply now, if any.
    pub fn poll(&mut self, now: Instant) -> Option<Size> {
        if let Some((target, at)) = self.pending {
            if now >= at {
                self.pending = None;
                self.controller = Controller::Viewer;
                self.steps = plan_steps(&self.policy, self.current, target).into();
                self.next_step_at = Some(now);
            }
        }
        match self.next_step_at {
            Some(at) if now >= at => {
                let step = self.steps.pop_front();
                self.next_step_at =
                    (!self.steps.is_empty()).then(|| now + self.policy.step_interval);
                step.and_then(|size| self.apply(size))
            }
            _ => None,
        }
    }

    fn apply(&mut self, size: Size) -> Option<Size> {
        (size != self.current).then(|| {
            self.current = size;
            size
        })
    }
}

/// The sizes to go through from `from` to `to`, ending with `to`: one step for
/// a small change, evenly spaced steps for a large one.
pub fn plan_steps(policy: &ResizePolicy, from: Size, to: Size) -> Vec<Size> {
    let d_cols = i32::from(to.cols) - i32::from(from.cols);
    let d_rows = i32::from(to.rows) - i32::from(from.rows);
    let steps_for = |delta: i32, max: u16| {
        let max = i32::from(max.max(1));
        (delta.abs() + max - 1) / max
    };
    let n = steps_for(d_cols, policy.max_step_cols)
        .max(steps_for(d_rows, policy.max_step_rows))
        .clamp(1, policy.max_steps.max(1) as i32);
    (1..=n)
        .map(|i| {
            let lerp = |start: u16, delta: i32| {
                let value = i32::from(start) + delta * i / n;
                u16::try_from(value).unwrap_or(u16::MAX)
            };
            Size::new(lerp(from.rows, d_rows), lerp(from.cols, d_cols))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(rows: u16, cols: u16) -> Size {
        Size::new(rows, cols)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn remote_requests_are_debounced_latest_wins() {
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(24, 80));
        s.on_remote(size(30, 90), t0);
        assert_eq!(s.poll(t0 + ms(200)), None);
        s.on_remote(size(25, 82), t0 + ms(300));
        assert_eq!(
            s.poll(t0 + ms(700)),
            None,
            "the newer request restarted the wait"
        );
        assert_eq!(s.next_deadline(), Some(t0 + ms(800)));
        assert_eq!(s.poll(t0 + ms(800)), Some(size(25, 82)));
        assert_eq!(s.controller(), Controller::Viewer);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn large_changes_are_applied_in_steps() {
        let t0 = Instant::now();
        let policy = ResizePolicy::default();
        let mut s = ResizeScheduler::new(policy, size(24, 80));
        s.on_remote(size(24, 120), t0);
        let mut now = t0 + policy.debounce;
        let mut applied = Vec::new();
        while let Some(deadline) = s.next_deadline() {
            now = now.max(deadline);
            applied.extend(s.poll(now));
        }
        assert_eq!(
            applied,
            [size(24, 90), size(24, 100), size(24, 110), size(24, 120)]
        );
        assert!(!s.stepping());
        assert_eq!(now, t0 + policy.debounce + policy.step_interval * 3);
    }

    #[test]
    fn small_changes_are_one_step() {
        let policy = ResizePolicy::default();
        assert_eq!(
            plan_steps(&policy, size(24, 80), size(29, 70)),
            [size(29, 70)]
        );
        assert_eq!(
            plan_steps(&policy, size(24, 80), size(24, 80)),
            [size(24, 80)]
        );
    }

    #[test]
    fn steps_are_capped_and_end_on_target() {
        let policy = ResizePolicy::default();
        let steps = plan_steps(&policy, size(10, 20), size(200, 500));
        assert_eq!(steps.len(), policy.max_steps);
        assert_eq!(*steps.last().unwrap(), size(200, 500));
        let shrink = plan_steps(&policy, size(60, 200), size(20, 40));
        assert_eq!(*shrink.last().unwrap(), size(20, 40));
        assert!(shrink
            .windows(2)
            .all(|w| w[1].cols < w[0].cols && w[1].rows < w[0].rows));
    }

    #[test]
    fn local_resize_wins_and_cancels_pending_viewer_requests() {
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(24, 80));
        s.on_remote(size(50, 200), t0);
        assert_eq!(s.poll(t0 + ms(500)), Some(size(27, 95)));
        assert_eq!(s.on_local(size(40, 100)), Some(size(40, 100)));
        assert_eq!(s.controller(), Controller::Local);
        assert_eq!(s.next_deadline(), None, "stepping was cancelled");
        assert_eq!(s.poll(t0 + ms(10_000)), None);
        assert_eq!(s.on_local(size(40, 100)), None, "same size: nothing to do");
    }

    /// A viewer's request, applied: the scheduler now follows the viewer.
    fn viewer_sized(local: Size, asked: Size) -> (ResizeScheduler, Instant) {
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), local);
        s.on_remote(asked, t0);
        let mut now = t0;
        while let Some(deadline) = s.next_deadline() {
            now = now.max(deadline);
            s.poll(now);
        }
        assert_eq!(s.controller(), Controller::Viewer);
        assert_eq!(s.current, asked);
        (s, now)
    }

    #[test]
    fn a_key_typed_locally_takes_the_size_back() {
        let (mut s, _) = viewer_sized(size(30, 100), size(20, 40));
        assert!(s.viewer_holds());
        assert_eq!(s.on_local_use(Some(size(30, 100))), Some(size(30, 100)));
        assert_eq!(s.controller(), Controller::Local);
        assert!(!s.viewer_holds());
        // Further keys change nothing.
        assert_eq!(s.on_local_use(Some(size(30, 100))), None);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn a_key_typed_locally_cancels_a_waiting_request_and_stepping() {
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(30, 100));
        s.on_remote(size(20, 40), t0);
        assert!(s.viewer_holds(), "a waiting request counts");
        assert_eq!(s.on_local_use(Some(size(30, 100))), None, "same size");
        assert_eq!(s.next_deadline(), None, "the request was dropped");
        assert_eq!(s.poll(t0 + ms(10_000)), None);

        s.on_remote(size(20, 40), t0);
        assert_eq!(s.poll(t0 + ms(500)), Some(size(29, 90)));
        assert!(s.stepping());
        assert_eq!(s.on_local_use(Some(size(30, 100))), Some(size(30, 100)));
        assert_eq!(s.next_deadline(), None, "stepping was cancelled");
    }

    #[test]
    fn keys_typed_while_the_local_terminal_has_the_size_change_nothing() {
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(30, 100));
        assert!(!s.viewer_holds());
        assert_eq!(s.on_local_use(Some(size(31, 100))), None);
        assert_eq!(s.current, size(30, 100));
    }

    #[test]
    fn the_holder_leaving_gives_the_size_back() {
        let (mut s, now) = viewer_sized(size(30, 100), size(20, 40));
        assert_eq!(s.on_release(Some(size(30, 100))), Some(size(30, 100)));
        assert_eq!(s.controller(), Controller::Local);
        assert_eq!(s.poll(now + ms(10_000)), None);
        // The local terminal resized meanwhile: its size now.
        let (mut s, _) = viewer_sized(size(30, 100), size(20, 40));
        assert_eq!(s.on_release(Some(size(35, 110))), Some(size(35, 110)));
        // A release when the size is the local terminal's already: nothing.
        assert_eq!(s.on_release(Some(size(35, 110))), None);
    }

    #[test]
    fn a_release_drops_the_request_still_waiting() {
        // The viewer asked and left within the debounce.
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(30, 100));
        s.on_remote(size(20, 40), t0);
        assert_eq!(s.on_release(Some(size(30, 100))), None);
        assert_eq!(s.next_deadline(), None);
        assert_eq!(s.poll(t0 + ms(10_000)), None);
        assert_eq!(s.controller(), Controller::Local);
    }

    #[test]
    fn without_a_local_terminal_a_release_keeps_the_size() {
        let (mut s, now) = viewer_sized(size(24, 80), size(20, 40));
        assert_eq!(s.on_release(None), None);
        assert_eq!(s.on_local_use(None), None);
        assert_eq!(s.controller(), Controller::Viewer);
        assert_eq!(s.current, size(20, 40));
        assert_eq!(s.poll(now + ms(10_000)), None);
        // A newer viewer still takes it.
        s.on_remote(size(22, 45), now);
        assert_eq!(s.poll(now + ms(500)), Some(size(22, 45)));
    }

    #[test]
    fn zero_sizes_are_raised_to_one() {
        let t0 = Instant::now();
        let mut s = ResizeScheduler::new(ResizePolicy::default(), size(2, 2));
        s.on_remote(Size { rows: 0, cols: 0 }, t0);
        assert_eq!(s.poll(t0 + ms(500)), Some(size(1, 1)));
    }
}
