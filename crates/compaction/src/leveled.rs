//! The leveled picker: which tables to merge next, as a pure function.
//!
//! The tree is *L0*, sorted runs straight from flushes (newest first, each
//! may overlap every other), then *levels* L1, L2, ..., each one sorted run
//! of tables whose key ranges do not overlap. A point lookup consults every
//! L0 run and one table per non-empty level; a level holds about
//! `size_ratio` times the bytes of the one above it, so a byte is rewritten
//! about `size_ratio` times per level it descends, and all but about
//! `1 / size_ratio` of the data sits in the last level, where it holds only
//! its newest version: space amplification stays near `1 + 1/size_ratio`.
//!
//! Like [`pick`](crate::pick), [`pick_leveled`] looks at sizes and key
//! ranges only, does no I/O and keeps no state.
//!
//! # Target sizes (RocksDB's `level_compaction_dynamic_level_bytes`)
//!
//! The targets are computed from the bottom up: the last level's target is
//! its actual size (at least `base_level_size`), and each level above has
//! the target of the one below divided by `size_ratio`, up to the first
//! level whose target is at most `base_level_size`: the *base level*, into
//! which L0 compacts. Levels above it have a target of 0 and stay empty.
//! While the data is small the base level is the last level, so L0 goes
//! straight to the bottom; each time the data grows by `size_ratio` the
//! base level moves up by one. So the tree has as many levels as its size
//! needs, and the levels always hold their intended shares (with static
//! targets, a small tree would keep most of its data above the last level
//! and pay the space of every overwrite there).
//!
//! # The rules
//!
//! Each level `i` from the base level down to the one above the last has a
//! score, its size over its target; L0's score is its run count over
//! `l0_trigger`; a non-empty level above the base level scores
//! [`f64::INFINITY`] (it must drain). The highest score at or above 1 is
//! compacted:
//!
//! - **L0**: every L0 run, with every table of the base level that overlaps
//!   any of them, into the base level.
//! - **Level `i`**: the one table of level `i` whose overlap with level
//!   `i + 1` is smallest relative to its own size (RocksDB's
//!   `kMinOverlappingRatio`: the fewest bytes rewritten per byte moved
//!   down; ties go to the first in key order), with the tables of level
//!   `i + 1` it overlaps, into level `i + 1`.
//!
//! Picking until there is nothing to pick leaves fewer than `l0_trigger`
//! L0 runs and every level above the last within its target: the picker
//! returns `None` exactly when every score is below 1.
//!
//! # More than one at a time
//!
//! [`leveled_candidates`] lists every compaction worth running that takes
//! none of the tables running compactions hold ([`Busy`]), best first;
//! [`pick_leveled`] is its first with nothing busy. The caller checks that
//! the outputs of two compactions into one level do not overlap: that
//! depends on the key ranges its tables answer for, which the picker does
//! not see.

use std::ops::Range;

use crate::Error;

/// The options of the leveled strategy. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeveledOptions {
    /// L0 is compacted into the base level once it holds this many runs.
    /// Default 4 (RocksDB's `level0_file_num_compaction_trigger`); at
    /// least 1.
    pub l0_trigger: usize,
    /// Levels below L0. Default 6; at least 1.
    pub num_levels: usize,
    /// Each level's target is this many times the one above it. Default
    /// 10; at least 2.
    pub size_ratio: u64,
    /// The most bytes the base level (the one L0 compacts into) targets:
    /// RocksDB's `max_bytes_for_level_base`. Default 256 MiB; at least 1.
    pub base_level_size: u64,
    /// The executor splits its output into tables of about this many
    /// bytes. Default 64 MiB; at least 1.
    pub target_file_size: u64,
}

impl Default for LeveledOptions {
    fn default() -> Self {
        LeveledOptions {
            l0_trigger: 4,
            num_levels: 6,
            size_ratio: 10,
            base_level_size: 256 << 20,
            target_file_size: 64 << 20,
        }
    }
}

impl LeveledOptions {
    /// Checks every option against its documented range.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |option, what| Err(Error::InvalidOption { option, what });
        if self.l0_trigger == 0 {
            return invalid("l0_trigger", "must be at least 1");
        }
        if self.num_levels == 0 {
            return invalid("num_levels", "must be at least 1");
        }
        if self.size_ratio < 2 {
            return invalid("size_ratio", "must be at least 2");
        }
        if self.base_level_size == 0 {
            return invalid("base_level_size", "must be at least 1");
        }
        if self.target_file_size == 0 {
            return invalid("target_file_size", "must be at least 1");
        }
        Ok(())
    }
}

