//! The leveled picker: the invariants of every level (sorted, not
//! overlapping, within its target once the picker has nothing to do),
//! checked on random trees and on simulated workloads against a model of
//! the keys written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use lsmkit_compaction::{
    Busy, Error, LeveledOptions, LeveledReason, LeveledTask, LevelsInfo, Policy, Simulation,
    Simulator, TableInfo, Workload, base_level, level_targets, leveled_candidates, pick_leveled,
};
use proptest::prelude::*;

fn table(size: u64, smallest: u16, largest: u16) -> TableInfo {
    TableInfo {
        size,
        smallest: smallest.to_be_bytes().to_vec(),
        largest: largest.to_be_bytes().to_vec(),
    }
}

/// A level: sorted, non-overlapping tables, from distinct sorted bounds.
fn level() -> impl Strategy<Value = Vec<TableInfo>> {
    (
        proptest::collection::btree_set(any::<u16>(), 0..12),
        proptest::collection::vec(1u64..5000, 6),
    )
        .prop_map(|(bounds, sizes)| {
            let bounds: Vec<u16> = bounds.into_iter().collect();
            bounds
                .chunks_exact(2)
                .zip(sizes.iter().cycle())
                .map(|(pair, &size)| table(size, pair[0], pair[1]))
                .collect()
        })
}

fn l0_run() -> impl Strategy<Value = TableInfo> {
    (1u64..5000, any::<u16>(), any::<u16>())
        .prop_map(|(size, a, b)| table(size, a.min(b), a.max(b)))
}

fn options() -> impl Strategy<Value = LeveledOptions> {
    (1usize..6, 1usize..5, 2u64..12, 1u64..20_000).prop_map(
        |(l0_trigger, num_levels, size_ratio, base_level_size)| LeveledOptions {
            l0_trigger,
            num_levels,
            size_ratio,
            base_level_size,
            target_file_size: 1000,
        },
    )
}

fn tree() -> impl Strategy<Value = (LeveledOptions, LevelsInfo)> {
    options().prop_flat_map(|options| {
        let n = options.num_levels;
        (
            Just(options),
            proptest::collection::vec(l0_run(), 0..7),
            proptest::collection::vec(level(), n),
        )
            .prop_map(|(options, l0, levels)| (options, LevelsInfo { l0, levels }))
    })
}

fn tables(levels: &LevelsInfo, level: usize) -> &[TableInfo] {
    match level {
        0 => &levels.l0,
        n => levels.levels.get(n - 1).map_or(&[], Vec::as_slice),
    }
}

/// What every level of a tree must be: sorted by key, not overlapping.
fn assert_levels_sorted(levels: &LevelsInfo) {
    for (k, level) in levels.levels.iter().enumerate() {
        for pair in level.windows(2) {
            assert!(
                pair[0].largest < pair[1].smallest,
                "level {}: {level:?}",
                k + 1
            );
        }
        for t in level {
            assert!(t.smallest <= t.largest);
        }
    }
}

/// Busy flags for `levels` from the bits of `seed`.
fn busy_from(levels: &LevelsInfo, seed: u64) -> Busy {
    let mut bit = 0u32;
    let mut next = || {
        bit += 1;
        seed.rotate_left(bit) & 1 == 1
    };
    Busy {
        l0: levels.l0.iter().map(|_| next()).collect(),
        levels: levels
            .levels
            .iter()
            .map(|l| l.iter().map(|_| next()).collect())
            .collect(),
        outputs: Vec::new(),
    }
}

/// The tables `task` takes, as busy flags.
fn with_task(levels: &LevelsInfo, task: &LeveledTask) -> Busy {
    let flags = |level: usize, len: usize| -> Vec<bool> {
        (0..len)
            .map(|i| {
                (task.start_level == level && task.start_inputs.contains(&i))
                    || (task.output_level == level && task.output_inputs.contains(&i))
            })
            .collect()
    };
    let (smallest, largest) = task.key_range(levels).unwrap();
    Busy {
        l0: flags(0, levels.l0.len()),
        levels: levels
            .levels
            .iter()
            .enumerate()
            .map(|(k, l)| flags(k + 1, l.len()))
            .collect(),
        outputs: vec![(task.output_level, smallest, largest)],
    }
}

/// `levels` after every task of `tasks` ran, each leaving one table that
/// spans what it merged (as an executor's outputs would, taken together).
fn apply(levels: &LevelsInfo, tasks: &[&LeveledTask]) -> LevelsInfo {
    let taken = |level: usize, index: usize| {
        tasks.iter().any(|t| {
            (t.start_level == level && t.start_inputs.contains(&index))
                || (t.output_level == level && t.output_inputs.contains(&index))
        })
    };
    let mut after = LevelsInfo {
        l0: (0..levels.l0.len())
            .filter(|&i| !taken(0, i))
            .map(|i| levels.l0[i].clone())
            .collect(),
        levels: levels
            .levels
            .iter()
            .enumerate()
            .map(|(k, l)| {
                (0..l.len())
                    .filter(|&i| !taken(k + 1, i))
                    .map(|i| l[i].clone())
                    .collect()
            })
            .collect(),
    };
    for task in tasks {
        let inputs: Vec<&TableInfo> = tables(levels, task.start_level)[task.start_inputs.clone()]
            .iter()
            .chain(&tables(levels, task.output_level)[task.output_inputs.clone()])
            .collect();
        let output = TableInfo {
            size: inputs.iter().map(|t| t.size).sum(),
            smallest: inputs.iter().map(|t| t.smallest.clone()).min().unwrap(),
            largest: inputs.iter().map(|t| t.largest.clone()).max().unwrap(),
        };
        let level = &mut after.levels[task.output_level - 1];
        level.push(output);
        level.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    }
    after
}

