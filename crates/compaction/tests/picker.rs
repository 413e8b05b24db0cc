//! The tiered picker: each rule, each boundary of each option, and the
//! worked example of the module docs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lsmkit_compaction::{CompactionReason, CompactionTask, Error, RunInfo, TieredOptions, pick};

/// Runs of these sizes, newest first, with disjoint seqno ranges.
fn runs(sizes: &[u64]) -> Vec<RunInfo> {
    let n = sizes.len() as u64;
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let seqno = (n - i as u64) * 10;
            RunInfo {
                size,
                min_seqno: seqno,
                max_seqno: seqno + 9,
            }
        })
        .collect()
}

fn pick_sizes(options: &TieredOptions, sizes: &[u64]) -> Option<CompactionTask> {
    pick(options, &runs(sizes)).unwrap()
}

fn task(
    runs: std::ops::Range<usize>,
    bottommost: bool,
    reason: CompactionReason,
) -> Option<CompactionTask> {
    Some(CompactionTask {
        runs,
        bottommost,
        reason,
    })
}

/// Applies a task to a list of sizes the way a compaction without
/// overwrites would: the merged run's size is the sum.
fn apply(sizes: &mut Vec<u64>, task: &CompactionTask) {
    let merged = sizes[task.runs.clone()].iter().sum();
    sizes.splice(task.runs.clone(), [merged]);
}

#[test]
fn picker_worked_example() {
    use CompactionReason::*;
    let options = four();
    let mut sizes: Vec<u64> = Vec::new();
    let mut trace = Vec::new();
    for _ in 0..12 {
        sizes.insert(0, 1);
        while let Some(t) = pick_sizes(&options, &sizes) {
            trace.push((sizes.clone(), t.reason));
            apply(&mut sizes, &t);
        }
    }
    assert_eq!(
        trace[..5],
        [
            (vec![1, 1, 1, 1], SpaceAmplification),
            (vec![1, 1, 1, 4], SizeRatio),
            (vec![1, 1, 3, 4], SizeRatio),
            (vec![1, 2, 3, 4], RunCount),
            (vec![1, 3, 3, 4], SizeRatio),
        ]
    );
    assert_eq!(
        pick_sizes(&options, &[1, 3, 3, 4]),
        task(1..4, true, SizeRatio)
    );
}

/// The picker tests below use a trigger of 4 runs, as RocksDB does.
fn four() -> TieredOptions {
    TieredOptions {
        trigger_runs: 4,
        ..TieredOptions::default()
    }
}

#[test]
fn nothing_below_the_trigger() {
    let options = four();
    assert_eq!(pick_sizes(&options, &[]), None);
    assert_eq!(pick_sizes(&options, &[1, 1, 1]), None);
    assert!(pick_sizes(&options, &[1, 1, 1, 1]).is_some());
    let options = TieredOptions {
        trigger_runs: 2,
        ..options
    };
    assert_eq!(pick_sizes(&options, &[5]), None);
    assert_eq!(
        pick_sizes(&options, &[5, 100]),
        task(0..2, true, CompactionReason::RunCount)
    );
}

#[test]
fn space_amplification_boundary() {
    let options = TieredOptions {
        max_space_amplification_percent: 150,
        size_ratio_percent: 0,
        ..four()
    };
    // Newer runs 1 + 2 + 3 = 6 against an oldest of 4: exactly 150%.
    assert_ne!(
        pick_sizes(&options, &[1, 2, 3, 4]).map(|t| t.reason),
        Some(CompactionReason::SpaceAmplification)
    );
    assert_eq!(
        pick_sizes(&options, &[1, 2, 4, 4]),
        task(0..4, true, CompactionReason::SpaceAmplification)
    );
    // Zero percent: any newer byte triggers; an empty oldest run too.
    let zero = TieredOptions {
        max_space_amplification_percent: 0,
        ..options
    };
    assert_eq!(
        pick_sizes(&zero, &[1, 100, 100, 100]).map(|t| t.reason),
        Some(CompactionReason::SpaceAmplification)
    );
    assert_eq!(
        pick_sizes(&options, &[1, 1, 1, 0]).map(|t| t.reason),
        Some(CompactionReason::SpaceAmplification)
    );
}

