//! Counters exported at `/metrics` in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The relay's counters and gauges.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Agent links open now.
    pub(crate) agents: AtomicU64,
    /// Viewer links open now.
    pub(crate) viewers: AtomicU64,
    /// Viewer links open now that this node relays to their session's owner.
    pub(crate) proxied_viewers: AtomicU64,
    /// OUTPUT bytes received from agents.
    pub(crate) bytes_in: AtomicU64,
    /// OUTPUT bytes sent to viewers.
    pub(crate) bytes_out: AtomicU64,
    /// Frames dropped: unknown types, refused input, duplicates, rate limits.
    pub(crate) frames_dropped: AtomicU64,
    /// Refused credentials.
    pub(crate) auth_failures: AtomicU64,
    /// TCP connections open now (HTTP requests and WebSocket links).
    pub(crate) connections: AtomicU64,
    /// Most connections open at once (below the descriptor limit).
    pub(crate) connection_limit: AtomicU64,
    /// Connections refused at once (503) for the global or per-address cap.
    pub(crate) connections_refused: AtomicU64,
    /// Failed `accept` calls (e.g. out of descriptors).
    pub(crate) accept_errors: AtomicU64,
    /// Links dropped because a send did not finish within the send timeout.
    pub(crate) links_stalled: AtomicU64,
    /// Bytes of session history held or reserved in memory.
    pub(crate) history_bytes: AtomicU64,
    /// Sessions refused because a memory budget was full.
    pub(crate) budget_refusals: AtomicU64,
    /// Ended sessions' history freed early to make room.
    pub(crate) history_freed: AtomicU64,
    /// Web Push messages a push service accepted.
    pub(crate) push_sent: AtomicU64,
    /// Web Push messages that failed (timeouts, refusals other than 404/410).
    pub(crate) push_failures: AtomicU64,
    /// Web Push messages dropped because the queue was full.
    pub(crate) push_dropped: AtomicU64,
    /// Ring bytes parsed by snapshot builds a joining viewer waited for.
    pub(crate) snapshot_parsed_at_join: AtomicU64,
    /// Ring bytes parsed by snapshot builds in the background.
    pub(crate) snapshot_parsed_warm: AtomicU64,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Subtracts one from a gauge.
pub(crate) fn dec(gauge: &AtomicU64) {
    let _ = gauge.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
}

/// Sets a gauge.
pub(crate) fn set(gauge: &AtomicU64, value: u64) {
    gauge.store(value, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus text exposition, with `sessions` held in memory.
    pub(crate) fn render(&self, sessions: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP tether_relay_{name} {help}");
            let _ = writeln!(out, "# TYPE tether_relay_{name} {kind}");
            let _ = writeln!(out, "tether_relay_{name} {value}");
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        metric(
            "sessions",
            "gauge",
            "Sessions held in memory.",
            sessions as u64,
        );
        metric("agents", "gauge", "Agent links open.", get(&self.agents));
        metric("viewers", "gauge", "Viewer links open.", get(&self.viewers));
        metric(
            "proxied_viewers",
            "gauge",
            "Viewer links relayed to the node that owns their session.",
            get(&self.proxied_viewers),
        );
        metric(
            "bytes_in_total",
            "counter",
            "Output bytes received from agents.",
            get(&self.bytes_in),
        );
        metric(
            "bytes_out_total",
            "counter",
            "Output bytes sent to viewers.",
            get(&self.bytes_out),
        );
        metric(
            "frames_dropped_total",
            "counter",
            "Frames dropped or refused.",
            get(&self.frames_dropped),
        );
        metric(
            "auth_failures_total",
            "counter",
            "Refused credentials.",
            get(&self.auth_failures),
        );
        let limits: [(&str, &str, &str, &AtomicU64); 13] = [
            (
                "connections",
                "gauge",
                "TCP connections open.",
                &self.connections,
            ),
            (
                "connection_limit",
                "gauge",
                "Most TCP connections open at once.",
                &self.connection_limit,
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections refused (503) at the global or per-address cap.",
                &self.connections_refused,
            ),
            (
                "accept_errors_total",
                "counter",
                "Failed accepts (e.g. out of file descriptors).",
                &self.accept_errors,
            ),
            (
                "links_stalled_total",
                "counter",
                "Links dropped because a send did not finish in time.",
                &self.links_stalled,
            ),
            (
                "history_bytes",
                "gauge",
                "Bytes of session history held or reserved in memory.",
                &self.history_bytes,
            ),
            (
                "budget_refusals_total",
                "counter",
                "Sessions refused because a memory budget was full.",
                &self.budget_refusals,
            ),
            (
                "history_freed_total",
                "counter",
                "Ended sessions whose history was freed early to make room.",
                &self.history_freed,
            ),
            (
                "push_sent_total",
                "counter",
                "Web Push messages a push service accepted.",
                &self.push_sent,
            ),
            (
                "push_failures_total",
                "counter",
                "Web Push messages that failed (other than 404/410).",
                &self.push_failures,
            ),
            (
                "push_dropped_total",
                "counter",
                "Web Push messages dropped because the queue was full.",
                &self.push_dropped,
            ),
            (
                "snapshot_parsed_at_join_bytes_total",
                "counter",
                "Ring bytes parsed by snapshot builds a joining viewer waited for.",
                &self.snapshot_parsed_at_join,
            ),
            (
                "snapshot_parsed_warm_bytes_total",
                "counter",
                "Ring bytes parsed by snapshot builds of quiet sessions in the background.",
                &self.snapshot_parsed_warm,
            ),
        ];
        for (name, kind, help, value) in limits {
            metric(name, kind, help, get(value));
        }
        out
    }
}
