//! Compaction: the background thread that asks the tiered picker what to
//! merge, runs the executor of `lsmkit-compaction`, checks its outputs, and
//! installs them as one run in place of its inputs.
//!
//! One compaction runs at a time (the picker assumes it). Flushes go on
//! meanwhile: they only add runs in front, so the input runs stay a
//! contiguous stretch of the version and the output takes their place.
//! The live snapshots are read when the job starts; a snapshot taken later
//! reads at or above every input's sequence numbers, where nothing changes
//! for it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use lsmkit_compaction::{CompactionJob, RunInfo, execute, pick};

use crate::background::{Retry, StickOnPanic, lock, with_retries};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::flush::check_output;
use crate::format::{self, FileKind, TableRecord, VersionEdit};
use crate::stats::Counters;
use crate::version::{Run, Table, Version};

/// Runs to merge: a contiguous stretch of the version, newest first.
#[derive(Clone, Debug)]
pub(crate) struct Task {
    pub inputs: Vec<Arc<Run>>,
    pub bottommost: bool,
}

/// What the picker says about `version`; an error if the runs break the
/// ordering invariant.
fn pick_task(inner: &Inner, version: &Version) -> Result<Option<Task>> {
    let runs: Vec<RunInfo> = version
        .runs
        .iter()
        .map(|r| RunInfo {
            size: r.size(),
            min_seqno: r.min_seqno,
            max_seqno: r.max_seqno,
        })
        .collect();
    Ok(pick(&inner.options.compaction, &runs)?.map(|task| Task {
        inputs: version.runs[task.runs].to_vec(),
        bottommost: task.bottommost,
    }))
}

/// Whether the compaction thread has work: automatic compaction is on and
/// the picker chooses something (or fails, which the thread turns into the
/// background error).
pub(crate) fn pending(inner: &Inner) -> bool {
    inner.options.auto_compaction && !matches!(pick_task(inner, &inner.current()), Ok(None))
}

/// Starts the compaction thread when automatic compaction is on.
pub(crate) fn start(inner: &Arc<Inner>) -> Result<Option<JoinHandle<()>>> {
    if !inner.options.auto_compaction {
        return Ok(None);
    }
    let compactor = Arc::clone(inner);
    std::thread::Builder::new()
        .name("lsmkit-compact".into())
        .spawn(move || compaction_loop(&compactor))
        .map(Some)
        .map_err(|e| Error::io(&inner.dir, e))
}

fn compaction_loop(inner: &Inner) {
    let _stick = StickOnPanic {
        bg: &inner.bg,
        thread: "compaction",
    };
    while inner
        .bg
        .wait_for(|| match pick_task(inner, &inner.current()) {
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => Some(()),
        })
        .is_some()
    {
        // Picked again under the compaction lock: a manual compaction may
        // have run since.
        let result = {
            let _one_at_a_time = lock(&inner.compaction);
            pick_task(inner, &inner.current())
                .and_then(|task| task.map_or(Ok(()), |task| run_with_retries(inner, &task)))
        };
        if let Err(error) = result {
            inner.bg.set_error(error);
        }
        inner.bg.notify();
    }
}

/// Runs `task`, retrying while that is safe. REQUIRES: the compaction lock
/// is held from picking the task until this returns.
fn run_with_retries(inner: &Inner, task: &Task) -> Result<()> {
    with_retries(inner, || run(inner, task))
}

/// Merges every run into one, for [`Db::compact`](crate::Db::compact). A
/// single run is rewritten only if it may hold something to drop.
pub(crate) fn compact_all(inner: &Inner) -> Result<()> {
    let _one_at_a_time = lock(&inner.compaction);
    let version = inner.current();
    let worth_it = match version.runs.len() {
        0 => false,
        1 => may_shrink(&version.runs[0]),
        _ => true,
    };
    if !worth_it {
        return Ok(());
    }
    let task = Task {
        inputs: version.runs.clone(),
        bottommost: true,
    };
    run_with_retries(inner, &task)
}

