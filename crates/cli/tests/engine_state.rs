//! The report says what state each workload measured: sorted runs and
//! tables at its start, compactions during it, the writers' stall time.
#![allow(clippy::unwrap_used)]

use lsmkit_cli::bench::{self, BenchConfig, LsmkitEngine, MemEngine, Progress};
use lsmkit_engine::{Options, TieredOptions};

fn config(workloads: &[&str]) -> BenchConfig {
    BenchConfig {
        num: 3000,
        workloads: workloads.iter().map(|w| w.parse().unwrap()).collect(),
        ..BenchConfig::default()
    }
}

#[test]
fn reads_start_from_settled_runs_and_say_how_many() {
    let trigger_runs = 3;
    let engine =
        LsmkitEngine::with_options(Options::default().write_buffer_size(16 << 10).compaction(
            TieredOptions {
                trigger_runs,
                ..TieredOptions::default()
            },
        ));
    let dir = tempfile::tempdir().unwrap();
    let report = bench::run(
        &engine,
        dir.path(),
        &config(&["fillrandom", "readrandom", "seekrandom"]),
        Progress::Quiet,
    )
    .unwrap();
    let [fill, read, seek] = &report.measurements[..] else {
        panic!("three workloads: {report:?}")
    };
    assert_eq!(fill.sorted_runs, Some(0));
    assert!(fill.compactions.unwrap() > 0, "{fill:?}");
    assert!(fill.stall_micros.is_some());
    assert!(fill.micros_max >= fill.micros_p999);
    // The fill's flush waited for its compactions: the reads ran against
    // fewer runs than the trigger, and no compaction ran beside them.
    for m in [read, seek] {
        let runs = m.sorted_runs.unwrap();
        assert!((1..trigger_runs).contains(&runs), "{m:?}");
        assert!(m.tables.unwrap() >= runs, "{m:?}");
        assert_eq!(m.compactions, Some(0), "{m:?}");
        assert_eq!(m.stall_micros, Some(0), "{m:?}");
    }
    assert!(report.table().contains("compactions"));
}

#[test]
fn an_engine_that_cannot_tell_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench::run(
        &MemEngine,
        dir.path(),
        &config(&["fillseq", "readrandom"]),
        Progress::Quiet,
    )
    .unwrap();
    for m in &report.measurements {
        assert_eq!((m.sorted_runs, m.tables, m.compactions), (None, None, None));
        assert_eq!(m.stall_micros, None);
    }
}
