//! Keyspaces: named key spaces of one database (RocksDB's column families,
//! fjall's keyspaces). Each is a tree of its own: its memtables, its sorted
//! runs, its compactions and its table options. All of them share the one
//! WAL, the one manifest and the one sequence of sequence numbers, so that
//! a [`WriteBatch`](crate::WriteBatch) across keyspaces is one WAL record
//! (all or nothing, also across a crash) and a snapshot reads every
//! keyspace at the same point.
//!
//! # What the WAL and the manifest record
//!
//! A batch op belongs to the keyspace named by the last keyspace switch
//! before it (the default keyspace before any). The manifest records each
//! keyspace's creation (a new id from the file-number counter, never
//! reused) and drop, each table's keyspace, and per keyspace the sequence
//! number its flushes have reached. Its global flushed sequence number is
//! the WAL's low-water mark: the oldest write still only in some
//! keyspace's memtable is above it, and a WAL segment is deleted once
//! every batch in it is at or below it. So the segment goes only when
//! every keyspace has flushed past it. Recovery replays the batches above
//! the mark, each op into its keyspace's memtable if it is above that
//! keyspace's own flushed sequence number, and skips the ops of a keyspace
//! dropped since (an id below the next file number that the manifest no
//! longer lists).

use std::collections::BTreeMap;
use std::ops::{Range, RangeBounds};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use lsmkit_compaction::{CompactionFilter, LeveledOptions, MergeOperator, TieredOptions};
use lsmkit_sstable::{Compression, SstOptions};

use crate::background::lock;
use crate::batch::WriteBatch;
use crate::db::{Inner, Source, prefix_at, range_at};
use crate::db_iter::DbIter;
use crate::error::{Error, Result};
use crate::format::{self, DEFAULT_KEYSPACE, VersionEdit};
use crate::options::{CompactionStyle, Options};
use crate::running::{self, Running};
use crate::snapshot::Snapshot;
use crate::stats::Stats;
use crate::version::Version;

/// The name of the default keyspace, which every database has.
pub const DEFAULT_KEYSPACE_NAME: &str = "default";

/// One keyspace's tree: what it reads and how it writes its tables.
#[derive(Debug)]
pub(crate) struct Tree {
    pub id: u64,
    pub name: String,
    /// The database's options with the keyspace's own applied.
    pub options: Options,
    pub sst_options: SstOptions,
    /// How compactions into the oldest run write their tables.
    pub bottommost_sst_options: SstOptions,
    pub version: Mutex<Arc<Version>>,
    /// The compactions of this tree running now (see `running`).
    pub running: Mutex<Running>,
    /// Held by the one holder of [`running::exclusive`] at a time.
    pub exclusive: Mutex<()>,
    /// Set once the keyspace is dropped: writes to it fail.
    pub dropped: AtomicBool,
}

impl Tree {
    pub fn new(id: u64, name: String, options: Options, version: Version) -> Tree {
        let sst_options = SstOptions::default()
            .block_size(options.block_size)
            .bloom_bits_per_key(options.bloom_bits_per_key)
            .compression(options.compression);
        let sst_options =
            crate::merge::record_operator(sst_options, options.merge_operator.as_deref());
        let bottommost_sst_options = sst_options.clone().compression(
            options
                .bottommost_compression
                .unwrap_or(options.compression),
        );
        Tree {
            id,
            name,
            options,
            sst_options,
            bottommost_sst_options,
            version: Mutex::new(Arc::new(version)),
            running: Mutex::new(Running::default()),
            exclusive: Mutex::new(()),
            dropped: AtomicBool::new(false),
        }
    }

    /// The current version: a cheap `Arc` clone under a short lock.
    pub fn current(&self) -> Arc<Version> {
        Arc::clone(&lock(&self.version))
    }

    pub fn merge_operator(&self) -> Option<Arc<dyn MergeOperator>> {
        self.options.merge_operator.clone()
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }
}

