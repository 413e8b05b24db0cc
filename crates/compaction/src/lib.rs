//! Compaction for lsmkit: the merge machinery, a tiered and a leveled strategy,
//! usable without the engine. Bring your table list; get back what to
//! compact, and the compacted tables.
//!
//! - [`MergingIterator`]: any number of sorted sources (memtable cursors,
//!   table cursors, other merges) as one [`InternalIterator`], on a heap:
//!   O(log n) per entry, seek, next and prev, no deduplication.
//! - [`CompactionStream`]: on top of a merge, keeps for each key the newest
//!   version and the newest version visible to each live snapshot, applies
//!   range tombstones, and drops tombstones nothing needs when the output is
//!   the oldest data, and folds merge operands with a [`MergeOperator`].
//!   [The rules](stream) are written down there: they are where LSM
//!   engines lose data.
//! - [`MergeOperator`]: how merge operands combine, shared by the stream
//!   and an engine's reads; [`U64Add`] and [`ListAppend`] are examples.
//! - [`pick`]: the tiered strategy (RocksDB's universal compaction) as a
//!   pure function from the sorted runs to a [`CompactionTask`];
//!   [the algorithm](picker), a worked example and the amplification it
//!   aims for are in its docs.
//! - [`pick_leveled`]: the leveled strategy (RocksDB's, with dynamic level
//!   sizes) as a pure function from L0 runs and levels of non-overlapping
//!   tables to a [`LeveledTask`]; [the rules](leveled) are in its docs.
//!   [`leveled_candidates`] lists what may run beside compactions already
//!   running ([`Busy`]).
//! - [`execute`]: runs a task, from input tables to output tables written
//!   through `lsmkit-sstable` and `lsmkit-vfs`, cleaning up on failure;
//!   [`execute_tables_split`] runs it in key-range parts on threads of
//!   their own (subcompactions).
//! - [`CompactionFilter`]: a user rule that keeps, removes or rewrites
//!   values as a compaction passes them, snapshot-safe
//!   ([the rules](filter)); [`TtlFilter`] removes values past their age.
//! - [`simulate`]: drives either picker over an ingest pattern without I/O
//!   and reports write, read (run counts) and space amplification.
//!
//! ```
//! use lsmkit_compaction::{CompactionStream, MergingIterator, RunInfo, TieredOptions, pick};
//! use lsmkit_memtable::Memtable;
//! use lsmkit_sstable::{ParsedKey, ValueKind};
//!
//! // Two sorted sources with versions of "k"; a snapshot at 2 is live.
//! let older = Memtable::new();
//! older.insert(b"k", 1, ValueKind::Put, b"v1")?;
//! older.insert(b"k", 2, ValueKind::Put, b"v2")?;
//! let newer = Memtable::new();
//! newer.insert(b"k", 3, ValueKind::Put, b"v3")?;
//! newer.insert(b"k", 4, ValueKind::Delete, b"")?;
//!
//! let merge = MergingIterator::new(vec![newer.raw_iter(), older.raw_iter()]);
//! let mut stream = CompactionStream::new(merge, &[], &[2], false);
//! let mut kept = Vec::new();
//! while let Some((key, _value)) = stream.next() {
//!     kept.push(ParsedKey::parse(key).map(|k| k.seqno));
//! }
//! // The newest version (the delete), and the newest one snapshot 2 sees.
//! assert_eq!(kept, [Some(4), Some(2)]);
//! let (_range_tombstones, stats) = stream.finish()?;
//! assert_eq!(stats.shadowed, 2);
//!
//! // Four runs of similar size, newest first: merge them all.
//! let run = |size, seqno| RunInfo { size, min_seqno: seqno, max_seqno: seqno };
//! let runs = [run(10, 40), run(10, 30), run(10, 20), run(10, 10)];
//! let options = TieredOptions { trigger_runs: 4, ..TieredOptions::default() };
//! let task = pick(&options, &runs)?.expect("a compaction");
//! assert_eq!(task.runs, 0..4);
//! assert!(task.bottommost);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concurrency
//!
//! Everything here is single-threaded and synchronous: a merge, a stream
//! and an execution each belong to one thread at a time (they are `Send`
//! when their sources are). The picker and simulator are pure. An engine
//! runs compactions on its own background threads, one task each, and must
//! not hand the picker runs that a running compaction is merging.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod executor;
pub mod filter;
mod fold;
pub mod leveled;
pub mod merge;
pub mod merge_operator;
pub mod picker;
pub mod simulator;
pub mod stream;

pub use error::Error;
pub use executor::{
    CompactionJob, CompactionOutcome, OutputTable, execute, execute_tables, execute_tables_split,
};
pub use filter::{
    Clock, CompactionFilter, Decision, FilterContext, FilterStats, SystemClock, TtlFilter,
    split_ttl_value, ttl_value,
};
pub use leveled::{
    Busy, LeveledOptions, LeveledReason, LeveledTask, LevelsInfo, TableInfo, base_level,
    level_targets, leveled_candidates, pick_leveled,
};
pub use lsmkit_sstable::InternalIterator;
pub use merge::MergingIterator;
pub use merge_operator::{ListAppend, MergeOperator, U64Add, full_merge_newest_first};
pub use picker::{CompactionReason, CompactionTask, RunInfo, TieredOptions, pick};
pub use simulator::{Policy, Simulation, SimulationReport, Simulator, Workload, simulate};
pub use stream::{CompactionStream, StreamStats};

/// The crates this crate's API is written in, re-exported so that a user
/// needs no versions of their own: tables, keys, table options and errors
/// from `lsmkit-sstable`; the [`Fs`](lsmkit_vfs::Fs) that [`execute`] writes
/// through from `lsmkit-vfs`.
pub use {lsmkit_sstable, lsmkit_vfs};

// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