proptest! {
    /// With some tables busy, every candidate takes only free ones and
    /// the output level's tables it overlaps, in order of score; and any
    /// candidate run beside the best one leaves every level sorted and
    /// non-overlapping.
    #[test]
    fn candidates_avoid_busy_tables_and_run_side_by_side(
        (options, levels) in tree(),
        seed in any::<u64>(),
    ) {
        let n = options.num_levels;
        let busy = busy_from(&levels, seed);
        let candidates = leveled_candidates(&options, &levels, &busy).unwrap();
        let mut last_score = f64::INFINITY;
        for task in &candidates {
            for i in task.start_inputs.clone() {
                prop_assert!(!busy.is_busy(task.start_level, i), "{task:?}");
            }
            for i in task.output_inputs.clone() {
                prop_assert!(!busy.is_busy(task.output_level, i), "{task:?}");
            }
            let start = &tables(&levels, task.start_level)[task.start_inputs.clone()];
            let smallest = start.iter().map(|t| t.smallest.clone()).min().unwrap();
            let largest = start.iter().map(|t| t.largest.clone()).max().unwrap();
            let below = tables(&levels, task.output_level);
            for (i, t) in below.iter().enumerate() {
                prop_assert_eq!(
                    task.output_inputs.contains(&i),
                    t.overlaps(&smallest, &largest),
                    "{:?}", task
                );
            }
            let score = match task.reason {
                LeveledReason::L0Runs => levels.l0.len() as f64 / options.l0_trigger as f64,
                LeveledReason::LevelSize(score) => score,
            };
            prop_assert!(score >= 1.0 && score <= last_score, "{candidates:?}");
            last_score = score;
            prop_assert_eq!(
                task.bottommost,
                (task.output_level + 1..=n).all(|l| tables(&levels, l).is_empty())
            );
        }
        // Beside the task picked with nothing busy.
        if let Some(first) = pick_leveled(&options, &levels).unwrap() {
            let first = &first;
            let running = with_task(&levels, first);
            for second in leveled_candidates(&options, &levels, &running).unwrap() {
                let after = apply(&levels, &[first, &second]);
                assert_levels_sorted(&after);
            }
        }
    }

    /// A task names exactly what the rules say; no task means every level
    /// within its target.
    #[test]
    fn picks_follow_the_rules((options, levels) in tree()) {
        let n = options.num_levels;
        let targets = level_targets(&options, &levels);
        let base = base_level(&options, &levels);
        prop_assert!((1..=n).contains(&base));
        // The last level's target is its size (at least the base size);
        // each level above divides by the ratio down to the base level.
        prop_assert_eq!(targets[n - 1], levels.level_size(n).max(options.base_level_size));
        for level in base..n {
            prop_assert!(targets[level - 1] > 0);
            prop_assert!(targets[level - 1] <= targets[level].div_ceil(options.size_ratio).max(1));
        }
        for level in 1..base {
            prop_assert_eq!(targets[level - 1], 0);
        }
        // The base level is the first whose target is at most the base size,
        // unless the tree needs more levels than it has.
        prop_assert!(targets[base - 1] <= options.base_level_size || base == 1);

        match pick_leveled(&options, &levels).unwrap() {
            None => {
                prop_assert!(levels.l0.len() < options.l0_trigger);
                for level in 1..n {
                    if level < base {
                        prop_assert!(tables(&levels, level).is_empty());
                    } else {
                        prop_assert!(levels.level_size(level) < targets[level - 1].max(1));
                    }
                }
            }
            Some(task) => {
                prop_assert!(task.start_level < task.output_level);
                prop_assert!(task.output_level <= n);
                let start = &tables(&levels, task.start_level)[task.start_inputs.clone()];
                if task.start_level == 0 {
                    prop_assert_eq!(task.reason, LeveledReason::L0Runs);
                    prop_assert_eq!(task.start_inputs.clone(), 0..levels.l0.len());
                    prop_assert_eq!(task.output_level, base);
                } else {
                    prop_assert_eq!(task.start_inputs.len(), 1);
                    prop_assert_eq!(task.output_level, task.start_level + 1);
                }
                // Exactly the output level's tables that overlap the inputs.
                let smallest = start.iter().map(|t| t.smallest.clone()).min().unwrap();
                let largest = start.iter().map(|t| t.largest.clone()).max().unwrap();
                let below = tables(&levels, task.output_level);
                let expected: Vec<usize> = (0..below.len())
                    .filter(|&i| below[i].overlaps(&smallest, &largest))
                    .collect();
                let got: Vec<usize> = task.output_inputs.clone().collect();
                if expected.is_empty() {
                    prop_assert!(got.is_empty());
                    let at = task.output_inputs.start;
                    prop_assert!(at == 0 || below[at - 1].largest < smallest);
                    prop_assert!(at == below.len() || largest < below[at].smallest);
                } else {
                    prop_assert_eq!(got, expected);
                }
                let deeper_empty =
                    (task.output_level + 1..=n).all(|l| tables(&levels, l).is_empty());
                prop_assert_eq!(task.bottommost, deeper_empty);
                // A level task moves the table with the least overlap ratio.
                if task.start_level > 0 {
                    let level = tables(&levels, task.start_level);
                    let ratio = |t: &TableInfo| {
                        let overlap: u64 = below
                            .iter()
                            .filter(|b| b.overlaps(&t.smallest, &t.largest))
                            .map(|b| b.size)
                            .sum();
                        overlap as f64 / t.size.max(1) as f64
                    };
                    let chosen = ratio(&level[task.start_inputs.start]);
                    prop_assert!(level.iter().all(|t| chosen <= ratio(t) + 1e-9));
                }
            }
        }
    }

    /// Simulated workloads: after every flush and its compactions the
    /// levels are sorted, within their targets, and hold exactly the keys
    /// written, each at most once per level.
    #[test]
    fn simulated_trees_keep_their_invariants_and_every_key(
        options in options(),
        workload in prop_oneof![
            Just(Workload::Sequential),
            (100u64..5000).prop_map(|key_space| Workload::Uniform { key_space }),
            (100u64..5000).prop_map(|key_space| Workload::Skewed {
                key_space,
                hot_keys_percent: 10,
                hot_writes_percent: 90,
            }),
        ],
        flushes in 1u64..40,
        seed in any::<u64>(),
    ) {
        let options = LeveledOptions { target_file_size: 3000, ..options };
        let mut sim = Simulator::new(Simulation {
            workload,
            flushes,
            flush_bytes: 100 * 10,
            entry_bytes: 10,
            seed,
            policy: Policy::Leveled(options.clone()),
        })
        .unwrap();
        let mut written = BTreeSet::new();
        for _ in 0..flushes {
            sim.flush().unwrap();
            let levels = sim.levels_info().unwrap();
            assert_levels_sorted(&levels);
            prop_assert!(pick_leveled(&options, &levels).unwrap().is_none());
            prop_assert!(levels.l0.len() < options.l0_trigger);
            let targets = level_targets(&options, &levels);
            for level in 1..options.num_levels {
                prop_assert!(levels.level_size(level) < targets[level - 1].max(1));
            }
            // The model: every key written is stored, nothing else.
            let stored = sim.stored_keys();
            let distinct: BTreeSet<u64> = stored.iter().copied().collect();
            written.extend(distinct.iter().copied());
            prop_assert_eq!(distinct.len() as u64 * 10, sim.live_bytes());
            prop_assert_eq!(&distinct, &written);
        }
        let report = sim.report();
        prop_assert!(report.bytes_flushed <= report.bytes_ingested);
        prop_assert!(report.max_runs <= options.l0_trigger + options.num_levels);
    }
}