#[test]
fn space_amplification_ignores_max_merge_width() {
    let options = TieredOptions {
        max_merge_width: 2,
        ..four()
    };
    assert_eq!(
        pick_sizes(&options, &[5, 5, 5, 5, 1]),
        task(0..5, true, CompactionReason::SpaceAmplification)
    );
}

#[test]
fn size_ratio_boundary() {
    let options = TieredOptions {
        size_ratio_percent: 10,
        ..four()
    };
    // 110 is exactly 110% of 100: it joins; 221 > 110% of 210 stops.
    assert_eq!(
        pick_sizes(&options, &[100, 110, 231, 10_000]),
        task(0..3, false, CompactionReason::SizeRatio)
    );
    assert_eq!(
        pick_sizes(&options, &[100, 111, 231, 10_000]).map(|t| t.reason),
        Some(CompactionReason::RunCount)
    );
    assert_eq!(
        pick_sizes(&options, &[100, 110, 232, 10_000]),
        task(0..2, false, CompactionReason::SizeRatio)
    );
}

#[test]
fn size_ratio_takes_the_first_stretch_from_any_start() {
    let options = four();
    assert_eq!(
        pick_sizes(&options, &[1, 10, 10, 1000]),
        task(1..3, false, CompactionReason::SizeRatio)
    );
}

#[test]
fn min_merge_width_boundary() {
    let options = TieredOptions {
        min_merge_width: 3,
        ..four()
    };
    // A stretch of two similar runs is too narrow: run count takes three.
    assert_eq!(
        pick_sizes(&options, &[10, 10, 100, 1000]),
        task(0..3, false, CompactionReason::RunCount)
    );
    assert_eq!(
        pick_sizes(&options, &[10, 10, 10, 1000]),
        task(0..3, false, CompactionReason::SizeRatio)
    );
}

#[test]
fn max_merge_width_boundary() {
    let options = TieredOptions {
        max_merge_width: 3,
        trigger_runs: 5,
        ..four()
    };
    assert_eq!(
        pick_sizes(&options, &[10, 10, 10, 10, 1000]),
        task(0..3, false, CompactionReason::SizeRatio)
    );
    // Run count wants 8 - 5 + 2 = 5 runs but may take only 3.
    assert_eq!(
        pick_sizes(
            &options,
            &[1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000]
        ),
        task(0..3, false, CompactionReason::RunCount)
    );
}

#[test]
fn run_count_brings_the_count_below_the_trigger() {
    let options = four();
    let sizes = [1, 10, 100, 1000, 10_000, 100_000];
    let t = pick_sizes(&options, &sizes).unwrap();
    assert_eq!(t, task(0..4, false, CompactionReason::RunCount).unwrap());
    assert_eq!(sizes.len() - t.runs.len() + 1, options.trigger_runs - 1);
    // All runs: the output is the oldest.
    let options = TieredOptions {
        trigger_runs: 2,
        min_merge_width: 3,
        ..options
    };
    assert_eq!(
        pick_sizes(&options, &[1, 10]),
        task(0..2, true, CompactionReason::RunCount)
    );
}

#[test]
fn invalid_options_are_refused() {
    let base = TieredOptions::default();
    for (options, name) in [
        (
            TieredOptions {
                trigger_runs: 1,
                ..base.clone()
            },
            "trigger_runs",
        ),
        (
            TieredOptions {
                min_merge_width: 1,
                ..base.clone()
            },
            "min_merge_width",
        ),
        (
            TieredOptions {
                max_merge_width: 1,
                ..base.clone()
            },
            "max_merge_width",
        ),
        (
            TieredOptions {
                target_file_size: 0,
                ..base.clone()
            },
            "target_file_size",
        ),
    ] {
        match pick(&options, &runs(&[1, 1, 1, 1])) {
            Err(Error::InvalidOption { option, .. }) => assert_eq!(option, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn runs_out_of_order_are_refused() {
    let mut list = runs(&[1, 1, 1, 1]);
    list.swap(1, 2);
    let error = pick(&four(), &list).unwrap_err();
    assert!(
        matches!(error, Error::RunsOutOfOrder { index: 2, .. }),
        "{error}"
    );
    let mut list = runs(&[1, 1]);
    list[1].min_seqno = list[1].max_seqno + 1;
    assert!(matches!(
        pick(&four(), &list),
        Err(Error::BadRun { index: 1, .. })
    ));
}
