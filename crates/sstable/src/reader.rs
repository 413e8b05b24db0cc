//! [`SstReader`]: opens a table, answers point lookups, verifies it.
//!
//! Opening reads the footer, then the metaindex, properties, index, filter
//! and range-deletion blocks, and checks that every block handle lies in
//! the file and that the blocks tile it from offset 0 to the footer with no
//! gap or overlap. Data blocks are read when a lookup or an iterator first
//! needs them, and validated (checksum, structure, key order) each time
//! they are read; this crate has no block cache.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_block::{Block, Bytewise, Comparator};
use lsmkit_vfs::{Fs, RandomAccessFile};

use crate::error::Error;
use crate::filter::{self, Filter};
use crate::format::{
    self, BlockHandle, FILTER_POLICY, FOOTER_LEN, Footer, FooterError, FormatVersion, META_FILTER,
    META_PROPERTIES, META_RANGE_DEL,
};
use crate::key::{self, InternalKeyComparator, ParsedKey, SeqNo, ValueKind};
use crate::properties::Properties;
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
}

/// An open table. Immutable and `Sync`: share it as `Arc<SstReader>`
/// between threads; each thread makes its own iterators.
pub struct SstReader {
    table: TableFile,
    footer: Footer,
    index: Block<InternalKeyComparator>,
    filter: Option<Filter>,
    /// Sorted by start, then seqno descending (the block's order).
    tombstones: Vec<RangeTombstone>,
    properties: Properties,
    meta: MetaHandles,
    /// The end of the data blocks.
    data_end: u64,
}

/// The meta blocks named by the metaindex.
#[derive(Clone, Copy, Debug, Default)]
struct MetaHandles {
    filter: Option<BlockHandle>,
    properties: Option<BlockHandle>,
    range_del: Option<BlockHandle>,
}

impl SstReader {
    /// Opens the table at `path` on `fs`.
    pub fn open(fs: &dyn Fs, path: impl Into<PathBuf>) -> Result<Arc<SstReader>, Error> {
        let path = path.into();
        let file = fs.open(&path).map_err(|e| Error::io(&path, e))?;
        SstReader::open_file(file, path)
    }

    /// Opens the table in `file`; `path` only names it in errors.
    pub fn open_file(
        file: Arc<dyn RandomAccessFile>,
        path: impl Into<PathBuf>,
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
        read_at(&*file, &path, footer_at, &mut bytes)?;
        let footer = decode_footer(&bytes, &path, footer_at)?;

        let table = TableFile { file, path };
        table.check_handle(footer.metaindex, "metaindex", footer_at)?;
        table.check_handle(footer.index, "index", footer_at + 16)?;
        let meta = table.load_metaindex(footer.metaindex)?;
        let properties = table.load_properties(&meta, &footer)?;
        let (index, data_end) = table.load_index(footer.index, &properties)?;
        table.check_tiling(&meta, &footer, data_end)?;
        let filter = table.load_filter(&meta, &properties)?;
        let tombstones = table.load_range_del(&meta, &footer, &properties)?;
        Ok(Arc::new(SstReader {
            table,
            footer,
            index,
            filter,
            tombstones,
            properties,
            meta,
            data_end,
        }))
    }

