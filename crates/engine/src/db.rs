//! [`Db`]: the database handle, its shared state, and the write path.

use std::collections::BTreeMap;
use std::ops::{Bound, Range, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use lsmkit_compaction::MergeOperator;
use lsmkit_memtable::Memtable;
use lsmkit_sstable::{ReaderOptions, SeqNo, ValueKind};
use lsmkit_vfs::{FileLock, Fs};
use lsmkit_wal::Wal;

use crate::background::{Background, lock};
use crate::batch::WriteBatch;
use crate::db_iter::{DbIter, bounds_of, prefix_end};
use crate::error::{Error, Result};
use crate::format::{self, DecodedBatch};
use crate::keyspace::{Keyspace, KeyspaceOptions, Tree, Trees};
use crate::manifest::Manifest;
use crate::options::Options;
use crate::read_only::ReadOnly;
use crate::snapshot::{Snapshot, SnapshotList};
use crate::stats::{Counters, Stats};
use crate::table_deletions::TableDeletions;
use crate::version::{Frozen, Version};

/// How one write is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Sync the WAL before returning (`Some(true)`), or not
    /// (`Some(false)`); `None` follows
    /// [`Options::sync_writes`](crate::Options::sync_writes).
    pub durable: Option<bool>,
}

impl WriteOptions {
    /// A write that is durable (survives a power loss) when it returns.
    pub fn durable() -> WriteOptions {
        WriteOptions {
            durable: Some(true),
        }
    }

    /// A write that survives a crash of the process but may be lost on a
    /// power loss until a later durable write or
    /// [`Db::sync_wal`](crate::Db::sync_wal).
    pub fn buffered() -> WriteOptions {
        WriteOptions {
            durable: Some(false),
        }
    }
}

/// The state the write lock guards.
#[derive(Debug)]
pub(crate) struct WriteState {
    pub last_seqno: SeqNo,
    /// Per keyspace, the sequence number of the first batch that wrote to
    /// its mutable memtable; absent while that memtable holds nothing.
    pub mem_first: BTreeMap<u64, SeqNo>,
    /// The largest sequence number of a batch in each WAL segment that
    /// holds one; a segment is obsolete once this is flushed.
    pub segment_max: BTreeMap<u64, SeqNo>,
}

/// The trees a batch writes to, each with its mutable memtable: the
/// first inline, so that a batch of one keyspace allocates nothing.
struct Targets {
    first: Option<(Arc<Tree>, Arc<Memtable>)>,
    rest: Vec<(Arc<Tree>, Arc<Memtable>)>,
}

impl Targets {
    fn iter(&self) -> impl Iterator<Item = &(Arc<Tree>, Arc<Memtable>)> {
        self.first.iter().chain(&self.rest)
    }

    fn find(&self, keyspace: u64) -> Option<&(Arc<Tree>, Arc<Memtable>)> {
        self.iter().find(|(tree, _)| tree.id == keyspace)
    }
}

/// What the handle, the snapshots, the iterators and the background
/// threads share.
pub(crate) struct Inner {
    pub fs: Arc<dyn Fs>,
    pub dir: PathBuf,
    pub options: Options,
    /// How tables are opened: through the shared block cache, if any.
    pub reader_options: ReaderOptions,
    pub wal: Wal,
    pub write: Mutex<WriteState>,
    /// The newest sequence number readers may see: every write at or below
    /// it is in the memtables.
    pub visible: AtomicU64,
    /// The keyspaces' trees: memtables, runs, table options.
    pub trees: Trees,
    pub manifest: Mutex<Manifest>,
    pub next_file: Arc<AtomicU64>,
    pub snapshots: SnapshotList,
    /// Removal of retired tables, held back while a checkpoint links.
    pub table_deletions: TableDeletions,
    pub bg: Background,
    pub counters: Counters,
}

impl Inner {
    /// The current version of `tree` and the newest visible sequence
    /// number, read together under the tree's version lock. Read apart, a
    /// compaction installed in between could have dropped a version the
    /// sequence number needs (one shadowed by a write above it); read
    /// together, every compaction in the version had only inputs at or
    /// below the sequence number.
    pub fn view(&self, tree: &Tree) -> (Arc<Version>, SeqNo) {
        let version = lock(&tree.version);
        (Arc::clone(&version), self.visible_seqno())
    }

