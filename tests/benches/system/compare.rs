//! `scripts/bench compare`: throughput with nobody joining, this build
//! against another (`TETHER_BENCH_BASELINE=DIR`, that build's
//! `target/release` holding its `tether-relay` and `tether`), measured by
//! this bench in one run: the two builds interleaved run by run, so that
//! a burst of load elsewhere hits both (each going first in turn), and the
//! median of [`RUNS`] each.
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
    for run in 0..RUNS {
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
        let [old, new] = scenario.runs.map(median);
        let change = 100.0 * (new.mb_per_s() / old.mb_per_s() - 1.0);
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
                "{:.1} vs {:.1} MB/s ({change:+.0}%, median of {RUNS}); relay CPU per MB {:.1} vs {:.1} ms",
                new.mb_per_s(),
                old.mb_per_s(),
                new.per_mb(new.relay_cpu),
                old.per_mb(old.relay_cpu),
            ),
            "≥ −10%",
        );
    }
}

/// The run of median throughput.
fn median(mut runs: Vec<Transfer>) -> Transfer {
    runs.sort_by(|a, b| a.mb_per_s().total_cmp(&b.mb_per_s()));
    runs.swap_remove(runs.len() / 2)
}
