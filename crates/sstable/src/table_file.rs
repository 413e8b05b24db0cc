//! [`TableFile`]: a table's file and name, with the checked reads that
//! opening and reading a table use, and the loading of its meta blocks.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsmkit_block::{Block, Bytewise, Comparator};
use lsmkit_vfs::RandomAccessFile;

use crate::cache::DataBlock;
use crate::compression::{self, DecompressError};
use crate::data_index::DataIndex;
use crate::error::Error;
use crate::filter::Filter;
use crate::format::{
    self, BlockHandle, Compression, EnvelopeError, FOOTER_LEN, Footer, FooterError, FormatVersion,
    META_FILTER, META_PROPERTIES, META_RANGE_DEL,
};
use crate::key::InternalKeyComparator;
use crate::properties::Properties;
use crate::tombstone::RangeTombstone;

pub(crate) fn read_at(
    file: &dyn RandomAccessFile,
    path: &Path,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    file.read_at(offset, buf).map_err(|e| Error::io(path, e))
}

pub(crate) fn decode_footer(
    bytes: &[u8; FOOTER_LEN],
    path: &Path,
    at: u64,
) -> Result<Footer, Error> {
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

/// The meta blocks named by the metaindex.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MetaHandles {
    pub(crate) filter: Option<BlockHandle>,
    pub(crate) properties: Option<BlockHandle>,
    pub(crate) range_del: Option<BlockHandle>,
}

/// The file of a table and its name, with the checked reads that opening
/// and reading use.
pub(crate) struct TableFile {
    pub(crate) file: Arc<dyn RandomAccessFile>,
    pub(crate) path: PathBuf,
    /// The footer's version: how data blocks are stored.
    pub(crate) version: FormatVersion,
}

impl TableFile {
    /// The offset of the footer; the file is at least a footer long.
    pub(crate) fn footer_at(&self) -> u64 {
        self.file.len().saturating_sub(FOOTER_LEN as u64)
    }

    /// Reads and validates the (meta or version-1 data) block at `handle`.
    pub(crate) fn read_block<C: Comparator>(
        &self,
        handle: BlockHandle,
        cmp: C,
    ) -> Result<Block<C>, Error> {
        let bytes: Arc<[u8]> = match self.stored(handle)? {
            Cow::Borrowed(b) => Arc::from(b),
            Cow::Owned(v) => Arc::from(v),
        };
        self.open_block(handle, bytes, cmp)
    }

    fn open_block<C: Comparator>(
        &self,
        handle: BlockHandle,
        bytes: Arc<[u8]>,
        cmp: C,
    ) -> Result<Block<C>, Error> {
        Block::new(bytes, cmp).map_err(|source| Error::Block {
            file: self.path.clone(),
            offset: handle.offset,
            source,
        })
    }

    /// Reads and validates the data block at `handle`, decompressing it if
    /// it is stored compressed; also returns how it was stored.
    pub(crate) fn read_data_block(
        &self,
        handle: BlockHandle,
    ) -> Result<(DataBlock, Compression), Error> {
        if self.version == FormatVersion::V1 {
            let block = self.read_block(handle, InternalKeyComparator)?;
            return Ok((block, Compression::None));
        }
        let stored = self.stored(handle)?;
        let envelope =
            format::open_data_block(&stored).map_err(|e| self.bad_envelope(handle, e))?;
        let bytes: Arc<[u8]> =
            match envelope.codec {
                Compression::None => Arc::from(envelope.payload),
                codec => compression::decompress(codec, envelope.payload, envelope.raw_len)
                    .map_err(|e| match e {
                        DecompressError::Unavailable => Error::CodecUnavailable {
                            file: self.path.clone(),
                            offset: handle.offset,
                            codec,
                        },
                        DecompressError::Corrupt(why) => Error::corruption(
                            &self.path,
                            handle.offset,
                            format!("{} data block does not decompress: {why}", codec.name()),
                        ),
                    })?,
            };
        let block = self.open_block(handle, bytes, InternalKeyComparator)?;
        Ok((block, envelope.codec))
    }

    fn bad_envelope(&self, handle: BlockHandle, e: EnvelopeError) -> Error {
        let trailer_at = handle.end().unwrap_or(handle.offset);
        match e {
            EnvelopeError::TooShort => Error::corruption(
                &self.path,
                handle.offset,
                format!(
                    "data block of {} bytes is shorter than its {}-byte trailer",
                    handle.size,
                    format::DATA_TRAILER_LEN
                ),
            ),
            EnvelopeError::ChecksumMismatch { stored, computed } => Error::ChecksumMismatch {
                file: self.path.clone(),
                offset: handle.offset,
                what: "data block",
                stored,
                computed,
            },
            EnvelopeError::UnknownCodec(byte) => Error::corruption(
                &self.path,
                trailer_at.saturating_sub(format::DATA_TRAILER_LEN as u64),
                format!("data block has unknown codec byte {byte}"),
            ),
            EnvelopeError::BadRawLen => Error::corruption(
                &self.path,
                handle.offset,
                format!(
                    "compressed data block's raw length is malformed or above {} bytes",
                    format::MAX_COMPRESSED_RAW_LEN
                ),
            ),
        }
    }

