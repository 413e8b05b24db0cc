//! [`BlockCache`]: validated data blocks shared by any number of readers.
//!
//! A data block read from a table is copied out of the file and validated
//! (checksum, structure, key order) before anything trusts it. The cache
//! keeps the result, an `lsmkit_block::Block` (a reference-counted buffer),
//! so that a hit costs a hash lookup and a reference-count increment: no
//! copy, no checksum, no validation. Only blocks that validated are ever
//! inserted, so a corrupt block is reported on every read of it.
//!
//! Entries are keyed by `(reader id, block offset)`. Every [`SstReader`]
//! takes a process-wide unique id when it opens, so two readers — of two
//! tables, or of one file opened twice — never see each other's blocks, and
//! a table re-created under the same path is never served stale blocks.
//!
//! [`SstReader`]: crate::SstReader

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use lsmkit_block::Block;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::key::InternalKeyComparator;

/// A data block as cached and read: validated, cheap to clone.
pub(crate) type DataBlock = Block<InternalKeyComparator>;

/// `(reader id, block offset)`.
type BlockKey = (u64, u64);

/// A block costs the memory it holds: its bytes, trailer included, the
/// reference counts allocated in front of them, and its entry in the
/// cache (key, handle and the cache's slot).
#[derive(Clone, Copy, Debug, Default)]
struct BlockSize;

impl Weighter<BlockKey, DataBlock> for BlockSize {
    fn weight(&self, _key: &BlockKey, block: &DataBlock) -> u64 {
        block.as_bytes().len() as u64 + BlockCache::CHARGE_PER_BLOCK
    }
}

/// The size we plan the cache's hash tables for; only a hint.
const TYPICAL_BLOCK: u64 = 4096;

/// A concurrent cache of validated data blocks, bounded in bytes, shared by
/// readers (and threads) through an `Arc`.
///
/// Give it to readers with
/// [`SstReader::open_with`](crate::SstReader::open_with); readers opened
/// without one read every block from the file. Each block is charged its
/// size and what holding it costs (its reference counts and cache
/// entry: [`CHARGE_PER_BLOCK`](Self::CHARGE_PER_BLOCK), 80 bytes on a
/// 64-bit target); the index, filter and range tombstones of an open
/// table are held by its reader for its whole life and are not charged
/// here.
/// Eviction is S3-FIFO (by `quick_cache`): one pass of a large scan does
/// not flush blocks that are read repeatedly. Blocks of a dropped reader
/// are never read again and age out like any cold block.
///
/// ```
/// use std::sync::Arc;
/// use lsmkit_sstable::{BlockCache, ReaderOptions, SstOptions, SstReader, SstWriter, Lookup};
/// use lsmkit_vfs::{Fs, MemFs};
///
/// let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
/// let mut writer = SstWriter::create(fs.clone(), "/t.sst", SstOptions::default())?;
/// writer.put(b"k", 1, b"v")?;
/// writer.finish()?;
///
/// let cache = Arc::new(BlockCache::new(64 << 20)); // 64 MiB, for all tables
/// let options = ReaderOptions::default().block_cache(cache.clone());
/// let table = SstReader::open_with(&*fs, "/t.sst", options)?;
/// assert_eq!(table.get(b"k", 1)?, Lookup::Found(b"v".to_vec())); // read, cached
/// assert_eq!(table.get(b"k", 1)?, Lookup::Found(b"v".to_vec())); // from the cache
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.blocks), (1, 1, 1));
/// # Ok::<(), lsmkit_sstable::Error>(())
/// ```
pub struct BlockCache {
    blocks: Cache<BlockKey, DataBlock, BlockSize>,
    inserts: AtomicU64,
}

/// A snapshot of a [`BlockCache`]'s counters and contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found their block.
    pub hits: u64,
    /// Lookups that did not (each then read the file).
    pub misses: u64,
    /// Blocks inserted after a miss (misses of reads that do not fill the
    /// cache insert nothing).
    pub inserts: u64,
    /// Blocks held now.
    pub blocks: u64,
    /// Bytes charged for the blocks held now.
    pub bytes: u64,
    /// The most bytes the cache holds.
    pub capacity: u64,
}

impl BlockCache {
    /// What a cached block is charged besides its bytes: its `Arc`'s two
    /// reference counts, and the cache's entry with its slot metadata
    /// (about a word).
    pub const CHARGE_PER_BLOCK: u64 =
        (16 + std::mem::size_of::<(BlockKey, DataBlock)>() + 8) as u64;

    /// A cache holding up to about `capacity` bytes of blocks.
    ///
    /// The capacity is split among internal shards, each with its own
    /// lock, so that threads rarely contend; a shard holds at least 32
    /// blocks of 4 KiB, so small caches have one shard. A block larger than
    /// its shard's share is never kept.
    pub fn new(capacity: u64) -> BlockCache {
        let items = usize::try_from(capacity / TYPICAL_BLOCK)
            .unwrap_or(usize::MAX)
            .max(16);
        BlockCache {
            blocks: Cache::with_weighter(items, capacity, BlockSize),
            inserts: AtomicU64::new(0),
        }
    }

    /// The most bytes the cache holds.
    pub fn capacity(&self) -> u64 {
        self.blocks.capacity()
    }

    /// Its counters and size now.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.blocks.hits(),
            misses: self.blocks.misses(),
            inserts: self.inserts.load(Ordering::Relaxed),
            blocks: self.blocks.len() as u64,
            bytes: self.blocks.weight(),
            capacity: self.blocks.capacity(),
        }
    }

    /// Drops every block (counters are kept).
    pub fn clear(&self) {
        self.blocks.clear();
    }

    pub(crate) fn get(&self, reader: u64, offset: u64) -> Option<DataBlock> {
        self.blocks.get(&(reader, offset))
    }

    /// REQUIRES: `block` validated (it came from `Block::new`).
    pub(crate) fn insert(&self, reader: u64, offset: u64, block: DataBlock) {
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.blocks.insert((reader, offset), block);
    }
}

impl fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A process-wide unique id for a newly opened reader.
pub(crate) fn next_reader_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
