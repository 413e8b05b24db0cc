//! The tiered strategy in simulation: the bounds the picker's docs derive,
//! checked after every flush for each ingest pattern.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lsmkit_compaction::{Simulation, Simulator, TieredOptions, Workload, simulate};

const WORKLOADS: [Workload; 3] = [
    Workload::Sequential,
    Workload::Uniform { key_space: 20_000 },
    Workload::Skewed {
        key_space: 20_000,
        hot_keys_percent: 10,
        hot_writes_percent: 90,
    },
];

fn config(workload: Workload, flushes: u64, options: TieredOptions) -> Simulation {
    Simulation {
        workload,
        flushes,
        flush_bytes: 100 * 100,
        entry_bytes: 100,
        seed: 42,
        policy: options.into(),
    }
}

/// Runs, space and the seqno order of runs, after every flush, for the
/// default options and for a few others.
#[test]
fn runs_and_space_stay_within_the_derived_bounds() {
    let option_sets = [
        TieredOptions::default(),
        TieredOptions {
            trigger_runs: 4,
            ..TieredOptions::default()
        },
        TieredOptions {
            trigger_runs: 3,
            max_space_amplification_percent: 50,
            size_ratio_percent: 20,
            max_merge_width: 3,
            ..TieredOptions::default()
        },
    ];
    for options in option_sets {
        for workload in WORKLOADS {
            let c = config(workload, 300, options.clone());
            let (t, p) = (
                options.trigger_runs as u64,
                options.max_space_amplification_percent,
            );
            let mut sim = Simulator::new(c.clone()).unwrap();
            for flush in 0..c.flushes {
                sim.flush().unwrap();
                let runs = sim.run_infos();
                assert!(
                    runs.len() < options.trigger_runs,
                    "{workload:?} flush {flush}: caught up"
                );
                for pair in runs.windows(2) {
                    assert!(pair[0].min_seqno > pair[1].max_seqno, "runs stay ordered");
                }
                // stored <= (1 + p/100) * live + (t - 2) * flush_bytes
                let bound = (100 + p) * sim.live_bytes() / 100 + (t - 2) * c.flush_bytes;
                assert!(
                    sim.stored_bytes() <= bound,
                    "{workload:?} {options:?} flush {flush}: stored {} > bound {bound}",
                    sim.stored_bytes()
                );
            }
            let report = sim.report();
            assert!(
                report.max_runs <= options.trigger_runs,
                "{workload:?}: {report:?}"
            );
            if workload == Workload::Sequential {
                assert_eq!(report.max_space_amplification, 1.0, "nothing to amplify");
                assert_eq!(report.bytes_flushed, report.bytes_ingested);
                assert_eq!(report.live_bytes, report.bytes_ingested);
            }
        }
    }
}

/// The write amplification the picker's docs aim for with the defaults:
/// under `1 + log2(N)` for `N` flushes.
#[test]
fn write_amplification_stays_under_the_aim() {
    for workload in WORKLOADS {
        for flushes in [10, 100, 400] {
            let report = simulate(&config(workload, flushes, TieredOptions::default())).unwrap();
            let aim = 1.0 + (flushes as f64).log2();
            assert!(
                report.write_amplification < aim,
                "{workload:?} over {flushes} flushes: {} >= {aim}",
                report.write_amplification
            );
            let written = report.bytes_flushed + report.bytes_compacted;
            assert!(written >= report.live_bytes, "everything live was written");
        }
    }
}

#[test]
fn too_few_runs_cost_far_more_writes() {
    // The reason the default trigger is 8, not 4.
    let four = TieredOptions {
        trigger_runs: 4,
        ..TieredOptions::default()
    };
    let sequential = |options| simulate(&config(Workload::Sequential, 400, options)).unwrap();
    let (wa4, wa8) = (
        sequential(four).write_amplification,
        sequential(TieredOptions::default()).write_amplification,
    );
    assert!(wa4 > 2.0 * wa8, "trigger 4: {wa4}, trigger 8: {wa8}");
}

#[test]
fn a_simulation_is_reproducible() {
    let c = config(WORKLOADS[1], 50, TieredOptions::default());
    assert_eq!(simulate(&c).unwrap(), simulate(&c).unwrap());
    let other = Simulation {
        seed: 43,
        ..c.clone()
    };
    assert_ne!(
        simulate(&c).unwrap().live_bytes,
        simulate(&other).unwrap().live_bytes
    );
}

#[test]
fn bad_configs_are_refused() {
    let c = Simulation {
        entry_bytes: 0,
        ..config(Workload::Sequential, 1, TieredOptions::default())
    };
    assert!(simulate(&c).is_err());
    let c = config(
        Workload::Sequential,
        1,
        TieredOptions {
            min_merge_width: 0,
            ..TieredOptions::default()
        },
    );
    assert!(simulate(&c).is_err());
}
