//! `scripts/bench compare`: throughput with nobody joining, this build
//! against another (`TETHER_BENCH_BASELINE=DIR`, that build's
//! `target/release` holding its `tether-relay` and `tether`), measured by
//! this bench in one run: the two builds interleaved run by run, so that
//! a burst of load elsewhere hits both (each going first in turn), and the
//! median of [`RUNS`] each (`TETHER_BENCH_COMPARE_RUNS=N` for more). Each
//! build's MB/s, and its relay's CPU per MB, which depends far less on
//! what else the machine runs.
//! The scenarios: both workloads through a PTY, `tether` and the relay to
//! one viewer, and the relay alone (an agent client, no PTY) to one viewer.

use std::path::PathBuf;

use tests::relay::use_binaries_from;

use crate::report::Report;
use crate::throughput::{
    raw_pty_throughput, relay_only_throughput, relayed_throughput, workloads, Transfer, RUNS,
};

/// One build: its name in the report and where its binaries are.
struct Build {
    name: &'static str,
    binaries: Option<PathBuf>,
}

/// A measurement made for both builds.
struct Scenario {
    name: String,
    /// The workload's command (`None`: the relay alone).
    command: Option<String>,
    bytes: u64,
    /// Per build, every run.
    runs: [Vec<Transfer>; 2],
}

/// The comparison rows.
pub fn run(runtime: &tokio::runtime::Runtime, report: &mut Report) {
    let baseline = std::env::var_os("TETHER_BENCH_BASELINE")
        .map(PathBuf::from)
        .expect("set TETHER_BENCH_BASELINE to the other build's target/release");
    let builds = [
        Build {
            name: "baseline",
            binaries: Some(baseline.clone()),
        },
        Build {
            name: "this build",
            binaries: None,
        },
    ];
    let workloads = workloads();
    let mut scenarios: Vec<Scenario> = workloads
        .iter()
        .map(|w| {
            let command = w.command();
            Scenario {
                name: format!("{}: agent → relay → 1 viewer", w.name),
                bytes: raw_pty_throughput(&command).bytes,
                command: Some(command),
                runs: Default::default(),
            }
        })
        .collect();
    let bytes = scenarios[0].bytes;
    scenarios.push(Scenario {
        name: "relay alone (no PTY): agent client → 1 viewer".into(),
        command: None,
        bytes,
        runs: Default::default(),
    });
    let runs = std::env::var("TETHER_BENCH_COMPARE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(RUNS);
    for run in 0..runs {
        for scenario in &mut scenarios {
            // Each build goes first in turn: neither always follows the other.
            let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
            for b in order {
                let build = &builds[b];
                use_binaries_from(build.binaries.clone());
                let transfer = runtime.block_on(async {
                    match &scenario.command {
                        Some(command) => relayed_throughput(command, scenario.bytes, 1).await,
                        None => relay_only_throughput(scenario.bytes, 1).await,
                    }
                });
                scenario.runs[b].push(transfer);
            }
        }
    }
    use_binaries_from(None);
    for scenario in scenarios {
        let [old, new] = scenario.runs.map(|runs| {
            (
                median(runs.iter().map(Transfer::mb_per_s)),
                median(runs.iter().map(|t| t.per_mb(t.relay_cpu))),
            )
        });
        let change = |new: f64, old: f64| 100.0 * (new / old - 1.0);
        report.row(
            "nobody joining",
            &format!(
                "{} ({} vs {}: {})",
                scenario.name,
                builds[1].name,
                builds[0].name,
                baseline.display()
            ),
            format!(
                "{:.1} vs {:.1} MB/s ({:+.0}%); relay CPU per MB {:.2} vs {:.2} ms ({:+.0}%); medians of {runs}",
                new.0,
                old.0,
                change(new.0, old.0),
                new.1,
                old.1,
                change(new.1, old.1),
            ),
            "≥ −10%",
        );
    }
}

/// The median of `values`.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