/// Every keyspace's tree, by id; the default one also at hand.
#[derive(Debug)]
pub(crate) struct Trees {
    pub default: Arc<Tree>,
    all: RwLock<BTreeMap<u64, Arc<Tree>>>,
    /// Whether a keyspace besides the default one exists: while none does,
    /// the write path reads no lock of the map.
    others: AtomicBool,
}

impl Trees {
    /// The default tree and the others.
    pub fn new(default: Arc<Tree>, others: Vec<Arc<Tree>>) -> Trees {
        let mut all: BTreeMap<u64, Arc<Tree>> = others.into_iter().map(|t| (t.id, t)).collect();
        all.insert(default.id, Arc::clone(&default));
        Trees {
            default,
            others: AtomicBool::new(all.len() > 1),
            all: RwLock::new(all),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, Arc<Tree>>> {
        self.all
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Arc<Tree>>> {
        self.all
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Calls `f` with every tree, by id, under the map's read lock (no
    /// allocation: the write path's backpressure check runs it per write).
    /// `f` may take a tree's version lock, never create or drop one.
    pub fn each(&self, mut f: impl FnMut(&Tree)) {
        if !self.others.load(Ordering::Acquire) {
            return f(&self.default);
        }
        for tree in self.read().values() {
            f(tree);
        }
    }

    /// Every tree, by id.
    pub fn all(&self) -> Vec<Arc<Tree>> {
        self.read().values().cloned().collect()
    }

    pub fn by_id(&self, id: u64) -> Option<Arc<Tree>> {
        if id == DEFAULT_KEYSPACE {
            return Some(Arc::clone(&self.default));
        }
        self.read().get(&id).cloned()
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<Tree>> {
        self.read().values().find(|t| t.name == name).cloned()
    }

    pub fn insert(&self, tree: Arc<Tree>) {
        let mut all = self.write();
        all.insert(tree.id, tree);
        self.others.store(all.len() > 1, Ordering::Release);
    }

    pub fn remove(&self, id: u64) {
        let mut all = self.write();
        all.remove(&id);
        self.others.store(all.len() > 1, Ordering::Release);
    }
}

/// How one keyspace stores its data: each field left `None` takes the
/// database's [`Options`] value. Given to
/// [`Db::create_keyspace`](crate::Db::create_keyspace), and to
/// [`Options::keyspace`] for the opens that follow (options are not
/// stored in the database: a keyspace reopened without its own takes the
/// database's, and one whose tables name a merge operator is refused
/// without it).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct KeyspaceOptions {
    /// See [`Options::write_buffer_size`] (here: this keyspace's memtable).
    pub write_buffer_size: Option<usize>,
    /// See [`Options::block_size`].
    pub block_size: Option<usize>,
    /// See [`Options::bloom_bits_per_key`].
    pub bloom_bits_per_key: Option<u32>,
    /// See [`Options::compression`].
    pub compression: Option<Compression>,
    /// See [`Options::bottommost_compression`].
    pub bottommost_compression: Option<Compression>,
    /// See [`Options::compaction_style`].
    pub compaction_style: Option<CompactionStyle>,
    /// See [`Options::compaction`].
    pub compaction: Option<TieredOptions>,
    /// See [`Options::leveled_compaction`].
    pub leveled_compaction: Option<LeveledOptions>,
    /// See [`Options::merge_operator`].
    pub merge_operator: Option<Arc<dyn MergeOperator>>,
    /// See [`Options::compaction_filter`].
    pub compaction_filter: Option<Arc<dyn CompactionFilter>>,
    /// See [`Options::ttl`].
    pub ttl: Option<Duration>,
}

impl KeyspaceOptions {
    /// Sets [`write_buffer_size`](Self::write_buffer_size).
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = Some(bytes);
        self
    }

    /// Sets [`block_size`](Self::block_size).
    pub fn block_size(mut self, bytes: usize) -> Self {
        self.block_size = Some(bytes);
        self
    }

    /// Sets [`bloom_bits_per_key`](Self::bloom_bits_per_key).
    pub fn bloom_bits_per_key(mut self, bits: u32) -> Self {
        self.bloom_bits_per_key = Some(bits);
        self
    }

    /// Sets [`compression`](Self::compression).
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = Some(codec);
        self
    }

    /// Sets [`bottommost_compression`](Self::bottommost_compression).
    pub fn bottommost_compression(mut self, codec: Compression) -> Self {
        self.bottommost_compression = Some(codec);
        self
    }

    /// Sets [`compaction_style`](Self::compaction_style).
    pub fn compaction_style(mut self, style: CompactionStyle) -> Self {
        self.compaction_style = Some(style);
        self
    }

    /// Sets [`compaction`](Self::compaction).
    pub fn compaction(mut self, compaction: TieredOptions) -> Self {
        self.compaction = Some(compaction);
        self
    }

    /// Sets [`leveled_compaction`](Self::leveled_compaction).
    pub fn leveled_compaction(mut self, leveled: LeveledOptions) -> Self {
        self.leveled_compaction = Some(leveled);
        self
    }

    /// Sets [`merge_operator`](Self::merge_operator).
    pub fn merge_operator(mut self, operator: Arc<dyn MergeOperator>) -> Self {
        self.merge_operator = Some(operator);
        self
    }

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

    /// `base` with every field this sets, checked as `Db::open` checks.
    pub(crate) fn apply(&self, base: &Options) -> Result<Options> {
        let mut o = base.clone();
        o.keyspaces = BTreeMap::new();
        if let Some(v) = self.write_buffer_size {
            o.write_buffer_size = v;
        }
        if let Some(v) = self.block_size {
            o.block_size = v;
        }
        if let Some(v) = self.bloom_bits_per_key {
            o.bloom_bits_per_key = v;
        }
        if let Some(v) = self.compression {
            o.compression = v;
        }
        if let Some(v) = self.bottommost_compression {
            o.bottommost_compression = Some(v);
        }
        if let Some(v) = self.compaction_style {
            o.compaction_style = v;
        }
        if let Some(v) = &self.compaction {
            o.compaction = v.clone();
        }
        if let Some(v) = &self.leveled_compaction {
            o.leveled_compaction = v.clone();
        }
        if let Some(v) = &self.merge_operator {
            o.merge_operator = Some(Arc::clone(v));
        }
        // A keyspace's own rule replaces the database's, whichever kind.
        if self.compaction_filter.is_some() || self.ttl.is_some() {
            o.compaction_filter = self.compaction_filter.clone();
            o.ttl = self.ttl;
        }
        o.validate()?;
        Ok(o)
    }
}

/// A handle on one keyspace of a [`Db`](crate::Db): reads and writes of
/// its keys, which no other keyspace sees. Cheap to clone, `Send + Sync`;
/// like a [`Snapshot`] it keeps the database's state alive, not its
/// background threads. Writes through a handle of a dropped keyspace
/// fail with [`Error::KeyspaceNotFound`].
///
/// ```
/// use lsmkit_engine::{Db, KeyspaceOptions, Options, WriteBatch};
/// use lsmkit_engine::Compression;
/// # let dir = tempfile::tempdir()?;
///
/// let db = Db::open(dir.path(), Options::default())?;
/// let logs = db.create_keyspace("logs", KeyspaceOptions::default().compression(Compression::Zstd))?;
/// logs.put(b"2026-12-03", b"started")?;
/// db.put(b"2026-12-03", b"in the default keyspace")?;
/// assert_eq!(logs.get(b"2026-12-03")?, Some(b"started".to_vec()));
///
/// // One batch across keyspaces: all of it or none, also after a crash.
/// let mut batch = WriteBatch::new();
/// batch.put_in(&logs, b"2026-12-04", b"went on").delete(b"2026-12-03");
/// db.write(batch)?;
/// assert_eq!(db.get(b"2026-12-03")?, None);
/// assert_eq!(logs.iter().count(), 2);
///
/// db.close()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// assert_eq!(db.keyspace_names(), ["default", "logs"]);
/// assert_eq!(db.keyspace("logs")?.get(b"2026-12-04")?, Some(b"went on".to_vec()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyspace {
    pub(crate) source: Source,
    pub(crate) tree: Arc<Tree>,
}

impl Keyspace {
    /// The keyspace's name.
    pub fn name(&self) -> &str {
        &self.tree.name
    }

