//! [`Watched`]: a connection's socket that notes when bytes last moved
//! ([`Activity`]) and holds the connection's place in the caps for as long
//! as the socket lives (through a WebSocket upgrade too).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::limits::Place;

/// When a connection last moved bytes either way.
#[derive(Debug, Clone)]
pub(super) struct Activity(Arc<Clock>);

#[derive(Debug)]
struct Clock {
    since: Instant,
    /// Milliseconds after `since` of the last read or write.
    last_ms: AtomicU64,
}

impl Activity {
    /// Activity starting now.
    pub(super) fn new() -> Self {
        Self(Arc::new(Clock {
            since: Instant::now(),
            last_ms: AtomicU64::new(0),
        }))
    }

    fn touch(&self) {
        let ms = self.0.since.elapsed().as_millis() as u64;
        self.0.last_ms.store(ms, Ordering::Relaxed);
    }

    /// How long no byte has moved.
    pub(super) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.0.last_ms.load(Ordering::Relaxed));
        self.0.since.elapsed().saturating_sub(last)
    }
}

/// A socket with its activity and its place.
#[derive(Debug)]
pub(super) struct Watched<T> {
    inner: T,
    activity: Activity,
    _place: Place,
}

impl<T> Watched<T> {
    /// Watches `inner`, holding `place` until dropped.
    pub(super) fn new(inner: T, activity: Activity, place: Place) -> Self {
        Self {
            inner,
            activity,
            _place: place,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_restarts_the_idle_clock() {
        let activity = Activity(Arc::new(Clock {
            since: Instant::now() - Duration::from_secs(5),
            last_ms: AtomicU64::new(0),
        }));
        assert!(activity.idle_for() >= Duration::from_secs(5));
        activity.touch();
        assert!(activity.idle_for() < Duration::from_secs(1));
    }
}
