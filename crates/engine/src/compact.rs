//! Compaction: the background threads that ask the picker of the
//! configured style (tiered, or leveled: see `leveled`) what to merge, run
//! the executor of `lsmkit-compaction`, check its outputs, and install
//! them: tiered, as one run in place of its inputs; leveled, in the level
//! it compacts into.
//!
//! There is a compaction thread per background job beyond the flush
//! thread (`Options::max_background_jobs`), and they may work on one
//! keyspace at once: each picks a compaction that keeps off the tables and
//! key ranges of the ones running (see `running`). Under the tiered style
//! a second compaction merges runs newer than the newest one being
//! compacted (the runs flushed while a long merge runs); under the leveled
//! style it is the best of the leveled picker's candidates that conflicts
//! with none. [`Db::compact`](crate::Db::compact) waits for the running
//! ones and keeps others out while it runs.
//!
//! Flushes go on meanwhile: they only add runs in front, so the input runs
//! stay a contiguous stretch of the version and the output takes their
//! place. The live snapshots are read when the job starts; a snapshot
//! taken later reads at or above every input's sequence numbers, where
//! nothing changes for it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use lsmkit_compaction::{
    CompactionFilter, CompactionJob, CompactionOutcome, RunInfo, execute_tables,
    execute_tables_split, pick,
};
use lsmkit_sstable::SstReader;

use crate::background::{Retry, StickOnPanic, lock, with_retries};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::flush::check_output;
use crate::format::{self, FileKind, TableRecord, VersionEdit};
use crate::keyspace::Tree;
use crate::options::CompactionStyle;
use crate::running::{self, Running};
use crate::stats::Counters;
use crate::version::{Run, Table, Version};

/// Tables to merge, each group with the run it belongs to.
pub(crate) type Inputs = Vec<(Arc<Run>, Vec<Arc<Table>>)>;

/// What to merge and where the output goes.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    /// The tables to merge, each with its run: whole runs (tiered, L0, a
    /// full compaction), or some tables of a level's run (leveled).
    pub inputs: Inputs,
    pub bottommost: bool,
    /// 0: the output is a new run in place of the input runs (tiered, and
    /// every input run is wholly merged). Otherwise the output joins that
    /// level's run, between the tables it keeps.
    pub output_level: u32,
    /// The key range the output answers for (see `CompactionJob`).
    pub lower: Vec<u8>,
    pub upper: Option<Vec<u8>>,
    /// A trivial move: the one input table overlaps nothing in the output
    /// level, so it is recorded there (answering for `lower..upper`)
    /// without being rewritten.
    pub moved: bool,
}

impl Task {
    /// Every table of `runs` into a new run at `output_level`, answering
    /// for the whole key space.
    pub fn whole_runs(runs: &[Arc<Run>], bottommost: bool, output_level: u32) -> Task {
        Task {
            inputs: runs
                .iter()
                .map(|r| (Arc::clone(r), r.tables.clone()))
                .collect(),
            bottommost,
            output_level,
            lower: Vec::new(),
            upper: None,
            moved: false,
        }
    }

    pub fn tables(&self) -> impl Iterator<Item = &Arc<Table>> {
        self.inputs.iter().flat_map(|(_, tables)| tables)
    }
}

/// What the picker of the configured style says about `version`, beside
/// the compactions `running`; an error if the runs break the ordering
/// invariant.
fn pick_task(tree: &Tree, version: &Version, running: &Running) -> Result<Option<Task>> {
    match tree.options.compaction_style {
        CompactionStyle::Leveled => {
            crate::leveled::pick_task(&tree.options.leveled_compaction, version, running)
        }
        _ => pick_tiered(tree, version, running),
    }
}