    /// The keyspace's id, as the WAL and the manifest record it.
    pub fn id(&self) -> u64 {
        self.tree.id
    }

    fn one(&self, f: impl FnOnce(&mut WriteBatch)) -> Result<()> {
        let mut batch = WriteBatch::new();
        f(&mut batch);
        self.source.write(batch, None)
    }

    /// Sets `key` to `value` in this keyspace.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.one(|b| {
            b.put_in(self, key, value);
        })
    }

    /// Merges `operand` into `key` with this keyspace's merge operator.
    pub fn merge(&self, key: &[u8], operand: &[u8]) -> Result<()> {
        self.one(|b| {
            b.merge_in(self, key, operand);
        })
    }

    /// Deletes `key` from this keyspace.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.one(|b| {
            b.delete_in(self, key);
        })
    }

    /// Deletes every key of `range` (start inclusive, end exclusive) from
    /// this keyspace.
    pub fn delete_range(&self, range: Range<&[u8]>) -> Result<()> {
        self.one(|b| {
            b.delete_range_in(self, range.start.to_vec()..range.end.to_vec());
        })
    }

    /// The newest value of `key` in this keyspace, or `None`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check()?;
        let (version, seqno) = self.source.view(&self.tree);
        version.get(key, seqno, self.tree.options.merge_operator.as_deref())
    }

    /// The value of `key` in this keyspace as of `snapshot`.
    pub fn get_at(&self, snapshot: &Snapshot, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check()?;
        self.tree.current().get(
            key,
            snapshot.seqno(),
            self.tree.options.merge_operator.as_deref(),
        )
    }

    /// The live keys of `range` in this keyspace, in key order, as of now.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        let (version, seqno) = self.source.view(&self.tree);
        range_at(range, version, seqno, self.tree.merge_operator())
    }

    /// The live keys of `range` in this keyspace as of `snapshot`.
    pub fn range_at<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        snapshot: &Snapshot,
        range: R,
    ) -> DbIter {
        range_at(
            range,
            self.tree.current(),
            snapshot.seqno(),
            self.tree.merge_operator(),
        )
    }

    /// The live keys that start with `prefix` in this keyspace, as of now.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        let (version, seqno) = self.source.view(&self.tree);
        prefix_at(prefix, version, seqno, self.tree.merge_operator())
    }

    /// Every live key of this keyspace, as of now.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }

    /// Flushes this keyspace's memtable and waits for its flush.
    pub fn flush(&self) -> Result<()> {
        let inner = self.source.writable()?;
        self.check()?;
        inner.flush_tree(&self.tree)
    }

    /// Merges every sorted run of this keyspace into one (see
    /// [`Db::compact`](crate::Db::compact)).
    pub fn compact(&self) -> Result<()> {
        self.flush()?;
        let inner = self.source.writable()?;
        crate::compact::compact_all(inner, &self.tree).map_err(|e| inner.bg.set_error(e))
    }

    /// Ingests tables into this keyspace (see [`Db::ingest`](crate::Db::ingest)).
    pub fn ingest<P: AsRef<std::path::Path>>(&self, paths: &[P]) -> Result<()> {
        let inner = self.source.writable()?;
        self.check()?;
        let paths: Vec<&std::path::Path> = paths.iter().map(AsRef::as_ref).collect();
        crate::ingest::ingest(inner, &self.tree, &paths)
    }

    /// The shape of this keyspace (its memtables and runs) and the
    /// database's counters.
    pub fn stats(&self) -> Stats {
        self.source.stats_of(&self.tree)
    }

    fn check(&self) -> Result<()> {
        if self.tree.is_dropped() {
            return Err(Error::KeyspaceNotFound {
                name: self.tree.name.clone(),
            });
        }
        Ok(())
    }
}

