//! [`SstWriter`]: streams sorted entries into a table file and publishes it
//! atomically.
//!
//! Entries go into a data block until the next one would take it past its
//! bound (`block_size` less a cached block's reference counts); the
//! block is then written out and remembered in the index by a short
//! separator key, chosen once the next block's first key is known. Memory
//! is one data block, the index, 8 bytes per distinct user key for the
//! filter, and the range tombstones, never the table.
//!
//! The table is written under a temporary name (`<path>.tmp`), synced,
//! renamed to `path`, and the directory synced: a crash at any point leaves
//! no file under `path` or a complete one.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lsmkit_block::{BlockBuilder, BlockOptions, Bytewise, Comparator};
use lsmkit_vfs::{Fs, WritableFile};

use crate::compression::{self, Compressor};
use crate::error::Error;
use crate::filter::{self, FilterBuilder};
use crate::format::{
    self, BlockHandle, Compression, Footer, FormatVersion, MAX_COMPRESSED_RAW_LEN, META_FILTER,
    META_PROPERTIES, META_RANGE_DEL,
};
use crate::key::{self, InternalKeyComparator, MAX_SEQNO, ParsedKey, SeqNo, ValueKind};
use crate::properties::Properties;
use crate::tombstone::RangeTombstone;

/// How an [`SstWriter`] lays out its table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SstOptions {
    /// The most bytes a data block takes in memory, once read and
    /// decompressed: blocks are cut before the entry that would take them
    /// past it, less the 16 bytes of reference counts a cached block
    /// carries (a block larger than this holds a single entry). Default
    /// 4096.
    pub block_size: usize,
    /// Entries between full keys within a data block. Default 16.
    pub restart_interval: usize,
    /// Bits of bloom filter per distinct user key; 0 writes no filter.
    /// Default 10 (about 1% false positives). At most 64.
    pub bloom_bits_per_key: u32,
    /// The creation time to record, in seconds since the Unix epoch; `None`
    /// records the current time. Fix it to make a table reproducible.
    pub creation_time: Option<u64>,
    /// Properties to store in the table, readable with
    /// [`SstReader::properties`](crate::SstReader::properties).
    pub user_properties: BTreeMap<String, Vec<u8>>,
    /// The format version to write. Default [`FormatVersion::LATEST`];
    /// [`FormatVersion::V1`] writes tables that readers predating version 2
    /// can read (without compression: a V1 table with `compression` other
    /// than `None` is refused).
    pub format_version: FormatVersion,
    /// The codec data blocks are compressed with. Default
    /// [`Compression::None`]. Index, filter and other meta blocks are never
    /// compressed: they are read once, when the table opens.
    pub compression: Compression,
    /// The Zstandard level, 1 (fastest) to 22 (smallest); negative levels
    /// trade more size for speed. Default 3, as the `zstd` tool's.
    pub zstd_level: i32,
    /// A compressed block is kept only if it saves at least this many
    /// thousandths of the block's size; otherwise the block is stored raw,
    /// sparing every later read a decompression that gains little. Default
    /// 125 (12.5%, RocksDB's rule); 0 keeps every block that compresses at
    /// all. At most 1000.
    pub compression_min_savings_permille: u32,
}

impl Default for SstOptions {
    fn default() -> Self {
        SstOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            creation_time: None,
            user_properties: BTreeMap::new(),
            format_version: FormatVersion::LATEST,
            compression: Compression::None,
            zstd_level: 3,
            compression_min_savings_permille: 125,
        }
    }
}