/// A table (or an L0 run) as the leveled picker sees it: its size and the
/// user keys it holds, `smallest..=largest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// Bytes on disk.
    pub size: u64,
    /// Its smallest user key.
    pub smallest: Vec<u8>,
    /// Its largest user key.
    pub largest: Vec<u8>,
}

impl TableInfo {
    /// Whether its keys meet `smallest..=largest`.
    pub fn overlaps(&self, smallest: &[u8], largest: &[u8]) -> bool {
        self.smallest.as_slice() <= largest && smallest <= self.largest.as_slice()
    }
}

/// The shape of a leveled tree: what [`pick_leveled`] decides on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelsInfo {
    /// The L0 runs, newest first; they may overlap each other.
    pub l0: Vec<TableInfo>,
    /// `levels[k]` is level `k + 1`: tables sorted by key, not
    /// overlapping. At most `num_levels` of them; missing ones are empty.
    pub levels: Vec<Vec<TableInfo>>,
}

impl LevelsInfo {
    /// Bytes in level `level` (1-based; 0 is L0).
    pub fn level_size(&self, level: usize) -> u64 {
        let tables = match level {
            0 => &self.l0,
            n => match self.levels.get(n - 1) {
                Some(tables) => tables,
                None => return 0,
            },
        };
        tables.iter().map(|t| t.size).sum()
    }

    /// How many sorted runs a point lookup may consult: every L0 run and
    /// one table per non-empty level.
    pub fn read_amplification(&self) -> usize {
        self.l0.len() + self.levels.iter().filter(|l| !l.is_empty()).count()
    }
}

/// Which rule picked a leveled compaction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LeveledReason {
    /// L0 reached `l0_trigger` runs.
    L0Runs,
    /// The start level outgrew its target by this score (size / target;
    /// infinite for a non-empty level above the base level).
    LevelSize(f64),
}

/// A leveled compaction to run: merge `start_inputs` of `start_level` with
/// `output_inputs` of `output_level`; the output replaces the latter in
/// `output_level`, and the former leave `start_level`.
#[derive(Clone, Debug, PartialEq)]
pub struct LeveledTask {
    /// 0 for L0, else the level (1-based).
    pub start_level: usize,
    /// L0: the runs (all of them); a level: one table.
    pub start_inputs: Range<usize>,
    /// The level the output goes to, below `start_level`.
    pub output_level: usize,
    /// The tables of `output_level` the start inputs overlap: a contiguous
    /// stretch (empty where none overlap; it then says where the output
    /// goes in the level's order).
    pub output_inputs: Range<usize>,
    /// Whether no level below `output_level` holds data, so that the
    /// output is the oldest data of its keys and may drop tombstones.
    pub bottommost: bool,
    /// Which rule picked it.
    pub reason: LeveledReason,
}

impl LeveledTask {
    /// Whether the task can move its one input down without rewriting it:
    /// a single table (or a single L0 run) that overlaps nothing in the
    /// output level (RocksDB's trivial move). Sequential inserts compact
    /// this way at a write amplification of 1.
    pub fn is_trivial_move(&self) -> bool {
        self.start_inputs.len() == 1 && self.output_inputs.is_empty()
    }

    /// The smallest and largest user key of its inputs in `levels` (the
    /// tree it was picked from): what its output holds at most. `None` if
    /// it names no table there.
    pub fn key_range(&self, levels: &LevelsInfo) -> Option<(Vec<u8>, Vec<u8>)> {
        let tables = |level: usize| -> &[TableInfo] {
            match level {
                0 => &levels.l0,
                n => levels.levels.get(n - 1).map_or(&[], Vec::as_slice),
            }
        };
        let start = tables(self.start_level).get(self.start_inputs.clone())?;
        let output = tables(self.output_level).get(self.output_inputs.clone())?;
        let inputs = || start.iter().chain(output);
        let smallest = inputs().map(|t| &t.smallest).min()?;
        let largest = inputs().map(|t| &t.largest).max()?;
        Some((smallest.clone(), largest.clone()))
    }
}

