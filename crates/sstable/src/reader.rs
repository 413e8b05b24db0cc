//! [`SstReader`]: opens a table, answers point lookups, verifies it.
//!
//! Opening reads the footer, then the metaindex, properties, index, filter
//! and range-deletion blocks, and checks that every block handle lies in
//! the file and that the blocks tile it from offset 0 to the footer with no
//! gap or overlap. Data blocks are read when a lookup or an iterator first
//! needs them, and validated (checksum, structure, key order) each time
//! they are read from the file; a reader given a [`BlockCache`] keeps them
//! there, validated, and reads each from the file only on a miss.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_block::Bytewise;
use lsmkit_vfs::{Fs, RandomAccessFile};

use crate::cache::{self, BlockCache, DataBlock};
use crate::data_index::DataIndex;
use crate::error::Error;
use crate::filter::{self, Filter};
use crate::format::{BlockHandle, FOOTER_LEN, Footer};
use crate::key::{self, InternalKeyComparator, ParsedKey, SeqNo, ValueKind};
use crate::properties::Properties;
use crate::table_file::{self, MetaHandles, TableFile};
use crate::table_iter::TableIter;
use crate::tombstone::RangeTombstone;

/// What a table says about a user key at a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The newest visible version is this value.
    Found(Vec<u8>),
    /// The newest visible version is a point tombstone, or a visible range
    /// tombstone of this table covers the key and is newer than any visible
    /// version here: the key is deleted as far as this table and everything
    /// older are concerned.
    Deleted,
    /// The table says nothing about the key at this snapshot: look in older
    /// sources.
    Absent,
    /// The newest visible version is a merge operand: the table cannot
    /// answer alone. [`SstReader::get_operands`] collects the operands and
    /// what lies under them.
    Merge,
}

/// An open table. Immutable and `Sync`: share it as `Arc<SstReader>`
/// between threads; each thread makes its own iterators.
pub struct SstReader {
    table: TableFile,
    footer: Footer,
    index: DataIndex,
    filter: Option<Filter>,
    /// Sorted by start, then seqno descending (the block's order).
    tombstones: Vec<RangeTombstone>,
    properties: Properties,
    meta: MetaHandles,
    /// This reader's key in the block cache; unique in the process.
    id: u64,
    block_cache: Option<Arc<BlockCache>>,
    /// Every version of the table reads at this sequence number.
    global_seqno: Option<SeqNo>,
}

/// How an [`SstReader`] reads: where it caches blocks, and at which
/// sequence number.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ReaderOptions {
    /// The cache data blocks go through; `None` (the default) reads every
    /// block from the file. One cache is meant to be shared by all the
    /// readers of a database.
    pub block_cache: Option<Arc<BlockCache>>,
    /// Read every entry and range tombstone of the table at this sequence
    /// number, whatever the file says: how an engine gives a table written
    /// elsewhere (e.g. with sequence number 0) its place among its own
    /// writes without rewriting it, as RocksDB's ingestion does. The number
    /// lives with the engine (in its manifest), not in the file, so the
    /// file can be a hard link to the caller's. `None` (the default) reads
    /// the file's own numbers.
    ///
    /// REQUIRES: the table holds at most one version of each user key, and
    /// no value a newer range tombstone of the same table covers (at one
    /// sequence number the tombstone would no longer cover it); check with
    /// a scan before using it, as lsmkit-engine's ingestion does. At most
    /// [`MAX_SEQNO`](crate::MAX_SEQNO).
    pub global_seqno: Option<SeqNo>,
}

impl ReaderOptions {
    /// Sets [`global_seqno`](Self::global_seqno).
    pub fn global_seqno(mut self, seqno: SeqNo) -> Self {
        self.global_seqno = Some(seqno);
        self
    }

    /// Sets [`block_cache`](Self::block_cache).
    pub fn block_cache(mut self, cache: Arc<BlockCache>) -> Self {
        self.block_cache = Some(cache);
        self
    }
}