/// Creates keyspace `name` in `inner`: one synced manifest edit, then the
/// tree, empty.
pub(crate) fn create_keyspace(
    inner: &Inner,
    name: &str,
    options: &KeyspaceOptions,
) -> Result<Arc<Tree>> {
    inner.bg.check()?;
    if !format::valid_keyspace_name(name) {
        return Err(Error::InvalidOption {
            option: "keyspace name",
            what: "must be 1 to 255 bytes",
        });
    }
    let tree_options = options.apply(&inner.options)?;
    // Under the manifest lock: two creates of one name cannot both pass.
    let mut manifest = lock(&inner.manifest);
    if inner.trees.by_name(name).is_some() {
        return Err(Error::KeyspaceExists {
            name: name.to_string(),
        });
    }
    // From the file-number counter: an id is never handed out twice, so
    // the WAL ops of a dropped keyspace cannot be taken for a new one's.
    let id = inner.next_file.fetch_add(1, Ordering::SeqCst);
    manifest
        .append(VersionEdit {
            created_keyspaces: vec![(id, name.to_string())],
            ..VersionEdit::default()
        })
        .map_err(|e| inner.bg.set_error(e))?;
    let tree = Arc::new(Tree::new(
        id,
        name.to_string(),
        tree_options,
        Version::empty(),
    ));
    inner.trees.insert(Arc::clone(&tree));
    Ok(tree)
}