/// The target size of each level, `targets[k]` for level `k + 1`, from the
/// last level's actual size (see the [module docs](self)); 0 above the
/// base level.
pub fn level_targets(options: &LeveledOptions, levels: &LevelsInfo) -> Vec<u64> {
    let n = options.num_levels;
    let mut targets = vec![0; n];
    let last_size = levels.level_size(n);
    let mut target = last_size.max(options.base_level_size);
    for level in (1..=n).rev() {
        targets[level - 1] = target;
        if target <= options.base_level_size {
            break;
        }
        target = (target / options.size_ratio).max(1);
    }
    targets
}

/// The base level: the topmost level with a target, where L0 compacts to.
pub fn base_level(options: &LeveledOptions, levels: &LevelsInfo) -> usize {
    let targets = level_targets(options, levels);
    targets
        .iter()
        .position(|&t| t > 0)
        .map_or(options.num_levels, |k| k + 1)
}

/// The next compaction for `levels`, or `None`. See the
/// [module docs](self) for the rules.
///
/// Fails when the options are invalid, there are more levels than
/// `num_levels`, or a level's tables are unsorted or overlap.
pub fn pick_leveled(
    options: &LeveledOptions,
    levels: &LevelsInfo,
) -> Result<Option<LeveledTask>, Error> {
    Ok(leveled_candidates(options, levels, &Busy::default())?
        .into_iter()
        .next())
}

/// What compactions already running hold, which another must keep off:
/// their input tables (RocksDB's `being_compacted`) and the keys they
/// write into each level. `l0[i]` stands for L0 run `i`, `levels[k][i]`
/// for table `i` of level `k + 1`; an index past the end is free.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Busy {
    /// The L0 runs being compacted.
    pub l0: Vec<bool>,
    /// The tables being compacted, level by level from level 1.
    pub levels: Vec<Vec<bool>>,
    /// `(level, smallest, largest)`: the user keys a running compaction
    /// writes into `level` (see [`LeveledTask::key_range`]). Two outputs
    /// into one level must not overlap, or the level would.
    pub outputs: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

impl Busy {
    /// Whether table (or L0 run) `index` of `level` is being compacted.
    pub fn is_busy(&self, level: usize, index: usize) -> bool {
        let flags = match level {
            0 => Some(&self.l0),
            n => self.levels.get(n - 1),
        };
        flags.and_then(|f| f.get(index)).copied().unwrap_or(false)
    }

    fn any_in(&self, level: usize, range: Range<usize>) -> bool {
        range.into_iter().any(|i| self.is_busy(level, i))
    }

    /// Whether a running compaction writes keys of `smallest..=largest`
    /// into `level`.
    pub fn writes_into(&self, level: usize, smallest: &[u8], largest: &[u8]) -> bool {
        self.outputs
            .iter()
            .any(|(l, s, e)| *l == level && s.as_slice() <= largest && smallest <= e.as_slice())
    }
}

