//! An embedded, persistent, concurrent key-value store: the thin
//! composition of lsmkit's crates. Writes go to a write-ahead log
//! (`lsmkit-wal`) and a memtable (`lsmkit-memtable`); full memtables are
//! flushed to SSTables (`lsmkit-sstable`) by a background thread; sorted runs
//! of tables are merged by tiered or leveled compaction (`lsmkit-compaction`,
//! [`CompactionStyle`]); every
//! file goes through `lsmkit-vfs`. The engine owns the manifest, the threads
//! and the wiring, and nothing else: every format, log, table and
//! compaction decision lives in those crates.
//!
//! ```
//! use lsmkit_engine::{Db, Options, WriteBatch};
//! # let dir = tempfile::tempdir()?;
//!
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put(b"apple", b"red")?;
//! db.put(b"banana", b"yellow")?;
//! assert_eq!(db.get(b"apple")?, Some(b"red".to_vec()));
//!
//! // A snapshot reads at a fixed point, whatever comes after it.
//! let snapshot = db.snapshot();
//! let mut batch = WriteBatch::new();
//! batch.delete(b"apple").put(b"cherry", b"dark");
//! db.write(batch)?; // atomically: both or neither
//!
//! let now: Vec<_> = db.iter().map(|kv| kv.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(now, [b"banana".to_vec(), b"cherry".to_vec()]);
//! let then: Vec<_> = snapshot.iter().rev().collect::<Result<_, _>>()?;
//! assert_eq!(then[0], (b"banana".to_vec(), b"yellow".to_vec()));
//! assert_eq!(snapshot.get(b"apple")?, Some(b"red".to_vec()));
//!
//! db.close()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! assert_eq!(db.get(b"cherry")?, Some(b"dark".to_vec()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Concurrency
//!
//! [`Db`] is `Send + Sync`; share it with an `Arc`. Writes (`put`,
//! `delete`, `delete_range`, `write`) from many threads are ordered by one
//! short critical section that assigns sequence numbers, appends the batch
//! to the WAL and inserts it into the memtable; the WAL's fsync for durable
//! writes runs outside it, one sync for every writer waiting (group
//! commit). Reads (`get`, iterators, snapshots) take no lock but a short
//! one to clone the current version (an `Arc`), and never wait for a
//! flush, a compaction or a writer. A read sees every write whose call has
//! returned, and a batch either wholly or not at all.
//!
//! An ingestion holds new writers back (as a write stop does) while it
//! flushes the memtables and copies its files; reads go on.
//!
//! A write is visible to readers as soon as it is in the memtable, which
//! is *before* its fsync completes: a reader may see a durable write that
//! a crash then loses if the crash comes before the writer's call returns.
//! A write is acknowledged (its call returns) only once it is as durable as
//! asked.
//!
//! Iterators ([`DbIter`]) and [`Snapshot`]s are `Send`, hold what they
//! read, and may outlive the `Db` handle. An iterator keeps one open table
//! per sorted run, moving to the next table of the run as it goes.
//!
//! Data blocks read from tables are validated once and then kept in one
//! block cache shared by every table and thread
//! ([`Options::block_cache_size`], 64 MiB by default), decompressed; the
//! checks of newly written tables read around it. Tables compress their
//! data blocks with [`Options::compression`] (LZ4 by default), and the
//! oldest run's with [`Options::bottommost_compression`] if set.
//!
//! # Durability
//!
//! - A write made with [`WriteOptions::durable`] (or with
//!   [`Options::sync_writes`]) survives a power loss once its call returns,
//!   and so does every write acknowledged before it.
//! - A buffered write (the default) survives a crash of the process once
//!   its call returns, and a power loss once a later durable write or
//!   [`Db::sync_wal`] returns.
//! - A [`WriteBatch`] is one WAL record: after any crash, all of it or none
//!   of it is there.
//! - Flushed tables and manifest edits are synced (and their directory
//!   entries too) before anything depends on them.
//!
//! # Recovery
//!
//! [`Db::open`] reads CURRENT and the manifest it names, opens every table
//! it lists (a missing or damaged table is an error naming it), checks the
//! runs' sequence numbers against each other and against the manifest's
//! (a run that breaks the newest-first order, or a table above the last
//! or flushed sequence number, is a corruption of the manifest), replays
//! the WAL batches above the flushed sequence number into a memtable,
//! writes a fresh manifest, and deletes the files no version references.
//!
//! The replayed batches must continue the flushed sequence numbers without
//! a gap: a batch that starts above the next expected sequence number means
//! that a synced record before it was lost (a disk that dropped a WAL
//! segment's or a manifest edit's synced data), and opening fails with
//! [`Error::Corruption`] naming the segment and offset, unless
//! [`Options::wal_recovery_mode`] is [`RecoveryMode::SkipCorrupted`], which
//! documents holes. So a lying disk makes recovery refuse, or lose a suffix
//! of the writes, never answer with a state no prefix of the writes had
//! (`tests/lying_disk.rs`).
//!
//! # Keyspaces
//!
//! A database holds named [`Keyspace`]s ([`Db::create_keyspace`], RocksDB's
//! column families), each its own memtables, runs, compactions and
//! [`KeyspaceOptions`], all over one WAL and one manifest: a
//! [`WriteBatch`] across keyspaces ([`WriteBatch::put_in`], ...) is one
//! WAL record, atomic across them and across a crash, and a [`Snapshot`]
//! reads every keyspace at one sequence number ([`Keyspace::get_at`]).
//! `Db::put`, `get`, `iter`, ... use the default keyspace; `Db::flush`,
//! `compact` and `checkpoint` cover them all. A WAL segment is deleted
//! only once every keyspace has flushed past it.
//!
//! # Read-only opens and checkpoints
//!
//! [`Db::open_read_only`] runs the reading half of recovery and nothing
//! after it: no lock, no file written, renamed, created, truncated or
//! deleted, no background thread. The unflushed WAL tail is replayed into a
//! memtable of the handle alone, and every write returns
//! [`Error::ReadOnly`]. It may run while another process has the database
//! open for writing. [`Db::checkpoint`] writes a consistent copy into a new
//! directory: the memtable is flushed, the live tables hard-linked (copied
//! where linking fails) while compactions hold back their table deletions,
//! and a fresh manifest written, CURRENT last; the copy needs no WAL.
//!
//! # Ingestion
//!
//! [`Db::ingest`] adds tables built outside the database with
//! [`lsmkit_sstable::SstWriter`] (a bulk load), atomically and as one
//! write newer than everything before it: each file is verified, the
//! memtables are flushed, the files are copied in at one new sequence
//! number, and one manifest edit adds them all. Overlapping files, a file
//! holding two versions of a key, and damaged files are refused before
//! anything changes.
//!
//! # Merge operators
//!
//! [`Db::merge`] writes a merge operand that [`Options::merge_operator`]
//! (a [`MergeOperator`]: [`U64Add`] and [`ListAppend`] are examples)
//! combines with the key's older versions: reads, snapshots and iterators
//! fold a key's operands newest first down to its last value or deletion,
//! and flushes and compactions fold them where no live snapshot can tell.
//! A merge written without an operator is refused
//! ([`Error::NoMergeOperator`]); the operator's name is recorded in the
//! tables and a reopen with another one is refused
//! ([`Error::MergeOperatorMismatch`]).
//!
//! # Errors stick
//!
//! If a background flush fails in a way that cannot be retried, or a WAL
//! write fails, the database turns read-only: every later write returns
//! that first error, reads go on, and [`Db::close`] returns it. Reopening
//! recovers.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod background;
mod batch;
mod checkpoint;
mod compact;
mod db;
mod db_iter;
mod error;
mod flush;
pub mod format;
mod ingest;
mod keyspace;
mod leveled;
mod manifest;
mod merge;
mod options;
mod read_only;
mod recovery;
mod run_iter;
mod running;
mod snapshot;
mod stats;
mod table_deletions;
mod version;

pub use batch::WriteBatch;
pub use db::{Db, WriteOptions};
pub use db_iter::{DbIter, KeyValue};
pub use error::{Error, Result};
pub use keyspace::{DEFAULT_KEYSPACE_NAME, Keyspace, KeyspaceOptions};
pub use manifest::{ManifestState, RecoveredManifest};
pub use options::{CompactionStyle, Options};
pub use snapshot::Snapshot;
pub use stats::Stats;

pub use lsmkit_compaction::{
    CompactionFilter, Decision, FilterContext, LeveledOptions, ListAppend, MergeOperator,
    TieredOptions, TtlFilter, U64Add, split_ttl_value, ttl_value,
};
pub use lsmkit_sstable::Compression;
pub use lsmkit_wal::RecoveryMode;

// The component crates, whose types appear in this crate's API: the
// filesystem in `Options::fs`, and the error sources of `Error`.
pub use lsmkit_compaction;
pub use lsmkit_memtable;
pub use lsmkit_sstable;
pub use lsmkit_vfs;
pub use lsmkit_wal;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