/// Drops keyspace `name` from `inner`: one synced manifest edit that
/// removes it and its tables, then the tables' files.
pub(crate) fn drop_keyspace(inner: &Inner, name: &str) -> Result<()> {
    inner.bg.check()?;
    let tree = inner
        .trees
        .by_name(name)
        .ok_or_else(|| Error::KeyspaceNotFound {
            name: name.to_string(),
        })?;
    if tree.id == DEFAULT_KEYSPACE {
        return Err(Error::InvalidOption {
            option: "keyspace",
            what: "the default keyspace cannot be dropped",
        });
    }
    // No compaction of it runs, no write into it is half done, and a flush
    // of it installs before (its table is then dropped too) or finds it
    // dropped (see `flush::install`).
    let _no_compaction = running::exclusive(inner, &tree)?;
    let mut w = lock(&inner.write);
    let mut manifest = lock(&inner.manifest);
    if tree.is_dropped() {
        return Err(Error::KeyspaceNotFound {
            name: name.to_string(),
        });
    }
    let removed: Vec<u64> = manifest
        .state()
        .tables
        .values()
        .filter(|t| t.keyspace == tree.id)
        .map(|t| t.number)
        .collect();
    manifest
        .append(VersionEdit {
            dropped_keyspaces: vec![tree.id],
            removed: removed.clone(),
            ..VersionEdit::default()
        })
        .map_err(|e| inner.bg.set_error(e))?;
    tree.dropped.store(true, Ordering::Release);
    inner.trees.remove(tree.id);
    w.mem_first.remove(&tree.id);
    drop(manifest);
    drop(w);
    let paths: Vec<std::path::PathBuf> = removed.iter().map(|&n| inner.table_path(n)).collect();
    inner.table_deletions.remove(
        &*inner.fs,
        &inner.dir,
        paths.iter().map(|p| p.as_path()),
        &inner.counters,
    );
    // Writers held back by its frozen memtables go on.
    inner.bg.notify();
    Ok(())
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace")
            .field("name", &self.tree.name)
            .field("id", &self.tree.id)
            .finish_non_exhaustive()
    }
}