impl SstOptions {
    /// Sets [`block_size`](Self::block_size).
    pub fn block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes;
        self
    }

    /// Sets [`restart_interval`](Self::restart_interval).
    pub fn restart_interval(mut self, entries: usize) -> Self {
        self.restart_interval = entries;
        self
    }

    /// Sets [`bloom_bits_per_key`](Self::bloom_bits_per_key), capped at 64.
    pub fn bloom_bits_per_key(mut self, bits: u32) -> Self {
        self.bloom_bits_per_key = bits.min(64);
        self
    }

    /// Sets [`creation_time`](Self::creation_time).
    pub fn creation_time(mut self, seconds: u64) -> Self {
        self.creation_time = Some(seconds);
        self
    }

    /// Sets [`format_version`](Self::format_version).
    pub fn format_version(mut self, version: FormatVersion) -> Self {
        self.format_version = version;
        self
    }

    /// Sets [`compression`](Self::compression).
    pub fn compression(mut self, codec: Compression) -> Self {
        self.compression = codec;
        self
    }

    /// Sets [`zstd_level`](Self::zstd_level).
    pub fn zstd_level(mut self, level: i32) -> Self {
        self.zstd_level = level;
        self
    }

    /// Sets [`compression_min_savings_permille`](Self::compression_min_savings_permille),
    /// capped at 1000.
    pub fn compression_min_savings_permille(mut self, permille: u32) -> Self {
        self.compression_min_savings_permille = permille.min(1000);
        self
    }

    /// Adds a user property.
    pub fn user_property(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.user_properties.insert(name.into(), value.into());
        self
    }
}

/// What [`SstWriter::finish`] wrote: enough to use the table without
/// reopening it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableMeta {
    /// Where the table now is.
    pub path: PathBuf,
    /// Its length in bytes.
    pub file_size: u64,
    /// The footer as written (index and metaindex handles, version).
    pub footer: Footer,
    /// The filter block, if any.
    pub filter: Option<BlockHandle>,
    /// The range-deletion block, if any.
    pub range_del: Option<BlockHandle>,
    /// The properties block.
    pub properties_handle: BlockHandle,
    /// The properties as stored.
    pub properties: Properties,
}

/// Writes one table from entries in internal-key order.
///
/// Create it with [`SstWriter::create`], feed it with [`add`](Self::add)
/// (or [`put`](Self::put) / [`delete`](Self::delete)) and
/// [`add_range_tombstone`](Self::add_range_tombstone), then
/// [`finish`](Self::finish) to publish the table or
/// [`abort`](Self::abort) to throw it away. Dropping an unfinished writer
/// aborts it.
///
/// After an I/O error the writer is failed: every later call returns
/// [`Error::Failed`] holding the first error, and `finish` cleans up.
#[derive(Debug)]
pub struct SstWriter {
    fs: Arc<dyn Fs>,
    path: PathBuf,
    tmp_path: PathBuf,
    /// `None` once finished or aborted.
    file: Option<Box<dyn WritableFile>>,
    offset: u64,
    /// The most bytes a data block may take, unless one entry alone is
    /// larger: see [`block_limit`].
    block_limit: usize,
    data: BlockBuilder<InternalKeyComparator>,
    index: BlockBuilder<InternalKeyComparator>,
    /// The last data block written, waiting for the next key to choose its
    /// index separator.
    pending: Option<BlockHandle>,
    last_key: Vec<u8>,
    filter: Option<FilterBuilder>,
    tombstones: Vec<RangeTombstone>,
    props: Properties,
    failed: Option<Error>,
    scratch: Vec<u8>,
    version: FormatVersion,
    /// `None` when data blocks are stored raw.
    compressor: Option<Compressor>,
    min_savings_permille: u32,
    /// The envelope of the data block being written (version 2).
    envelope: Vec<u8>,
}

