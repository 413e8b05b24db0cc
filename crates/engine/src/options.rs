//! [`Options`]: how a database is opened and run, with documented defaults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lsmkit_compaction::{
    CompactionFilter, LeveledOptions, MergeOperator, TieredOptions, TtlFilter,
};
use lsmkit_sstable::Compression;
use lsmkit_vfs::{Fs, StdFs};
use lsmkit_wal::RecoveryMode;

use crate::error::{Error, Result};
use crate::keyspace::KeyspaceOptions;

/// How a [`Db`](crate::Db) stores and paces its data.
///
/// Every field has a default (`Options::default()`); the builder methods set
/// one field each. [`Db::open`](crate::Db::open) checks them all.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The filesystem the database lives on. Default [`StdFs`]; tests pass
    /// a [`MemFs`](lsmkit_vfs::MemFs) or [`FaultFs`](lsmkit_vfs::FaultFs).
    pub fs: Arc<dyn Fs>,
    /// The memtable is frozen and flushed once it holds about this many
    /// bytes (keys, values and per-entry overhead). It also sets the size
    /// of WAL segments, so that a flush can retire whole segments.
    /// Default 64 MiB; at least 1.
    pub write_buffer_size: usize,
    /// Frozen memtables waiting for their flush before writers stop (and
    /// at this number minus one, if it is not zero, are slowed while the
    /// mutable memtable is nearly full). At 1, every switch stops writers
    /// until its flush ends. Default 2; at least 1.
    pub max_immutable_memtables: usize,
    /// Whether every write is durable (its WAL record synced) before it
    /// returns, unless the write says otherwise
    /// ([`WriteOptions`](crate::WriteOptions)). Default `false`: writes
    /// survive a crash of the process, not a power loss, until the next
    /// durable write or [`Db::sync_wal`](crate::Db::sync_wal).
    pub sync_writes: bool,
    /// What WAL damage recovery may drop. Default
    /// [`RecoveryMode::TolerateCorruptedTail`]: the torn end of the newest
    /// segment, which holds only writes that were never acknowledged as
    /// durable.
    pub wal_recovery_mode: RecoveryMode,
    /// The most bytes a data block takes once read into the block cache,
    /// its reference counts included (a single larger entry gets a block
    /// of its own): see `lsmkit_sstable::SstOptions::block_size`. Default
    /// 4096.
    pub block_size: usize,
    /// Bytes of validated data blocks kept in memory (each charged its
    /// bytes and what holding it costs), shared by every table of the
    /// database, so that repeated reads skip the copy, the checksum and
    /// the validation of a block. Default 64 MiB; 0 keeps no
    /// cache (every read goes to the file). Index blocks, filters and
    /// range tombstones of open tables are held apart from it.
    pub block_cache_size: u64,
    /// Bloom filter bits per key in every table; 0 writes no filter.
    /// Default 10 (about 1% false positives).
    pub bloom_bits_per_key: u32,
    /// The codec of tables' data blocks (index and filter blocks are never
    /// compressed). Default [`Compression::Lz4`]: it costs little CPU and
    /// usually halves the disk; a block that saves under 12.5% is stored
    /// raw. Needs lsmkit-sstable's feature of the codec (on by default).
    pub compression: Compression,
    /// The codec of tables written by a compaction into the oldest run,
    /// which holds most of the data and is rewritten least often: e.g.
    /// [`Compression::Zstd`], smaller and slower, as RocksDB users often
    /// choose. Default `None`: the same as [`compression`](Self::compression).
    pub bottommost_compression: Option<Compression>,
    /// The tiered compaction strategy, including `target_file_size` (the
    /// size at which compaction output is cut into tables). Defaults of
    /// [`TieredOptions`].
    pub compaction: TieredOptions,
    /// Whether a background thread compacts when the picker says so.
    /// Default `true`. With `false` the runs only grow until
    /// [`Db::compact`](crate::Db::compact) is called, and the run-count
    /// backpressure below is off.
    pub auto_compaction: bool,
    /// Sorted runs at which writers are slowed (1 ms per write) until
    /// compaction catches up. Default 20.
    pub runs_slowdown_trigger: usize,
    /// Sorted runs at which writers stop until compaction catches up.
    /// Default 36; at least `runs_slowdown_trigger`.
    pub runs_stop_trigger: usize,
    /// The manifest is rewritten as one snapshot edit once it is this many
    /// bytes. Default 4 MiB.
    pub max_manifest_size: u64,
    /// Whether WAL records wait in a buffer (64 KiB on [`StdFs`]) instead
    /// of being handed to the OS one `write(2)` each (RocksDB's
    /// `manual_wal_flush`). They are handed on when the buffer fills, at
    /// [`Db::flush_wal`](crate::Db::flush_wal), at every durable write or
    /// [`Db::sync_wal`](crate::Db::sync_wal), and at close. Default
    /// `false`. With `true`, a crash of the *process* loses the writes still
    /// buffered (the database recovers the writes before them); without it
    /// only a crash of the machine loses unsynced writes. On Linux, with
    /// [`wal_preallocate`](Self::wal_preallocate) on (the default),
    /// [`StdFs`] copies records into a memory map of the reserve, which
    /// costs no more than the buffer and hands them on at once, so there
    /// this option changes little.
    pub manual_wal_flush: bool,
    /// Each WAL segment reserves its space this many bytes ahead of the
    /// writer (`WalOptions::preallocate`), so that a durable write's
    /// `fdatasync` need not also commit a new file size. `0` reserves
    /// nothing. Default 1 MiB. A crash leaves the unfilled reserve as zeros
    /// at the end of the segment, which recovery takes for its end.
    ///
    /// On Linux [`StdFs`] allocates the reserve (`fallocate`) and writes
    /// records into it through a memory map: a copy instead of a `write(2)`
    /// per record, with the same promise (the page cache holds them, so
    /// they survive a crash of the process).
    pub wal_preallocate: u64,
    /// A background thread syncs the WAL each time this many bytes have
    /// been appended to it since it last did (RocksDB's
    /// `wal_bytes_per_sync`), so that the sync that closes a full WAL
    /// segment, which runs in the writer that filled it, finds little left
    /// to write: without it, that writer waits for the whole segment
    /// (`write_buffer_size`, 64 MiB by default) to reach the disk. It adds
    /// no durability promise: a write is still durable only once a durable
    /// write or [`Db::sync_wal`](crate::Db::sync_wal) returns. Default
    /// 4 MiB; 0 turns it off.
    pub wal_bytes_per_sync: u64,
    /// How sorted runs are compacted: [`CompactionStyle::Tiered`] (the
    /// default) or [`CompactionStyle::Leveled`]. A database may be
    /// reopened under the other style: its data is kept, and reshaped by
    /// the compactions that follow.
    pub compaction_style: CompactionStyle,
    /// The leveled strategy's options, used under
    /// [`CompactionStyle::Leveled`]. Defaults of [`LeveledOptions`].
    pub leveled_compaction: LeveledOptions,
    /// A rule consulted at compaction for each value only the newest state
    /// reads, which keeps, removes or rewrites it (RocksDB's compaction
    /// filter): see [`lsmkit_compaction::filter`] for which values it sees.
    /// A snapshot goes on reading what it read: a compaction whose filter
    /// changed a value a snapshot taken meanwhile could read is run again.
    /// Flushes and trivial moves do not consult it. Default `None`.
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// Values written more than this long ago are removed at compaction,
    /// by the write time the caller puts at the start of each value
    /// ([`ttl_value`](lsmkit_compaction::ttl_value)), read against the
    /// system clock: a [`TtlFilter`] (RocksDB's `DBWithTTL`). Values stay
    /// readable until a compaction reaches them. Default `None`; set
    /// [`compaction_filter`](Self::compaction_filter) to a `TtlFilter` of
    /// your own clock instead, or to a rule that also checks the age, to
    /// combine both (the two options together are refused).
    ///
    /// ```
    /// use std::time::Duration;
    /// use lsmkit_engine::{Db, Options, ttl_value};
    /// # let dir = tempfile::tempdir()?;
    ///
    /// let db = Db::open(dir.path(), Options::default().ttl(Duration::from_secs(3600)))?;
    /// db.put(b"session", &ttl_value(0, b"written in 1970"))?;
    /// db.compact()?;
    /// assert_eq!(db.get(b"session")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub ttl: Option<Duration>,
    /// How [`Db::merge`](crate::Db::merge) operands combine, in reads and
    /// in compactions. Default `None`: a batch holding a merge is refused
    /// ([`Error::NoMergeOperator`]). Reopen a database that holds operands
    /// with the operator that wrote them: the name of the operator is
    /// recorded in every table the database writes, and opening with
    /// another one is refused ([`Error::MergeOperatorMismatch`]). Without
    /// one, compactions keep operands as they are and reads that meet one
    /// fail with [`Error::NoMergeOperator`].
    pub merge_operator: Option<Arc<dyn MergeOperator>>,
    /// The options of keyspaces by name, applied over these when the
    /// keyspace is opened (see [`KeyspaceOptions`]); a keyspace not named
    /// here takes these. Default: none.
    pub keyspaces: BTreeMap<String, KeyspaceOptions>,
    /// Background threads for flushes and compactions (RocksDB's
    /// `max_background_jobs`): one flushes, the others compact, at least
    /// one. Compactions run concurrently, one per thread: of different
    /// keyspaces, and of one keyspace where they take no table in common
    /// and their outputs into one level answer for key ranges that do not
    /// meet. A flush never waits for a compaction. Default 2 (one flush thread, one
    /// compaction thread); at least 1.
    pub max_background_jobs: usize,
    /// The most parts a compaction is split into by key range, each merged
    /// on a thread of its own (RocksDB's `max_subcompactions`), so that one
    /// large compaction uses more than one core. A part gets at least a
    /// quarter of the style's `target_file_size` of input (16 MiB by
    /// default): smaller compactions run whole. Default 1 (no split); at
    /// least 1.
    pub max_subcompactions: usize,
    /// A budget for the memtables of every keyspace together, mutable and
    /// frozen (RocksDB's `db_write_buffer_size`). When a write brings them
    /// to it, the largest mutable memtable is switched and flushed, and
    /// writers wait while they stay at or above it with a flush on its
    /// way; so the memtables hold about this much, whatever each
    /// keyspace's `write_buffer_size`. Default 0: no budget.
    pub db_write_buffer_size: usize,
}