fn pick_tiered(tree: &Tree, version: &Version, running: &Running) -> Result<Option<Task>> {
    // Levels left by leveled compaction (the database was reopened under
    // the tiered style) have no disjoint sequence numbers to order them as
    // tiered runs: merge everything into one run once.
    if version.runs.iter().any(|r| r.level > 0) {
        let task = Task::whole_runs(&version.runs, true, 0);
        return Ok((!running.conflicts(&task)).then_some(task));
    }
    // Beside a running compaction, only the runs newer than every run it
    // takes: the runs flushed since, in front of it.
    let free = version
        .runs
        .iter()
        .position(|r| r.tables.iter().any(|t| running.is_busy(t.record.number)))
        .unwrap_or(version.runs.len());
    let runs: Vec<RunInfo> = version.runs[..free]
        .iter()
        .map(|r| RunInfo {
            size: r.size(),
            min_seqno: r.min_seqno,
            max_seqno: r.max_seqno,
        })
        .collect();
    Ok(pick(&tree.options.compaction, &runs)?.map(|task| {
        let bottommost = task.bottommost && free == version.runs.len();
        Task::whole_runs(&version.runs[task.runs.clone()], bottommost, 0)
    }))
}

/// Whether the compaction threads have work: automatic compaction is on
/// and a compaction runs, or the picker chooses something (or fails,
/// which a thread turns into the background error).
pub(crate) fn pending(inner: &Inner) -> bool {
    inner.options.auto_compaction
        && inner.trees.all().iter().any(|tree| {
            let running = lock(&tree.running);
            !running.is_idle() || !matches!(pick_task(tree, &tree.current(), &running), Ok(None))
        })
}

/// Starts the compaction threads when automatic compaction is on: one
/// per background job beyond the flush thread's (at least one).
pub(crate) fn start(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    if !inner.options.auto_compaction {
        return Ok(Vec::new());
    }
    let threads = inner.options.max_background_jobs.saturating_sub(1).max(1);
    (0..threads)
        .map(|i| {
            let compactor = Arc::clone(inner);
            std::thread::Builder::new()
                .name(format!("lsmkit-compact-{i}"))
                .spawn(move || compaction_loop(&compactor))
                .map_err(|e| Error::io(&inner.dir, e))
        })
        .collect()
}

/// What a compaction thread found to do.
enum Work {
    Compact(Claimed),
    /// The picker failed: the runs break an invariant.
    Failed(Error),
}

/// Picks a compaction of some keyspace that can run beside the running
/// ones, and records it as running, if there is one.
fn claim(inner: &Inner) -> Option<Work> {
    inner.trees.all().into_iter().find_map(|tree| {
        let mut running = lock(&tree.running);
        if !running.may_start() || tree.is_dropped() {
            return None;
        }
        match pick_task(&tree, &tree.current(), &running) {
            Ok(None) => None,
            Err(error) => Some(Work::Failed(error)),
            Ok(Some(task)) => {
                let id = running.start(&task);
                drop(running);
                Some(Work::Compact(Claimed { tree, task, id }))
            }
        }
    })
}

/// A compaction a thread runs; dropping it records that it no longer
/// does.
struct Claimed {
    tree: Arc<Tree>,
    task: Task,
    id: u64,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        lock(&self.tree.running).finish(self.id);
    }
}

fn compaction_loop(inner: &Inner) {
    let _stick = StickOnPanic {
        bg: &inner.bg,
        thread: "compaction",
    };
    while let Some(work) = inner.bg.wait_for(|| claim(inner)) {
        let claimed = match work {
            Work::Compact(claimed) => claimed,
            Work::Failed(error) => {
                inner.bg.set_error(error);
                continue;
            }
        };
        let running = inner
            .counters
            .compactions_running
            .fetch_add(1, Ordering::AcqRel)
            + 1;
        inner
            .counters
            .peak_concurrent_compactions
            .fetch_max(running, Ordering::AcqRel);
        let result = run_with_retries(inner, &claimed.tree, &claimed.task);
        inner
            .counters
            .compactions_running
            .fetch_sub(1, Ordering::AcqRel);
        // Before the notification: a caller of `Db::compact` waits for no
        // compaction to be running.
        drop(claimed);
        if let Err(error) = result {
            inner.bg.set_error(error);
        }
        inner.bg.notify();
    }
}

