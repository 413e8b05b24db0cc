//! An engine with its own compaction policy: FIFO, for time-series data
//! that may expire (metrics, logs, a cache). Built from `lsmkit-memtable`,
//! `lsmkit-sstable` and `lsmkit-compaction`, with a picker of its own in
//! place of the tiered one: the picker is a seam, a pure function from the
//! sorted runs (`RunInfo`, newest first) to a decision.
//!
//! ```sh
//! cargo run -p lsmkit-examples --example fifo_engine
//! ```
//!
//! The loop: writes go to a memtable; a full memtable is flushed to an
//! SSTable, a new sorted run. Then the picker decides, until it has
//! nothing to do:
//!
//! - **expire**: while the runs take more than the size budget, drop the
//!   oldest (RocksDB's FIFO compaction): the oldest data goes first;
//! - **merge**: when the newest `merge_width` runs are all small, merge
//!   them into one with lsmkit-compaction's executor, so that a read looks
//!   in fewer tables, and overwritten versions are dropped.
//!
//! There is no WAL here (a crash loses the memtable: add `lsmkit-wal` as
//! in the `durable_store` example) and no manifest (the run list lives in
//! memory): the point is the policy.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_compaction::{
    CompactionJob, CompactionReason, CompactionTask, OutputTable, RunInfo, execute,
};
use lsmkit_examples::{Error, check, check_eq};
use lsmkit_memtable::{Lookup as MemLookup, Memtable};
use lsmkit_sstable::{
    InternalIterator, Lookup, MAX_SEQNO, SeqNo, SstOptions, SstReader, SstWriter,
};
use lsmkit_vfs::{Fs, MemFs};

/// When to flush, expire and merge.
#[derive(Clone, Copy, Debug)]
struct FifoOptions {
    /// Flush the memtable once it takes this many bytes.
    memtable_bytes: usize,
    /// Expire the oldest runs while all runs take more than this.
    size_budget: u64,
    /// Merge the newest runs when this many of them are small...
    merge_width: usize,
    /// ...that is, under this many bytes each.
    small_run_bytes: u64,
}

/// What the FIFO picker decided.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    /// Drop these runs, the oldest, whole.
    Expire(Range<usize>),
    /// Merge runs with the compaction executor.
    Merge(CompactionTask),
}

/// The FIFO policy, a pure function of the runs (newest first) like
/// `lsmkit_compaction::pick`, so it can be tested and simulated alone.
fn pick_fifo(options: &FifoOptions, runs: &[RunInfo]) -> Option<Decision> {
    let mut total: u64 = runs.iter().map(|r| r.size).sum();
    if total > options.size_budget {
        let mut keep = runs.len();
        while keep > 0 && total > options.size_budget {
            keep -= 1;
            total -= runs[keep].size;
        }
        return Some(Decision::Expire(keep..runs.len()));
    }
    let newest = runs.get(..options.merge_width)?;
    if newest.len() >= 2 && newest.iter().all(|r| r.size < options.small_run_bytes) {
        return Some(Decision::Merge(CompactionTask {
            runs: 0..options.merge_width,
            bottommost: options.merge_width == runs.len(),
            reason: CompactionReason::RunCount,
        }));
    }
    None
}

/// A sorted run: tables that partition the key space, in key order.
struct Run {
    info: RunInfo,
    tables: Vec<(OutputTable, Arc<SstReader>)>,
}

impl Run {
    /// The table whose key range holds `key`.
    fn table_for(&self, key: &[u8]) -> Option<&Arc<SstReader>> {
        self.tables
            .iter()
            .find(|(t, _)| t.lower.as_slice() <= key && t.upper.as_deref().is_none_or(|u| key < u))
            .map(|(_, reader)| reader)
    }
}

/// What the engine did, for the report and the checks.
#[derive(Debug, Default)]
struct Counters {
    flushes: u64,
    merges: u64,
    runs_expired: u64,
    versions_dropped_by_merges: u64,
}

/// The engine: a memtable and sorted runs, newest first.
struct FifoEngine {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: FifoOptions,
    memtable: Memtable,
    runs: Vec<Run>,
    last_seqno: SeqNo,
    next_file: u64,
    counters: Counters,
}