/// Whether a run may hold something a full compaction drops: tombstones,
/// or more than one write (perhaps old versions no snapshot needs).
fn may_shrink(run: &Run) -> bool {
    run.min_seqno < run.max_seqno
        || run.tables.iter().any(|t| {
            let p = t.reader.properties();
            p.num_deletions > 0 || p.num_range_tombstones > 0
        })
}

/// Runs one compaction: merge, check, record, install, remove the inputs.
fn run(inner: &Inner, task: &Task) -> Result<(), Retry> {
    let inputs = &task.inputs;
    let job = CompactionJob {
        inputs: inputs
            .iter()
            .flat_map(|r| r.tables.iter().map(|t| inner.table_path(t.record.number)))
            .collect(),
        snapshots: inner.snapshots.seqnos(),
        bottommost: task.bottommost,
        target_file_size: inner.options.compaction.target_file_size,
        table_options: inner.sst_options.clone(),
        lower: Vec::new(),
        upper: None,
    };
    let outcome = execute(&inner.fs, &job, || {
        inner.table_path(inner.next_file.fetch_add(1, Ordering::SeqCst))
    })
    .map_err(|e| Retry::Yes(e.into()))?;

    let run_id = inner.next_file.fetch_add(1, Ordering::SeqCst);
    let min_seqno = inputs.iter().map(|r| r.min_seqno).min().unwrap_or(0);
    let max_seqno = inputs.iter().map(|r| r.max_seqno).max().unwrap_or(0);
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
            Ok((number, reader)) => tables.push(Arc::new(Table {
                record: TableRecord {
                    run: run_id,
                    number,
                    size: out.meta.file_size,
                    min_seqno,
                    max_seqno,
                    lower: out.lower.clone(),
                    upper: out.upper.clone(),
                },
                reader,
            })),
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

    install(inner, inputs, tables).map_err(Retry::No)?;
    let read: u64 = inputs.iter().map(|r| r.size()).sum();
    let written: u64 = outcome.added.iter().map(|o| o.meta.file_size).sum();
    Counters::add(&inner.counters.compactions, 1);
    Counters::add(&inner.counters.compaction_bytes_read, read);
    Counters::add(&inner.counters.compaction_bytes_written, written);
    // Readers still holding the old version keep reading the removed files
    // (the filesystem contract keeps an open file readable).
    remove_files(inner, job.inputs.iter().map(|p| p.as_path()));
    Ok(())
}

/// The number of a table file path, if it is one.
fn table_number(path: &Path) -> Option<u64> {
    match format::parse_file_name(path.file_name()?.to_str()?)? {
        FileKind::Table(n) => Some(n),
        _ => None,
    }
}

/// Records the compaction and publishes the version with `tables` as one
/// run in place of `inputs`.
fn install(inner: &Inner, inputs: &[Arc<Run>], tables: Vec<Arc<Table>>) -> Result<()> {
    let mut manifest = lock(&inner.manifest);
    manifest.append(VersionEdit {
        added: tables.iter().map(|t| t.record.clone()).collect(),
        removed: inputs
            .iter()
            .flat_map(|r| r.tables.iter().map(|t| t.record.number))
            .collect(),
        ..VersionEdit::default()
    })?;
    let mut current = lock(&inner.version);
    let is_input = |run: &Arc<Run>| inputs.iter().any(|i| Arc::ptr_eq(i, run));
    let at = current.runs.iter().position(is_input).unwrap_or(0);
    let mut runs: Vec<Arc<Run>> = current
        .runs
        .iter()
        .filter(|r| !is_input(r))
        .cloned()
        .collect();
    if !tables.is_empty() {
        runs.insert(at, Arc::new(Run::new(tables)));
    }
    *current = Arc::new(Version {
        mem: Arc::clone(&current.mem),
        frozen: current.frozen.clone(),
        runs,
    });
    Ok(())
}

fn remove_files<'a>(inner: &Inner, paths: impl Iterator<Item = &'a Path>) {
    for path in paths {
        if inner.fs.remove(path).is_err() {
            Counters::add(&inner.counters.obsolete_file_errors, 1);
        }
    }
    if inner.fs.sync_dir(&inner.dir).is_err() {
        Counters::add(&inner.counters.obsolete_file_errors, 1);
    }
}