/// Runs `task`, retrying while that is safe. REQUIRES: `task` is recorded
/// as running (or the tree held exclusively) from its pick until this
/// returns.
fn run_with_retries(inner: &Inner, tree: &Tree, task: &Task) -> Result<()> {
    with_retries(inner, || run(inner, tree, task))
}

/// Merges every run into one, for [`Db::compact`](crate::Db::compact). A
/// single run is rewritten only if it may hold something to drop.
pub(crate) fn compact_all(inner: &Inner, tree: &Tree) -> Result<()> {
    let _alone = running::exclusive(inner, tree)?;
    if tree.is_dropped() {
        return Ok(());
    }
    let version = tree.current();
    let worth_it = match version.runs.len() {
        0 => false,
        // A filter may remove or change any value.
        1 => tree.options.filter().is_some() || may_shrink(&version.runs[0]),
        _ => true,
    };
    if !worth_it {
        return Ok(());
    }
    // Under the leveled style everything goes to the last level.
    let level = match tree.options.compaction_style {
        CompactionStyle::Leveled => tree.options.leveled_compaction.num_levels as u32,
        _ => 0,
    };
    run_with_retries(inner, tree, &Task::whole_runs(&version.runs, true, level))
}

/// Whether a run may hold something a full compaction drops: tombstones,
/// merge operands to fold, or more than one write (perhaps old versions
/// no snapshot needs).
fn may_shrink(run: &Run) -> bool {
    run.min_seqno < run.max_seqno
        || run.tables.iter().any(|t| {
            let p = t.reader.properties();
            p.num_deletions > 0 || p.num_range_tombstones > 0 || p.num_merge_operands > 0
        })
}

/// The run id the output of `task` gets in `version`: its level's run
/// where there is one, else a new one. Under the manifest lock, as the
/// install that records it: two compactions into one level may install in
/// either order, and the first one creates the level's run.
fn output_run_id(inner: &Inner, version: &Version, task: &Task) -> u64 {
    let level_run = (task.output_level > 0)
        .then(|| {
            version
                .runs
                .iter()
                .find(|r| r.level == task.output_level)
                .map(|r| r.id)
        })
        .flatten();
    level_run.unwrap_or_else(|| inner.next_file.fetch_add(1, Ordering::SeqCst))
}

/// Records a trivial move: the input table, unchanged on disk, in its new
/// level and key range, in one edit that removes and re-adds its number.
fn move_table(inner: &Inner, tree: &Tree, task: &Task) -> Result<(), Retry> {
    let Some(table) = task.tables().next() else {
        return Ok(());
    };
    let moved = Table {
        record: TableRecord {
            level: task.output_level,
            lower: task.lower.clone(),
            upper: task.upper.clone(),
            ..table.record.clone()
        },
        reader: Arc::clone(&table.reader),
    };
    install(inner, tree, task, vec![moved]).map_err(Retry::No)?;
    Counters::add(&inner.counters.compactions, 1);
    Counters::add(&inner.counters.trivial_moves, 1);
    Ok(())
}

/// Attempts of a filtered compaction before it runs without its filter:
/// each is undone by a snapshot taken meanwhile that could read a value
/// the filter changed.
const FILTERED_ATTEMPTS: u32 = 3;