/// How a database compacts its sorted runs.
///
/// - **Tiered** (RocksDB's universal compaction): flushes add runs, and
///   runs of similar size are merged whole; up to
///   [`TieredOptions::trigger_runs`] runs per lookup, up to about 3 bytes
///   stored per live byte under updates, and the least rewriting.
/// - **Leveled** (RocksDB's leveled compaction with dynamic level sizes):
///   L0 holds the flushed runs, then each level is one run of tables that
///   do not overlap, about ten times the one above; one table at a time
///   moves down into the tables it overlaps. A lookup consults each L0 run
///   and one table per level, about 1.1 bytes are stored per live byte,
///   and random updates are rewritten about 2.5 times as often as under
///   tiered (see `lsmkit-compaction`'s simulator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompactionStyle {
    /// The tiered strategy, [`Options::compaction`].
    #[default]
    Tiered,
    /// The leveled strategy, [`Options::leveled_compaction`].
    Leveled,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fs: Arc::new(StdFs::new()),
            write_buffer_size: 64 << 20,
            max_immutable_memtables: 2,
            sync_writes: false,
            wal_recovery_mode: RecoveryMode::default(),
            block_size: 4096,
            block_cache_size: 64 << 20,
            bloom_bits_per_key: 10,
            compression: Compression::Lz4,
            bottommost_compression: None,
            compaction: TieredOptions::default(),
            auto_compaction: true,
            runs_slowdown_trigger: 20,
            runs_stop_trigger: 36,
            max_manifest_size: 4 << 20,
            manual_wal_flush: false,
            wal_preallocate: 1 << 20,
            wal_bytes_per_sync: 4 << 20,
            compaction_style: CompactionStyle::default(),
            leveled_compaction: LeveledOptions::default(),
            compaction_filter: None,
            ttl: None,
            merge_operator: None,
            keyspaces: BTreeMap::new(),
            max_background_jobs: 2,
            max_subcompactions: 1,
            db_write_buffer_size: 0,
        }
    }
}