impl SstReader {
    /// Opens the table at `path` on `fs`, without a block cache.
    pub fn open(fs: &dyn Fs, path: impl Into<PathBuf>) -> Result<Arc<SstReader>, Error> {
        SstReader::open_with(fs, path, ReaderOptions::default())
    }

    /// Opens the table at `path` on `fs`, reading as `options` say.
    pub fn open_with(
        fs: &dyn Fs,
        path: impl Into<PathBuf>,
        options: ReaderOptions,
    ) -> Result<Arc<SstReader>, Error> {
        let path = path.into();
        let file = fs.open(&path).map_err(|e| Error::io(&path, e))?;
        SstReader::open_file_with(file, path, options)
    }

    /// Opens the table in `file`, without a block cache; `path` only names
    /// it in errors.
    pub fn open_file(
        file: Arc<dyn RandomAccessFile>,
        path: impl Into<PathBuf>,
    ) -> Result<Arc<SstReader>, Error> {
        SstReader::open_file_with(file, path, ReaderOptions::default())
    }

    /// Opens the table in `file`, reading as `options` say; `path` only
    /// names it in errors.
    pub fn open_file_with(
        file: Arc<dyn RandomAccessFile>,
        path: impl Into<PathBuf>,
        options: ReaderOptions,
    ) -> Result<Arc<SstReader>, Error> {
        let path = path.into();
        let len = file.len();
        let min = FOOTER_LEN as u64;
        if len < min {
            return Err(Error::TooShort {
                file: path,
                len,
                min,
            });
        }
        let footer_at = len - min;
        let mut bytes = [0u8; FOOTER_LEN];
        table_file::read_at(&*file, &path, footer_at, &mut bytes)?;
        let footer = table_file::decode_footer(&bytes, &path, footer_at)?;

        let table = TableFile {
            file,
            path,
            version: footer.version,
        };
        table.check_handle(footer.metaindex, "metaindex", footer_at)?;
        table.check_handle(footer.index, "index", footer_at + 16)?;
        let meta = table.load_metaindex(footer.metaindex)?;
        let properties = table.load_properties(&meta, &footer)?;
        let (index, data_end) = table.load_index(footer.index, &properties)?;
        table.check_tiling(&meta, &footer, data_end)?;
        let filter = table.load_filter(&meta, &properties)?;
        let mut tombstones = table.load_range_del(&meta, &footer, &properties)?;
        if let Some(seqno) = options.global_seqno {
            if seqno > key::MAX_SEQNO {
                return Err(Error::InvalidOption {
                    file: table.path.clone(),
                    option: "global_seqno",
                    what: "above the largest sequence number (2^56 - 1)",
                });
            }
            for t in &mut tombstones {
                t.seqno = seqno;
            }
        }
        Ok(Arc::new(SstReader {
            table,
            footer,
            index,
            filter,
            tombstones,
            properties,
            meta,
            id: cache::next_reader_id(),
            block_cache: options.block_cache,
            global_seqno: options.global_seqno,
        }))
    }