    pub fn visible_seqno(&self) -> SeqNo {
        self.visible.load(Ordering::Acquire)
    }

    pub fn table_path(&self, number: u64) -> PathBuf {
        self.dir.join(format::table_file_name(number))
    }

    /// The tree of each keyspace the ops of `batch` write to, with its
    /// mutable memtable, checked: the keyspace exists and, for a merge,
    /// has a merge operator. REQUIRES: the write lock is held, so that no
    /// keyspace is dropped meanwhile.
    fn trees_of(&self, batch: &DecodedBatch<'_>, has_merge: bool) -> Result<Targets> {
        let mut targets = Targets {
            first: None,
            rest: Vec::new(),
        };
        let mut last: Option<u64> = None;
        for op in &batch.ops {
            // Ops of one keyspace come in runs: look up only at a switch.
            if last != Some(op.keyspace) {
                last = Some(op.keyspace);
                if targets.find(op.keyspace).is_none() {
                    // The default keyspace's tree comes without a lock.
                    let tree =
                        self.trees
                            .by_id(op.keyspace)
                            .ok_or_else(|| Error::KeyspaceNotFound {
                                name: format!("#{}", op.keyspace),
                            })?;
                    let mem = Arc::clone(&lock(&tree.version).mem);
                    match targets.first {
                        None => targets.first = Some((tree, mem)),
                        Some(_) => targets.rest.push((tree, mem)),
                    }
                }
            }
            if has_merge && op.kind == ValueKind::Merge {
                let operator = targets
                    .find(op.keyspace)
                    .and_then(|(tree, _)| tree.options.merge_operator.as_ref());
                if operator.is_none() {
                    return Err(Error::NoMergeOperator { key: None });
                }
            }
        }
        Ok(targets)
    }

    /// Applies `batch` under the write lock, then syncs the WAL if asked.
    pub fn write(&self, mut batch: WriteBatch, durable: bool) -> Result<()> {
        self.bg.check()?;
        if batch.is_empty() {
            return if durable { self.sync_wal() } else { Ok(()) };
        }
        self.bg.throttle(self)?;
        let user_bytes = batch.user_bytes();
        let has_merge = batch.has_merge();
        {
            let mut w = lock(&self.write);
            self.bg.check()?;
            let first = w.last_seqno + 1;
            let last = w.last_seqno + batch.len() as u64;
            let record = batch.record(first);
            let decoded = format::decode_batch(record).map_err(|e| {
                self.bg.set_error(Error::corruption(
                    "<write batch>",
                    e.offset as u64,
                    "write batch",
                    e.what,
                ))
            })?;
            // Refused before anything is appended: the batch is all or none.
            let trees = self.trees_of(&decoded, has_merge)?;
            let appended = self
                .wal
                .append(record)
                .map_err(|e| self.bg.set_error(e.into()))?;
            let max = w.segment_max.entry(appended.position.segment).or_default();
            *max = (*max).max(last);
            let mem_of = |keyspace: u64, _| trees.find(keyspace).map(|(_, mem)| &**mem);
            apply_batch(&decoded, mem_of).map_err(|e| self.bg.set_error(e))?;
            for (tree, _) in trees.iter() {
                w.mem_first.entry(tree.id).or_insert(first);
            }
            w.last_seqno = last;
            self.visible.store(last, Ordering::Release);
            let wal_bytes = record.len() as u64;
            let before = self
                .counters
                .wal_bytes
                .fetch_add(wal_bytes, Ordering::Relaxed);
            let every = self.options.wal_bytes_per_sync;
            if every > 0 && before / every != (before + wal_bytes) / every {
                // Wakes the WAL syncer (see `background::wal_sync_loop`).
                self.bg.notify();
            }
            Counters::add(&self.counters.user_bytes, user_bytes);
            for (tree, mem) in trees.iter() {
                if mem.approximate_memory() >= tree.options.write_buffer_size {
                    self.switch_memtable(tree, &mut w);
                }
            }
            if self.options.db_write_buffer_size > 0 {
                self.keep_to_budget(&mut w);
            }
        }
        if durable {
            self.sync_wal()?;
        }
        Ok(())
    }