impl SstWriter {
    /// Starts a table that [`finish`](Self::finish) will publish at `path`.
    /// The bytes go to `<path>.tmp` until then (replacing any file there).
    pub fn create(
        fs: Arc<dyn Fs>,
        path: impl Into<PathBuf>,
        options: SstOptions,
    ) -> Result<SstWriter, Error> {
        let path = path.into();
        let version = options.format_version;
        let codec = options.compression;
        let invalid = |option, what| Error::InvalidOption {
            file: path.clone(),
            option,
            what,
        };
        if version == FormatVersion::V1 && codec != Compression::None {
            return Err(invalid(
                "compression",
                "format version 1 stores data blocks raw only",
            ));
        }
        let compressor = match codec {
            Compression::None => None,
            _ if !compression::available(codec) => {
                return Err(Error::CodecUnavailable {
                    file: path,
                    offset: 0,
                    codec,
                });
            }
            _ => Some(
                Compressor::new(codec, options.zstd_level)
                    .ok_or_else(|| invalid("zstd_level", "refused by the Zstandard library"))?,
            ),
        };
        let tmp_path = tmp_path(&path);
        let file = fs.create(&tmp_path).map_err(|e| Error::io(&tmp_path, e))?;
        let bits = options.bloom_bits_per_key.min(64);
        let creation_time = options.creation_time.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let data_options = BlockOptions {
            restart_interval: options.restart_interval,
            target_size: options.block_size,
        };
        // Every index key stored whole: the index is binary-searched on
        // every lookup, and shortened separators leave little to compress.
        let index_options = BlockOptions {
            restart_interval: 1,
            target_size: 4096,
        };
        Ok(SstWriter {
            fs,
            path,
            tmp_path,
            file: Some(file),
            offset: 0,
            block_limit: block_limit(options.block_size),
            data: BlockBuilder::with_options(InternalKeyComparator, data_options),
            index: BlockBuilder::with_options(InternalKeyComparator, index_options),
            pending: None,
            last_key: Vec::new(),
            filter: (bits > 0).then(|| FilterBuilder::new(bits, version)),
            tombstones: Vec::new(),
            props: Properties {
                format_version: version as u32,
                compression: codec,
                comparator: InternalKeyComparator.name().to_string(),
                creation_time,
                filter_bits_per_key: u64::from(bits),
                user: options.user_properties,
                ..Properties::default()
            },
            failed: None,
            scratch: Vec::new(),
            version,
            compressor,
            min_savings_permille: options.compression_min_savings_permille.min(1000),
            envelope: Vec::new(),
        })
    }