    /// The newest version of `user_key` visible at `snapshot`;
    /// [`Lookup::Merge`] when it is a merge operand (which
    /// [`get_operands`](Self::get_operands) collects).
    ///
    /// Consults the bloom filter first; range tombstones are honoured
    /// whether or not the filter matches.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Lookup, Error> {
        let mut operands = Vec::new();
        let below = self.get_operands(user_key, snapshot, &mut operands)?;
        Ok(if operands.is_empty() {
            below
        } else {
            Lookup::Merge
        })
    }

    /// Like [`get`](Self::get), but steps over merge operands: the values
    /// of the visible merge operands newer than the answer are appended to
    /// `operands`, newest first, and the answer says what lies under them
    /// in this table: a value (the operands' base), a deletion (no base),
    /// or nothing (look in older sources). Never [`Lookup::Merge`].
    pub fn get_operands(
        &self,
        user_key: &[u8],
        snapshot: SeqNo,
        operands: &mut Vec<Vec<u8>>,
    ) -> Result<Lookup, Error> {
        // Every version (and tombstone) of a table at a global sequence
        // number is visible, or none is.
        let snapshot = match self.global_seqno {
            Some(global) if global > snapshot => return Ok(Lookup::Absent),
            Some(_) => key::MAX_SEQNO,
            None => snapshot,
        };
        let tombstone = self.covering_tombstone(user_key, snapshot);
        let deleted_or_absent = || {
            if tombstone.is_some() {
                Lookup::Deleted
            } else {
                Lookup::Absent
            }
        };
        if let Some(filter) = &self.filter
            && !filter.may_contain(filter::digest(user_key))
        {
            return Ok(deleted_or_absent());
        }
        let mut target = Vec::with_capacity(user_key.len() + key::TRAILER_LEN);
        key::encode_seek(user_key, snapshot, &mut target);
        // The versions of a key may go on into the next blocks: every
        // later block's entries sort after the target, so the same seek
        // lands on its first entry.
        for i in self.index.seek(&target)..self.index.len() {
            let handle = self.index.handle(i);
            let (block, at) = (self.read_data_block(handle, CacheUse::Fill)?, handle.offset);
            let mut it = block.iter();
            it.seek(&target);
            while it.valid() {
                let parsed = ParsedKey::parse(it.key()).ok_or_else(|| {
                    Error::corruption(&self.table.path, at, "data block key is malformed")
                })?;
                if parsed.user_key != user_key {
                    return Ok(deleted_or_absent());
                }
                let seqno = self.global_seqno.unwrap_or(parsed.seqno);
                if tombstone.is_some_and(|t| seqno < t) {
                    return Ok(Lookup::Deleted);
                }
                match parsed.kind {
                    ValueKind::Put => return Ok(Lookup::Found(it.value().to_vec())),
                    ValueKind::Delete => return Ok(Lookup::Deleted),
                    ValueKind::Merge => operands.push(it.value().to_vec()),
                    ValueKind::RangeDelete => {
                        return Err(Error::corruption(
                            &self.table.path,
                            at,
                            "range deletion stored in a data block",
                        ));
                    }
                }
                it.next();
            }
        }
        Ok(deleted_or_absent())
    }

    /// An iterator over every entry, in internal-key order. It holds a
    /// reference to the reader, so it may outlive the caller's `Arc`.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter::new(Arc::clone(self), None, None)
    }

    /// An iterator over the entries whose user keys lie in
    /// `[lower, upper)`; `None` leaves that side open.
    pub fn range(self: &Arc<Self>, lower: Option<&[u8]>, upper: Option<&[u8]>) -> TableIter {
        TableIter::new(
            Arc::clone(self),
            lower.map(<[u8]>::to_vec),
            upper.map(<[u8]>::to_vec),
        )
    }

    /// The table's range tombstones, by start key, then newest first.
    pub fn range_tombstones(&self) -> &[RangeTombstone] {
        &self.tombstones
    }

    /// The table's properties block.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The table's footer.
    pub fn footer(&self) -> &Footer {
        &self.footer
    }

    /// The file's path, as given to `open`.
    pub fn path(&self) -> &Path {
        &self.table.path
    }

    /// The file's length.
    pub fn file_size(&self) -> u64 {
        self.table.file.len()
    }

    /// Reads and checks every block of the table, returning the first
    /// problem found: a checksum or structure error in any block, data keys
    /// out of order across blocks or outside their index separators,
    /// malformed entries, or counts and sizes that disagree with the
    /// properties.
    pub fn verify(&self) -> Result<(), Error> {
        let bytewise = [
            self.meta.filter,
            self.meta.properties,
            Some(self.footer.metaindex),
        ];
        for handle in bytewise.into_iter().flatten() {
            self.table.read_block(handle, Bytewise)?;
        }
        for handle in [self.meta.range_del, Some(self.footer.index)]
            .into_iter()
            .flatten()
        {
            self.table.read_block(handle, InternalKeyComparator)?;
        }
        crate::verify::data_blocks(self)
    }

    /// The data blocks' separators and handles.
    pub(crate) fn index(&self) -> &DataIndex {
        &self.index
    }

    /// The file, for reads that bypass the block cache.
    pub(crate) fn table(&self) -> &TableFile {
        &self.table
    }

    /// The data block at `handle` (one of the index's), from the block
    /// cache or the file as `cache` says.
    pub(crate) fn read_data_block(
        &self,
        handle: BlockHandle,
        cache: CacheUse,
    ) -> Result<DataBlock, Error> {
        let block_cache = self
            .block_cache
            .as_deref()
            .filter(|_| cache != CacheUse::Bypass);
        if let Some(block) = block_cache.and_then(|c| c.get(self.id, handle.offset)) {
            return Ok(block);
        }
        // A block that fails validation returns here, before any insert.
        let (block, _) = self.table.read_data_block(handle)?;
        if let Some(c) = block_cache.filter(|_| cache == CacheUse::Fill) {
            c.insert(self.id, handle.offset, block.clone());
        }
        Ok(block)
    }

    /// The sequence number every version of the table reads at, if the
    /// reader was opened with one ([`ReaderOptions::global_seqno`]).
    pub fn global_seqno(&self) -> Option<SeqNo> {
        self.global_seqno
    }

    /// The block cache this reader reads through, if any.
    pub fn block_cache(&self) -> Option<&Arc<BlockCache>> {
        self.block_cache.as_ref()
    }

    /// Up to `parts - 1` user keys, ascending and distinct, that cut the
    /// table's data blocks into `parts` stretches of about as many blocks
    /// each: the user keys of the block index's separators at those
    /// points. For splitting work on the table by key range (a compaction
    /// into subcompactions); read from the index in memory, no I/O.
    pub fn split_keys(&self, parts: usize) -> Vec<Vec<u8>> {
        let blocks = self.index.len();
        // At most one stretch per block: then `k * blocks / parts >= 1`.
        let parts = parts.min(blocks);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for k in 1..parts {
            let separator = self.index.separator(k * blocks / parts - 1);
            let user_key = key::user_key(separator);
            if keys.last().is_none_or(|last| last.as_slice() < user_key) {
                keys.push(user_key.to_vec());
            }
        }
        keys
    }

    /// The sequence number of the newest tombstone visible at `snapshot`
    /// that covers `user_key`.
    fn covering_tombstone(&self, user_key: &[u8], snapshot: SeqNo) -> Option<SeqNo> {
        let candidates = self
            .tombstones
            .partition_point(|t| t.start.as_slice() <= user_key);
        self.tombstones[..candidates]
            .iter()
            .filter(|t| t.visible_at(snapshot) && t.contains(user_key))
            .map(|t| t.seqno)
            .max()
    }
}

/// How a data block read uses the reader's block cache (if it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheUse {
    /// Look the block up; on a miss, read it and insert it.
    Fill,
    /// Look the block up; on a miss, read it but leave the cache as it is
    /// (a scan that would only push out blocks worth keeping).
    Peek,
    /// Read from the file whatever the cache holds (verification checks
    /// the bytes on disk).
    Bypass,
}

impl fmt::Debug for SstReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SstReader")
            .field("path", &self.table.path)
            .field("file_size", &self.table.file.len())
            .field("version", &self.footer.version)
            .field("entries", &self.properties.num_entries)
            .field("data_blocks", &self.properties.num_data_blocks)
            .field("range_tombstones", &self.tombstones.len())
            .field("cached", &self.block_cache.is_some())
            .finish()
    }
}
