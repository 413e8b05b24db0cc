//! The tiered picker: which sorted runs to merge next, as a pure function.
//!
//! The engine keeps its data as *sorted runs*, newest first: each flush adds
//! a run, each compaction replaces a contiguous stretch of runs by one. The
//! picker looks at the runs' sizes and answers with a [`CompactionTask`] or
//! nothing. It does no I/O and keeps no state, so it can be tested on every
//! boundary and driven by the [simulator](crate::simulate).
//!
//! # The algorithm (RocksDB's universal compaction)
//!
//! With `n` runs, nothing happens while `n < trigger_runs`. Otherwise the
//! first rule that applies picks:
//!
//! 1. **Space amplification.** If the runs newer than the oldest together
//!    exceed `max_space_amplification_percent` of the oldest, merge every
//!    run. Newer runs may hold updates of the oldest's keys: this bounds the
//!    bytes stored per live byte.
//! 2. **Size ratio.** From the newest run on, find the first stretch of
//!    runs of similar size: a run joins while its size is at most
//!    `100 + size_ratio_percent` percent of the stretch so far. Merge the
//!    first stretch of at least `min_merge_width` runs (at most
//!    `max_merge_width`). Merging runs of similar size is what keeps write
//!    amplification logarithmic.
//! 3. **Run count.** Merge the newest runs, as many as it takes to bring the
//!    count below `trigger_runs` (at least `min_merge_width`, at most
//!    `max_merge_width`). Reads cost one lookup per run: this bounds them.
//!
//! Rule 3 always applies when the others do not, so picking until there is
//! nothing to pick leaves fewer than `trigger_runs` runs.
//!
//! # A worked example
//!
//! With `trigger_runs` 4 (to keep it short) and the other defaults (space
//! amplification 200%, size ratio 1%, merge width 2 or more), and flushes
//! of size 1, the runs evolve so (newest first; `picker_worked_example` in
//! the tests replays it):
//!
//! | runs | rule | result |
//! |---|---|---|
//! | `1 1 1` | fewer than 4 runs | nothing |
//! | `1 1 1 1` | 1: newer 3 > 200% of 1 | merge all: `4` |
//! | `1 1 1 4` | 2: 1, 1 (≤ 1.01), 1 (≤ 2.02); 4 > 3.03 stops | `3 4` |
//! | `1 1 3 4` | 2: 1, 1; 3 > 2.02 stops | `2 3 4` |
//! | `1 2 3 4` | 2 finds no stretch of two; 3: 4 runs, merge 2 | `3 3 4` |
//! | `1 3 3 4` | 2: from the second run: 3, 3, 4 (≤ 6.06) | `1 10` |
//!
//! # What it aims for
//!
//! *Reads*: at most `trigger_runs` runs (one lookup each) at any time, and
//! fewer than `trigger_runs` once compactions have caught up.
//!
//! *Space*: once the picker has nothing to do, the runs newer than the
//! oldest hold at most `max_space_amplification_percent` of the oldest plus
//! the flushes since it last ran (fewer than `trigger_runs - 1`), and the
//! oldest holds only live data, so the bytes stored are at most
//! `(1 + p/100) × live + (trigger_runs - 2) × flush size`: about 3× the
//! live data with the defaults, 1× when nothing is overwritten.
//!
//! *Writes*: rule 2 merges runs of similar size, so a byte merged by it
//! lands in a run at least twice as large; rule 1 rewrites everything but
//! only each time the data has grown by the space-amplification factor.
//! Rule 3 is the costly one: it merges a small new run into a larger one.
//! With few runs allowed it fires at almost every flush and write
//! amplification grows like a root of the number of flushes `N`; with the
//! default of 8 it stays near logarithmic. The simulator measures, for
//! flushes of 1000 entries (write amplification, defaults):
//!
//! | flushes `N` | sequential | uniform updates | skewed 90/10 |
//! |---|---|---|---|
//! | 100 | 3.1 | 3.0 | 2.6 |
//! | 1000 | 6.6 | 4.7 | 3.3 |
//! | 4000 | 8.8 | 5.3 | 3.7 |
//!
//! and with `trigger_runs` 4: 9.0, 43.7 and 160.7 for sequential data, which
//! is why the default is 8. The aim, which `tests/simulator.rs` pins, is a
//! write amplification under `1 + log2(N)` with the defaults.
//!
//! The picker assumes one compaction at a time: it does not know which runs
//! are being merged already.

use std::ops::Range;

use lsmkit_sstable::SeqNo;

use crate::Error;