    /// The newest version of `user_key` visible at `snapshot`.
    ///
    /// Consults the bloom filter first; range tombstones are honoured
    /// whether or not the filter matches.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Result<Lookup, Error> {
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
        let mut index = self.index.iter();
        index.seek(&target);
        while index.valid() {
            let (block, at) = self.read_data_block(index.value())?;
            let mut it = block.iter();
            it.seek(&target);
            if !it.valid() {
                // Only a table whose separators lie can get here.
                index.next();
                continue;
            }
            let parsed = ParsedKey::parse(it.key()).ok_or_else(|| {
                Error::corruption(&self.table.path, at, "data block key is malformed")
            })?;
            if parsed.user_key != user_key {
                break;
            }
            if tombstone.is_some_and(|t| parsed.seqno < t) {
                return Ok(Lookup::Deleted);
            }
            return match parsed.kind {
                ValueKind::Put => Ok(Lookup::Found(it.value().to_vec())),
                ValueKind::Delete => Ok(Lookup::Deleted),
                ValueKind::RangeDelete => Err(Error::corruption(
                    &self.table.path,
                    at,
                    "range deletion stored in a data block",
                )),
            };
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

    /// The index block, for iterators.
    pub(crate) fn index(&self) -> &Block<InternalKeyComparator> {
        &self.index
    }

    /// Reads the data block whose handle is the index value `handle`;
    /// returns it with its offset.
    pub(crate) fn read_data_block(
        &self,
        handle: &[u8],
    ) -> Result<(Block<InternalKeyComparator>, u64), Error> {
        let handle = BlockHandle::decode(handle)
            .filter(|h| h.end().is_some_and(|end| end <= self.data_end))
            .ok_or_else(|| {
                Error::corruption(
                    &self.table.path,
                    self.footer.index.offset,
                    "index entry holds a bad data block handle",
                )
            })?;
        Ok((
            self.table.read_block(handle, InternalKeyComparator)?,
            handle.offset,
        ))
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

impl fmt::Debug for SstReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SstReader")
            .field("path", &self.table.path)
            .field("file_size", &self.table.file.len())
            .field("version", &self.footer.version)
            .field("entries", &self.properties.num_entries)
            .field("data_blocks", &self.properties.num_data_blocks)
            .field("range_tombstones", &self.tombstones.len())
            .finish()
    }
}

fn read_at(
    file: &dyn RandomAccessFile,
    path: &Path,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    file.read_at(offset, buf).map_err(|e| Error::io(path, e))
}

fn decode_footer(bytes: &[u8; FOOTER_LEN], path: &Path, at: u64) -> Result<Footer, Error> {
    Footer::decode(bytes).map_err(|e| match e {
        FooterError::BadMagic { found } => Error::BadMagic {
            file: path.to_path_buf(),
            offset: at + format::FOOTER_MAGIC_AT as u64,
            found,
        },
        FooterError::UnsupportedVersion { found } => Error::UnsupportedVersion {
            file: path.to_path_buf(),
            offset: at + format::FOOTER_VERSION_AT as u64,
            found,
            newest: FormatVersion::LATEST as u32,
        },
        FooterError::BadField { at: field, what } => {
            Error::corruption(path, at + field as u64, format!("footer: {what}"))
        }
        FooterError::ChecksumMismatch { stored, computed } => Error::ChecksumMismatch {
            file: path.to_path_buf(),
            offset: at + format::FOOTER_CHECKSUM_AT as u64,
            what: "footer",
            stored,
            computed,
        },
    })
}

/// The file of a table and its name, with the checked reads that opening
/// and reading use.
struct TableFile {
    file: Arc<dyn RandomAccessFile>,
    path: PathBuf,
}

impl TableFile {
    /// The offset of the footer; the file is at least a footer long.
    fn footer_at(&self) -> u64 {
        self.file.len().saturating_sub(FOOTER_LEN as u64)
    }

    /// Reads and validates the block at `handle`.
    fn read_block<C: Comparator>(&self, handle: BlockHandle, cmp: C) -> Result<Block<C>, Error> {
        let bad = || Error::BadHandle {
            file: self.path.clone(),
            offset: handle.offset,
            what: "block",
            handle_offset: handle.offset,
            handle_size: handle.size,
            limit: self.file.len(),
        };
        // Checked before any allocation: a handle cannot ask for more
        // bytes than the file has.
        let end = handle
            .end()
            .filter(|&end| end <= self.file.len())
            .ok_or_else(bad)?;
        let range = usize::try_from(handle.offset).map_err(|_| bad())?
            ..usize::try_from(end).map_err(|_| bad())?;
        let bytes: Arc<[u8]> = match self.file.as_bytes() {
            Some(all) => Arc::from(all.get(range).ok_or_else(bad)?),
            None => {
                let mut buf = vec![0; range.len()];
                read_at(&*self.file, &self.path, handle.offset, &mut buf)?;
                Arc::from(buf)
            }
        };
        Block::new(bytes, cmp).map_err(|source| Error::Block {
            file: self.path.clone(),
            offset: handle.offset,
            source,
        })
    }

    /// Checks that `handle`, stored at `stored_at`, lies before the footer.
    fn check_handle(
        &self,
        handle: BlockHandle,
        what: &'static str,
        stored_at: u64,
    ) -> Result<(), Error> {
        let limit = self.footer_at();
        if handle.end().is_some_and(|end| end <= limit) {
            return Ok(());
        }
        Err(Error::BadHandle {
            file: self.path.clone(),
            offset: stored_at,
            what,
            handle_offset: handle.offset,
            handle_size: handle.size,
            limit,
        })
    }

    fn load_metaindex(&self, handle: BlockHandle) -> Result<MetaHandles, Error> {
        let at = handle.offset;
        let block = self.read_block(handle, Bytewise)?;
        let mut meta = MetaHandles::default();
        let mut it = block.iter();
        it.seek_to_first();
        while it.valid() {
            let handle = BlockHandle::decode(it.value())
                .ok_or_else(|| Error::corruption(&self.path, at, "malformed metaindex handle"))?;
            let (slot, what) = match it.key() {
                META_FILTER => (&mut meta.filter, "filter"),
                META_PROPERTIES => (&mut meta.properties, "properties"),
                META_RANGE_DEL => (&mut meta.range_del, "range deletion"),
                other => {
                    let what = format!("unknown meta block \"{}\"", other.escape_ascii());
                    return Err(Error::corruption(&self.path, at, what));
                }
            };
            *slot = Some(handle);
            self.check_handle(handle, what, at)?;
            it.next();
        }
        Ok(meta)
    }

