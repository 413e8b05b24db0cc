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
//! The picker assumes one compaction at a time, as the tiered one does.

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
    options.validate()?;
    check_levels(options, levels)?;
    let n = options.num_levels;
    let targets = level_targets(options, levels);
    let base = base_level(options, levels);

    let mut best: Option<(usize, f64)> = None;
    let mut consider = |level: usize, score: f64| {
        if score >= 1.0 && best.is_none_or(|(_, s)| score > s) {
            best = Some((level, score));
        }
    };
    consider(0, levels.l0.len() as f64 / options.l0_trigger as f64);
    for level in 1..n {
        let size = levels.level_size(level);
        let target = targets[level - 1];
        let score = if level < base {
            if size > 0 { f64::INFINITY } else { 0.0 }
        } else {
            size as f64 / target.max(1) as f64
        };
        consider(level, score);
    }
    let Some((start_level, score)) = best else {
        return Ok(None);
    };

    let level_tables =
        |level: usize| -> &[TableInfo] { levels.levels.get(level - 1).map_or(&[], Vec::as_slice) };
    let task = if start_level == 0 {
        let smallest = levels.l0.iter().map(|t| &t.smallest).min();
        let largest = levels.l0.iter().map(|t| &t.largest).max();
        let (Some(smallest), Some(largest)) = (smallest, largest) else {
            return Ok(None);
        };
        LeveledTask {
            start_level: 0,
            start_inputs: 0..levels.l0.len(),
            output_level: base,
            output_inputs: overlapping(level_tables(base), smallest, largest),
            bottommost: false,
            reason: LeveledReason::L0Runs,
        }
    } else {
        let tables = level_tables(start_level);
        let below = level_tables(start_level + 1);
        let mut chosen: Option<(usize, u64)> = None;
        for (index, table) in tables.iter().enumerate() {
            let overlap: u64 = below[overlapping(below, &table.smallest, &table.largest)]
                .iter()
                .map(|t| t.size)
                .sum();
            // overlap / size < best_overlap / best_size, without division.
            let better = chosen.is_none_or(|(best, best_overlap)| {
                let best_size = u128::from(tables[best].size.max(1));
                let size = u128::from(table.size.max(1));
                u128::from(overlap) * best_size < u128::from(best_overlap) * size
            });
            if better {
                chosen = Some((index, overlap));
            }
        }
        let Some((index, _)) = chosen else {
            return Ok(None);
        };
        let table = &tables[index];
        LeveledTask {
            start_level,
            start_inputs: index..index + 1,
            output_level: start_level + 1,
            output_inputs: overlapping(below, &table.smallest, &table.largest),
            bottommost: false,
            reason: LeveledReason::LevelSize(score),
        }
    };
    let deeper_empty = (task.output_level + 1..=n).all(|l| level_tables(l).is_empty());
    Ok(Some(LeveledTask {
        bottommost: deeper_empty,
        ..task
    }))
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
