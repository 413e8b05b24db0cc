//! Leveled compaction in the engine: the version as the leveled picker of
//! `lsmkit-compaction` sees it, and its answer as a [`Task`].
//!
//! The L0 runs are the version's level-0 runs (flushes, ingestions, and
//! the runs a tiered database left); level `k` is the one run at level `k`.
//! The picker compares the keys the tables *hold* (their smallest and
//! largest user keys, range tombstones included). The executor's outputs
//! must also fit between the tables of the output level that stay, by the
//! ranges those tables *answer for* (`[lower, upper)`, which may be wider
//! than what they hold). So the stretch of the output level the picker
//! chose is widened to every table whose answer range meets the inputs'
//! keys, and the output answers from the end of the table before the
//! stretch to the start of the table after it. One table that meets nothing
//! there is moved rather than rewritten (a trivial move): recorded in the
//! level with that range.
//!
//! Beside running compactions, the picker is told which tables they take
//! and lists its candidates best first; the first whose widened task
//! conflicts with no running one (see `running`) is the answer.

use std::sync::Arc;

use lsmkit_compaction::{
    Busy, LeveledOptions, LeveledTask, LevelsInfo, TableInfo, leveled_candidates,
};

use crate::compact::{Inputs, Task};
use crate::error::Result;
use crate::running::Running;
use crate::version::{Run, Table, Version};

/// The leveled picker's next compaction for `version` beside the
/// compactions `running`, if any.
pub(crate) fn pick_task(
    options: &LeveledOptions,
    version: &Version,
    running: &Running,
) -> Result<Option<Task>> {
    let n = options.num_levels;
    // Levels deeper than the options allow (reopened with fewer levels):
    // merge everything into the last level once.
    if version.runs.iter().any(|r| r.level as usize > n) {
        let task = Task::whole_runs(&version.runs, true, n as u32);
        return Ok((!running.conflicts(&task)).then_some(task));
    }
    let l0: Vec<&Arc<Run>> = version.runs.iter().filter(|r| r.level == 0).collect();
    let levels: Vec<Option<&Arc<Run>>> = (1..=n)
        .map(|level| version.runs.iter().find(|r| r.level as usize == level))
        .collect();
    let l0_spans: Vec<Span> = l0.iter().map(|r| Span::of_run(r)).collect();
    let level_spans: Vec<Vec<Span>> = levels
        .iter()
        .map(|run| {
            run.map_or_else(Vec::new, |r| {
                r.tables.iter().map(|t| Span::of_table(t)).collect()
            })
        })
        .collect();
    let info = LevelsInfo {
        l0: l0
            .iter()
            .zip(&l0_spans)
            .map(|(r, span)| span.info(r.size(), &[]))
            .collect(),
        levels: levels
            .iter()
            .zip(&level_spans)
            .map(|(run, spans)| match run {
                Some(r) => r
                    .tables
                    .iter()
                    .zip(spans)
                    .map(|(t, span)| span.info(t.record.size, &t.record.lower))
                    .collect(),
                None => Vec::new(),
            })
            .collect(),
    };
    let busy_table = |t: &Arc<Table>| running.is_busy(t.record.number);
    let busy = Busy {
        l0: l0.iter().map(|r| r.tables.iter().any(busy_table)).collect(),
        levels: levels
            .iter()
            .map(|run| run.map_or_else(Vec::new, |r| r.tables.iter().map(busy_table).collect()))
            .collect(),
        // `Running::conflicts` checks the ranges the outputs answer for,
        // which hold these keys.
        outputs: Vec::new(),
    };
    let tree = Tree {
        l0: &l0,
        levels: &levels,
        l0_spans: &l0_spans,
        level_spans: &level_spans,
    };
    Ok(leveled_candidates(options, &info, &busy)?
        .iter()
        .filter_map(|task| tree.task(task))
        .find(|task| !running.conflicts(task)))
}

/// The version as the picker saw it, to turn its answer into a [`Task`].
struct Tree<'a> {
    l0: &'a [&'a Arc<Run>],
    levels: &'a [Option<&'a Arc<Run>>],
    l0_spans: &'a [Span],
    level_spans: &'a [Vec<Span>],
}