impl FifoEngine {
    fn new(fs: Arc<dyn Fs>, dir: &Path, options: FifoOptions) -> Result<FifoEngine, Error> {
        fs.create_dir_all(dir)?;
        Ok(FifoEngine {
            fs,
            dir: dir.to_path_buf(),
            options,
            memtable: Memtable::new(),
            runs: Vec::new(),
            last_seqno: 0,
            next_file: 1,
            counters: Counters::default(),
        })
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.last_seqno += 1;
        self.memtable
            .insert(key, self.last_seqno, lsmkit_sstable::ValueKind::Put, value)?;
        if self.memtable.approximate_memory() >= self.options.memtable_bytes {
            self.flush()?;
            self.compact()?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self.memtable.get(key, MAX_SEQNO) {
            MemLookup::Found(value) => return Ok(Some(value.to_vec())),
            MemLookup::Deleted => return Ok(None),
            MemLookup::Absent => {}
        }
        for run in &self.runs {
            let Some(table) = run.table_for(key) else {
                continue;
            };
            match table.get(key, MAX_SEQNO)? {
                Lookup::Found(value) => return Ok(Some(value)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        Ok(None)
    }

    fn next_path(dir: &Path, next_file: &mut u64) -> PathBuf {
        let path = dir.join(format!("{:06}.sst", *next_file));
        *next_file += 1;
        path
    }

    /// Writes the memtable to a table: a new run, the newest.
    fn flush(&mut self) -> Result<(), Error> {
        let memtable = std::mem::take(&mut self.memtable);
        memtable.freeze();
        let (Some(min_seqno), Some(max_seqno)) = (memtable.min_seqno(), memtable.max_seqno())
        else {
            return Ok(());
        };
        let path = Self::next_path(&self.dir, &mut self.next_file);
        let mut writer = SstWriter::create(self.fs.clone(), path, SstOptions::default())?;
        let mut entries = memtable.raw_iter();
        entries.seek_to_first();
        while entries.valid() {
            writer.add(entries.key(), entries.value())?;
            entries.next();
        }
        entries.status()?;
        for tombstone in memtable.range_tombstones() {
            writer.add_range_tombstone(&tombstone)?;
        }
        let meta = writer.finish()?;
        let reader = SstReader::open(&*self.fs, &meta.path)?;
        let info = RunInfo {
            size: meta.file_size,
            min_seqno,
            max_seqno,
        };
        let table = OutputTable {
            meta,
            lower: Vec::new(),
            upper: None,
        };
        self.runs.insert(
            0,
            Run {
                info,
                tables: vec![(table, reader)],
            },
        );
        self.counters.flushes += 1;
        Ok(())
    }

    /// Applies the picker's decisions until it has none.
    fn compact(&mut self) -> Result<(), Error> {
        loop {
            let infos: Vec<RunInfo> = self.runs.iter().map(|r| r.info).collect();
            match pick_fifo(&self.options, &infos) {
                None => return Ok(()),
                Some(Decision::Expire(oldest)) => {
                    for run in self.runs.drain(oldest) {
                        for (table, reader) in run.tables {
                            drop(reader); // no file is removed under a reader
                            self.fs.remove(&table.meta.path)?;
                        }
                        self.counters.runs_expired += 1;
                    }
                }
                Some(Decision::Merge(task)) => self.merge(task)?,
            }
        }
    }

    /// Merges `task.runs` into one run with the compaction executor.
    fn merge(&mut self, task: CompactionTask) -> Result<(), Error> {
        let merged = &self.runs[task.runs.clone()];
        let job = CompactionJob {
            inputs: merged
                .iter()
                .flat_map(|r| r.tables.iter().map(|(t, _)| t.meta.path.clone()))
                .collect(),
            snapshots: Vec::new(), // no snapshots: keep only the newest versions
            bottommost: task.bottommost,
            target_file_size: self.options.small_run_bytes,
            table_options: SstOptions::default(),
            lower: Vec::new(),
            upper: None,
            filter: None,
        };
        let info = RunInfo {
            size: 0,
            min_seqno: merged.iter().map(|r| r.info.min_seqno).min().unwrap_or(0),
            max_seqno: merged.iter().map(|r| r.info.max_seqno).max().unwrap_or(0),
        };
        let (dir, next_file) = (&self.dir, &mut self.next_file);
        let outcome = execute(&self.fs, &job, || Self::next_path(dir, next_file))?;

        let mut tables = Vec::with_capacity(outcome.added.len());
        for table in outcome.added {
            let reader = SstReader::open(&*self.fs, &table.meta.path)?;
            tables.push((table, reader));
        }
        let size = tables.iter().map(|(t, _)| t.meta.file_size).sum();
        let replaced: Vec<Run> = self.runs.splice(task.runs, []).collect();
        drop(replaced); // close the inputs before removing them
        for path in &outcome.removed {
            self.fs.remove(path)?;
        }
        if !tables.is_empty() {
            let index = self
                .runs
                .partition_point(|r| r.info.min_seqno > info.max_seqno);
            self.runs.insert(
                index,
                Run {
                    info: RunInfo { size, ..info },
                    tables,
                },
            );
        }
        self.counters.merges += 1;
        self.counters.versions_dropped_by_merges += outcome.stats.shadowed;
        Ok(())
    }

    fn total_size(&self) -> u64 {
        self.runs.iter().map(|r| r.info.size).sum()
    }
}

fn event_key(t: u32) -> Vec<u8> {
    format!("event:{t:08}").into_bytes()
}

fn event_value(t: u32) -> Vec<u8> {
    format!(
        "{t:08} temperature={:.1} {}",
        f64::from(t % 400) / 10.0,
        "-".repeat(48)
    )
    .into_bytes()
}

fn main() -> Result<(), Error> {
    picker_unit_checks()?;

    let options = FifoOptions {
        memtable_bytes: 64 << 10,
        size_budget: 1 << 20,
        merge_width: 4,
        small_run_bytes: 192 << 10,
    };
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let mut engine = FifoEngine::new(fs.clone(), Path::new("/fifo"), options)?;
    const EVENTS: u32 = 40_000;
    for t in 0..EVENTS {
        engine.put(&event_key(t), &event_value(t))?;
        // A key overwritten all along: merges drop its old versions, and
        // expiry never loses its newest one.
        if t % 10 == 0 {
            engine.put(b"state:latest", &event_key(t))?;
        }
    }

    // The newest events are all there; the oldest expired, as a prefix.
    let first_kept = (0..EVENTS)
        .map(|t| engine.get(&event_key(t)).map(|v| v.is_some()))
        .position(|found| matches!(found, Ok(true)))
        .ok_or("no event survived")? as u32;
    for t in 0..EVENTS {
        let expected = (t >= first_kept).then(|| event_value(t));
        check_eq(&format!("event {t}"), engine.get(&event_key(t))?, expected)?;
    }
    check_eq(
        "the overwritten key",
        engine.get(b"state:latest")?,
        Some(event_key((EVENTS - 1) / 10 * 10)),
    )?;
    let files = fs.list(Path::new("/fifo"))?.len();
    let tables: usize = engine.runs.iter().map(|r| r.tables.len()).sum();
    check("some events expired", first_kept > 0)?;
    check(
        "the runs fit the budget",
        engine.total_size() <= options.size_budget,
    )?;
    check("merges ran", engine.counters.merges > 0)?;
    check_eq("files on disk", files, tables)?;
    println!(
        "{EVENTS} events written; {} flushes, {} merges ({} old versions dropped), {} runs expired",
        engine.counters.flushes,
        engine.counters.merges,
        engine.counters.versions_dropped_by_merges,
        engine.counters.runs_expired,
    );
    println!(
        "kept events {first_kept}..{EVENTS} in {} runs, {tables} tables, {} bytes (budget {})",
        engine.runs.len(),
        engine.total_size(),
        options.size_budget,
    );
    println!("fifo_engine: all checks passed");
    Ok(())
}

/// The picker alone, on hand-made runs (it is a pure function).
fn picker_unit_checks() -> Result<(), Error> {
    let options = FifoOptions {
        memtable_bytes: 0,
        size_budget: 100,
        merge_width: 3,
        small_run_bytes: 10,
    };
    let runs = |sizes: &[u64]| -> Vec<RunInfo> {
        let n = sizes.len() as u64;
        (0..n)
            .zip(sizes)
            .map(|(i, &size)| RunInfo {
                size,
                min_seqno: (n - i) * 10,
                max_seqno: (n - i) * 10 + 9,
            })
            .collect()
    };
    check_eq(
        "under budget, few runs",
        pick_fifo(&options, &runs(&[5, 5, 50])),
        None,
    )?;
    check_eq(
        "over budget: drop the oldest until it fits",
        pick_fifo(&options, &runs(&[30, 40, 20, 25])),
        Some(Decision::Expire(3..4)),
    )?;
    check_eq(
        "three small runs: merge them",
        pick_fifo(&options, &runs(&[5, 5, 5, 50])),
        Some(Decision::Merge(CompactionTask {
            runs: 0..3,
            bottommost: false,
            reason: CompactionReason::RunCount,
        })),
    )?;
    Ok(())
}