    /// Switches the largest mutable memtable when the memtables of every
    /// keyspace, mutable and frozen, hold `db_write_buffer_size` bytes or
    /// more (RocksDB's write buffer manager); writers then wait in
    /// `throttle` until flushes bring the total under it. REQUIRES: the
    /// write lock is held (`w`).
    fn keep_to_budget(&self, w: &mut WriteState) {
        let mut total = 0;
        let mut largest: Option<(usize, u64)> = None;
        self.trees.each(|tree| {
            let version = lock(&tree.version);
            total += version.memory();
            let mutable = version.mem.approximate_memory();
            if !version.mem.is_empty() && largest.is_none_or(|(bytes, _)| mutable > bytes) {
                largest = Some((mutable, tree.id));
            }
        });
        if total < self.options.db_write_buffer_size {
            return;
        }
        if let Some(tree) = largest.and_then(|(_, id)| self.trees.by_id(id)) {
            Counters::add(&self.counters.budget_switches, 1);
            self.switch_memtable(&tree, w);
        }
    }

    pub fn sync_wal(&self) -> Result<()> {
        self.wal.sync().map_err(|e| self.bg.set_error(e.into()))
    }

    /// Freezes the mutable memtable of `tree` (if it holds anything) and
    /// queues it for the flush thread. REQUIRES: the write lock is held
    /// (`w`).
    pub fn switch_memtable(&self, tree: &Tree, w: &mut WriteState) {
        let mut current = lock(&tree.version);
        if current.mem.is_empty() {
            return;
        }
        current.mem.freeze();
        let frozen = Arc::new(Frozen {
            mem: Arc::clone(&current.mem),
            first_seqno: w.mem_first.remove(&tree.id).unwrap_or(w.last_seqno + 1),
            last_seqno: w.last_seqno,
        });
        let mut all_frozen = vec![frozen];
        all_frozen.extend(current.frozen.iter().cloned());
        *current = Arc::new(Version {
            mem: Arc::new(Memtable::new()),
            frozen: all_frozen,
            runs: current.runs.clone(),
        });
        drop(current);
        self.bg.notify();
    }

    /// Freezes the mutable memtable of every keyspace. REQUIRES: the write
    /// lock is held (`w`).
    pub fn switch_all(&self, w: &mut WriteState) {
        for tree in self.trees.all() {
            self.switch_memtable(&tree, w);
        }
    }

    /// Flushes the memtable of `tree` and waits until none of its frozen
    /// memtables is left.
    pub fn flush_tree(&self, tree: &Tree) -> Result<()> {
        self.bg.check()?;
        self.switch_memtable(tree, &mut lock(&self.write));
        self.bg
            .wait_until(|| tree.is_dropped() || tree.current().frozen.is_empty())
    }

    pub fn stats(&self, tree: &Tree) -> Stats {
        let mut stats = Stats::default();
        self.counters.fill(&mut stats);
        let (version, seqno) = self.view(tree);
        fill_shape(&mut stats, &version, seqno, &self.reader_options);
        stats
    }
}

/// The live keys of `range` in `version` as of `seqno`.
pub(crate) fn range_at<K: AsRef<[u8]>, R: RangeBounds<K>>(
    range: R,
    version: Arc<Version>,
    seqno: SeqNo,
    merge: Option<Arc<dyn MergeOperator>>,
) -> DbIter {
    fn as_bytes<K: AsRef<[u8]>>(bound: Bound<&K>) -> Bound<&[u8]> {
        match bound {
            Bound::Included(k) => Bound::Included(k.as_ref()),
            Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
            Bound::Unbounded => Bound::Unbounded,
        }
    }
    let (lower, upper) = bounds_of(as_bytes(range.start_bound()), as_bytes(range.end_bound()));
    DbIter::new(version, seqno, lower, upper, merge)
}

