//! [`Stats`]: what the database has done, for monitoring and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters updated as the database works; [`Stats`] is a copy of them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub user_bytes: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub flush_bytes: AtomicU64,
    pub compaction_bytes_read: AtomicU64,
    pub compaction_bytes_written: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    pub trivial_moves: AtomicU64,
    pub stall_micros: AtomicU64,
    pub slowdowns: AtomicU64,
    pub stops: AtomicU64,
    pub background_retries: AtomicU64,
    pub obsolete_file_errors: AtomicU64,
    pub filter_removed: AtomicU64,
    pub filter_changed: AtomicU64,
    pub filter_retries: AtomicU64,
    pub ingest_links: AtomicU64,
    pub ingest_copies: AtomicU64,
    pub budget_switches: AtomicU64,
    /// Background compactions running now.
    pub compactions_running: AtomicU64,
    pub peak_concurrent_compactions: AtomicU64,
    pub subcompactions: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A snapshot of the database's counters and shape, from
/// [`Db::stats`](crate::Db::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes of keys and values written by users since open.
    pub user_bytes: u64,
    /// Bytes of records appended to the WAL since open.
    pub wal_bytes: u64,
    /// Bytes of tables written by flushes since open.
    pub flush_bytes: u64,
    /// Bytes of tables read by compactions since open.
    pub compaction_bytes_read: u64,
    /// Bytes of tables written by compactions since open.
    pub compaction_bytes_written: u64,
    /// Memtables flushed since open.
    pub flushes: u64,
    /// Compactions run since open.
    pub compactions: u64,
    /// Of those, leveled compactions that moved a table down a level
    /// without rewriting it (it overlapped nothing there).
    pub trivial_moves: u64,
    /// Time writers spent slowed or stopped by backpressure, in
    /// microseconds.
    pub stall_micros: u64,
    /// Writes that were slowed.
    pub slowdowns: u64,
    /// Writes that were stopped until the background caught up.
    pub stops: u64,
    /// Background jobs that failed and were retried.
    pub background_retries: u64,
    /// Obsolete files (WAL segments, tables) whose removal failed; they are
    /// removed when the database is next opened.
    pub obsolete_file_errors: u64,
    /// Values the compaction filter (or the TTL) removed.
    pub filter_removed: u64,
    /// Values the compaction filter changed.
    pub filter_changed: u64,
    /// Filtered compactions run again because a snapshot taken meanwhile
    /// could have read a value the filter changed.
    pub filter_retries: u64,
    /// Tables ingested by a hard link ([`Db::ingest`](crate::Db::ingest)).
    pub ingest_links: u64,
    /// Tables ingested by a copy, where the filesystem made no link.
    pub ingest_copies: u64,
    /// The most background compactions that ran at once (of different
    /// keyspaces; see [`Options::max_background_jobs`](crate::Options::max_background_jobs)).
    pub peak_concurrent_compactions: u64,
    /// The parts of the compactions that ran split into more than one
    /// (see [`Options::max_subcompactions`](crate::Options::max_subcompactions)).
    pub subcompactions: u64,
    /// Memtables switched because every keyspace's memtables together
    /// reached [`Options::db_write_buffer_size`](crate::Options::db_write_buffer_size).
    pub budget_switches: u64,
    /// Bytes in the mutable memtable.
    pub memtable_bytes: u64,
    /// Bytes in each frozen memtable waiting for its flush, newest first.
    pub frozen_memtable_bytes: Vec<u64>,
    /// Tables per sorted run, newest run first.
    pub tables_per_run: Vec<usize>,
    /// Bytes per sorted run, newest run first.
    pub run_bytes: Vec<u64>,
    /// The level of each sorted run, newest run first: 0 for tiered and
    /// L0 runs, then the levels of a leveled tree in order.
    pub run_levels: Vec<u32>,
    /// The sequence number of the newest visible write.
    pub last_seqno: u64,
    /// Data block reads served by the block cache since open.
    pub block_cache_hits: u64,
    /// Data block reads that missed the block cache (and read the file).
    pub block_cache_misses: u64,
    /// Bytes the block cache charges for the blocks it holds now: their
    /// bytes and what holding each costs
    /// (`lsmkit_sstable::BlockCache::CHARGE_PER_BLOCK`).
    pub block_cache_bytes: u64,
}

impl Stats {
    /// Number of sorted runs.
    pub fn runs(&self) -> usize {
        self.tables_per_run.len()
    }

    /// Bytes written to the WAL and to tables per byte of keys and values
    /// written by users; 0 before any write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes == 0 {
            return 0.0;
        }
        let written = self.wal_bytes + self.flush_bytes + self.compaction_bytes_written;
        written as f64 / self.user_bytes as f64
    }
}

impl Counters {
    /// The counters, copied into `stats`.
    pub fn fill(&self, stats: &mut Stats) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        stats.user_bytes = get(&self.user_bytes);
        stats.wal_bytes = get(&self.wal_bytes);
        stats.flush_bytes = get(&self.flush_bytes);
        stats.compaction_bytes_read = get(&self.compaction_bytes_read);
        stats.compaction_bytes_written = get(&self.compaction_bytes_written);
        stats.flushes = get(&self.flushes);
        stats.compactions = get(&self.compactions);
        stats.trivial_moves = get(&self.trivial_moves);
        stats.stall_micros = get(&self.stall_micros);
        stats.slowdowns = get(&self.slowdowns);
        stats.stops = get(&self.stops);
        stats.background_retries = get(&self.background_retries);
        stats.obsolete_file_errors = get(&self.obsolete_file_errors);
        stats.filter_removed = get(&self.filter_removed);
        stats.filter_changed = get(&self.filter_changed);
        stats.filter_retries = get(&self.filter_retries);
        stats.ingest_links = get(&self.ingest_links);
        stats.ingest_copies = get(&self.ingest_copies);
        stats.peak_concurrent_compactions = get(&self.peak_concurrent_compactions);
        stats.subcompactions = get(&self.subcompactions);
        stats.budget_switches = get(&self.budget_switches);
    }
}