/// Runs one compaction: merge, check, record, install, remove the inputs.
fn run(inner: &Inner, tree: &Tree, task: &Task) -> Result<(), Retry> {
    if task.moved {
        return move_table(inner, tree, task);
    }
    let mut filter = tree.options.filter();
    let mut attempt = 0;
    loop {
        let outcome = execute_task(inner, tree, task, filter.clone())?;
        let tables = checked_tables(inner, tree, task, &outcome)?;
        // The filter may have changed values that a snapshot taken since the
        // job read the list reads; installing with the list locked orders
        // every later snapshot after the new version (see
        // `lsmkit_compaction::filter`).
        let no_snapshot_reads_it = match outcome.filter.min_seqno {
            None => None,
            Some(seqno) => match inner.snapshots.lock_if_none_from(seqno) {
                Some(guard) => Some(guard),
                None => {
                    remove_files(inner, outcome.added.iter().map(|o| o.meta.path.as_path()));
                    Counters::add(&inner.counters.filter_retries, 1);
                    attempt += 1;
                    if attempt >= FILTERED_ATTEMPTS {
                        filter = None;
                    }
                    continue;
                }
            },
        };
        install(inner, tree, task, tables).map_err(Retry::No)?;
        drop(no_snapshot_reads_it);
        let read: u64 = task.tables().map(|t| t.record.size).sum();
        let written: u64 = outcome.added.iter().map(|o| o.meta.file_size).sum();
        Counters::add(&inner.counters.compactions, 1);
        Counters::add(&inner.counters.compaction_bytes_read, read);
        Counters::add(&inner.counters.compaction_bytes_written, written);
        Counters::add(&inner.counters.filter_removed, outcome.filter.removed);
        Counters::add(&inner.counters.filter_changed, outcome.filter.changed);
        // Readers still holding the old version keep reading the removed files
        // (the filesystem contract keeps an open file readable).
        remove_files(inner, outcome.removed.iter().map(|p| p.as_path()));
        return Ok(());
    }
}

/// Merges the task's inputs into new tables through `filter`.
fn execute_task(
    inner: &Inner,
    tree: &Tree,
    task: &Task,
    filter: Option<Arc<dyn CompactionFilter>>,
) -> Result<CompactionOutcome, Retry> {
    let target_file_size = match tree.options.compaction_style {
        CompactionStyle::Leveled => tree.options.leveled_compaction.target_file_size,
        _ => tree.options.compaction.target_file_size,
    };
    let job = CompactionJob {
        inputs: task
            .tables()
            .map(|t| inner.table_path(t.record.number))
            .collect(),
        snapshots: inner.snapshots.seqnos(),
        bottommost: task.bottommost,
        target_file_size,
        table_options: if task.bottommost {
            tree.bottommost_sst_options.clone()
        } else {
            tree.sst_options.clone()
        },
        lower: task.lower.clone(),
        upper: task.upper.clone(),
        filter,
        merge_operator: tree.merge_operator(),
    };
    // The tables as the version holds them: through the block cache, and
    // an ingested one at its global sequence number.
    let readers: Vec<Arc<SstReader>> = task.tables().map(|t| Arc::clone(&t.reader)).collect();
    let next_path = || inner.table_path(inner.next_file.fetch_add(1, Ordering::SeqCst));
    let input_bytes: u64 = task.tables().map(|t| t.record.size).sum();
    // A part gets at least a quarter of a target file of input: a part's
    // last table is cut short, and a thread started for a few blocks costs
    // more than it saves.
    let min_part_bytes = (target_file_size / 4).max(1);
    let parts = inner
        .options
        .max_subcompactions
        .min(usize::try_from(input_bytes / min_part_bytes).unwrap_or(usize::MAX));
    let outcome = if parts > 1 {
        execute_tables_split(&inner.fs, &job, &readers, parts, next_path)
    } else {
        execute_tables(&inner.fs, &job, &readers, next_path)
    }
    .map_err(|e| Retry::Yes(e.into()))?;
    if outcome.parts > 1 {
        Counters::add(&inner.counters.subcompactions, outcome.parts as u64);
    }
    Ok(outcome)
}