/// The live keys starting with `prefix` in `version` as of `seqno`.
pub(crate) fn prefix_at(
    prefix: &[u8],
    version: Arc<Version>,
    seqno: SeqNo,
    merge: Option<Arc<dyn MergeOperator>>,
) -> DbIter {
    let lower = (!prefix.is_empty()).then(|| prefix.to_vec());
    DbIter::new(version, seqno, lower, prefix_end(prefix), merge)
}

/// Fills the fields of `stats` that describe `version`, read at `seqno`
/// through `reader_options`.
fn fill_shape(stats: &mut Stats, version: &Version, seqno: SeqNo, reader_options: &ReaderOptions) {
    stats.memtable_bytes = version.mem.approximate_memory() as u64;
    stats.frozen_memtable_bytes = version
        .frozen
        .iter()
        .map(|f| f.mem.approximate_memory() as u64)
        .collect();
    stats.tables_per_run = version.runs.iter().map(|r| r.tables.len()).collect();
    stats.run_bytes = version.runs.iter().map(|r| r.size()).collect();
    stats.run_levels = version.runs.iter().map(|r| r.level).collect();
    stats.last_seqno = seqno;
    if let Some(cache) = &reader_options.block_cache {
        let cache = cache.stats();
        stats.block_cache_hits = cache.hits;
        stats.block_cache_misses = cache.misses;
        stats.block_cache_bytes = cache.bytes;
    }
}

/// What a handle, its snapshots and its iterators read: the live state of
/// a database open for writing, or the fixed state a read-only open
/// recovered.
#[derive(Clone)]
pub(crate) enum Source {
    Live(Arc<Inner>),
    Fixed(Arc<ReadOnly>),
}

impl Source {
    /// The current version of `tree` and the newest sequence number it may
    /// be read at (see [`Inner::view`]).
    pub fn view(&self, tree: &Tree) -> (Arc<Version>, SeqNo) {
        match self {
            Source::Live(inner) => inner.view(tree),
            Source::Fixed(fixed) => (tree.current(), fixed.seqno),
        }
    }

    /// The keyspaces' trees.
    pub fn trees(&self) -> &Trees {
        match self {
            Source::Live(inner) => &inner.trees,
            Source::Fixed(fixed) => &fixed.trees,
        }
    }

    /// The shared state of a handle that may write, or
    /// [`Error::ReadOnly`].
    pub fn writable(&self) -> Result<&Arc<Inner>> {
        match self {
            Source::Live(inner) => Ok(inner),
            Source::Fixed(fixed) => Err(Error::ReadOnly {
                path: fixed.dir.clone(),
            }),
        }
    }

    /// Writes `batch`, durable as asked (`None`: as the options say).
    pub fn write(&self, batch: WriteBatch, durable: Option<bool>) -> Result<()> {
        let inner = self.writable()?;
        inner.write(batch, durable.unwrap_or(inner.options.sync_writes))
    }

    fn dir(&self) -> &Path {
        match self {
            Source::Live(inner) => &inner.dir,
            Source::Fixed(fixed) => &fixed.dir,
        }
    }

    /// Counters, and the shape of `tree`.
    pub fn stats_of(&self, tree: &Tree) -> Stats {
        match self {
            Source::Live(inner) => inner.stats(tree),
            Source::Fixed(fixed) => {
                let mut stats = Stats::default();
                fill_shape(
                    &mut stats,
                    &tree.current(),
                    fixed.seqno,
                    &fixed.reader_options,
                );
                stats
            }
        }
    }
}

/// Inserts the ops of `batch`, op `i` at the batch's first sequence number
/// plus `i`, each into the memtable `mem_of` gives for its keyspace and
/// sequence number (none: the op is skipped).
pub(crate) fn apply_batch<'m>(
    batch: &DecodedBatch<'_>,
    mut mem_of: impl FnMut(u64, SeqNo) -> Option<&'m Memtable>,
) -> Result<()> {
    for (seqno, op) in (batch.seqno..).zip(&batch.ops) {
        let Some(mem) = mem_of(op.keyspace, seqno) else {
            continue;
        };
        match op.kind {
            ValueKind::RangeDelete => mem.delete_range(op.key, op.value, seqno)?,
            kind => mem.insert(op.key, seqno, kind, op.value)?,
        }
    }
    Ok(())
}