/// The options of the tiered strategy. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TieredOptions {
    /// Compaction starts when there are at least this many runs; fewer runs
    /// make reads cheaper and writes dearer (see the module docs). Default
    /// 8; at least 2.
    pub trigger_runs: usize,
    /// Merge every run when the runs newer than the oldest exceed this
    /// percentage of the oldest. Default 200 (the store holds at most about
    /// 3 bytes per live byte).
    pub max_space_amplification_percent: u64,
    /// A run joins a stretch to merge when its size is at most `100 + this`
    /// percent of the stretch's size. Default 1.
    pub size_ratio_percent: u64,
    /// The fewest runs a size-ratio or run-count merge takes. Default 2; at
    /// least 2.
    pub min_merge_width: usize,
    /// The most runs a size-ratio or run-count merge takes (a
    /// space-amplification merge takes them all). Default: no limit.
    pub max_merge_width: usize,
    /// The executor splits its output into tables of about this many bytes,
    /// at user-key boundaries. Default 64 MiB; at least 1.
    pub target_file_size: u64,
}

impl Default for TieredOptions {
    fn default() -> Self {
        TieredOptions {
            trigger_runs: 8,
            max_space_amplification_percent: 200,
            size_ratio_percent: 1,
            min_merge_width: 2,
            max_merge_width: usize::MAX,
            target_file_size: 64 << 20,
        }
    }
}

impl TieredOptions {
    /// Checks every option against its documented range.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |option, what| Err(Error::InvalidOption { option, what });
        if self.trigger_runs < 2 {
            return invalid("trigger_runs", "must be at least 2");
        }
        if self.min_merge_width < 2 {
            return invalid("min_merge_width", "must be at least 2");
        }
        if self.max_merge_width < self.min_merge_width {
            return invalid("max_merge_width", "must be at least min_merge_width");
        }
        if self.target_file_size == 0 {
            return invalid("target_file_size", "must be at least 1");
        }
        Ok(())
    }
}

/// One sorted run as the picker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// Bytes on disk.
    pub size: u64,
    /// The smallest sequence number in the run.
    pub min_seqno: SeqNo,
    /// The largest sequence number in the run.
    pub max_seqno: SeqNo,
}

/// Which rule picked a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompactionReason {
    /// Rule 1: the newer runs outgrew the oldest.
    SpaceAmplification,
    /// Rule 2: a stretch of runs of similar size.
    SizeRatio,
    /// Rule 3: too many runs.
    RunCount,
}

/// A compaction to run: merge `runs` (indices into the list given to
/// [`pick`], newest first) into one run that takes their place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactionTask {
    /// The runs to merge, a contiguous stretch of at least two.
    pub runs: Range<usize>,
    /// Whether the stretch includes the oldest run, so that the output is
    /// the oldest data and may drop tombstones (see
    /// [`CompactionStream`](crate::CompactionStream)).
    pub bottommost: bool,
    /// Which rule picked it.
    pub reason: CompactionReason,
}

/// The next compaction for `runs` (newest first), or `None`. See the
/// [module docs](self) for the rules.
///
/// Fails when the options are invalid or the runs are not ordered newest
/// to oldest with disjoint sequence-number ranges.
pub fn pick(options: &TieredOptions, runs: &[RunInfo]) -> Result<Option<CompactionTask>, Error> {
    options.validate()?;
    check_order(runs)?;
    let n = runs.len();
    if n < options.trigger_runs {
        return Ok(None);
    }
    let task = |runs: Range<usize>, reason| {
        Ok(Some(CompactionTask {
            bottommost: runs.end == n,
            runs,
            reason,
        }))
    };

    let oldest = u128::from(runs[n - 1].size);
    let newer: u128 = runs[..n - 1].iter().map(|r| u128::from(r.size)).sum();
    if newer * 100 > u128::from(options.max_space_amplification_percent) * oldest {
        return task(0..n, CompactionReason::SpaceAmplification);
    }

    let ratio = 100 + u128::from(options.size_ratio_percent);
    for start in 0..n - 1 {
        let mut total = u128::from(runs[start].size);
        let mut end = start + 1;
        while end < n
            && end - start < options.max_merge_width
            && u128::from(runs[end].size) * 100 <= total * ratio
        {
            total += u128::from(runs[end].size);
            end += 1;
        }
        if end - start >= options.min_merge_width {
            return task(start..end, CompactionReason::SizeRatio);
        }
    }

    // Merging `w` runs leaves `n - w + 1`; below the trigger needs this `w`.
    let width = (n + 2 - options.trigger_runs)
        .max(options.min_merge_width)
        .min(options.max_merge_width)
        .min(n);
    task(0..width, CompactionReason::RunCount)
}

fn check_order(runs: &[RunInfo]) -> Result<(), Error> {
    for (index, run) in runs.iter().enumerate() {
        if run.min_seqno > run.max_seqno {
            return Err(Error::BadRun {
                index,
                min_seqno: run.min_seqno,
                max_seqno: run.max_seqno,
            });
        }
        if let Some(newer) = index.checked_sub(1).map(|i| &runs[i])
            && run.max_seqno >= newer.min_seqno
        {
            return Err(Error::RunsOutOfOrder {
                index,
                min_seqno: run.min_seqno,
                max_seqno: run.max_seqno,
                newer_min_seqno: newer.min_seqno,
            });
        }
    }
    Ok(())
}