/// Every compaction worth running on `levels` that takes no table of
/// `busy`, best first: by the score of its start level, highest first,
/// then (within a level) by its overlap ratio. [`pick_leveled`] is the
/// first of them with nothing busy.
///
/// With compactions running, each level is scored by its bytes that are
/// not being compacted (RocksDB does the same), so that a second
/// compaction is picked only where the first does not already bring the
/// level back within its target. L0 is a candidate only while none of its
/// runs is busy: its compaction takes every run.
///
/// Fails as [`pick_leveled`] does.
pub fn leveled_candidates(
    options: &LeveledOptions,
    levels: &LevelsInfo,
    busy: &Busy,
) -> Result<Vec<LeveledTask>, Error> {
    options.validate()?;
    check_levels(options, levels)?;
    let n = options.num_levels;
    let targets = level_targets(options, levels);
    let base = base_level(options, levels);
    let level_tables =
        |level: usize| -> &[TableInfo] { levels.levels.get(level - 1).map_or(&[], Vec::as_slice) };

    let mut scored: Vec<(usize, f64)> = Vec::new();
    let l0_busy = busy.any_in(0, 0..levels.l0.len());
    if !l0_busy {
        scored.push((0, levels.l0.len() as f64 / options.l0_trigger as f64));
    }
    for level in 1..n {
        let free: u64 = level_tables(level)
            .iter()
            .enumerate()
            .filter(|&(i, _)| !busy.is_busy(level, i))
            .map(|(_, t)| t.size)
            .sum();
        let any_free = (0..level_tables(level).len()).any(|i| !busy.is_busy(level, i));
        let score = if level < base {
            if any_free { f64::INFINITY } else { 0.0 }
        } else {
            free as f64 / targets[level - 1].max(1) as f64
        };
        scored.push((level, score));
    }
    scored.retain(|&(_, score)| score >= 1.0);
    // Stable: of equal scores the upper level goes first.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));

    let bottommost =
        |output_level: usize| (output_level + 1..=n).all(|l| level_tables(l).is_empty());
    // Takes no busy table of the output level, and writes no key there that
    // a running compaction writes.
    let free_of = |task: &LeveledTask| {
        !busy.any_in(task.output_level, task.output_inputs.clone())
            && task
                .key_range(levels)
                .is_some_and(|(s, l)| !busy.writes_into(task.output_level, &s, &l))
    };
    let mut candidates = Vec::new();
    for (start_level, score) in scored {
        if start_level == 0 {
            let smallest = levels.l0.iter().map(|t| &t.smallest).min();
            let largest = levels.l0.iter().map(|t| &t.largest).max();
            let (Some(smallest), Some(largest)) = (smallest, largest) else {
                continue;
            };
            let output_inputs = overlapping(level_tables(base), smallest, largest);
            let task = LeveledTask {
                start_level: 0,
                start_inputs: 0..levels.l0.len(),
                output_level: base,
                output_inputs,
                bottommost: bottommost(base),
                reason: LeveledReason::L0Runs,
            };
            if free_of(&task) {
                candidates.push(task);
            }
            continue;
        }
        let tables = level_tables(start_level);
        let below = level_tables(start_level + 1);
        // (index, its stretch below, the bytes of that stretch)
        let mut free: Vec<(usize, Range<usize>, u64)> = tables
            .iter()
            .enumerate()
            .filter(|&(index, _)| !busy.is_busy(start_level, index))
            .map(|(index, table)| {
                let stretch = overlapping(below, &table.smallest, &table.largest);
                let overlap = below[stretch.clone()].iter().map(|t| t.size).sum();
                (index, stretch, overlap)
            })
            .collect();
        // By overlap / size, without division; stable, so ties keep key
        // order.
        free.sort_by(|(a, _, a_overlap), (b, _, b_overlap)| {
            let a_size = u128::from(tables[*a].size.max(1));
            let b_size = u128::from(tables[*b].size.max(1));
            (u128::from(*a_overlap) * b_size).cmp(&(u128::from(*b_overlap) * a_size))
        });
        candidates.extend(
            free.into_iter()
                .map(|(index, stretch, _)| LeveledTask {
                    start_level,
                    start_inputs: index..index + 1,
                    output_level: start_level + 1,
                    output_inputs: stretch,
                    bottommost: bottommost(start_level + 1),
                    reason: LeveledReason::LevelSize(score),
                })
                .filter(&free_of),
        );
    }
    Ok(candidates)
}

/// The stretch of `tables` (sorted, not overlapping) whose keys meet
/// `smallest..=largest`; where none do, the empty range where such a table
/// would go.
pub fn overlapping(tables: &[TableInfo], smallest: &[u8], largest: &[u8]) -> Range<usize> {
    let start = tables.partition_point(|t| t.largest.as_slice() < smallest);
    let end = tables.partition_point(|t| t.smallest.as_slice() <= largest);
    start..end.max(start)
}

fn check_levels(options: &LeveledOptions, levels: &LevelsInfo) -> Result<(), Error> {
    if levels.levels.len() > options.num_levels {
        return Err(Error::InvalidOption {
            option: "num_levels",
            what: "the tree has more levels than num_levels",
        });
    }
    for (index, table) in levels.l0.iter().enumerate() {
        if table.smallest > table.largest {
            return Err(Error::LevelOutOfOrder {
                level: 0,
                index,
                what: "its smallest key is above its largest",
            });
        }
    }
    for (k, tables) in levels.levels.iter().enumerate() {
        for (index, table) in tables.iter().enumerate() {
            if table.smallest > table.largest {
                return Err(Error::LevelOutOfOrder {
                    level: k + 1,
                    index,
                    what: "its smallest key is above its largest",
                });
            }
            if index > 0 && tables[index - 1].largest >= table.smallest {
                return Err(Error::LevelOutOfOrder {
                    level: k + 1,
                    index,
                    what: "it overlaps or precedes the table before it",
                });
            }
        }
    }
    Ok(())
}