/// An embedded, persistent key-value store. See the [crate docs](crate) for
/// an example and the concurrency and durability contracts.
///
/// `Db` is `Send + Sync`: share it between threads with an `Arc`. Dropping
/// it stops the background threads and releases the lock, as
/// [`close`](Db::close) does, ignoring errors.
pub struct Db {
    source: Source,
    threads: Vec<JoinHandle<()>>,
    /// `None` once closed, and for a read-only handle, which takes none.
    lock: Option<Box<dyn FileLock>>,
}

impl Db {
    /// Opens the database in directory `path`, creating it if it does not
    /// exist, recovering it if it does (see the crate docs, "Recovery").
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let (inner, lock) = crate::recovery::open(path.as_ref(), options)?;
        let inner = Arc::new(inner);
        let threads = crate::background::start(&inner)?;
        Ok(Db {
            source: Source::Live(inner),
            threads,
            lock: Some(lock),
        })
    }

    /// Opens the database in directory `path` for reading only: recovers
    /// it into memory as [`open`](Db::open) would, and changes nothing on
    /// disk. It writes, renames, creates, truncates and deletes no file,
    /// takes no lock, and starts no background thread: the WAL batches
    /// not yet flushed are replayed into a memtable that lives only in
    /// this handle, a torn WAL tail is left where it is, and obsolete files
    /// stay. The handle reads the database as it was when opened; every
    /// call that would write (`put`, `delete`, `write`, `flush`,
    /// `compact`, `ingest`, `checkpoint`, `sync_wal`, ...) returns
    /// [`Error::ReadOnly`].
    ///
    /// It may be opened while another handle or process has the database
    /// open for writing. The WAL tail that writer is appending to may be
    /// cut in the middle of a record, so the log is read under
    /// [`Options::wal_recovery_mode`] except that
    /// [`RecoveryMode::AbsoluteConsistency`](crate::RecoveryMode::AbsoluteConsistency)
    /// is read as
    /// [`TolerateCorruptedTail`](crate::RecoveryMode::TolerateCorruptedTail):
    /// damage at the very end of the newest segment is where the log ends,
    /// not a corruption. A flush, compaction or manifest switch of the
    /// writer while the open reads (which may remove the WAL segment, table
    /// or manifest it is reading, or flush writes out of the WAL it has yet
    /// to list) makes it read again, up to 20 times with growing pauses,
    /// then fail; so the handle holds every write the writer acknowledged
    /// before the open began, and a gap-free prefix of the writes after.
    /// On [`StdFs`](lsmkit_vfs::StdFs) with
    /// memory maps, do not open read-only while a writer *opens* (its
    /// recovery cuts a torn WAL tail, under the map): see its memory-map
    /// caveat.
    ///
    /// A missing directory is an error (nothing is created); a directory
    /// without CURRENT reads as the empty database `open` would make of it.
    ///
    /// ```
    /// use lsmkit_engine::{Db, Error, Options};
    /// # let dir = tempfile::tempdir()?;
    ///
    /// let writer = Db::open(dir.path(), Options::default())?;
    /// writer.put(b"apple", b"red")?; // in the WAL, not yet in a table
    ///
    /// // Alongside the writer, which keeps its lock.
    /// let reader = Db::open_read_only(dir.path(), Options::default())?;
    /// assert_eq!(reader.get(b"apple")?, Some(b"red".to_vec()));
    /// assert!(matches!(reader.put(b"apple", b"green"), Err(Error::ReadOnly { .. })));
    ///
    /// // It reads the database as it was when opened.
    /// writer.put(b"banana", b"yellow")?;
    /// assert_eq!(reader.get(b"banana")?, None);
    /// reader.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let fixed = crate::read_only::open(path.as_ref(), &options)?;
        Ok(Db {
            source: Source::Fixed(Arc::new(fixed)),
            threads: Vec::new(),
            lock: None,
        })
    }

    /// Whether this handle was opened with
    /// [`open_read_only`](Db::open_read_only).
    pub fn is_read_only(&self) -> bool {
        matches!(self.source, Source::Fixed(_))
    }

    /// The shared state of a handle that may write, or
    /// [`Error::ReadOnly`].
    fn writable(&self) -> Result<&Arc<Inner>> {
        self.source.writable()
    }

    /// The keyspace named `name`, or [`Error::KeyspaceNotFound`]. The
    /// default keyspace, which every database has, is named
    /// [`"default"`](crate::DEFAULT_KEYSPACE_NAME); `put`, `get`, ... of
    /// `Db` itself read and write it.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        let tree = self
            .source
            .trees()
            .by_name(name)
            .ok_or_else(|| Error::KeyspaceNotFound {
                name: name.to_string(),
            })?;
        Ok(Keyspace {
            source: self.source.clone(),
            tree,
        })
    }

    /// The default keyspace, as a [`Keyspace`] handle.
    pub fn default_keyspace(&self) -> Keyspace {
        Keyspace {
            source: self.source.clone(),
            tree: Arc::clone(&self.source.trees().default),
        }
    }

    /// The names of every keyspace, the default one first, then in the
    /// order they were created.
    pub fn keyspace_names(&self) -> Vec<String> {
        self.source
            .trees()
            .all()
            .into_iter()
            .map(|t| t.name.clone())
            .collect()
    }

    /// Creates the keyspace `name` (1 to 255 bytes), with `options` over
    /// the database's, durably: once this returns, the keyspace survives a
    /// crash. [`Error::KeyspaceExists`] if there is one of that name.
    /// Pass the same options to [`Options::keyspace`] for later opens.
    pub fn create_keyspace(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        let inner = self.writable()?;
        let tree = crate::keyspace::create_keyspace(inner, name, &options)?;
        Ok(Keyspace {
            source: self.source.clone(),
            tree,
        })
    }

    /// Drops the keyspace `name`, durably: its data is gone (its tables
    /// deleted, its memtable's writes never replayed), its handles fail,
    /// and its name may be created again (a new, empty keyspace). The
    /// default keyspace cannot be dropped ([`Error::InvalidOption`]).
    pub fn drop_keyspace(&self, name: &str) -> Result<()> {
        let inner = self.writable()?;
        crate::keyspace::drop_keyspace(inner, name)
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(key.len() + value.len());
        batch.put(key, value);
        self.write(batch)
    }

    /// Merges `operand` into the value of `key` with the configured
    /// [`merge_operator`](crate::Options::merge_operator) (see
    /// [`WriteBatch::merge`]); [`Error::NoMergeOperator`] without one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsmkit_engine::{Db, Options, U64Add};
    /// # let dir = tempfile::tempdir()?;
    ///
    /// let db = Db::open(dir.path(), Options::default().merge_operator(Arc::new(U64Add)))?;
    /// db.merge(b"hits", &U64Add::operand(2))?;
    /// db.merge(b"hits", &U64Add::operand(3))?;
    /// assert_eq!(db.get(b"hits")?, Some(5u64.to_le_bytes().to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn merge(&self, key: &[u8], operand: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(key.len() + operand.len());
        batch.merge(key, operand);
        self.write(batch)
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::with_capacity(key.len());
        batch.delete(key);
        self.write(batch)
    }

    /// Deletes every key in `range` (start inclusive, end exclusive).
    pub fn delete_range(&self, range: Range<&[u8]>) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete_range(range.start.to_vec()..range.end.to_vec());
        self.write(batch)
    }

    /// Applies `batch` atomically, durable as
    /// [`Options::sync_writes`](crate::Options::sync_writes) says.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_with(batch, WriteOptions::default())
    }

    /// Applies `batch` atomically, durable as `options` say.
    pub fn write_with(&self, batch: WriteBatch, options: WriteOptions) -> Result<()> {
        self.source.write(batch, options.durable)
    }

    /// Makes every write so far durable.
    pub fn sync_wal(&self) -> Result<()> {
        let inner = self.writable()?;
        inner.bg.check()?;
        inner.sync_wal()
    }

    /// The newest value of `key`, or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tree = &self.source.trees().default;
        let (version, seqno) = self.source.view(tree);
        version.get(key, seqno, tree.options.merge_operator.as_deref())
    }

    /// A consistent view of the database as it is now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.source.clone())
    }

    /// The live keys of `range`, in key order (`.rev()` for descending),
    /// as of now.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        let tree = &self.source.trees().default;
        let (version, seqno) = self.source.view(tree);
        range_at(range, version, seqno, tree.merge_operator())
    }

    /// The live keys that start with `prefix`, as of now.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        let tree = &self.source.trees().default;
        let (version, seqno) = self.source.view(tree);
        prefix_at(prefix, version, seqno, tree.merge_operator())
    }

    /// Every live key, as of now.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }

    /// Hands the WAL records still buffered under
    /// [`Options::manual_wal_flush`](crate::Options::manual_wal_flush) to
    /// the OS, so that a crash of the process no longer loses them (a crash
    /// of the machine still may: [`sync_wal`](Self::sync_wal) makes them
    /// durable). Without that option there is nothing to do.
    pub fn flush_wal(&self) -> Result<()> {
        let inner = self.writable()?;
        inner.bg.check()?;
        inner.wal.flush().map_err(|e| inner.bg.set_error(e.into()))
    }

    /// Flushes the memtable of every keyspace to a table and waits until
    /// every frozen memtable is flushed.
    pub fn flush(&self) -> Result<()> {
        let inner = self.writable()?;
        inner.bg.check()?;
        inner.switch_all(&mut lock(&inner.write));
        inner.bg.wait_flushed(inner)
    }

    /// Flushes, then waits until automatic compaction has nothing left to
    /// do (RocksDB's `WaitForCompact`), so that what follows runs against
    /// settled files: a benchmark's reads, say. With
    /// [`auto_compaction`](crate::Options::auto_compaction) off it only
    /// flushes. Writes meanwhile may start more work; it waits for that
    /// too.
    pub fn wait_for_compactions(&self) -> Result<()> {
        self.flush()?;
        let inner = self.writable()?;
        inner.bg.wait_settled(inner)
    }

    /// Flushes, then merges every sorted run of each keyspace into one (a
    /// full, bottommost compaction that keeps what live snapshots need),
    /// and waits for it.
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        let inner = self.writable()?;
        for tree in inner.trees.all() {
            crate::compact::compact_all(inner, &tree).map_err(|e| inner.bg.set_error(e))?;
        }
        Ok(())
    }

    /// Ingests the tables at `paths` (on the database's filesystem), built
    /// outside the database with
    /// [`SstWriter`](lsmkit_sstable::SstWriter), atomically: after any
    /// crash, all of them are in the database or none is.
    ///
    /// The files' contents become one write, newer than everything in the
    /// database: they take one new sequence number (whatever sequence
    /// numbers they were written with), so snapshots taken before do not
    /// see them, and writes after override them. A point tombstone or a
    /// range tombstone in a file deletes the older data of the database.
    /// The files enter unchanged: each is hard-linked into the database
    /// directory (copied where the filesystem makes no link, e.g. across
    /// devices), and read at the new sequence number, which the manifest
    /// records beside it (RocksDB's global sequence number). The
    /// originals are left as they are; do not write to them afterwards (a
    /// link shares their bytes), but removing or renaming them is safe.
    ///
    /// Refused, before anything changes, with:
    /// - [`Error::IngestInvalid`]: a file is missing, not a table, damaged
    ///   (every block is verified), or uses another comparator;
    /// - [`Error::IngestUnorderable`]: a file holds two versions of a key,
    ///   or a value a newer range tombstone of the same file deletes;
    /// - [`Error::IngestOverlap`]: two files overlap in user keys (range
    ///   tombstones count).
    ///
    /// A file with no entries and no range tombstones is skipped. Writers
    /// go on while the files are validated, linked and the memtables
    /// flushed; they wait only while what they wrote meanwhile is flushed
    /// and the manifest edit is written. Keep the
    /// files outside the database directory: the engine owns the names
    /// there.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use lsmkit_engine::{Db, Options};
    /// use lsmkit_sstable::{SstOptions, SstWriter};
    /// use lsmkit_vfs::StdFs;
    /// # let dir = tempfile::tempdir()?;
    ///
    /// // Built elsewhere, sorted by key; the sequence numbers do not matter.
    /// let bulk = dir.path().join("bulk.sst");
    /// let mut writer = SstWriter::create(Arc::new(StdFs::new()), &bulk, SstOptions::default())?;
    /// writer.put(b"apple", 0, b"green")?;
    /// writer.put(b"cherry", 0, b"dark")?;
    /// writer.finish()?;
    ///
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put(b"apple", b"red")?;
    /// let before = db.snapshot();
    /// db.ingest(&[&bulk])?;
    /// assert_eq!(db.get(b"apple")?, Some(b"green".to_vec())); // newer than the put
    /// assert_eq!(before.get(b"cherry")?, None);
    /// db.put(b"cherry", b"red")?; // and older than what follows
    /// assert_eq!(db.get(b"cherry")?, Some(b"red".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ingest<P: AsRef<Path>>(&self, paths: &[P]) -> Result<()> {
        let inner = self.writable()?;
        let paths: Vec<&Path> = paths.iter().map(AsRef::as_ref).collect();
        crate::ingest::ingest(inner, &inner.trees.default, &paths)
    }

    /// Writes a consistent copy of the database into directory `dir` (on
    /// the database's filesystem), which must not exist or be empty: a
    /// database [`open`](Db::open) opens, holding every write acknowledged
    /// before the call began and, of those that raced it, a prefix in
    /// sequence-number order.
    ///
    /// The memtable is flushed first, so that the copy needs no WAL; then,
    /// holding back the removal of tables compactions retire (not writers,
    /// flushes or compactions), every live table is hard-linked into `dir`
    /// (copied, and the copy synced, where linking fails: across
    /// filesystems, say), a fresh manifest is written and synced, the
    /// directory is synced, and last CURRENT is written, so that a crash
    /// leaves either the whole copy or a directory without CURRENT, which
    /// `open` refuses when it holds tables (or opens as an empty database
    /// when it holds none). After a failed checkpoint, remove `dir` before
    /// trying again.
    ///
    /// ```
    /// use lsmkit_engine::{Db, Options};
    /// # let dir = tempfile::tempdir()?;
    ///
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put(b"apple", b"red")?;
    /// db.checkpoint(dir.path().join("copy"))?;
    /// db.put(b"banana", b"yellow")?; // after the checkpoint: not in it
    ///
    /// let copy = Db::open(dir.path().join("copy"), Options::default())?;
    /// assert_eq!(copy.get(b"apple")?, Some(b"red".to_vec()));
    /// assert_eq!(copy.get(b"banana")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        crate::checkpoint::checkpoint(self.writable()?, dir.as_ref())
    }

    /// Counters and the current shape of the default keyspace (a
    /// read-only handle counts nothing: its counters are zero; see
    /// [`Keyspace::stats`] for another keyspace's shape).
    pub fn stats(&self) -> Stats {
        self.source.stats_of(&self.source.trees().default)
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        self.source.dir()
    }

    /// Stops the background threads (letting a running flush or compaction
    /// finish), syncs the WAL, and releases the lock. Flushes nothing: the
    /// WAL protects the memtable, and the next open replays it. Returns
    /// the first background error, if there was one.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        let Source::Live(inner) = &self.source else {
            return Ok(());
        };
        inner.bg.shut_down();
        let mut panicked = false;
        for thread in self.threads.drain(..) {
            panicked |= thread.join().is_err();
        }
        let synced = inner.wal.sync();
        self.lock = None;
        // A thread that panicked has made that the background error.
        inner.bg.check_error()?;
        if panicked {
            return Err(Error::Closed);
        }
        synced.map_err(Error::from)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.lock.is_some() {
            // Errors were for `close` to report; dropping can only stop.
            let _ = self.shutdown();
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.path())
            .field(
                "last_seqno",
                &self.source.view(&self.source.trees().default).1,
            )
            .field("read_only", &self.is_read_only())
            .finish_non_exhaustive()
    }
}