/// The output tables of `outcome`, each opened and checked, as the
/// version will hold them (but for their run, which `install` sets); on
/// failure the outputs are removed.
fn checked_tables(
    inner: &Inner,
    tree: &Tree,
    task: &Task,
    outcome: &CompactionOutcome,
) -> Result<Vec<Table>, Retry> {
    let min_seqno = task.tables().map(|t| t.record.min_seqno).min().unwrap_or(0);
    let max_seqno = task.tables().map(|t| t.record.max_seqno).max().unwrap_or(0);
    let mut tables = Vec::with_capacity(outcome.added.len());
    let mut checked = Ok(());
    for out in &outcome.added {
        let number = table_number(&out.meta.path);
        let reader = number
            .ok_or_else(|| Error::BadOutput {
                file: out.meta.path.clone(),
                what: "the executor named it outside the table namespace".into(),
            })
            .and_then(|n| check_output(inner, n, out.meta.properties.num_entries).map(|r| (n, r)));
        match reader {
            Ok((number, reader)) => tables.push(Table {
                record: TableRecord {
                    run: 0,
                    number,
                    size: out.meta.file_size,
                    min_seqno,
                    max_seqno,
                    level: task.output_level,
                    lower: out.lower.clone(),
                    upper: out.upper.clone(),
                    global_seqno: None,
                    keyspace: tree.id,
                },
                reader,
            }),
            Err(error) => {
                checked = Err(error);
                break;
            }
        }
    }
    if let Err(error) = checked {
        remove_files(inner, outcome.added.iter().map(|o| o.meta.path.as_path()));
        return Err(match error {
            Error::BadOutput { .. } => Retry::No(error),
            _ => Retry::Yes(error),
        });
    }

    Ok(tables)
}

/// The number of a table file path, if it is one.
fn table_number(path: &Path) -> Option<u64> {
    match format::parse_file_name(path.file_name()?.to_str()?)? {
        FileKind::Table(n) => Some(n),
        _ => None,
    }
}

/// Records the compaction and publishes the version without the task's
/// input tables (a run left with none goes) and with `tables`: as a new
/// run in place of the input runs, or in their level's run.
fn install(inner: &Inner, tree: &Tree, task: &Task, tables: Vec<Table>) -> Result<()> {
    let removed: HashSet<u64> = task.tables().map(|t| t.record.number).collect();
    let mut manifest = lock(&inner.manifest);
    // The runs of a version change under the manifest lock only (flushes,
    // ingestions and compactions install holding it): the run read here is
    // there when the version below is built.
    let run = output_run_id(inner, &tree.current(), task);
    let tables: Vec<Arc<Table>> = tables
        .into_iter()
        .map(|mut t| {
            t.record.run = run;
            Arc::new(t)
        })
        .collect();
    manifest.append(VersionEdit {
        added: tables.iter().map(|t| t.record.clone()).collect(),
        removed: removed.iter().copied().collect(),
        ..VersionEdit::default()
    })?;
    let mut current = lock(&tree.version);
    let mut runs: Vec<Arc<Run>> = Vec::with_capacity(current.runs.len() + 1);
    let mut first_input = None;
    for run in &current.runs {
        if !run
            .tables
            .iter()
            .any(|t| removed.contains(&t.record.number))
        {
            runs.push(Arc::clone(run));
            continue;
        }
        first_input.get_or_insert(runs.len());
        let kept: Vec<Arc<Table>> = run
            .tables
            .iter()
            .filter(|t| !removed.contains(&t.record.number))
            .cloned()
            .collect();
        if !kept.is_empty() {
            runs.push(Arc::new(Run::new(kept)));
        }
    }
    if !tables.is_empty() {
        let level = task.output_level;
        if level == 0 {
            runs.insert(first_input.unwrap_or(0), Arc::new(Run::new(tables)));
        } else if let Some(at) = runs.iter().position(|r| r.level == level) {
            let mut joined = runs[at].tables.clone();
            joined.extend(tables);
            runs[at] = Arc::new(Run::new(joined));
        } else {
            let at = runs
                .iter()
                .position(|r| r.level > level)
                .unwrap_or(runs.len());
            runs.insert(at, Arc::new(Run::new(tables)));
        }
    }
    *current = Arc::new(Version {
        mem: Arc::clone(&current.mem),
        frozen: current.frozen.clone(),
        runs,
    });
    Ok(())
}

/// Removes tables no version references, unless a checkpoint holds them
/// back (see `table_deletions`).
fn remove_files<'a>(inner: &Inner, paths: impl Iterator<Item = &'a Path>) {
    inner
        .table_deletions
        .remove(&*inner.fs, &inner.dir, paths, &inner.counters);
}