impl Tree<'_> {
    /// `task` with the output level's stretch widened to every table whose
    /// answer range meets the inputs' keys (see the module docs).
    fn task(&self, task: &LeveledTask) -> Option<Task> {
        let Tree {
            l0,
            levels,
            l0_spans,
            level_spans,
        } = *self;
        let (mut inputs, spans): (Inputs, &[Span]) = if task.start_level == 0 {
            let runs = &l0[task.start_inputs.clone()];
            (
                runs.iter()
                    .map(|r| (Arc::clone(r), r.tables.clone()))
                    .collect(),
                &l0_spans[task.start_inputs.clone()],
            )
        } else {
            let run = levels[task.start_level - 1]?;
            (
                vec![(
                    Arc::clone(run),
                    run.tables[task.start_inputs.clone()].to_vec(),
                )],
                &level_spans[task.start_level - 1][task.start_inputs.clone()],
            )
        };
        let span = spans.iter().fold(Span::default(), |a, b| a.union(b));

        let (mut lower, mut upper) = (Vec::new(), None);
        if let Some(run) = levels.get(task.output_level - 1).copied().flatten() {
            let tables = &run.tables;
            let meets = |t: &Table| span.meets(&t.record.lower, t.record.upper.as_deref());
            let (mut from, mut to) = (task.output_inputs.start, task.output_inputs.end);
            // The picker's stretch meets the inputs' keys; widen it to every
            // table that meets what they hold or cover.
            while from > 0 && meets(&tables[from - 1]) {
                from -= 1;
            }
            while to < tables.len() && meets(&tables[to]) {
                to += 1;
            }
            if let Some(before) = from.checked_sub(1).map(|i| &tables[i]) {
                lower = before.record.upper.clone().unwrap_or_default();
            }
            upper = tables.get(to).map(|after| after.record.lower.clone());
            if from < to {
                inputs.push((Arc::clone(run), tables[from..to].to_vec()));
            }
        }
        // Nothing in the output level meets the one input table: move it.
        let moved = matches!(&inputs[..], [(_, tables)] if tables.len() == 1);
        Some(Task {
            inputs,
            bottommost: task.bottommost,
            output_level: task.output_level as u32,
            lower,
            upper,
            moved,
        })
    }
}

/// The user keys a table or run holds: its point keys and what its range
/// tombstones cover.
#[derive(Clone, Debug, Default)]
struct Span {
    /// The smallest point key or tombstone start.
    smallest: Option<Vec<u8>>,
    /// The largest point key or tombstone start: the picker's `largest`
    /// (a tombstone's end is exclusive and may be the next table's first
    /// key, so it cannot stand for an inclusive largest key).
    largest: Option<Vec<u8>>,
    /// The largest tombstone end (exclusive).
    tombstone_end: Option<Vec<u8>>,
}

impl Span {
    fn of_table(table: &Table) -> Span {
        let properties = table.reader.properties();
        let tombstones = table.reader.range_tombstones();
        let starts = || tombstones.iter().map(|t| &t.start);
        Span {
            smallest: properties
                .min_user_key
                .iter()
                .chain(starts())
                .min()
                .cloned(),
            largest: properties
                .max_user_key
                .iter()
                .chain(starts())
                .max()
                .cloned(),
            tombstone_end: tombstones.iter().map(|t| &t.end).max().cloned(),
        }
    }

    fn of_run(run: &Run) -> Span {
        run.tables
            .iter()
            .map(|t| Span::of_table(t))
            .fold(Span::default(), |a, b| a.union(&b))
    }

    fn union(&self, other: &Span) -> Span {
        fn pick(a: &Option<Vec<u8>>, b: &Option<Vec<u8>>, max: bool) -> Option<Vec<u8>> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if (a > b) == max { a } else { b }.clone()),
                _ => a.clone().or_else(|| b.clone()),
            }
        }
        Span {
            smallest: pick(&self.smallest, &other.smallest, false),
            largest: pick(&self.largest, &other.largest, true),
            tombstone_end: pick(&self.tombstone_end, &other.tombstone_end, true),
        }
    }

    /// As the picker sees it; a table holding nothing stands at `at`.
    fn info(&self, size: u64, at: &[u8]) -> TableInfo {
        let smallest = self.smallest.clone().unwrap_or_else(|| at.to_vec());
        TableInfo {
            size,
            largest: self.largest.clone().unwrap_or_else(|| smallest.clone()),
            smallest,
        }
    }

    /// Whether any key it holds or covers lies in `[lower, upper)`.
    fn meets(&self, lower: &[u8], upper: Option<&[u8]>) -> bool {
        let Some(smallest) = &self.smallest else {
            return false;
        };
        let below_upper = upper.is_none_or(|u| smallest.as_slice() < u);
        let reaches_lower = self.largest.as_ref().is_some_and(|l| l.as_slice() >= lower)
            || self
                .tombstone_end
                .as_ref()
                .is_some_and(|e| e.as_slice() > lower);
        below_upper && reaches_lower
    }
}