impl Options {
    /// Sets [`compaction_filter`](Self::compaction_filter).
    pub fn compaction_filter(mut self, filter: Arc<dyn CompactionFilter>) -> Self {
        self.compaction_filter = Some(filter);
        self
    }

    /// Sets [`ttl`](Self::ttl).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The filter compactions consult: the configured one, or the TTL
    /// filter.
    pub(crate) fn filter(&self) -> Option<Arc<dyn CompactionFilter>> {
        match (&self.compaction_filter, self.ttl) {
            (Some(filter), _) => Some(Arc::clone(filter)),
            (None, Some(ttl)) => Some(Arc::new(TtlFilter::new(ttl))),
            (None, None) => None,
        }
    }

    /// Sets [`fs`](Self::fs).
    pub fn fs(mut self, fs: Arc<dyn Fs>) -> Self {
        self.fs = fs;
        self
    }

    /// Sets [`write_buffer_size`](Self::write_buffer_size).
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// Sets [`max_immutable_memtables`](Self::max_immutable_memtables).
    pub fn max_immutable_memtables(mut self, n: usize) -> Self {
        self.max_immutable_memtables = n;
        self
    }

    /// Sets [`sync_writes`](Self::sync_writes).
    pub fn sync_writes(mut self, durable: bool) -> Self {
        self.sync_writes = durable;
        self
    }