    /// The stored bytes of the block at `handle`: borrowed from a memory
    /// map, or read into a buffer.
    fn stored(&self, handle: BlockHandle) -> Result<Cow<'_, [u8]>, Error> {
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
        match self.file.as_bytes() {
            Some(all) => Ok(Cow::Borrowed(all.get(range).ok_or_else(bad)?)),
            None => {
                let mut buf = vec![0; range.len()];
                read_at(&*self.file, &self.path, handle.offset, &mut buf)?;
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// Checks that `handle`, stored at `stored_at`, lies before the footer.
    pub(crate) fn check_handle(
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

    /// Fails with [`Error::PropertyMismatch`] unless the properties'
    /// `expected` is what the block at `offset` holds.
    fn agree(
        &self,
        offset: u64,
        what: &'static str,
        expected: u64,
        found: u64,
    ) -> Result<(), Error> {
        if expected == found {
            return Ok(());
        }
        Err(Error::PropertyMismatch {
            file: self.path.clone(),
            offset,
            what,
            expected,
            found,
        })
    }

    fn misplaced(&self, offset: u64, what: &'static str, expected: u64, found: u64) -> Error {
        Error::Misplaced {
            file: self.path.clone(),
            offset,
            what,
            expected,
            found,
        }
    }

    fn missing_block(&self, metaindex_at: u64, what: &'static str) -> Error {
        Error::MissingBlock {
            file: self.path.clone(),
            offset: metaindex_at,
            what,
        }
    }

    pub(crate) fn load_metaindex(&self, handle: BlockHandle) -> Result<MetaHandles, Error> {
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

    pub(crate) fn load_properties(
        &self,
        meta: &MetaHandles,
        footer: &Footer,
    ) -> Result<Properties, Error> {
        let at = footer.metaindex.offset;
        let handle = meta
            .properties
            .ok_or_else(|| self.missing_block(at, "properties"))?;
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
        self.agree(
            handle.offset,
            "the footer's format version",
            props.format_version.into(),
            footer.version as u64,
        )?;
        Ok(props)
    }

    /// Loads the index and checks that its data block handles are
    /// contiguous from offset 0, as many and as large as the properties say.
    /// Returns the index, decoded, and the end of the data blocks.
    pub(crate) fn load_index(
        &self,
        handle: BlockHandle,
        p: &Properties,
    ) -> Result<(DataIndex, u64), Error> {
        let at = handle.offset;
        let block = self.read_block(handle, InternalKeyComparator)?;
        let mut index = DataIndex::default();
        let mut it = block.iter();
        it.seek_to_first();
        let mut end = 0u64;
        while it.valid() {
            let data = BlockHandle::decode(it.value())
                .ok_or_else(|| Error::corruption(&self.path, at, "malformed data block handle"))?;
            if data.offset != end {
                return Err(self.misplaced(at, "data block", end, data.offset));
            }
            self.check_handle(data, "data block", at)?;
            end += data.size;
            index.push(it.key(), data);
            it.next();
        }
        let blocks = index.len() as u64;
        self.agree(at, "the number of data blocks", p.num_data_blocks, blocks)?;
        self.agree(at, "the size of the data blocks", p.data_size, end)?;
        self.agree(at, "the size of the index block", p.index_size, handle.size)?;
        Ok((index, end))
    }

    /// Checks that the meta blocks follow the data blocks back to back and
    /// end at the footer: no byte of the file lies outside a checksummed
    /// block or the footer.
    pub(crate) fn check_tiling(
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
                return Err(self.misplaced(h.offset, "meta block", end, h.offset));
            }
            end += h.size;
        }
        let footer_at = self.footer_at();
        if end != footer_at {
            return Err(self.misplaced(end, "footer", end, footer_at));
        }
        Ok(())
    }

    pub(crate) fn load_filter(
        &self,
        meta: &MetaHandles,
        p: &Properties,
    ) -> Result<Option<Filter>, Error> {
        let Some(handle) = meta.filter else {
            return Ok(None);
        };
        let bad = |what: &str| {
            Error::corruption(&self.path, handle.offset, format!("filter block: {what}"))
        };
        let block = self.read_block(handle, Bytewise)?;
        self.agree(
            handle.offset,
            "the size of the filter block",
            p.filter_size,
            handle.size,
        )?;
        if block.len() != 1 {
            return Err(bad("must hold one entry"));
        }
        let mut it = block.iter();
        it.seek_to_first();
        Filter::parse(self.version, it.key(), it.value())
            .map(Some)
            .map_err(bad)
    }

    pub(crate) fn load_range_del(
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
            return Err(self.missing_block(footer.metaindex.offset, "range deletion"));
        };
        let block = self.read_block(handle, InternalKeyComparator)?;
        self.agree(
            handle.offset,
            "the number of range tombstones",
            expected,
            block.len(),
        )?;
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
