//! Tether's whole-system benchmarks: the real `tether-relay` and `tether`
//! release binaries, real PTYs, real WebSockets on loopback.
//!
//! Run with `scripts/bench` (which builds the release binaries first). Prints
//! a table and writes `BENCHMARKS.md` at the workspace root. Each figure sits
//! beside its ceiling measured in the same run on the same machine: a bare PTY
//! for throughput and keystroke latency.
//!
//! | module | rows |
//! |---|---|
//! | `throughput` | two workloads, bare PTY vs 1/10/100 viewers, CPU per MB; the relay alone |
//! | `latency` | keystroke round trips |
//! | `fanout` | one session, 1 000 viewers: relay CPU per delivered MB |
//! | `viewer` | join by replay, the browser's first output, shipped sizes |
//! | `snapshot_join` | (in `join`) snapshot joins of 8 / 64 MiB rings: at once, after a quiet period, later |
//! | `memory` | relay memory per idle session and per viewer |
//! | `nodes` | two nodes on Redis: relayed throughput, round trip, memory; Redis load |
//! | `phone` | a throttled phone joins 1/8/64 MiB sessions: raw replay vs snapshot, where the time goes (`phone_breakdown`; `proxy` counts the bytes) |
//! | `profile` | one scenario under a tracer (`strace`, `callgrind`), on request only |
//! | `compare` | throughput with nobody joining, this build against `TETHER_BENCH_BASELINE`'s binaries, on request only |
//! | `procs`, `report` | the processes measured; the table and `BENCHMARKS.md` |

mod compare;
mod fanout;
mod latency;
mod memory;
mod nodes;
mod phone;
mod phone_breakdown;
mod procs;
mod profile;
mod proxy;
mod report;
mod snapshot_join;
mod throughput;
mod viewer;

/// One part of the bench: runs its measurements and adds its rows.
type Part = fn(&tokio::runtime::Runtime, &mut report::Report);

/// The parts, by the name `scripts/bench PART…` selects them with.
const PARTS: &[(&str, Part)] = &[
    ("throughput", throughput::run),
    ("latency", latency::run),
    ("fanout", fanout::run),
    ("join", viewer::join),
    ("memory", memory::run),
    ("nodes", nodes::nodes),
    ("viewer", viewer::browser),
    ("phone", phone::run),
];

/// Parts run only when named (`scripts/bench profile`).
const ON_REQUEST: &[(&str, Part)] = &[("profile", profile::run), ("compare", compare::run)];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut report = report::Report::default();
    // `scripts/bench latency memory` runs only those parts (and writes no file).
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for (name, part) in PARTS {
        if only.is_empty() || only.iter().any(|o| o == name) {
            part(&runtime, &mut report);
        }
    }
    for (name, part) in ON_REQUEST {
        if only.iter().any(|o| o == name) {
            part(&runtime, &mut report);
        }
    }
    if only.is_empty() {
        report.write_file();
    }
}