    /// Sets [`wal_recovery_mode`](Self::wal_recovery_mode).
    pub fn wal_recovery_mode(mut self, mode: RecoveryMode) -> Self {
        self.wal_recovery_mode = mode;
        self
    }

    /// Sets [`block_size`](Self::block_size).
    pub fn block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes;
        self
    }

    /// Sets [`block_cache_size`](Self::block_cache_size).
    pub fn block_cache_size(mut self, bytes: u64) -> Self {
        self.block_cache_size = bytes;
        self
    }

    /// Sets [`bloom_bits_per_key`](Self::bloom_bits_per_key).
    pub fn bloom_bits_per_key(mut self, bits: u32) -> Self {
        self.bloom_bits_per_key = bits;
        self
    }

    /// Sets [`compression`](Self::compression).
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets [`bottommost_compression`](Self::bottommost_compression).
    pub fn bottommost_compression(mut self, codec: Compression) -> Self {
        self.bottommost_compression = Some(codec);
        self
    }

    /// Sets [`compaction`](Self::compaction).
    pub fn compaction(mut self, compaction: TieredOptions) -> Self {
        self.compaction = compaction;
        self
    }

    /// Sets the compaction's `target_file_size`, under both styles.
    pub fn target_file_size(mut self, bytes: u64) -> Self {
        self.compaction.target_file_size = bytes;
        self.leveled_compaction.target_file_size = bytes;
        self
    }

    /// Sets [`manual_wal_flush`](Self::manual_wal_flush).
    pub fn manual_wal_flush(mut self, on: bool) -> Self {
        self.manual_wal_flush = on;
        self
    }

    /// Sets [`wal_preallocate`](Self::wal_preallocate).
    pub fn wal_preallocate(mut self, bytes: u64) -> Self {
        self.wal_preallocate = bytes;
        self
    }

    /// Sets [`wal_bytes_per_sync`](Self::wal_bytes_per_sync).
    pub fn wal_bytes_per_sync(mut self, bytes: u64) -> Self {
        self.wal_bytes_per_sync = bytes;
        self
    }

    /// Sets [`compaction_style`](Self::compaction_style).
    pub fn compaction_style(mut self, style: CompactionStyle) -> Self {
        self.compaction_style = style;
        self
    }

    /// Sets [`leveled_compaction`](Self::leveled_compaction).
    pub fn leveled_compaction(mut self, leveled: LeveledOptions) -> Self {
        self.leveled_compaction = leveled;
        self
    }

    /// Sets [`auto_compaction`](Self::auto_compaction).
    pub fn auto_compaction(mut self, on: bool) -> Self {
        self.auto_compaction = on;
        self
    }

    /// Sets [`runs_slowdown_trigger`](Self::runs_slowdown_trigger) and
    /// [`runs_stop_trigger`](Self::runs_stop_trigger).
    pub fn runs_triggers(mut self, slowdown: usize, stop: usize) -> Self {
        self.runs_slowdown_trigger = slowdown;
        self.runs_stop_trigger = stop;
        self
    }

    /// Sets [`merge_operator`](Self::merge_operator).
    pub fn merge_operator(mut self, operator: Arc<dyn MergeOperator>) -> Self {
        self.merge_operator = Some(operator);
        self
    }

    /// Sets [`db_write_buffer_size`](Self::db_write_buffer_size).
    pub fn db_write_buffer_size(mut self, bytes: usize) -> Self {
        self.db_write_buffer_size = bytes;
        self
    }

    /// Sets [`max_background_jobs`](Self::max_background_jobs).
    pub fn max_background_jobs(mut self, jobs: usize) -> Self {
        self.max_background_jobs = jobs;
        self
    }

    /// Sets [`max_subcompactions`](Self::max_subcompactions).
    pub fn max_subcompactions(mut self, parts: usize) -> Self {
        self.max_subcompactions = parts;
        self
    }

    /// Opens keyspace `name` with `options` over these (see
    /// [`keyspaces`](Self::keyspaces)).
    pub fn keyspace(mut self, name: &str, options: KeyspaceOptions) -> Self {
        self.keyspaces.insert(name.to_string(), options);
        self
    }

    /// Sets [`max_manifest_size`](Self::max_manifest_size).
    pub fn max_manifest_size(mut self, bytes: u64) -> Self {
        self.max_manifest_size = bytes;
        self
    }

    /// Checks every option against its documented range.
    pub fn validate(&self) -> Result<()> {
        let invalid = |option, what| Err(Error::InvalidOption { option, what });
        if self.write_buffer_size == 0 {
            return invalid("write_buffer_size", "must be at least 1");
        }
        if self.max_background_jobs == 0 {
            return invalid("max_background_jobs", "must be at least 1");
        }
        if self.max_subcompactions == 0 {
            return invalid("max_subcompactions", "must be at least 1");
        }
        if self.max_immutable_memtables == 0 {
            return invalid("max_immutable_memtables", "must be at least 1");
        }
        if self.block_size == 0 {
            return invalid("block_size", "must be at least 1");
        }
        if self.bloom_bits_per_key > 64 {
            return invalid("bloom_bits_per_key", "must be at most 64");
        }
        if !self.compression.is_available() {
            return invalid(
                "compression",
                "this build lacks the codec (lsmkit-sstable's lz4 or zstd feature)",
            );
        }
        if self
            .bottommost_compression
            .is_some_and(|c| !c.is_available())
        {
            return invalid(
                "bottommost_compression",
                "this build lacks the codec (lsmkit-sstable's lz4 or zstd feature)",
            );
        }
        if self.runs_stop_trigger < self.runs_slowdown_trigger {
            return invalid(
                "runs_stop_trigger",
                "must be at least runs_slowdown_trigger",
            );
        }
        if self.runs_stop_trigger <= self.compaction.trigger_runs {
            return invalid(
                "runs_stop_trigger",
                "must be above compaction.trigger_runs, or writers stop before compaction starts",
            );
        }
        let leveled = &self.leveled_compaction;
        if self.compaction_style == CompactionStyle::Leveled
            && self.runs_stop_trigger <= leveled.l0_trigger + leveled.num_levels
        {
            return invalid(
                "runs_stop_trigger",
                "must be above leveled_compaction.l0_trigger + num_levels, or writers stop before compaction starts",
            );
        }
        if self.compaction_filter.is_some() && self.ttl.is_some() {
            return invalid(
                "ttl",
                "set either ttl or compaction_filter (a TtlFilter, or a rule that checks the age too)",
            );
        }
        self.compaction.validate()?;
        self.leveled_compaction.validate()?;
        Ok(())
    }
}