#[test]
fn targets_grow_from_the_last_level() {
    let options = LeveledOptions {
        num_levels: 4,
        size_ratio: 10,
        base_level_size: 100,
        ..LeveledOptions::default()
    };
    let with_last = |size| LevelsInfo {
        l0: vec![],
        levels: vec![vec![], vec![], vec![], vec![table(size, 0, 9)]],
    };
    // Small data: L0 compacts straight into the last level.
    assert_eq!(level_targets(&options, &with_last(50)), [0, 0, 0, 100]);
    assert_eq!(base_level(&options, &with_last(50)), 4);
    // Ten times the base: one more level above it.
    assert_eq!(level_targets(&options, &with_last(1000)), [0, 0, 100, 1000]);
    assert_eq!(
        level_targets(&options, &with_last(2500)),
        [0, 25, 250, 2500]
    );
    assert_eq!(base_level(&options, &with_last(2500)), 2);
    // More data than the levels hold at the ratio: L1 targets above the
    // base size rather than a level being added.
    assert_eq!(
        level_targets(&options, &with_last(250_000)),
        [250, 2500, 25_000, 250_000]
    );
}

#[test]
fn a_level_that_overlaps_itself_is_refused() {
    let options = LeveledOptions::default();
    let levels = LevelsInfo {
        l0: vec![],
        levels: vec![vec![table(1, 0, 5), table(1, 5, 9)]],
    };
    let error = pick_leveled(&options, &levels).unwrap_err();
    assert!(
        matches!(
            error,
            Error::LevelOutOfOrder {
                level: 1,
                index: 1,
                ..
            }
        ),
        "{error}"
    );
    let too_deep = LevelsInfo {
        l0: vec![],
        levels: vec![vec![]; options.num_levels + 1],
    };
    assert!(pick_leveled(&options, &too_deep).is_err());
}