    /// Adds an entry: `internal_key` (see [`crate::key`]) of kind `Put` or
    /// `Delete`, strictly greater than the previous entry's key.
    ///
    /// An out-of-order or invalid key is refused with
    /// [`Error::OutOfOrder`] or [`Error::InvalidKey`] and leaves the writer
    /// as it was.
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.check_usable()?;
        let parsed = ParsedKey::parse(internal_key)
            .ok_or_else(|| self.invalid(internal_key, "shorter than 8 bytes or of unknown kind"))?;
        if parsed.kind == ValueKind::RangeDelete {
            return Err(self.invalid(internal_key, "range deletions go in add_range_tombstone"));
        }
        let first = self.props.num_entries == 0;
        if !first && key::compare(internal_key, &self.last_key) != Ordering::Greater {
            return Err(Error::OutOfOrder {
                file: self.path.clone(),
                entry: self.props.num_entries,
                previous: self.last_key.clone(),
                key: internal_key.to_vec(),
            });
        }
        // An entry that would take the block past its bound starts the
        // next block instead.
        if !self.data.is_empty()
            && self.data.estimated_size_with(internal_key, value) > self.block_limit
        {
            self.flush_data_block()?;
        }
        // Into the block first: if it refuses the entry (only a value of
        // gigabytes can), nothing of the entry has been recorded (a cut
        // just above may have written the block before it, whole).
        self.data
            .add(internal_key, value)
            .map_err(|source| Error::Block {
                file: self.path.clone(),
                offset: self.offset,
                source,
            })?;
        if let Some(handle) = self.pending.take() {
            InternalKeyComparator.separator(&self.last_key, internal_key, &mut self.scratch);
            self.add_index_entry(handle)?;
        }
        let new_user_key = first || key::user_key(&self.last_key) != parsed.user_key;
        if new_user_key && let Some(filter) = &mut self.filter {
            filter.add(parsed.user_key);
        }
        self.props
            .count_entry(&parsed, internal_key.len(), value.len());
        self.last_key.clear();
        self.last_key.extend_from_slice(internal_key);
        if self.data.estimated_size() >= self.block_limit {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Adds the value `value` of `user_key` at `seqno`.
    pub fn put(&mut self, user_key: &[u8], seqno: SeqNo, value: &[u8]) -> Result<(), Error> {
        self.add_version(user_key, seqno, ValueKind::Put, value)
    }

    /// Adds a point tombstone for `user_key` at `seqno`.
    pub fn delete(&mut self, user_key: &[u8], seqno: SeqNo) -> Result<(), Error> {
        self.add_version(user_key, seqno, ValueKind::Delete, b"")
    }

    /// Records a range tombstone, in any order relative to entries and to
    /// other tombstones. An empty range is ignored; two tombstones with the
    /// same start and sequence number are stored as one, with the larger
    /// end (they delete the same keys).
    pub fn add_range_tombstone(&mut self, tombstone: &RangeTombstone) -> Result<(), Error> {
        self.check_usable()?;
        if tombstone.seqno > MAX_SEQNO {
            let mut key = Vec::new();
            key.extend_from_slice(&tombstone.start);
            return Err(self.invalid(&key, "sequence number exceeds 56 bits"));
        }
        if !tombstone.is_empty() {
            self.tombstones.push(tombstone.clone());
        }
        Ok(())
    }

    /// Entries added so far.
    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Bytes written to the file so far (whole blocks only).
    pub fn file_size(&self) -> u64 {
        self.offset
    }

    /// Where the table will be published.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the rest of the table, syncs it, and publishes it at its path
    /// with a rename and a directory sync. On error, the temporary file is
    /// removed and nothing is left under the path.
    pub fn finish(mut self) -> Result<TableMeta, Error> {
        match self.write_tail() {
            Ok(meta) => Ok(meta),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Throws the table away: closes and removes the temporary file.
    pub fn abort(mut self) -> Result<(), Error> {
        self.file = None;
        self.fs
            .remove(&self.tmp_path)
            .map_err(|e| Error::io(&self.tmp_path, e))
    }

    fn add_version(
        &mut self,
        user_key: &[u8],
        seqno: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) -> Result<(), Error> {
        if seqno > MAX_SEQNO {
            return Err(self.invalid(user_key, "sequence number exceeds 56 bits"));
        }
        let mut ikey = std::mem::take(&mut self.scratch);
        ikey.clear();
        key::encode(user_key, seqno, kind, &mut ikey);
        let result = self.add(&ikey, value);
        self.scratch = ikey;
        result
    }

    fn invalid(&self, key: &[u8], reason: &'static str) -> Error {
        Error::InvalidKey {
            file: self.path.clone(),
            key: key.to_vec(),
            reason,
        }
    }

    fn check_usable(&self) -> Result<(), Error> {
        match (&self.failed, &self.file) {
            (Some(first), _) => Err(Error::Failed {
                file: self.path.clone(),
                first: Box::new(first.clone()),
            }),
            (None, Some(_)) => Ok(()),
            (None, None) => Err(Error::corruption(
                &self.path,
                self.offset,
                "writer used after it finished",
            )),
        }
    }

    /// Adds `self.scratch` as the index key of `handle`.
    fn add_index_entry(&mut self, handle: BlockHandle) -> Result<(), Error> {
        let mut value = Vec::with_capacity(20);
        handle.encode_into(&mut value);
        let result = self.index.add(&self.scratch, &value);
        result.map_err(|source| {
            self.fail(Error::Block {
                file: self.path.clone(),
                offset: handle.offset,
                source,
            })
        })
    }

    fn flush_data_block(&mut self) -> Result<(), Error> {
        let block = self.data.finish();
        let raw_len = block.len() as u64;
        let (bytes, compressed) = match self.version {
            FormatVersion::V1 => (block, false),
            _ => {
                let compressed = seal(
                    block,
                    self.compressor.as_mut(),
                    self.min_savings_permille,
                    &mut self.envelope,
                );
                (self.envelope.as_slice(), compressed)
            }
        };
        let handle = BlockHandle::new(self.offset, bytes.len() as u64);
        let result = append(&mut self.file, bytes);
        result.map_err(|e| self.fail(Error::io(&self.tmp_path, e)))?;
        self.offset += handle.size;
        self.data.reset();
        self.props.data_size += handle.size;
        self.props.raw_data_size += raw_len;
        self.props.num_compressed_blocks += u64::from(compressed);
        self.props.num_data_blocks += 1;
        self.pending = Some(handle);
        Ok(())
    }

    /// Writes the finished index block.
    fn write_index_block(&mut self) -> Result<BlockHandle, Error> {
        let bytes = self.index.finish();
        let handle = BlockHandle::new(self.offset, bytes.len() as u64);
        let result = append(&mut self.file, bytes);
        result.map_err(|e| self.fail(Error::io(&self.tmp_path, e)))?;
        self.offset += handle.size;
        Ok(handle)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<BlockHandle, Error> {
        let handle = BlockHandle::new(self.offset, bytes.len() as u64);
        let result = append(&mut self.file, bytes);
        result.map_err(|e| self.fail(Error::io(&self.tmp_path, e)))?;
        self.offset += handle.size;
        Ok(handle)
    }

    /// Builds a block of `entries` (sorted under `cmp`) and writes it.
    fn write_meta_block<C: Comparator>(
        &mut self,
        cmp: C,
        entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    ) -> Result<BlockHandle, Error> {
        let mut block = BlockBuilder::with_options(
            cmp,
            BlockOptions {
                restart_interval: 16,
                target_size: 0,
            },
        );
        for (k, v) in entries {
            block.add(&k, &v).map_err(|source| {
                self.fail(Error::Block {
                    file: self.path.clone(),
                    offset: self.offset,
                    source,
                })
            })?;
        }
        self.write(block.finish())
    }

    fn fail(&mut self, error: Error) -> Error {
        self.failed.get_or_insert_with(|| error.clone());
        error
    }

    fn write_tail(&mut self) -> Result<TableMeta, Error> {
        self.check_usable()?;
        if !self.data.is_empty() {
            self.flush_data_block()?;
        }
        if let Some(handle) = self.pending.take() {
            InternalKeyComparator.successor(&self.last_key, &mut self.scratch);
            self.add_index_entry(handle)?;
        }

        let mut meta = BTreeMap::new();
        let filter_bytes = self.filter.as_ref().and_then(FilterBuilder::finish);
        let filter = match filter_bytes {
            Some(bytes) => {
                let policy = filter::policy(self.version).to_vec();
                let h = self.write_meta_block(Bytewise, [(policy, bytes)])?;
                meta.insert(META_FILTER.to_vec(), h);
                self.props.filter_size = h.size;
                Some(h)
            }
            None => {
                self.props.filter_bits_per_key = 0;
                None
            }
        };

        let tombstones = merge_tombstones(std::mem::take(&mut self.tombstones));
        let range_del = if tombstones.is_empty() {
            None
        } else {
            for t in &tombstones {
                self.props.note_seqno(t.seqno);
            }
            self.props.num_range_tombstones = tombstones.len() as u64;
            let entries = tombstones.into_iter().map(|t| {
                let mut k = Vec::new();
                format::encode_tombstone(&t, &mut k);
                (k, t.end)
            });
            let h = self.write_meta_block(InternalKeyComparator, entries)?;
            meta.insert(META_RANGE_DEL.to_vec(), h);
            Some(h)
        };

        let index = self.write_index_block()?;
        self.props.index_size = index.size;
        let properties_handle = self.write_meta_block(Bytewise, self.props.encode())?;
        meta.insert(META_PROPERTIES.to_vec(), properties_handle);
        let meta_entries = meta.into_iter().map(|(name, h)| {
            let mut v = Vec::new();
            h.encode_into(&mut v);
            (name, v)
        });
        let metaindex = self.write_meta_block(Bytewise, meta_entries)?;
        let footer = Footer {
            metaindex,
            index,
            version: self.version,
        };
        self.write(&footer.encode())?;

        let mut file = self.file.take();
        if let Some(file) = &mut file {
            file.sync().map_err(|e| Error::io(&self.tmp_path, e))?;
        }
        drop(file);
        self.publish()?;
        Ok(TableMeta {
            path: self.path.clone(),
            file_size: self.offset,
            footer,
            filter,
            range_del,
            properties_handle,
            properties: self.props.clone(),
        })
    }

    /// Renames the synced temporary file to the final path and makes the
    /// rename durable. If the directory sync fails the table is removed
    /// again, so that an error always means no table.
    fn publish(&mut self) -> Result<(), Error> {
        self.fs
            .rename(&self.tmp_path, &self.path)
            .map_err(|e| Error::io(&self.path, e))?;
        let dir = parent_dir(&self.path);
        if let Err(e) = self.fs.sync_dir(dir) {
            let _ = self.fs.remove(&self.path);
            return Err(Error::io(dir, e));
        }
        // Published: nothing left for drop to clean up.
        self.tmp_path.clear();
        Ok(())
    }

    /// Closes and removes the temporary file, ignoring errors (the caller
    /// is already reporting one, or is a drop).
    fn discard(&mut self) {
        self.file = None;
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = self.fs.remove(&self.tmp_path);
            self.tmp_path.clear();
        }
    }
}

impl Drop for SstWriter {
    fn drop(&mut self) {
        self.discard();
    }
}

/// Appends `bytes` to the table file (nothing once it is closed).
fn append(file: &mut Option<Box<dyn WritableFile>>, bytes: &[u8]) -> std::io::Result<()> {
    match file {
        Some(file) => file.append(bytes),
        None => Ok(()),
    }
}

/// Fills `out` with the version-2 envelope of `block`: compressed by
/// `compressor` if that saves at least `min_savings_permille` of it, raw
/// otherwise. Returns whether it is compressed.
fn seal(
    block: &[u8],
    compressor: Option<&mut Compressor>,
    min_savings_permille: u32,
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let raw_len = block.len();
    if let Some(c) = compressor
        && let Ok(len32) = u32::try_from(raw_len)
        && raw_len <= MAX_COMPRESSED_RAW_LEN
    {
        format::put_raw_len(out, len32);
        let worth_it = c.compress_into(block, out)
            && (out.len() as u64) * 1000 <= raw_len as u64 * u64::from(1000 - min_savings_permille);
        if worth_it {
            format::seal_data_block(out, 0, c.codec());
            return true;
        }
        out.clear();
    }
    out.extend_from_slice(block);
    format::seal_data_block(out, 0, Compression::None);
    false
}

/// Sorts tombstones by `(start, seqno desc)`, the range-deletion block's
/// order, merging those with equal start and seqno.
fn merge_tombstones(mut ts: Vec<RangeTombstone>) -> Vec<RangeTombstone> {
    ts.sort_by(|a, b| a.start.cmp(&b.start).then(b.seqno.cmp(&a.seqno)));
    let mut out: Vec<RangeTombstone> = Vec::with_capacity(ts.len());
    for t in ts {
        match out.last_mut() {
            Some(last) if last.start == t.start && last.seqno == t.seqno => {
                if t.end > last.end {
                    last.end = t.end;
                }
            }
            _ => out.push(t),
        }
    }
    out
}

/// The bytes a cached data block carries in front of its contents: the two
/// reference counts of the `Arc<[u8]>` it lives in.
const CACHED_BLOCK_HEADER: usize = 16;

/// The bound on a data block's size for an `SstOptions::block_size` of
/// `block_size`. A block read into the cache is one allocation of its
/// length plus [`CACHED_BLOCK_HEADER`]; keeping the two within
/// `block_size` (a power of two, usually) keeps the allocation within the
/// allocator's size class of that size. A block cut just past 4096 bytes
/// would be rounded up to jemalloc's next class, 5120 bytes: a fifth of
/// the cache's memory spent on nothing.
fn block_limit(block_size: usize) -> usize {
    block_size.saturating_sub(CACHED_BLOCK_HEADER).max(1)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// The directory holding `path`, `.` for a bare file name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