    fn load_properties(&self, meta: &MetaHandles, footer: &Footer) -> Result<Properties, Error> {
        let at = footer.metaindex.offset;
        let handle = meta
            .properties
            .ok_or_else(|| Error::corruption(&self.path, at, "no properties block"))?;
        let block = self.read_block(handle, Bytewise)?;
        let mut it = block.iter();
        it.seek_to_first();
        let mut entries = Vec::new();
        while it.valid() {
            entries.push((it.key().to_vec(), it.value().to_vec()));
            it.next();
        }
        let props = Properties::decode(entries.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))
            .map_err(|what| Error::corruption(&self.path, handle.offset, what))?;
        let expected = InternalKeyComparator.name();
        if props.comparator != expected {
            return Err(Error::ComparatorMismatch {
                file: self.path.clone(),
                found: props.comparator,
                expected,
            });
        }
        if props.format_version != footer.version as u32 {
            let what = format!(
                "properties say format version {}, footer says {}",
                props.format_version, footer.version as u32
            );
            return Err(Error::corruption(&self.path, handle.offset, what));
        }
        Ok(props)
    }

    /// Loads the index and checks that its data block handles are
    /// contiguous from offset 0, as many and as large as the properties say.
    /// Returns the index and the end of the data blocks.
    fn load_index(
        &self,
        handle: BlockHandle,
        p: &Properties,
    ) -> Result<(Block<InternalKeyComparator>, u64), Error> {
        let at = handle.offset;
        let index = self.read_block(handle, InternalKeyComparator)?;
        let mut it = index.iter();
        it.seek_to_first();
        let (mut end, mut blocks) = (0u64, 0u64);
        while it.valid() {
            let data = BlockHandle::decode(it.value())
                .ok_or_else(|| Error::corruption(&self.path, at, "malformed data block handle"))?;
            if data.offset != end {
                let what = format!(
                    "data block {blocks} starts at {}, expected {end}",
                    data.offset
                );
                return Err(Error::corruption(&self.path, at, what));
            }
            self.check_handle(data, "data block", at)?;
            end += data.size;
            blocks += 1;
            it.next();
        }
        if blocks != p.num_data_blocks || end != p.data_size || handle.size != p.index_size {
            let what = format!(
                "index has {blocks} data blocks of {end} bytes and is {} bytes; properties say {}, {} and {}",
                handle.size, p.num_data_blocks, p.data_size, p.index_size
            );
            return Err(Error::corruption(&self.path, at, what));
        }
        Ok((index, end))
    }

    /// Checks that the meta blocks follow the data blocks back to back and
    /// end at the footer: no byte of the file lies outside a checksummed
    /// block or the footer.
    fn check_tiling(
        &self,
        meta: &MetaHandles,
        footer: &Footer,
        data_end: u64,
    ) -> Result<(), Error> {
        let mut blocks = [
            meta.filter,
            meta.range_del,
            Some(footer.index),
            meta.properties,
            Some(footer.metaindex),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        blocks.sort_by_key(|h| h.offset);
        let mut end = data_end;
        for h in blocks {
            if h.offset != end {
                let what = format!(
                    "block at {} does not start where the previous one ends ({end})",
                    h.offset
                );
                return Err(Error::corruption(&self.path, h.offset, what));
            }
            end += h.size;
        }
        let footer_at = self.footer_at();
        if end != footer_at {
            let what = format!("blocks end at {end}, but the footer starts at {footer_at}");
            return Err(Error::corruption(&self.path, end, what));
        }
        Ok(())
    }

    fn load_filter(&self, meta: &MetaHandles, p: &Properties) -> Result<Option<Filter>, Error> {
        let Some(handle) = meta.filter else {
            return Ok(None);
        };
        let bad = |what: &str| {
            Error::corruption(&self.path, handle.offset, format!("filter block: {what}"))
        };
        let block = self.read_block(handle, Bytewise)?;
        if block.len() != 1 || handle.size != p.filter_size {
            return Err(bad(
                "must hold one entry and match the filter_size property",
            ));
        }
        let mut it = block.iter();
        it.seek_to_first();
        if it.key() != FILTER_POLICY {
            return Err(bad("unknown filter policy"));
        }
        Filter::parse(it.value()).map(Some).map_err(bad)
    }

    fn load_range_del(
        &self,
        meta: &MetaHandles,
        footer: &Footer,
        p: &Properties,
    ) -> Result<Vec<RangeTombstone>, Error> {
        let expected = p.num_range_tombstones;
        let Some(handle) = meta.range_del else {
            if expected == 0 {
                return Ok(Vec::new());
            }
            let at = footer.metaindex.offset;
            return Err(Error::corruption(&self.path, at, "no range deletion block"));
        };
        let block = self.read_block(handle, InternalKeyComparator)?;
        if block.len() != expected {
            let what = format!(
                "range deletion block holds {} tombstones, properties say {expected}",
                block.len()
            );
            return Err(Error::corruption(&self.path, handle.offset, what));
        }
        let mut tombstones = Vec::new();
        let mut it = block.iter();
        it.seek_to_first();
        while it.valid() {
            let t = format::decode_tombstone(it.key(), it.value()).ok_or_else(|| {
                Error::corruption(&self.path, handle.offset, "malformed range tombstone")
            })?;
            tombstones.push(t);
            it.next();
        }
        Ok(tombstones)
    }
}
